//! TFTP under access rules: only what anyone without an account may read or
//! write is served, and an address that failed too many logins elsewhere is
//! refused.

use super::server::{ServerConfig, ServerTransfer, TftpServer};
use super::wire::{self, Direction, ErrorCode, Mode, Packet};
use super::{TransferService, TransferSession};
use crate::access::{Access, Guessing};
use crate::root::Root;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn served(guessing: Guessing) -> (tempfile::TempDir, TftpServer) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pub")).unwrap();
    std::fs::create_dir(dir.path().join("inbox")).unwrap();
    std::fs::write(dir.path().join("pub/p"), b"public").unwrap();
    std::fs::write(dir.path().join("secret"), b"secret").unwrap();
    let access = Access::parse(["@/pub,/inbox:rw", "alice:a@/:rw"]).unwrap();
    let cfg = ServerConfig {
        upload: true,
        ..ServerConfig::default()
    };
    let server = TftpServer::new(Arc::new(Root::open(dir.path()).unwrap()), cfg)
        .with_access(Arc::new(access), guessing);
    (dir, server)
}

fn request(direction: Direction, name: &str) -> Vec<u8> {
    let mut p = Vec::new();
    wire::emit_request(&mut p, direction, name, Mode::Octet, &[]);
    p
}

const PEER: &str = "192.0.2.4:3000";

/// The error code of a refused request, or `None` when a transfer started.
fn answer(server: &TftpServer, now: Instant, direction: Direction, name: &str) -> Option<u16> {
    let peer: SocketAddr = PEER.parse().unwrap();
    let mut s: ServerTransfer = server
        .handle_request(now, peer, &request(direction, name))
        .expect("an answer");
    if s.transfer().is_some() {
        return None;
    }
    let (_, packet) = s.poll_transmit().expect("one ERROR");
    match wire::parse(packet) {
        Ok(Packet::Error { code, .. }) => Some(code),
        other => panic!("not an ERROR: {other:?}"),
    }
}

#[test]
fn only_anonymous_rules_are_served() {
    let (_dir, server) = served(Guessing::new());
    let now = Instant::now();
    let not_found = Some(ErrorCode::FileNotFound as u16);
    let violation = Some(ErrorCode::AccessViolation as u16);
    #[rustfmt::skip]
    let table: &[(Direction, &str, Option<u16>)] = &[
        (Direction::Read, "pub/p", None),
        (Direction::Read, "secret", not_found),   // alice may, but TFTP has no login
        (Direction::Read, "inbox/none", not_found), // granted, missing
        (Direction::Write, "inbox/new", None),
        (Direction::Write, "pub/new", violation),
        (Direction::Write, "new", violation),
    ];
    for &(direction, name, want) in table {
        assert_eq!(
            answer(&server, now, direction, name),
            want,
            "{direction:?} {name}"
        );
    }
}

#[test]
fn an_address_that_guessed_passwords_is_refused_until_its_minute_ends() {
    let guessing = Guessing::new();
    let (_dir, server) = served(guessing.clone());
    let t0 = Instant::now();
    let peer: SocketAddr = PEER.parse().unwrap();
    for _ in 0..10 {
        guessing.failed(t0, peer.ip());
    }
    assert_eq!(
        answer(&server, t0, Direction::Read, "pub/p"),
        Some(ErrorCode::NotDefined as u16)
    );
    let later = t0 + Duration::from_secs(60);
    assert_eq!(answer(&server, later, Direction::Read, "pub/p"), None);
}
