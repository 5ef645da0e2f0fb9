//! Who may listen where: a port a netkit (or anyone else) already serves
//! makes a second server exit 1 with "address already in use", whatever the
//! service or protocol, and the first keeps serving.

use crate::common;

use common::{local_args, run_bounded, Server};
use std::time::Duration;

/// How long a server that should fail at once may run before it is killed.
const LIMIT: Duration = Duration::from_secs(10);

fn assert_refused(words: &[&str], port: u16) {
    let port = port.to_string();
    let mut cmd = common::netkit(words);
    cmd.args(["--bind", "127.0.0.1", "--port", &port]);
    let (code, stdout, stderr) = run_bounded(cmd, LIMIT);
    assert_eq!(code, Some(1), "{words:?}: {stdout} {stderr}");
    assert!(
        stderr.contains("address already in use"),
        "{words:?}: {stderr}"
    );
    assert!(
        stdout.is_empty(),
        "{words:?} printed a ready line: {stdout}"
    );
}

/// `nc -z`: the port still accepts connections.
fn nc_open(port: u16) -> bool {
    std::process::Command::new("nc")
        .args(["-z", "-w", "5", "127.0.0.1", &port.to_string()])
        .status()
        .expect("run nc -z")
        .success()
}

#[test]
fn files_serve_onto_the_http_port_exits_1() {
    let dirs = common::Dirs::new();
    let dir = common::utf8(&dirs.served);
    let http = Server::start(&local_args(&["http", "serve", dir], "epoll"));
    let port = http.addr().port();
    assert_refused(&["files", "serve", dir], port);
    assert_refused(&["http", "serve", dir], port);
    assert!(nc_open(port), "the first server still accepts");
    assert_eq!(http.terminate(), Some(0));
}

#[test]
fn a_port_held_by_another_program_makes_netkit_exit_1() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe");
        probe.local_addr().expect("probe address").port()
    };
    // netcat-openbsd listens with SO_REUSEPORT: the kernel alone would let
    // netkit join its port.
    let nc = std::process::Command::new("nc")
        .args(["-lk", "127.0.0.1", &port.to_string()])
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("spawn nc -l");
    let _nc = KillOnDrop(nc);
    // nc prints nothing when it listens: wait until a connection gets through.
    common::eventually(LIMIT, "nc listens", || nc_open(port));
    assert_refused(&["echo", "serve"], port);
    assert_refused(&["http", "serve"], port);
}

/// Kills a helper process however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn udp_services_refuse_a_taken_port_too() {
    let dirs = common::Dirs::new();
    let dir = common::utf8(&dirs.served);
    let tftp = Server::start(&["tftp", "serve", dir, "--bind", "127.0.0.1", "--port", "0"]);
    assert_refused(&["tftp", "serve", dir], tftp.addr().port());
    assert_refused(&["chat", "serve"], tftp.addr().port());
    let chat = Server::start(&["chat", "serve", "--bind", "127.0.0.1", "--port", "0"]);
    assert_refused(&["chat", "serve"], chat.addr().port());
    assert_eq!(tftp.terminate(), Some(0));
    assert_eq!(chat.terminate(), Some(0));
}

/// `--bind` twice: one ready line per listener, and both answer (`nc`).
fn bind_twice_prints_two_ready_lines_and_both_answer(model: &str) {
    let mut args = vec!["echo", "serve", "--bind", "::1", "--bind", "127.0.0.1"];
    args.extend(["--port", "0", "--model", model]);
    let server = Server::start(&args);
    let second = server
        .lines
        .recv_timeout(common::READY_TIMEOUT)
        .expect("a second ready line");
    let second = common::url_addr(&common::ready_url(&second).expect("a ready line"));
    assert!(server.addr().is_ipv6(), "{model}: {}", server.url);
    assert_eq!(second.ip().to_string(), "127.0.0.1", "{model}");
    for addr in [server.addr(), second] {
        assert_eq!(common::nc_echo(addr, "ping"), "ping", "{model} {addr}");
    }
    assert_eq!(server.terminate(), Some(0));
}

/// `--bind ::` is dual-stack: HTTP answers curl on 127.0.0.1 and on ::1.
#[test]
fn bind_ipv6_wildcard_serves_ipv4_too() {
    let dirs = common::Dirs::new();
    std::fs::write(dirs.served.join("hi.txt"), b"hi").expect("write");
    let dir = common::utf8(&dirs.served);
    let http = Server::start(&["http", "serve", dir, "--bind", "::", "--port", "0"]);
    let port = http.addr().port();
    assert!(http.url.starts_with("http://[::]:"), "{}", http.url);
    for host in ["127.0.0.1", "[::1]"] {
        let out = std::process::Command::new("curl")
            .args(["-gsS", "--max-time", "10"])
            .arg(format!("http://{host}:{port}/hi.txt"))
            .output()
            .expect("run curl");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hi", "{host}");
    }
    assert_eq!(http.terminate(), Some(0));
}

