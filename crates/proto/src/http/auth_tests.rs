//! Accounts and rules over HTTP, without a socket: Basic logins, what each
//! visitor may read and write (a table), filtered listings, the login route,
//! the access log's user, and the 429 after guessing, with a fake clock.

use super::*;
use crate::access::Access;
use crate::testing::Harness;
use base64::Engine as _;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

#[derive(Default)]
struct Lines(Mutex<Vec<u8>>);

impl AccessLog for Lines {
    fn record(&self, line: &[u8]) {
        self.0.lock().unwrap().extend_from_slice(line);
    }
}

/// alice writes in `team`, bob only reads it; anyone reads `pub` and
/// writes in `drop`.
const RULES: &[&str] = &[
    "alice:wonderland@/team:rw",
    "bob:builder@/team",
    "@/pub,/drop:rw",
];

struct Fixture {
    _dir: tempfile::TempDir,
    service: HttpService,
    log: Arc<Lines>,
    t0: Instant,
}

fn fixture(rules: &[&str], tweak: impl FnOnce(&mut HttpConfig)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("a.txt", "root"),
        ("pub/p.txt", "public"),
        ("team/t.txt", "team"),
        ("team/old.txt", "old"),
        ("team/sub/s.txt", "deeper"),
        ("private/x.txt", "nobody's"),
        ("drop/d.txt", "dropped"),
    ] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    let mut config = HttpConfig {
        upload: true,
        overwrite: true,
        model: "test".into(),
        ..HttpConfig::default()
    };
    tweak(&mut config);
    let t0 = Instant::now();
    let clock = AnchoredClock {
        instant: t0,
        wall: UNIX_EPOCH + Duration::from_secs(784_111_777),
    };
    let log = Arc::new(Lines::default());
    let mut context = HttpContext::new(t0, Arc::new(clock));
    context.log = Some(log.clone());
    context.access = Arc::new(Access::parse(rules).expect("rules parse"));
    let root = Root::open(dir.path()).unwrap();
    Fixture {
        _dir: dir,
        service: HttpService::new(root, config, context),
        log,
        t0,
    }
}

impl Fixture {
    fn session(&self) -> Harness<HttpSession> {
        let peer = "127.0.0.1:5555".parse().ok();
        Harness::new(self.service.new_session(peer, self.t0), self.t0)
    }
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Authorization: Basic {token}\r\n")
}

/// One request (with a small body for PUT), its whole reply as text.
fn request(h: &mut Harness<HttpSession>, method: &str, path: &str, auth: &str) -> String {
    let body = if method == "PUT" { "data" } else { "" };
    let length = if method == "PUT" {
        "Content-Length: 4\r\n"
    } else {
        ""
    };
    let out = h.send(
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}{length}\r\n{body}").as_bytes(),
    );
    String::from_utf8_lossy(&out).into_owned()
}

fn status(reply: &str) -> u16 {
    reply
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {reply:?}"))
}

#[test]
fn who_may_do_what() {
    let f = fixture(RULES, |_| {});
    let alice = basic("alice", "wonderland");
    let bob = basic("bob", "builder");
    let wrong = basic("alice", "rabbit");
    let cases: &[(&str, &str, &str, u16)] = &[
        // Anonymous: the public folder, a login asked for elsewhere.
        ("GET", "/pub/p.txt", "", 200),
        ("HEAD", "/pub/p.txt", "", 200),
        ("GET", "/team/t.txt", "", 401),
        ("PUT", "/team/new.txt", "", 401),
        ("DELETE", "/team/t.txt", "", 401),
        // An anonymous rule with `:rw`: anyone writes there.
        ("PUT", "/drop/new.txt", "", 201),
        ("DELETE", "/drop/d.txt", "", 204),
        ("PUT", "/pub/new.txt", "", 403),
        // A wrong password is a 401 wherever it is sent, even where anyone reads.
        ("GET", "/team/t.txt", &wrong, 401),
        ("GET", "/pub/p.txt", &wrong, 401),
        // The read-only user reads, and every write is refused.
        ("GET", "/team/t.txt", &bob, 200),
        ("GET", "/team/sub/s.txt", &bob, 200),
        ("PUT", "/team/new.txt", &bob, 403),
        ("PUT", "/team/t.txt", &bob, 403),
        ("DELETE", "/team/t.txt", &bob, 403),
        // The writer writes below the folder.
        ("PUT", "/team/new.txt", &alice, 201),
        ("PUT", "/team/sub/deep.txt", &alice, 201),
        ("DELETE", "/team/old.txt", &alice, 204),
        ("GET", "/team/new.txt", &alice, 200),
        // Nobody's folder: not found to a user as to anyone; not theirs to write.
        ("GET", "/private/x.txt", &alice, 404),
        ("GET", "/private/x.txt", "", 404),
        ("PUT", "/private/y.txt", &alice, 403),
        // OPTIONS touches no file.
        ("OPTIONS", "/team/t.txt", "", 204),
    ];
    for (method, path, auth, want) in cases {
        let mut h = f.session();
        let reply = request(&mut h, method, path, auth);
        assert_eq!(status(&reply), *want, "{method} {path} {auth}\n{reply}");
        if *want == 401 {
            assert!(
                reply.contains("WWW-Authenticate: Basic realm=\"netkit\", charset=\"UTF-8\"\r\n"),
                "{reply}"
            );
        }
    }
    assert_eq!(
        std::fs::read_to_string(f._dir.path().join("team/new.txt")).unwrap(),
        "data"
    );
    assert!(
        f._dir.path().join("team/t.txt").exists(),
        "bob deleted nothing"
    );
}

