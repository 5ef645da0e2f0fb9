//! The file-management verbs (PUT, MKCOL, DELETE, MOVE, COPY) over byte
//! strings, without a socket: tables of requests and the status each gets
//! under `--upload`, `--overwrite` or neither, what they do to the tree, the
//! `Destination` header's checks, and the access rules on both the source
//! and the destination.

use super::*;
use crate::access::Access;
use crate::testing::Harness;
use base64::Engine as _;
use std::path::Path;
use std::time::UNIX_EPOCH;

struct Fixture {
    dir: tempfile::TempDir,
    service: HttpService,
    t0: Instant,
}

/// The tree every test starts from.
const TREE: &[(&str, &str)] = &[
    ("a.txt", "hello"),
    ("b.txt", "bee"),
    ("d/x.txt", "x"),
    ("d/e/y.txt", "y"),
    ("pub/p.txt", "public"),
    ("team/t.txt", "team"),
    ("private/s.txt", "secret"),
    ("drop/k.txt", "kept"),
    (".env", "KEY"),
];

fn fixture(rules: &[&str], upload: bool, overwrite: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in TREE {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    let config = HttpConfig {
        upload,
        overwrite,
        max_upload: 1000,
        model: "test".into(),
        ..HttpConfig::default()
    };
    let t0 = Instant::now();
    let clock = AnchoredClock {
        instant: t0,
        wall: UNIX_EPOCH + Duration::from_secs(784_111_777),
    };
    let mut context = HttpContext::new(t0, Arc::new(clock));
    if !rules.is_empty() {
        context.access = Arc::new(Access::parse(rules).expect("rules parse"));
    }
    let root = Root::open(dir.path()).unwrap();
    Fixture {
        dir,
        service: HttpService::new(root, config, context),
        t0,
    }
}

impl Fixture {
    /// One request on a fresh connection: its status and whole reply.
    fn ask(&self, request: &str) -> (u16, String) {
        let peer = "127.0.0.1:5555".parse().ok();
        let mut h = Harness::new(self.service.new_session(peer, self.t0), self.t0);
        let raw = request.replace('\n', "\r\n");
        let out = String::from_utf8_lossy(&h.send(raw.as_bytes())).into_owned();
        let status = out.get(9..12).and_then(|s| s.parse().ok());
        (status.unwrap_or_else(|| panic!("a status: {out:?}")), out)
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

/// `METHOD /path` with extra header lines (`\n`-separated) and a body.
fn req(line: &str, headers: &str, body: &str) -> String {
    let length = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Length: {}\n", body.len())
    };
    format!("{line} HTTP/1.1\nHost: h:80\n{headers}{length}\n{body}")
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Authorization: Basic {token}\n")
}

fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

#[test]
fn without_upload_every_verb_is_403() {
    let f = fixture(&[], false, true);
    for (line, headers) in [
        ("PUT /new.txt", ""),
        ("MKCOL /n/", ""),
        ("DELETE /a.txt", ""),
        ("DELETE /d/", ""),
        ("MOVE /a.txt", "Destination: /c.txt\n"),
        ("COPY /a.txt", "Destination: /c.txt\n"),
        ("COPY /a.txt", "Destination: http://elsewhere/c.txt\n"),
        ("MOVE /a.txt", ""),
    ] {
        let body = if line.starts_with("PUT") { "data" } else { "" };
        assert_eq!(f.ask(&req(line, headers, body)).0, 403, "{line} {headers}");
    }
    assert!(!exists(&f.path("new.txt")) && !exists(&f.path("n")) && !exists(&f.path("c.txt")));
    assert!(exists(&f.path("a.txt")) && exists(&f.path("d/e/y.txt")));
    let (_, out) = f.ask(&req("OPTIONS *", "", ""));
    assert!(
        out.contains("Allow: GET, HEAD, OPTIONS, PROPFIND\r\n"),
        "{out}"
    );
}

#[test]
fn put_and_mkcol() {
    let f = fixture(&[], true, true);
    let cases: &[(&str, &str, &str, u16)] = &[
        ("PUT /new.txt", "", "data", 201),
        ("PUT /new.txt", "", "more", 204),
        ("PUT /nope/new.txt", "", "data", 409),
        ("PUT /a.txt/new.txt", "", "data", 409),
        ("MKCOL /n/", "", "", 201),
        ("MKCOL /n/m", "", "", 201),
        ("MKCOL /n/", "", "", 405),
        ("MKCOL /a.txt", "", "", 405),
        ("MKCOL /", "", "", 405),
        ("MKCOL /x/y/z/", "", "", 409),
        ("MKCOL /body/", "Content-Type: text/xml\n", "<x/>", 415),
        ("MKCOL /.git/", "", "", 403),
        ("MKCOL /%2e%2e/up/", "", "", 400),
    ];
    for (line, headers, body, want) in cases {
        let (status, out) = f.ask(&req(line, headers, body));
        assert_eq!(status, *want, "{line}\n{out}");
    }
    assert_eq!(f.read("new.txt"), "more");
    assert!(f.path("n/m").is_dir());
    assert!(!exists(&f.path("body")) && !exists(&f.path(".git")));
    let (_, out) = f.ask(&req("MKCOL /q", "", ""));
    assert!(out.contains("Location: /q/\r\n"), "{out}");
    let (_, out) = f.ask(&req("OPTIONS /", "", ""));
    let allow = "Allow: GET, HEAD, OPTIONS, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH, LOCK, UNLOCK\r\n";
    assert!(out.contains(allow), "{out}");
}

#[test]
fn delete_removes_files_and_folders_only_with_overwrite() {
    let f = fixture(&[], true, false);
    assert_eq!(f.ask(&req("DELETE /d/", "", "")).0, 403);
    assert!(exists(&f.path("d/e/y.txt")), "a share only grows");
    let f = fixture(&[], true, true);
    // A folder holding a name the share hides is not removed (not even in
    // part): the visitor cannot see what they would delete.
    std::fs::write(f.path("pub/.keep"), "").unwrap();
    assert_eq!(f.ask(&req("DELETE /pub/", "", "")).0, 403);
    assert!(exists(&f.path("pub/p.txt")) && exists(&f.path("pub/.keep")));
    // A cached file inside goes with its folder.
    assert_eq!(f.ask(&req("GET /d/e/y.txt", "", "")).0, 200);
    for (line, want) in [
        ("DELETE /d/", 204),
        ("GET /d/e/y.txt", 404),
        ("DELETE /d/", 404),
        ("DELETE /a.txt", 204),
        ("DELETE /", 403),
        ("DELETE /.env", 403),
    ] {
        assert_eq!(f.ask(&req(line, "", "")).0, want, "{line}");
    }
    assert!(!exists(&f.path("d")) && !exists(&f.path("a.txt")) && exists(&f.path(".env")));
}

#[test]
fn move_with_overwrite() {
    let f = fixture(&[], true, true);
    let cases: &[(&str, &str, u16)] = &[
        ("MOVE /a.txt", "Destination: /c.txt\n", 201),
        (
            "MOVE /c.txt",
            "Destination: http://h:80/b.txt\nOverwrite: F\n",
            412,
        ),
        (
            "MOVE /c.txt",
            "Destination: http://h/b.txt\nOverwrite: T\n",
            204,
        ),
        ("MOVE /d", "Destination: /pub/d2\n", 201),
        ("MOVE /pub/d2/", "Destination: /pub/d2/e/in/\n", 403),
        ("MOVE /pub/d2", "Destination: /pub/d2\n", 403),
        ("MOVE /missing", "Destination: /m2\n", 404),
        ("MOVE /b.txt", "Destination: /no/such/b.txt\n", 409),
        ("MOVE /b.txt", "Destination: /.b\n", 403),
        ("MOVE /.env", "Destination: /env\n", 403),
        ("MOVE /b.txt", "Destination: /../b.txt\n", 400),
        ("MOVE /b.txt", "Destination: b.txt\n", 400),
        ("MOVE /b.txt", "", 400),
        ("MOVE /b.txt", "Destination: http://evil:80/b2\n", 502),
        ("MOVE /b.txt", "Destination: /b2\nOverwrite: maybe\n", 400),
        ("MOVE /b.txt", "Destination: /b2\nDepth: 0\n", 400),
        ("MOVE /b.txt", "Destination: /sp%20ace.txt\n", 201),
        ("MOVE /pub/d2", "Destination: /drop\n", 204), // a folder replaces one
    ];
    for (line, headers, want) in cases {
        let (status, out) = f.ask(&req(line, headers, ""));
        assert_eq!(status, *want, "{line} {headers}\n{out}");
    }
    assert_eq!(f.read("sp ace.txt"), "hello");
    assert_eq!(f.read("drop/e/y.txt"), "y");
    assert!(!exists(&f.path("drop/k.txt")) && !exists(&f.path("pub/d2")));
    assert_eq!(f.read(".env"), "KEY");
}

#[test]
fn without_overwrite_move_and_copy_only_grow_the_share() {
    let f = fixture(&[], true, false);
    let cases: &[(&str, &str, u16)] = &[
        ("MOVE /a.txt", "Destination: /b.txt\n", 412),
        ("MOVE /a.txt", "Destination: /c.txt\n", 403),
        ("COPY /a.txt", "Destination: /b.txt\n", 412),
        ("COPY /a.txt", "Destination: /b.txt\nOverwrite: T\n", 412),
        ("COPY /a.txt", "Destination: /c.txt\n", 201),
        ("COPY /d/", "Destination: /d2/\n", 201),
    ];
    for (line, headers, want) in cases {
        let (status, out) = f.ask(&req(line, headers, ""));
        assert_eq!(status, *want, "{line} {headers}\n{out}");
    }
    assert_eq!(
        (f.read("a.txt"), f.read("b.txt"), f.read("c.txt")),
        ("hello".into(), "bee".into(), "hello".into())
    );
    assert_eq!(f.read("d2/e/y.txt"), "y");
    let (_, out) = f.ask(&req("OPTIONS *", "", ""));
    assert!(
        out.contains(
            "Allow: GET, HEAD, OPTIONS, PUT, MKCOL, COPY, PROPFIND, PROPPATCH, LOCK, UNLOCK\r\n"
        ),
        "{out}"
    );
}

#[test]
fn copy_with_overwrite() {
    let f = fixture(&[], true, true);
    let cases: &[(&str, &str, u16)] = &[
        ("COPY /a.txt", "Destination: /c.txt\n", 201),
        ("COPY /a.txt", "Destination: /b.txt\nOverwrite: F\n", 412),
        ("COPY /a.txt", "Destination: /b.txt\n", 204),
        ("COPY /d/", "Destination: /deep/\n", 201),
        ("COPY /d/", "Destination: /shallow/\nDepth: 0\n", 201),
        ("COPY /d/", "Destination: /one/\nDepth: 1\n", 400),
        ("COPY /d/", "Destination: /d/e/d/\n", 403),
        ("COPY /d", "Destination: /d\n", 403),
        ("COPY /d/", "Destination: /pub/\n", 204),
        ("COPY /.env", "Destination: /env\n", 403),
        ("COPY /a.txt", "Destination: /.a\n", 403),
        ("COPY /missing", "Destination: /m\n", 404),
        ("COPY /a.txt", "Destination: /no/a.txt\n", 409),
        ("COPY /a.txt", "Destination: http://h:81/z\n", 502),
    ];
    for (line, headers, want) in cases {
        let (status, out) = f.ask(&req(line, headers, ""));
        assert_eq!(status, *want, "{line} {headers}\n{out}");
    }
    assert_eq!(
        (f.read("b.txt"), f.read("c.txt")),
        ("hello".into(), "hello".into())
    );
    assert_eq!(f.read("deep/e/y.txt"), "y");
    assert!(
        f.path("shallow").is_dir() && std::fs::read_dir(f.path("shallow")).unwrap().count() == 0
    );
    assert_eq!(f.read("pub/x.txt"), "x");
    assert!(!exists(&f.path("pub/p.txt")), "the old folder was replaced");
    assert_eq!(f.read("d/x.txt"), "x", "the source stays");
}

#[test]
fn copy_is_bounded_like_an_upload() {
    let f = fixture(&[], true, true);
    std::fs::write(f.path("big.bin"), vec![0u8; 2000]).unwrap();
    assert_eq!(
        f.ask(&req("COPY /big.bin", "Destination: /big2\n", "")).0,
        507
    );
    assert!(!exists(&f.path("big2")));
}

/// alice writes in `team`, bob only reads it; anyone reads `pub` and writes
/// in `drop`.
const RULES: &[&str] = &[
    "alice:wonderland@/team:rw",
    "bob:builder@/team",
    "@/pub,/drop:rw",
];

#[test]
fn rules_apply_to_the_source_and_the_destination() {
    let f = fixture(RULES, true, true);
    let alice = basic("alice", "wonderland");
    let bob = basic("bob", "builder");
    let dest = |to: &str| format!("Destination: {to}\n");
    let cases: Vec<(&str, String, u16)> = vec![
        // The destination is a write: a read-only user, or anyone outside
        // their grants, is refused there.
        (
            "COPY /pub/p.txt",
            format!("{bob}{}", dest("/team/p.txt")),
            403,
        ),
        ("COPY /pub/p.txt", dest("/team/p.txt"), 401),
        ("MOVE /drop/k.txt", dest("/team/k.txt"), 401),
        (
            "MOVE /drop/k.txt",
            format!("{bob}{}", dest("/team/k.txt")),
            403,
        ),
        (
            "COPY /pub/p.txt",
            format!("{alice}{}", dest("/private/p.txt")),
            403,
        ),
        // MOVE writes its source: bob may read team, not take from it.
        (
            "MOVE /team/t.txt",
            format!("{bob}{}", dest("/drop/t.txt")),
            403,
        ),
        ("MOVE /pub/p.txt", dest("/drop/p.txt"), 403),
        // COPY reads its source: bob may copy team's file into drop.
        (
            "COPY /team/t.txt",
            format!("{bob}{}", dest("/drop/t.txt")),
            201,
        ),
        ("COPY /private/s.txt", dest("/drop/s.txt"), 404),
        ("COPY /team/t.txt", dest("/drop/t2.txt"), 401),
        // A folder one only passes through is not theirs to copy whole
        // (anonymous: a login might help; bob: not found, as to a GET).
        ("COPY /", dest("/drop/all/"), 401),
        ("COPY /", format!("{bob}{}", dest("/drop/all/")), 404),
        // Within their grants, both work.
        (
            "MOVE /team/t.txt",
            format!("{alice}{}", dest("/team/t2.txt")),
            201,
        ),
        ("MOVE /drop/k.txt", dest("/drop/k2.txt"), 201),
        ("COPY /pub/", format!("{alice}{}", dest("/team/pub/")), 201),
    ];
    for (line, headers, want) in &cases {
        let (status, out) = f.ask(&req(line, headers, ""));
        assert_eq!(status, *want, "{line} {headers}\n{out}");
    }
    assert_eq!(f.read("drop/t.txt"), "team");
    assert_eq!(f.read("team/t2.txt"), "team");
    assert_eq!(f.read("team/pub/p.txt"), "public");
    assert_eq!(f.read("pub/p.txt"), "public");
    assert!(!exists(&f.path("drop/s.txt")) && !exists(&f.path("drop/all")));
}

#[test]
fn a_read_only_rule_refuses_every_verb() {
    let f = fixture(&["bob:builder@/"], true, true);
    let bob = basic("bob", "builder");
    let dest = format!("{bob}Destination: /new\n");
    for (line, headers, body) in [
        ("PUT /new.txt", bob.clone(), "data"),
        ("MKCOL /n/", bob.clone(), ""),
        ("DELETE /a.txt", bob.clone(), ""),
        ("MOVE /a.txt", dest.clone(), ""),
        ("COPY /a.txt", dest.clone(), ""),
    ] {
        assert_eq!(f.ask(&req(line, &headers, body)).0, 403, "{line}");
    }
    assert!(!exists(&f.path("new")) && !exists(&f.path("new.txt")) && exists(&f.path("a.txt")));
}
