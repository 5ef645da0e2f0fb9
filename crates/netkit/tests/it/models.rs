//! The cross-model conformance suite: the same scripted conversations against
//! `netkit echo serve --model M` for every model, so "every model serves the
//! same protocol with the same behaviour" (SPEC) is checked, not hoped.
//!
//! One macro stamps out a module per model (ripgrep's `rgtest!` idea), so a
//! failure reads `models::poll::half_close_gets_everything_then_eof` and one
//! model can be run alone: `cargo test -p netkit --test it models::poll::`.
//!
//! Scenarios: 50 concurrent clients each echo 1 MiB byte-exact; clients that
//! vanish, stay silent, half-close or reset mid-transfer, each followed by a
//! fresh client that must be served correctly; SIGTERM exits 0; a low soft
//! open-file limit is raised to the hard limit. (Wake-ups, re-offered input and
//! lingering close need sessions echo does not have: they are checked under
//! every model in crates/drivers/tests/every_model.rs.) Per model:
//! `iterative` serves a second client only after the first leaves (shown by
//! order, not timing), and `fork` leaves no zombie after 100 connections.

use crate::common;

use common::{local_args, random_bytes, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A read or write that waits longer than this means the server is stuck.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

fn start(model: &str) -> Server {
    let mut args = local_args(&["echo", "serve"], model);
    args.extend(["--grace", "5"]);
    Server::start(&args)
}

fn connect(addr: SocketAddr) -> TcpStream {
    common::connect(addr, IO_TIMEOUT)
}

/// Sends `data` from one thread, half-closes, and reads the echo to EOF on
/// another (a single thread would deadlock once both socket buffers fill).
fn echo_exchange(addr: SocketAddr, data: &[u8]) -> Result<Vec<u8>, String> {
    let stream = connect(addr);
    let mut writer = stream.try_clone().map_err(|e| format!("clone: {e}"))?;
    std::thread::scope(|scope| {
        let sending = scope.spawn(move || -> Result<(), String> {
            writer.write_all(data).map_err(|e| format!("write: {e}"))?;
            writer
                .shutdown(Shutdown::Write)
                .map_err(|e| format!("shutdown: {e}"))
        });
        let mut got = Vec::with_capacity(data.len());
        let read = (&stream)
            .read_to_end(&mut got)
            .map_err(|e| format!("read after {} bytes: {e}", got.len()));
        let sent = sending
            .join()
            .unwrap_or_else(|_| Err("writer panicked".into()));
        read?;
        sent?;
        Ok(got)
    })
}

/// Where two byte strings first differ, for a readable failure.
fn same_bytes(got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b);
    Err(format!(
        "echo differs: got {} bytes, sent {}; first difference at {at:?}",
        got.len(),
        want.len()
    ))
}

/// A fresh client gets a byte-exact echo: the server is still healthy.
fn assert_still_serves(server: &Server, after: &str) {
    let data = random_bytes(after.len() as u64, 100 * 1024);
    let result = echo_exchange(server.addr(), &data).and_then(|got| same_bytes(&got, &data));
    if let Err(e) = result {
        panic!("after {after}, a new client was not served correctly: {e}");
    }
}

fn fifty_clients_echo_1mib_each(model: &str) {
    let server = start(model);
    let addr = server.addr();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..50u64)
            .map(|i| {
                scope.spawn(move || {
                    let data = random_bytes(i + 1, 1 << 20);
                    echo_exchange(addr, &data)
                        .and_then(|got| same_bytes(&got, &data))
                        .map_err(|e| format!("client {i}: {e}"))
                })
            })
            .collect();
        clients
            .into_iter()
            .filter_map(|c| c.join().unwrap_or_else(|_| Err("panicked".into())).err())
            .collect()
    });
    assert!(failures.is_empty(), "{model}: {failures:#?}");
    assert_eq!(server.terminate(), Some(0));
}

