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
    bind_twice_prints_two_ready_lines_and_both_answer: [epoll, fork, r#async],
}
