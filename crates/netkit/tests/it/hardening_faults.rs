//! Faults that must lose nothing:
//!
//! - SIGKILL of the HTTP, files and TFTP servers while 20 uploads are half
//!   sent (7 HTTP PUT, 7 files PUT, 6 TFTP WRQ; some replacing an old file
//!   with `--overwrite`): after a restart every target is absent, old, or
//!   complete, and no upload temporary is left anywhere.
//! - A full disk (a 1 MiB tmpfs mounted for the test; this needs root, as CI
//!   has, and the test fails loudly if the mount fails): HTTP 507, files
//!   `ERR 507`, TFTP ERROR 3, no partial file, no temporary, and the next
//!   small upload still works.
//! - SIGTERM during downloads (HTTP GET, files GET, TFTP RRQ): each download
//!   completes byte-exact and the server exits 0 within its grace period.

use crate::common;
use crate::hardening_support;

use common::{signal, wait_bounded, Server};
use hardening_support::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::Duration;

const UPLOAD: usize = 2 << 20;

fn payload(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn temporaries(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".netkit-upload-") {
            found.push(name);
        } else if e.file_type().unwrap().is_dir() {
            found.extend(temporaries(&e.path()));
        }
    }
    found
}

/// Sends half of an HTTP PUT, waits at the barrier, then tries the rest.
fn http_half(addr: SocketAddr, name: &str, body: Vec<u8>, gate: Arc<Barrier>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let head = format!(
        "PUT /{name} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    gate.wait();
    let _ = s.write_all(&body[body.len() / 2..]);
}

fn files_half(addr: SocketAddr, name: &str, body: Vec<u8>, gate: Arc<Barrier>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(format!("PUT {name} {}\n", body.len()).as_bytes())
        .unwrap();
    let mut line = String::new();
    BufReader::new(s.try_clone().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "READY\n");
    s.write_all(&body[..body.len() / 2]).unwrap();
    gate.wait();
    let _ = s.write_all(&body[body.len() / 2..]);
}

fn tftp_half(addr: SocketAddr, name: &str, body: Vec<u8>, gate: Arc<Barrier>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.send_to(&tftp_request(2, name.as_bytes()), addr)
        .unwrap();
    let mut buf = [0u8; 600];
    let (n, tid) = sock.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], [0, 4, 0, 0], "WRQ acknowledged");
    let blocks: Vec<&[u8]> = body.chunks(512).collect();
    for (i, block) in blocks.iter().enumerate().take(blocks.len() / 2) {
        let no = (i + 1) as u16;
        let mut p = vec![0, 3];
        p.extend_from_slice(&no.to_be_bytes());
        p.extend_from_slice(block);
        sock.send_to(&p, tid).unwrap();
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], [&[0u8, 4][..], &no.to_be_bytes()].concat());
    }
    gate.wait();
}

#[test]
fn sigkill_during_twenty_uploads_leaves_old_or_complete_files_and_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let roots: Vec<_> = ["http", "files", "tftp"]
        .iter()
        .map(|s| dir.path().join(s))
        .collect();
    for r in &roots {
        std::fs::create_dir_all(r).unwrap();
        // Every other target already exists: it must stay old or become complete.
        for i in (0..7).step_by(2) {
            std::fs::write(r.join(format!("up{i}.bin")), b"old contents").unwrap();
        }
    }
    let start_all = || -> Vec<Server> {
        ["http", "files", "tftp"]
            .iter()
            .zip(&roots)
            .map(|(svc, r)| {
                start(
                    svc,
                    r.to_str().unwrap(),
                    "epoll",
                    if *svc == "http" {
                        &["--quiet"][..]
                    } else {
                        &[]
                    },
                )
            })
            .collect()
    };
    let servers = start_all();
    let gate = Arc::new(Barrier::new(21));
    let mut clients = Vec::new();
    for i in 0..20usize {
        let (svc, n) = (i % 3, i / 3);
        let addr = servers[svc].addr();
        let name = format!("up{n}.bin");
        let body = payload(i as u8, UPLOAD);
        let gate = Arc::clone(&gate);
        clients.push(std::thread::spawn(move || match svc {
            0 => http_half(addr, &name, body, gate),
            1 => files_half(addr, &name, body, gate),
            _ => tftp_half(addr, &name, body, gate),
        }));
    }
    gate.wait(); // every upload is half sent
    let mut servers = servers;
    for s in &mut servers {
        s.child.kill().unwrap();
        s.child.wait().unwrap();
    }
    for c in clients {
        c.join().unwrap();
    }
    // Restart: stale temporaries are swept at start-up.
    let again = start_all();
    for (svc, r) in roots.iter().enumerate() {
        assert_eq!(
            temporaries(r),
            Vec::<String>::new(),
            "temporaries left in {}",
            r.display()
        );
        for i in (0..20usize).filter(|i| i % 3 == svc) {
            let path = r.join(format!("up{}.bin", i / 3));
            match std::fs::read(&path) {
                Err(_) => {}
                Ok(data) => assert!(
                    data == b"old contents" || data == payload(i as u8, UPLOAD),
                    "{}: neither old nor complete ({} bytes)",
                    path.display(),
                    data.len()
                ),
            }
        }
    }
    drop(again);
}

