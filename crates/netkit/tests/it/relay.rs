//! `netkit relay` end to end: clients and stdin, many lines per write and one
//! line across writes, all logged exactly once and in order per source; stdin
//! EOF does not stop the server; SIGTERM exits 0 with everything flushed.

use crate::common;

use common::{Server, READY_TIMEOUT};
use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Parses the log into (source, text) pairs, checking each timestamp's shape.
fn records(log: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let ts = parts.next().unwrap_or_default();
            let b = ts.as_bytes();
            assert!(
                ts.len() == 24 && b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z',
                "not an RFC 3339 UTC timestamp: {line:?}"
            );
            let source = parts.next().expect("a source field").to_owned();
            let text = parts.next().expect("a text field").to_owned();
            (source, text)
        })
        .collect()
}

fn by_source(records: &[(String, String)]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (source, text) in records {
        map.entry(source.clone()).or_default().push(text.clone());
    }
    map
}

/// Polls the log (bounded) until `done` holds for its records.
fn wait_for_log(log: &Path, what: &str, done: impl Fn(&HashMap<String, Vec<String>>) -> bool) {
    let start = Instant::now();
    loop {
        let map = by_source(&records(log));
        if done(&map) {
            return;
        }
        assert!(
            start.elapsed() < READY_TIMEOUT,
            "log never showed {what}; it has {map:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn connect(server: &Server) -> (TcpStream, String) {
    let stream = TcpStream::connect(server.addr()).expect("connect to relay");
    stream.set_nodelay(true).expect("nodelay");
    let me = stream.local_addr().expect("local addr").to_string();
    (stream, me)
}

#[test]
fn every_line_from_every_source_is_logged_once_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("relay.log");
    std::fs::write(&log, "").expect("create log");
    let log_arg = log.to_str().expect("utf-8 path");
    let mut cmd = common::netkit(&[
        "relay",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--log",
        log_arg,
    ]);
    cmd.stdin(Stdio::piped());
    let mut server = Server::start_cmd(cmd);
    let mut stdin = server.child.stdin.take().expect("piped stdin");

    // Client A: two hundred lines in a single write.
    let (mut a, a_name) = connect(&server);
    let a_lines: Vec<String> = (0..200).map(|i| format!("line {i} from a")).collect();
    a.write_all(format!("{}\n", a_lines.join("\n")).as_bytes())
        .expect("write a");

    // Client B: lines cut at odd places across several writes; CRLF; a last
    // line without a newline, logged when B closes.
    let (mut b, b_name) = connect(&server);
    for piece in [
        "par",
        "tial li",
        "ne\nsec",
        "ond\r",
        "\nno newline at the end",
    ] {
        b.write_all(piece.as_bytes()).expect("write b");
    }
    let b_lines = ["partial line", "second", "no newline at the end"];

    // Client C: plain lines, one with control bytes and invalid UTF-8.
    let (mut c, c_name) = connect(&server);
    c.write_all(b"hello from c\n").expect("write c");
    c.write_all(b"tab\there \x07bell \xff\\\n")
        .expect("write c");
    let c_lines = ["hello from c", "tab\\there \\u{7}bell \u{fffd}\\\\"];

    // Stdin: several lines, interleaved with the clients.
    let s_lines = ["first admin line", "second admin line", "third"];
    for line in s_lines {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("write stdin");
    }
    stdin.flush().expect("flush stdin");

    for s in [&a, &b, &c] {
        s.shutdown(Shutdown::Write).expect("close client");
    }
    wait_for_log(&log, "every client's and stdin's lines", |m| {
        m.get(&a_name).map_or(0, Vec::len) >= a_lines.len()
            && m.get(&b_name).map_or(0, Vec::len) >= b_lines.len()
            && m.get(&c_name).map_or(0, Vec::len) >= c_lines.len()
            && m.get("stdin").map_or(0, Vec::len) >= s_lines.len()
    });

    // Stdin EOF does not stop the relay: a client that comes later is logged.
    drop(stdin);
    let (mut d, d_name) = connect(&server);
    d.write_all(b"after stdin closed\n").expect("write d");
    wait_for_log(&log, "the late client's line", |m| m.contains_key(&d_name));
    // A line still unterminated when SIGTERM arrives is flushed on the way out.
    d.write_all(b"cut short").expect("write d");

    assert_eq!(server.terminate(), Some(0), "relay exits 0 on SIGTERM");
    drop((a, b, c, d));

    let map = by_source(&records(&log));
    assert_eq!(map[&a_name], a_lines, "client a, exactly once and in order");
    assert_eq!(map[&b_name], b_lines, "client b");
    assert_eq!(map[&c_name], c_lines, "client c");
    assert_eq!(map["stdin"], s_lines, "stdin");
    assert_eq!(
        map[&d_name],
        ["after stdin closed", "cut short"],
        "client d"
    );
    assert_eq!(map.len(), 5, "no other sources: {map:#?}");
}

#[test]
fn over_long_line_is_logged_in_marked_pieces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("relay.log");
    let log_arg = log.to_str().expect("utf-8 path");
    let server = Server::start(&[
        "relay",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--log",
        log_arg,
    ]);
    let (mut a, a_name) = connect(&server);
    let long = "x".repeat(150 * 1024);
    a.write_all(format!("{long}\nshort\n").as_bytes())
        .expect("write");
    a.shutdown(Shutdown::Write).expect("close");
    wait_for_log(&log, "the short line after the long one", |m| {
        m.get(&a_name)
            .is_some_and(|l| l.last().is_some_and(|t| t == "short"))
    });
    assert_eq!(server.terminate(), Some(0));
    let lines = &by_source(&records(&log))[&a_name];
    assert_eq!(lines.len(), 4, "64 KiB + 64 KiB + 22 KiB, then 'short'");
    for piece in &lines[..2] {
        assert_eq!(
            piece.len(),
            64 * 1024 + 1,
            "a full piece plus its '\\' marker"
        );
        assert!(piece.ends_with("x\\"));
    }
    let joined: String = lines[..3]
        .iter()
        .map(|p| p.trim_end_matches('\\'))
        .collect();
    assert_eq!(joined, long, "the pieces add up to the line");
}

