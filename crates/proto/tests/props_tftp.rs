//! Property tests for TFTP packets, option lists and the server's transfer
//! machine, through the public API (the cargo-fuzz targets in `fuzz/` run the
//! same drive functions for longer).
//!
//! Properties: arbitrary datagrams never panic, every packet the server sends
//! parses and fits a datagram, a silent peer always ends the transfer;
//! requests and option lists round-trip through emit and parse.

#[path = "../../../fuzz/harness/mod.rs"]
mod harness;

use netkit_proto::tftp::wire::{self, Direction, Mode, Options, Packet};
use proptest::prelude::*;

#[test]
fn seed_corpora_replay() {
    let n = harness::replay_corpus("tftp_exchange", harness::tftp_exchange)
        + harness::replay_corpus("tftp_options", harness::tftp_options);
    assert!(n >= 6, "seed corpora missing");
}

fn opt_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,25}",
        "[ -~]{0,10}",
        Just("0".to_owned()),
        Just("65465".to_owned())
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_datagrams_never_panic(data in prop::collection::vec(any::<u8>(), 0..1500)) {
        harness::tftp_exchange(&data);
        harness::tftp_options(&data);
    }

    #[test]
    fn requests_with_options_then_garbage(
        write in any::<bool>(),
        name in prop::sample::select(vec!["a.txt", "sub/b.bin", "new.bin", "../x", "/etc/passwd", "missing"]),
        opts in prop::collection::vec((prop::sample::select(vec!["blksize", "tsize", "timeout", "windowsize", "BLKSIZE", "x"]), opt_value()), 0..5),
        tail in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let pairs: Vec<(String, String)> = opts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let dir = if write { Direction::Write } else { Direction::Read };
        let mut data = Vec::new();
        wire::emit_request(&mut data, dir, name, Mode::Octet, &pairs);
        prop_assume!(!data.contains(&0xFF));
        data.push(0xFF);
        data.extend_from_slice(&tail);
        harness::tftp_exchange(&data);
    }

    #[test]
    fn request_emit_parse_round_trip(
        name in "[a-zA-Z0-9_./-]{1,60}",
        opts in prop::collection::vec(("[a-z]{1,10}", "[0-9a-z]{1,10}"), 0..5),
    ) {
        let pairs: Vec<(String, String)> = opts;
        let mut data = Vec::new();
        wire::emit_request(&mut data, Direction::Read, &name, Mode::Octet, &pairs);
        match wire::parse(&data) {
            Ok(Packet::Request { filename, options, .. }) => {
                prop_assert_eq!(filename, name.as_bytes());
                let got: Vec<(String, String)> = options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
                prop_assert_eq!(got, pairs);
            }
            other => prop_assert!(false, "not a request: {:?}", other),
        }
    }

    #[test]
    fn options_round_trip(blksize in 8usize..=65464, timeout in 1u8..=255, tsize in any::<u64>(), window in 1u16..) {
        let o = Options { blksize: Some(blksize), timeout: Some(timeout), tsize: Some(tsize), windowsize: Some(window) };
        let pairs = o.to_pairs();
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        prop_assert_eq!(Options::from_pairs(&borrowed), o);
    }
}

/// Found by `bench/hostile.sh`: garbage at the listening port was answered
/// one ERROR each, from a fresh socket and thread each, and a flood of it
/// starved real requests (0 RRQs/s got through). Refusals now have a budget
/// (200/s); a valid request is still served during the flood.
#[test]
fn a_garbage_flood_is_refused_within_a_budget_and_real_requests_still_start() {
    use netkit_proto::root::Root;
    use netkit_proto::tftp::server::{ServerConfig, TftpServer};
    use netkit_proto::tftp::TransferService;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"hello\n").unwrap();
    let server = TftpServer::new(
        std::sync::Arc::new(Root::open(dir.path()).unwrap()),
        ServerConfig::default(),
    );
    let from = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
    let mut now = Instant::now();
    let mut answered = 0;
    for i in 0..10_000u32 {
        if i % 1000 == 0 {
            now += Duration::from_secs(1);
        }
        answered += usize::from(
            server
                .handle_request(now, from, &[0, 9, (i % 251) as u8])
                .is_some(),
        );
        if i % 500 == 0 {
            let mut rrq = Vec::new();
            wire::emit_request(&mut rrq, Direction::Read, "a.txt", Mode::Octet, &[]);
            assert!(
                server.handle_request(now, from, &rrq).is_some(),
                "a real RRQ during the flood"
            );
        }
    }
    assert!(answered <= 200 + 10 * 200, "{answered} refusals answered");
    assert!(
        answered >= 200,
        "the budget answers some garbage ({answered})"
    );
}