/// A 1 MiB tmpfs, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount() -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount(8)");
        assert!(
            status.success(),
            "mounting a 1 MiB tmpfs failed: the full-disk test needs root (CI runs as root)"
        );
        Tmpfs(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

#[test]
fn a_full_disk_is_the_protocols_disk_full_error_and_leaves_no_partial_file() {
    let fs = Tmpfs::mount();
    let root = fs.0.path();
    let big = payload(3, 3 << 20);
    let root_s = root.to_str().unwrap();

    let http_srv = start("http", root_s, "epoll", &["--quiet"]);
    let head = format!(
        "PUT /big-http.bin HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n",
        big.len()
    );
    let reply = http(http_srv.addr(), head.as_bytes(), &big).expect("an HTTP reply");
    assert_eq!(status(&reply), 507, "{}", String::from_utf8_lossy(&reply));
    // Chunked: the size is not known up front, so the write itself fails.
    let mut chunked = Vec::new();
    for c in big.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        chunked.extend_from_slice(c);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = b"PUT /big-chunked.bin HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n";
    let reply = http(http_srv.addr(), head, &chunked).expect("an HTTP reply");
    assert_eq!(status(&reply), 507, "{}", String::from_utf8_lossy(&reply));

    let files_srv = start("files", root_s, "epoll", &[]);
    let mut c = FilesConn::new(files_srv.addr());
    let reply = c.put(b"big-files.bin", &big);
    assert!(reply.starts_with("ERR 507"), "files: {reply}");

    let tftp_srv = start("tftp", root_s, "", &[]);
    let reply = tftp_put_all(tftp_srv.addr(), b"big-tftp.bin", &big);
    assert_eq!(&reply[..4], [0, 5, 0, 3], "TFTP ERROR 3 (disk full)");

    for name in [
        "big-http.bin",
        "big-chunked.bin",
        "big-files.bin",
        "big-tftp.bin",
    ] {
        assert!(!root.join(name).exists(), "{name}: a partial file was left");
    }
    // A transfer's temporary is removed when its session ends, which may be
    // a moment after the error was sent (TFTP: the transfer's own thread).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !temporaries(root).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "temporaries left: {:?}",
            temporaries(root)
        );
        std::thread::sleep(Duration::from_millis(20)); // polling a bounded wait
    }
    // Space is back: a small upload works on each.
    let reply = http(
        http_srv.addr(),
        b"PUT /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n",
        b"ok",
    )
    .unwrap();
    assert_eq!(status(&reply), 201);
    assert!(c.put(b"small2.txt", b"ok").starts_with("READY\nOK "));
    assert_eq!(
        tftp_put(tftp_srv.addr(), b"small3.txt", b"ok"),
        [0, 4, 0, 0, 0, 4, 0, 1]
    );
}

/// A server whose stderr is a file already past its file-size limit (a log
/// that grew under `ulimit -f`) still starts and serves: its log lines are
/// dropped, not its life (SIGXFSZ, or a panic of a failed eprintln!).
#[test]
fn a_log_past_the_file_size_limit_does_not_stop_the_server() {
    for model in ["fork", "epoll"] {
        let dir = tempfile::tempdir().unwrap();
        let share = dir.path().join("share");
        std::fs::create_dir(&share).unwrap();
        std::fs::write(share.join("hello.txt"), b"hello").unwrap();
        let log_path = dir.path().join("big.log");
        std::fs::write(&log_path, vec![b'x'; 100_000]).unwrap();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&log_path)
            .unwrap();
        let mut cmd = common::netkit(&[
            "http",
            "serve",
            share.to_str().unwrap(),
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            // --upload without --auth: a warning is logged at start.
            "--upload",
            "--model",
            model,
        ]);
        cmd.stderr(log);
        common::limit_file_size(&mut cmd, 65536);
        let server = Server::start_cmd(cmd);
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200"), "{model}: {reply}");
        assert!(reply.ends_with("hello"), "{model}: {reply}");
        assert_eq!(server.terminate(), Some(0), "{model}");
    }
}

