//! The traversal corpus (`tests/data/traversal.txt`) replayed against every
//! file-serving front: HTTP GET, HEAD, PUT and DELETE and the files protocol's
//! GET, PUT and LIST under every `--model`, and TFTP RRQ and WRQ (UDP: one
//! loop, no models). Servers run with `--upload --overwrite`, the most
//! exposed configuration.
//!
//! What must hold: no reply carries a canary's bytes (or its length, or
//! /etc/passwd); no file, directory or link outside the root is created,
//! changed or removed; every server still serves a normal request afterwards.
//!
//! Hard links: `root/hardlink.txt` is a hard link to a file outside. A hard
//! link *is* that file — no path resolution can tell it from a regular file —
//! so reading it serves its bytes (a documented limit, see SECURITY.md: only
//! someone who can write the served tree can make one). Writing never goes
//! through it: uploads write a fresh temporary and rename it over the name,
//! and DELETE unlinks the name, so the outside file keeps its bytes; that
//! part is asserted here.

mod common;
mod hardening_support;

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

fn check_pwned_absent() {
    let pwned = std::path::Path::new("/").join(PWNED_REL);
    assert!(
        !pwned.exists(),
        "{} was created through an absolute name",
        pwned.display()
    );
}

macro_rules! every_model {
    ($($model:ident),*) => {$(
        #[test]
        fn $model() {
            let model = stringify!($model);
            let http_tree = Tree::new();
            let n_http = http_corpus(&http_tree, model);
            let files_tree = Tree::new();
            let n_files = files_corpus(&files_tree, model);
            check_pwned_absent();
            eprintln!("traversal {model}: {n_http} HTTP requests, {n_files} files commands");
        }
    )*};
}

mod models {
    use super::*;
    every_model!(iterative, thread, pool, fork, select, poll, epoll);
    // `async` is a keyword: spelled out.
    #[test]
    fn async_model() {
        let http_tree = Tree::new();
        http_corpus(&http_tree, "async");
        let files_tree = Tree::new();
        files_corpus(&files_tree, "async");
        check_pwned_absent();
    }
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
