//! The extension seam over byte strings: routes under the prefix never reach
//! the files, bodies are waited for whole, `/` is taken only on request, and
//! an event stream is driven by the waker and its timer until it ends.

use super::extension::{EventStream, ExtRequest, ExtResponse, Extension};
use super::{AnchoredClock, HttpConfig, HttpContext, HttpService};
use crate::root::Root;
use crate::testing::Harness;
use crate::{Service, Session};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

/// What the stream will send, whether it has ended, and its waker.
type Shared = Arc<Mutex<(Vec<u8>, bool, Option<Waker>)>>;

/// Echoes what it was asked; `/_x/stream` opens a stream fed through `feed`.
#[derive(Default)]
struct Echo {
    root_too: AtomicBool,
    /// Offer a web page for listings.
    page: AtomicBool,
    feed: Shared,
}

struct Feed(Shared, Instant);

impl EventStream for Feed {
    fn set_waker(&mut self, waker: Waker) {
        self.0.lock().unwrap().2 = Some(waker);
    }
    fn poll(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        let mut feed = self.0.lock().unwrap();
        out.append(&mut feed.0);
        if now >= self.1 {
            out.extend_from_slice(b": tick\n\n");
            self.1 = now + Duration::from_secs(15);
        }
        !feed.1
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.1)
    }
}

impl Extension for Echo {
    fn prefix(&self) -> &str {
        "/_x/"
    }
    fn wants_root(&self, accept_json: bool) -> bool {
        !accept_json && self.root_too.load(Ordering::SeqCst)
    }
    fn listing_page(&self) -> Option<&str> {
        self.page.load(Ordering::SeqCst).then_some(
            "<html><body><script src=/_x/app.js></script><!--netkit:listing--></body></html>",
        )
    }
    fn handle(&self, now: Instant, r: &ExtRequest<'_>) -> ExtResponse {
        if r.path == "/_x/stream" {
            return ExtResponse::event_stream(Box::new(Feed(self.feed.clone(), now)));
        }
        let body = format!(
            "{} {} q={} body={}",
            r.method,
            r.path,
            r.query,
            String::from_utf8_lossy(r.body)
        );
        ExtResponse::text(200, body)
    }
}

/// A context whose wall clock follows the test's instants from `t0`.
fn context(t0: Instant) -> HttpContext {
    let clock = AnchoredClock {
        instant: t0,
        wall: std::time::UNIX_EPOCH + Duration::from_secs(784_111_777),
    };
    HttpContext::new(t0, Arc::new(clock))
}

