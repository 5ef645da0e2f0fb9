//! The HTTP conformance suite, run against `netkit http serve --model M` for
//! every model: files and listings, validators, conditional and range
//! requests, keep-alive and pipelining, methods, malformed and oversize
//! requests, framing attacks, dotfiles and symlinks, uploads, stats, CORS,
//! precompressed siblings, timeouts, and the traversal list — over raw
//! sockets, so what is asserted is exactly what went over the wire.
//!
//! One module per model (`cargo test --test http_conformance poll::`).

mod common;
mod http;

use http::{connect, exchange, fixture, get, parse_all, read_to_close, start, text};
use std::io::{Read, Write};
use std::net::SocketAddr;

fn h11(addr: SocketAddr, method: &str, path: &str, extra: &str) -> Vec<u8> {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n");
    exchange(addr, req.as_bytes())
}

fn status_of(raw: &[u8]) -> u16 {
    let t = text(raw);
    assert!(t.starts_with("HTTP/1.1 "), "not a response: {t:?}");
    t[9..12].parse().expect("status")
}

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
    assert!(page.contains("<td>13</td>"), "{model}: sizes");
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
        (204, Some("GET, HEAD, OPTIONS"))
    );
    let post = &parse_all(
        &h11(addr, "POST", "/hello.txt", "Content-Length: 0\r\n"),
        &[],
    )[0];
    assert_eq!(
        (post.status, post.header("Allow")),
        (405, Some("GET, HEAD, OPTIONS"))
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

fn uploads(model: &str) {
    let dir = fixture();
    let server = start(model, dir.path(), &["--upload", "--max-upload", "1K"]);
    let addr = server.addr();
    let put = |path: &str, extra: &str, body: &str| {
        let req =
            format!("PUT {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n{body}");
        parse_all(&exchange(addr, req.as_bytes()), &[])
            .pop()
            .expect("a reply")
    };
    let r = put("/new.txt", "Content-Length: 5\r\n", "hello");
    assert_eq!(r.status, 201, "{model}");
    assert_eq!(std::fs::read(dir.path().join("new.txt")).unwrap(), b"hello");
    assert_eq!(put("/new.txt", "Content-Length: 3\r\n", "abc").status, 409);
    assert_eq!(std::fs::read(dir.path().join("new.txt")).unwrap(), b"hello");
    let chunked = put(
        "/chunked.txt",
        "Transfer-Encoding: chunked\r\n",
        "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    );
    assert_eq!(chunked.status, 201);
    assert_eq!(
        std::fs::read(dir.path().join("chunked.txt")).unwrap(),
        b"abcde"
    );
    assert_eq!(put("/big", "Content-Length: 2000\r\n", "").status, 413);
    assert_eq!(put("/.hidden", "Content-Length: 1\r\n", "x").status, 403);
    assert_eq!(put("/../x", "Content-Length: 1\r\n", "x").status, 400);

    // A refused body still on its way: the 413 is not lost to a reset (the
    // drivers' lingering close reads and discards the rest).
    let mut s = connect(addr);
    let mut writer = s.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let head = b"PUT /huge HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n";
        let _ = writer.write_all(head);
        let _ = writer.write_all(&vec![b'x'; 1 << 20]);
    });
    let raw = read_to_close(&mut s);
    let _ = sending.join();
    assert_eq!(status_of(&raw), 413, "{model}: {}", text(&raw));
    drop(s);

    // Expect: 100-continue: the interim reply comes before any body byte.
    let mut s = connect(addr);
    s.write_all(
        b"PUT /cont.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).expect("100 Continue");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"body").unwrap();
    let _ = s.shutdown(std::net::Shutdown::Write);
    assert_eq!(parse_all(&read_to_close(&mut s), &[])[0].status, 201);
    assert_eq!(std::fs::read(dir.path().join("cont.txt")).unwrap(), b"body");

    // A body cut short leaves nothing behind.
    exchange(
        addr,
        b"PUT /cut.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nonly part",
    );
    let req = b"DELETE /new.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_eq!(status_of(&exchange(addr, req)), 204);
    assert!(!dir.path().join("new.txt").exists());
    assert_eq!(status_of(&exchange(addr, req)), 404);
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("cut") || n.starts_with(".netkit"))
        .collect();
    assert!(leftovers.is_empty(), "{model}: {leftovers:?}");
    drop(server);

    let server = start(model, dir.path(), &["--upload", "--overwrite"]);
    let req =
        b"PUT /chunked.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 2\r\n\r\nxy";
    assert_eq!(status_of(&exchange(server.addr(), req)), 204);
    assert_eq!(
        std::fs::read(dir.path().join("chunked.txt")).unwrap(),
        b"xy"
    );
    assert_eq!(server.terminate(), Some(0));
}

