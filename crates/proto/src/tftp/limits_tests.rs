//! What one address can cost the server, with a fake clock: transfers per
//! address, the first-contact deadline, and reads bounded by the file's
//! stated size.

use super::server::{file_source, ServerConfig, ServerTransfer, TftpServer, FIRST_CONTACT};
use super::transfer::{Config, Failure, Sender, Status};
use super::wire::{self, Direction, Mode, Packet};
use super::{TransferService, TransferSession};
use crate::root::Root;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn served(cfg: ServerConfig) -> (tempfile::TempDir, TftpServer) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), vec![7u8; 2000]).unwrap();
    let server = TftpServer::new(Arc::new(Root::open(dir.path()).unwrap()), cfg);
    (dir, server)
}

fn rrq(options: &[(&str, &str)]) -> Vec<u8> {
    let mut p = Vec::new();
    let pairs: Vec<(String, String)> = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    wire::emit_request(&mut p, Direction::Read, "f", Mode::Octet, &pairs);
    p
}

fn from(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().unwrap()
}

fn sent(s: &mut ServerTransfer) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| s.poll_transmit().map(|(_, p)| p.to_vec())).collect()
}

fn is_error(p: &[u8]) -> bool {
    matches!(wire::parse(p), Ok(Packet::Error { .. }))
}

#[test]
fn one_address_gets_at_most_its_share_of_transfers() {
    let cfg = ServerConfig {
        max_per_client: 3,
        ..ServerConfig::default()
    };
    let (_dir, server) = served(cfg);
    let t0 = Instant::now();
    let mut running: Vec<ServerTransfer> = (1..=3)
        .map(|port| {
            let s = server.handle_request(t0, from("10.0.0.1", port), &rrq(&[]));
            s.expect("a transfer")
        })
        .collect();
    assert!(running.iter().all(|s| s.transfer().is_some()));
    // The fourth, from another port of the same host, is refused with one ERROR.
    let mut refused = server
        .handle_request(t0, from("10.0.0.1", 4), &rrq(&[]))
        .expect("an answer");
    assert!(refused.transfer().is_none());
    let out = sent(&mut refused);
    assert_eq!(out.len(), 1);
    assert!(is_error(&out[0]), "{out:?}");
    assert!(refused.is_done());
    // Another address is served.
    let other = server.handle_request(t0, from("10.0.0.2", 1), &rrq(&[]));
    assert!(other.and_then(|s| s.transfer().map(|_| ())).is_some());
    // A transfer that ends gives its slot back.
    running.pop();
    let again = server.handle_request(t0, from("10.0.0.1", 5), &rrq(&[]));
    assert!(again.and_then(|s| s.transfer().map(|_| ())).is_some());
}

#[test]
fn an_upload_that_lingers_after_its_last_block_holds_no_slot() {
    let cfg = ServerConfig {
        upload: true,
        max_per_client: 1,
        ..ServerConfig::default()
    };
    let (_dir, server) = served(cfg);
    let t0 = Instant::now();
    let mut wrq = Vec::new();
    wire::emit_request(&mut wrq, Direction::Write, "up", Mode::Octet, &[]);
    let mut up = server
        .handle_request(t0, from("10.0.0.1", 1), &wrq)
        .expect("an answer");
    assert_eq!(sent(&mut up), [vec![0, 4, 0, 0]], "ACK 0");
    // While it runs, the address has no slot left.
    let busy = server.handle_request(t0, from("10.0.0.1", 2), &rrq(&[]));
    assert!(busy.is_some_and(|s| s.transfer().is_none()));
    // The last (short) block: acknowledged, and the upload lingers for a
    // repeat of it, done but not yet dropped.
    up.handle_datagram(t0, from("10.0.0.1", 1), &[0, 3, 0, 1, b'h', b'i']);
    assert_eq!(sent(&mut up), [vec![0, 4, 0, 1]], "ACK 1");
    assert!(up.poll_timeout().is_some(), "lingering");
    // The address may start its next transfer meanwhile.
    let next = server.handle_request(t0, from("10.0.0.1", 3), &rrq(&[]));
    assert!(next.is_some_and(|s| s.transfer().is_some()));
}

#[test]
fn the_default_cap_is_32_per_address() {
    let (_dir, server) = served(ServerConfig::default());
    let t0 = Instant::now();
    let held: Vec<_> = (1..=32)
        .filter_map(|port| server.handle_request(t0, from("10.0.0.1", port), &rrq(&[])))
        .filter(|s| s.transfer().is_some())
        .collect();
    assert_eq!(held.len(), 32);
    let s = server.handle_request(t0, from("10.0.0.1", 99), &rrq(&[]));
    assert!(s.is_some_and(|s| s.transfer().is_none()));
}

