//! Shared by the chat backplane tests: a private redis-server on a free port,
//! `chat serve` instances on it (operator stdin, log lines), UDP members and a
//! raw IRC client.

use super::common::{self, spawn_line_reader, Server};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(10);

/// A private redis-server, killed when dropped.
pub struct Redis {
    pub child: Child,
    port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        for _ in 0..10 {
            // A free port: bound and released; another process may take it
            // before redis-server does, so a failed start is retried.
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            if let Some(redis) = Redis::start_on(port) {
                return redis;
            }
        }
        panic!("redis-server did not start on any of 10 free ports");
    }

    /// Starts redis-server on `port`; None if it exits before it is ready.
    pub fn start_on(port: u16) -> Option<Redis> {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server (Debian package redis-server) runs");
        let lines = spawn_line_reader(child.stdout.take().expect("piped"));
        let deadline = Instant::now() + WAIT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match lines.recv_timeout(left) {
                Ok(line) if line.contains("Ready to accept connections") => {
                    return Some(Redis { child, port });
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it and starts an empty one on the same port.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for _ in 0..50 {
            if let Some(mut fresh) = Redis::start_on(self.port) {
                std::mem::swap(self, &mut fresh);
                return;
            }
        }
        panic!("redis-server did not restart on port {}", self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `chat serve` instance: its UDP address, stdin (operator), stderr lines (logs).
pub struct Instance {
    pub server: Server,
    pub stdin: ChildStdin,
    logs: mpsc::Receiver<String>,
    pub irc: Option<SocketAddr>,
}

impl Instance {
    pub fn start(redis: &Redis, extra: &[&str]) -> Instance {
        let url = redis.url();
        let mut args = vec!["chat", "serve", "--bind", "127.0.0.1", "--port", "0"];
        args.extend_from_slice(&["--rate", "0", "--backplane", &url]);
        args.extend_from_slice(extra);
        let mut cmd = common::netkit(&args);
        cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
        cmd.env("NO_COLOR", "1");
        let mut server = Server::start_cmd(cmd);
        let stdin = server.child.stdin.take().expect("piped stdin");
        let logs = spawn_line_reader(server.child.stderr.take().expect("piped stderr"));
        let irc = extra.contains(&"--irc-port").then(|| {
            let line = server.lines.recv_timeout(WAIT).expect("irc ready line");
            let url = common::ready_url(&line).expect("irc ready line");
            url.trim_start_matches("tcp://")
                .parse()
                .expect("irc address")
        });
        Instance {
            server,
            stdin,
            logs,
            irc,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Waits for a log line containing `text`.
    pub fn log(&self, text: &str) {
        let deadline = Instant::now() + WAIT * 2;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.logs.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no log line with {text:?}");
    }

    /// An operator command; its reply line.
    pub fn operator(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("operator stdin");
        self.server
            .lines
            .recv_timeout(WAIT)
            .expect("operator reply")
    }
}

pub fn three(redis: &Redis) -> [Instance; 3] {
    [(); 3].map(|()| Instance::start(redis, &[]))
}

/// A UDP member.
pub struct Udp {
    pub socket: UdpSocket,
}

impl Udp {
    pub fn new(at: &Instance) -> Udp {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.connect(at.addr()).expect("connect");
        socket.set_read_timeout(Some(WAIT)).expect("timeout");
        Udp { socket }
    }

    /// Sends a padded JOIN (so an error can come back); the reply.
    pub fn try_join(&self, name: &str) -> String {
        self.send(&format!("JOIN {name}{}", " ".repeat(24)));
        self.recv()
    }

    pub fn joined(at: &Instance, name: &str) -> Udp {
        let m = Udp::new(at);
        let ok = m.try_join(name);
        assert!(ok.starts_with("OK "), "{name}: {ok}");
        // The second datagram confirms the address: from then on it hears
        // the room (the member list comes first).
        m.pending();
        m
    }

    pub fn send(&self, text: &str) {
        self.socket.send(text.as_bytes()).expect("send");
    }

    pub fn recv(&self) -> String {
        let mut buf = [0u8; 65_536];
        let n = self.socket.recv(&mut buf).expect("a datagram in time");
        String::from_utf8(buf[..n].to_vec()).expect("utf-8")
    }

    /// Reads until a datagram equal to `want`; returns what came before it.
    pub fn until(&self, want: &str) -> Vec<String> {
        let mut before = Vec::new();
        for _ in 0..10_000 {
            let got = self.recv();
            if got == want {
                return before;
            }
            before.push(got);
        }
        panic!("never got {want:?}");
    }

    /// Asks WHO until the answer is `members` (joins elsewhere arrive a
    /// moment after their OK), a bounded number of times.
    pub fn sees(&self, members: &str) {
        let seen = (0..1000).any(|_| {
            self.send("WHO");
            self.pending().iter().any(|d| d == members)
        });
        assert!(seen, "never saw {members:?}");
    }

    /// Everything queued before a PING's PONG.
    pub fn pending(&self) -> Vec<String> {
        self.send("PING");
        self.until("PONG")
    }
}

/// A raw IRC client: registered and in #netkit.
pub fn irc(addr: SocketAddr, nick: &str) -> (TcpStream, mpsc::Receiver<String>) {
    let stream = TcpStream::connect(addr).expect("connect irc");
    let lines = spawn_line_reader(stream.try_clone().expect("clone"));
    let mut w = stream.try_clone().expect("clone");
    write!(
        w,
        "NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN #netkit\r\n"
    )
    .expect("send");
    irc_until(&lines, " 366 ");
    (stream, lines)
}

pub fn irc_until(lines: &mpsc::Receiver<String>, text: &str) -> String {
    for _ in 0..1000 {
        let line = lines.recv_timeout(WAIT).expect("an irc line in time");
        if line.contains(text) {
            return line;
        }
    }
    panic!("no irc line with {text:?}");
}
