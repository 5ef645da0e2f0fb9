//! The files session's SUM (sliced across wake-ups, in order with other
//! replies) and its hidden-names policy (the root's), driven in memory.

use super::*;
use crate::files::errors::hex;
use crate::files::sum::SLICE;
use crate::files::{FilesConfig, FilesService};
use crate::testing::Harness;
use crate::Service;
use sha2::{Digest, Sha256};
use std::fs;
use std::time::Duration;

const IDLE: Duration = Duration::from_secs(30);

fn service(dir: &std::path::Path, hidden: bool, upload: bool) -> FilesService {
    let root = Root::open(dir).expect("root").with_hidden(hidden);
    let config = FilesConfig {
        upload,
        idle_timeout: Some(IDLE),
        ..FilesConfig::default()
    };
    FilesService::new(Arc::new(root), config)
}

fn served() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.txt"), b"hello world").unwrap();
    fs::create_dir_all(dir.path().join("sub/.git")).unwrap();
    fs::write(dir.path().join("sub/.git/config"), b"[core]").unwrap();
    fs::write(dir.path().join(".env"), b"KEY=secret").unwrap();
    fs::create_dir(dir.path().join(".ssh")).unwrap();
    dir
}

fn harness(svc: &FilesService) -> Harness<FilesSession> {
    let now = Instant::now();
    Harness::new(svc.new_session(None, now), now)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8 reply")
}