/// Connects, sends, and closes without reading the echo: the server's reply
/// meets a closed socket (EPIPE or a reset).
fn client_that_vanishes(model: &str) {
    let server = start(model);
    for _ in 0..3 {
        let mut s = connect(server.addr());
        s.write_all(&random_bytes(7, 64 * 1024)).expect("write");
        drop(s);
    }
    TcpStream::connect(server.addr()).expect("connect"); // and gone at once
    assert_still_serves(&server, &format!("{model}: clients that vanished"));
    assert_eq!(server.terminate(), Some(0));
}

/// Connects, sends nothing, half-closes: the echo of nothing is an EOF.
fn silent_client_gets_eof(model: &str) {
    let server = start(model);
    let got = echo_exchange(server.addr(), b"").expect("silent client");
    assert!(got.is_empty(), "nothing sent, {} bytes echoed", got.len());
    assert_still_serves(&server, &format!("{model}: a silent client"));
    assert_eq!(server.terminate(), Some(0));
}

/// Sends, shuts down its write side, and must still receive every byte, then EOF.
fn half_close_gets_everything_then_eof(model: &str) {
    let server = start(model);
    let data = random_bytes(42, 300 * 1024 + 17);
    let mut s = connect(server.addr());
    s.write_all(&data).expect("write");
    s.shutdown(Shutdown::Write).expect("half-close");
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("read the echo after half-closing");
    same_bytes(&got, &data).unwrap_or_else(|e| panic!("{model}: {e}"));
    assert_still_serves(&server, &format!("{model}: a half-closed client"));
    assert_eq!(server.terminate(), Some(0));
}

