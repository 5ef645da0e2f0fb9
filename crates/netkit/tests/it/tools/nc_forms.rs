//! `netkit nc` in netcat-openbsd's own forms, with netcat-openbsd and socat
//! as the other end, both ways: `nc HOST PORT`, `-u`, `-U PATH`, `-l [HOST]
//! PORT` (one client, then exit; `-k` keeps listening), `-z` (exit 0 when
//! open, 1 when not; a range with `-v`). Listeners on port 0 say their port
//! on stderr with `-v` (`Listening on IP PORT`, as `nc -lv` does): the tests
//! read it, with no sleeps.

use super::*;
use std::path::Path;

/// A process whose stdin we write, whose stdout and stderr we read by line.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Receiver<String>,
    err: Receiver<String>,
}

impl Peer {
    fn start(mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdin = child.stdin.take();
        let out = spawn_line_reader(child.stdout.take().expect("stdout"));
        let err = spawn_line_reader(child.stderr.take().expect("stderr"));
        Peer {
            child,
            stdin,
            out,
            err,
        }
    }

    /// A listener started with -v: its port, from `Listening on HOST PORT`
    /// (or `Bound on HOST PORT`).
    fn listening(cmd: Command) -> (Peer, u16) {
        let peer = Peer::start(cmd);
        let line = peer
            .err
            .recv_timeout(LIMIT)
            .expect("a ready line on stderr");
        assert!(
            line.starts_with("Listening on ") || line.starts_with("Bound on "),
            "{line}"
        );
        let port = line
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("a port in {line:?}"));
        (peer, port)
    }

    fn write(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(text.as_bytes()).expect("write");
        stdin.flush().expect("flush");
    }

    fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    fn line(&self) -> String {
        self.out.recv_timeout(LIMIT).expect("a line on stdout")
    }

    fn err_line(&self) -> String {
        self.err.recv_timeout(LIMIT).expect("a line on stderr")
    }

    fn wait(&mut self) -> Option<i32> {
        wait_bounded(&mut self.child, LIMIT)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `netkit ARGS` with every stream piped.
fn netkit_cmd(args: &[&str]) -> Command {
    let mut cmd = netkit(args);
    cmd.stderr(Stdio::piped());
    cmd
}

/// Both ways over a stream: each side sends a line, closes its input, reads
/// the other's line, and both exit 0 (netkit half-closes, nc with -N does).
fn both_ways(mut a: Peer, mut b: Peer) {
    a.write("from a\n");
    b.write("from b\n");
    assert_eq!(b.line(), "from a");
    assert_eq!(a.line(), "from b");
    a.close_stdin();
    b.close_stdin();
    assert_eq!(a.wait(), Some(0));
    assert_eq!(b.wait(), Some(0));
}

#[test]
fn host_port_form_talks_to_openbsd_nc_and_socat_listeners_over_tcp() {
    let (nc, port) = Peer::listening({
        let mut c = tool("nc");
        c.args(["-lv", "127.0.0.1", "0"]);
        c
    });
    let client = Peer::start(netkit_cmd(&["nc", "127.0.0.1", &port.to_string()]));
    both_ways(client, nc);

    let (_socat, addr) = Socat::echo_on_port(
        |port| format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
        |addr| TcpStream::connect(addr).is_ok(),
    );
    let payload = random_bytes(7, 200_000);
    let cmd = netkit(&[
        "nc",
        "-N",
        "-w",
        "10",
        "127.0.0.1",
        &addr.port().to_string(),
    ]);
    let (code, out) = run_piped(cmd, payload.clone());
    assert_eq!(code, Some(0));
    assert!(out == payload, "{} of {} bytes", out.len(), payload.len());
}

#[test]
fn netkit_listens_for_openbsd_nc_and_socat_over_tcp_then_exits() {
    let (listener, port) = Peer::listening(netkit_cmd(&["nc", "-lv", "127.0.0.1", "0"]));
    let client = Peer::start({
        let mut c = tool("nc");
        c.args(["-N", "127.0.0.1", &port.to_string()]);
        c
    });
    assert!(listener
        .err_line()
        .starts_with("Connection received on 127.0.0.1 "));
    both_ways(listener, client);
    // One client, then it is gone: the port is free again.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());

    let (listener, port) = Peer::listening(netkit_cmd(&["nc", "-l", "-v", "127.0.0.1", "0"]));
    let client = Peer::start({
        let mut c = tool("socat");
        c.args(["-", &format!("TCP:127.0.0.1:{port}")]);
        c
    });
    both_ways(listener, client);
}

#[test]
fn udp_both_ways_with_openbsd_nc_and_socat() {
    // netkit listens; nc sends first (that makes it the peer), then each answers.
    let (mut listener, port) = Peer::listening(netkit_cmd(&["nc", "-luv", "127.0.0.1", "0"]));
    let mut nc = Peer::start({
        let mut c = tool("nc");
        c.args(["-u", "127.0.0.1", &port.to_string()]);
        c
    });
    nc.write("hello from nc\n");
    assert_eq!(listener.line(), "hello from nc");
    listener.write("hello from netkit\n");
    assert_eq!(nc.line(), "hello from netkit");
    nc.write("again\n");
    assert_eq!(listener.line(), "again");
    // Its input ended and the peer quiet for -w's default: netkit exits 0.
    listener.close_stdin();
    assert_eq!(listener.wait(), Some(0));

    // socat as the client of a netkit listener.
    let (mut listener, port) =
        Peer::listening(netkit_cmd(&["nc", "-l", "-u", "-v", "127.0.0.1", "0"]));
    let mut socat = Peer::start({
        let mut c = tool("socat");
        c.args(["-", &format!("UDP:127.0.0.1:{port}")]);
        c
    });
    socat.write("hello from socat\n");
    assert_eq!(listener.line(), "hello from socat");
    listener.write("hello back\n");
    assert_eq!(socat.line(), "hello back");

    // netkit connects (-u HOST PORT) to netcat-openbsd listening.
    let (mut nc, port) = Peer::listening({
        let mut c = tool("nc");
        c.args(["-luv", "127.0.0.1", "0"]);
        c
    });
    let mut client = Peer::start(netkit_cmd(&["nc", "-u", "127.0.0.1", &port.to_string()]));
    client.write("to nc\n");
    assert_eq!(nc.line(), "to nc");
    nc.write("to netkit\n");
    assert_eq!(client.line(), "to netkit");
}

#[test]
fn unix_sockets_both_ways_with_openbsd_nc_and_socat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nk.sock");
    let p = path.to_str().expect("utf-8 path");
    let (listener, _) = listening_unix(&["nc", "-lvU", p], &path);
    let client = Peer::start({
        let mut c = tool("nc");
        c.args(["-N", "-U", p]);
        c
    });
    both_ways(listener, client);
    assert!(!path.exists(), "the socket file is removed at exit");

    let (listener, _) = listening_unix(&["nc", "-l", "-v", "-U", p], &path);
    let client = Peer::start({
        let mut c = tool("socat");
        c.args(["-", &format!("UNIX-CONNECT:{p}")]);
        c
    });
    both_ways(listener, client);

    // netkit connects (-U PATH) to netcat-openbsd listening on a Unix socket.
    let other = dir.path().join("nc.sock");
    let o = other.to_str().expect("utf-8 path");
    let nc = Peer::start({
        let mut c = tool("nc");
        c.args(["-lvU", o]);
        c
    });
    // nc says "Bound on" after bind(2) and "Listening on" after listen(2).
    assert_eq!(nc.err_line(), format!("Bound on {o}"));
    assert_eq!(nc.err_line(), format!("Listening on {o}"));
    let client = Peer::start(netkit_cmd(&["nc", "-U", o]));
    both_ways(client, nc);
}

