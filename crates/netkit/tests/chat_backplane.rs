//! Several `chat serve` instances on one Redis act as one room: names unique
//! across instances (a race of two JOINs has one winner), every message heard
//! once by everyone in one order, history and admin lines across instances,
//! a SIGKILLed instance's members LEFT and their names free, a Redis restart
//! survived (split, then whole), IRC on one instance and UDP on another.
//!
//! Each test starts its own `redis-server` on a free port (Debian package
//! redis-server, installed by scripts/test.sh). Synchronisation is by replies
//! and log lines only.

mod common;

use common::{spawn_line_reader, Server};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// A private redis-server, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
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
    fn start_on(port: u16) -> Option<Redis> {
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

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it and starts an empty one on the same port.
    fn restart(&mut self) {
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
struct Instance {
    server: Server,
    stdin: ChildStdin,
    logs: mpsc::Receiver<String>,
    irc: Option<SocketAddr>,
}

impl Instance {
    fn start(redis: &Redis, extra: &[&str]) -> Instance {
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

    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Waits for a log line containing `text`.
    fn log(&self, text: &str) {
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
    fn operator(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("operator stdin");
        self.server
            .lines
            .recv_timeout(WAIT)
            .expect("operator reply")
    }
}

fn three(redis: &Redis) -> [Instance; 3] {
    [(); 3].map(|()| Instance::start(redis, &[]))
}

/// A UDP member.
struct Udp {
    socket: UdpSocket,
}

impl Udp {
    fn new(at: &Instance) -> Udp {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.connect(at.addr()).expect("connect");
        socket.set_read_timeout(Some(WAIT)).expect("timeout");
        Udp { socket }
    }

    /// Sends a padded JOIN (so an error can come back); the reply.
    fn try_join(&self, name: &str) -> String {
        self.send(&format!("JOIN {name}{}", " ".repeat(24)));
        self.recv()
    }

    fn joined(at: &Instance, name: &str) -> Udp {
        let m = Udp::new(at);
        let ok = m.try_join(name);
        assert!(ok.starts_with("OK "), "{name}: {ok}");
        m
    }

    fn send(&self, text: &str) {
        self.socket.send(text.as_bytes()).expect("send");
    }

    fn recv(&self) -> String {
        let mut buf = [0u8; 65_536];
        let n = self.socket.recv(&mut buf).expect("a datagram in time");
        String::from_utf8(buf[..n].to_vec()).expect("utf-8")
    }

    /// Reads until a datagram equal to `want`; returns what came before it.
    fn until(&self, want: &str) -> Vec<String> {
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
    fn sees(&self, members: &str) {
        let seen = (0..1000).any(|_| {
            self.send("WHO");
            self.pending().iter().any(|d| d == members)
        });
        assert!(seen, "never saw {members:?}");
    }

    /// Everything queued before a PING's PONG.
    fn pending(&self) -> Vec<String> {
        self.send("PING");
        self.until("PONG")
    }
}

#[test]
fn names_are_unique_across_instances_and_a_race_has_one_winner() {
    let redis = Redis::start();
    let [a, b, c] = three(&redis);
    let _alice = Udp::joined(&a, "alice");
    assert_eq!(Udp::new(&b).try_join("alice"), "ERR name-taken");
    assert_eq!(Udp::new(&c).try_join("ALICE"), "ERR name-taken");
    for round in 0..5 {
        let name = format!("racer{round}");
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = [a.addr(), b.addr()]
            .into_iter()
            .map(|addr| {
                let (barrier, name) = (barrier.clone(), name.clone());
                std::thread::spawn(move || {
                    let m = Udp {
                        socket: UdpSocket::bind("127.0.0.1:0").expect("bind"),
                    };
                    m.socket.connect(addr).expect("connect");
                    m.socket.set_read_timeout(Some(WAIT)).expect("timeout");
                    barrier.wait();
                    m.try_join(&name)
                })
            })
            .collect();
        let replies: Vec<String> = racers
            .into_iter()
            .map(|t| t.join().expect("racer"))
            .collect();
        let won = replies.iter().filter(|r| r.starts_with("OK ")).count();
        let lost = replies.iter().filter(|r| *r == "ERR name-taken").count();
        assert_eq!((won, lost), (1, 1), "{replies:?}");
    }
    // A name is free everywhere once its member has left (the release is
    // published before the LEFT that carol hears).
    let carol = Udp::joined(&c, "carol");
    let bob = Udp::joined(&b, "bob");
    bob.send("LEAVE");
    let _ = carol.until("LEFT bob");
    let _again = Udp::joined(&c, "bob");
}

#[test]
fn every_message_reaches_every_other_member_once_in_one_order() {
    let redis = Redis::start();
    let instances = three(&redis);
    let names = ["a0", "a1", "b0", "b1", "c0", "c1"];
    let members: Vec<Udp> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Udp::joined(&instances[i / 2], name))
        .collect();
    const EACH: usize = 5;
    for round in 0..EACH {
        for (m, name) in members.iter().zip(names) {
            m.send(&format!("SAY {name}-{round}"));
        }
    }
    let others = (names.len() - 1) * EACH;
    let mut heard: Vec<Vec<String>> = Vec::new();
    for (m, name) in members.iter().zip(names) {
        let mut got = Vec::new();
        for _ in 0..10_000 {
            if got.len() == others {
                break;
            }
            let d = m.recv();
            if let Some(msg) = d.strip_prefix("MSG ") {
                got.push(msg.to_owned());
            }
        }
        let late: Vec<_> = m
            .pending()
            .into_iter()
            .filter(|d| d.starts_with("MSG "))
            .collect();
        assert!(late.is_empty(), "{name} heard more: {late:?}");
        let mut unique = got.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), others, "{name}: each message once: {got:?}");
        assert!(got.iter().all(|g| !g.starts_with(&format!("{name} "))));
        heard.push(got);
    }
    // One order: any two members agree on the order of what both heard.
    for i in 0..heard.len() {
        for j in i + 1..heard.len() {
            let both = |x: &Vec<String>, y: &Vec<String>| -> Vec<String> {
                x.iter().filter(|m| y.contains(m)).cloned().collect()
            };
            assert_eq!(
                both(&heard[i], &heard[j]),
                both(&heard[j], &heard[i]),
                "{} and {} disagree",
                names[i],
                names[j]
            );
        }
    }
}

#[test]
fn history_member_lists_and_admin_lines_cross_instances() {
    let redis = Redis::start();
    let [mut a, mut b, c] = three(&redis);
    let alice = Udp::joined(&a, "alice");
    let bob = Udp::joined(&b, "bob");
    let dave = Udp::joined(&c, "dave");
    alice.send("SAY one");
    alice.send("SAY two");
    let _ = bob.until("MSG alice two");
    let _ = dave.until("MSG alice two");
    // On bob's instance, which has heard them.
    let carol = Udp::joined(&b, "carol");
    carol.send("PING");
    assert_eq!(
        carol.until("PONG"),
        ["HISTORY alice one", "HISTORY alice two"]
    );
    carol.send("WHO");
    let who = carol.until("MEMBERS alice bob carol dave");
    assert!(who.iter().all(|d| !d.starts_with("MEMBERS")), "{who:?}");
    let list = b.operator("/list");
    assert!(
        list.starts_with("4 members: alice (on another server), bob (udp "),
        "{list}"
    );
    assert_eq!(b.operator("/status"), "room whole, 4 members");
    writeln!(a.stdin, "maintenance at noon").expect("stdin");
    for m in [&alice, &bob, &carol, &dave] {
        let before = m.until("ADMIN maintenance at noon");
        assert!(before.iter().all(|d| !d.starts_with("ADMIN")));
    }
    alice.sees("MEMBERS alice bob carol dave");
    assert_eq!(a.operator("/status"), "room whole, 4 members");
}

#[test]
fn a_killed_instance_leaves_and_frees_its_names() {
    let redis = Redis::start();
    // Heartbeats every second, dead after three: slow enough that a busy
    // machine does not miss one, fast enough for a test.
    let [mut a, b, c] = [(); 3].map(|()| Instance::start(&redis, &["--backplane-timeout", "3"]));
    let _alice = Udp::joined(&a, "alice");
    let _amy = Udp::joined(&a, "amy");
    let bob = Udp::joined(&b, "bob");
    let carol = Udp::joined(&c, "carol");
    for m in [&bob, &carol] {
        // Everyone has heard of everyone before the kill.
        m.sees("MEMBERS alice amy bob carol");
    }
    a.server.child.kill().expect("SIGKILL");
    let _ = a.server.child.wait();
    for m in [&bob, &carol] {
        let mut left: Vec<String> = Vec::new();
        for _ in 0..100 {
            if left.len() == 2 {
                break;
            }
            let d = m.recv();
            if d.starts_with("LEFT ") {
                left.push(d);
            }
        }
        left.sort();
        assert_eq!(left, ["LEFT alice", "LEFT amy"]);
    }
    let _again = Udp::joined(&b, "alice");
    let _amy_again = Udp::joined(&c, "amy");
    let _ = bob.until("JOINED amy");
    bob.send("WHO");
    let _ = bob.until("MEMBERS alice amy bob carol");
}

#[test]
fn a_redis_restart_splits_the_room_and_it_heals() {
    let mut redis = Redis::start();
    let [mut a, mut b] = [(); 2].map(|()| Instance::start(&redis, &[]));
    let alice = Udp::joined(&a, "alice");
    let amy = Udp::joined(&a, "amy");
    let bob = Udp::joined(&b, "bob");
    let _ = alice.until("JOINED bob");

    let _ = redis.child.kill();
    let _ = redis.child.wait();
    a.log("is split");
    b.log("is split");
    assert_eq!(a.operator("/status"), "room split, 3 members");
    // Local members are still served, each message once.
    alice.send("SAY while split");
    let before = amy.until("MSG alice while split");
    assert!(before.iter().all(|d| !d.starts_with("MSG")), "{before:?}");
    assert!(amy.pending().is_empty());
    let _late = Udp::joined(&b, "bert");

    redis.restart();
    a.log("is whole");
    b.log("is whole");
    // Whole again: members on both sides hear each other (and the split
    // message is not replayed).
    alice.send("SAY back");
    let before = bob.until("MSG alice back");
    assert!(
        !before.iter().any(|d| d.contains("while split")),
        "{before:?}"
    );
    bob.send("SAY hello again");
    let _ = alice.until("MSG bob hello again");
    let _ = amy.until("MSG bob hello again");
    bob.send("WHO");
    let _ = bob.until("MEMBERS alice amy bert bob");
    assert_eq!(b.operator("/status"), "room whole, 4 members");
    assert_eq!(a.server.child.try_wait().expect("status"), None, "alive");
}

/// A raw IRC client: registered and in #netkit.
fn irc(addr: SocketAddr, nick: &str) -> (TcpStream, mpsc::Receiver<String>) {
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

fn irc_until(lines: &mpsc::Receiver<String>, text: &str) -> String {
    for _ in 0..1000 {
        let line = lines.recv_timeout(WAIT).expect("an irc line in time");
        if line.contains(text) {
            return line;
        }
    }
    panic!("no irc line with {text:?}");
}

#[test]
fn an_irc_client_and_a_udp_member_on_other_instances_talk() {
    let redis = Redis::start();
    let a = Instance::start(&redis, &["--irc-port", "0"]);
    let b = Instance::start(&redis, &[]);
    let (mut stream, lines) = irc(a.irc.expect("irc address"), "ann");
    assert_eq!(Udp::new(&b).try_join("ann"), "ERR name-taken");
    let bob = Udp::joined(&b, "bob");
    irc_until(&lines, ":bob!bob@netkit JOIN #netkit");
    write!(stream, "PRIVMSG #netkit :hello bob\r\n").expect("send");
    let _ = bob.until("MSG ann hello bob");
    bob.send("SAY hello ann");
    irc_until(&lines, ":bob!bob@netkit PRIVMSG #netkit :hello ann");
    write!(stream, "NAMES #netkit\r\n").expect("send");
    let names = irc_until(&lines, " 353 ");
    assert!(names.ends_with(":ann bob"), "{names}");
    write!(stream, "QUIT :bye\r\n").expect("send");
    let _ = bob.until("LEFT ann");
}
