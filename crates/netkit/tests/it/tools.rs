//! The tools against programs nobody here wrote: OpenBSD netcat and socat talk
//! to `netkit echo serve` (TCP, UDP, Unix), `netkit nc` talks to socat echo
//! servers, and `netkit broadcast` sends to its own listeners on loopback.
//!
//! `nc` (netcat-openbsd) and `socat` must be installed: these tests fail, never
//! skip, without them (`apt-get install -y netcat-openbsd socat`).

use crate::common;

use common::{netkit, random_bytes, signal, spawn_line_reader, wait_bounded, Server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

mod broadcast;
mod nc;
mod nc_forms;

/// Bound on every client run and every awaited line.
const LIMIT: Duration = Duration::from_secs(30);

/// Fails the test (not skips it) when an outside tool is missing.
fn tool(name: &str) -> Command {
    if let Err(e) = Command::new(name)
        .arg("-h")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        panic!("`{name}` is required ({e}): apt-get install -y netcat-openbsd socat");
    }
    Command::new(name)
}

/// Runs `cmd` with `input` on stdin (then closed) and returns its exit code and
/// stdout, killing it after [`LIMIT`].
fn run_piped(mut cmd: Command, input: Vec<u8>) -> (Option<i32>, Vec<u8>) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn client");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || {
        // A client that exits early closes the pipe; its exit code tells the rest.
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let code = wait_bounded(&mut child, LIMIT);
    writer.join().expect("writer thread");
    (code, reader.join().expect("reader thread"))
}

/// A line-oriented client: write a line, wait for the reply line.
struct Interactive {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Interactive {
    fn start(mut cmd: Command) -> Interactive {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn client");
        let stdin = child.stdin.take();
        let lines = spawn_line_reader(child.stdout.take().expect("piped stdout"));
        Interactive {
            child,
            stdin,
            lines,
        }
    }

    fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to client");
        stdin.flush().expect("flush to client");
    }

    fn expect(&self, want: &str) {
        let got = self.lines.recv_timeout(LIMIT).expect("a reply line");
        assert_eq!(got, want);
    }

