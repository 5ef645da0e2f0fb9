//! The files session under access rules: AUTH, every command checked, and
//! the guessing limit on the fake clock.

use super::*;
use crate::access::{Access, Guessing};
use crate::files::{FilesConfig, FilesService};
use crate::testing::Harness;
use crate::Service;
use std::fs;
use std::net::SocketAddr;
use std::time::Duration;

/// A share with `pub/`, `team/`, `top.txt`, served with uploads on and
/// these rules: alice writes /team, viewer reads /, anyone reads /pub.
struct Fixture {
    dir: tempfile::TempDir,
    service: FilesService,
}

fn fixture(upload: bool) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::create_dir(dir.path().join("pub")).unwrap();
    fs::create_dir(dir.path().join("team")).unwrap();
    fs::write(dir.path().join("pub/p.txt"), b"public").unwrap();
    fs::write(dir.path().join("team/t.txt"), b"team").unwrap();
    fs::write(dir.path().join("top.txt"), b"top").unwrap();
    let root = Arc::new(Root::open(dir.path()).expect("root"));
    let access = Access::parse(["alice:wonder@/team:rw", "viewer:v@/", "@/pub"]).expect("rules");
    let config = FilesConfig {
        upload,
        ..FilesConfig::default()
    };
    let service = FilesService::new(root, config).with_access(Arc::new(access), Guessing::new());
    Fixture { dir, service }
}

impl Fixture {
    fn from(&self, peer: &str, now: Instant) -> Harness<FilesSession> {
        let peer: SocketAddr = peer.parse().expect("an address");
        Harness::new(self.service.new_session(Some(peer), now), now)
    }