/// Resets the connection (SO_LINGER 0, then close) while echoed data is in
/// flight both ways.
fn reset_mid_transfer(model: &str) {
    let server = start(model);
    let mut s = connect(server.addr());
    // Fill the pipes without blocking: the server echoes into our receive
    // buffer while we do not read.
    s.set_nonblocking(true).expect("nonblocking");
    let data = random_bytes(9, 4 << 20);
    let mut sent = 0;
    while sent < data.len() {
        match s.write(&data[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    // Proof the transfer is under way: some echo has come back.
    s.set_nonblocking(false).expect("blocking");
    let mut first = [0u8; 1];
    s.read_exact(&mut first)
        .expect("some echo before the reset");
    assert_eq!(first[0], data[0]);
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(s); // sends RST
    assert_still_serves(&server, &format!("{model}: a reset mid-transfer"));
    assert_eq!(server.terminate(), Some(0));
}

/// SIGTERM with a client connected and one that just finished → exit 0.
fn sigterm_exits_zero(model: &str) {
    let server = start(model);
    assert_still_serves(&server, &format!("{model}: start-up"));
    let mut idle = connect(server.addr());
    idle.write_all(b"ping").expect("write");
    let mut got = [0u8; 4];
    idle.read_exact(&mut got).expect("echo while connected");
    assert_eq!(&got, b"ping");
    assert_eq!(server.terminate(), Some(0), "{model}: SIGTERM must exit 0");
}

/// Started with a low soft open-file limit, the server raises it to the hard
/// limit itself: every connection is a descriptor.
fn raises_its_open_file_limit(model: &str) {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -Sn 256 && exec "$0" "$@""#)
        .arg(common::netkit_bin())
        .args(["echo", "serve", "--bind", "127.0.0.1", "--port", "0"])
        .args(["--model", model, "--grace", "5"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    let server = Server::start_cmd(cmd);
    // Served once: the serve entry point, which raises the limit, has run.
    assert_still_serves(&server, &format!("{model}: start-up"));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id()))
        .expect("read /proc/PID/limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (soft, hard) = (fields[3], fields[4]);
    assert_eq!(soft, hard, "{model}: soft limit not raised: {line}");
    assert_eq!(server.terminate(), Some(0));
}

/// A second netkit on a port a netkit already serves exits 1 with "address
/// already in use" (SO_REUSEPORT alone would let it join the port and take
/// half the connections); the first still answers `nc` afterwards.
fn second_server_on_the_port_exits_1(model: &str) {
    let server = start(model);
    let port = server.addr().port().to_string();
    let mut second = common::netkit(&["echo", "serve", "--bind", "127.0.0.1", "--port", &port]);
    second.args(["--model", model]);
    let (code, stdout, stderr) = common::run_bounded(second, Duration::from_secs(10));
    assert_eq!(code, Some(1), "{model}: {stdout} {stderr}");
    assert!(
        stderr.contains("address already in use"),
        "{model}: {stderr}"
    );
    assert!(stdout.is_empty(), "{model}: no ready line: {stdout}");
    assert_eq!(common::nc_echo(server.addr(), "ping"), "ping", "{model}");
    assert_eq!(server.terminate(), Some(0));
}

common::every_model! {
    second_server_on_the_port_exits_1,
    fifty_clients_echo_1mib_each,
    client_that_vanishes,
    silent_client_gets_eof,
    half_close_gets_everything_then_eof,
    reset_mid_transfer,
    sigterm_exits_zero,
    raises_its_open_file_limit,
}

/// Under `iterative`, a second client's bytes are not echoed while the first
/// is connected — and are echoed as soon as it leaves.
#[test]
fn iterative_serves_the_second_client_only_after_the_first_leaves() {
    let server = start("iterative");
    let mut first = connect(server.addr());
    first.write_all(b"first").expect("write first");
    let mut got = [0u8; 5];
    first.read_exact(&mut got).expect("first is being served");

    let mut second = connect(server.addr());
    second.write_all(b"second").expect("write second");
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("short timeout");
    let mut buf = [0u8; 6];
    match second.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("second client answered while the first is served: {other:?}"),
    }
    // The server is still with the first client...
    first.write_all(b"again").expect("write first");
    first.read_exact(&mut got).expect("first still served");
    assert_eq!(&got, b"again");
    // ...and turns to the second the moment the first leaves.
    drop(first);
    second.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    second
        .read_exact(&mut buf)
        .expect("second served after first");
    assert_eq!(&buf, b"second");
    assert_eq!(server.terminate(), Some(0));
}

/// `fork` reaps: after 100 connections no child of the server lingers, and in
/// particular none is a zombie.
#[test]
fn fork_leaves_no_zombies_after_100_connections() {
    let server = start("fork");
    let pid = server.child.id();
    // The /proc scan must see a child while one is serving, or an empty
    // result below would prove nothing.
    let mut held = connect(server.addr());
    held.write_all(b"x").expect("write");
    held.read_exact(&mut [0u8; 1]).expect("echo from a child");
    let live = children_of(pid);
    assert!(
        live.iter().any(|(_, state)| *state != 'Z'),
        "no live child found while a client is served: {live:?}"
    );
    drop(held);
    for i in 0..100u64 {
        let data = random_bytes(i, 64);
        let got = echo_exchange(server.addr(), &data).expect("echo");
        same_bytes(&got, &data).unwrap_or_else(|e| panic!("connection {i}: {e}"));
    }
    // Each child has finished serving (we saw its EOF); wait, bounded, for
    // the parent to collect them.
    let start = Instant::now();
    loop {
        let children = children_of(pid);
        if children.is_empty() {
            break;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let zombies = children.iter().filter(|(_, s)| *s == 'Z').count();
            panic!("{zombies} zombie(s) among children left after 20 s: {children:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.terminate(), Some(0));
}

/// (pid, state) of every process whose parent is `parent`, from /proc/*/stat.
fn children_of(parent: u32) -> Vec<(u32, char)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        panic!("no /proc");
    };
    dir.filter_map(Result::ok)
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            // A process may exit between listing and reading: skip it.
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // "pid (comm) S ppid ...": comm may hold spaces or parentheses.
            let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
            let state = fields.next()?.chars().next()?;
            let ppid: u32 = fields.next()?.parse().ok()?;
            (ppid == parent).then_some((pid, state))
        })
        .collect()
}