    /// Closes stdin and returns the exit code.
    fn finish(mut self) -> Option<i32> {
        drop(self.stdin.take());
        wait_bounded(&mut self.child, LIMIT)
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A socat echo server, killed when dropped.
struct Socat(Child);

impl Drop for Socat {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Socat {
    /// Starts `socat LISTEN EXEC:cat` and waits (bounded) until `ready` succeeds;
    /// `None` if socat exited, e.g. because someone took the port first.
    fn try_echo(listen: &str, ready: impl Fn() -> bool) -> Option<Socat> {
        let child = tool("socat")
            .args([listen, "EXEC:cat"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn socat");
        let mut socat = Socat(child);
        for _ in 0..400 {
            if let Ok(Some(status)) = socat.0.try_wait() {
                eprintln!("socat {listen} exited early: {status}");
                return None;
            }
            if ready() {
                return Some(socat);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("socat {listen} never became ready");
    }

    /// An echo server on a free 127.0.0.1 port: socat cannot report the port it
    /// picks, so we pick one that was free a moment ago, retrying if it was taken.
    fn echo_on_port(
        listen: impl Fn(u16) -> String,
        ready: impl Fn(SocketAddr) -> bool,
    ) -> (Socat, SocketAddr) {
        for _ in 0..5 {
            let probe = TcpListener::bind("127.0.0.1:0").expect("bind probe");
            let addr = probe.local_addr().expect("probe addr");
            drop(probe);
            if let Some(socat) = Socat::try_echo(&listen(addr.port()), || ready(addr)) {
                return (socat, addr);
            }
        }
        panic!("no free port for socat after 5 tries");
    }
}

/// A port nothing listens on (it was free a moment ago).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind probe");
    l.local_addr().expect("probe addr").port()
}

fn udp_echoes(addr: SocketAddr) -> bool {
    let Ok(sock) = UdpSocket::bind("127.0.0.1:0") else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 64];
    sock.send_to(b"probe\n", addr).is_ok()
        && matches!(sock.recv_from(&mut buf), Ok((6, from)) if from == addr && &buf[..6] == b"probe\n")
}

fn echo_server(extra: &[&str]) -> Server {
    let mut args = vec!["echo", "serve", "--bind", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn lines_sorted(bytes: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

// ── outside clients against `netkit echo serve` ─────────────────────────────

#[test]
fn openbsd_nc_and_socat_talk_to_echo_over_tcp() {
    let server = echo_server(&[]);
    let addr = server.addr();
    let mut nc = tool("nc");
    nc.args(["-N", "127.0.0.1", &addr.port().to_string()]);
    let (code, out) = run_piped(nc, b"hello\nworld\n".to_vec());
    assert_eq!(code, Some(0));
    assert_eq!(out, b"hello\nworld\n");

    socat_gets_its_bytes_back(&format!("TCP:{addr}"), random_bytes(7, 256 * 1024));
    assert_eq!(server.terminate(), Some(0));
}

/// socat sends `payload` to an echo server at `target` (a socat address)
/// and must get every byte back, then exit 0.
fn socat_gets_its_bytes_back(target: &str, payload: Vec<u8>) {
    let mut socat = tool("socat");
    socat.args(["-t", "30", "-", target]);
    let (code, out) = run_piped(socat, payload.clone());
    assert_eq!(code, Some(0));
    assert!(
        out == payload,
        "socat got {} of {} bytes back",
        out.len(),
        payload.len()
    );
}

#[test]
fn openbsd_nc_and_socat_talk_to_echo_over_udp() {
    let server = echo_server(&["--udp"]);
    let addr = server.addr();
    let mut nc = tool("nc");
    nc.args(["-u", "-q", "0", "127.0.0.1", &addr.port().to_string()]);
    let mut nc = Interactive::start(nc);
    for line in ["ping", "second datagram"] {
        nc.say(line);
        nc.expect(line);
    }
    assert_eq!(nc.finish(), Some(0));

    let mut socat = tool("socat");
    socat.args(["-t", "0", "-", &format!("UDP:{addr}")]);
    let mut socat = Interactive::start(socat);
    socat.say("from socat");
    socat.expect("from socat");
    assert_eq!(socat.finish(), Some(0));
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn openbsd_nc_and_socat_talk_to_echo_over_unix_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("echo.sock");
    let path_str = path.to_str().expect("utf-8 temp path");
    let server = Server::start(&["echo", "serve", "--unix", path_str]);
    assert_eq!(server.url, format!("unix://{path_str}"));

    let mut nc = tool("nc");
    nc.args(["-N", "-U", path_str]);
    let (code, out) = run_piped(nc, b"over a unix socket\n".to_vec());
    assert_eq!(code, Some(0));
    assert_eq!(out, b"over a unix socket\n");

    socat_gets_its_bytes_back(
        &format!("UNIX-CONNECT:{path_str}"),
        random_bytes(11, 200_000),
    );
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn echo_unix_socket_file_is_removed_at_exit_and_a_stale_one_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("stale.sock");
    // A server that died leaves its socket file behind, with nobody accepting.
    drop(UnixListener::bind(&path).expect("bind the stale socket"));
    assert!(path.exists());

    let server = Server::start(&["echo", "serve", "--unix", path.to_str().expect("utf-8")]);
    let mut conn = UnixStream::connect(&path).expect("connect to the new server");
    conn.write_all(b"fresh").expect("write");
    conn.shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut back = Vec::new();
    conn.read_to_end(&mut back).expect("read echo");
    assert_eq!(back, b"fresh");

    assert_eq!(server.terminate(), Some(0));
    assert!(
        !path.exists(),
        "socket file left behind at {}",
        path.display()
    );
}