fn stats_cors_and_precompressed(model: &str) {
    let dir = fixture();
    let server = start(model, dir.path(), &["--cors"]);
    let addr = server.addr();
    let r = get(addr, "/hello.txt", "Origin: http://a.example\r\n");
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    let pre = h11(
        addr,
        "OPTIONS",
        "/hello.txt",
        "Origin: http://a.example\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: x-a\r\n",
    );
    let pre = &parse_all(&pre, &[])[0];
    assert_eq!(pre.status, 204);
    assert_eq!(
        pre.header("Access-Control-Allow-Methods"),
        Some("GET, HEAD, OPTIONS")
    );
    assert_eq!(pre.header("Access-Control-Allow-Headers"), Some("x-a"));

    let gz = get(addr, "/style.css", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(
        (gz.text().as_str(), gz.header("Content-Encoding")),
        ("GZIPPED", Some("gzip"))
    );
    assert_eq!(gz.header("Content-Type"), Some("text/css; charset=utf-8"));
    assert_eq!(gz.header("Vary"), Some("Accept-Encoding"));
    let plain = get(addr, "/style.css", "Accept-Encoding: gzip;q=0\r\n");
    assert_eq!(
        (plain.text().as_str(), plain.header("Content-Encoding")),
        ("body{}", None)
    );

    let stats = get(addr, "/api/stats", "");
    let v: serde_json::Value = serde_json::from_slice(&stats.body).expect("stats json");
    for key in [
        "uptime_secs",
        "connections_open",
        "connections_total",
        "requests",
        "bytes_sent",
    ] {
        assert!(v[key].is_number(), "{model}: {key} in {v}");
    }
    assert_eq!(v["model"], model);
    // Counted across every worker, forked children included.
    assert!(v["requests"].as_u64().unwrap() >= 4, "{model}: {v}");
    assert!(
        v["connections_total"].as_u64().unwrap() >= 5,
        "{model}: {v}"
    );
    assert_eq!(server.terminate(), Some(0));
}

fn timeouts(model: &str) {
    let dir = fixture();
    let server = start(
        model,
        dir.path(),
        &["--header-timeout", "0.5", "--keepalive-timeout", "0.5"],
    );
    let addr = server.addr();
    // A head that never completes gets a 408 and the connection closes.
    let mut slow = connect(addr);
    slow.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let raw = read_to_close(&mut slow);
    assert_eq!(status_of(&raw), 408, "{model}");
    // An idle keep-alive connection is closed after its reply.
    let mut idle = connect(addr);
    idle.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let raw = read_to_close(&mut idle);
    assert_eq!(parse_all(&raw, &[]).len(), 1, "{model}: {}", text(&raw));
    // A connection that sends nothing at all is closed too.
    let mut silent = connect(addr);
    assert!(read_to_close(&mut silent).is_empty());
    assert_eq!(
        get(addr, "/hello.txt", "").status,
        200,
        "{model}: still serving"
    );
    assert_eq!(server.terminate(), Some(0));
}

fn access_log(model: &str) {
    let dir = fixture();
    let mut server = http::start_with(model, dir.path(), &[], true);
    get(server.addr(), "/hello.txt", "");
    get(server.addr(), "/nope", "");
    let mut stderr = server.child.stderr.take().expect("piped stderr");
    assert_eq!(server.terminate(), Some(0));
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("\" ")).collect();
    assert_eq!(lines.len(), 2, "{model}: {log}");
    assert!(lines[0].starts_with("127.0.0.1 - - ["), "{}", lines[0]);
    assert!(
        lines[0].ends_with("\"GET /hello.txt HTTP/1.1\" 200 13"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with("\"GET /nope HTTP/1.1\" 404 14"),
        "{}",
        lines[1]
    );

    let mut quiet = http::start_with(model, dir.path(), &["--quiet"], true);
    get(quiet.addr(), "/hello.txt", "");
    let mut stderr = quiet.child.stderr.take().expect("piped stderr");
    assert_eq!(quiet.terminate(), Some(0));
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(
        !log.contains("GET /hello.txt"),
        "{model}: --quiet logged: {log}"
    );
}

macro_rules! conformance {
    ($($module:ident => $model:literal),* $(,)?) => {$(
        mod $module {
            #[test] fn files_and_listings() { super::files_and_listings($model) }
            #[test] fn conditional_and_ranges() { super::conditional_and_ranges($model) }
            #[test] fn keep_alive_and_pipelining() { super::keep_alive_and_pipelining($model) }
            #[test] fn methods_and_errors() { super::methods_and_errors($model) }
            #[test] fn framing_attacks() { super::framing_attacks($model) }
            #[test] fn dotfiles_symlinks_and_traversal() { super::dotfiles_symlinks_and_traversal($model) }
            #[test] fn uploads() { super::uploads($model) }
            #[test] fn stats_cors_and_precompressed() { super::stats_cors_and_precompressed($model) }
            #[test] fn timeouts() { super::timeouts($model) }
            #[test] fn access_log() { super::access_log($model) }
        }
    )*};
}

conformance! {
    iterative => "iterative",
    thread => "thread",
    pool => "pool",
    fork => "fork",
    select => "select",
    poll => "poll",
    epoll => "epoll",
    r#async => "async",
}
