//! The traversal corpus (`tests/data/traversal.txt`) replayed against every
//! file-serving front: HTTP GET, HEAD, PUT and DELETE and the files protocol's
//! GET, PUT, LIST, LIST <folder>, MKDIR, MOVE and DELETE under every `--model`, and TFTP RRQ and WRQ (UDP: one
//! loop, no models). Servers run with `--upload --overwrite`, the most
//! exposed configuration.
//!
//! What must hold: no reply carries a canary's bytes (or its length, or
//! /etc/passwd); no file, directory or link outside the root is created,
//! changed or removed; every server still serves a normal request afterwards.
//!
//! Hidden names (a component starting with `.`: `.env`, `.ssh/…`,
//! `a/.git/config`) are neither listed, served nor written by any service —
//! files protocol, TFTP, and all of them in `netkit up` — unless `--hidden`;
//! refused, they answer exactly as a missing name does (ERR 404, TFTP error 1,
//! HTTP 404), so nobody learns they exist.
//!
//! Hard links: `root/hardlink.txt` is a hard link to a file outside. A hard
//! link *is* that file — no path resolution can tell it from a regular file —
//! so reading it serves its bytes (a documented limit, see SECURITY.md: only
//! someone who can write the served tree can make one). Writing never goes
//! through it: uploads write a fresh temporary and rename it over the name,
//! and DELETE unlinks the name, so the outside file keeps its bytes; that
//! part is asserted here.

use crate::common;
use crate::hardening_support;

use hardening_support::*;

const BODY: &[u8] = b"PWNED by the traversal corpus\n";

/// Replays the corpus over HTTP; returns how many requests were sent.
fn http_corpus(tree: &Tree, model: &str) -> usize {
    let server = start("http", tree.root_str(), model, &["--quiet"]);
    let addr = server.addr();
    let cases = corpus(tree.base());
    let writes = for_writes(&cases);
    let before = tree.outside_snapshot();
    let target = |bytes: &[u8]| -> Vec<u8> {
        if bytes.starts_with(b"/") || bytes.starts_with(b"http:") {
            bytes.to_vec()
        } else {
            [&b"/"[..], bytes].concat()
        }
    };
    let mut sent = 0;
    for case in &cases {
        for method in ["GET", "HEAD"] {
            let head = http_head(method, &target(&case.bytes), "");
            let reply = http(addr, &head, b"").unwrap_or_default();
            tree.assert_clean(&format!("http {model} {method} {:?}", case.line), &reply);
            sent += 1;
        }
    }
    for case in &writes {
        let head = http_head(
            "PUT",
            &target(&case.bytes),
            &format!("Content-Length: {}\r\n", BODY.len()),
        );
        let reply = http(addr, &head, BODY).unwrap_or_default();
        tree.assert_clean(&format!("http {model} PUT {:?}", case.line), &reply);
        sent += 1;
    }
    for case in &writes {
        let head = http_head("DELETE", &target(&case.bytes), "");
        let reply = http(addr, &head, b"").unwrap_or_default();
        tree.assert_clean(&format!("http {model} DELETE {:?}", case.line), &reply);
        sent += 1;
    }
    assert_eq!(
        tree.outside_snapshot(),
        before,
        "http {model}: something outside the root changed"
    );
    // Still serving.
    let reply = http(addr, &http_head("GET", b"/sub/b.txt", ""), b"").expect("a normal GET");
    assert_eq!(status(&reply), 200, "http {model} after the corpus");
    assert!(reply.ends_with(b"bee\n"));
    sent
}

