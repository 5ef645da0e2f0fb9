//! Property tests for chat datagrams and IRC lines, through the public API
//! (the cargo-fuzz targets in `fuzz/` run the same drive functions longer).
//!
//! Properties: arbitrary datagrams from eight senders never panic, never
//! amplify towards a stranger and never exceed a UDP payload; arbitrary IRC
//! input only ever draws CRLF lines of at most 512 bytes; requests round-trip.

#[path = "../../../fuzz/harness/mod.rs"]
mod harness;

use netkit_proto::chat::wire::{valid_name, Request};
use proptest::prelude::*;

#[test]
fn seed_corpora_replay() {
    let n = harness::replay_corpus("chat_datagrams", harness::chat_datagrams)
        + harness::replay_corpus("irc_stream", harness::irc_stream);
    assert!(n >= 6, "seed corpora missing");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_datagrams_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        harness::chat_datagrams(&data);
    }

    #[test]
    fn command_like_datagrams(ds in prop::collection::vec(("[0-7]", "(JOIN|SAY|PING|LEAVE|WHO|join)( [ -~]{0,40})?"), 1..30)) {
        let mut data = Vec::new();
        for (who, d) in ds {
            data.push(who.as_bytes()[0] - b'0');
            data.extend_from_slice(d.as_bytes());
            data.push(0xFF);
        }
        harness::chat_datagrams(&data);
    }

    #[test]
    fn arbitrary_irc_input(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        harness::irc_stream(&data);
    }

    #[test]
    fn irc_like_lines(lines in prop::collection::vec("(NICK|USER|JOIN|PRIVMSG|PART|QUIT|PING|NAMES|WHO|MODE|TOPIC|CAP)( [ -~]{0,80}){0,4}", 1..12)) {
        let mut data = vec![9u8];
        data.extend_from_slice(b"NICK fuzz\r\nUSER a 0 * :b\r\nJOIN #netkit\r\n");
        for l in lines {
            data.extend_from_slice(l.as_bytes());
            data.extend_from_slice(b"\r\n");
        }
        harness::irc_stream(&data);
    }

    #[test]
    fn requests_round_trip(name in "[a-zA-Z0-9_]{1,32}", text in "[ -~]{1,200}") {
        prop_assume!(valid_name(&name));
        for req in [Request::Join(&name), Request::Say(&text), Request::Leave, Request::Ping, Request::Who] {
            let mut out = Vec::new();
            req.emit(&mut out);
            prop_assert_eq!(Request::parse(&out), Ok(req));
        }
    }
}

/// Found by `bench/hostile.sh`: every garbage datagram from a stranger drew an
/// `ERR bad-command`, and a flood of them halved a member's service. Replies
/// to strangers now share a budget; members are always answered.
#[test]
fn a_stranger_flood_is_answered_within_a_budget_and_members_always() {
    use netkit_proto::chat::hub::Hub;
    use netkit_proto::chat::room::RoomConfig;
    use netkit_proto::chat::udp::{UdpFront, STRANGER_REPLIES_PER_SEC};
    use netkit_proto::{Datagram, DatagramService};
    use std::net::SocketAddr;
    use std::time::Instant;
    let mut front = UdpFront::new(Hub::new(RoomConfig::default()));
    let now = Instant::now();
    let member = SocketAddr::from(([127, 0, 0, 1], 1));
    let stranger = SocketAddr::from(([127, 0, 0, 1], 2));
    let mut out: Vec<Datagram> = Vec::new();
    front.handle_datagram(now, member, b"JOIN alice", &mut out);
    assert!(out.iter().any(|d| d.data.starts_with(b"OK ")));
    let mut answered = 0;
    for _ in 0..5_000 {
        out.clear();
        front.handle_datagram(now, stranger, b"garbage garbage garbage", &mut out);
        answered += out.len();
    }
    assert!(
        answered <= STRANGER_REPLIES_PER_SEC as usize,
        "{answered} replies to a stranger"
    );
    out.clear();
    front.handle_datagram(now, member, b"PING", &mut out);
    assert_eq!(out.last().map(|d| &d.data[..]), Some(&b"PONG"[..]));
}
