//! `netkit chat join` end to end, each client on its own pseudo-terminal, as a
//! person would run it: two clients talk, `/who` lists the members, one quits
//! and the other sees it; a later joiner gets the history; a client whose
//! server died says so and exits 1; one whose server shuts down leaves at
//! once (exit 0); a closed port is "connection refused" with its address;
//! control characters a room forwards are printed escaped.

use crate::common;

use common::{Server, READY_TIMEOUT};
use std::fs::File;
use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A `netkit chat join` on a pseudo-terminal.
pub(crate) struct Client {
    child: Child,
    pub(crate) terminal: File,
    lines: mpsc::Receiver<String>,
    pub(crate) seen: Vec<String>,
}

/// `line` without its timestamp (`HH:MM `), which every printed line has
/// unless `--no-time`; `None` when it has none.
pub(crate) fn unstamped(line: &str) -> Option<&str> {
    let (stamp, rest) = (line.get(..6)?, line.get(6..)?);
    let b = stamp.as_bytes();
    let digits = [0, 1, 3, 4].iter().all(|i| b[*i].is_ascii_digit());
    (digits && b[2] == b':' && b[5] == b' ').then_some(rest)
}

impl Client {
    pub(crate) fn start(server: &Server, name: &str) -> Client {
        Client::start_at(&server.addr().to_string(), name)
    }

    fn start_at(addr: &str, name: &str) -> Client {
        Client::start_with(&["chat", "join", addr, name])
    }