/// `netkit ARGS` listening on the Unix socket `path` (its `Bound on` line).
fn listening_unix(args: &[&str], path: &Path) -> (Peer, ()) {
    let peer = Peer::start(netkit_cmd(args));
    let line = peer.err_line();
    assert_eq!(line, format!("Bound on {}", path.display()));
    (peer, ())
}

#[test]
fn keep_listening_serves_one_client_after_another() {
    let (listener, port) = Peer::listening(netkit_cmd(&["nc", "-lkv", "127.0.0.1", "0"]));
    for i in 0..3 {
        let (code, _) = run_piped(
            {
                let mut c = tool("nc");
                c.args(["-N", "127.0.0.1", &port.to_string()]);
                c
            },
            format!("client {i}\n").into_bytes(),
        );
        assert_eq!(code, Some(0));
        assert_eq!(listener.line(), format!("client {i}"));
    }
}

#[test]
fn scan_exit_codes_and_a_verbose_range() {
    let open = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = open.local_addr().expect("addr").port();
    let closed = free_port();
    let scan = |args: &[&str]| {
        let out = netkit(args)
            .stderr(Stdio::piped())
            .output()
            .expect("run netkit nc -z");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let p = port.to_string();
    assert_eq!(scan(&["nc", "-z", "127.0.0.1", &p]).0, Some(0));
    let (code, err) = scan(&["nc", "-z", "127.0.0.1", &closed.to_string()]);
    assert_eq!(code, Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    // A range around the open port, each port reported (its neighbours may
    // belong to anyone: only their line count is checked).
    let range = format!("{}-{}", port - 1, port + 1);
    let (code, err) = scan(&["nc", "-zv", "127.0.0.1", &range]);
    assert_eq!(code, Some(0));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert_eq!(
        lines[1],
        format!("Connection to 127.0.0.1 {port} port [tcp/*] succeeded!")
    );
    // UDP: a bound socket is open, a free port answers "refused".
    let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    let up = udp.local_addr().expect("addr").port().to_string();
    assert_eq!(scan(&["nc", "-zu", "127.0.0.1", &up]).0, Some(0));
    drop(udp);
    assert_eq!(scan(&["nc", "-zu", "127.0.0.1", &up]).0, Some(1));
    drop(open);
    assert_eq!(scan(&["nc", "-z", "127.0.0.1", &p]).0, Some(1));
}
