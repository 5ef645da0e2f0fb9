//! `netkit chat join` end to end, each client on its own pseudo-terminal, as a
//! person would run it: two clients talk, `/who` lists the members, one quits
//! and the other sees it; a later joiner gets the history; a client whose
//! server died says so and exits 1.

mod common;

use common::{Server, READY_TIMEOUT};
use std::fs::File;
use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A `netkit chat join` on a pseudo-terminal.
struct Client {
    child: Child,
    terminal: File,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Client {
    fn start(server: &Server, name: &str) -> Client {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = File::from(pty.slave);
        let addr = server.addr().to_string();
        let child = common::netkit(&["chat", "join", &addr, name])
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

    fn type_line(&mut self, line: &str) {
        writeln!(self.terminal, "{line}").expect("type into the terminal");
    }

    /// Waits (bounded) for a line equal to `want`; earlier lines are kept in `seen`.
    fn expect(&mut self, want: &str) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == want => return,
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("never saw {want:?}; saw {:#?}", self.seen),
            }
        }
    }

    fn wait(&mut self) -> Option<i32> {
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
    alice.expect("joined as alice; members: alice");
    let mut bob = Client::start(&server, "bob");
    bob.expect("joined as bob; members: alice, bob");
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
    carol.expect("joined as carol; members: alice, carol");
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
    alice.expect("joined as alice; members: alice");
    let mut other = Client::start(&server, "ALICE");
    other.expect("netkit: the name ALICE is taken");
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
    assert_eq!(first, "joined as alice; members: alice");
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