#[test]
fn uploads_and_overwrite_stay_the_master_switches() {
    let alice = basic("alice", "wonderland");
    let f = fixture(RULES, |c| c.upload = false);
    let mut h = f.session();
    assert_eq!(status(&request(&mut h, "PUT", "/team/n.txt", &alice)), 403);
    let f = fixture(RULES, |c| c.overwrite = false);
    let mut h = f.session();
    assert_eq!(
        status(&request(&mut h, "DELETE", "/team/t.txt", &alice)),
        403
    );
    assert_eq!(status(&request(&mut h, "PUT", "/team/t.txt", &alice)), 409);
}

#[test]
fn listings_show_only_what_the_visitor_may_reach() {
    let f = fixture(RULES, |_| {});
    let names = |auth: &str, path: &str| -> Vec<String> {
        let mut h = f.session();
        let out = h.send(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n{auth}\r\n")
                .as_bytes(),
        );
        let out = String::from_utf8_lossy(&out).into_owned();
        assert_eq!(status(&out), 200, "{out}");
        let body = out.split("\r\n\r\n").nth(1).unwrap();
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // The root is nobody's: it lists only the ways to granted folders.
    assert_eq!(names("", "/"), ["drop", "pub"]);
    assert_eq!(
        names(&basic("bob", "builder"), "/"),
        ["drop", "pub", "team"]
    );
    assert_eq!(
        names(&basic("bob", "builder"), "/team/"),
        ["sub", "old.txt", "t.txt"]
    );
    // The HTML listing leaves them out as well; a file in a passed folder is not served.
    let mut h = f.session();
    let page = request(&mut h, "GET", "/", "");
    assert!(page.contains("href=\"pub/\"") && !page.contains("team") && !page.contains("a.txt"));
    assert!(!page.contains("private"), "{page}");
    assert_eq!(status(&request(&mut h, "GET", "/a.txt", "")), 404);
}

#[test]
fn archives_and_searches_cover_only_folders_read_whole() {
    let f = fixture(RULES, |_| {});
    let bob = basic("bob", "builder");
    let mut h = f.session();
    // The root is only passed through: neither its archive nor a search of it
    // may reveal what lies in folders the visitor may not read.
    for path in ["/?zip", "/?q=txt"] {
        for auth in ["", bob.as_str()] {
            let reply = request(&mut h, "GET", path, auth);
            assert_ne!(status(&reply), 200, "{path}: {reply}");
            assert!(
                !reply.contains("nobody's") && !reply.contains("x.txt"),
                "{reply}"
            );
        }
    }
    // A folder read whole is archived and searched.
    let zip = request(&mut f.session(), "GET", "/team/?zip", &bob);
    assert_eq!(status(&zip), 200, "{zip}");
    assert!(zip.contains("t.txt") && zip.contains("deeper"), "{zip}");
    let found = request(&mut f.session(), "GET", "/team/?q=s.t", &bob);
    assert_eq!(status(&found), 200, "{found}");
    assert!(found.contains("s.txt"), "{found}");
    let public = request(&mut f.session(), "GET", "/pub/?zip", "");
    assert_eq!(status(&public), 200, "{public}");
    assert!(public.contains("public"), "{public}");
}

#[test]
fn a_keep_alive_client_is_logged_by_name_and_a_new_header_is_checked_again() {
    let f = fixture(RULES, |_| {});
    let mut h = f.session();
    let alice = basic("alice", "wonderland");
    for _ in 0..3 {
        assert_eq!(status(&request(&mut h, "GET", "/team/t.txt", &alice)), 200);
    }
    assert_eq!(status(&request(&mut h, "GET", "/pub/p.txt", "")), 200);
    // Another header on the same connection is checked again.
    assert_eq!(
        status(&request(&mut h, "GET", "/team/t.txt", &basic("alice", "x"))),
        401
    );
    let log = String::from_utf8(f.log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines[0].starts_with(
            "127.0.0.1 - alice [06/Nov/1994:08:49:37 +0000] \"GET /team/t.txt HTTP/1.1\" 200 4"
        ),
        "{log}"
    );
    assert!(lines[3].starts_with("127.0.0.1 - - ["), "{log}");
    assert!(
        lines[4].starts_with("127.0.0.1 - - [") && lines[4].ends_with(" 401 17"),
        "{log}"
    );
}

#[test]
fn the_login_route_asks_until_credentials_come_then_goes_back() {
    let f = fixture(RULES, |_| {});
    let mut h = f.session();
    let reply = request(&mut h, "GET", "/_netkit/login?to=/team/", "");
    assert_eq!(status(&reply), 401, "{reply}");
    assert!(reply.contains("WWW-Authenticate: Basic"), "{reply}");
    let alice = basic("alice", "wonderland");
    for (to, location) in [
        ("?to=/team/%23x", "/team/#x"),
        ("", "/"),
        ("?to=//evil.com/", "/evil.com/"),
        ("?to=http://evil.com/", "/"),
        ("?to=/a%0d%0aSet-Cookie:%20x=1", "/a%0D%0ASet-Cookie:%20x=1"),
        ("?to=/%C3%A9t%C3%A9/", "/%C3%A9t%C3%A9/"),
    ] {
        let reply = request(&mut h, "GET", &format!("/_netkit/login{to}"), &alice);
        assert_eq!(status(&reply), 303, "{reply}");
        assert!(
            reply.contains(&format!("\r\nLocation: {location}\r\n")),
            "{to}: {reply}"
        );
        assert!(reply.contains("Content-Length: 0\r\n"), "{reply}");
    }
    // Without accounts there is nothing to log in to.
    let open = fixture(&[], |_| {});
    let mut h = open.session();
    assert_eq!(status(&request(&mut h, "GET", "/_netkit/login", "")), 404);
}

#[test]
fn stats_follow_the_rule_of_the_root() {
    // Anyone may pass through the root to `pub`: the counters are theirs to see.
    let f = fixture(RULES, |_| {});
    let mut h = f.session();
    assert_eq!(status(&request(&mut h, "GET", STATS_PATH, "")), 200);
    // Without an anonymous rule, only a user sees them.
    let f = fixture(&RULES[..2], |_| {});
    let mut h = f.session();
    assert_eq!(status(&request(&mut h, "GET", STATS_PATH, "")), 401);
    let bob = basic("bob", "builder");
    assert_eq!(status(&request(&mut h, "GET", STATS_PATH, &bob)), 200);
}

#[test]
fn ten_wrong_passwords_shut_the_address_out_until_the_minute_ends() {
    let f = fixture(RULES, |_| {});
    let mut h = f.session();
    let wrong = basic("alice", "guess");
    for i in 0..10 {
        assert_eq!(
            status(&request(&mut h, "GET", "/team/t.txt", &wrong)),
            401,
            "guess {i}"
        );
    }
    // Now every request from the address is refused, right password or none.
    for auth in [basic("alice", "wonderland"), String::new()] {
        let reply = request(&mut h, "GET", "/pub/p.txt", &auth);
        assert_eq!(status(&reply), 429, "{reply}");
        let retry: u64 = reply
            .split("\r\nRetry-After: ")
            .nth(1)
            .and_then(|r| r.split("\r\n").next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("Retry-After: {reply}"));
        assert!((1..=60).contains(&retry), "{retry}");
    }
    // Another connection from the same address is no way round it.
    let mut other = f.session();
    assert_eq!(status(&request(&mut other, "GET", "/pub/p.txt", "")), 429);
    // Once the minute is over, the right password works again.
    h.advance(Duration::from_secs(61));
    let alice = basic("alice", "wonderland");
    assert_eq!(status(&request(&mut h, "GET", "/team/t.txt", &alice)), 200);
}
