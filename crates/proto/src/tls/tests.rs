//! The TLS wrapper without a socket: a rustls client in the test talks to a
//! [`TlsSession`] through the [`Harness`], with the fake clock.

use super::*;
use crate::echo::EchoService;
use crate::http::{AnchoredClock, HttpConfig, HttpContext, HttpService};
use crate::root::Root;
use crate::testing::Harness;
use crate::Session;
use rustls::pki_types::ServerName;
use rustls::ClientConnection;
use std::io::{Read, Write};
use std::time::UNIX_EPOCH;

/// A certificate for `localhost` and a client configuration that trusts it
/// (at one protocol version, or both).
struct Certs {
    server: Arc<rustls::ServerConfig>,
    root: CertificateDer<'static>,
}

fn certs() -> Certs {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let root = made.cert.der().clone();
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der()).unwrap();
    let server = server_config(vec![root.clone()], key, true).unwrap();
    Certs {
        server: Arc::new(server),
        root,
    }
}

impl Certs {
    fn client(&self, version: &'static rustls::SupportedProtocolVersion) -> ClientConnection {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.root.clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").unwrap();
        ClientConnection::new(Arc::new(config), name).unwrap()
    }
}

/// A rustls client and the server session under test, joined in memory.
struct Pair<S: Session> {
    client: ClientConnection,
    server: Harness<S>,
    /// Plaintext the client received.
    received: Vec<u8>,
}

impl<S: Session> Pair<S> {
    fn new(client: ClientConnection, session: S, now: Instant) -> Self {
        let mut server = Harness::new(session, now);
        // Call order step 1: drain the session before anything is read.
        assert!(server.drain().is_empty(), "nothing before the ClientHello");
        Pair {
            client,
            server,
            received: Vec::new(),
        }
    }

    /// Hands the client's reply bytes from the server; false when the
    /// client rejected them.
    fn deliver(&mut self, mut bytes: &[u8]) -> bool {
        // Bounded: each read takes bytes, and there are finitely many.
        while !bytes.is_empty() {
            match self.client.read_tls(&mut bytes) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => return false,
            }
            if self.client.process_new_packets().is_err() {
                return false;
            }
            let mut plain = Vec::new();
            let _ = self.client.reader().read_to_end(&mut plain);
            self.received.extend(plain);
        }
        true
    }

    /// Moves bytes both ways until neither side has anything to say.
    fn drive(&mut self) {
        for _ in 0..1000 {
            let mut wire = Vec::new();
            while self.client.wants_write() {
                self.client.write_tls(&mut wire).unwrap();
            }
            let reply = self.server.send(&wire);
            assert!(self.deliver(&reply), "client rejected the server's bytes");
            if wire.is_empty() && reply.is_empty() {
                return;
            }
        }
        panic!("the pair never went quiet");
    }

    fn send(&mut self, plain: &[u8]) {
        self.client.writer().write_all(plain).unwrap();
        self.drive();
    }
}

fn echo_pair(
    version: &'static rustls::SupportedProtocolVersion,
) -> Pair<TlsSession<crate::echo::EchoSession>> {
    let certs = certs();
    let now = Instant::now();
    let service = TlsService::new(certs.server.clone(), Arc::new(EchoService::new(None)));
    Pair::new(certs.client(version), service.new_session(None, now), now)
}

#[test]
fn echo_runs_over_tls_1_3_and_1_2() {
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let mut pair = echo_pair(version);
        pair.drive();
        assert!(
            !pair.client.is_handshaking(),
            "{version:?} handshake finished"
        );
        assert_eq!(pair.client.protocol_version(), Some(version.version));
        pair.send(b"hello over tls\n");
        assert_eq!(pair.received, b"hello over tls\n");
        assert!(!pair.server.session.is_done());
    }
}

#[test]
fn close_notify_from_the_client_is_answered_and_the_session_ends() {
    let mut pair = echo_pair(&rustls::version::TLS13);
    pair.drive();
    pair.send(b"last words");
    pair.client.send_close_notify();
    pair.drive();
    assert_eq!(pair.received, b"last words");
    assert!(pair.server.session.is_done(), "done after close_notify");
    let mut rest = Vec::new();
    assert_eq!(
        pair.client.reader().read_to_end(&mut rest).unwrap(),
        0,
        "clean close seen"
    );
}