/// A file-size limit (RLIMIT_FSIZE, inherited by forked children) fails an
/// upload past it with 507 on every sharing service and under every process
/// model, instead of killing the server (or the forked child) with SIGXFSZ.
#[test]
fn a_file_size_limit_is_a_507_not_a_dead_server() {
    for (service, model) in [("http", "fork"), ("http", "epoll"), ("files", "fork")] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let mut cmd = common::netkit(&[
            service,
            "serve",
            root,
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--upload",
            "--model",
            model,
            "--quiet",
        ]);
        common::limit_file_size(&mut cmd, 65536);
        let server = Server::start_cmd(cmd);
        let big = payload(5, 300_000);
        if service == "http" {
            let head = format!(
                "PUT /huge.bin HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n",
                big.len()
            );
            let reply = http(server.addr(), head.as_bytes(), &big).expect("an HTTP reply");
            assert_eq!(status(&reply), 507, "{service} {model}");
            let small = b"PUT /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n";
            let reply = http(server.addr(), small, b"ok").expect("the server still serves");
            assert_eq!(status(&reply), 201, "{service} {model}");
        } else {
            let mut c = FilesConn::new(server.addr());
            let reply = c.put(b"huge.bin", &big);
            assert!(reply.contains("ERR 507"), "{service} {model}: {reply}");
            let mut c = FilesConn::new(server.addr());
            assert!(c.put(b"small.txt", b"ok").starts_with("READY\nOK "));
        }
        assert!(!dir.path().join("huge.bin").exists(), "{service} {model}");
        assert_eq!(server.terminate(), Some(0), "{service} {model}");
    }
}

/// A whole WRQ in lockstep (512-byte blocks): the server's last answer.
fn tftp_put_all(addr: SocketAddr, name: &[u8], body: &[u8]) -> Vec<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.send_to(&tftp_request(2, name), addr).unwrap();
    let mut buf = [0u8; 600];
    let (n, tid) = sock.recv_from(&mut buf).expect("a WRQ answer");
    if buf[..n] != [0, 4, 0, 0] {
        return buf[..n].to_vec();
    }
    for (i, block) in body.chunks(512).enumerate() {
        let no = (i + 1) as u16;
        let mut p = vec![0, 3];
        p.extend_from_slice(&no.to_be_bytes());
        p.extend_from_slice(block);
        sock.send_to(&p, tid).unwrap();
        let (n, _) = sock.recv_from(&mut buf).expect("an answer to DATA");
        if buf[1] != 4 {
            return buf[..n].to_vec();
        }
    }
    buf[..4].to_vec()
}

#[test]
fn sigterm_during_downloads_lets_them_finish_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let big = payload(9, 8 << 20);
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    let root = dir.path().to_str().unwrap();
    for svc in ["http", "files", "tftp"] {
        let server = start(svc, root, "epoll", &["--grace", "20"]);
        let addr = server.addr();
        let started = Arc::new(Barrier::new(4));
        let mut downloads = Vec::new();
        for _ in 0..3 {
            let started = Arc::clone(&started);
            downloads.push(std::thread::spawn(move || match svc {
                "http" => {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                        .unwrap();
                    let mut first = [0u8; 4096];
                    let n = s.read(&mut first).unwrap();
                    started.wait();
                    let mut rest = first[..n].to_vec();
                    s.read_to_end(&mut rest).unwrap();
                    let at = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    rest.split_off(at)
                }
                "files" => {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    s.write_all(b"GET big.bin\n").unwrap();
                    let mut r = BufReader::new(s);
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    started.wait();
                    let mut body = Vec::new();
                    r.read_to_end(&mut body).unwrap();
                    body
                }
                _ => {
                    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                    sock.send_to(&tftp_request(1, b"big.bin"), addr).unwrap();
                    let mut buf = [0u8; 600];
                    let mut body = Vec::new();
                    let mut waited = false;
                    let mut next = 1u16;
                    loop {
                        let (n, from) = sock.recv_from(&mut buf).expect("DATA");
                        assert_eq!(buf[1], 3, "DATA, not {:?}", &buf[..n]);
                        // A retransmitted block (our ACK was late) is not new data.
                        if u16::from_be_bytes([buf[2], buf[3]]) == next {
                            body.extend_from_slice(&buf[4..n]);
                            next = next.wrapping_add(1);
                        }
                        sock.send_to(&[0, 4, buf[2], buf[3]], from).unwrap();
                        if !waited {
                            started.wait();
                            waited = true;
                        }
                        if n < 516 {
                            return body;
                        }
                    }
                }
            }));
        }
        started.wait();
        let mut server = server;
        signal(&server.child, "TERM");
        for d in downloads {
            let got = d.join().expect("download thread");
            assert!(
                got == big,
                "{svc}: download of {} bytes, not the whole file",
                got.len()
            );
        }
        let code = wait_bounded(&mut server.child, Duration::from_secs(30));
        assert_eq!(code, Some(0), "{svc}: exit status after SIGTERM");
    }
}