fn setup() -> (tempfile::TempDir, Arc<Echo>, HttpService, Instant) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("_x")).unwrap();
    std::fs::write(dir.path().join("_x/file"), "a file").unwrap();
    let ext = Arc::new(Echo::default());
    let t0 = Instant::now();
    let service = HttpService::with_extension(
        Root::open(dir.path()).unwrap(),
        HttpConfig::default(),
        context(t0),
        Some(ext.clone()),
    );
    (dir, ext, service, t0)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_prefix_belongs_to_the_extension_and_bodies_arrive_whole() {
    let (_dir, ext, service, t0) = setup();
    let mut h = Harness::new(service.new_session(None, t0), t0);
    let got = text(&h.send(b"GET /_x/file?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(got.ends_with("GET /_x/file q=a=1 body=\n"), "{got}");

    // A body split across reads is answered once it is all there.
    let got = h.send(b"POST /_x/say HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello");
    assert!(got.is_empty());
    let got = text(&h.send(b" world"));
    assert!(got.ends_with("POST /_x/say q= body=hello world\n"), "{got}");

    // `/` stays the files' unless the extension asks for it.
    let got = text(&h.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(got.contains("_x/"), "the listing: {got}");
    ext.root_too.store(true, Ordering::SeqCst);
    let got = text(&h.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(got.ends_with("GET / q= body=\n"), "{got}");
    let got = text(&h.send(b"GET / HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n"));
    assert!(got.contains("\"entries\""), "{got}");
}

#[test]
fn a_web_page_gets_the_listing_in_it_unsandboxed_and_json_stays_json() {
    let (dir, ext, service, t0) = setup();
    std::fs::write(dir.path().join("<b>.txt"), "x").unwrap();
    ext.page.store(true, Ordering::SeqCst);
    let mut h = Harness::new(service.new_session(None, t0), t0);
    let got = text(&h.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(got.contains("<script src=/_x/app.js>"), "the page: {got}");
    // The listing in it: a link per entry, escaped, sizes people read.
    assert!(got.contains("<div id=\"static\">"), "{got}");
    assert!(got.contains(">&lt;b&gt;.txt</a>"), "{got}");
    assert!(got.contains(">1 B</td>"), "{got}");
    assert!(!got.contains("<!--netkit:listing-->"), "{got}");
    // The page is the server's own: not sandboxed as the share's files are.
    assert!(!got.contains("Content-Security-Policy"), "{got}");
    let got = text(&h.send(b"GET /?q=b HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(
        got.contains("<script src=/_x/app.js>"),
        "a search too: {got}"
    );
    let got = text(&h.send(b"GET / HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n"));
    assert!(got.contains("\"entries\""), "{got}");
    assert!(!got.contains("app.js"), "{got}");
    // Without a page, the listing is a page of its own.
    ext.page.store(false, Ordering::SeqCst);
    let got = text(&h.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(got.contains("<title>Index of /</title>"), "{got}");
    assert!(!got.contains("app.js"), "{got}");
}

#[test]
fn an_oversized_or_chunked_body_is_refused() {
    let (_dir, _ext, service, t0) = setup();
    let mut h = Harness::new(service.new_session(None, t0), t0);
    let got = text(&h.send(b"POST /_x/a HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n"));
    assert!(got.starts_with("HTTP/1.1 413"), "{got}");
    assert!(h.session.is_done());
    let mut h = Harness::new(service.new_session(None, t0), t0);
    let got =
        text(&h.send(b"POST /_x/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
    assert!(got.starts_with("HTTP/1.1 411"), "{got}");
}

#[test]
fn a_stream_sends_what_its_waker_brings_until_it_ends() {
    let (_dir, ext, service, t0) = setup();
    let mut h = Harness::new(service.new_session(None, t0), t0);
    let got = text(&h.send(b"GET /_x/stream HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(got.contains("Content-Type: text/event-stream\r\n"), "{got}");
    assert!(!got.contains("Content-Length"), "{got}");
    assert!(got.ends_with("\r\n\r\n: tick\n\n"), "{got}");
    assert!(h.session.wants_read() && !h.session.is_done());

    // More input is ignored; the room speaks through the waker.
    assert!(h.send(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n").is_empty());
    ext.feed
        .lock()
        .unwrap()
        .0
        .extend_from_slice(b"data: one\n\n");
    let waker = ext.feed.lock().unwrap().2.clone().unwrap();
    waker.wake_by_ref();
    assert_eq!(text(&h.wake()), "data: one\n\n");
    // No idle timeout: the stream's own timer keeps it alive.
    assert_eq!(text(&h.advance(Duration::from_secs(15))), ": tick\n\n");
    assert_eq!(text(&h.advance(Duration::from_secs(100))), ": tick\n\n");
    assert!(!h.session.is_done());

    // The stream ends: the connection closes once flushed.
    ext.feed.lock().unwrap().1 = true;
    waker.wake();
    h.wake();
    assert!(h.session.is_done());
}

#[test]
fn a_stream_ends_with_its_client_or_the_server() {
    let (_dir, _ext, service, t0) = setup();
    let mut h = Harness::new(service.new_session(None, t0), t0);
    h.send(b"GET /_x/stream HTTP/1.1\r\nHost: x\r\n\r\n");
    h.eof();
    assert!(h.session.is_done());
    let mut h = Harness::new(service.new_session(None, t0), t0);
    h.send(b"GET /_x/stream HTTP/1.1\r\nHost: x\r\n\r\n");
    h.session.handle_shutdown(t0);
    assert!(h.session.is_done());
}

/// A service with an extension serves a web page: its state-changing requests
/// from another origin are refused before any route sees them.
#[test]
fn state_changing_requests_from_another_origin_are_refused() {
    let (dir, _ext, _service, t0) = setup();
    let service = HttpService::with_extension(
        Root::open(dir.path()).unwrap(),
        HttpConfig {
            upload: true,
            overwrite: true,
            ..HttpConfig::default()
        },
        context(t0),
        Some(Arc::new(Echo::default())),
    );
    let send = |req: &str| {
        let mut h = Harness::new(service.new_session(None, t0), t0);
        text(&h.send(req.as_bytes()))
    };
    let join = |headers: &str| {
        send(&format!(
            "POST /_x/join HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: text/plain\r\n{headers}Content-Length: 3\r\n\r\nbob"
        ))
    };
    // A cross-site form or fetch (`text/plain` needs no preflight).
    let got = join("Origin: http://evil.example\r\n");
    assert!(got.starts_with("HTTP/1.1 403"), "{got}");
    assert!(!got.contains("body=bob"), "the route never saw it: {got}");
    assert!(join("Origin: null\r\n").starts_with("HTTP/1.1 403"));
    assert!(join("Sec-Fetch-Site: cross-site\r\n").starts_with("HTTP/1.1 403"));
    // The page itself, and clients that send no Origin (curl), go through.
    for ok in [
        "Origin: http://127.0.0.1:8000\r\n",
        "Sec-Fetch-Site: same-origin\r\n",
        "",
    ] {
        let got = join(ok);
        assert!(got.ends_with("POST /_x/join q= body=bob\n"), "{ok}: {got}");
    }
    // Reading is not a change: a GET from anywhere is answered.
    let got = send("GET /_x/a HTTP/1.1\r\nHost: h\r\nOrigin: http://evil.example\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    // Writes to the files, from another origin: refused, nothing written or removed.
    std::fs::write(dir.path().join("keep.txt"), "kept").unwrap();
    let got = send("PUT /new.txt HTTP/1.1\r\nHost: h\r\nOrigin: http://evil.example\r\nContent-Length: 1\r\n\r\nx");
    assert!(got.starts_with("HTTP/1.1 403"), "{got}");
    assert!(!dir.path().join("new.txt").exists());
    let got = send("DELETE /keep.txt HTTP/1.1\r\nHost: h\r\nOrigin: http://evil.example\r\n\r\n");
    assert!(got.starts_with("HTTP/1.1 403"), "{got}");
    assert!(dir.path().join("keep.txt").exists());
    let got =
        send("PUT /new.txt HTTP/1.1\r\nHost: h\r\nOrigin: http://h\r\nContent-Length: 1\r\n\r\nx");
    assert!(got.starts_with("HTTP/1.1 201"), "same origin: {got}");
}

/// Files from the share run sandboxed next to a web page; the page's own
/// routes do not; the counters are the service's own, under the prefix.
#[test]
fn files_are_sandboxed_beside_the_page_and_stats_live_under_netkit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.html"), "<script>1</script>").unwrap();
    std::fs::create_dir_all(dir.path().join("api")).unwrap();
    std::fs::write(dir.path().join("api/stats"), "a real file").unwrap();
    let t0 = Instant::now();
    let ext = Arc::new(Echo::default());
    let service = HttpService::with_extension(
        Root::open(dir.path()).unwrap(),
        HttpConfig::default(),
        context(t0),
        Some(ext),
    );
    let get = |path: &str| {
        let mut h = Harness::new(service.new_session(None, t0), t0);
        text(&h.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()))
    };
    let page = get("/page.html");
    assert!(
        page.contains("\r\nX-Content-Type-Options: nosniff\r\n"),
        "{page}"
    );
    assert!(
        page.contains("\r\nContent-Security-Policy: sandbox allow-scripts"),
        "{page}"
    );
    let route = get("/_x/a");
    assert!(
        route.contains("\r\nX-Content-Type-Options: nosniff\r\n"),
        "{route}"
    );
    assert!(!route.contains("Content-Security-Policy"), "{route}");
    let stats = get(crate::http::STATS_PATH);
    assert!(stats.contains("\"requests\""), "{stats}");
    assert!(get("/api/stats").ends_with("\r\n\r\na real file"));
}
