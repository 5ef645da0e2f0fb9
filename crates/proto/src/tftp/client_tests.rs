//! The client's answer to a server that refuses options (RFC 2347: ERROR 8),
//! with a fake clock.

use super::client::{Client, Request};
use super::transfer::{Config, Failure, Sink, Status};
use super::wire::{self, Direction, ErrorCode, Mode, Options, Packet};
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

struct Discard;

impl Sink for Discard {
    fn write_block(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn get(options: Options) -> (Client, SocketAddr, Instant) {
    let server: SocketAddr = "127.0.0.1:69".parse().unwrap();
    let req = Request {
        direction: Direction::Read,
        filename: "t.txt".into(),
        mode: Mode::Netascii,
        options,
    };
    let t0 = Instant::now();
    let client = Client::get(server, req, Config::default(), Box::new(Discard), t0);
    (client, server, t0)
}

/// The options of the request the client sends next (to `server`).
fn next_request(c: &mut Client, server: SocketAddr) -> Vec<(String, String)> {
    let (to, p) = c.poll_transmit().expect("a request");
    assert_eq!(to, server);
    match wire::parse(p) {
        Ok(Packet::Request { options, .. }) => options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        other => panic!("not a request: {other:?}"),
    }
}

#[test]
fn options_refused_are_dropped_once() {
    let tsize = Options {
        tsize: Some(0),
        ..Options::default()
    };
    let (mut c, server, t0) = get(tsize);
    assert_eq!(next_request(&mut c, server).len(), 1);
    let tid: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let refused = wire::error(ErrorCode::OptionRefused, "Unsupported option(s)");
    c.handle_datagram(t0, tid, &refused);
    assert_eq!(c.status(), &Status::Running);
    assert!(
        next_request(&mut c, server).is_empty(),
        "asked again, plainly"
    );
    // A new transfer port answers the plain request.
    let other: SocketAddr = "127.0.0.1:4001".parse().unwrap();
    let mut data = Vec::new();
    wire::emit_data_header(&mut data, 1);
    data.extend_from_slice(b"hi");
    c.handle_datagram(t0, other, &data);
    assert_eq!(c.peer(), Some(other));
    assert_eq!(c.status(), &Status::Complete);
}

#[test]
fn a_second_refusal_or_one_without_options_ends_the_transfer() {
    let tid: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let refused = wire::error(ErrorCode::OptionRefused, "no");
    let tsize = Options {
        tsize: Some(0),
        ..Options::default()
    };
    for (options, requests) in [(tsize, 2), (Options::default(), 1)] {
        let (mut c, server, t0) = get(options);
        for _ in 0..requests {
            next_request(&mut c, server);
            c.handle_datagram(t0, tid, &refused);
        }
        assert!(matches!(
            c.status(),
            Status::Failed(Failure::Peer { code: 8, .. })
        ));
    }
}

#[test]
fn a_refusal_before_the_first_answer_ends_the_transfer_and_after_it_is_ignored() {
    let (mut c, server, t0) = get(Options::default());
    next_request(&mut c, server);
    c.handle_refused(t0);
    assert_eq!(c.status(), &Status::Failed(Failure::Refused));
    assert!(c.is_done(), "nothing to send or wait for");
    assert_eq!(c.poll_timeout(), None);

    let (mut c, server, t0) = get(Options::default());
    next_request(&mut c, server);
    let tid: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    let mut data = Vec::new();
    wire::emit_data_header(&mut data, 1);
    data.extend_from_slice(&[7; 512]);
    c.handle_datagram(t0, tid, &data);
    c.handle_refused(t0);
    assert_eq!(c.status(), &Status::Running, "a stale report");
    assert!(c.poll_timeout().is_some());
}
