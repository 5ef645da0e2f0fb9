//! Property tests for the HTTP request head and chunked body parsers, driven
//! through the public session (stable `cargo test`; the cargo-fuzz targets in
//! `fuzz/` run the same drive functions for longer).
//!
//! Properties: arbitrary bytes never panic and always get HTTP replies; a
//! valid request gets the same reply however TCP splits it; a chunked PUT
//! with arbitrary chunk sizes stores exactly its body; a redirect never names
//! another host and a Host that is no host[:port] is a 400; every seed in
//! `fuzz/corpus/http_*` replays cleanly.

#[path = "../../../fuzz/harness/mod.rs"]
mod harness;

use netkit_proto::http::{HttpConfig, HttpContext, HttpService, WallClock};
use netkit_proto::root::Root;
use netkit_proto::testing::Harness;
use netkit_proto::Service;
use proptest::prelude::*;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// A wall clock that never moves, so two sessions started at different
/// instants date their replies alike.
struct Stopped;

impl WallClock for Stopped {
    fn wall_time(&self, _now: Instant) -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000)
    }
}

fn service(dir: &std::path::Path) -> HttpService {
    let config = HttpConfig {
        upload: true,
        ..HttpConfig::default()
    };
    let context = HttpContext::new(Instant::now(), Arc::new(Stopped));
    HttpService::new(Root::open(dir).unwrap(), config, context)
}

/// Sends `input` in pieces cut at `cuts` (offsets, any order) and returns the reply.
fn send_split(svc: &HttpService, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let now = Instant::now();
    let mut h = Harness::new(svc.new_session(None, now), now);
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(0);
    points.push(input.len());
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    for w in points.windows(2) {
        out.extend(h.send(&input[w[0]..w[1]]));
    }
    out
}

#[test]
fn seed_corpora_replay() {
    assert!(harness::replay_corpus("http_stream", harness::http_stream) >= 5);
    assert!(harness::replay_corpus("http_chunked", harness::http_chunked) >= 3);
    assert!(harness::replay_corpus("dav_bodies", harness::dav_bodies) >= 5);
}

fn request_strategy() -> impl Strategy<Value = Vec<u8>> {
    let method = prop::sample::select(vec!["GET", "HEAD", "OPTIONS", "TRACE", "BREW", "get"]);
    let path = prop::sample::select(vec![
        "/",
        "/a.txt",
        "/sub/",
        "/sub",
        "/missing",
        "/%2e%2e/x",
        "/a%20b",
        "/sub/b.bin",
    ]);
    let extra = prop::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,20}"), 0..4);
    (method, path, extra, any::<bool>()).prop_map(|(m, p, extra, range)| {
        let mut req = format!("{m} {p} HTTP/1.1\r\nHost: t\r\n");
        for (k, v) in extra {
            if !k.eq_ignore_ascii_case("host")
                && !k.eq_ignore_ascii_case("content-length")
                && !k.eq_ignore_ascii_case("transfer-encoding")
            {
                req.push_str(&format!("{k}: {}\r\n", v.trim()));
            }
        }
        if range {
            req.push_str("Range: bytes=1-3\r\n");
        }
        req.push_str("\r\n");
        req.into_bytes()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_get_http_replies(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        harness::http_stream(&data);
    }

    #[test]
    fn arbitrary_dav_bodies_get_dav_replies(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        harness::dav_bodies(&data);
    }

    #[test]
    fn arbitrary_chunked_bodies_never_panic(data in prop::collection::vec(any::<u8>(), 0..1024)) {
        harness::http_chunked(&data);
    }

    #[test]
    fn unicode_targets_get_replies(path in "\\PC{0,12}", method in prop::sample::select(vec!["GET", "PUT", "HEAD"])) {
        let mut req = vec![0xFFu8];
        req.extend_from_slice(format!("{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").as_bytes());
        harness::http_stream(&req);
    }

    #[test]
    fn printable_garbage_heads(head in "[ -~\r\n]{0,600}") {
        harness::http_stream(&[&[7u8][..], head.as_bytes()].concat());
    }

    #[test]
    fn a_request_split_anywhere_gets_the_same_reply(
        reqs in prop::collection::vec(request_strategy(), 1..4),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("a.txt"), b"hello\n").unwrap();
        std::fs::write(dir.path().join("sub/b.bin"), vec![1u8; 5000]).unwrap();
        let svc = service(dir.path());
        let input = reqs.concat();
        let whole = send_split(&svc, &input, &[]);
        let split = send_split(&svc, &input, &cuts);
        prop_assert!(whole.starts_with(b"HTTP/1.1 "));
        prop_assert_eq!(whole, split);
    }

    /// A folder redirect stays on this server however many slashes lead the
    /// path (`//evil.com` is another host to a browser), and a Host that
    /// holds a slash, backslash, `@` or space is a 400, whatever else it holds.
    #[test]
    fn no_location_names_another_host_and_bad_hosts_are_400(
        slashes in 1usize..5,
        name in "[a-z][a-z.]{0,9}",
        host in "[ -~]{0,30}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(&name)).unwrap();
        let svc = service(dir.path());
        let req = format!("GET {}{name} HTTP/1.1\r\nHost: {host}\r\n\r\n", "/".repeat(slashes));
        let reply = String::from_utf8_lossy(&send_split(&svc, req.as_bytes(), &[])).into_owned();
        prop_assert!(reply.starts_with("HTTP/1.1 "), "{}", reply);
        if host.trim().contains(['/', '\\', '@', ' ']) {
            prop_assert!(reply.starts_with("HTTP/1.1 400"), "{}", reply);
        }
        if let Some(at) = reply.find("\r\nLocation: ") {
            let location = &reply[at + 12..];
            prop_assert!(location.starts_with('/') && !location.starts_with("//"), "{}", reply);
            prop_assert!(location.starts_with(&format!("/{name}/")), "{}", reply);
        }
    }

    #[test]
    fn chunked_put_stores_exactly_its_body(
        body in prop::collection::vec(any::<u8>(), 0..4096),
        sizes in prop::collection::vec(1usize..700, 1..20),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        upper in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let svc = service(dir.path());
        let mut input = b"PUT /up.bin HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let mut rest = &body[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].min(rest.len());
            let size = if upper { format!("{n:X}") } else { format!("{n:x}") };
            input.extend_from_slice(format!("{size}\r\n").as_bytes());
            input.extend_from_slice(&rest[..n]);
            input.extend_from_slice(b"\r\n");
            rest = &rest[n..];
            i += 1;
        }
        input.extend_from_slice(b"0\r\n\r\n");
        let reply = send_split(&svc, &input, &cuts);
        prop_assert!(reply.starts_with(b"HTTP/1.1 201"), "{}", String::from_utf8_lossy(&reply));
        prop_assert_eq!(std::fs::read(dir.path().join("up.bin")).unwrap(), body);
    }
}

/// Found by the traversal corpus: a request target with raw multi-byte UTF-8
/// within its first 8 bytes panicked the session (the `http://` prefix check
/// sliced the `str` inside a character), which took a pool worker down.
#[test]
fn raw_utf8_in_the_first_bytes_of_a_target_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    for target in [
        "/\u{FFFD}\u{FFFD}\u{FFFD}/x",
        "/．．．/x",
        "/ab\u{e9}\u{e9}\u{e9}",
        "h\u{e9}\u{e9}\u{e9}\u{e9}",
    ] {
        let mut req = b"GET ".to_vec();
        req.extend_from_slice(target.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\n\r\n");
        let reply = send_split(&svc, &req, &[]);
        assert!(
            reply.starts_with(b"HTTP/1.1 4"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
    }
}
