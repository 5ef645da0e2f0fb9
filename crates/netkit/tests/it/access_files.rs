//! Accounts end to end on the files protocol and TFTP, with the real binary
//! and real clients: AUTH right and wrong (raw, and `netkit files … --user`
//! and `files shell` with `NETKIT_PASSWORD`), a read-only user trying PUT,
//! anonymous rules, the 429 after guessing (under `--model fork` too, whose
//! children share the counters), `netkit passwd` through a pipe, rule errors as usage errors,
//! the warnings at start, and curl's TFTP inside and outside anonymous rules.

use crate::common;

use common::{local_args, netkit, netkit_bin, run_bounded, spawn_line_reader, utf8, Dirs, Server};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// `pub/p.txt`, `team/t.txt` and `top.txt` in the served folder.
fn share(d: &Dirs) {
    std::fs::create_dir(d.served.join("pub")).unwrap();
    std::fs::create_dir(d.served.join("team")).unwrap();
    std::fs::write(d.served.join("pub/p.txt"), b"public\n").unwrap();
    std::fs::write(d.served.join("team/t.txt"), b"team\n").unwrap();
    std::fs::write(d.served.join("top.txt"), b"top\n").unwrap();
}

/// alice writes /team, viewer reads everything, anyone reads /pub.
const RULES: [&str; 6] = [
    "--auth",
    "alice:wonder@/team:rw",
    "--auth",
    "viewer:v@/",
    "--auth",
    "@/pub",
];

fn files_server(d: &Dirs, model: &str, extra: &[&str]) -> Server {
    let mut args = local_args(&["files", "serve", utf8(&d.served)], model);
    args.extend_from_slice(&["--quiet", "--upload"]);
    args.extend_from_slice(&RULES);
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// A raw files-protocol connection: one command line in, one reply line out.
struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        Raw {
            reader: BufReader::new(common::connect(addr, LIMIT)),
        }
    }

    fn ask(&mut self, line: &str) -> String {
        self.reader
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .expect("send");
        let mut reply = String::new();
        self.reader.read_line(&mut reply).expect("a reply");
        reply.trim_end().to_owned()
    }
}

#[test]
fn auth_right_and_wrong_read_only_users_and_anonymous_rules() {
    let d = Dirs::new();
    share(&d);
    let server = files_server(&d, "epoll", &[]);
    let mut anonymous = Raw::connect(server.addr());
    assert_eq!(anonymous.ask("GET pub/p.txt"), "OK 7");
    let mut body = [0u8; 7];
    std::io::Read::read_exact(&mut anonymous.reader, &mut body).unwrap();
    assert!(anonymous.ask("GET team/t.txt").starts_with("ERR 401 "));
    assert!(anonymous.ask("PUT team/x.txt 1").starts_with("ERR 401 "));
    assert!(anonymous.ask("PUT pub/x.txt 1").starts_with("ERR 403 "));
    assert!(anonymous.ask("AUTH alice wrong").starts_with("ERR 401 "));
    assert!(anonymous.ask("AUTH nobody wonder").starts_with("ERR 401 "));

    let mut viewer = Raw::connect(server.addr());
    assert_eq!(viewer.ask("AUTH viewer v"), "OK");
    assert!(viewer.ask("SUM top.txt").starts_with("OK "));
    let refused = viewer.ask("PUT team/v.txt 1");
    assert!(
        refused.starts_with("ERR 403 ") && refused.contains("viewer"),
        "{refused}"
    );

    let mut alice = Raw::connect(server.addr());
    assert_eq!(alice.ask("AUTH alice wonder"), "OK");
    assert!(alice.ask("GET top.txt").starts_with("ERR 404 "));
    assert_eq!(alice.ask("PUT team/new.txt 2"), "READY");
    alice.reader.get_mut().write_all(b"hi").unwrap();
    let mut done = String::new();
    alice.reader.read_line(&mut done).unwrap();
    assert!(done.starts_with("OK "), "{done}");
    assert_eq!(std::fs::read(d.served.join("team/new.txt")).unwrap(), b"hi");
    assert_eq!(server.terminate(), Some(0));
}

