//! Transfers driven in memory with a fake clock: timeouts, duplicates, gaps,
//! rollover and whole client ↔ server transfers with packet loss, all instant.

use super::client::{Client, Request};
use super::server::{ServerConfig, TftpServer};
use super::transfer::{Config, Failure, Receiver, Sender, Sink, Status, Transfer};
use super::wire::{self, Direction, Mode, Options, Packet};
use super::{TransferService, TransferSession};
use crate::root::Root;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
struct MemSink(Arc<Mutex<(Vec<u8>, bool)>>);

impl Sink for MemSink {
    fn write_block(&mut self, data: &[u8]) -> io::Result<()> {
        self.0.lock().unwrap().0.extend_from_slice(data);
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        self.0.lock().unwrap().1 = true;
        Ok(())
    }
}

fn data(block: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    wire::emit_data_header(&mut p, block);
    p.extend_from_slice(payload);
    p
}

fn drain(t: &mut Transfer) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| t.poll_transmit().map(<[u8]>::to_vec)).collect()
}

fn blocks(packets: &[Vec<u8>]) -> Vec<u16> {
    packets
        .iter()
        .map(|p| match wire::parse(p) {
            Ok(Packet::Data { block, .. }) | Ok(Packet::Ack { block }) => block,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

fn cfg(blksize: usize, windowsize: u16) -> Config {
    Config {
        blksize,
        windowsize,
        timeout: Duration::from_secs(1),
        adaptive: false,
        retries: 3,
        linger: Duration::from_secs(2),
        first_contact: None,
    }
}

fn sender(bytes: usize, c: Config, now: Instant) -> Transfer {
    let src: Vec<u8> = (0..bytes).map(|i| i as u8).collect();
    Transfer::Send(Sender::new(c, Box::new(io::Cursor::new(src)), now, None))
}

#[test]
fn sender_resends_on_timeout_only() {
    let t0 = Instant::now();
    let mut s = sender(20, cfg(8, 1), t0);
    assert_eq!(blocks(&drain(&mut s)), [1]);
    s.handle_timeout(t0 + Duration::from_millis(999));
    assert!(drain(&mut s).is_empty(), "no resend before the deadline");
    s.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(blocks(&drain(&mut s)), [1], "resent after the timeout");
}

#[test]
fn duplicate_ack_sends_nothing() {
    let t0 = Instant::now();
    let mut s = sender(20, cfg(8, 1), t0);
    drain(&mut s);
    s.handle_packet(t0, &wire::ack(1));
    assert_eq!(blocks(&drain(&mut s)), [2]);
    s.handle_packet(t0, &wire::ack(1));
    assert!(
        drain(&mut s).is_empty(),
        "Sorcerer's Apprentice: a duplicate ACK is ignored"
    );
    s.handle_packet(t0, &wire::ack(2));
    assert_eq!(blocks(&drain(&mut s)), [3]);
    s.handle_packet(t0, &wire::ack(3));
    assert_eq!(s.status(), &Status::Complete);
    assert_eq!(s.bytes(), 20);
}

#[test]
fn window_goes_back_to_the_last_acked_block() {
    let t0 = Instant::now();
    let mut s = sender(8 * 10, cfg(8, 4), t0);
    assert_eq!(blocks(&drain(&mut s)), [1, 2, 3, 4]);
    // The receiver saw a gap after 2.
    s.handle_packet(t0, &wire::ack(2));
    assert_eq!(blocks(&drain(&mut s)), [3, 4, 5, 6]);
    // A later duplicate of that gap ACK changes nothing.
    s.handle_packet(t0, &wire::ack(2));
    assert!(drain(&mut s).is_empty());
    // A timeout resends the whole unacknowledged window.
    s.handle_timeout(t0 + Duration::from_secs(2));
    assert_eq!(blocks(&drain(&mut s)), [3, 4, 5, 6]);
    s.handle_packet(t0, &wire::ack(6));
    assert_eq!(blocks(&drain(&mut s)), [7, 8, 9, 10]);
    s.handle_packet(t0, &wire::ack(10));
    // 80 bytes = 10 full blocks, so an empty 11th ends the file.
    assert_eq!(blocks(&drain(&mut s)), [11]);
    s.handle_packet(t0, &wire::ack(11));
    assert_eq!(s.status(), &Status::Complete);
}

#[test]
fn retries_are_capped_then_the_peer_is_told() {
    let t0 = Instant::now();
    let mut s = sender(20, cfg(8, 1), t0);
    drain(&mut s);
    let mut now;
    for _ in 0..3 {
        now = s.poll_timeout().expect("a deadline");
        s.handle_timeout(now);
        assert_eq!(blocks(&drain(&mut s)), [1]);
    }
    now = s.poll_timeout().expect("a deadline");
    s.handle_timeout(now);
    let out = drain(&mut s);
    assert!(matches!(
        wire::parse(&out[0]),
        Ok(Packet::Error { code: 0, .. })
    ));
    assert_eq!(s.status(), &Status::Failed(Failure::TimedOut));
    assert!(s.is_done() && s.poll_timeout().is_none());
}

#[test]
fn adaptive_timeout_shrinks_and_backs_off() {
    let t0 = Instant::now();
    let mut c = cfg(8, 1);
    c.adaptive = true;
    let mut s = sender(8 * 20, c, t0);
    let mut now = t0;
    for block in 1..=10u16 {
        drain(&mut s);
        now += Duration::from_millis(1);
        s.handle_packet(now, &wire::ack(block));
    }
    let rto = s.poll_timeout().unwrap() - now;
    assert!(rto < Duration::from_millis(100), "rto {rto:?} adapted down");
    s.handle_timeout(now + rto);
    let backed_off = s.poll_timeout().unwrap() - (now + rto);
    assert!(
        backed_off >= rto * 2 - Duration::from_millis(1),
        "{backed_off:?}"
    );
}

#[test]
fn peer_error_ends_the_transfer_unanswered() {
    let t0 = Instant::now();
    let mut s = sender(20, cfg(8, 1), t0);
    drain(&mut s);
    s.handle_packet(t0, &wire::error(wire::ErrorCode::DiskFull, "full"));
    assert!(drain(&mut s).is_empty());
    assert!(matches!(
        s.status(),
        Status::Failed(Failure::Peer { code: 3, .. })
    ));
    assert!(s.is_done());
}

#[test]
fn receiver_writes_duplicates_once_and_lingers() {
    let t0 = Instant::now();
    let sink = MemSink::default();
    let mut r = Transfer::Recv(Receiver::new(
        cfg(4, 1),
        Box::new(sink.clone()),
        t0,
        Some(wire::ack(0)),
    ));
    assert_eq!(blocks(&drain(&mut r)), [0]);
    r.handle_packet(t0, &data(1, b"abcd"));
    assert_eq!(blocks(&drain(&mut r)), [1]);
    r.handle_packet(t0, &data(1, b"abcd"));
    assert_eq!(blocks(&drain(&mut r)), [1], "a duplicate is re-ACKed");
    r.handle_packet(t0, &data(2, b"ef"));
    assert_eq!(blocks(&drain(&mut r)), [2]);
    assert_eq!(r.status(), &Status::Complete);
    assert_eq!(*sink.0.lock().unwrap(), (b"abcdef".to_vec(), true));
    // The final ACK was lost: the sender repeats the last block.
    r.handle_packet(t0 + Duration::from_secs(1), &data(2, b"ef"));
    assert_eq!(blocks(&drain(&mut r)), [2]);
    assert!(!r.is_done(), "still lingering");
    r.handle_timeout(t0 + Duration::from_secs(2));
    assert!(r.is_done());
    assert_eq!(sink.0.lock().unwrap().0, b"abcdef");
}

#[test]
fn receiver_acks_windows_and_gaps_once() {
    let t0 = Instant::now();
    let sink = MemSink::default();
    let mut r = Transfer::Recv(Receiver::new(cfg(4, 4), Box::new(sink.clone()), t0, None));
    for b in 1..=4 {
        r.handle_packet(t0, &data(b, b"xxxx"));
    }
    assert_eq!(blocks(&drain(&mut r)), [4], "one ACK per window");
    r.handle_packet(t0, &data(5, b"xxxx"));
    r.handle_packet(t0, &data(7, b"xxxx"));
    r.handle_packet(t0, &data(8, b"xxxx"));
    assert_eq!(blocks(&drain(&mut r)), [5], "the gap is reported once");
    r.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(blocks(&drain(&mut r)), [5], "and again on timeout");
    assert_eq!(sink.0.lock().unwrap().0.len(), 20);
}

/// Runs a client against a server in memory, dropping every `drop_every`th
/// packet in each direction; returns the client's status.
fn run_pair(server: &TftpServer, mut client: Client, drop_every: usize, t0: Instant) -> Status {
    let caddr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let tid: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let mut now = t0;
    let mut session = None;
    let mut count = 0usize;
    for _ in 0..5_000_000 {
        let mut moved = false;
        while let Some((to, p)) = client.poll_transmit() {
            let p = p.to_vec();
            moved = true;
            count += 1;
            if drop_every > 0 && count.is_multiple_of(drop_every) {
                continue;
            }
            if to.port() == 6969 {
                session = server.handle_request(now, caddr, &p);
            } else if let Some(s) = session.as_mut() {
                TransferSession::handle_datagram(s, now, caddr, &p);
            }
        }
        if let Some(s) = session.as_mut() {
            while let Some((_, p)) = s.poll_transmit() {
                let p = p.to_vec();
                moved = true;
                count += 1;
                if drop_every > 0 && count.is_multiple_of(drop_every) {
                    continue;
                }
                client.handle_datagram(now, tid, &p);
            }
        }
        if client.is_done() && session.as_ref().is_none_or(|s| s.is_done()) {
            return client.status().clone();
        }
        if !moved {
            let next = [
                client.poll_timeout(),
                session.as_ref().and_then(|s| s.poll_timeout()),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else {
                return client.status().clone();
            };
            now = now.max(next);
            client.handle_timeout(now);
            if let Some(s) = session.as_mut() {
                s.handle_timeout(now);
            }
        }
    }
    panic!("transfer did not finish");
}

fn server(dir: &std::path::Path) -> TftpServer {
    let cfg = ServerConfig {
        upload: true,
        ..ServerConfig::default()
    };
    TftpServer::new(Arc::new(Root::open(dir).unwrap()), cfg)
}

fn request(direction: Direction, name: &str, options: Options) -> Request {
    Request {
        direction,
        filename: name.into(),
        mode: Mode::Octet,
        options,
    }
}

#[test]
fn get_and_put_survive_loss_and_roll_over() {
    let dir = tempfile::tempdir().unwrap();
    // 70,000 blocks of 8 bytes: block numbers wrap past 65535.
    let content: Vec<u8> = (0..8 * 70_000 + 3).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join("big"), &content).unwrap();
    let srv = server(dir.path());
    let t0 = Instant::now();
    for (window, drop_every) in [(1u16, 0usize), (1, 7), (8, 0), (8, 13)] {
        let opts = Options {
            blksize: Some(8),
            windowsize: Some(window),
            tsize: Some(0),
            ..Options::default()
        };
        let sink = MemSink::default();
        let client = Client::get(
            "127.0.0.1:6969".parse().unwrap(),
            request(Direction::Read, "big", opts),
            Config::default(),
            Box::new(sink.clone()),
            t0,
        );
        assert_eq!(run_pair(&srv, client, drop_every, t0), Status::Complete);
        assert!(
            sink.0.lock().unwrap().0 == content,
            "get w{window} drop {drop_every}"
        );

        let name = format!("up-{window}-{drop_every}");
        let client = Client::put(
            "127.0.0.1:6969".parse().unwrap(),
            request(Direction::Write, &name, opts),
            Config::default(),
            Box::new(io::Cursor::new(content.clone())),
            t0,
        );
        assert_eq!(run_pair(&srv, client, drop_every, t0), Status::Complete);
        assert!(
            std::fs::read(dir.path().join(&name)).unwrap() == content,
            "put {name}"
        );
    }
}

struct FullDisk;

impl Sink for FullDisk {
    fn write_block(&mut self, _: &[u8]) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(
            nix::errno::Errno::ENOSPC as i32,
        ))
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn full_disk_is_error_3() {
    let t0 = Instant::now();
    let mut r = Transfer::Recv(Receiver::new(cfg(4, 1), Box::new(FullDisk), t0, None));
    r.handle_packet(t0, &data(1, b"abcd"));
    let out = drain(&mut r);
    assert!(
        matches!(wire::parse(&out[0]), Ok(Packet::Error { code: 3, .. })),
        "{out:?}"
    );
    assert!(matches!(r.status(), Status::Failed(Failure::Io(_))));
    assert!(r.is_done());
}

proptest::proptest! {
    /// Any datagram: the parser and the server answer without panicking, and
    /// a request the server refuses gets exactly one ERROR.
    #[test]
    fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        let _ = wire::parse(&bytes);
        let dir = tempfile::tempdir().unwrap();
        let srv = server(dir.path());
        let from: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        if let Some(mut t) = srv.handle_request(Instant::now(), from, &bytes) {
            let first = t.poll_transmit().map(|(_, p)| p.to_vec());
            proptest::prop_assert!(first.is_some());
            if t.is_done() {
                let first = first.unwrap();
                let is_error = matches!(wire::parse(&first), Ok(Packet::Error { .. }));
                proptest::prop_assert!(is_error);
            }
        }
    }

    /// Requests shaped like real ones, with arbitrary names and options.
    #[test]
    fn arbitrary_requests_never_panic(
        name in "[a-z./\\\\]{0,20}",
        opts in proptest::collection::vec(("[a-z]{1,10}", "[0-9a-z]{0,8}"), 0..5),
        write in proptest::bool::ANY,
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"x").unwrap();
        let srv = server(dir.path());
        let pairs: Vec<(String, String)> = opts;
        let mut p = Vec::new();
        let direction = if write { Direction::Write } else { Direction::Read };
        wire::emit_request(&mut p, direction, &name, Mode::Octet, &pairs);
        let from: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        if let Some(mut t) = srv.handle_request(Instant::now(), from, &p) {
            proptest::prop_assert!(t.poll_transmit().is_some());
        }
    }
}

/// A source that counts its reads and fails once `fail_after` bytes are read.
struct CountingSource {
    data: io::Cursor<Vec<u8>>,
    reads: Arc<Mutex<usize>>,
    fail_after: u64,
}

impl io::Read for CountingSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        *self.reads.lock().unwrap() += 1;
        if self.data.position() >= self.fail_after {
            return Err(io::Error::other("disk gone"));
        }
        self.data.read(buf)
    }
}