#[test]
fn eof_without_close_notify_after_the_handshake_reaches_the_inner_session() {
    let mut pair = echo_pair(&rustls::version::TLS13);
    pair.drive();
    pair.client.writer().write_all(b"cut short").unwrap();
    let mut wire = Vec::new();
    while pair.client.wants_write() {
        pair.client.write_tls(&mut wire).unwrap();
    }
    let reply = pair.server.send(&wire);
    let reply = [reply, pair.server.eof()].concat();
    assert!(pair.deliver(&reply));
    assert_eq!(pair.received, b"cut short", "echoed before the end");
    assert!(
        pair.server.session.is_done(),
        "the echo ends at EOF, close_notify sent"
    );
}

#[test]
fn a_garbage_client_hello_gets_an_alert_and_the_connection_ends() {
    let certs = certs();
    let now = Instant::now();
    let service = TlsService::new(certs.server.clone(), Arc::new(EchoService::new(None)));
    // (bytes, whether rustls answers with an alert before closing)
    let cases: [(&[u8], bool); 4] = [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true),
        // A ClientHello record holding an empty ClientHello.
        (&[0x16, 0x03, 0x01, 0x00, 0x04, 1, 0, 0, 0], true),
        (&[0xff; 300], true),
        // A ClientHello larger than rustls accepts: refused without an alert.
        (&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5], false),
    ];
    for (garbage, alert) in cases {
        let mut h = Harness::new(service.new_session(None, now), now);
        let reply = h.send(garbage);
        assert!(h.session.is_done(), "done after {garbage:?}");
        if alert {
            assert_eq!(
                reply.first(),
                Some(&0x15),
                "an alert after {garbage:?}: {reply:?}"
            );
        } else {
            assert!(reply.is_empty(), "{reply:?}");
        }
    }
}

#[test]
fn eof_in_the_middle_of_the_handshake_ends_the_session() {
    let certs = certs();
    let now = Instant::now();
    let mut client = certs.client(&rustls::version::TLS13);
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    let service = TlsService::new(certs.server.clone(), Arc::new(EchoService::new(None)));
    let mut h = Harness::new(service.new_session(None, now), now);
    assert!(h.send(&hello[..hello.len() / 2]).is_empty(), "half a hello");
    assert!(!h.session.is_done());
    h.eof();
    assert!(h.session.is_done());
}

#[test]
fn a_client_that_never_finishes_the_handshake_meets_the_deadline() {
    let certs = certs();
    let now = Instant::now();
    let service = TlsService::new(certs.server.clone(), Arc::new(EchoService::new(None)))
        .with_handshake_timeout(Duration::from_secs(10));
    let mut h = Harness::new(service.new_session(None, now), now);
    assert_eq!(
        h.session.poll_timeout(),
        Some(now + Duration::from_secs(10))
    );
    h.advance(Duration::from_secs(9));
    assert!(!h.session.is_done(), "still within the deadline");
    h.advance(Duration::from_secs(1));
    assert!(h.session.is_done(), "closed at the deadline");
}

#[test]
fn shutdown_during_the_handshake_ends_the_session() {
    let certs = certs();
    let now = Instant::now();
    let service = TlsService::new(certs.server.clone(), Arc::new(EchoService::new(None)));
    let mut h = Harness::new(service.new_session(None, now), now);
    h.session.handle_shutdown(now);
    assert!(h.drain().is_empty());
    assert!(h.session.is_done());
}

#[test]
fn the_inner_idle_timeout_still_closes_an_established_connection() {
    let certs = certs();
    let now = Instant::now();
    let echo = EchoService::new(Some(Duration::from_secs(30)));
    let service = TlsService::new(certs.server.clone(), Arc::new(echo));
    let mut pair = Pair::new(
        certs.client(&rustls::version::TLS13),
        service.new_session(None, now),
        now,
    );
    pair.drive();
    assert_eq!(
        pair.server.session.poll_timeout(),
        Some(now + Duration::from_secs(30))
    );
    let bye = pair.server.advance(Duration::from_secs(30));
    assert!(pair.deliver(&bye));
    assert!(pair.server.session.is_done(), "idle connection closed");
}