/// Replays the corpus over the files protocol; returns how many commands.
fn files_corpus(tree: &Tree, model: &str) -> usize {
    let server = start("files", tree.root_str(), model, &[]);
    let mut c = FilesConn::new(server.addr());
    let cases = corpus(tree.base());
    let writes = for_writes(&cases);
    let before = tree.outside_snapshot();
    let mut sent = 0;
    let listing = c.list();
    tree.assert_clean(&format!("files {model} LIST"), listing.as_bytes());
    for name in ["canary-link", "abs-link", "escape", "loop-a"] {
        assert!(
            !listing.contains(name),
            "files {model}: LIST shows {name}: {listing}"
        );
    }
    for case in &cases {
        let reply = c.get(&case.bytes);
        tree.assert_clean(&format!("files {model} GET {:?}", case.line), &reply);
        sent += 1;
    }
    for case in &writes {
        let reply = c.put(&case.bytes, BODY);
        tree.assert_clean(
            &format!("files {model} PUT {:?}", case.line),
            reply.as_bytes(),
        );
        sent += 1;
    }
    assert_eq!(
        tree.outside_snapshot(),
        before,
        "files {model}: something outside the root changed"
    );
    let reply = c.get(b"sub/b.txt");
    assert_eq!(reply, b"OK 4\nbee\n", "files {model} after the corpus");
    sent + 1
}

/// Replays the corpus through the folder commands: `LIST <name>`, `MKDIR`,
/// `MOVE` out of and onto each name, `DELETE` (the server has `--upload
/// --overwrite`, so only the root's own checks stand between a name and the
/// file system). Whatever they do inside the root, nothing outside changes
/// and no reply carries outside bytes. Returns how many commands.
fn files_folder_corpus(tree: &Tree, model: &str) -> usize {
    let server = start("files", tree.root_str(), model, &[]);
    let mut c = FilesConn::new(server.addr());
    let before = tree.outside_snapshot();
    let mut sent = 0;
    for case in &for_writes(&corpus(tree.base())) {
        let name = &case.bytes;
        let decoy = tree.root.join("decoy.txt");
        std::fs::write(&decoy, BODY).expect("write the decoy");
        let commands = [
            [&b"LIST "[..], name].concat(),
            [&b"MKDIR "[..], name].concat(),
            [&b"MOVE "[..], name, b"\tmoved-away"].concat(),
            [&b"MOVE decoy.txt\t"[..], name].concat(),
            [&b"DELETE "[..], name].concat(),
        ];
        for line in &commands {
            let reply = c.command(line);
            let what = format!("files {model} {}", String::from_utf8_lossy(line));
            tree.assert_clean(&what, reply.as_bytes());
            sent += 1;
        }
    }
    assert_eq!(
        tree.outside_snapshot(),
        before,
        "files {model}: a folder command changed something outside the root"
    );
    sent
}

fn check_pwned_absent() {
    let pwned = std::path::Path::new("/").join(PWNED_REL);
    assert!(
        !pwned.exists(),
        "{} was created through an absolute name",
        pwned.display()
    );
}

/// The whole corpus over HTTP and files under one model.
fn traversal(model: &str) {
    let http_tree = Tree::new();
    let n_http = http_corpus(&http_tree, model);
    let files_tree = Tree::new();
    let n_files = files_corpus(&files_tree, model);
    check_pwned_absent();
    let folders_tree = Tree::new();
    let n_files = n_files + files_folder_corpus(&folders_tree, model);
    check_pwned_absent();
    eprintln!("traversal {model}: {n_http} HTTP requests, {n_files} files commands");
}

common::every_model! {
    traversal,
    files_protocol_hides_dot_names_unless_hidden: [epoll, thread],
}

#[test]
fn tftp_rrq_and_wrq() {
    let tree = Tree::new();
    let server = start("tftp", tree.root_str(), "", &[]);
    let addr = server.addr();
    let cases = corpus(tree.base());
    let before = tree.outside_snapshot();
    for case in &cases {
        let reply = tftp_get(addr, &case.bytes);
        tree.assert_clean(&format!("tftp RRQ {:?}", case.line), &reply);
    }
    for case in &for_writes(&cases) {
        let reply = tftp_put(addr, &case.bytes, BODY);
        tree.assert_clean(&format!("tftp WRQ {:?}", case.line), &reply);
    }
    assert_eq!(
        tree.outside_snapshot(),
        before,
        "tftp: something outside the root changed"
    );
    check_pwned_absent();
    assert_eq!(tftp_get(addr, b"sub/b.txt"), b"bee\n");
    eprintln!(
        "traversal tftp: {} RRQ, {} WRQ",
        cases.len(),
        for_writes(&cases).len()
    );
}

