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

#[test]
fn mkdir_makes_a_folder_and_answers_each_refusal() {
    let dir = share();
    let service = serve(&dir, true, false);
    let mut h = session(&service);
    assert_eq!(text(h.send(b"MKDIR new\n")), "OK\n");
    assert_eq!(text(h.send(b"MKDIR new/inner dir\n")), "OK\n");
    assert!(dir.path().join("new/inner dir").is_dir());
    for (line, want) in [
        (&b"MKDIR new\n"[..], "ERR 409"),
        (b"MKDIR a.txt\n", "ERR 409"),
        (b"MKDIR missing/x\n", "ERR 404"),
        (b"MKDIR ../out\n", "ERR 403"),
        (b"MKDIR .hidden2\n", "ERR 404"),
        (b"MKDIR /\n", "ERR 403"),
        (b"MKDIR a\\b\n", "ERR 400"),
        (b"MKDIR\n", "ERR 400"),
    ] {
        let reply = text(h.send(line));
        assert_eq!(code(&reply), want, "{line:?}: {reply}");
    }
    assert!(!dir.path().join(".hidden2").exists());
    // Without --upload nothing is made.
    let off = serve(&dir, false, false);
    assert_eq!(code(&text(session(&off).send(b"MKDIR other\n"))), "ERR 403");
    assert!(!dir.path().join("other").exists());
}

#[test]
fn delete_removes_a_file_or_a_whole_folder_only_with_overwrite() {
    let dir = share();
    let grows = serve(&dir, true, false);
    assert_eq!(
        code(&text(session(&grows).send(b"DELETE a.txt\n"))),
        "ERR 403"
    );
    let off = serve(&dir, false, true);
    assert_eq!(
        code(&text(session(&off).send(b"DELETE a.txt\n"))),
        "ERR 403"
    );
    assert!(dir.path().join("a.txt").exists());
    let service = serve(&dir, true, true);
    let mut h = session(&service);
    assert_eq!(text(h.send(b"DELETE a.txt\n")), "OK\n");
    assert_eq!(text(h.send(b"DELETE sub\n")), "OK\n");
    assert!(!dir.path().join("a.txt").exists() && !dir.path().join("sub").exists());
    for (line, want) in [
        (&b"DELETE sub\n"[..], "ERR 404"),
        (b"DELETE .hidden\n", "ERR 404"),
        (b"DELETE ../x\n", "ERR 403"),
        (b"DELETE .\n", "ERR 400"),
    ] {
        let reply = text(h.send(line));
        assert_eq!(code(&reply), want, "{line:?}: {reply}");
    }
    assert!(dir.path().join(".hidden/h.txt").exists());
}

#[test]
fn move_renames_and_answers_409_unless_overwrite() {
    let dir = share();
    let grows = serve(&dir, true, false);
    let mut h = session(&grows);
    assert_eq!(code(&text(h.send(b"MOVE a.txt\tsub/n.txt\n"))), "ERR 409");
    assert_eq!(code(&text(h.send(b"MOVE a.txt\tfree.txt\n"))), "ERR 403");
    let off = serve(&dir, false, true);
    assert_eq!(
        code(&text(session(&off).send(b"MOVE a.txt\tb.txt\n"))),
        "ERR 403"
    );
    assert!(dir.path().join("a.txt").exists());

    let service = serve(&dir, true, true);
    let mut h = session(&service);
    assert_eq!(text(h.send(b"MOVE a.txt\tsub/deep/moved a.txt\n")), "OK\n");
    assert_eq!(
        fs::read(dir.path().join("sub/deep/moved a.txt")).unwrap(),
        b"hello world"
    );
    assert_eq!(text(h.send(b"MOVE sub/deep\tdeeper\n")), "OK\n");
    assert!(dir.path().join("deeper/d.txt").is_file());
    // --overwrite replaces a taken name.
    assert_eq!(text(h.send(b"MOVE deeper/d.txt\tsub/n.txt\n")), "OK\n");
    assert_eq!(fs::read(dir.path().join("sub/n.txt")).unwrap(), b"deep");
    for (line, want) in [
        (&b"MOVE nope\tx\n"[..], "ERR 404"),
        (b"MOVE sub\tsub/inside\n", "ERR 403"),
        (b"MOVE sub/n.txt\tmissing/x\n", "ERR 404"),
        (b"MOVE sub/n.txt\t../x\n", "ERR 403"),
        (b"MOVE .hidden\tvisible\n", "ERR 404"),
        (b"MOVE a b\n", "ERR 400"),
    ] {
        let reply = text(h.send(line));
        assert_eq!(code(&reply), want, "{line:?}: {reply}");
    }
    assert!(dir.path().join(".hidden/h.txt").exists());
}

#[test]
fn writes_follow_the_access_rules() {
    let dir = share();
    let access =
        Access::parse(["alice:wonder@/sub:rw", "bob:builder@/", "@/a.txt"]).expect("rules");
    let service = serve(&dir, true, true).with_access(Arc::new(access), Guessing::new());
    let mut h = session(&service);
    // Not logged in: an account could, so 401.
    assert_eq!(code(&text(h.send(b"MKDIR sub/x\n"))), "ERR 401");
    assert_eq!(code(&text(h.send(b"DELETE sub/n.txt\n"))), "ERR 401");
    assert_eq!(
        code(&text(h.send(b"MOVE sub/n.txt\tsub/m.txt\n"))),
        "ERR 401"
    );
    // bob reads everything and writes nothing: 403.
    assert_eq!(text(h.send(b"AUTH bob builder\n")), "OK\n");
    assert_eq!(code(&text(h.send(b"MKDIR sub/x\n"))), "ERR 403");
    assert_eq!(code(&text(h.send(b"DELETE sub/n.txt\n"))), "ERR 403");
    // alice writes under sub only.
    assert_eq!(text(h.send(b"AUTH alice wonder\n")), "OK\n");
    assert_eq!(text(h.send(b"MKDIR sub/x\n")), "OK\n");
    assert_eq!(text(h.send(b"MOVE sub/n.txt\tsub/x/n.txt\n")), "OK\n");
    assert_eq!(code(&text(h.send(b"MOVE sub/x/n.txt\tn.txt\n"))), "ERR 403");
    assert_eq!(code(&text(h.send(b"DELETE a.txt\n"))), "ERR 403");
    assert_eq!(text(h.send(b"DELETE sub/x\n")), "OK\n");
    assert!(dir.path().join("a.txt").exists() && !dir.path().join("sub/x").exists());
    // Too many failed logins: 429 for these too.
    for _ in 0..10 {
        h.send(b"AUTH alice wrong\n");
    }
    assert_eq!(code(&text(h.send(b"MKDIR sub/y\n"))), "ERR 429");
}

#[test]
fn delete_of_a_folder_holding_a_hidden_name_removes_nothing() {
    let dir = share();
    fs::write(dir.path().join("sub/deep/.secret"), b"s").unwrap();
    let service = serve(&dir, true, true);
    let reply = text(session(&service).send(b"DELETE sub\n"));
    assert_eq!(code(&reply), "ERR 403", "{reply}");
    assert!(dir.path().join("sub/n.txt").exists());
    assert!(dir.path().join("sub/deep/.secret").exists());
}