/// `netkit files …` with NETKIT_PASSWORD set (or not) and `args`.
fn client(args: &[&str], password: Option<&str>, cwd: &std::path::Path) -> common::Output {
    let mut cmd = Command::new(netkit_bin());
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("NETKIT_PASSWORD");
    if let Some(password) = password {
        cmd.env("NETKIT_PASSWORD", password);
    }
    let (code, stdout, stderr) = run_bounded(cmd, LIMIT);
    common::Output {
        code,
        stdout,
        stderr,
    }
}

#[test]
fn the_files_clients_log_in_with_user_and_the_password_from_the_environment() {
    let d = Dirs::new();
    share(&d);
    std::fs::write(d.local.join("up.txt"), b"uploaded\n").unwrap();
    let server = files_server(&d, "thread", &[]);
    let a = server.addr().to_string();
    let get = client(
        &["files", "get", &a, "team/t.txt", "--user", "alice"],
        Some("wonder"),
        &d.local,
    );
    assert_eq!(get.code, Some(0), "{}", get.stderr);
    assert_eq!(std::fs::read(d.local.join("t.txt")).unwrap(), b"team\n");
    let put = client(
        &[
            "files",
            "put",
            &a,
            "up.txt",
            "team/up.txt",
            "--user",
            "alice",
        ],
        Some("wonder"),
        &d.local,
    );
    assert_eq!(put.code, Some(0), "{}", put.stderr);
    assert_eq!(
        std::fs::read(d.served.join("team/up.txt")).unwrap(),
        b"uploaded\n"
    );
    let ls = client(
        &["files", "ls", &a, "--user", "viewer"],
        Some("v"),
        &d.local,
    );
    assert_eq!(ls.code, Some(0), "{}", ls.stderr);
    assert!(ls.stdout.contains("top.txt"), "{}", ls.stdout);
    // Without a login, the anonymous rules only.
    let ls = client(&["files", "ls", &a], None, &d.local);
    assert_eq!(ls.code, Some(0), "{}", ls.stderr);
    assert!(!ls.stdout.contains("top.txt"), "{}", ls.stdout);
    // A wrong password, and a read-only user's upload, fail with the server's reason.
    let wrong = client(
        &["files", "ls", &a, "--user", "alice"],
        Some("nope"),
        &d.local,
    );
    assert_eq!(wrong.code, Some(1));
    assert!(wrong.stderr.contains("err 401"), "{}", wrong.stderr);
    let readonly = client(
        &[
            "files",
            "put",
            &a,
            "up.txt",
            "team/v.txt",
            "--user",
            "viewer",
        ],
        Some("v"),
        &d.local,
    );
    assert_eq!(readonly.code, Some(1));
    assert!(readonly.stderr.contains("err 403"), "{}", readonly.stderr);
    // No NETKIT_PASSWORD and no terminal: a clear failure, not a hang.
    let mut cmd = Command::new(netkit_bin());
    cmd.args(["files", "ls", &a, "--user", "alice"])
        .env_remove("NETKIT_PASSWORD")
        .stdin(Stdio::null());
    // setsid: no controlling terminal, so the prompt cannot open /dev/tty.
    let mut setsid = Command::new("setsid");
    setsid.arg("-w").arg(cmd.get_program()).args(cmd.get_args());
    setsid.env_remove("NETKIT_PASSWORD").stdin(Stdio::null());
    let (code, _, stderr) = run_bounded(setsid, LIMIT);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("netkit_password"), "{stderr}");
    assert_eq!(server.terminate(), Some(0));
}