#[test]
fn the_corpus_covers_every_listed_encoding() {
    let tree = Tree::new();
    let lines: Vec<String> = corpus(tree.base()).into_iter().map(|c| c.line).collect();
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    for needle in [
        "../",
        "%2e",
        "%252e",
        "%c0%ae",
        "%u002e",
        "\\\\",
        "..;/",
        "....//",
        "\\x00",
        "c:/",
        "/etc/passwd",
        "{5000*",
        "escape/",
        "hardlink.txt",
        "abs-link",
    ] {
        assert!(has(needle), "the corpus has no case with {needle:?}");
    }
    assert!(lines.len() >= 80, "only {} cases", lines.len());
}

#[test]
fn writes_never_go_through_a_hard_link() {
    // The outside file keeps its bytes when its hard link in the root is
    // overwritten (HTTP PUT, files PUT, TFTP WRQ) or deleted.
    let tree = Tree::new();
    let target = tree.base().join("outside/hardlink-target.txt");
    let http_srv = start("http", tree.root_str(), "epoll", &["--quiet"]);
    let head = http_head(
        "PUT",
        b"/hardlink.txt",
        &format!("Content-Length: {}\r\n", BODY.len()),
    );
    let reply = http(http_srv.addr(), &head, BODY).unwrap();
    assert_eq!(status(&reply), 204, "{}", String::from_utf8_lossy(&reply));
    assert_eq!(std::fs::read(tree.root.join("hardlink.txt")).unwrap(), BODY);
    assert_eq!(std::fs::read(&target).unwrap(), b"hard link target\n");

    std::fs::remove_file(tree.root.join("hardlink.txt")).unwrap();
    std::fs::hard_link(&target, tree.root.join("hardlink.txt")).unwrap();
    let files_srv = start("files", tree.root_str(), "epoll", &[]);
    let reply = FilesConn::new(files_srv.addr()).put(b"hardlink.txt", BODY);
    assert!(reply.starts_with("READY\nOK "), "{reply}");
    assert_eq!(std::fs::read(&target).unwrap(), b"hard link target\n");

    std::fs::remove_file(tree.root.join("hardlink.txt")).unwrap();
    std::fs::hard_link(&target, tree.root.join("hardlink.txt")).unwrap();
    let tftp_srv = start("tftp", tree.root_str(), "", &[]);
    let reply = tftp_put(tftp_srv.addr(), b"hardlink.txt", BODY);
    assert_eq!(reply, [0, 4, 0, 0, 0, 4, 0, 1], "WRQ acknowledged");
    assert_eq!(std::fs::read(&target).unwrap(), b"hard link target\n");

    std::fs::remove_file(tree.root.join("hardlink.txt")).unwrap();
    std::fs::hard_link(&target, tree.root.join("hardlink.txt")).unwrap();
    let reply = http(
        http_srv.addr(),
        &http_head("DELETE", b"/hardlink.txt", ""),
        b"",
    )
    .unwrap();
    assert_eq!(status(&reply), 204);
    assert_eq!(std::fs::read(&target).unwrap(), b"hard link target\n");
}

/// A share with the dot-files people leave lying around: `.env`,
/// `a/.git/config`, an empty `.ssh/`, beside `plain.txt`.
fn dot_share() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("a/.git")).unwrap();
    std::fs::create_dir(root.join(".ssh")).unwrap();
    std::fs::write(root.join(".env"), DOT_ENV).unwrap();
    std::fs::write(root.join("a/.git/config"), GIT_CONFIG).unwrap();
    std::fs::write(root.join("plain.txt"), b"plain\n").unwrap();
    dir
}

const DOT_ENV: &[u8] = b"API_KEY=dot-env-secret\n";
const GIT_CONFIG: &[u8] = b"[remote] url=git-config-secret\n";
const KEY: &[u8] = b"ssh-ed25519 AAAA attacker\n";

