//! Human output of finished transfers: one style across `files get|put` and
//! `tftp get|put` (sizes with units, a rate that reads well for a tiny file).
//! The summaries print only on a terminal, so the clients run under
//! `script(1)`, which gives them a pseudo-terminal.

use crate::common;

use common::{netkit_bin, Dirs, Server};
use std::process::Command;
use std::time::Duration;

/// Runs `netkit ARGS` on a pseudo-terminal in `dir`; returns what it printed.
fn on_a_terminal(dir: &std::path::Path, args: &[&str]) -> String {
    let line = std::iter::once(netkit_bin())
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]).current_dir(dir);
    let (code, stdout, stderr) = common::run_bounded(cmd, Duration::from_secs(30));
    assert_eq!(code, Some(0), "{line}: {stdout} {stderr}");
    stdout
}

/// `WHAT: 12 B in TIME (RATE)`, with a rate in B/s, KiB/s … or `instant`.
fn assert_summary(out: &str, what: &str) {
    // The progress bar redraws with `\r` and an erase-line code first.
    let line = out
        .split(['\r', '\n'])
        .map(|l| l.trim_start_matches("\u{1b}[2K").trim())
        .find(|l| l.starts_with(&format!("{what}: ")))
        .unwrap_or_else(|| panic!("no summary for {what:?} in {out:?}"));
    assert!(line.contains(": 12 B in "), "{line}");
    assert!(
        line.contains("B/s)") || line.contains("(instant)"),
        "a scaled rate: {line}"
    );
    assert!(!line.contains("0.0 MB/s"), "{line}");
}

#[test]
fn files_and_tftp_summaries_share_one_style() {
    let dirs = Dirs::new();
    std::fs::write(dirs.served.join("tiny.txt"), b"twelve bytes").expect("write");
    std::fs::write(dirs.local.join("up.txt"), b"twelve bytes").expect("write");
    let served = common::utf8(&dirs.served);
    let files = Server::start(&common::local_args(
        &["files", "serve", served, "--upload"],
        "epoll",
    ));
    let tftp = Server::start(&[
        "tftp",
        "serve",
        served,
        "--upload",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
    ]);
    let (f, t) = (files.addr().to_string(), tftp.addr().to_string());

    let out = on_a_terminal(&dirs.local, &["files", "get", &f, "tiny.txt", "a.txt"]);
    assert_summary(&out, "tiny.txt → a.txt");
    let out = on_a_terminal(&dirs.local, &["files", "put", &f, "up.txt", "b.txt"]);
    assert_summary(&out, "b.txt");
    assert!(out.contains("verified"), "{out}");
    let out = on_a_terminal(&dirs.local, &["tftp", "get", &t, "tiny.txt", "c.txt"]);
    assert_summary(&out, "get tiny.txt");
    // One name only: the same under either argument order of `tftp put`.
    let out = on_a_terminal(&dirs.local, &["tftp", "put", &t, "up.txt"]);
    assert_summary(&out, "put up.txt");
    assert_eq!(files.terminate(), Some(0));
    assert_eq!(tftp.terminate(), Some(0));
}
