//! Property tests for the files protocol's command parser and session,
//! through the public API (the cargo-fuzz targets in `fuzz/` run the same
//! drive functions for longer).
//!
//! Properties: arbitrary bytes never panic and every reply starts with a
//! protocol word; parse ∘ emit is the identity on commands; a PUT delivered in
//! arbitrary pieces stores exactly its bytes and answers their SHA-256; a SUM
//! of any prefix of a file (several hashing slices long) answers that
//! prefix's SHA-256, however many wake-ups it takes.

#[path = "../../../fuzz/harness/mod.rs"]
mod harness;

use netkit_proto::files::wire::{hex, Command};
use netkit_proto::files::{FilesConfig, FilesService};
use netkit_proto::root::Root;
use netkit_proto::testing::Harness;
use netkit_proto::Service;
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Instant;

#[test]
fn seed_corpora_replay() {
    let n = harness::replay_corpus("files_stream", harness::files_stream)
        + harness::replay_corpus("files_command", harness::files_command);
    assert!(n >= 6, "seed corpora missing");
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_. -]{1,40}(/[a-zA-Z0-9_.-]{1,20}){0,2}".prop_filter("no trailing space", |s| {
        !s.ends_with(' ')
            && !s.starts_with(' ')
            && !s
                .split(' ')
                .next_back()
                .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        Just(Command::List),
        Just(Command::Quit),
        (name(), any::<u64>()).prop_map(|(name, offset)| Command::Get { name, offset }),
        (name(), any::<u64>()).prop_map(|(name, size)| Command::Put { name, size }),
        (name(), proptest::option::of(any::<u64>()))
            .prop_map(|(name, length)| Command::Sum { name, length }),
        name().prop_map(|folder| Command::ListDir { folder }),
        name().prop_map(|name| Command::Mkdir { name }),
        name().prop_map(|name| Command::Delete { name }),
        (name(), name()).prop_map(|(from, to)| Command::Move { from, to }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        harness::files_stream(&data);
        harness::files_command(&data);
    }

    #[test]
    fn command_like_garbage(lines in prop::collection::vec("(LIST|GET|PUT|SUM|QUIT|MKDIR|DELETE|MOVE|get|put|sum)( [ -~\t]{0,30}){0,3}", 1..8)) {
        let mut input = vec![3u8];
        for l in &lines {
            input.extend_from_slice(l.as_bytes());
            input.push(b'\n');
        }
        harness::files_stream(&input);
    }

    #[test]
    fn emit_then_parse_is_identity(cmd in command()) {
        let mut line = Vec::new();
        cmd.emit(&mut line);
        prop_assert!(line.ends_with(b"\n"));
        let parsed = Command::parse(&line[..line.len() - 1]).unwrap();
        prop_assert_eq!(parsed, cmd);
    }

    #[test]
    fn put_in_pieces_stores_exactly_its_bytes(
        body in prop::collection::vec(any::<u8>(), 0..5000),
        piece in 1usize..600,
    ) {
        use sha2::Digest;
        let dir = tempfile::tempdir().unwrap();
        let config = FilesConfig { upload: true, ..FilesConfig::default() };
        let svc = FilesService::new(Arc::new(Root::open(dir.path()).unwrap()), config);
        let now = Instant::now();
        let mut h = Harness::new(svc.new_session(None, now), now);
        let mut input = format!("PUT f.bin {}\n", body.len()).into_bytes();
        input.extend_from_slice(&body);
        input.extend_from_slice(b"QUIT\n");
        let mut out = Vec::new();
        for p in input.chunks(piece) {
            out.extend(h.send(p));
        }
        let want = format!("READY\nOK {}\nBYE\n", hex(&sha2::Sha256::digest(&body)));
        prop_assert_eq!(String::from_utf8_lossy(&out), want);
        prop_assert_eq!(std::fs::read(dir.path().join("f.bin")).unwrap(), body);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn sum_of_any_prefix_is_its_digest(
        size in 0usize..(3 * netkit_proto::files::sum::SLICE),
        cut in 0.0f64..=1.0,
        whole in any::<bool>(),
        seed in any::<u8>(),
    ) {
        use sha2::Digest;
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..size).map(|i| (i as u8).wrapping_mul(seed | 1)).collect();
        std::fs::write(dir.path().join("f.bin"), &data).unwrap();
        let length = if whole { size } else { (size as f64 * cut) as usize };
        let svc = FilesService::new(Arc::new(Root::open(dir.path()).unwrap()), FilesConfig::default());
        let now = Instant::now();
        let mut h = Harness::new(svc.new_session(None, now), now);
        let cmd = if whole { "SUM f.bin\n".to_owned() } else { format!("SUM f.bin {length}\n") };
        let mut out = h.send(cmd.as_bytes());
        for _ in 0..16 {
            if h.wakes() == 0 {
                break;
            }
            out.extend(h.wake());
        }
        let want = format!("OK {}\n", hex(&sha2::Sha256::digest(&data[..length])));
        prop_assert_eq!(String::from_utf8_lossy(&out), want);
    }
}

/// A session whose first command succeeds with a bare `OK` (MKDIR) is a
/// well-formed reply to the harness (a case proptest found by chance).
#[test]
fn a_bare_ok_first_is_a_known_reply() {
    // The harness reads its first byte as the piece size.
    harness::files_stream(b"\x03MKDIR made\n");
}