    /// `netkit ARGS` on a pseudo-terminal.
    pub(crate) fn start_with(args: &[&str]) -> Client {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = File::from(pty.slave);
        let child = common::netkit(args)
            .stdin(Stdio::from(slave.try_clone().expect("dup")))
            .stdout(Stdio::from(slave.try_clone().expect("dup")))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("spawn chat join");
        let terminal = File::from(pty.master);
        let mut reader = terminal.try_clone().expect("dup master");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut pending = Vec::new();
            // EIO once the client exits and the slave side is closed.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&buf[..n]);
                while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let line = String::from_utf8_lossy(&line).trim_end().to_owned();
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        });
        Client {
            child,
            terminal,
            lines: rx,
            seen: Vec::new(),
        }
    }

    pub(crate) fn type_line(&mut self, line: &str) {
        writeln!(self.terminal, "{line}").expect("type into the terminal");
    }

    /// Waits (bounded) for a line equal to `want` after its timestamp
    /// (which it must have); earlier lines are kept in `seen`.
    pub(crate) fn expect(&mut self, want: &str) {
        self.expect_raw(want, |line| unstamped(line).unwrap_or(""));
    }

    /// Waits (bounded) for a line equal to `want` as `view` shows it.
    pub(crate) fn expect_raw(&mut self, want: &str, view: impl Fn(&str) -> &str) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if view(&line) == want => return,
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("never saw {want:?}; saw {:#?}", self.seen),
            }
        }
    }

    pub(crate) fn wait(&mut self) -> Option<i32> {
        common::wait_bounded(&mut self.child, Duration::from_secs(20))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_clients_talk_and_one_quits() {
    let server = Server::start(&["chat", "serve", "--bind", "127.0.0.1", "--port", "0"]);
    let mut alice = Client::start(&server, "alice");
    alice.expect("joined as alice");
    alice.expect("members: alice");
    let mut bob = Client::start(&server, "bob");
    bob.expect("joined as bob");
    bob.expect("members: alice, bob");
    alice.expect("bob joined");

    alice.type_line("hi bob, how are you?");
    bob.expect("alice: hi bob, how are you?");
    bob.type_line("fine, thanks");
    alice.expect("bob: fine, thanks");
    bob.type_line("/who");
    bob.expect("members: alice, bob");

    bob.type_line("/quit");
    alice.expect("bob left");
    assert_eq!(bob.wait(), Some(0));

    let mut carol = Client::start(&server, "carol");
    carol.expect("joined as carol");
    carol.expect("members: alice, carol");
    carol.expect("[history] alice: hi bob, how are you?");
    carol.expect("[history] bob: fine, thanks");
    alice.expect("carol joined");
    // End of input (^D on a terminal) leaves too.
    carol.terminal.write_all(b"\x04").expect("type ^D");
    alice.expect("carol left");
    assert_eq!(carol.wait(), Some(0));
}

#[test]
fn a_taken_name_is_refused() {
    let server = Server::start(&["chat", "serve", "--bind", "127.0.0.1", "--port", "0"]);
    let mut alice = Client::start(&server, "alice");
    alice.expect("joined as alice");
    let mut other = Client::start(&server, "ALICE");
    other.expect_raw(
        "netkit: the name ALICE is taken (or looks like a member's name)",
        |l| l,
    );
    assert_eq!(other.wait(), Some(1));
}

#[test]
fn a_bad_name_is_a_usage_error() {
    let out = common::netkit(&["chat", "join", "127.0.0.1:9", "two words"])
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid name"));
}

#[test]
fn a_dead_server_is_noticed() {
    let server = Server::start(&["chat", "serve", "--bind", "127.0.0.1", "--port", "0"]);
    let addr = server.addr().to_string();
    let mut cmd = common::netkit(&["chat", "join", &addr, "alice", "--ping-interval", "0.2"]);
    cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn chat join");
    let lines = common::spawn_line_reader(child.stdout.take().expect("piped stdout"));
    let first = lines.recv_timeout(READY_TIMEOUT).expect("a joined line");
    assert_eq!(unstamped(&first), Some("joined as alice"));
    drop(server);
    let code = common::wait_bounded(&mut child, Duration::from_secs(20));
    assert_eq!(code, Some(1));
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("piped stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    assert!(err.contains("stopped answering"), "{err}");
}

#[test]
fn the_client_leaves_at_once_when_the_server_shuts_down() {
    let server = Server::start(&["chat", "serve", "--bind", "127.0.0.1", "--port", "0"]);
    let addr = server.addr().to_string();
    // --no-time: lines as they are, without the time.
    let mut cmd = common::netkit(&["chat", "join", &addr, "alice", "--no-time"]);
    cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn chat join");
    let lines = common::spawn_line_reader(child.stdout.take().expect("piped stdout"));
    assert_eq!(
        lines.recv_timeout(READY_TIMEOUT).unwrap(),
        "joined as alice"
    );
    assert_eq!(lines.recv_timeout(READY_TIMEOUT).unwrap(), "members: alice");
    assert_eq!(server.terminate(), Some(0));
    // Without the notice it would wait for two missed PINGs (40 s): the
    // bounded wait here is shorter than that.
    let code = common::wait_bounded(&mut child, Duration::from_secs(15));
    assert_eq!(
        code,
        Some(0),
        "still running after the server said it was going"
    );
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("is shutting down; leaving"), "{err}");
}

#[test]
fn a_closed_port_is_refused_and_named() {
    let port = {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut child = common::netkit(&["chat", "join", &addr, "alice"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chat join");
    assert_eq!(
        common::wait_bounded(&mut child, Duration::from_secs(20)),
        Some(1)
    );
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("connection refused"), "{err}");
    assert!(err.contains(&addr), "{err}");
}

#[test]
fn control_characters_from_a_server_are_printed_escaped() {
    // A room that does not clean what it forwards (not netkit's): the
    // client is the second wall.
    let fake = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    fake.set_read_timeout(Some(READY_TIMEOUT)).unwrap();
    let mut client = Client::start_at(&fake.local_addr().unwrap().to_string(), "alice");
    let mut buf = [0u8; 2048];
    let (n, from) = fake.recv_from(&mut buf).expect("a JOIN");
    assert!(buf[..n].starts_with(b"JOIN alice"));
    fake.send_to(b"OK alice", from).unwrap();
    fake.send_to(
        b"MSG mallory \x1b]0;owned\x07\x1b[2J\ralice: your password?",
        from,
    )
    .unwrap();
    client.expect("mallory: \\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{d}alice: your password?");
}
