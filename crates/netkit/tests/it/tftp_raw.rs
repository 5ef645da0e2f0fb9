//! `netkit tftp serve` spoken to packet by packet from a raw UDP socket: how
//! a transfer behaves when the client does what no well-behaved client does.
//! Duplicate ACKs (Sorcerer's Apprentice), strangers on a transfer's port, a
//! client that goes silent (retries, then dropped, no descriptor or thread
//! left), a client's ERROR, duplicate DATA and lingering after the last ACK,
//! abandoned uploads, windows and go-back, netascii on the wire, and a
//! graceful shutdown mid-transfer. Request handling is in `tftp_requests.rs`.
//!
//! Waiting is always a `recv` with a bounded timeout: a test waits for the
//! packet that must come, and only the "nothing must come" checks wait out a
//! short, fixed silence.

use crate::common;
use crate::tftp_support;

use common::{signal, wait_bounded};
use std::time::{Duration, Instant};
use tftp_support::*;

/// Open descriptors and threads of a process.
fn open_fds(pid: u32) -> (usize, usize) {
    let count = |what: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{what}"))
            .unwrap()
            .count()
    };
    (count("fd"), count("task"))
}

#[test]
fn duplicate_ack_causes_no_resend() {
    // A long timeout: any DATA before our next ACK would be caused by the duplicate.
    let s = setup(&["--timeout", "30"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("three", &[]));
    assert_eq!(c.recv(), P::Data(1, vec![7; 512]));
    c.send(&ack(1));
    assert_eq!(c.recv(), P::Data(2, vec![7; 512]));
    c.send(&ack(1));
    c.send(&ack(1));
    c.send(&ack(2));
    // Were DATA 2 resent for a duplicate ACK 1, it would arrive before DATA 3.
    assert_eq!(c.recv(), P::Data(3, vec![7; 100]));
    c.send(&ack(3));
    c.expect_silence();
}

#[test]
fn foreign_tid_gets_error_5_and_the_transfer_goes_on() {
    let s = setup(&["--timeout", "30"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("three", &[]));
    assert_eq!(c.recv(), P::Data(1, vec![7; 512]));
    let mut stranger = Peer::new(s.server.addr());
    stranger.tid = c.tid;
    stranger.send(&ack(1));
    assert_eq!(stranger.recv(), P::Error(5));
    // The stranger's ACK moved nothing: our own ACK 1 brings DATA 2.
    c.send(&ack(1));
    assert_eq!(c.recv(), P::Data(2, vec![7; 512]));
    c.send(&ack(2));
    assert_eq!(c.recv(), P::Data(3, vec![7; 100]));
    c.send(&ack(3));
}

#[test]
fn silent_client_is_retried_then_dropped_without_leaks() {
    let s = setup(&QUICK);
    let pid = s.server.child.id();
    let baseline = open_fds(pid);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("three", &[]));
    // The first send and --retries 2 resends, then an ERROR, then nothing.
    for _ in 0..3 {
        assert_eq!(c.recv(), P::Data(1, vec![7; 512]));
    }
    assert_eq!(c.recv(), P::Error(0));
    c.expect_silence();
    // The transfer's socket and thread are gone (polled with a bound: the
    // thread exits just after its last send).
    let start = Instant::now();
    while open_fds(pid) != baseline {
        assert!(
            start.elapsed() < MUST_ARRIVE,
            "fds, threads {:?} != {baseline:?}",
            open_fds(pid)
        );
        std::thread::yield_now();
    }
    // And the server still serves.
    let mut d = Peer::new(s.server.addr());
    d.request(&rrq("empty", &[]));
    assert_eq!(d.recv(), P::Data(1, vec![]));
    d.send(&ack(1));
}

#[test]
fn client_error_ends_the_transfer_unanswered() {
    let s = setup(&QUICK);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("three", &[]));
    assert_eq!(c.recv(), P::Data(1, vec![7; 512]));
    c.send(&error(0));
    // With a 0.1 s timeout a live transfer would resend DATA 1 within the silence.
    c.expect_silence();
    // An ERROR to the listening port is not answered either.
    c.request(&error(0));
    c.expect_silence();
}