/// An HTTP service over a folder with a small file and one large enough to
/// go out as several [`FileChunk`]s.
fn http_pair(dir: &tempfile::TempDir) -> Pair<TlsSession<crate::http::HttpSession>> {
    let certs = certs();
    let now = Instant::now();
    let clock = AnchoredClock {
        instant: now,
        wall: UNIX_EPOCH,
    };
    let config = HttpConfig {
        model: "test".into(),
        ..HttpConfig::default()
    };
    let http = HttpService::new(
        Root::open(dir.path()).unwrap(),
        config,
        HttpContext::new(now, Arc::new(clock)),
    );
    let service = TlsService::new(certs.server.clone(), Arc::new(http));
    Pair::new(
        certs.client(&rustls::version::TLS13),
        service.new_session(None, now),
        now,
    )
}

fn big_file() -> Vec<u8> {
    (0..1_000_003u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn http_serves_a_file_chunk_body_through_tls() {
    let dir = tempfile::tempdir().unwrap();
    let body = big_file();
    std::fs::write(dir.path().join("big.bin"), &body).unwrap();
    let mut pair = http_pair(&dir);
    pair.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    let head_end = pair
        .received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap()
        + 4;
    let head = String::from_utf8_lossy(&pair.received[..head_end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Content-Length: 1000003"), "{head}");
    assert!(
        pair.received[head_end..] == body[..],
        "the body arrives whole and in order"
    );
    assert!(!pair.server.session.is_done(), "keep-alive");
}

#[test]
fn pipelined_requests_are_all_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.bin"), big_file()).unwrap();
    std::fs::write(dir.path().join("a.txt"), "hello").unwrap();
    let mut pair = http_pair(&dir);
    pair.send(
        b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&pair.received).into_owned();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3);
    assert_eq!(
        text.matches("\r\n\r\nhello").count(),
        2,
        "both small replies whole"
    );
    assert!(
        pair.received.ends_with(b"\r\n\r\nhello"),
        "the last reply is last"
    );
    assert!(pair.server.session.is_done(), "Connection: close ends it");
    let mut rest = Vec::new();
    assert_eq!(
        pair.client.reader().read_to_end(&mut rest).unwrap(),
        0,
        "close_notify sent"
    );
}

#[test]
fn a_file_that_shrinks_mid_reply_ends_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    std::fs::write(&path, big_file()).unwrap();
    let mut pair = http_pair(&dir);
    pair.drive();
    pair.client
        .writer()
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut wire = Vec::new();
    while pair.client.wants_write() {
        pair.client.write_tls(&mut wire).unwrap();
    }
    // Take the reply one driver call at a time, and cut the file in between.
    let now = pair.server.now;
    let used = pair.server.session.handle_input(now, &wire);
    assert_eq!(used, wire.len());
    let mut out = Vec::new();
    assert!(pair.server.session.poll_transmit(&mut out).is_none());
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(10)
        .unwrap();
    for _ in 0..100 {
        if pair.server.session.poll_transmit(&mut out).is_none() && pair.server.session.is_done() {
            break;
        }
    }
    assert!(
        pair.server.session.is_done(),
        "a reply that cannot be finished ends the connection"
    );
    assert!(pair.deliver(&out));
    assert!(
        pair.received.len() < 1_000_003,
        "short body: the client sees the truncation"
    );
}

#[test]
fn a_large_file_goes_out_in_bounded_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let body = big_file();
    std::fs::write(dir.path().join("big.bin"), &body).unwrap();
    let mut pair = http_pair(&dir);
    pair.drive();
    pair.client
        .writer()
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut wire = Vec::new();
    while pair.client.wants_write() {
        pair.client.write_tls(&mut wire).unwrap();
    }
    let now = pair.server.now;
    assert_eq!(pair.server.session.handle_input(now, &wire), wire.len());
    // What one poll_transmit may add: the budget, overshot by one file piece
    // at most (plus its record headers and tags).
    let bound = super::session::TRANSMIT_BUDGET + FILE_PIECE + 1024;
    let mut calls = 0;
    for _ in 0..1000 {
        let mut out = Vec::new();
        assert!(
            pair.server.session.poll_transmit(&mut out).is_none(),
            "never a FileChunk"
        );
        if out.is_empty() {
            break;
        }
        assert!(out.len() <= bound, "{} bytes in one call", out.len());
        assert!(pair.deliver(&out));
        calls += 1;
    }
    assert!(
        calls > 5,
        "the megabyte went out over several calls ({calls})"
    );
    assert!(pair.received.ends_with(&body), "and arrived whole");
}
