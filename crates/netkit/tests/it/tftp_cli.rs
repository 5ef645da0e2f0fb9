//! `netkit tftp get|put` as a user runs it: the argument order of `files
//! get|put`, tftp-hpa and `curl -T`; a server that refuses options (the real
//! tftpd-hpa); and errors that fail fast and name the address.

use crate::common;

use common::{netkit, wait_bounded, Dirs, Server};
use std::net::UdpSocket;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A client that takes longer than this is stuck.
const CLIENT_LIMIT: Duration = Duration::from_secs(60);

/// Runs `netkit ARGS` in `cwd` to completion (bounded).
fn client(args: &[&str], cwd: &Path) -> Output {
    let mut cmd = netkit(args);
    cmd.current_dir(cwd).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn netkit");
    let code = wait_bounded(&mut child, CLIENT_LIMIT);
    assert!(code.is_some(), "{args:?} did not finish");
    child.wait_with_output().expect("output")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn serve(root: &Path) -> Server {
    let root = root.to_str().unwrap();
    Server::start(&[
        "tftp",
        "serve",
        root,
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--upload",
    ])
}

#[test]
fn put_takes_local_then_remote_and_get_remote_then_local() {
    let d = Dirs::new();
    let server = serve(&d.served);
    let addr = server.addr().to_string();
    std::fs::create_dir(d.local.join("sub")).unwrap();
    std::fs::write(d.local.join("sub/notes.txt"), b"notes\n").unwrap();
    // REMOTE defaults to LOCAL's file name.
    ok(&client(&["tftp", "put", &addr, "sub/notes.txt"], &d.local));
    assert_eq!(
        std::fs::read(d.served.join("notes.txt")).unwrap(),
        b"notes\n"
    );
    ok(&client(
        &["tftp", "put", &addr, "sub/notes.txt", "renamed.txt"],
        &d.local,
    ));
    assert_eq!(
        std::fs::read(d.served.join("renamed.txt")).unwrap(),
        b"notes\n"
    );
    // LOCAL defaults to REMOTE's file name.
    ok(&client(&["tftp", "get", &addr, "renamed.txt"], &d.local));
    assert_eq!(
        std::fs::read(d.local.join("renamed.txt")).unwrap(),
        b"notes\n"
    );
    ok(&client(
        &["tftp", "get", &addr, "notes.txt", "sub/back.txt"],
        &d.local,
    ));
    assert_eq!(
        std::fs::read(d.local.join("sub/back.txt")).unwrap(),
        b"notes\n"
    );
}

/// A process stopped when the test ends, however it ends.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The user tftpd-hpa runs as: this one (it refuses to start as nobody
/// in a folder only this user may enter).
fn user_name() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn netascii_get_from_tftpd_hpa_retries_without_options() {
    let d = Dirs::new();
    std::fs::write(d.served.join("t.txt"), b"one\ntwo\r\nthree\n").unwrap();
    // tftpd-hpa in inetd mode, on a socket bound here: no port race.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    let tftpd = Command::new("/usr/sbin/in.tftpd")
        .args(["-s", d.served.to_str().unwrap(), "-u", &user_name()])
        .stdin(Stdio::from(OwnedFd::from(socket)))
        .stdout(Stdio::null())
        .spawn()
        .expect("start tftpd-hpa");
    let _tftpd = Stopped(tftpd);
    // It answers the tsize this client always asks for with ERROR 8 in
    // netascii; the client asks again without options.
    let out = client(
        &["tftp", "get", &addr, "t.txt", "t.txt", "--mode", "netascii"],
        &d.local,
    );
    ok(&out);
    assert_eq!(
        std::fs::read(d.local.join("t.txt")).unwrap(),
        b"one\ntwo\r\nthree\n"
    );
}

#[test]
fn a_closed_port_is_refused_at_once_and_named() {
    let d = Dirs::new();
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    for verb in ["get", "put"] {
        std::fs::write(d.local.join("x.txt"), b"x").unwrap();
        let out = client(&["tftp", verb, &addr, "x.txt"], &d.local);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("connection refused by {addr}")),
            "{verb}: {err}"
        );
    }
}

#[test]
fn a_timeout_names_the_address() {
    let d = Dirs::new();
    // Bound and never read: nothing answers, nothing refuses.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let out = client(
        &[
            "tftp",
            "get",
            &addr,
            "x.txt",
            "--timeout",
            "0.1",
            "--retries",
            "1",
        ],
        &d.local,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timed out") && err.contains(&addr), "{err}");
    drop(silent);
}
