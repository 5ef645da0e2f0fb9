//! WebDAV over byte strings with a fake clock: properties, dead properties
//! kept across a restart, locks with their timeouts and the `If` header,
//! bounds, and the refusals of a read-only share.

use crate::http::{AnchoredClock, HttpConfig, HttpContext, HttpService, HttpSession};
use crate::root::Root;
use crate::testing::Harness;
use crate::Service;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

struct Fixture {
    dir: tempfile::TempDir,
    service: HttpService,
    t0: Instant,
}

fn service(dir: &std::path::Path, t0: Instant, tweak: &dyn Fn(&mut HttpConfig)) -> HttpService {
    let mut config = HttpConfig {
        model: "test".into(),
        upload: true,
        overwrite: true,
        ..HttpConfig::default()
    };
    tweak(&mut config);
    let clock = AnchoredClock {
        instant: t0,
        wall: UNIX_EPOCH + Duration::from_secs(784_111_777),
    };
    HttpService::new(
        Root::open(dir).unwrap(),
        config,
        HttpContext::new(t0, Arc::new(clock)),
    )
}

fn fixture(tweak: impl Fn(&mut HttpConfig)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "hello").unwrap();
    std::fs::write(dir.path().join("a b&c.txt"), "x").unwrap();
    std::fs::write(dir.path().join(".secret"), "s").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let t0 = Instant::now();
    let service = service(dir.path(), t0, &tweak);
    Fixture { dir, service, t0 }
}

impl Fixture {
    fn session(&self) -> Client<'_> {
        Client {
            service: &self.service,
            now: self.t0,
        }
    }
}

/// A client that opens a connection per request (a refused request with a
/// body closes its connection), on a clock the test moves.
struct Client<'a> {
    service: &'a HttpService,
    now: Instant,
}

impl Client<'_> {
    fn send(&mut self, bytes: &[u8]) -> Vec<u8> {
        let peer = "127.0.0.1:5555".parse().ok();
        let mut h: Harness<HttpSession> =
            Harness::new(self.service.new_session(peer, self.now), self.now);
        h.send(bytes)
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }
}

/// One request with a body; the whole reply as text.
fn ask(h: &mut Client<'_>, method: &str, path: &str, headers: &str, body: &str) -> String {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    String::from_utf8_lossy(&h.send(req.as_bytes())).into_owned()
}

fn status(reply: &str) -> u16 {
    reply[9..12].parse().unwrap()
}

fn token(reply: &str) -> String {
    let at = reply.find("Lock-Token: <").unwrap() + 13;
    reply[at..].split('>').next().unwrap().to_owned()
}

const LOCK_EXCL: &str = "<?xml version=\"1.0\"?><D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>me</D:owner></D:lockinfo>";
const LOCK_SHARED: &str = "<lockinfo xmlns=\"DAV:\"><lockscope><shared/></lockscope><locktype><write/></locktype></lockinfo>";

#[test]
fn options_announce_class_1_and_2() {
    let f = fixture(|_| {});
    let out = ask(&mut f.session(), "OPTIONS", "/", "", "");
    assert!(out.contains("DAV: 1, 2\r\n"), "{out}");
    assert!(out.contains("MS-Author-Via: DAV\r\n"), "{out}");
    assert!(out.contains("PROPFIND"), "{out}");
}