    fn session(&self) -> Harness<FilesSession> {
        self.from("192.0.2.1:5000", Instant::now())
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8 reply")
}

fn code(reply: &str) -> &str {
    reply.get(..7).unwrap_or(reply)
}

#[test]
fn auth_answers_ok_or_401() {
    let f = fixture(true);
    let mut h = f.session();
    assert_eq!(code(&text(h.send(b"AUTH alice wrong\n"))), "ERR 401");
    assert_eq!(code(&text(h.send(b"AUTH mallory wonder\n"))), "ERR 401");
    assert_eq!(code(&text(h.send(b"AUTH alice\n"))), "ERR 400");
    assert_eq!(text(h.send(b"AUTH alice wonder\n")), "OK\n");
    assert_eq!(text(h.send(b"GET team/t.txt\n")), "OK 4\nteam");
}

#[test]
fn every_command_is_checked_as_a_table() {
    let f = fixture(true);
    // (logins, command, reply starts with)
    #[rustfmt::skip]
    let table: &[(&[u8], &[u8], &str)] = &[
        // anonymous: /pub only; 401 where an account could, 403 for a write none may do
        (b"", b"GET pub/p.txt\n", "OK 6\npublic"),
        (b"", b"SUM pub/p.txt\n", "OK "),
        (b"", b"GET team/t.txt\n", "ERR 401 team/t.txt: log in"),
        (b"", b"SUM team/t.txt\n", "ERR 401"),
        (b"", b"GET top.txt\n", "ERR 401"),
        (b"", b"PUT team/new.txt 1\n", "ERR 401"),
        (b"", b"PUT pub/new.txt 1\n", "ERR 403"),
        (b"", b"GET pub/../team/t.txt\n", "ERR 403"), // climbing is refused before any rule
        // alice: /team read-write, plus /pub
        (b"AUTH alice wonder\n", b"GET team/t.txt\n", "OK 4\nteam"),
        (b"AUTH alice wonder\n", b"PUT team/new.txt 1\n", "READY"),
        (b"AUTH alice wonder\n", b"GET pub/p.txt\n", "OK 6"),
        (b"AUTH alice wonder\n", b"GET top.txt\n", "ERR 404 top.txt: not found"),
        (b"AUTH alice wonder\n", b"PUT pub/x.txt 1\n", "ERR 403 pub/x.txt: alice may not write here"),
        (b"AUTH alice wonder\n", b"PUT teamwork.txt 1\n", "ERR 403"),
        // viewer reads everything and writes nothing
        (b"AUTH viewer v\n", b"GET top.txt\n", "OK 3\ntop"),
        (b"AUTH viewer v\n", b"PUT team/v.txt 1\n", "ERR 403"),
        (b"AUTH viewer v\n", b"PUT top.txt 1\n", "ERR 403"),
        // a failed AUTH leaves nobody logged in
        (b"AUTH alice wonder\nAUTH alice nope\n", b"GET team/t.txt\n", "ERR 401"),
    ];
    for (row, &(logins, command, want)) in table.iter().enumerate() {
        let mut h = f.session();
        h.send(logins);
        let got = text(h.send(command));
        assert!(
            got.starts_with(want),
            "row {row}: {got:?} should start {want:?}"
        );
    }
}

#[test]
fn list_shows_only_what_the_session_may_read() {
    let f = fixture(false);
    let mut anonymous = f.session();
    // Nothing is granted at the root to anyone without an account, and
    // /pub is a folder: an empty listing, not an error.
    assert_eq!(text(anonymous.send(b"LIST\n")), "OK 0\n");
    let mut viewer = f.session();
    viewer.send(b"AUTH viewer v\n");
    let listing = text(viewer.send(b"LIST\n"));
    assert!(
        listing.starts_with("OK 1\n") && listing.ends_with(" top.txt\n"),
        "{listing}"
    );
    let only_team = Access::parse(["alice:wonder@/team"]).expect("rules");
    let root = Arc::new(Root::open(f.dir.path()).expect("root"));
    let service = FilesService::new(root, FilesConfig::default())
        .with_access(Arc::new(only_team), Guessing::new());
    let mut h = Harness::new(service.new_session(None, Instant::now()), Instant::now());
    assert_eq!(code(&text(h.send(b"LIST\n"))), "ERR 401");
}

#[test]
fn upload_stays_the_master_switch() {
    let f = fixture(false);
    let mut h = f.session();
    h.send(b"AUTH alice wonder\n");
    let got = text(h.send(b"PUT team/new.txt 1\n"));
    assert!(got.starts_with("ERR 403 uploads are off"), "{got}");
}

#[test]
fn ten_failed_auths_close_the_address_for_the_rest_of_the_minute() {
    let f = fixture(true);
    let t0 = Instant::now();
    let mut h = f.from("198.51.100.9:4000", t0);
    for _ in 0..10 {
        assert_eq!(code(&text(h.send(b"AUTH alice guess\n"))), "ERR 401");
    }
    // Every command, the right password included, now gets 429 …
    for command in [&b"AUTH alice wonder\n"[..], b"GET pub/p.txt\n", b"LIST\n"] {
        let got = text(h.send(command));
        assert!(got.starts_with("ERR 429 ") && got.contains("60 s"), "{got}");
    }
    // … on a new connection from that address too, but not from another.
    let mut again = f.from("198.51.100.9:4001", t0 + Duration::from_secs(30));
    assert!(text(again.send(b"GET pub/p.txt\n")).contains("try again in 30 s"));
    let mut other = f.from("198.51.100.10:4000", t0);
    assert_eq!(text(other.send(b"GET pub/p.txt\n")), "OK 6\npublic");
    // QUIT is still answered.
    assert_eq!(text(again.send(b"QUIT\n")), "BYE\n");
    // When the minute ends, the address is served again.
    h.now = t0 + Duration::from_secs(60);
    assert_eq!(text(h.send(b"AUTH alice wonder\n")), "OK\n");
}

#[test]
fn the_access_log_never_holds_a_password() {
    use crate::files::log_request;
    let line = b"AUTH alice s3cret";
    let logged = log_request(&wire::Command::parse(line), line);
    assert!(!String::from_utf8_lossy(&logged).contains("s3cret"));
    let bad = b"AUTH alice s3cret\xff";
    let logged = log_request(&wire::Command::parse(bad), bad);
    assert!(!String::from_utf8_lossy(&logged).contains("s3cret"));
}