fn counting_sender(bytes: usize, fail_after: u64, t0: Instant) -> (Transfer, Arc<Mutex<usize>>) {
    let reads = Arc::new(Mutex::new(0));
    let source = CountingSource {
        data: io::Cursor::new((0..bytes).map(|i| i as u8).collect()),
        reads: Arc::clone(&reads),
        fail_after,
    };
    let s = Sender::new(cfg(8, 1), Box::new(source), t0, None);
    (Transfer::Send(s), reads)
}

#[test]
fn the_next_block_is_read_while_the_window_travels() {
    let t0 = Instant::now();
    let (mut s, reads) = counting_sender(20, u64::MAX, t0);
    assert_eq!(*reads.lock().unwrap(), 1, "block 1 read at the start");
    assert_eq!(drain(&mut s), [data(1, &[0, 1, 2, 3, 4, 5, 6, 7])]);
    assert_eq!(*reads.lock().unwrap(), 2, "block 2 read once 1 went out");
    s.handle_packet(t0, &wire::ack(1));
    assert_eq!(*reads.lock().unwrap(), 2, "the ACK needs no read");
    let next = s.poll_transmit().map(<[u8]>::to_vec);
    assert_eq!(next, Some(data(2, &[8, 9, 10, 11, 12, 13, 14, 15])));
    assert!(drain(&mut s).is_empty());
    // Block 3 is short: one read for its 4 bytes, one that finds the end.
    assert_eq!(*reads.lock().unwrap(), 4, "and block 3 once 2 went out");
    // A duplicate ACK neither reads nor sends.
    s.handle_packet(t0, &wire::ack(1));
    assert!(drain(&mut s).is_empty());
    s.handle_packet(t0, &wire::ack(2));
    assert_eq!(drain(&mut s), [data(3, &[16, 17, 18, 19])]);
    s.handle_packet(t0, &wire::ack(3));
    assert_eq!(s.status(), &Status::Complete);
    assert_eq!(s.bytes(), 20);
}

#[test]
fn a_read_ahead_that_fails_sends_an_error() {
    let t0 = Instant::now();
    let (mut s, _) = counting_sender(20, 8, t0);
    let sent = drain(&mut s);
    assert_eq!(sent[0], data(1, &[0, 1, 2, 3, 4, 5, 6, 7]));
    assert!(
        matches!(wire::parse(&sent[1]), Ok(Packet::Error { .. })),
        "the failed read-ahead is reported at once: {sent:?}"
    );
    assert!(matches!(s.status(), Status::Failed(Failure::Io(_))));
    assert!(s.is_done());
}
