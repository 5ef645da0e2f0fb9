//! The sharing flags, declared once, mean the same in every command: `up`
//! takes what `http serve` takes (`--max-upload`, `--hidden`, `--cors`), and
//! `--max-upload` bounds TFTP uploads too.

use super::super::common::{self, Server};
use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

/// One HTTP/1.1 exchange; the whole reply as text.
fn http(server: &Server, request: &str) -> String {
    let mut s = common::connect(server.addr(), Duration::from_secs(30));
    s.write_all(request.as_bytes()).expect("request");
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).expect("reply");
    String::from_utf8_lossy(&reply).into_owned()
}

fn up(dir: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        "--no-files",
        "--no-tftp",
        "--no-chat",
        "--no-irc",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    Server::start(&common::up_args(dir, &args))
}

#[test]
fn up_takes_the_flags_http_serve_takes() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(".env"), "SECRET=1").expect("fixture");
    let root = common::utf8(dir.path());
    let put = "PUT /big.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\nConnection: close\r\n\r\n01234567890123456789";
    let get_env = "GET /.env HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let preflight = "OPTIONS /x HTTP/1.1\r\nHost: x\r\nOrigin: http://o\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n";

    let plain = up(root, &["--upload"]);
    assert!(
        http(&plain, get_env).starts_with("HTTP/1.1 404"),
        "dot-files hidden"
    );
    let reply = http(&plain, preflight);
    assert!(!reply.contains("Access-Control-Allow-Origin"), "{reply}");
    drop(plain);

    let flags = ["--upload", "--max-upload", "10", "--hidden", "--cors"];
    let server = up(root, &flags);
    let reply = http(&server, put);
    assert!(reply.starts_with("HTTP/1.1 413"), "--max-upload: {reply}");
    assert!(
        http(&server, get_env).starts_with("HTTP/1.1 200"),
        "--hidden"
    );
    let reply = http(&server, preflight);
    assert!(
        reply.contains("Access-Control-Allow-Origin"),
        "--cors: {reply}"
    );
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn max_upload_bounds_tftp_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = tempfile::tempdir().expect("tempdir");
    let big = local.path().join("big.bin");
    std::fs::write(&big, vec![b'x'; 2000]).expect("fixture");
    let root = common::utf8(dir.path());
    let args = [
        "tftp",
        "serve",
        root,
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--upload",
    ];
    for (limit, kept) in [("1K", false), ("1M", true)] {
        let mut with_limit = args.to_vec();
        with_limit.extend(["--max-upload", limit, "--quiet"]);
        let server = Server::start(&with_limit);
        let port = server.addr().port().to_string();
        // tftp-hpa sends no tsize: the limit is met block by block.
        let name = format!("up-{limit}.bin");
        let out = Command::new("tftp")
            .args(["127.0.0.1", &port, "-m", "octet", "-c", "put"])
            .arg(&big)
            .arg(&name)
            .output()
            .expect("tftp-hpa");
        assert_eq!(server.terminate(), Some(0));
        let stored = dir.path().join(&name);
        assert_eq!(
            stored.exists(),
            kept,
            "--max-upload {limit}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        if kept {
            assert_eq!(std::fs::metadata(&stored).expect("stored").len(), 2000);
        }
    }
}
