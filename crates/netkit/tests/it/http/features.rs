//! Conformance scenarios run under every model by `http_conformance.rs`:
//! uploads (PUT, chunked, 100-continue, limits, DELETE, overwrite), stats,
//! CORS and precompressed siblings, timeouts, the access log, and what keeps
//! browsers safe (nosniff, the sandbox, local redirects, valid Host).

use super::{
    connect, exchange, fixture, get, h11, parse_all, read_to_close, start, status_of, text,
};
use std::io::{Read, Write};
use std::process::Command;

pub fn uploads(model: &str) {
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
    // Without --overwrite a share only grows: a DELETE would clear the way
    // for a PUT over the file.
    let req = b"DELETE /new.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_eq!(status_of(&exchange(addr, req)), 403, "{model}");
    assert_eq!(put("/new.txt", "Content-Length: 3\r\n", "abc").status, 409);
    assert_eq!(std::fs::read(dir.path().join("new.txt")).unwrap(), b"hello");
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
    let req = b"DELETE /new.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_eq!(status_of(&exchange(server.addr(), req)), 204, "{model}");
    assert!(!dir.path().join("new.txt").exists());
    assert_eq!(status_of(&exchange(server.addr(), req)), 404);
    assert_eq!(server.terminate(), Some(0));
}

pub fn stats_cors_and_precompressed(model: &str) {
    let dir = fixture();
    // The server's own routes live under /_netkit/: a real api/stats is a file.
    std::fs::create_dir(dir.path().join("api")).unwrap();
    std::fs::write(dir.path().join("api/stats"), "a real file\n").unwrap();
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
        Some("GET, HEAD, OPTIONS, PROPFIND")
    );
    assert_eq!(pre.header("Access-Control-Allow-Headers"), Some("x-a"));

    let gz = get(addr, "/style.css", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(
        (gz.text().as_str(), gz.header("Content-Encoding")),
        ("GZIPPED", Some("gzip"))
    );
    assert_eq!(gz.header("Content-Type"), Some("text/css; charset=utf-8"));
    assert_eq!(gz.header("Vary"), Some("Accept-Encoding"));
    let br = get(addr, "/app.js", "Accept-Encoding: gzip, deflate, br\r\n");
    assert_eq!(
        (br.text().as_str(), br.header("Content-Encoding")),
        ("BROTLI", Some("br"))
    );
    let gz_only = get(addr, "/app.js", "Accept-Encoding: gzip\r\n");
    assert_eq!(gz_only.text(), "GZ");
    assert_ne!(
        gz_only.header("ETag"),
        br.header("ETag"),
        "{model}: one tag per encoding"
    );
    assert_eq!(get(addr, "/app.js", "").text(), "plain()");
    let plain = get(addr, "/style.css", "Accept-Encoding: gzip;q=0\r\n");
    assert_eq!(
        (plain.text().as_str(), plain.header("Content-Encoding")),
        ("body{}", None)
    );

    let file = get(addr, "/api/stats", "");
    assert_eq!((file.status, file.text().as_str()), (200, "a real file\n"));
    let stats = get(addr, "/_netkit/stats", "");
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

pub fn timeouts(model: &str) {
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

pub fn access_log(model: &str) {
    let dir = fixture();
    let mut server = super::start_with(model, dir.path(), &[], true);
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

    let mut quiet = super::start_with(model, dir.path(), &["--quiet"], true);
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

/// What keeps a browser safe from the share: every file says nosniff, and
/// is sandboxed (the service serves the web page, whose origin a file must
/// not act as); listings are the web page itself (names escaped, not
/// sandboxed: its script must act as the page); a folder redirect never
/// names another host; a Host that is no host[:port] is a 400; an index.html
/// that is a folder or a FIFO is listed past.
pub fn browser_safety(model: &str) {
    let dir = fixture();
    std::fs::create_dir(dir.path().join("evil.com")).unwrap();
    std::fs::create_dir_all(dir.path().join("d/index.html")).unwrap();
    std::fs::create_dir(dir.path().join("p")).unwrap();
    let fifo = dir.path().join("p/index.html");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    std::fs::write(dir.path().join("p/notes.txt"), "x").unwrap();

    let server = start(model, dir.path(), &[]);
    let addr = server.addr();
    let r = get(addr, "/hello.txt", "");
    assert_eq!(
        r.header("X-Content-Type-Options"),
        Some("nosniff"),
        "{model}"
    );
    let csp = r.header("Content-Security-Policy").unwrap_or_default();
    assert!(csp.starts_with("sandbox "), "{model}: read-only: {csp:?}");
    for target in ["//evil.com", "///evil.com", "http://t//evil.com"] {
        let r = get(addr, target, "");
        assert_eq!(
            (r.status, r.header("Location")),
            (301, Some("/evil.com/")),
            "{model} {target}"
        );
    }
    for host in ["a/b\\c@d", "user@t", "t:port", "[::1"] {
        let req = format!("GET /hello.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        assert_eq!(
            status_of(&exchange(addr, req.as_bytes())),
            400,
            "{model} {host}"
        );
    }
    let req = "GET /hello.txt HTTP/1.1\r\nHost: [::1]:8000\r\nConnection: close\r\n\r\n";
    assert_eq!(status_of(&exchange(addr, req.as_bytes())), 200, "{model}");
    for (path, entry) in [("/d/", "index.html/"), ("/p/", "notes.txt")] {
        let r = get(addr, path, "");
        assert_eq!(r.status, 200, "{model} {path}");
        assert!(r.text().contains(entry), "{model} {path}: {}", r.text());
    }
    assert_eq!(server.terminate(), Some(0));

    let server = start(model, dir.path(), &["--upload"]);
    let page = get(server.addr(), "/empty%20dir/", "");
    assert!(page.text().contains("/_netkit/app.js"), "{model}: the page");
    assert_eq!(page.header("Content-Security-Policy"), None, "{model}");
    for path in ["/hello.txt", "/site/"] {
        let r = get(server.addr(), path, "");
        assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
        let csp = r.header("Content-Security-Policy").unwrap_or_default();
        assert!(csp.starts_with("sandbox "), "{model} {path}: {csp:?}");
        assert!(
            !csp.contains("allow-same-origin"),
            "{model} {path}: {csp:?}"
        );
    }
    assert_eq!(server.terminate(), Some(0));
}
