//! The HTTP conformance suite, run against `netkit http serve --model M` for
//! every model: files and listings, validators, conditional and range
//! requests, keep-alive and pipelining, methods, malformed and oversize
//! requests, framing attacks, dotfiles and symlinks, uploads, stats, CORS,
//! precompressed siblings, timeouts, browser safety headers and redirects,
//! and the traversal list — over raw
//! sockets, so what is asserted is exactly what went over the wire.
//!
//! One module per model (`cargo test -p netkit --test it http_conformance::poll::`).
//! The uploads, stats/CORS/precompressed, timeout and access-log scenarios
//! live in `http/features.rs`.

use crate::common;
use crate::http;

use http::features::{access_log, browser_safety, stats_cors_and_precompressed, timeouts, uploads};

use http::{
    connect, exchange, fixture, get, h11, parse_all, read_to_close, start, status_of, text,
};
use std::io::{Read, Write};

fn files_and_listings(model: &str) {
    let dir = fixture();
    let server = start(model, dir.path(), &[]);
    let addr = server.addr();

    let r = get(addr, "/hello.txt", "");
    assert_eq!((r.status, r.text().as_str()), (200, "hello, world\n"));
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("Content-Length"), Some("13"));
    for name in ["Date", "Last-Modified", "ETag"] {
        assert!(r.header(name).is_some(), "{model}: {name} missing");
    }
    let big = get(addr, "/data.bin", "");
    assert_eq!(
        big.body,
        http::pattern(200_000),
        "{model}: data.bin byte-exact"
    );
    assert_eq!(big.header("Content-Type"), Some("application/octet-stream"));

    let raw = h11(addr, "HEAD", "/hello.txt", "");
    let head = &parse_all(&raw, &[true])[0];
    assert_eq!(
        (head.status, head.header("Content-Length")),
        (200, Some("13"))
    );
    assert!(raw.ends_with(b"\r\n\r\n"), "{model}: HEAD sent a body");

    let index = get(addr, "/site/", "");
    assert_eq!((index.status, index.text().as_str()), (200, "<p>index</p>"));
    let redirect = get(addr, "/site?x=1", "");
    assert_eq!(
        (redirect.status, redirect.header("Location")),
        (301, Some("/site/?x=1"))
    );

    let listing = get(addr, "/", "");
    assert_eq!(listing.status, 200);
    assert_eq!(
        listing.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let page = listing.text();
    assert!(
        page.contains("href=\"%3Cb%3E%26x%20y.txt\""),
        "{model}: encoded link\n{page}"
    );
    assert!(
        page.contains("&lt;b&gt;&amp;x y.txt"),
        "{model}: escaped name"
    );
    assert!(page.contains(">13 B</td>"), "{model}: sizes");
    let dirs = page.find("site/").unwrap();
    assert!(
        dirs < page.find("hello.txt").unwrap(),
        "{model}: sorted, directories first"
    );
    assert!(
        !page.contains("secret") && !page.contains(".git"),
        "{model}: dotfiles hidden"
    );
    assert!(
        !page.contains("rootlink") && !page.contains("passwd"),
        "{model}: escaping links"
    );
    assert!(
        !page.contains("href=\"../\""),
        "{model}: no parent link at the root"
    );
    let sub = get(addr, "/empty%20dir/", "").text();
    assert!(sub.contains("href=\"../\""), "{model}: parent link\n{sub}");

    let json = get(addr, "/", "Accept: application/json\r\n");
    assert_eq!(json.header("Content-Type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&json.body).expect("json listing");
    let names: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"hello.txt") && names.contains(&"site"),
        "{names:?}"
    );
    let hello = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "hello.txt")
        .unwrap();
    assert_eq!(
        (hello["size"].as_u64(), hello["type"].as_str()),
        (Some(13), Some("file"))
    );

    let missing = get(addr, "/nope.txt", "");
    assert_eq!(
        (missing.status, missing.text().as_str()),
        (404, "404 Not Found\n")
    );
    assert_eq!(get(addr, "/inside-link.txt", "").text(), "hello, world\n");
    assert_eq!(server.terminate(), Some(0));
}

