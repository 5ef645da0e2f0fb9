//! `netkit files serve` spoken to with a raw socket, under every `--model`:
//! every command and every ERR code, commands written one byte at a time and
//! several in one write, SUM (a file hashed in slices across wake-ups, its
//! answer in order with pipelined commands), nothing replaced without
//! `--overwrite`, a full disk (ERR 507), and uploads interrupted by the
//! client vanishing or the server being SIGKILLed.
//!
//! One macro stamps out a module per model, so
//! `cargo test -p netkit --test it files::poll::` runs one model.

use crate::common;

use common::{eventually, local_args, netkit, sha, upload_temporaries, utf8, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A served directory: `a.txt`, `b c.txt`, `sub/n.txt`, and `out`, a symlink
/// to a file outside it.
struct Dir {
    base: TempDir,
}

impl Dir {
    fn new() -> Dir {
        let base = tempfile::tempdir().expect("tempdir");
        let served = base.path().join("served");
        std::fs::create_dir_all(served.join("sub")).unwrap();
        std::fs::write(served.join("a.txt"), b"hello world").unwrap();
        std::fs::write(served.join("b c.txt"), b"spaced").unwrap();
        std::fs::write(served.join("sub/n.txt"), b"nested").unwrap();
        std::fs::write(base.path().join("secret"), b"SECRET").unwrap();
        std::os::unix::fs::symlink(base.path().join("secret"), served.join("out")).unwrap();
        Dir { base }
    }

    fn path(&self) -> PathBuf {
        self.base.path().join("served")
    }

    fn temporaries(&self) -> Vec<PathBuf> {
        upload_temporaries(&self.path())
    }

    /// Size of the (single) upload temporary, if there is one.
    fn temporary_size(&self) -> Option<u64> {
        let path = self.temporaries().into_iter().next()?;
        std::fs::metadata(path).ok().map(|m| m.len())
    }
}

fn serve_args<'a>(model: &'a str, dir: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = local_args(&["files", "serve", utf8(dir)], model);
    args.extend(["--grace", "5"]);
    args.extend_from_slice(extra);
    args
}

fn start(model: &str, dir: &Path, extra: &[&str]) -> Server {
    Server::start(&serve_args(model, dir, extra))
}

/// A raw protocol conversation.
struct Conv {
    reader: BufReader<TcpStream>,
}