#[test]
fn propfind_depth_1_lists_visible_entries_with_encoded_hrefs_and_get_etags() {
    let f = fixture(|_| {});
    let mut h = f.session();
    let out = ask(&mut h, "PROPFIND", "/", "Depth: 1\r\n", "");
    assert_eq!(status(&out), 207, "{out}");
    assert!(out.contains("HTTP/1.1 207 Multi-Status"), "{out}");
    assert!(out.contains("<D:href>/a%20b%26c.txt</D:href>"), "{out}");
    assert!(out.contains("<D:href>/sub/</D:href>"), "{out}");
    assert!(
        !out.contains("secret"),
        "hidden names are not listed: {out}"
    );
    assert!(
        out.contains("<D:getcontentlength>5</D:getcontentlength>"),
        "{out}"
    );
    let get =
        String::from_utf8_lossy(&h.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")).into_owned();
    let etag = get
        .split("ETag: ")
        .nth(1)
        .unwrap()
        .split("\r\n")
        .next()
        .unwrap();
    let escaped = etag.replace('"', "&quot;");
    assert!(
        out.contains(&format!("<D:getetag>{escaped}</D:getetag>")),
        "{out}"
    );
}

#[test]
fn propfind_depth_infinity_or_none_is_refused_with_the_precondition() {
    let f = fixture(|_| {});
    let mut h = f.session();
    for depth in ["", "Depth: infinity\r\n"] {
        let out = ask(&mut h, "PROPFIND", "/", depth, "");
        assert_eq!(status(&out), 403, "{out}");
        assert!(out.contains("<D:propfind-finite-depth/>"), "{out}");
    }
    assert_eq!(
        status(&ask(&mut h, "PROPFIND", "/", "Depth: 2\r\n", "")),
        400
    );
}

#[test]
fn named_propname_and_malformed_bodies() {
    let f = fixture(|_| {});
    let mut h = f.session();
    let body = "<propfind xmlns=\"DAV:\" xmlns:z=\"urn:z\"><prop><displayname/><z:nothing/></prop></propfind>";
    let out = ask(&mut h, "PROPFIND", "/a.txt", "Depth: 0\r\n", body);
    assert!(
        out.contains("<D:displayname>a.txt</D:displayname>"),
        "{out}"
    );
    assert!(
        out.contains("<nothing xmlns=\"urn:z\"/></D:prop><D:status>HTTP/1.1 404 Not Found"),
        "{out}"
    );
    // Prefixes are resolved: a DAV: element under another prefix is the same.
    let body = "<x:propfind xmlns:x=\"DAV:\"><x:propname/></x:propfind>";
    let out = ask(&mut h, "PROPFIND", "/a.txt", "Depth: 0\r\n", body);
    assert!(out.contains("<D:getetag/>"), "{out}");
    // Same local name in another namespace is not DAV's.
    let body = "<propfind xmlns=\"urn:other\"><allprop/></propfind>";
    assert_eq!(
        status(&ask(&mut h, "PROPFIND", "/a.txt", "Depth: 0\r\n", body)),
        400
    );
    for bad in [
        "<propfind xmlns=\"DAV:\"><prop>",
        "<a><b></a></b>",
        "<p:x/>",
        "\u{0}",
    ] {
        let out = ask(&mut h, "PROPFIND", "/a.txt", "Depth: 0\r\n", bad);
        assert_eq!(status(&out), 400, "{bad}: {out}");
    }
    let big = format!(
        "<propfind xmlns=\"DAV:\"><allprop/>{}</propfind>",
        " ".repeat(60_000)
    );
    let out = ask(&mut h, "PROPFIND", "/a.txt", "Depth: 0\r\n", &big);
    assert_eq!(status(&out), 413, "{out}");
}

const SET: &str = "<D:propertyupdate xmlns:D=\"DAV:\" xmlns:Z=\"http://example.com/z\"><D:set><D:prop><Z:author>Ann &amp; <Z:b>Bo</Z:b></Z:author></D:prop></D:set></D:propertyupdate>";

#[test]
fn dead_properties_survive_a_restart_and_can_be_removed() {
    let f = fixture(|_| {});
    let out = ask(&mut f.session(), "PROPPATCH", "/a.txt", "", SET);
    assert_eq!(status(&out), 207, "{out}");
    assert!(out.contains("HTTP/1.1 200 OK"), "{out}");
    // A new service over the same folder: the property is kept with the file.
    let again = service(f.dir.path(), f.t0, &|_| {});
    let mut h = Client {
        service: &again,
        now: f.t0,
    };
    let find =
        "<propfind xmlns=\"DAV:\"><prop><author xmlns=\"http://example.com/z\"/></prop></propfind>";
    let out = ask(&mut h, "PROPFIND", "/a.txt", "Depth: 0\r\n", find);
    assert!(
        out.contains("<author xmlns=\"http://example.com/z\">Ann &amp; <b xmlns=\"http://example.com/z\">Bo</b></author>"),
        "{out}"
    );
    let remove = "<propertyupdate xmlns=\"DAV:\"><remove><prop><author xmlns=\"http://example.com/z\"/></prop></remove></propertyupdate>";
    assert_eq!(status(&ask(&mut h, "PROPPATCH", "/a.txt", "", remove)), 207);
    let out = ask(&mut h, "PROPFIND", "/a.txt", "Depth: 0\r\n", find);
    assert!(out.contains("404 Not Found"), "{out}");
}

#[test]
fn proppatch_of_a_live_property_fails_all_or_nothing() {
    let f = fixture(|_| {});
    let mut h = f.session();
    let body = "<propertyupdate xmlns=\"DAV:\"><set><prop><getetag>x</getetag><mine xmlns=\"urn:m\">1</mine></prop></set></propertyupdate>";
    let out = ask(&mut h, "PROPPATCH", "/a.txt", "", body);
    assert!(
        out.contains("<D:getetag/></D:prop><D:status>HTTP/1.1 403"),
        "{out}"
    );
    assert!(
        out.contains("<mine xmlns=\"urn:m\"/></D:prop><D:status>HTTP/1.1 424"),
        "{out}"
    );
    let find = "<propfind xmlns=\"DAV:\"><prop><mine xmlns=\"urn:m\"/></prop></propfind>";
    assert!(ask(&mut h, "PROPFIND", "/a.txt", "Depth: 0\r\n", find).contains("404 Not Found"));
}

#[test]
fn an_exclusive_lock_guards_writes_until_its_token_is_given() {
    let f = fixture(|_| {});
    let mut h = f.session();
    let out = ask(&mut h, "LOCK", "/a.txt", "Depth: 0\r\n", LOCK_EXCL);
    assert_eq!(status(&out), 200, "{out}");
    assert!(
        out.contains("<D:exclusive/>") && out.contains("<D:owner xmlns=\"DAV:\">me</D:owner>")
            || out.contains(">me</owner>"),
        "{out}"
    );
    let t = token(&out);
    assert_eq!(status(&ask(&mut h, "PUT", "/a.txt", "", "new")), 423);
    assert_eq!(
        status(&ask(&mut h, "LOCK", "/a.txt", "Depth: 0\r\n", LOCK_SHARED)),
        423
    );
    assert_eq!(status(&ask(&mut h, "PROPPATCH", "/a.txt", "", SET)), 423);
    assert_eq!(status(&ask(&mut h, "DELETE", "/a.txt", "", "")), 423);
    let wrong = "If: (<urn:uuid:00000000-0000-0000-0000-000000000000>)\r\n";
    assert_eq!(status(&ask(&mut h, "PUT", "/a.txt", wrong, "new")), 412);
    let not = format!("If: (<{t}>) (Not <DAV:no-lock>)\r\n");
    assert_eq!(status(&ask(&mut h, "PUT", "/a.txt", &not, "new")), 204);
    // The ETag condition: a stale one fails, the current one holds.
    let stale = format!("If: (<{t}> [\"stale\"])\r\n");
    assert_eq!(status(&ask(&mut h, "PUT", "/a.txt", &stale, "x")), 412);
    let find = ask(&mut h, "PROPFIND", "/a.txt", "Depth: 0\r\n", "");
    assert!(find.contains(&t), "lockdiscovery shows the lock: {find}");
    let etag = find
        .split("<D:getetag>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .replace("&quot;", "\"");
    let fresh = format!("If: </a.txt> (<{t}> [{etag}])\r\n");
    assert_eq!(status(&ask(&mut h, "PUT", "/a.txt", &fresh, "y")), 204);
    assert_eq!(
        status(&ask(
            &mut h,
            "UNLOCK",
            "/a.txt",
            "Lock-Token: <nope>\r\n",
            ""
        )),
        409
    );
    let unlock = format!("Lock-Token: <{t}>\r\n");
    assert_eq!(status(&ask(&mut h, "UNLOCK", "/a.txt", &unlock, "")), 204);
    assert_eq!(status(&ask(&mut h, "PUT", "/a.txt", "", "free")), 204);
}

#[test]
fn shared_locks_coexist_and_a_folder_lock_covers_its_members() {
    let f = fixture(|_| {});
    let mut h = f.session();
    assert_eq!(status(&ask(&mut h, "LOCK", "/a.txt", "", LOCK_SHARED)), 200);
    assert_eq!(status(&ask(&mut h, "LOCK", "/a.txt", "", LOCK_SHARED)), 200);
    assert_eq!(status(&ask(&mut h, "LOCK", "/a.txt", "", LOCK_EXCL)), 423);
    let out = ask(&mut h, "LOCK", "/sub/", "Depth: infinity\r\n", LOCK_EXCL);
    let t = token(&out);
    assert_eq!(status(&ask(&mut h, "PUT", "/sub/new.txt", "", "n")), 423);
    let with = format!("If: (<{t}>)\r\n");
    assert_eq!(status(&ask(&mut h, "PUT", "/sub/new.txt", &with, "n")), 201);
    // A lock on an unmapped name makes an empty file.
    let out = ask(&mut h, "LOCK", "/fresh.txt", "", LOCK_EXCL);
    assert_eq!(status(&out), 201, "{out}");
    assert_eq!(std::fs::read(f.dir.path().join("fresh.txt")).unwrap(), b"");
}

#[test]
fn locks_expire_and_refresh_by_their_timeout() {
    let f = fixture(|_| {});
    let mut h = f.session();
    let out = ask(
        &mut h,
        "LOCK",
        "/a.txt",
        "Timeout: Second-100\r\n",
        LOCK_EXCL,
    );
    assert!(out.contains("Second-100"), "{out}");
    let t = token(&out);
    h.advance(Duration::from_secs(90));
    let refresh = format!("If: (<{t}>)\r\nTimeout: Infinite\r\n");
    let out = ask(&mut h, "LOCK", "/a.txt", &refresh, "");
    assert_eq!(status(&out), 200, "{out}");
    assert!(out.contains("Second-3600"), "bounded to an hour: {out}");
    h.advance(Duration::from_secs(3599));
    assert_eq!(status(&ask(&mut h, "PUT", "/a.txt", "", "x")), 423);
    h.advance(Duration::from_secs(2));
    assert_eq!(status(&ask(&mut h, "PUT", "/a.txt", "", "x")), 204);
}

#[test]
fn one_address_holds_a_bounded_number_of_locks() {
    let f = fixture(|_| {});
    let mut h = f.session();
    for i in 0..super::lock::MAX_PER_ADDRESS {
        let out = ask(&mut h, "LOCK", &format!("/l{i}"), "", LOCK_EXCL);
        assert_eq!(status(&out), 201, "{out}");
    }
    assert_eq!(
        status(&ask(&mut h, "LOCK", "/one-more", "", LOCK_EXCL)),
        503
    );
}

#[test]
fn a_read_only_share_refuses_every_dav_write() {
    let f = fixture(|c| c.upload = false);
    let mut h = f.session();
    for (method, body) in [
        ("PROPPATCH", SET),
        ("LOCK", LOCK_EXCL),
        ("UNLOCK", ""),
        ("PUT", "x"),
    ] {
        let out = ask(&mut h, method, "/a.txt", "Lock-Token: <x>\r\n", body);
        assert_eq!(status(&out), 403, "{method}: {out}");
    }
    assert_eq!(
        status(&ask(&mut h, "PROPFIND", "/", "Depth: 1\r\n", "")),
        207
    );
}

#[test]
fn services_sharing_one_lock_table_see_each_others_locks() {
    // What `--model fork` does: every child's service holds the same table
    // (there in shared memory), so a lock one takes guards the others.
    let f = fixture(|c| c.model = "fork".into());
    let store: Arc<dyn crate::http::LockStore> = Arc::new(crate::http::LockTable::boxed());
    let make = || {
        let mut context = HttpContext::new(
            f.t0,
            Arc::new(AnchoredClock {
                instant: f.t0,
                wall: UNIX_EPOCH,
            }),
        );
        context.locks = Arc::clone(&store);
        HttpService::new(
            Root::open(f.dir.path()).unwrap(),
            HttpConfig {
                upload: true,
                overwrite: true,
                model: "fork".into(),
                ..HttpConfig::default()
            },
            context,
        )
    };
    let (one, two) = (make(), make());
    let mut a = Client {
        service: &one,
        now: f.t0,
    };
    let mut b = Client {
        service: &two,
        now: f.t0,
    };
    assert!(ask(&mut a, "OPTIONS", "/", "", "").contains("DAV: 1, 2\r\n"));
    let out = ask(&mut a, "LOCK", "/a.txt", "", LOCK_EXCL);
    assert_eq!(status(&out), 200, "{out}");
    let t = token(&out);
    assert_eq!(status(&ask(&mut b, "PUT", "/a.txt", "", "new")), 423);
    assert_eq!(status(&ask(&mut b, "LOCK", "/a.txt", "", LOCK_EXCL)), 423);
    let with = format!("If: (<{t}>)\r\n");
    assert_eq!(status(&ask(&mut b, "PUT", "/a.txt", &with, "new")), 204);
    let unlock = format!("Lock-Token: <{t}>\r\n");
    assert_eq!(status(&ask(&mut b, "UNLOCK", "/a.txt", &unlock, "")), 204);
    assert_eq!(status(&ask(&mut a, "PUT", "/a.txt", "", "free")), 204);
}

#[test]
fn lock_tokens_are_distinct_version_4_uuids() {
    let f = fixture(|_| {});
    let mut h = f.session();
    let mut seen = std::collections::HashSet::new();
    for i in 0..20 {
        let out = ask(&mut h, "LOCK", &format!("/n{i}"), "", LOCK_SHARED);
        assert_eq!(status(&out), 201, "{out}");
        let t = token(&out);
        let uuid = t.strip_prefix("urn:uuid:").unwrap();
        assert_eq!(uuid.len(), 36, "{t}");
        assert_eq!(&uuid[14..15], "4", "{t}");
        assert!(seen.insert(t));
    }
}

#[test]
fn windows_writes_a_file_under_a_lock_with_its_win32_properties() {
    // The Windows WebDAV redirector: LOCK the new name (an empty file),
    // PUT and PROPPATCH its Win32 times with the token, then UNLOCK.
    let f = fixture(|_| {});
    let mut h = f.session();
    let out = ask(
        &mut h,
        "LOCK",
        "/doc.docx",
        "Timeout: Second-3600\r\n",
        LOCK_EXCL,
    );
    assert_eq!(status(&out), 201, "{out}");
    let t = token(&out);
    let with = format!("If: (<{t}>)\r\n");
    assert_eq!(
        status(&ask(&mut h, "PUT", "/doc.docx", &with, "bytes")),
        204
    );
    let win32 = "<D:propertyupdate xmlns:D=\"DAV:\" xmlns:Z=\"urn:schemas-microsoft-com:\"><D:set><D:prop><Z:Win32CreationTime>Tue, 08 Dec 2026 03:00:00 GMT</Z:Win32CreationTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>";
    let out = ask(&mut h, "PROPPATCH", "/doc.docx", &with, win32);
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 1, "{out}");
    assert!(!out.contains("424") && !out.contains("403"), "{out}");
    let unlock = format!("Lock-Token: <{t}>\r\n");
    assert_eq!(
        status(&ask(&mut h, "UNLOCK", "/doc.docx", &unlock, "")),
        204
    );
    let find = "<propfind xmlns=\"DAV:\"><prop><Win32FileAttributes xmlns=\"urn:schemas-microsoft-com:\"/><getcontentlength/></prop></propfind>";
    let out = ask(&mut h, "PROPFIND", "/doc.docx", "Depth: 0\r\n", find);
    assert!(out.contains(">00000020</Win32FileAttributes>"), "{out}");
    assert!(out.contains("<D:getcontentlength>5<"), "{out}");
}

