//! `netkit broadcast`: sends reach every listener sharing the port, hostile
//! text is escaped, logs into a pipe carry no colour codes, and a send needs
//! a port and a message.

use super::*;

// ── `netkit broadcast` ──────────────────────────────────────────────────────

fn broadcast_listener(bind: &str, port: u16, extra: &[&str]) -> Server {
    let port = port.to_string();
    let mut args = vec!["broadcast", "listen", "--bind", bind, "--port", &port];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn broadcast_send(to: &str, port: u16, msg: &str) {
    let mut cmd = netkit(&[
        "broadcast",
        "send",
        "--to",
        to,
        "--port",
        &port.to_string(),
        msg,
    ]);
    let mut child = cmd.spawn().expect("spawn sender");
    assert_eq!(wait_bounded(&mut child, LIMIT), Some(0));
}

/// `<ip:port> <message>` from a listener, with the sender's address checked.
fn next_message(listener: &Server) -> String {
    let line = listener.lines.recv_timeout(LIMIT).expect("a datagram line");
    let (from, msg) = line.split_once(' ').expect("sender and message");
    let from: SocketAddr = from.parse().expect("sender is ip:port");
    assert_eq!(from.ip().to_string(), "127.0.0.1");
    msg.to_owned()
}

#[test]
fn broadcast_reaches_every_listener_sharing_the_port() {
    let first = broadcast_listener("127.255.255.255", 0, &[]);
    assert!(
        first.url.starts_with("udp://127.255.255.255:"),
        "{}",
        first.url
    );
    let port = first.addr().port();
    assert_ne!(port, 0, "the ready line shows the real port");
    let second = broadcast_listener("127.255.255.255", port, &[]);

    broadcast_send("127.255.255.255", port, "hello, everyone");
    assert_eq!(next_message(&first), "hello, everyone");
    assert_eq!(next_message(&second), "hello, everyone");
    assert_eq!(first.terminate(), Some(0));
    assert_eq!(second.terminate(), Some(0));
}

#[test]
fn broadcast_listener_escapes_hostile_text() {
    let listener = broadcast_listener("127.0.0.1", 0, &[]);
    let port = listener.addr().port();
    broadcast_send("127.0.0.1", port, "plain words");
    assert_eq!(next_message(&listener), "plain words");

    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.send_to(b"a\x1b[2J\rb\xffc\n", listener.addr())
        .expect("send");
    assert_eq!(next_message(&listener), "a\\u{1b}[2J\\rb\u{fffd}c");
    assert_eq!(listener.terminate(), Some(0));

    let json = broadcast_listener("127.0.0.1", 0, &["--json"]);
    let from = sock.local_addr().expect("local addr");
    sock.send_to(b"say \"hi\"\x07", json.addr()).expect("send");
    let line = json.lines.recv_timeout(LIMIT).expect("a json line");
    assert_eq!(
        line,
        format!(r#"{{"from":"{from}","message":"say \"hi\"\u0007"}}"#)
    );
    // SIGINT is as graceful as SIGTERM.
    let mut json = json;
    signal(&json.child, "INT");
    assert_eq!(wait_bounded(&mut json.child, LIMIT), Some(0));
}

/// Logs into a pipe are plain text: no colour codes (`\x1b[2m` and friends).
#[test]
fn broadcast_logs_into_a_pipe_without_colour_codes() {
    let listener = broadcast_listener("127.0.0.1", 0, &[]);
    let port = listener.addr().port().to_string();
    let out = netkit(&[
        "broadcast",
        "send",
        "--to",
        "127.0.0.1",
        "--port",
        &port,
        "hi",
    ])
    .stderr(Stdio::piped())
    .output()
    .expect("run broadcast send");
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sent 1 datagram"), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "escape codes in a pipe: {stderr:?}"
    );
    assert_eq!(next_message(&listener), "hi");
    assert_eq!(listener.terminate(), Some(0));
}

#[test]
fn broadcast_send_needs_a_port_and_message() {
    let mut child = netkit(&["broadcast", "send", "--to", "127.0.0.1", "no port"])
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    assert_eq!(wait_bounded(&mut child, LIMIT), Some(2));
}