fn sha(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

#[test]
fn sum_answers_the_digest_of_a_prefix_or_the_whole_file() {
    let dir = served();
    let svc = service(dir.path(), false, false);
    let mut h = harness(&svc);
    let expect = [
        ("SUM a.txt\n", format!("OK {}\n", sha(b"hello world"))),
        ("SUM a.txt 5\n", format!("OK {}\n", sha(b"hello"))),
        ("SUM a.txt 0\n", format!("OK {}\n", sha(b""))),
        ("SUM a.txt 11\n", format!("OK {}\n", sha(b"hello world"))),
    ];
    for (cmd, reply) in &expect {
        assert_eq!(text(h.send(cmd.as_bytes())), *reply, "{cmd}");
    }
    for (cmd, code) in [
        ("SUM a.txt 12\n", "ERR 400 "),
        ("SUM nope\n", "ERR 404 "),
        ("SUM sub\n", "ERR 403 "),
        ("SUM ../a.txt\n", "ERR 403 "),
        ("SUM\n", "ERR 400 "),
        ("SUM .env\n", "ERR 404 "),
    ] {
        let reply = text(h.send(cmd.as_bytes()));
        assert!(reply.starts_with(code), "{cmd:?} → {reply:?}");
    }
    assert_eq!(h.wakes(), 0, "small files are answered at once");
}

#[test]
fn a_large_sum_takes_one_slice_per_wake_and_keeps_replies_in_order() {
    let dir = served();
    let data: Vec<u8> = (0..3 * SLICE + 7).map(|i| (i % 253) as u8).collect();
    fs::write(dir.path().join("big.bin"), &data).unwrap();
    let svc = service(dir.path(), false, false);
    let mut h = harness(&svc);
    // The pipelined GET waits for the SUM's answer.
    assert_eq!(h.send(b"SUM big.bin\nGET a.txt\n"), b"");
    assert_eq!(h.unconsumed(), b"GET a.txt\n");
    assert!(!h.session.wants_read(), "no command is taken meanwhile");
    assert_eq!(h.session.poll_timeout(), None, "busy: no idle timer");
    // The idle time passes while hashing: the session stays.
    assert!(h.advance(IDLE * 2).is_empty());
    assert!(!h.session.is_done());
    let mut wakes = 0;
    let mut reply = Vec::new();
    while reply.is_empty() {
        assert!(h.wakes() > 0, "the session asked to be woken");
        wakes += 1;
        assert!(wakes < 10, "a sum that never ends");
        reply = h.wake();
    }
    assert_eq!(wakes, 3, "one slice per step after the first");
    assert_eq!(text(reply), format!("OK {}\n", sha(&data)));
    assert!(h.session.wants_read());
    assert_eq!(text(h.send(b"")), "OK 11\nhello world");
    assert!(h.session.poll_timeout().is_some(), "idle again");
}

#[test]
fn sums_on_many_connections_of_one_thread_share_one_read_buffer() {
    let dir = served();
    let data: Vec<u8> = (0..2 * SLICE + 3).map(|i| (i % 241) as u8).collect();
    fs::write(dir.path().join("big.bin"), &data).unwrap();
    let svc = service(dir.path(), false, false);
    let mut conns: Vec<_> = (0..4).map(|_| harness(&svc)).collect();
    for h in &mut conns {
        assert_eq!(h.send(b"SUM big.bin\n"), b"");
    }
    // Stepped in turn, as one loop thread runs them.
    let mut replies = vec![Vec::new(); conns.len()];
    for _ in 0..10 {
        for (h, reply) in conns.iter_mut().zip(&mut replies) {
            if reply.is_empty() {
                *reply = h.wake();
            }
        }
    }
    for reply in replies {
        assert_eq!(text(reply), format!("OK {}\n", sha(&data)));
    }
    assert_eq!(svc.sum_buffers.kept(), 1, "one buffer lent to every step");
}

#[test]
fn eof_or_shutdown_during_a_sum_answers_it_then_closes() {
    let dir = served();
    let data = vec![1u8; 2 * SLICE];
    fs::write(dir.path().join("big.bin"), &data).unwrap();
    let svc = service(dir.path(), false, false);
    for stop in ["eof", "shutdown"] {
        let mut h = harness(&svc);
        assert_eq!(h.send(b"SUM big.bin\n"), b"");
        if stop == "eof" {
            assert!(h.eof().is_empty());
        } else {
            h.session.handle_shutdown(h.now);
        }
        assert!(!h.session.is_done(), "{stop}: the SUM is still owed");
        assert_eq!(text(h.wake()), format!("OK {}\n", sha(&data)), "{stop}");
        assert!(h.session.is_done(), "{stop}");
    }
}

#[test]
fn a_sum_without_a_waker_is_answered_at_once() {
    let dir = served();
    let data = vec![2u8; 2 * SLICE + 1];
    fs::write(dir.path().join("big.bin"), &data).unwrap();
    let svc = service(dir.path(), false, false);
    let mut session = svc.new_session(None, Instant::now());
    session.handle_input(Instant::now(), b"SUM big.bin\n");
    let mut out = Vec::new();
    assert!(session.poll_transmit(&mut out).is_none());
    assert_eq!(text(out), format!("OK {}\n", sha(&data)));
}

#[test]
fn hidden_names_are_not_found_unlisted_and_not_created() {
    let dir = served();
    let svc = service(dir.path(), false, true);
    let mut h = harness(&svc);
    assert_eq!(
        text(h.send(b"LIST\n")).lines().collect::<Vec<_>>()[0],
        "OK 1",
        "only a.txt"
    );
    for cmd in [
        &b"GET .env\n"[..],
        b"GET sub/.git/config\n",
        b"GET .ssh\n",
        b"SUM .env\n",
        b"PUT .env 1\n",
        b"PUT .ssh/authorized_keys 1\n",
        b"PUT sub/.git/config 1\n",
        b"PUT .new 1\n",
    ] {
        let reply = text(h.send(cmd));
        assert!(
            reply.starts_with("ERR 404 "),
            "{:?} → {reply:?}",
            String::from_utf8_lossy(cmd)
        );
    }
    assert!(!dir.path().join(".ssh/authorized_keys").exists());
    assert!(!dir.path().join(".new").exists());
    assert_eq!(fs::read(dir.path().join(".env")).unwrap(), b"KEY=secret");

    // --hidden: served, listed and written like any name.
    let svc = service(dir.path(), true, true);
    let mut h = harness(&svc);
    let list = text(h.send(b"LIST\n"));
    assert!(
        list.starts_with("OK 2\n") && list.contains(" .env\n"),
        "{list}"
    );
    assert_eq!(text(h.send(b"GET .env\n")), "OK 10\nKEY=secret");
    assert_eq!(text(h.send(b"GET sub/.git/config\n")), "OK 6\n[core]");
    assert_eq!(text(h.send(b"PUT .ssh/authorized_keys 1\n")), "READY\n");
    assert_eq!(text(h.send(b"k")), format!("OK {}\n", sha(b"k")));
    assert_eq!(
        fs::read(dir.path().join(".ssh/authorized_keys")).unwrap(),
        b"k"
    );
}