#[test]
fn finder_dot_underscore_files_are_files_where_hidden_names_are_served() {
    // Finder writes `._name` beside each file it copies. They start with a
    // dot, so the share's hidden-name rule applies: refused without
    // `--hidden`, and plain files with it.
    let f = fixture(|_| {});
    let mut h = f.session();
    assert_eq!(status(&ask(&mut h, "PUT", "/._a.txt", "", "apple")), 403);
    let t0 = Instant::now();
    let hidden = HttpService::new(
        Root::open(f.dir.path()).unwrap().with_hidden(true),
        HttpConfig {
            upload: true,
            overwrite: true,
            ..HttpConfig::default()
        },
        HttpContext::new(
            t0,
            Arc::new(AnchoredClock {
                instant: t0,
                wall: UNIX_EPOCH,
            }),
        ),
    );
    let mut h = Client {
        service: &hidden,
        now: t0,
    };
    assert_eq!(status(&ask(&mut h, "PUT", "/._a.txt", "", "apple")), 201);
    let out = ask(&mut h, "PROPFIND", "/", "Depth: 1\r\n", "");
    assert!(
        out.contains("<D:href>/._a.txt</D:href><D:propstat><D:prop><D:resourcetype/>"),
        "{out}"
    );
    assert_eq!(status(&ask(&mut h, "DELETE", "/._a.txt", "", "")), 204);
}

