//! Session tests over byte strings with a fake clock: pipelining, timeouts,
//! uploads, logging and limits, without a socket.

use super::*;
use crate::testing::Harness;
use crate::Session;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

/// The wall time at the fixture's `t0` (and after it, as far as the test
/// moves its clock).
const WALL_AT_T0: Duration = Duration::from_secs(784_111_777);

#[derive(Default)]
struct Lines(Mutex<Vec<u8>>);

impl AccessLog for Lines {
    fn record(&self, line: &[u8]) {
        self.0.lock().unwrap().extend_from_slice(line);
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    service: HttpService,
    log: Arc<Lines>,
    t0: Instant,
}

fn fixture(tweak: impl FnOnce(&mut HttpConfig)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "hello").unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![7u8; 100_000]).unwrap();
    let mut config = HttpConfig {
        model: "test".into(),
        ..HttpConfig::default()
    };
    tweak(&mut config);
    let log = Arc::new(Lines::default());
    let t0 = Instant::now();
    let root = Root::open(dir.path()).unwrap();
    let clock = AnchoredClock {
        instant: t0,
        wall: UNIX_EPOCH + WALL_AT_T0,
    };
    let mut context = HttpContext::new(t0, Arc::new(clock));
    context.log = Some(log.clone());
    let service = HttpService::new(root, config, context);
    Fixture {
        dir,
        service,
        log,
        t0,
    }
}