#[test]
fn upload_appears_complete_duplicates_written_once_and_last_ack_repeated() {
    let s = setup(&["--upload", "--timeout", "5"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&wrq("up", &[]));
    assert_eq!(c.recv(), P::Ack(0));
    c.send(&data(1, &[1; 512]));
    assert_eq!(c.recv(), P::Ack(1));
    c.send(&data(1, &[1; 512]));
    assert_eq!(c.recv(), P::Ack(1), "a duplicate DATA is re-ACKed");
    assert!(
        !s.root.join("up").exists(),
        "not visible before the last block"
    );
    c.send(&data(2, &[2; 10]));
    assert_eq!(c.recv(), P::Ack(2));
    let mut want = vec![1u8; 512];
    want.extend_from_slice(&[2; 10]);
    assert_eq!(
        std::fs::read(s.root.join("up")).unwrap(),
        want,
        "written once"
    );
    // Our final ACK "was lost": the repeated last block is ACKed again.
    c.send(&data(2, &[2; 10]));
    assert_eq!(c.recv(), P::Ack(2));
    let tmp: Vec<_> = std::fs::read_dir(&s.root)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".netkit-upload-")
        })
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

#[test]
fn abandoned_upload_leaves_nothing() {
    let s = setup(&["--upload"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&wrq("half", &[]));
    assert_eq!(c.recv(), P::Ack(0));
    c.send(&data(1, &[1; 512]));
    assert_eq!(c.recv(), P::Ack(1));
    c.send(&error(0));
    // Another transfer, completed, proves the server went on past the ERROR.
    let mut d = Peer::new(s.server.addr());
    d.request(&rrq("empty", &[]));
    assert_eq!(d.recv(), P::Data(1, vec![]));
    let start = Instant::now();
    loop {
        let names: Vec<String> = std::fs::read_dir(&s.root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !names
            .iter()
            .any(|n| n == "half" || n.starts_with(".netkit-upload-"))
        {
            break;
        }
        assert!(start.elapsed() < MUST_ARRIVE, "left behind: {names:?}");
        std::thread::yield_now();
    }
}

#[test]
fn window_goes_back_to_the_last_acked_block() {
    let s = setup(&["--timeout", "30"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("ten", &[("windowsize", "4")]));
    assert_eq!(c.recv(), P::Oack(opts(&[("windowsize", "4")])));
    c.send(&ack(0));
    for n in 1..=4 {
        assert_eq!(c.recv(), P::Data(n, vec![1; 512]));
    }
    // "Block 3 was lost": ACK 2 sends the window again from 3.
    c.send(&ack(2));
    for n in 3..=6 {
        assert_eq!(c.recv(), P::Data(n, vec![1; 512]));
    }
    c.send(&ack(6));
    for n in 7..=10 {
        assert_eq!(c.recv(), P::Data(n, vec![1; 512]));
    }
    c.send(&ack(10));
    assert_eq!(
        c.recv(),
        P::Data(11, vec![]),
        "10 full blocks end with an empty one"
    );
    c.send(&ack(11));
    c.expect_silence();
}

#[test]
fn netascii_on_the_wire() {
    let s = setup(&["--upload"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&request(1, b"text", "NetASCII", &[]));
    assert_eq!(c.recv(), P::Data(1, b"a\r\nb\r\0c".to_vec()));
    c.send(&ack(1));
    let mut c = Peer::new(s.server.addr());
    c.request(&request(2, b"text-up", "netascii", &[("blksize", "8")]));
    assert_eq!(c.recv(), P::Oack(opts(&[("blksize", "8")])));
    // The CR of "\r\n" ends block 1; its LF starts block 2.
    c.send(&data(1, b"line on\r"));
    assert_eq!(c.recv(), P::Ack(1));
    c.send(&data(2, b"\nx\r\0y"));
    assert_eq!(c.recv(), P::Ack(2));
    assert_eq!(
        std::fs::read(s.root.join("text-up")).unwrap(),
        b"line on\nx\ry"
    );
}

#[test]
fn shutdown_lets_a_transfer_finish_then_exits_0() {
    let s = setup(&["--timeout", "30"]);
    let mut c = Peer::new(s.server.addr());
    c.request(&rrq("three", &[]));
    assert_eq!(c.recv(), P::Data(1, vec![7; 512]));
    signal(&s.server.child, "TERM");
    c.send(&ack(1));
    assert_eq!(c.recv(), P::Data(2, vec![7; 512]));
    c.send(&ack(2));
    assert_eq!(c.recv(), P::Data(3, vec![7; 100]));
    c.send(&ack(3));
    let mut server = s.server;
    assert_eq!(
        wait_bounded(&mut server.child, Duration::from_secs(20)),
        Some(0)
    );
}
