//! TLS under every `--model`: the session wrapper (`netkit_proto::tls`) runs
//! any TCP service over rustls whatever the driver. An HTTPS download large
//! enough to go out as encrypted file ranges (the FileChunk path), keep-alive
//! then `Connection: close`; and the files protocol over TLS (PUT, LIST, GET,
//! SUM, QUIT), both with a certificate made in the test and a client that
//! trusts only it.

use crate::common::{self, local_args, random_bytes, sha, utf8, Server};
use crate::tls_support::{bytes, http_response, line, send, to_end, TestCert};

/// More than the HTTP service sends inline: it goes out as file ranges.
const BIG: usize = 3 * 1024 * 1024 + 17;

fn start(words: &[&str], model: &str, cert: &TestCert) -> Server {
    let mut args: Vec<String> = local_args(words, model)
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(cert.flags());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&args)
}

fn https_get_of_a_large_file(model: &str) {
    let dir = tempfile::tempdir().unwrap();
    let body = random_bytes(7, BIG);
    std::fs::write(dir.path().join("big.bin"), &body).unwrap();
    std::fs::write(dir.path().join("small.txt"), "small").unwrap();
    let cert = TestCert::new();
    let server = start(&["http", "serve", utf8(dir.path())], model, &cert);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    let mut conn = cert.connect(server.addr());
    send(
        &mut conn,
        b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    let (head, got) = http_response(&mut conn);
    assert_eq!(head[0], "HTTP/1.1 200 OK", "{head:?}");
    assert_eq!(sha(&got), sha(&body), "the whole file, in order");
    send(
        &mut conn,
        b"GET /small.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let (head, got) = http_response(&mut conn);
    assert_eq!(head[0], "HTTP/1.1 200 OK", "{head:?}");
    assert_eq!(got, b"small");
    let rest = to_end(&mut conn).expect("closed with close_notify");
    assert!(rest.is_empty());
    assert_eq!(server.terminate(), Some(0));
}

fn files_protocol_over_tls(model: &str) {
    let dir = tempfile::tempdir().unwrap();
    let body = random_bytes(9, BIG);
    std::fs::write(dir.path().join("big.bin"), &body).unwrap();
    let cert = TestCert::new();
    let server = start(
        &["files", "serve", utf8(dir.path()), "--upload"],
        model,
        &cert,
    );
    assert!(server.url.starts_with("tls://127.0.0.1:"), "{}", server.url);

    let mut conn = cert.connect(server.addr());
    let upload = random_bytes(3, 200_000);
    send(
        &mut conn,
        format!("PUT up.bin {}\n", upload.len()).as_bytes(),
    );
    assert_eq!(line(&mut conn), "READY");
    send(&mut conn, &upload);
    assert_eq!(line(&mut conn), format!("OK {}", sha(&upload)));
    send(&mut conn, b"LIST\n");
    assert_eq!(line(&mut conn), "OK 2");
    assert!(line(&mut conn).ends_with(" big.bin"));
    assert!(line(&mut conn).ends_with(" up.bin"));
    send(&mut conn, b"GET big.bin\n");
    assert_eq!(line(&mut conn), format!("OK {BIG}"));
    assert_eq!(sha(&bytes(&mut conn, BIG)), sha(&body));
    send(&mut conn, b"SUM up.bin\nQUIT\n");
    assert_eq!(line(&mut conn), format!("OK {}", sha(&upload)));
    assert_eq!(line(&mut conn), "BYE");
    assert!(to_end(&mut conn).expect("close_notify").is_empty());
    assert_eq!(std::fs::read(dir.path().join("up.bin")).unwrap(), upload);
    assert_eq!(server.terminate(), Some(0));
}

common::every_model! {
    https_get_of_a_large_file,
    files_protocol_over_tls,
}
