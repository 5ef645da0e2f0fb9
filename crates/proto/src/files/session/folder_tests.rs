//! `LIST <folder>`, `MKDIR`, `DELETE` and `MOVE` driven in memory over a real
//! temporary root: what each does on disk, and each ERR code they answer.

use super::*;
use crate::access::{Access, Guessing};
use crate::files::{FilesConfig, FilesService};
use crate::testing::Harness;
use crate::Service;
use std::fs;
use std::net::SocketAddr;

/// `a.txt`, `sub/n.txt`, `sub/deep/d.txt`, `.hidden/h.txt`.
fn share() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.txt"), b"hello world").unwrap();
    fs::create_dir_all(dir.path().join("sub/deep")).unwrap();
    fs::write(dir.path().join("sub/n.txt"), b"nested").unwrap();
    fs::write(dir.path().join("sub/deep/d.txt"), b"deep").unwrap();
    fs::create_dir(dir.path().join(".hidden")).unwrap();
    fs::write(dir.path().join(".hidden/h.txt"), b"h").unwrap();
    dir
}

fn serve(dir: &tempfile::TempDir, upload: bool, overwrite: bool) -> FilesService {
    let root = Arc::new(Root::open(dir.path()).expect("root"));
    let config = FilesConfig {
        upload,
        overwrite,
        ..FilesConfig::default()
    };
    FilesService::new(root, config)
}

fn session(service: &FilesService) -> Harness<FilesSession> {
    let now = Instant::now();
    let peer: SocketAddr = "192.0.2.1:5000".parse().expect("an address");
    Harness::new(service.new_session(Some(peer), now), now)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8 reply")
}

/// The reply with each entry's mtime dropped: `OK 2\n11 a.txt\n- sub/\n`.
fn shape(reply: &str) -> String {
    reply
        .lines()
        .map(|l| match l.splitn(3, ' ').collect::<Vec<_>>()[..] {
            [size, _mtime, name] => format!("{size} {name}"),
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn code(reply: &str) -> &str {
    reply.get(..7).unwrap_or(reply)
}

#[test]
fn list_of_a_folder_shows_files_and_folders() {
    let dir = share();
    let service = serve(&dir, false, false);
    let mut h = session(&service);
    assert_eq!(
        shape(&text(h.send(b"LIST sub\n"))),
        "OK 2\n- deep/\n6 n.txt"
    );
    assert_eq!(shape(&text(h.send(b"LIST sub/deep/\n"))), "OK 1\n4 d.txt");
    // The root by name shows its folders too; plain LIST stays files only.
    assert_eq!(shape(&text(h.send(b"LIST /\n"))), "OK 2\n11 a.txt\n- sub/");
    assert_eq!(shape(&text(h.send(b"LIST .\n"))), "OK 2\n11 a.txt\n- sub/");
    assert_eq!(shape(&text(h.send(b"LIST\n"))), "OK 1\n11 a.txt");
}

#[test]
fn list_of_a_folder_refuses_what_it_must() {
    let dir = share();
    let service = serve(&dir, false, false);
    let mut h = session(&service);
    for (line, want) in [
        (&b"LIST nope\n"[..], "ERR 404"),
        (b"LIST a.txt\n", "ERR 404"),
        (b"LIST .hidden\n", "ERR 404"),
        (b"LIST ../etc\n", "ERR 403"),
        (b"LIST /etc\n", "ERR 403"),
        (b"LIST a\\b\n", "ERR 400"),
    ] {
        let reply = text(h.send(line));
        assert_eq!(code(&reply), want, "{line:?}: {reply}");
    }
}

#[test]
fn list_of_a_folder_follows_the_access_rules() {
    let dir = share();
    fs::create_dir(dir.path().join("sub/secret")).unwrap();
    let access = Access::parse(["alice:wonder@/sub/deep", "@/sub/n.txt"]).expect("rules");
    let service = serve(&dir, false, false).with_access(Arc::new(access), Guessing::new());
    let mut h = session(&service);
    // Anyone passes through sub/ to n.txt, and sees only the way there.
    assert_eq!(shape(&text(h.send(b"LIST sub\n"))), "OK 1\n6 n.txt");
    assert_eq!(code(&text(h.send(b"LIST sub/deep\n"))), "ERR 401");
    assert_eq!(code(&text(h.send(b"LIST sub/secret\n"))), "ERR 404");
    assert_eq!(text(h.send(b"AUTH alice wonder\n")), "OK\n");
    assert_eq!(
        shape(&text(h.send(b"LIST sub\n"))),
        "OK 2\n- deep/\n6 n.txt"
    );
    assert_eq!(shape(&text(h.send(b"LIST sub/deep\n"))), "OK 1\n4 d.txt");
}