impl Fixture {
    fn session(&self) -> Harness<HttpSession> {
        let peer = "127.0.0.1:5555".parse().ok();
        Harness::new(self.service.new_session(peer, self.t0), self.t0)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let f = fixture(|_| {});
    let mut h = f.session();
    let out = text(&h.send(
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nHEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    ));
    let statuses: Vec<&str> = out.matches("HTTP/1.1 ").map(|_| "").collect();
    assert_eq!(statuses.len(), 3, "{out}");
    let first = out.find("200 OK").unwrap();
    let second = out.find("404 Not Found").unwrap();
    let third = out.rfind("200 OK").unwrap();
    assert!(first < second && second < third, "{out}");
    assert!(out.contains("\r\n\r\nhello"), "{out}");
    assert!(out.ends_with("\r\n\r\n"), "HEAD has no body: {out}");
    assert!(out.contains("Date: Sun, 06 Nov 1994 08:49:37 GMT"));
    assert!(!h.session.is_done());
}

#[test]
fn a_large_file_goes_out_as_a_file_chunk_after_its_head() {
    let f = fixture(|_| {});
    let mut h = f.session();
    h.session
        .handle_input(f.t0, b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut out = Vec::new();
    let chunk = h.session.poll_transmit(&mut out).expect("a file chunk");
    assert!(text(&out).contains("Content-Length: 100000\r\n"));
    assert_eq!((chunk.offset, chunk.len), (0, 100_000));
    assert!(h.session.poll_transmit(&mut out).is_none());
}

#[test]
fn connection_close_ends_the_session_and_ignores_what_follows() {
    let f = fixture(|_| {});
    let mut h = f.session();
    let out = text(&h.send(
        b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    ));
    assert_eq!(out.matches("HTTP/1.1 200").count(), 1, "{out}");
    assert!(out.contains("Connection: close\r\n"));
    assert!(h.session.is_done());
}

#[test]
fn http10_closes_unless_keep_alive_is_asked() {
    let f = fixture(|_| {});
    let mut h = f.session();
    let out = text(&h.send(b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    assert!(out.contains("Connection: keep-alive\r\n"), "{out}");
    assert!(!h.session.is_done());
    h.send(b"GET /a.txt HTTP/1.0\r\n\r\n");
    assert!(h.session.is_done());
}

#[test]
fn slow_head_gets_408_and_idle_keep_alive_is_closed() {
    let f = fixture(|c| {
        c.header_timeout = Duration::from_secs(10);
        c.keepalive_timeout = Duration::from_secs(20);
    });
    let mut h = f.session();
    assert!(h.send(b"GET /a.txt HTTP/1.1\r\n").is_empty());
    assert!(h.advance(Duration::from_secs(9)).is_empty());
    assert!(
        h.send(b"Host: x\r\n").is_empty(),
        "bytes do not reset the head clock"
    );
    let out = text(&h.advance(Duration::from_secs(1)));
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
    assert!(h.session.is_done());

    let mut h = f.session();
    h.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(h.advance(Duration::from_secs(19)).is_empty());
    assert!(!h.session.is_done());
    assert!(
        h.advance(Duration::from_secs(1)).is_empty(),
        "closed silently"
    );
    assert!(h.session.is_done());
}

#[test]
fn idle_clock_restarts_when_a_long_transfer_ends() {
    let f = fixture(|c| c.keepalive_timeout = Duration::from_secs(20));
    let mut h = f.session();
    h.session
        .handle_input(f.t0, b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut out = Vec::new();
    assert!(h.session.poll_transmit(&mut out).is_some());
    assert_eq!(
        h.session.poll_timeout(),
        None,
        "no idle timer while sending"
    );
    // The driver spends 30 s on sendfile, then asks again.
    h.now += Duration::from_secs(30);
    assert!(h.session.poll_transmit(&mut out).is_none());
    assert!(
        h.session.poll_timeout().is_some_and(|at| at <= h.now),
        "restamp now"
    );
    h.session.handle_timeout(h.now);
    assert!(
        !h.session.is_done(),
        "not closed for the time spent sending"
    );
    assert_eq!(
        h.session.poll_timeout(),
        Some(h.now + Duration::from_secs(20))
    );
    assert!(h.advance(Duration::from_secs(20)).is_empty());
    assert!(h.session.is_done());
}

#[test]
fn chunked_upload_with_expect_continue_is_committed_when_complete() {
    let f = fixture(|c| c.upload = true);
    let mut h = f.session();
    let out = text(&h.send(
        b"PUT /up.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    ));
    assert_eq!(out, "HTTP/1.1 100 Continue\r\n\r\n");
    assert!(h.send(b"5;ext=1\r\nhello\r\n6\r\n world\r\n").is_empty());
    assert!(
        !f.dir.path().join("up.txt").exists(),
        "visible only when complete"
    );
    let out = text(&h.send(b"0\r\nX-Trailer: y\r\n\r\n"));
    assert!(out.starts_with("HTTP/1.1 201 Created"), "{out}");
    assert_eq!(
        std::fs::read(f.dir.path().join("up.txt")).unwrap(),
        b"hello world"
    );
    let out = text(&h.send(b"PUT /up.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"));
    assert!(out.starts_with("HTTP/1.1 409"), "{out}");
    assert!(h.session.is_done());
}

#[test]
fn bad_chunks_and_oversize_bodies_are_refused_and_leave_nothing() {
    let f = fixture(|c| {
        c.upload = true;
        c.max_upload = 10;
    });
    for body in [&b"zz\r\n"[..], b"\r\n", b"5\r\nhelloXX", b"5 x\r\n"] {
        let mut h = f.session();
        let mut req = b"PUT /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        req.extend_from_slice(body);
        let out = text(&h.send(&req));
        assert!(out.starts_with("HTTP/1.1 400"), "{body:?}: {out}");
        assert!(h.session.is_done());
    }
    let mut h = f.session();
    let out = text(&h.send(b"PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"));
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    let mut h = f.session();
    let out = text(&h.send(
        b"PUT /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n123456\r\n6\r\n",
    ));
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    let mut h = f.session();
    h.send(b"PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab");
    h.eof();
    assert!(h.session.is_done());
    let names: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 2, "only the fixture files remain: {names:?}");
}

#[test]
fn access_log_lines_are_common_log_format() {
    let f = fixture(|_| {});
    let mut h = f.session();
    h.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /\"x HTTP/1.1\r\nHost: x\r\n\r\n");
    let log = text(&f.log.0.lock().unwrap());
    assert_eq!(
        log,
        "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /a.txt HTTP/1.1\" 200 5\n\
         127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /\\x22x HTTP/1.1\" 404 14\n"
    );
}

#[test]
fn max_connections_answers_503_beyond_the_limit() {
    let f = fixture(|c| c.max_connections = Some(1));
    let first = f.session();
    let mut second = f.session();
    let out = text(&second.drain());
    assert!(out.starts_with("HTTP/1.1 503"), "{out}");
    assert!(second.session.is_done());
    drop(second);
    drop(first);
    let mut third = f.session();
    assert!(third.drain().is_empty());
    assert_eq!(f.service.stats().connections_open, 1);
}

#[test]
fn shutdown_closes_idle_sessions_and_finishes_uploads() {
    let f = fixture(|c| c.upload = true);
    let mut idle = f.session();
    idle.session.handle_shutdown(f.t0);
    assert!(idle.session.is_done());
    let mut h = f.session();
    h.send(b"PUT /late HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");
    h.session.handle_shutdown(f.t0);
    assert!(!h.session.is_done());
    let out = text(&h.send(b"cd"));
    assert!(
        out.starts_with("HTTP/1.1 201") && out.contains("Connection: close"),
        "{out}"
    );
    assert!(h.session.is_done());
}

#[test]
fn stats_count_requests() {
    let f = fixture(|_| {});
    let mut h = f.session();
    h.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let out = text(&h.send(b"GET /_netkit/stats HTTP/1.1\r\nHost: x\r\n\r\n"));
    let body = out.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["requests"], 1);
    assert_eq!(v["model"], "test");
    assert_eq!(v["connections_open"], 1);
    assert!(v["bytes_sent"].as_u64().unwrap() > 5);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any bytes, in any pieces: no panic, and whatever comes out is a response.
        #[test]
        fn arbitrary_input_never_panics(
            prefix in 0usize..4,
            tail in proptest::collection::vec(any::<u8>(), 0..2048),
            cuts in proptest::collection::vec(0usize..2048, 0..8),
        ) {
            // Random bytes alone rarely get past the request line: also start
            // them inside a head, a chunked body and a Range header.
            let heads: [&[u8]; 4] = [
                b"",
                b"GET /a.txt HTTP/1.1\r\nHost: x\r\n",
                b"PUT /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=",
            ];
            let mut data = heads[prefix].to_vec();
            data.extend_from_slice(&tail);
            let f = fixture(|c| c.upload = true);
            let mut h = f.session();
            let mut out = Vec::new();
            let mut last = 0;
            let mut cuts = cuts;
            cuts.sort_unstable();
            for cut in cuts.into_iter().chain([data.len()]) {
                let cut = cut.min(data.len());
                if cut >= last {
                    out.extend(h.send(&data[last..cut]));
                    last = cut;
                }
            }
            out.extend(h.eof());
            prop_assert!(out.is_empty() || out.starts_with(b"HTTP/1.1 "));
        }

        /// A valid pipeline split anywhere gets the same answer as in one piece.
        #[test]
        fn splitting_does_not_change_the_answer(cut in 0usize..120) {
            let f = fixture(|_| {});
            let req = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
            let cut = cut.min(req.len());
            let mut whole = f.session();
            let want = whole.send(req);
            let mut split = f.session();
            let mut got = split.send(&req[..cut]);
            got.extend(split.send(&req[cut..]));
            prop_assert_eq!(text(&got), text(&want));
        }
    }
}

#[test]
fn a_put_on_one_thread_drops_the_cache_entry_another_thread_uses() {
    // The file cache is the service's, not the running thread's: a worker
    // that cached `a.txt` sees another worker's PUT at once, not a TTL later.
    let f = fixture(|c| {
        c.upload = true;
        c.overwrite = true;
    });
    let get = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut here = f.session();
    assert!(text(&here.send(get)).ends_with("\r\n\r\nhello"));
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut there = f.session();
            let put = b"PUT /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nworld";
            let out = text(&there.send(put));
            assert!(out.starts_with("HTTP/1.1 204"), "{out}");
        });
    });
    let out = text(&here.send(get));
    assert!(out.ends_with("\r\n\r\nworld"), "{out}");
}

