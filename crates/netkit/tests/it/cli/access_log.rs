//! The access log: one line per request or transfer on stderr, in one format
//! (Common Log Format) for HTTP (`up`), files and TFTP; `--quiet` for none.

use super::super::common::{self, netkit, read_all_on_a_thread, run_netkit, Server};
use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

const BODY: &[u8] = b"one line of text for the log\n";

/// A served folder with `a.txt` in it.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), BODY).expect("fixture");
    dir
}

/// Starts `netkit ARGS` with stderr captured, runs `work` against its address,
/// stops it (exit 0) and returns what it wrote to stderr.
fn stderr_of(args: &[&str], work: impl FnOnce(&Server)) -> String {
    let mut cmd = netkit(args);
    cmd.stderr(Stdio::piped());
    let mut server = Server::start_cmd(cmd);
    let stderr = read_all_on_a_thread(server.child.stderr.take().expect("piped stderr"));
    work(&server);
    assert_eq!(server.terminate(), Some(0), "netkit {args:?} stops cleanly");
    stderr.join().expect("stderr reader")
}

/// The log lines about `request` (e.g. `GET /a.txt FILES`).
fn lines_about<'a>(log: &'a str, request: &str) -> Vec<&'a str> {
    let quoted = format!("\"{request}\"");
    log.lines().filter(|l| l.contains(&quoted)).collect()
}

/// One line, for 127.0.0.1, dated, with the result and the bytes.
fn assert_one_line(log: &str, request: &str, result: &str) {
    let lines = lines_about(log, request);
    assert_eq!(lines.len(), 1, "one line for {request}:\n{log}");
    let line = lines[0];
    assert!(line.starts_with("127.0.0.1 - - ["), "who and when: {line}");
    let tail = format!("\"{request}\" {result} {}", BODY.len());
    assert!(line.ends_with(&tail), "{line} ends with {tail}");
}

fn files_get(server: &Server, dir: &std::path::Path) {
    let addr = server.addr().to_string();
    let local = dir.join("copy.txt");
    let out = run_netkit(&["files", "get", &addr, "a.txt", common::utf8(&local)]);
    assert_eq!(out.code, Some(0), "files get: {}", out.stderr);
}

fn tftp_get(server: &Server, dir: &std::path::Path) {
    let addr = server.addr().to_string();
    let local = dir.join("copy.txt");
    let out = run_netkit(&["tftp", "get", &addr, "a.txt", common::utf8(&local)]);
    assert_eq!(out.code, Some(0), "tftp get: {}", out.stderr);
}

fn http_get(server: &Server) {
    let mut s = common::connect(server.addr(), Duration::from_secs(30));
    s.write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).expect("reply");
    assert!(reply.starts_with(b"HTTP/1.1 200"), "{reply:?}");
}

#[test]
fn a_files_get_is_one_line_and_quiet_is_none() {
    let dir = folder();
    let root = common::utf8(dir.path()).to_owned();
    let out = tempfile::tempdir().expect("tempdir");
    let args = [
        "files",
        "serve",
        &root,
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
    ];
    let log = stderr_of(&args, |s| files_get(s, out.path()));
    assert_one_line(&log, "GET /a.txt FILES", "200");

    let mut quiet = args.to_vec();
    quiet.push("--quiet");
    let log = stderr_of(&quiet, |s| files_get(s, out.path()));
    assert!(
        lines_about(&log, "GET /a.txt FILES").is_empty(),
        "--quiet: {log}"
    );
}

#[test]
fn a_tftp_read_is_one_line_and_quiet_is_none() {
    let dir = folder();
    let root = common::utf8(dir.path()).to_owned();
    let out = tempfile::tempdir().expect("tempdir");
    let args = ["tftp", "serve", &root, "--bind", "127.0.0.1", "--port", "0"];
    let log = stderr_of(&args, |s| tftp_get(s, out.path()));
    assert_one_line(&log, "GET /a.txt TFTP", "200");

    let mut quiet = args.to_vec();
    quiet.push("--quiet");
    let log = stderr_of(&quiet, |s| tftp_get(s, out.path()));
    assert!(
        lines_about(&log, "GET /a.txt TFTP").is_empty(),
        "--quiet: {log}"
    );
}

#[test]
fn up_logs_http_requests_and_quiet_is_none() {
    let dir = folder();
    let root = common::utf8(dir.path()).to_owned();
    let only_http = ["--no-files", "--no-tftp", "--no-chat", "--no-irc"];
    let args = common::up_args(&root, &only_http);
    let log = stderr_of(&args, http_get);
    assert_one_line(&log, "GET /a.txt HTTP/1.1", "200");

    let mut quiet = args.clone();
    quiet.push("--quiet");
    let log = stderr_of(&quiet, http_get);
    assert!(
        lines_about(&log, "GET /a.txt HTTP/1.1").is_empty(),
        "--quiet: {log}"
    );
}
