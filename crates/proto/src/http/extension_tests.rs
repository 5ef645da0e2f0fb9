//! The extension seam over byte strings: routes under the prefix never reach
//! the files, bodies are waited for whole, `/` is taken only on request, and
//! an event stream is driven by the waker and its timer until it ends.

use super::extension::{EventStream, ExtRequest, ExtResponse, Extension};
use super::{HttpConfig, HttpService};
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

fn setup() -> (tempfile::TempDir, Arc<Echo>, HttpService, Instant) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("_x")).unwrap();
    std::fs::write(dir.path().join("_x/file"), "a file").unwrap();
    let ext = Arc::new(Echo::default());
    let t0 = Instant::now();
    let service = HttpService::with_extension(
        Root::open(dir.path()).unwrap(),
        HttpConfig::default(),
        None,
        t0,
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