/// Ten wrong AUTHs, each on a connection of its own (under `fork`, each a
/// child process of its own), then every command gets 429, from any new
/// connection of that address.
fn guessing_closes_the_address(model: &str) {
    let d = Dirs::new();
    share(&d);
    let server = files_server(&d, model, &[]);
    for i in 0..10 {
        let mut guess = Raw::connect(server.addr());
        let reply = guess.ask(&format!("AUTH alice guess{i}"));
        assert!(reply.starts_with("ERR 401 "), "guess {i}: {reply}");
    }
    let mut after = Raw::connect(server.addr());
    let reply = after.ask("AUTH alice wonder");
    assert!(reply.starts_with("ERR 429 "), "{reply}");
    let reply = after.ask("GET pub/p.txt");
    assert!(reply.starts_with("ERR 429 "), "{reply}");
    assert_eq!(after.ask("QUIT"), "BYE");
    assert_eq!(server.terminate(), Some(0));
}

mod guessing {
    use super::guessing_closes_the_address;
    crate::common::every_model!(guessing_closes_the_address: [thread, fork, epoll, r#async]);
}

#[test]
fn passwd_hashes_a_piped_password_that_then_logs_in() {
    let mut child = Command::new(netkit_bin())
        .arg("passwd")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn netkit passwd");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(b"correct horse\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().expect("passwd output");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("correct horse"));

    let d = Dirs::new();
    share(&d);
    let rule = format!("carol:{hash}@/");
    let server = Server::start(&local_args(
        &[
            "files",
            "serve",
            utf8(&d.served),
            "--quiet",
            "--auth",
            &rule,
        ],
        "thread",
    ));
    let mut raw = Raw::connect(server.addr());
    assert!(raw.ask("AUTH carol correct hors").starts_with("ERR 401 "));
    assert_eq!(raw.ask("AUTH carol correct horse"), "OK");
    assert!(raw.ask("SUM top.txt").starts_with("OK "));
    assert_eq!(server.terminate(), Some(0));

    // Nothing piped in: an empty password is refused.
    let empty = common::run_netkit(&["passwd"]);
    assert_eq!(empty.code, Some(1), "{}", empty.stderr);
    assert!(empty.stderr.contains("empty password"), "{}", empty.stderr);
}

#[test]
fn a_bad_rule_or_auth_file_is_a_usage_error_naming_it() {
    let d = Dirs::new();
    let dir = utf8(&d.served);
    for (args, says) in [
        (
            vec!["files", "serve", dir, "--auth", "@/ok", "--auth", "bob@/"],
            "access rule 2",
        ),
        (vec!["tftp", "serve", dir, "--auth", "bob:pw@"], "no path"),
        (
            vec!["http", "serve", dir, "--auth-file", "/nonexistent/rules"],
            "/nonexistent/rules",
        ),
        (
            vec!["up", dir, "--auth", "x:$argon2id$v=19$junk@/"],
            "argon2",
        ),
    ] {
        let out = common::run_netkit(&args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.to_lowercase().contains(&says.to_lowercase()),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains(":pw@"),
            "a password in an error: {}",
            out.stderr
        );
    }
}

/// Runs `netkit ARGS` until its ready line, stops it, and returns what it
/// printed on stderr (the start-up warnings come before the ready line; the
/// access log is off with --quiet).
fn warnings(args: &[&str]) -> String {
    let mut cmd = netkit(args);
    cmd.stderr(Stdio::piped());
    let mut server = Server::start_cmd(cmd);
    let stderr = server.child.stderr.take().expect("piped stderr");
    let lines = spawn_line_reader(stderr);
    assert_eq!(server.terminate(), Some(0));
    // The process is gone: the reader ends at EOF.
    lines.iter().collect::<Vec<_>>().join("\n").to_lowercase()
}

#[test]
fn start_up_warns_about_passwords_in_the_clear_and_anyone_writing() {
    let d = Dirs::new();
    let dir = utf8(&d.served);
    let http = local_args(&["http", "serve", dir, "-q", "--auth", "a:b@/"], "thread");
    let said = warnings(&http);
    assert!(said.contains("in the clear"), "{said}");
    let files = local_args(&["files", "serve", dir, "-q", "--upload"], "thread");
    let said = warnings(&files);
    assert!(said.contains("anyone on the network can write"), "{said}");
    let up = common::up_args(dir, &["-q", "--upload", "--no-chat", "--no-irc"]);
    let said = warnings(&up);
    assert!(said.contains("anyone on the network can write"), "{said}");
    // With rules, nobody unknown writes; the files protocol's AUTH is in the
    // clear too (no TLS yet).
    let ruled = [
        "files", "serve", dir, "-q", "--upload", "--auth", "a:b@/:rw",
    ];
    let said = warnings(&local_args(&ruled, "thread"));
    assert!(!said.contains("anyone on the network"), "{said}");
    assert!(said.contains("in the clear"), "{said}");
    // Only `@` rules: no password ever crosses, nothing to warn about.
    let anonymous = ["files", "serve", dir, "-q", "--upload", "--auth", "@/:rw"];
    let said = warnings(&local_args(&anonymous, "thread"));
    assert!(!said.contains("warn"), "{said}");
}

#[test]
fn tftp_serves_only_what_anonymous_rules_allow() {
    let d = Dirs::new();
    share(&d);
    std::fs::create_dir(d.served.join("inbox")).unwrap();
    std::fs::write(d.local.join("up.txt"), b"up\n").unwrap();
    let server = Server::start(&[
        "tftp",
        "serve",
        utf8(&d.served),
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--quiet",
        "--upload",
        "--auth",
        "@/pub,/inbox:rw",
        "--auth",
        "alice:wonder@/:rw",
    ]);
    let url = |name: &str| format!("tftp://{}/{name}", server.addr());
    let curl = |args: &[&str]| {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "30"]).args(args);
        run_bounded(cmd, LIMIT)
    };
    let got = d.local.join("got");
    let (code, _, err) = curl(&["-o", utf8(&got), &url("pub/p.txt")]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(std::fs::read(&got).unwrap(), b"public\n");
    // Outside the anonymous rules: not found (curl 68), though alice could read it.
    let (code, _, err) = curl(&["-o", utf8(&d.local.join("no")), &url("top.txt")]);
    assert_eq!(code, Some(68), "{err}");
    let up = d.local.join("up.txt");
    let (code, _, err) = curl(&["-T", utf8(&up), &url("inbox/up.txt")]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        std::fs::read(d.served.join("inbox/up.txt")).unwrap(),
        b"up\n"
    );
    // A write outside `:rw` anonymous rules: access violation (curl 69).
    let (code, _, err) = curl(&["-T", utf8(&up), &url("pub/up.txt")]);
    assert_eq!(code, Some(69), "{err}");
    assert!(!d.served.join("pub/up.txt").exists());
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn the_files_shell_logs_in_with_user() {
    let d = Dirs::new();
    share(&d);
    let server = files_server(&d, "poll", &[]);
    let a = server.addr().to_string();
    let shell = |password: Option<&str>, user: &[&str]| {
        let mut cmd = Command::new(netkit_bin());
        cmd.args(["files", "shell", &a])
            .args(user)
            .env_remove("NETKIT_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(password) = password {
            cmd.env("NETKIT_PASSWORD", password);
        }
        let mut child = cmd.spawn().expect("spawn files shell");
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(b"ls\nquit\n").unwrap();
        drop(stdin);
        let stdout = common::read_all_on_a_thread(child.stdout.take().expect("stdout"));
        let stderr = common::read_all_on_a_thread(child.stderr.take().expect("stderr"));
        let code = common::wait_bounded(&mut child, LIMIT);
        assert_eq!(code, Some(0), "{}", stderr.join().unwrap());
        stdout.join().unwrap()
    };
    let viewer = shell(Some("v"), &["--user", "viewer"]);
    assert!(viewer.contains("top.txt"), "{viewer}");
    let anonymous = shell(None, &[]);
    assert!(!anonymous.contains("top.txt"), "{anonymous}");
    assert_eq!(server.terminate(), Some(0));
}
