//! The IRC front with clients nobody here wrote — the Python `irc` package and
//! irssi — and with a raw TCP client under every threaded model (so room output
//! reaches an idle IRC connection through each driver's wake-up).

use crate::common;

use common::{Server, READY_TIMEOUT};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

/// A chat server with an IRC port; returns it, the IRC address and its stdin.
pub(crate) fn serve(model: &str) -> (Server, SocketAddr, ChildStdin) {
    let mut cmd = common::netkit(&[
        "chat",
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--irc-port",
        "0",
        "--model",
        model,
    ]);
    cmd.stdin(Stdio::piped());
    let mut server = Server::start_cmd(cmd);
    let line = server
        .lines
        .recv_timeout(READY_TIMEOUT)
        .expect("the irc ready line");
    let url = common::ready_url(&line).expect("irc ready line");
    assert!(
        line.starts_with("irc listening on tcp://127.0.0.1:"),
        "{line}"
    );
    let irc = url
        .trim_start_matches("tcp://")
        .parse()
        .expect("irc address");
    let stdin = server.child.stdin.take().expect("piped stdin");
    (server, irc, stdin)
}

/// A UDP member of the room.
pub(crate) struct Udp(UdpSocket);

impl Udp {
    pub(crate) fn join(server: &Server, name: &str) -> Udp {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.connect(server.addr()).expect("connect");
        socket
            .set_read_timeout(Some(READY_TIMEOUT))
            .expect("timeout");
        let udp = Udp(socket);
        udp.send(&format!("JOIN {name}"));
        assert!(udp.recv().starts_with("OK "));
        // The second datagram confirms the address; the member list follows.
        udp.send("PING");
        udp.expect("PONG");
        udp
    }

    pub(crate) fn send(&self, text: &str) {
        self.0.send(text.as_bytes()).expect("send");
    }

    /// A member on a socket of the test's own (connected to the room).
    pub(crate) fn from_socket(socket: UdpSocket) -> Udp {
        socket
            .set_read_timeout(Some(READY_TIMEOUT))
            .expect("timeout");
        Udp(socket)
    }

    pub(crate) fn recv(&self) -> String {
        let mut buf = [0u8; 2048];
        let n = self.0.recv(&mut buf).expect("a datagram in time");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Skips datagrams until `want` (history, other notices), bounded.
    pub(crate) fn expect(&self, want: &str) {
        let mut seen = Vec::new();
        for _ in 0..100 {
            let got = self.recv();
            if got == want {
                return;
            }
            seen.push(got);
        }
        panic!("never got {want:?}; got {seen:?}");
    }
}

/// Reads lines (from any reader) until one satisfies `done`, bounded in time.
pub(crate) fn expect_line(
    lines: &mpsc::Receiver<String>,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if done(&line) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("never saw {what}; saw {seen:#?}"),
        }
    }
}

pub(crate) struct Python {
    child: Child,
    pub(crate) stdin: ChildStdin,
    pub(crate) lines: mpsc::Receiver<String>,
}