impl Conv {
    fn open(addr: SocketAddr) -> Conv {
        let s = common::connect(addr, IO_TIMEOUT);
        s.set_nodelay(true).unwrap();
        Conv {
            reader: BufReader::new(s),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    /// Writes every byte in its own write call.
    fn trickle(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.send(&[*b]);
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read a reply line");
        assert!(line.ends_with('\n'), "connection closed mid-line: {line:?}");
        line.pop();
        line
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.reader.read_exact(&mut buf).expect("read payload");
        buf
    }

    /// Expects `ERR <code> …`.
    fn expect_err(&mut self, cmd: &[u8], code: u16) {
        self.send(cmd);
        let line = self.line();
        assert!(
            line.starts_with(&format!("ERR {code} ")),
            "{:?} → {line:?}, expected ERR {code}",
            String::from_utf8_lossy(cmd)
        );
    }

    fn get(&mut self, cmd: &[u8]) -> Vec<u8> {
        self.send(cmd);
        let n = ok_number(&self.line());
        self.bytes(n as usize)
    }

    fn expect_eof(&mut self) {
        let mut rest = Vec::new();
        self.reader.read_to_end(&mut rest).expect("read to EOF");
        assert!(rest.is_empty(), "bytes after BYE: {rest:?}");
    }
}

fn ok_number(line: &str) -> u64 {
    line.strip_prefix("OK ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("expected OK <n>, got {line:?}"))
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn every_command(model: &str) {
    let dir = Dir::new();
    let server = start(model, &dir.path(), &["--upload", "--max-upload", "100000"]);
    let mut c = Conv::open(server.addr());

    c.send(b"LIST\n");
    assert_eq!(
        c.line(),
        "OK 2",
        "regular files only: no sub/, no escaping link"
    );
    let first = c.line();
    assert!(
        first.starts_with("11 ") && first.ends_with(" a.txt"),
        "{first}"
    );
    assert!(c.line().ends_with(" b c.txt"));

    assert_eq!(c.get(b"GET a.txt\n"), b"hello world");
    assert_eq!(c.get(b"GET a.txt 6\n"), b"world");
    assert_eq!(c.get(b"GET a.txt 11\n"), b"");
    assert_eq!(c.get(b"GET b c.txt 0\n"), b"spaced");
    assert_eq!(c.get(b"GET sub/n.txt\n"), b"nested");

    let body = pattern(70_000, 1);
    c.send(b"PUT up.bin 70000\n");
    assert_eq!(c.line(), "READY");
    c.send(&body);
    assert_eq!(c.line(), format!("OK {}", sha(&body)));
    assert_eq!(std::fs::read(dir.path().join("up.bin")).unwrap(), body);
    assert_eq!(c.get(b"GET up.bin 69990\n"), &body[69_990..]);

    // Every ERR code this server can give without a full disk.
    for (cmd, code) in [
        (&b"GET ../secret\n"[..], 403),
        (b"GET /etc/passwd\n", 403),
        (b"GET out\n", 403),
        (b"GET sub\n", 403),
        (b"GET .netkit-upload-0.tmp\n", 403),
        (b"GET a\\b\n", 400),
        (b"GET a\x01b\n", 400),
        (b"GET a\x00b\n", 400),
        (b"GET a.txt 12\n", 400),
        (b"GET nope\n", 404),
        (b"PUT a.txt 3\n", 409),
        (b"PUT big 100001\n", 413),
        (b"PUT ../x 3\n", 403),
        (b"PUT nodir/x 3\n", 404),
        (b"PUT x many\n", 400),
        (b"RMDIR a.txt\n", 400),
        (b"\n", 400),
    ] {
        c.expect_err(cmd, code);
    }
    assert_eq!(c.get(b"GET a.txt\n"), b"hello world", "served after errors");
    c.send(b"QUIT\n");
    assert_eq!(c.line(), "BYE");
    c.expect_eof();
    assert!(dir.temporaries().is_empty());

    let off = Dir::new();
    let server2 = start(model, &off.path(), &[]);
    let mut c = Conv::open(server2.addr());
    c.expect_err(b"PUT x 1\n", 403);
    assert_eq!(c.get(b"GET a.txt 10\n"), b"d");
    assert_eq!(server2.terminate(), Some(0));
    assert_eq!(server.terminate(), Some(0));
}

fn split_and_joined_commands(model: &str) {
    let dir = Dir::new();
    let server = start(model, &dir.path(), &["--upload"]);

    // Several commands, a PUT body included, in one write.
    let mut c = Conv::open(server.addr());
    c.send(b"LIST\nGET a.txt 6\nPUT p.txt 3\nabcGET p.txt\nGET nope\nQUIT\n");
    assert_eq!(c.line(), "OK 2");
    c.line();
    c.line();
    assert_eq!(c.line(), "OK 5");
    assert_eq!(c.bytes(5), b"world");
    assert_eq!(c.line(), "READY");
    assert_eq!(c.line(), format!("OK {}", sha(b"abc")));
    assert_eq!(c.line(), "OK 3");
    assert_eq!(c.bytes(3), b"abc");
    assert!(c.line().starts_with("ERR 404 "));
    assert_eq!(c.line(), "BYE");
    c.expect_eof();

    // More pipelined GETs than the session queues at once (each an open
    // file): the driver re-offers the rest once the replies are out.
    let mut c = Conv::open(server.addr());
    c.send(&b"GET a.txt 10\n".repeat(300));
    for _ in 0..300 {
        assert_eq!(c.line(), "OK 1");
        assert_eq!(c.bytes(1), b"d");
    }
    drop(c); // iterative serves the next connection only after this one

    // The same kind of conversation, one byte per write.
    let mut c = Conv::open(server.addr());
    c.trickle(b"GET a.txt 6\n");
    assert_eq!(c.line(), "OK 5");
    assert_eq!(c.bytes(5), b"world");
    c.trickle(b"PUT q.txt 4\n");
    assert_eq!(c.line(), "READY");
    c.trickle(b"wxyz");
    assert_eq!(c.line(), format!("OK {}", sha(b"wxyz")));
    c.trickle(b"GET q.txt\r\n");
    assert_eq!(c.line(), "OK 4");
    assert_eq!(c.bytes(4), b"wxyz");
    c.trickle(b"QUIT\n");
    assert_eq!(c.line(), "BYE");
    assert_eq!(server.terminate(), Some(0));
}

/// SUM: the digest of a whole file or a prefix, the errors GET gives, and a
/// file larger than one hashing slice answered in order with the commands
/// pipelined behind it (the driver re-offers them once the SUM is done) and
/// after the client's EOF. Then the share only grows without `--overwrite`.
fn sum_and_no_replacing(model: &str) {
    let dir = Dir::new();
    let big = pattern(2 * 1024 * 1024 + 5, 3);
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    let server = start(model, &dir.path(), &["--upload"]);
    let mut c = Conv::open(server.addr());
    for (cmd, digest) in [
        (&b"SUM a.txt\n"[..], sha(b"hello world")),
        (b"SUM a.txt 5\n", sha(b"hello")),
        (b"SUM a.txt 0\n", sha(b"")),
        (b"SUM b c.txt 6\n", sha(b"spaced")),
        (b"SUM sub/n.txt\n", sha(b"nested")),
    ] {
        c.send(cmd);
        assert_eq!(c.line(), format!("OK {digest}"), "{cmd:?}");
    }
    for (cmd, code) in [
        (&b"SUM a.txt 12\n"[..], 400),
        (b"SUM nope\n", 404),
        (b"SUM sub\n", 403),
        (b"SUM ../secret\n", 403),
        (b"SUM out\n", 403),
        (b"SUM\n", 400),
    ] {
        c.expect_err(cmd, code);
    }
    c.send(b"SUM big.bin\nGET a.txt 6\nSUM big.bin 1000\nGET a.txt 10\n");
    assert_eq!(c.line(), format!("OK {}", sha(&big)));
    assert_eq!(c.line(), "OK 5");
    assert_eq!(c.bytes(5), b"world");
    assert_eq!(c.line(), format!("OK {}", sha(&big[..1000])));
    assert_eq!(c.line(), "OK 1");
    assert_eq!(c.bytes(1), b"d");

    // Nothing that exists is replaced without --overwrite.
    c.expect_err(b"PUT a.txt 3\n", 409);
    c.expect_err(b"PUT big.bin 3\n", 409);
    c.expect_err(b"PUT sub 3\n", 403);
    assert_eq!(
        std::fs::read(dir.path().join("a.txt")).unwrap(),
        b"hello world"
    );
    assert_eq!(std::fs::read(dir.path().join("big.bin")).unwrap(), big);

    // The client half-closes right after a SUM: the answer still comes.
    c.send(b"SUM big.bin\n");
    c.reader
        .get_ref()
        .shutdown(std::net::Shutdown::Write)
        .unwrap();
    assert_eq!(c.line(), format!("OK {}", sha(&big)));
    c.expect_eof();
    assert!(dir.temporaries().is_empty());
    assert_eq!(server.terminate(), Some(0));
}

/// A file-size limit on the server process (RLIMIT_FSIZE, which needs no
/// privilege) makes writes past it fail with EFBIG, as a full disk fails
/// with ENOSPC: the upload gets ERR 507, its temporary is removed, and the
/// connection goes on.
fn full_disk_is_507(model: &str) {
    let dir = Dir::new();
    let mut cmd = netkit(&serve_args(model, &dir.path(), &["--upload"]));
    // Logs must not count against the limit if stderr is a file.
    cmd.stderr(std::process::Stdio::null());
    common::limit_file_size(&mut cmd, 65536);
    let server = Server::start_cmd(cmd);
    let mut c = Conv::open(server.addr());
    let body = pattern(300_000, 7);
    c.send(b"PUT huge.bin 300000\n");
    assert_eq!(c.line(), "READY");
    c.send(&body);
    let reply = c.line();
    assert!(reply.starts_with("ERR 507 "), "{reply}");
    assert!(!dir.path().join("huge.bin").exists());
    assert!(dir.temporaries().is_empty(), "{:?}", dir.temporaries());
    c.send(b"PUT small.bin 5\n");
    assert_eq!(c.line(), "READY");
    c.send(b"hello");
    assert_eq!(c.line(), format!("OK {}", sha(b"hello")));
    assert_eq!(c.get(b"GET small.bin\n"), b"hello");
    assert_eq!(server.terminate(), Some(0));
}

/// Starts an upload over an existing file (with --overwrite) and returns the
/// conversation once part of the body has reached the server's temporary.
fn half_an_upload(dir: &Dir, server: &Server) -> Conv {
    let mut c = Conv::open(server.addr());
    c.send(b"PUT target.bin 10000000\n");
    assert_eq!(c.line(), "READY");
    c.send(&pattern(1 << 20, 3));
    eventually(IO_TIMEOUT, "part of the upload on disk", || {
        dir.temporary_size().is_some_and(|n| n >= 1 << 20)
    });
    c
}

fn client_vanishes_mid_upload(model: &str) {
    let dir = Dir::new();
    std::fs::write(dir.path().join("target.bin"), b"OLD").unwrap();
    let server = start(model, &dir.path(), &["--upload", "--overwrite"]);
    // Once closed cleanly (EOF), once reset.
    for reset in [false, true] {
        let c = half_an_upload(&dir, &server);
        if reset {
            socket2::SockRef::from(c.reader.get_ref())
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        }
        drop(c);
        eventually(IO_TIMEOUT, "the temporary removed", || {
            dir.temporaries().is_empty()
        });
        assert_eq!(
            std::fs::read(dir.path().join("target.bin")).unwrap(),
            b"OLD"
        );
    }
    let mut c = Conv::open(server.addr());
    assert_eq!(c.get(b"GET target.bin\n"), b"OLD");
    assert_eq!(server.terminate(), Some(0));
}

fn server_killed_mid_upload(model: &str) {
    let dir = Dir::new();
    std::fs::write(dir.path().join("target.bin"), b"OLD").unwrap();
    let mut server = start(model, &dir.path(), &["--upload", "--overwrite"]);
    let _c = half_an_upload(&dir, &server);
    common::signal(&server.child, "KILL");
    let _ = server.child.wait();
    if model == "fork" {
        // The connection's own process outlives its parent and still holds
        // the upload; it ends (and cleans up) when its client goes.
        drop(_c);
    } else {
        assert_eq!(dir.temporaries().len(), 1, "the crash left its temporary");
    }
    assert_eq!(
        std::fs::read(dir.path().join("target.bin")).unwrap(),
        b"OLD"
    );
    let restarted = start(model, &dir.path(), &["--upload", "--overwrite"]);
    assert!(dir.temporaries().is_empty(), "{:?}", dir.temporaries());
    let mut c = Conv::open(restarted.addr());
    assert_eq!(c.get(b"GET target.bin\n"), b"OLD");
    c.send(b"LIST\n");
    assert_eq!(c.line(), "OK 3", "no temporary is listed");
    assert_eq!(restarted.terminate(), Some(0));
}

common::every_model! {
    every_command,
    split_and_joined_commands,
    sum_and_no_replacing,
    full_disk_is_507,
    client_vanishes_mid_upload,
    server_killed_mid_upload,
}
