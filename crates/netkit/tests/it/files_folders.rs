//! `netkit files serve` spoken to with a raw socket, under every `--model`:
//! `LIST <folder>`, `MKDIR`, `DELETE` and `MOVE` — what each does on disk,
//! and each ERR code they answer with and without `--upload`/`--overwrite`
//! and under `--auth` rules.
//!
//! `cargo test -p netkit --test it files_folders::epoll::` runs one model.

use crate::common;

use common::{local_args, utf8, Server};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// `a.txt`, `sub/n.txt`, `sub/deep/d.txt`.
fn share() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("sub/deep")).unwrap();
    std::fs::write(dir.path().join("a.txt"), b"hello world").unwrap();
    std::fs::write(dir.path().join("sub/n.txt"), b"nested").unwrap();
    std::fs::write(dir.path().join("sub/deep/d.txt"), b"deep").unwrap();
    dir
}

fn start(model: &str, dir: &Path, extra: &[&str]) -> Server {
    let mut args = local_args(&["files", "serve", utf8(dir)], model);
    args.extend_from_slice(extra);
    Server::start(&args)
}

struct Conv {
    reader: BufReader<TcpStream>,
}

impl Conv {
    fn open(addr: SocketAddr) -> Conv {
        Conv {
            reader: BufReader::new(common::connect(addr, IO_TIMEOUT)),
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a reply line");
        assert!(line.ends_with('\n'), "connection closed mid-line: {line:?}");
        line.pop();
        line
    }

    /// Sends one command line and returns the first reply line.
    fn ask(&mut self, cmd: &str) -> String {
        self.reader
            .get_mut()
            .write_all(format!("{cmd}\n").as_bytes())
            .expect("write");
        self.line()
    }

    /// `LIST <folder>` as `size name` lines (mtimes dropped).
    fn list(&mut self, folder: &str) -> Vec<String> {
        let first = self.ask(&format!("LIST {folder}"));
        let n: usize = first
            .strip_prefix("OK ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("LIST {folder} → {first}"));
        (0..n)
            .map(|_| {
                let line = self.line();
                let parts: Vec<&str> = line.splitn(3, ' ').collect();
                format!("{} {}", parts[0], parts[2])
            })
            .collect()
    }

    fn expect(&mut self, cmd: &str, code: &str) {
        let reply = self.ask(cmd);
        assert!(
            reply.starts_with(code),
            "{cmd:?} → {reply:?}, expected {code}"
        );
    }
}

fn folders_listed_made_moved_deleted(model: &str) {
    let dir = share();
    let server = start(model, dir.path(), &["--upload", "--overwrite"]);
    let mut c = Conv::open(server.addr());
    assert_eq!(c.list("sub"), ["- deep/", "6 n.txt"]);
    assert_eq!(c.list("/"), ["11 a.txt", "- sub/"]);
    c.expect("LIST nope", "ERR 404");
    c.expect("LIST ../", "ERR 403");
    c.expect("MKDIR new", "OK");
    c.expect("MKDIR new", "ERR 409");
    c.expect("MKDIR no/such", "ERR 404");
    c.expect("MOVE a.txt\tnew/a moved.txt", "OK");
    c.expect("MOVE sub/deep\tnew/deep", "OK");
    c.expect("MOVE new\tnew/inside", "ERR 403");
    c.expect("MOVE gone\tx", "ERR 404");
    c.expect("MOVE a b", "ERR 400");
    assert_eq!(c.list("new"), ["11 a moved.txt", "- deep/"]);
    assert_eq!(
        std::fs::read(dir.path().join("new/deep/d.txt")).unwrap(),
        b"deep"
    );
    c.expect("DELETE new", "OK");
    c.expect("DELETE new", "ERR 404");
    c.expect("DELETE ../x", "ERR 403");
    assert!(!dir.path().join("new").exists());
    assert_eq!(c.list("/"), ["- sub/"]);
    drop(server);
}

fn writes_need_upload_and_overwrite(model: &str) {
    let dir = share();
    let off = start(model, dir.path(), &[]);
    let mut c = Conv::open(off.addr());
    c.expect("MKDIR x", "ERR 403");
    c.expect("DELETE a.txt", "ERR 403");
    c.expect("MOVE a.txt\tb.txt", "ERR 403");
    drop(off);
    let grows = start(model, dir.path(), &["--upload"]);
    let mut c = Conv::open(grows.addr());
    c.expect("MKDIR x", "OK");
    c.expect("DELETE a.txt", "ERR 403");
    c.expect("MOVE a.txt\tsub/n.txt", "ERR 409");
    c.expect("MOVE a.txt\tb.txt", "ERR 403");
    drop(grows);
    assert!(dir.path().join("x").is_dir() && dir.path().join("a.txt").is_file());
}

fn folder_commands_follow_the_rules(model: &str) {
    let dir = share();
    let rules = ["--auth", "alice:wonder@/sub:rw", "--auth", "@/a.txt"];
    let mut extra = vec!["--upload", "--overwrite"];
    extra.extend(rules);
    let server = start(model, dir.path(), &extra);
    let mut c = Conv::open(server.addr());
    assert_eq!(c.list("/"), ["11 a.txt", "- sub/"].map(String::from)[..1]);
    c.expect("LIST sub", "ERR 401");
    c.expect("MKDIR sub/x", "ERR 401");
    c.expect("AUTH alice wonder", "OK");
    assert_eq!(c.list("/"), ["11 a.txt", "- sub/"]);
    c.expect("MKDIR sub/x", "OK");
    c.expect("MOVE sub/n.txt\tsub/x/n.txt", "OK");
    c.expect("MOVE sub/x/n.txt\tn.txt", "ERR 403");
    c.expect("DELETE a.txt", "ERR 403");
    c.expect("DELETE sub/x", "OK");
    drop(server);
    assert!(!dir.path().join("sub/x").exists());
}

common::every_model! {
    folders_listed_made_moved_deleted,
    writes_need_upload_and_overwrite,
    folder_commands_follow_the_rules,
}