/// TFTP's ERROR packet for code 1, file not found.
fn is_tftp_not_found(reply: &[u8]) -> bool {
    reply.starts_with(&[0, 5, 0, 1])
}

/// Without `--hidden`: the files protocol answers GET and PUT of a hidden
/// name as it answers a missing one, and LIST leaves them out.
fn files_refuse_hidden(addr: std::net::SocketAddr, share: &std::path::Path) {
    let mut c = FilesConn::new(addr);
    let listing = c.list();
    assert!(listing.starts_with("OK 1\n"), "only plain.txt: {listing}");
    assert!(!listing.contains(".env"), "{listing}");
    for name in [&b".env"[..], b"a/.git/config", b".ssh", b".nothing"] {
        let reply = String::from_utf8_lossy(&c.get(name)).into_owned();
        assert!(reply.starts_with("ERR 404 "), "GET {name:?} → {reply:?}");
        assert!(!reply.contains("secret"), "{reply}");
    }
    for name in [
        &b".ssh/authorized_keys"[..],
        b".env",
        b"a/.git/config",
        b".new",
    ] {
        let reply = c.put(name, KEY);
        assert!(reply.starts_with("ERR 404 "), "PUT {name:?} → {reply:?}");
    }
    assert_untouched(share);
    assert_eq!(c.get(b"plain.txt"), b"OK 6\nplain\n");
}

/// Nothing hidden was created or changed.
fn assert_untouched(share: &std::path::Path) {
    assert!(!share.join(".ssh/authorized_keys").exists());
    assert!(!share.join(".new").exists());
    assert_eq!(std::fs::read(share.join(".env")).unwrap(), DOT_ENV);
    assert_eq!(
        std::fs::read(share.join("a/.git/config")).unwrap(),
        GIT_CONFIG
    );
}

/// With `--hidden`: served, listed and written like any name.
fn files_serve_hidden(addr: std::net::SocketAddr, share: &std::path::Path) {
    let mut c = FilesConn::new(addr);
    let listing = c.list();
    assert!(
        listing.starts_with("OK 2\n") && listing.contains(" .env\n"),
        "{listing}"
    );
    let mut want = format!("OK {}\n", DOT_ENV.len()).into_bytes();
    want.extend_from_slice(DOT_ENV);
    assert_eq!(c.get(b".env"), want);
    let got = c.get(b"a/.git/config");
    assert!(got.ends_with(GIT_CONFIG), "{got:?}");
    let reply = c.put(b".ssh/authorized_keys", KEY);
    assert!(reply.starts_with("READY\nOK "), "{reply}");
    assert_eq!(
        std::fs::read(share.join(".ssh/authorized_keys")).unwrap(),
        KEY
    );
}

fn tftp_refuses_hidden(addr: std::net::SocketAddr, share: &std::path::Path) {
    for name in [&b".env"[..], b"a/.git/config", b".nothing"] {
        let reply = tftp_get(addr, name);
        assert!(is_tftp_not_found(&reply), "RRQ {name:?} → {reply:?}");
    }
    for name in [&b".ssh/authorized_keys"[..], b".env", b"a/.git/config"] {
        let reply = tftp_put(addr, name, KEY);
        assert!(is_tftp_not_found(&reply), "WRQ {name:?} → {reply:?}");
    }
    assert_untouched(share);
    assert_eq!(tftp_get(addr, b"plain.txt"), b"plain\n");
}

fn tftp_serves_hidden(addr: std::net::SocketAddr, share: &std::path::Path) {
    assert_eq!(tftp_get(addr, b".env"), DOT_ENV);
    assert_eq!(tftp_get(addr, b"a/.git/config"), GIT_CONFIG);
    let reply = tftp_put(addr, b".ssh/authorized_keys", KEY);
    assert_eq!(reply, [0, 4, 0, 0, 0, 4, 0, 1], "WRQ acknowledged");
    assert_eq!(
        std::fs::read(share.join(".ssh/authorized_keys")).unwrap(),
        KEY
    );
}

