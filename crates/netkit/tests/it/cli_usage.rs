//! The command line as a user meets it: every `--help` (walked from the clap
//! model, run through the real binary) names its service's default port and
//! spells `-p`/`-b` as `--port`/`--bind`; every invalid value is a usage
//! error (exit 2) with the subcommand's own usage line; and the access log
//! (one line per request or transfer, `--quiet` for none) in [`cli`].

use crate::common;

use clap::CommandFactory;
use common::run_netkit;

/// Every subcommand path (`["http", "serve"]`, …), depth first.
fn subcommand_paths() -> Vec<(Vec<String>, clap::Command)> {
    fn walk(cmd: &clap::Command, path: &[String], out: &mut Vec<(Vec<String>, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            let mut at = path.to_vec();
            at.push(sub.get_name().to_owned());
            out.push((at.clone(), sub.clone()));
            walk(sub, &at, out);
        }
    }
    let mut out = Vec::new();
    walk(&netkit::cli::Cli::command(), &[], &mut out);
    out
}

/// The default port each command's help must state.
fn default_ports(path: &str) -> &'static [&'static str] {
    match path {
        "up" => &["8000", "8888", "6969", "9999", "6667"],
        "http serve" => &["8000"],
        "files serve" | "files ls" | "files get" | "files put" | "files shell" => &["8888"],
        "tftp serve" | "tftp get" | "tftp put" => &["6969"],
        "chat serve" | "chat join" => &["9999"],
        "echo serve" | "nc" => &["7007"],
        "relay" => &["7070"],
        _ => &[],
    }
}

#[test]
fn every_help_states_the_default_port_and_the_short_flags() {
    let paths = subcommand_paths();
    assert!(
        paths.len() > 20,
        "the walk found the commands: {}",
        paths.len()
    );
    for (path, cmd) in &paths {
        let name = path.join(" ");
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = run_netkit(&args);
        assert_eq!(out.code, Some(0), "netkit {name} --help: {}", out.stderr);
        let help = &out.stdout;
        for port in default_ports(&name) {
            assert!(
                help.contains(port),
                "netkit {name} --help names port {port}:\n{help}"
            );
        }
        for arg in cmd.get_arguments() {
            let (long, short) = (arg.get_long(), arg.get_short());
            for (flag, letter) in [("port", 'p'), ("bind", 'b')] {
                if long == Some(flag) {
                    assert_eq!(short, Some(letter), "netkit {name}: --{flag} is -{letter}");
                    let shown = format!("-{letter}, --{flag}");
                    assert!(
                        help.contains(&shown),
                        "netkit {name} --help shows {shown}:\n{help}"
                    );
                }
                if short == Some(letter) {
                    assert_eq!(
                        long,
                        Some(flag),
                        "netkit {name}: -{letter} means --{flag} only"
                    );
                }
            }
            // A server whose port has a default says which.
            if long == Some("port") && !arg.is_required_set() {
                assert!(
                    !default_ports(&name).is_empty(),
                    "netkit {name} has --port: list its default port here"
                );
            }
        }
    }
}

/// `netkit ARGS` is a usage error of `netkit PATH`: exit 2, that usage line.
fn assert_usage_error(path: &str, args: &[&str]) {
    let out = run_netkit(args);
    let usage = format!("Usage: netkit {path} ");
    assert_eq!(
        out.code,
        Some(2),
        "netkit {args:?} is a usage error: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&usage),
        "netkit {args:?} shows {usage:?}:\n{}",
        out.stderr
    );
    assert!(
        out.stdout.is_empty(),
        "netkit {args:?} printed {:?}",
        out.stdout
    );
}

#[test]
fn invalid_values_are_usage_errors_of_their_subcommand() {
    let here = ["--bind", "127.0.0.1", "--port", "0"];
    let server = |words: &[&'static str]| -> Vec<&'static str> {
        let mut args = words.to_vec();
        args.extend(here);
        args
    };
    let url = "http://127.0.0.1:9/";
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("http serve", server(&["http", "serve", "--workers", "0"])),
        (
            "http serve",
            server(&["http", "serve", "--header-timeout", "0"]),
        ),
        ("http serve", server(&["http", "serve", "--grace", "1e20"])),
        (
            "http serve",
            server(&["http", "serve", "--idle-timeout", "soon"]),
        ),
        (
            "http serve",
            server(&["http", "serve", "--max-upload", "lots"]),
        ),
        (
            "files serve",
            server(&["files", "serve", "--idle-timeout", "-1"]),
        ),
        ("tftp serve", server(&["tftp", "serve", "--timeout", "0"])),
        (
            "echo serve",
            server(&["echo", "serve", "--grace", "forever"]),
        ),
        ("bench load", vec!["bench", "load", "notaurl"]),
        ("bench load", vec!["bench", "load", "-c", "0", url]),
        ("bench load", vec!["bench", "load", "-d", "0s", url]),
        ("bench load", vec!["bench", "load", "-n", "0", url]),
        ("bench load", vec!["bench", "load", "-b", "x", url]),
        ("bench tasks", vec!["bench", "tasks", "--jobs", "0"]),
        (
            "tftp get",
            vec!["tftp", "get", "127.0.0.1:9", "x", "--blksize", "4"],
        ),
        (
            "tftp put",
            vec!["tftp", "put", "127.0.0.1:9", "x", "--windowsize", "0"],
        ),
        ("files ls", vec!["files", "ls", "127.0.0.1:99999"]),
        ("files get", vec!["files", "get", "127.0.0.1:0", "x"]),
        ("chat join", vec!["chat", "join", "127.0.0.1:9", "bad name"]),
        ("chat serve", server(&["chat", "serve", "--burst", "0"])),
        (
            "chat serve",
            server(&["chat", "serve", "--model", "fork", "--irc-port", "0"]),
        ),
        ("nc", vec!["nc", "127.0.0.1:9", "-w", "x"]),
        ("nc", vec!["nc", "127.0.0.1", "http"]),
        ("nc", vec!["nc", "-z", "127.0.0.1", "25-20"]),
        ("nc", vec!["nc", "-U", "/a", "/b"]),
        ("nc", vec!["nc", "-k", "127.0.0.1", "9"]),
        (
            "broadcast send",
            vec!["broadcast", "send", "--port", "9", "hi", "--interval", "x"],
        ),
    ];
    for (path, args) in &cases {
        assert_usage_error(path, args);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = common::utf8(dir.path()).to_owned();
    assert_usage_error("up", &common::up_args(&dir, &["--model", "fork"]));
}

#[test]
fn durations_take_units_and_the_old_idle_spelling_still_works() {
    // A server that starts is the proof the values were taken.
    let dir = tempfile::tempdir().expect("tempdir");
    let dir = common::utf8(dir.path());
    for args in [
        vec![
            "http",
            "serve",
            dir,
            "--header-timeout",
            "500ms",
            "--keepalive-timeout",
            "2",
        ],
        vec![
            "http",
            "serve",
            dir,
            "--idle-timeout",
            "2m",
            "--grace",
            "1.5",
        ],
        vec![
            "files",
            "serve",
            dir,
            "--idle-timeout",
            "0",
            "--max-upload",
            "2GiB",
        ],
        vec!["tftp", "serve", dir, "--timeout", "250ms", "--grace", "1s"],
        vec!["echo", "serve", "--idle-timeout", "1h"],
    ] {
        let mut args = args;
        args.extend(["--bind", "127.0.0.1", "--port", "0"]);
        let server = common::Server::start(&args);
        assert_eq!(server.terminate(), Some(0), "netkit {args:?}");
    }
}