#[test]
fn an_idle_session_is_small_and_owns_no_buffers() {
    // 10,000 idle keep-alive connections should cost a few MiB, not hundreds.
    assert!(
        std::mem::size_of::<HttpSession>() <= 320,
        "HttpSession is {} bytes",
        std::mem::size_of::<HttpSession>()
    );
    let f = fixture(|_| {});
    let mut h = f.session();
    h.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let s = format!("{:?}", h.session);
    assert!(s.contains("requests: 1"), "{s}");
    let mut out = Vec::new();
    assert!(h.session.poll_transmit(&mut out).is_none());
    assert!(out.is_empty(), "everything was handed over already");
}

#[test]
fn without_overwrite_delete_is_refused_and_with_it_removes() {
    let f = fixture(|c| c.upload = true);
    let mut h = f.session();
    let out = text(&h.send(b"DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    assert!(f.dir.path().join("a.txt").exists(), "a share only grows");
    let out = text(&h.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(
        out.contains(
            "Allow: GET, HEAD, OPTIONS, PUT, MKCOL, COPY, PROPFIND, PROPPATCH, LOCK, UNLOCK\r\n"
        ),
        "{out}"
    );
    let f = fixture(|c| {
        c.upload = true;
        c.overwrite = true;
    });
    let mut h = f.session();
    let out = text(&h.send(b"DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(out.starts_with("HTTP/1.1 204"), "{out}");
    assert!(!f.dir.path().join("a.txt").exists());
}

#[test]
fn a_folder_redirect_stays_on_this_host() {
    let f = fixture(|_| {});
    std::fs::create_dir(f.dir.path().join("evil.com")).unwrap();
    for target in ["//evil.com", "///evil.com", "http://x//evil.com"] {
        let mut h = f.session();
        let out = text(&h.send(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()));
        assert!(out.starts_with("HTTP/1.1 301"), "{target}: {out}");
        assert!(
            out.contains("\r\nLocation: /evil.com/\r\n"),
            "{target}: {out}"
        );
    }
}

#[test]
fn an_index_html_that_is_no_regular_file_is_listed_past() {
    let f = fixture(|_| {});
    let dir = f.dir.path();
    std::fs::create_dir_all(dir.join("d/index.html")).unwrap();
    std::fs::create_dir(dir.join("p")).unwrap();
    nix::unistd::mkfifo(&dir.join("p/index.html"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    std::fs::write(dir.join("p/other.txt"), "x").unwrap();
    for (path, entry) in [("/d/", "index.html/"), ("/p/", "other.txt")] {
        let mut h = f.session();
        let out = text(&h.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()));
        assert!(out.starts_with("HTTP/1.1 200"), "{path}: {out}");
        assert!(out.contains(entry), "{path}: a listing: {out}");
    }
}

#[test]
fn files_say_nosniff_and_are_sandboxed_when_uploads_are_on() {
    let f = fixture(|_| {});
    let out = text(&f.session().send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(
        out.contains("\r\nX-Content-Type-Options: nosniff\r\n"),
        "{out}"
    );
    assert!(
        !out.contains("Content-Security-Policy"),
        "a read-only share: {out}"
    );
    let f = fixture(|c| c.upload = true);
    for path in ["/a.txt", "/"] {
        let out = text(
            &f.session()
                .send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()),
        );
        assert!(
            out.contains("\r\nX-Content-Type-Options: nosniff\r\n"),
            "{out}"
        );
        assert!(
            out.contains("\r\nContent-Security-Policy: sandbox allow-scripts allow-forms allow-popups allow-downloads\r\n"),
            "{path}: {out}"
        );
    }
}

#[test]
fn a_host_that_is_not_host_and_port_is_400() {
    let f = fixture(|_| {});
    let out = text(
        &f.session()
            .send(b"GET /a.txt HTTP/1.1\r\nHost: a/b\\c@d\r\n\r\n"),
    );
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    let out = text(
        &f.session()
            .send(b"GET /a.txt HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"),
    );
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}