fn files_protocol_hides_dot_names_unless_hidden(model: &str) {
    let share = dot_share();
    let root = share.path().to_str().unwrap();
    let server = start("files", root, model, &[]);
    files_refuse_hidden(server.addr(), share.path());
    drop(server);
    let server = start("files", root, model, &["--hidden"]);
    files_serve_hidden(server.addr(), share.path());
}

#[test]
fn tftp_hides_dot_names_unless_hidden() {
    let share = dot_share();
    let root = share.path().to_str().unwrap();
    let server = start("tftp", root, "", &[]);
    tftp_refuses_hidden(server.addr(), share.path());
    drop(server);
    let server = start("tftp", root, "", &["--hidden"]);
    tftp_serves_hidden(server.addr(), share.path());
}

/// `netkit up --upload --overwrite [--hidden]` on a dot share: its HTTP,
/// files and TFTP addresses.
fn start_up(share: &std::path::Path, hidden: bool) -> (common::Server, [std::net::SocketAddr; 3]) {
    let mut extra = vec!["--upload", "--overwrite", "--no-chat", "--no-irc"];
    if hidden {
        extra.push("--hidden");
    }
    let server = common::Server::start(&common::up_args(share.to_str().unwrap(), &extra));
    let addrs = common::up_addrs(&server);
    let find = |name: &str| {
        addrs
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} in {addrs:?}"))
            .1
    };
    let found = [find("http"), find("files"), find("tftp")];
    (server, found)
}

fn http_get(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let reply = http(addr, &http_head("GET", target.as_bytes(), ""), b"").expect("an HTTP reply");
    (status(&reply), String::from_utf8_lossy(&reply).into_owned())
}

fn http_put(addr: std::net::SocketAddr, target: &str) -> u16 {
    let extra = format!("Content-Length: {}\r\n", KEY.len());
    let reply = http(addr, &http_head("PUT", target.as_bytes(), &extra), KEY).expect("a reply");
    status(&reply)
}

#[test]
fn up_hides_dot_names_on_every_service_unless_hidden() {
    let share = dot_share();
    let (server, [web, files, tftp]) = start_up(share.path(), false);
    for target in [
        "/.env",
        "/a/.git/config",
        "/.ssh/",
        "/.env%2f",
        "/a/%2egit/config",
    ] {
        let (code, reply) = http_get(web, target);
        assert_eq!(code, 404, "GET {target}: {reply}");
        assert!(!reply.contains("secret"), "{reply}");
    }
    for target in ["/", "/a/", "/_netkit/ls?path=/", "/_netkit/ls?path=/a/"] {
        let (code, reply) = http_get(web, target);
        assert_eq!(code, 200, "GET {target}: {reply}");
        assert!(
            !reply.contains(".env") && !reply.contains(".git"),
            "{target}: {reply}"
        );
    }
    assert_eq!(http_get(web, "/_netkit/ls?path=/.ssh/").0, 404);
    assert_eq!(http_put(web, "/.ssh/authorized_keys"), 403);
    files_refuse_hidden(files, share.path());
    tftp_refuses_hidden(tftp, share.path());
    assert_eq!(server.terminate(), Some(0));

    let (server, [web, files, tftp]) = start_up(share.path(), true);
    let (code, reply) = http_get(web, "/.env");
    assert_eq!(code, 200);
    assert!(reply.ends_with("API_KEY=dot-env-secret\n"), "{reply}");
    assert!(http_get(web, "/a/").1.contains(".git"));
    assert!(http_get(web, "/_netkit/ls?path=/").1.contains(".env"));
    assert_eq!(http_put(web, "/.ssh/known_hosts"), 201);
    assert_eq!(
        std::fs::read(share.path().join(".ssh/known_hosts")).unwrap(),
        KEY
    );
    files_serve_hidden(files, share.path());
    std::fs::remove_file(share.path().join(".ssh/authorized_keys")).unwrap();
    tftp_serves_hidden(tftp, share.path());
    assert_eq!(server.terminate(), Some(0));
}