#[test]
fn a_body_arriving_in_pieces_is_waited_for_under_the_header_timer() {
    let f = fixture(|_| {});
    let body = "<propfind xmlns=\"DAV:\"><prop><displayname/></prop></propfind>";
    let head = format!(
        "PROPFIND /a.txt HTTP/1.1\r\nHost: x\r\nDepth: 0\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let peer = "127.0.0.1:5555".parse().ok();
    let mut h: Harness<HttpSession> = Harness::new(f.service.new_session(peer, f.t0), f.t0);
    let first = format!("{head}{}", &body[..20]);
    assert!(
        h.send(first.as_bytes()).is_empty(),
        "nothing before the whole body"
    );
    let out = String::from_utf8_lossy(&h.send(&body.as_bytes()[20..])).into_owned();
    assert!(
        out.contains("<D:displayname>a.txt</D:displayname>"),
        "{out}"
    );
    // A body that stops coming: the header timer ends it with 408.
    let mut h: Harness<HttpSession> = Harness::new(f.service.new_session(peer, f.t0), f.t0);
    assert!(h.send(first.as_bytes()).is_empty());
    let out = String::from_utf8_lossy(&h.advance(Duration::from_secs(61))).into_owned();
    assert!(out.starts_with("HTTP/1.1 408"), "{out}");
}

mod sidecar;
