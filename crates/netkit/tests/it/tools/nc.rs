//! `netkit nc` against socat echo servers (TCP, UDP, Unix) and against
//! `netkit echo serve`: byte-exact round trips, every UDP reply printed, one
//! clear line when refused.

use super::*;

// ── `netkit nc` against socat echo servers ──────────────────────────────────

#[test]
fn netkit_nc_talks_to_socat_over_tcp() {
    let (_socat, addr) = Socat::echo_on_port(
        |port| format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
        |addr| TcpStream::connect(addr).is_ok(),
    );
    let payload = random_bytes(3, 300_000);
    let (code, out) = run_piped(netkit(&["nc", &addr.to_string()]), payload.clone());
    assert_eq!(code, Some(0));
    assert!(
        out == payload,
        "got {} of {} bytes back",
        out.len(),
        payload.len()
    );
}

#[test]
fn netkit_nc_talks_to_socat_over_udp() {
    let (_socat, addr) = Socat::echo_on_port(
        |port| format!("UDP-RECVFROM:{port},bind=127.0.0.1,fork"),
        udp_echoes,
    );
    // socat forks a child per datagram, so replies may come back in any order.
    let cmd = netkit(&["nc", "--udp", "--wait", "2", &addr.to_string()]);
    let (code, out) = run_piped(cmd, b"one\ntwo\nthree\n".to_vec());
    assert_eq!(code, Some(0));
    assert_eq!(lines_sorted(&out), ["one", "three", "two"]);
}

#[test]
fn netkit_nc_talks_to_socat_over_unix_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("socat.sock");
    let path_str = path.to_str().expect("utf-8 temp path").to_owned();
    let _socat = Socat::try_echo(&format!("UNIX-LISTEN:{path_str},fork"), || {
        UnixStream::connect(&path).is_ok()
    })
    .expect("socat on a fresh unix path");
    let (code, out) = run_piped(
        netkit(&["nc", "--unix", &path_str]),
        b"unix\nlines\n".to_vec(),
    );
    assert_eq!(code, Some(0));
    assert_eq!(out, b"unix\nlines\n");
}

// ── `netkit nc` against `netkit echo serve` ─────────────────────────────────

#[test]
fn netkit_nc_round_trips_a_mebibyte_with_half_close() {
    let payload = random_bytes(42, 1 << 20);
    let server = echo_server(&[]);
    let (code, out) = run_piped(netkit(&["nc", &server.addr().to_string()]), payload.clone());
    assert_eq!(code, Some(0));
    assert!(
        out == payload,
        "tcp: got {} of {} bytes back",
        out.len(),
        payload.len()
    );
    assert_eq!(server.terminate(), Some(0));

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.sock");
    let path_str = path.to_str().expect("utf-8 temp path");
    let server = Server::start(&["echo", "serve", "--model", "async", "--unix", path_str]);
    let (code, out) = run_piped(netkit(&["nc", "--unix", path_str]), payload.clone());
    assert_eq!(code, Some(0));
    assert!(
        out == payload,
        "unix: got {} of {} bytes back",
        out.len(),
        payload.len()
    );
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn netkit_nc_udp_prints_every_reply() {
    let server = echo_server(&["--udp"]);
    let (code, out) = run_piped(
        netkit(&["nc", "--udp", "--wait", "2", &server.addr().to_string()]),
        b"alpha\nbeta\n".to_vec(),
    );
    assert_eq!(code, Some(0));
    // One socket, one server thread: the echoes come back in order.
    assert_eq!(out, b"alpha\nbeta\n");
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn netkit_nc_fails_with_one_line_when_refused() {
    let port = free_port(); // nothing listens on it any more
    for args in [vec!["nc"], vec!["nc", "--udp", "--wait", "1"]] {
        let mut cmd = netkit(&args);
        cmd.arg(format!("127.0.0.1:{port}"));
        cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn netkit nc");
        let mut stdin = child.stdin.take().expect("stdin");
        let _ = stdin.write_all(b"anyone?\n");
        drop(stdin);
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("stderr");
        assert_eq!(wait_bounded(&mut child, LIMIT), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("refused"), "{args:?}: {err}");
    }
}
