//! Who may listen where: a port a netkit (or anyone else) already serves
//! makes a second server exit 1 with "address already in use", whatever the
//! service or protocol, and the first keeps serving.

mod common;

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