impl Python {
    /// The Python `irc` client (chat_irc_client.py) as `nick` at `irc`.
    pub(crate) fn start(irc: SocketAddr, nick: &str) -> Python {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/chat_irc_client.py");
        let mut child = Command::new("python3")
            .args([script, "127.0.0.1", &irc.port().to_string(), nick])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (scripts/test.sh installs the irc package)");
        let lines = common::spawn_line_reader(child.stdout.take().expect("stdout"));
        let stdin = child.stdin.take().expect("stdin");
        Python {
            child,
            stdin,
            lines,
        }
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn python_irc_client_talks_with_udp_members() {
    let (server, irc, mut operator) = serve("epoll");
    let bob = Udp::join(&server, "bob");
    bob.send("SAY said before the IRC client came");
    let mut py = Python::start(irc, "pyirc");

    expect_line(&py.lines, "own JOIN", |l| l == "JOINED pyirc #netkit");
    expect_line(&py.lines, "NAMES", |l| l == "NAMES bob pyirc");
    bob.expect("JOINED pyirc");

    bob.send("SAY hello, IRC");
    expect_line(&py.lines, "bob's message", |l| l == "PUBMSG bob hello, IRC");

    writeln!(py.stdin, "say hello from python").unwrap();
    bob.expect("MSG pyirc hello from python");

    writeln!(operator, "the operator speaks").unwrap();
    expect_line(&py.lines, "admin notice", |l| {
        l == "NOTICE [admin] the operator speaks"
    });
    bob.expect("ADMIN the operator speaks");

    writeln!(py.stdin, "who").unwrap();
    expect_line(&py.lines, "WHO bob", |l| l == "WHO bob");
    expect_line(&py.lines, "WHO pyirc", |l| l == "WHO pyirc");
    expect_line(&py.lines, "end of WHO", |l| l == "ENDOFWHO");

    writeln!(py.stdin, "quit").unwrap();
    bob.expect("LEFT pyirc");
    expect_line(&py.lines, "disconnect", |l| l == "DISCONNECTED");
}

/// A raw IRC connection, lines read by a thread.
fn raw_client(addr: SocketAddr, nick: &str) -> (TcpStream, mpsc::Receiver<String>) {
    let stream = TcpStream::connect(addr).expect("connect irc");
    let lines = common::spawn_line_reader(stream.try_clone().expect("clone"));
    let mut w = stream.try_clone().expect("clone");
    write!(
        w,
        "USER u 0 * :Raw Client\r\nNICK {nick}\r\nJOIN #netkit\r\n"
    )
    .unwrap();
    (stream, lines)
}

/// Under every model that shares one room between connections.
fn room_output_reaches_idle_irc_connections(model: &str) {
    let (server, irc, mut operator) = serve(model);
    let bob = Udp::join(&server, "bob");
    let (mut stream, lines) = raw_client(irc, "raw");
    expect_line(&lines, "366", |l| l.starts_with(":netkit 366 raw #netkit"));
    bob.expect("JOINED raw");
    // The IRC connection is idle: only a wake-up can bring these.
    bob.send("SAY ping from udp");
    expect_line(&lines, "PRIVMSG", |l| {
        l == ":bob!bob@netkit PRIVMSG #netkit :ping from udp"
    });
    writeln!(operator, "hear ye").unwrap();
    expect_line(&lines, "admin", |l| {
        l == ":netkit NOTICE raw :[admin] hear ye"
    });
    write!(stream, "PRIVMSG #netkit :pong from irc\r\n").unwrap();
    bob.expect("MSG raw pong from irc");
    // An over-long line is answered, and the connection goes on.
    let long = "x".repeat(2000);
    write!(stream, "PRIVMSG #netkit :{long}\r\nPING :still\r\n").unwrap();
    expect_line(&lines, "417", |l| l.contains(" 417 raw "));
    expect_line(&lines, "PONG", |l| l == ":netkit PONG netkit :still");
    // The reader thread holds a clone, so close the sending side explicitly.
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    bob.expect("LEFT raw");
    assert_eq!(server.terminate(), Some(0), "model {model}");
}

#[test]
fn irssi_connects_joins_and_talks() {
    let (server, irc, _operator) = serve("epoll");
    let bob = Udp::join(&server, "bob");
    let home = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r##"servers = ( {{ address = "127.0.0.1"; chatnet = "nk"; port = "{port}"; autoconnect = "yes"; }} );
chatnets = {{ nk = {{ type = "IRC"; }}; }};
channels = ( {{ name = "#netkit"; chatnet = "nk"; autojoin = "yes"; }} );
settings = {{ core = {{ nick = "smokey"; user_name = "smokey"; real_name = "Smoke Test"; }}; }};
"##,
        port = irc.port()
    );
    std::fs::write(home.path().join("config"), config).expect("write irssi config");
    let pty = nix::pty::openpty(
        Some(&nix::pty::Winsize {
            ws_row: 24,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        }),
        None,
    )
    .expect("openpty");
    let slave = std::fs::File::from(pty.slave);
    let child = Command::new("irssi")
        .arg("--home")
        .arg(home.path())
        .env("TERM", "xterm")
        .stdin(Stdio::from(slave.try_clone().expect("dup")))
        .stdout(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("irssi runs (scripts/test.sh installs it)");
    let mut irssi = KillOnDrop(child);
    let mut terminal = std::fs::File::from(pty.master);
    // The screen is not parsed, only drained so irssi never blocks on it.
    let mut screen = terminal.try_clone().expect("dup master");
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while matches!(screen.read(&mut buf), Ok(n) if n > 0) {}
    });
    bob.expect("JOINED smokey");
    terminal
        .write_all(b"/msg #netkit hello from irssi\r")
        .unwrap();
    bob.expect("MSG smokey hello from irssi");
    bob.send("SAY hi irssi");
    terminal.write_all(b"/quit bye now\r").unwrap();
    bob.expect("LEFT smokey");
    assert!(common::wait_bounded(&mut irssi.0, READY_TIMEOUT).is_some());
    drop(server);
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

common::every_model! {
    room_output_reaches_idle_irc_connections:
        [iterative, thread, pool, select, poll, epoll, r#async, uring],
}