/// UDP services too: `echo serve --udp --bind ::` answers IPv4 and IPv6.
#[test]
fn udp_bind_ipv6_wildcard_serves_ipv4_too() {
    let echo = Server::start(&["echo", "serve", "--udp", "--bind", "::", "--port", "0"]);
    let port = echo.addr().port();
    for (local, server) in [("127.0.0.1:0", "127.0.0.1"), ("[::1]:0", "::1")] {
        let sock = std::net::UdpSocket::bind(local).expect("bind a client");
        sock.set_read_timeout(Some(LIMIT)).expect("timeout");
        let to = std::net::SocketAddr::new(server.parse().expect("ip"), port);
        sock.send_to(b"ping", to).expect("send");
        let mut buf = [0u8; 16];
        let (n, _) = sock.recv_from(&mut buf).expect("an echo");
        assert_eq!(&buf[..n], b"ping", "{server}");
    }
    assert_eq!(echo.terminate(), Some(0));
}

common::every_model! {
    bind_twice_prints_two_ready_lines_and_both_answer: [epoll, fork, r#async, uring],
}

/// The next ready line's address (a second `--bind`'s listener).
fn next_ready(server: &Server) -> std::net::SocketAddr {
    let line = server
        .lines
        .recv_timeout(common::READY_TIMEOUT)
        .expect("another ready line");
    common::url_addr(&common::ready_url(&line).unwrap_or_else(|| panic!("not ready: {line}")))
}

/// `host:port` for a URL (IPv6 in brackets).
fn url_host(addr: std::net::SocketAddr) -> String {
    match addr {
        std::net::SocketAddr::V4(a) => a.to_string(),
        std::net::SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// `curl -g URL`: what it printed to stdout.
fn curl(url: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-gsS", "--max-time", "10", url])
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl {url}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `nc -u`: sends `text` as one datagram, returns the one that comes back
/// (`-W 1`: nc stops after one; `timeout` bounds it when none does).
fn nc_udp(addr: std::net::SocketAddr, text: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut nc = Command::new("timeout")
        .args(["20", "nc", "-u", "-W", "1", "-w", "10"])
        .args([addr.ip().to_string(), addr.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn nc -u");
    let mut stdin = nc.stdin.take().expect("piped stdin");
    stdin.write_all(text.as_bytes()).expect("write to nc");
    drop(stdin);
    let out = nc.wait_with_output().expect("nc runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `tftp serve --bind 127.0.0.1 --bind ::1`: a ready line for each, and
/// curl downloads over both (each transfer answers from the address asked).
#[test]
fn tftp_serve_on_two_binds_serves_both() {
    let dirs = common::Dirs::new();
    std::fs::write(dirs.served.join("hi.txt"), b"hi there").expect("write");
    let dir = common::utf8(&dirs.served);
    let args = ["tftp", "serve", dir, "--bind", "127.0.0.1", "--bind", "::1"];
    let tftp = Server::start(&[&args[..], &["--port", "0"]].concat());
    let (v4, v6) = (tftp.addr(), next_ready(&tftp));
    assert_eq!(
        (v4.ip().to_string(), v6.ip().to_string()),
        ("127.0.0.1".into(), "::1".into())
    );
    for addr in [v4, v6, v4] {
        let url = format!("tftp://{}/hi.txt", url_host(addr));
        assert_eq!(curl(&url), "hi there", "{url}");
    }
    assert_eq!(tftp.terminate(), Some(0));
}

/// `echo serve --udp` on two binds: `nc -u` gets its echo from each.
#[test]
fn udp_echo_on_two_binds_answers_both() {
    let args = [
        "echo",
        "serve",
        "--udp",
        "--bind",
        "127.0.0.1",
        "--bind",
        "::1",
    ];
    let echo = Server::start(&[&args[..], &["--port", "0"]].concat());
    let (v4, v6) = (echo.addr(), next_ready(&echo));
    assert!(v4.is_ipv4() && v6.is_ipv6(), "{v4} {v6}");
    // IPv4 first: the loop must then still read an IPv6 sender right.
    for (addr, text) in [(v4, "four"), (v6, "six"), (v4, "four again")] {
        assert_eq!(nc_udp(addr, text), text, "nc -u {addr}");
    }
    assert_eq!(echo.terminate(), Some(0));
}

/// A chat member on a connected UDP socket: it hears only the address it
/// sent to, so every answer must leave through the socket its JOIN came in on.
struct Member(std::net::UdpSocket);

impl Member {
    fn join(server: std::net::SocketAddr, name: &str) -> Member {
        let local = if server.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        };
        let socket = std::net::UdpSocket::bind(local).expect("bind a member");
        socket.connect(server).expect("connect");
        socket.set_read_timeout(Some(LIMIT)).expect("timeout");
        let member = Member(socket);
        member.send(&format!("JOIN {name}"));
        assert_eq!(member.recv(), format!("OK {name}"), "{server}");
        // Its next datagram confirms the address: the member list follows.
        member.send("PING");
        member.hears("the member list", |l| l.starts_with("MEMBERS "));
        member.hears("its PONG", |l| l == "PONG");
        member
    }

    fn send(&self, text: &str) {
        self.0.send(text.as_bytes()).expect("send");
    }

    fn recv(&self) -> String {
        let mut buf = [0u8; 2048];
        let n = self.0.recv(&mut buf).expect("a datagram within the wait");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Reads up to 20 datagrams until one `is` it; panics otherwise.
    fn hears(&self, what: &str, is: impl Fn(&str) -> bool) {
        for _ in 0..20 {
            if is(&self.recv()) {
                return;
            }
        }
        panic!("never heard {what}");
    }
}

/// `chat serve --bind 127.0.0.1 --bind ::1 --irc-port 0`: the room on both
/// UDP addresses and IRC on both; a member on each hears the other, an IRC
/// client on each joins, and the farewell reaches both members.
#[test]
fn chat_serve_on_two_binds_is_one_room() {
    use std::io::Write;
    let args = ["chat", "serve", "--bind", "127.0.0.1", "--bind", "::1"];
    let chat = Server::start(&[&args[..], &["--port", "0", "--irc-port", "0"]].concat());
    let (udp4, udp6) = (chat.addr(), next_ready(&chat));
    let (irc4, irc6) = (next_ready(&chat), next_ready(&chat));
    assert!(udp4.is_ipv4() && udp6.is_ipv6() && irc4.is_ipv4() && irc6.is_ipv6());

    let alice = Member::join(udp4, "alice");
    let bob = Member::join(udp6, "bob");
    alice.hears("bob's join", |l| l == "JOINED bob");
    bob.send("SAY hi from six");
    alice.hears("bob", |l| l == "MSG bob hi from six");
    alice.send("SAY hi from four");
    bob.hears("alice", |l| l == "MSG alice hi from four");

    for (addr, nick) in [(irc4, "ircfour"), (irc6, "ircsix")] {
        let stream = common::connect(addr, LIMIT);
        let lines = common::spawn_line_reader(stream.try_clone().expect("clone"));
        let mut w = stream.try_clone().expect("clone");
        write!(w, "USER u 0 * :x\r\nNICK {nick}\r\nJOIN #netkit\r\n").expect("write");
        loop {
            let line = lines.recv_timeout(LIMIT).expect("IRC answers");
            if line.starts_with(&format!(":netkit 366 {nick} #netkit")) {
                break;
            }
        }
        let joined = format!("JOINED {nick}");
        alice.hears(&joined, |l| l == joined);
        bob.hears(&joined, |l| l == joined);
        stream.shutdown(std::net::Shutdown::Both).expect("close");
    }

    assert_eq!(chat.terminate(), Some(0));
    for member in [&alice, &bob] {
        member.hears("the farewell", |l| l.contains("shutting down"));
    }
}

/// `up --bind 127.0.0.1 --bind ::1`: two ready lines per service, HTTP and
/// TFTP answer on both, and the banner names both web addresses.
#[test]
fn up_on_two_binds_serves_every_service_on_both() {
    let dirs = common::Dirs::new();
    std::fs::write(dirs.served.join("hi.txt"), b"hello").expect("write");
    let dir = common::utf8(&dirs.served);
    let mut args = common::up_args(dir, &["--bind", "::1"]);
    args.extend(["--quiet"]);
    let up = Server::start(&args);
    let mut ready = vec![("http".to_owned(), up.addr())];
    for _ in 0..9 {
        let line = up
            .lines
            .recv_timeout(common::READY_TIMEOUT)
            .expect("a ready line");
        let url = common::ready_url(&line).unwrap_or_else(|| panic!("not ready: {line}"));
        let service = line.split(' ').next().unwrap_or_default().to_owned();
        ready.push((service, common::url_addr(&url)));
    }
    let order: Vec<(&str, bool)> = ready
        .iter()
        .map(|(s, a)| (s.as_str(), a.is_ipv6()))
        .collect();
    let want: Vec<(&str, bool)> = ["http", "files", "tftp", "chat", "irc"]
        .iter()
        .flat_map(|s| [(*s, false), (*s, true)])
        .collect();
    assert_eq!(order, want, "{ready:?}");
    let at = |service: &str| -> Vec<std::net::SocketAddr> {
        ready
            .iter()
            .filter(|(s, _)| s == service)
            .map(|(_, a)| *a)
            .collect()
    };
    for addr in at("http") {
        assert_eq!(curl(&format!("http://{}/hi.txt", url_host(addr))), "hello");
    }
    for addr in at("tftp") {
        assert_eq!(curl(&format!("tftp://{}/hi.txt", url_host(addr))), "hello");
    }
    for addr in at("files").into_iter().chain(at("irc")) {
        common::connect(addr, LIMIT);
    }
    // The banner, after the ready lines: every web address, one per bind.
    let mut banner = String::new();
    for _ in 0..40 {
        let line = up
            .lines
            .recv_timeout(common::READY_TIMEOUT)
            .expect("the banner");
        banner.push_str(&line);
        banner.push('\n');
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    for addr in at("http") {
        assert!(
            banner.contains(&format!("http://{}/", url_host(addr))),
            "{banner}"
        );
    }
    assert_eq!(up.terminate(), Some(0));
}