fn conditional_and_ranges(model: &str) {
    let dir = fixture();
    let server = start(model, dir.path(), &[]);
    let addr = server.addr();
    let first = get(addr, "/data.bin", "");
    let etag = first.header("ETag").unwrap().to_owned();
    let lm = first.header("Last-Modified").unwrap().to_owned();

    let r = get(addr, "/data.bin", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert_eq!(r.header("ETag"), Some(etag.as_str()));
    assert_eq!(
        get(addr, "/data.bin", &format!("If-Modified-Since: {lm}\r\n")).status,
        304
    );
    // If-None-Match wins over If-Modified-Since when both are present.
    let both = format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {lm}\r\n");
    assert_eq!(get(addr, "/data.bin", &both).status, 200);
    let old = "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n";
    assert_eq!(get(addr, "/data.bin", old).status, 200);

    let part = get(addr, "/data.bin", "Range: bytes=100-199\r\n");
    assert_eq!(part.status, 206);
    assert_eq!(part.header("Content-Range"), Some("bytes 100-199/200000"));
    assert_eq!(part.body, http::pattern(200_000)[100..200]);
    let tail = get(addr, "/data.bin", "Range: bytes=-5\r\n");
    assert_eq!(tail.body, http::pattern(200_000)[199_995..]);
    let none = get(addr, "/data.bin", "Range: bytes=300000-\r\n");
    assert_eq!(none.status, 416);
    assert_eq!(none.header("Content-Range"), Some("bytes */200000"));
    let stale = get(
        addr,
        "/data.bin",
        "Range: bytes=0-9\r\nIf-Range: \"stale\"\r\n",
    );
    assert_eq!((stale.status, stale.body.len()), (200, 200_000));
    let fresh = get(
        addr,
        "/data.bin",
        &format!("Range: bytes=0-9\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!((fresh.status, fresh.body.len()), (206, 10));
    assert_eq!(server.terminate(), Some(0));
}

fn keep_alive_and_pipelining(model: &str) {
    let dir = fixture();
    let server = start(model, dir.path(), &[]);
    let addr = server.addr();
    let paths = ["/hello.txt", "/nope", "/data.bin", "/site/", "/hello.txt"];
    let mut burst = String::new();
    for p in paths {
        burst.push_str(&format!("GET {p} HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
    burst.push_str("HEAD /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    burst.push_str("GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"); // after close: ignored
    let raw = exchange(addr, burst.as_bytes());
    let all = parse_all(&raw, &[false, false, false, false, false, true]);
    let statuses: Vec<u16> = all.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [200, 404, 200, 200, 200, 200],
        "{model}: in order"
    );
    assert_eq!(all[2].body.len(), 200_000);
    assert_eq!(all[3].text(), "<p>index</p>");
    assert_eq!(all[5].header("Connection"), Some("close"));

    // A long burst: more replies than the session queues at once (it takes
    // the rest once the first ones are sent).
    let mut burst = String::new();
    for i in 0..120 {
        let path = if i % 2 == 0 {
            "/data.bin"
        } else {
            "/hello.txt"
        };
        burst.push_str(&format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
    let all = parse_all(&exchange(addr, burst.as_bytes()), &[]);
    assert_eq!(all.len(), 120, "{model}: every pipelined request answered");
    for (i, r) in all.iter().enumerate() {
        let want = if i % 2 == 0 { 200_000 } else { 13 };
        assert_eq!((r.status, r.body.len()), (200, want), "{model}: reply {i}");
    }

    // Keep-alive: a second request on the same connection after the first reply.
    let mut s = connect(addr);
    for _ in 0..2 {
        s.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while !text(&got).ends_with("hello, world\n") {
            let n = s.read(&mut buf).expect("keep-alive reply");
            assert!(n > 0, "{model}: closed a keep-alive connection");
            got.extend_from_slice(&buf[..n]);
        }
    }
    drop(s);

    // HTTP/1.0 closes by default and stays open when keep-alive is asked.
    let mut s = connect(addr);
    s.write_all(b"GET /hello.txt HTTP/1.0\r\n\r\n").unwrap();
    let raw = read_to_close(&mut s); // EOF without our half-close: the server closed
    assert!(
        text(&raw).ends_with("hello, world\n"),
        "{model}: {}",
        text(&raw)
    );
    let raw = exchange(
        addr,
        b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello.txt HTTP/1.0\r\n\r\n",
    );
    let all = parse_all(&raw, &[]);
    assert_eq!(all.len(), 2, "{model}: keep-alive 1.0");
    assert_eq!(all[0].header("Connection"), Some("keep-alive"));
    assert_eq!(server.terminate(), Some(0));
}

fn methods_and_errors(model: &str) {
    let dir = fixture();
    let server = start(model, dir.path(), &[]);
    let addr = server.addr();
    let opts = &parse_all(&h11(addr, "OPTIONS", "*", ""), &[])[0];
    assert_eq!(
        (opts.status, opts.header("Allow")),
        (204, Some("GET, HEAD, OPTIONS, PROPFIND"))
    );
    let post = &parse_all(
        &h11(addr, "POST", "/hello.txt", "Content-Length: 0\r\n"),
        &[],
    )[0];
    assert_eq!(
        (post.status, post.header("Allow")),
        (405, Some("GET, HEAD, OPTIONS, PROPFIND"))
    );
    assert_eq!(
        status_of(&h11(addr, "PUT", "/x", "Content-Length: 1\r\n")),
        403
    );
    assert_eq!(status_of(&h11(addr, "DELETE", "/hello.txt", "")), 403);
    assert!(dir.path().join("hello.txt").exists());

    // Malformed, over-long and oversize: an answer, then the connection closes.
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    let mut many = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..101 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "v".repeat(33 * 1024)
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("garbage", b"\x16\x03\x01 hello\r\n\r\n".to_vec(), 400),
        ("no host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
        (
            "bad version",
            b"GET / HTTP/9.9\r\nHost: t\r\n\r\n".to_vec(),
            505,
        ),
        ("long line", long_line.into_bytes(), 414),
        ("101 headers", many.into_bytes(), 431),
        ("33 KiB header", huge.into_bytes(), 431),
        (
            "obs-fold",
            b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n".to_vec(),
            400,
        ),
    ];
    for (what, mut req, want) in cases {
        // A valid request after it must not be answered.
        req.extend_from_slice(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        let raw = exchange(addr, &req);
        let all = parse_all(&raw, &[]);
        assert_eq!(all.len(), 1, "{model} {what}: {}", text(&raw));
        assert_eq!(all[0].status, want, "{model} {what}");
        assert_eq!(all[0].header("Connection"), Some("close"), "{model} {what}");
    }
    // Bare LF line endings are accepted (RFC 9112 §2.2).
    let lf = exchange(
        addr,
        b"GET /hello.txt HTTP/1.1\nHost: t\nConnection: close\n\n",
    );
    assert_eq!(parse_all(&lf, &[])[0].text(), "hello, world\n");
    assert_eq!(server.terminate(), Some(0));
}

fn framing_attacks(model: &str) {
    let dir = fixture();
    let server = start(model, dir.path(), &["--upload"]);
    let addr = server.addr();
    let smuggled = "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    let cases = [
        (
            "CL+TE",
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "two CLs",
            "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        ),
        ("CL list", "Content-Length: 5, 6\r\n\r\nhello!"),
        ("CL sign", "Content-Length: +5\r\n\r\nhello"),
        ("CL hex", "Content-Length: 0x5\r\n\r\nhello"),
        ("TE gzip", "Transfer-Encoding: gzip\r\n\r\nhello"),
        (
            "TE not last",
            "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        ),
        (
            "bad chunk size",
            "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "empty chunk size",
            "Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "huge chunk size",
            "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
        ),
        (
            "chunk overrun",
            "Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
        ),
    ];
    for (what, rest) in cases {
        let req = format!(
            "PUT /up-{} HTTP/1.1\r\nHost: t\r\n{rest}{smuggled}",
            what.len()
        );
        let raw = exchange(addr, req.as_bytes());
        let all = parse_all(&raw, &[]);
        assert_eq!(
            all.len(),
            1,
            "{model} {what}: smuggled request answered: {}",
            text(&raw)
        );
        assert_eq!(all[0].status, 400, "{model} {what}");
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("up-") || n.starts_with(".netkit"))
        .collect();
    assert!(
        names.is_empty(),
        "{model}: refused uploads left files: {names:?}"
    );
    assert_eq!(server.terminate(), Some(0));
}

fn dotfiles_symlinks_and_traversal(model: &str) {
    let dir = fixture();
    let server = start(model, dir.path(), &[]);
    let addr = server.addr();
    for path in [
        "/.secret",
        "/.git/config",
        "/passwd",
        "/rootlink/etc/passwd",
        "/rootlink/",
    ] {
        assert_eq!(get(addr, path, "").status, 404, "{model} {path}");
    }
    let attacks = [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/%252e%252e/%252e%252e/etc/passwd",
        "/..%00/etc/passwd",
        "/hello.txt%00.html",
        "/..\\..\\etc\\passwd",
        "/%5c..%5c..%5cetc%5cpasswd",
        "//etc/passwd",
        "///etc/passwd",
        "http://localhost/../../etc/passwd",
        "http://evil.example/etc/passwd",
        "/rootlink/etc/passwd",
        "/rootlink/proc/self/environ",
        "/site/../../etc/passwd",
        "/./../etc/passwd",
        "etc/passwd",
        "/passwd",
    ];
    for path in attacks {
        for method in ["GET", "HEAD"] {
            let raw = h11(addr, method, path, "");
            let all = parse_all(&raw, &[method == "HEAD"]);
            assert_eq!(all.len(), 1, "{model} {path}");
            let status = all[0].status;
            assert!(
                matches!(status, 400 | 404),
                "{model} {method} {path}: {status}"
            );
            assert!(
                !text(&raw).contains("root:"),
                "{model} {path}: bytes from outside"
            );
        }
    }
    drop(server);
    let server = start(model, dir.path(), &["--hidden"]);
    assert_eq!(get(server.addr(), "/.secret", "").text(), "dotfile");
    assert!(get(server.addr(), "/", "").text().contains(".secret"));
    assert_eq!(get(server.addr(), "/rootlink/etc/passwd", "").status, 404);
    assert_eq!(server.terminate(), Some(0));
}

common::every_model! {
    files_and_listings,
    conditional_and_ranges,
    keep_alive_and_pipelining,
    methods_and_errors,
    framing_attacks,
    dotfiles_symlinks_and_traversal,
    uploads,
    stats_cors_and_precompressed,
    timeouts,
    access_log,
    browser_safety,
}