/// Runs the session's timeouts from `t0` until it is done (or `limit`):
/// when it finished and what it sent meanwhile.
fn run_silent(s: &mut ServerTransfer, t0: Instant, limit: Duration) -> (Duration, usize) {
    let mut packets = sent(s).len();
    let mut now = t0;
    for _ in 0..1000 {
        if s.is_done() {
            return (now - t0, packets);
        }
        now = s.poll_timeout().expect("a deadline while running");
        assert!(now - t0 <= limit, "still running at {:?}", now - t0);
        s.handle_timeout(now);
        packets += sent(s).len();
    }
    panic!("no end");
}

#[test]
fn a_request_never_answered_is_dropped_after_the_first_contact_deadline() {
    let (_dir, server) = served(ServerConfig::default());
    let t0 = Instant::now();
    // With options (OACK first), without (DATA 1 first), and with a long
    // timeout asked for: each is gone at the deadline, without an ERROR.
    for options in [
        &[("blksize", "1024")][..],
        &[],
        &[("timeout", "30"), ("blksize", "65464")],
    ] {
        let mut s = server
            .handle_request(t0, from("10.0.0.1", 1), &rrq(options))
            .expect("a transfer");
        let (ended, packets) = run_silent(&mut s, t0, FIRST_CONTACT);
        assert_eq!(ended, FIRST_CONTACT, "{options:?}");
        assert!(packets <= 3, "{packets} packets for {options:?}");
        assert!(matches!(
            s.transfer().map(|t| t.status()),
            Some(Status::Failed(Failure::TimedOut))
        ));
    }
}

#[test]
fn an_upload_never_started_is_dropped_after_the_first_contact_deadline() {
    let cfg = ServerConfig {
        upload: true,
        ..ServerConfig::default()
    };
    let (_dir, server) = served(cfg);
    let t0 = Instant::now();
    let mut wrq = Vec::new();
    wire::emit_request(&mut wrq, Direction::Write, "new", Mode::Octet, &[]);
    let mut s = server
        .handle_request(t0, from("10.0.0.1", 1), &wrq)
        .expect("a transfer");
    let (ended, _) = run_silent(&mut s, t0, FIRST_CONTACT);
    assert_eq!(ended, FIRST_CONTACT);
}

#[test]
fn a_peer_that_answered_gets_the_whole_retry_schedule() {
    let (_dir, server) = served(ServerConfig::default());
    let t0 = Instant::now();
    let peer = from("10.0.0.1", 1);
    let mut s = server
        .handle_request(t0, peer, &rrq(&[("blksize", "512")]))
        .expect("a transfer");
    sent(&mut s);
    let t1 = t0 + Duration::from_millis(100);
    s.handle_datagram(t1, peer, &wire::ack(0));
    let (ended, _) = run_silent(&mut s, t1, Duration::from_secs(60));
    assert!(ended > FIRST_CONTACT, "ended after {ended:?}");
    // This time the peer is told.
    assert!(matches!(
        s.transfer().map(|t| t.status()),
        Some(Status::Failed(Failure::TimedOut))
    ));
}

#[test]
fn a_file_sends_exactly_its_stated_size() {
    // A procfs-like file: its metadata says 0 (or 100), yet it reads more.
    for (stated, blksize, mode) in [
        (0u64, 512, Mode::Octet),
        (100, 512, Mode::Octet),
        (100, 16384, Mode::Octet),
        (0, 512, Mode::Netascii),
    ] {
        let reads = std::io::Cursor::new(vec![b'x'; 5000]);
        let t0 = Instant::now();
        let cfg = Config {
            blksize,
            ..Config::default()
        };
        let source = file_source(reads, stated, mode, blksize);
        let mut s = Sender::new(cfg, source, t0, None);
        let mut payload = Vec::new();
        for _ in 0..20 {
            let Some(p) = s.poll_transmit().map(<[u8]>::to_vec) else {
                break;
            };
            let Ok(Packet::Data { block, data }) = wire::parse(&p) else {
                panic!("not DATA: {p:?}");
            };
            payload.extend_from_slice(data);
            s.handle_packet(t0, &wire::ack(block));
            if s.status() == &Status::Complete {
                break;
            }
        }
        assert_eq!(s.status(), &Status::Complete);
        assert_eq!(payload.len() as u64, stated, "{mode:?} at {blksize}");
    }
}