#[test]
fn unwritable_log_is_a_one_line_runtime_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("no such dir").join("relay.log");
    let out = common::netkit(&[
        "relay",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--log",
        log.to_str().expect("utf-8 path"),
    ])
    .stderr(Stdio::piped())
    .output()
    .expect("run netkit");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open log"), "{stderr}");
}

/// The relay's own log on stderr, read through a pipe, has no colour codes.
#[test]
fn relay_logs_into_a_pipe_without_colour_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("relay.log");
    let mut cmd = common::netkit(&["relay", "--bind", "127.0.0.1", "--port", "0"]);
    cmd.args(["--log", log.to_str().expect("utf-8 path")])
        .stderr(Stdio::piped());
    let mut server = Server::start_cmd(cmd);
    let mut stderr = server.child.stderr.take().expect("piped stderr");
    common::signal(&server.child, "TERM");
    let code = common::wait_bounded(&mut server.child, Duration::from_secs(30));
    assert_eq!(code, Some(0));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut text).expect("read stderr");
    assert!(text.contains("shutting down"), "{text}");
    assert!(!text.contains('\x1b'), "escape codes in a pipe: {text:?}");
}

/// `--bind` twice: a ready line for each, and a client of each is logged.
#[test]
fn relay_listens_on_every_bind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("relay.log");
    let mut cmd = common::netkit(&["relay", "--bind", "127.0.0.1", "--bind", "::1"]);
    cmd.args(["--port", "0", "--log", log.to_str().expect("utf-8 path")]);
    let server = Server::start_cmd(cmd);
    let second = server
        .lines
        .recv_timeout(READY_TIMEOUT)
        .expect("a second ready line");
    let second = common::url_addr(&common::ready_url(&second).expect("a ready line"));
    assert!(second.is_ipv6(), "{second}");
    for (addr, text) in [(server.addr(), "from v4"), (second, "from v6")] {
        let mut client = TcpStream::connect(addr).expect("connect");
        writeln!(client, "{text}").expect("write");
    }
    wait_for_log(&log, "both lines", |by| {
        by.values().flatten().any(|l| l == "from v4")
            && by.values().flatten().any(|l| l == "from v6")
    });
    assert_eq!(server.terminate(), Some(0));
}
