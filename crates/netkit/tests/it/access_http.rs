//! Accounts and rules on `netkit http serve`, end to end with curl: with and
//! without `-u`, wrong passwords, a read-only user trying every write verb,
//! anonymous rules, filtered listings, the access log's user field, and the
//! 429 (with `Retry-After`) after ten wrong passwords, under every model; in
//! `up`, guessing on the files protocol closes the web page too.

use crate::common;
use crate::http;

use common::{every_model, up_addrs, up_args, utf8, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

/// alice writes in `team`, bob only reads it; anyone reads `pub` and
/// writes in `drop`.
const RULES: &[&str] = &[
    "--auth",
    "alice:wonderland@/team:rw",
    "--auth",
    "bob:builder@/team",
    "--auth",
    "@/pub,/drop:rw",
];

fn share() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("top.txt", "nobody's"),
        ("pub/p.txt", "public\n"),
        ("team/t.txt", "team\n"),
        ("team/old.txt", "old\n"),
        ("private/x.txt", "private\n"),
        ("drop/d.txt", "dropped\n"),
    ] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}

/// What curl saw: the status, the head and the body.
struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// `curl -s -i ARGS URL` (bounded by `--max-time`).
fn curl(addr: SocketAddr, path: &str, args: &[&str]) -> Reply {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "20"])
        .args(args)
        .arg(format!("http://{addr}{path}"))
        .stdin(Stdio::null())
        .output()
        .expect("curl (installed by scripts/test.sh)");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    // An upload's interim `100 Continue` comes first: the reply follows it.
    while text.starts_with("HTTP/1.1 100") {
        text = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, rest)| rest)
            .to_owned();
    }
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("curl {args:?} {path}: no status in {text:?}"));
    Reply {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn status(addr: SocketAddr, path: &str, args: &[&str]) -> u16 {
    curl(addr, path, args).status
}

fn start(model: &str, dir: &Path, keep_stderr: bool) -> common::Server {
    let mut extra = vec!["--upload", "--overwrite"];
    extra.extend_from_slice(RULES);
    http::start_with(model, dir, &extra, keep_stderr)
}

#[test]
fn curl_with_and_without_logins() {
    let dir = share();
    let local = dir.path().join("local.txt");
    std::fs::write(&local, "uploaded\n").unwrap();
    let local = utf8(&local);
    let server = start("thread", dir.path(), true);
    let addr = server.addr();
    let (alice, bob) = (["-u", "alice:wonderland"], ["-u", "bob:builder"]);

    // Anonymous: the public folder; elsewhere a login is asked for.
    let public = curl(addr, "/pub/p.txt", &[]);
    assert_eq!((public.status, public.body.as_str()), (200, "public\n"));
    let asked = curl(addr, "/team/t.txt", &[]);
    assert_eq!(asked.status, 401);
    assert!(
        asked
            .head
            .contains("WWW-Authenticate: Basic realm=\"netkit\", charset=\"UTF-8\""),
        "{}",
        asked.head
    );
    assert_eq!(status(addr, "/team/n.txt", &["-T", local]), 401);
    // An anonymous rule with `:rw`: anyone writes there, and only there.
    assert_eq!(status(addr, "/drop/n.txt", &["-T", local]), 201);
    assert_eq!(status(addr, "/drop/d.txt", &["-X", "DELETE"]), 204);
    assert_eq!(status(addr, "/pub/n.txt", &["-T", local]), 403);
    // Wrong passwords, and a user nobody knows.
    assert_eq!(status(addr, "/team/t.txt", &["-u", "alice:rabbit"]), 401);
    assert_eq!(status(addr, "/team/t.txt", &["-u", "mallory:x"]), 401);
    // The read-only user reads, and every write verb is refused.
    let read = curl(addr, "/team/t.txt", &bob);
    assert_eq!((read.status, read.body.as_str()), (200, "team\n"));
    assert_eq!(
        status(addr, "/team/n.txt", &[&bob[..], &["-T", local]].concat()),
        403
    );
    assert_eq!(
        status(addr, "/team/t.txt", &[&bob[..], &["-T", local]].concat()),
        403
    );
    for verb in ["DELETE", "MKCOL", "MOVE", "COPY", "PROPPATCH", "LOCK"] {
        let args = [&bob[..], &["-X", verb, "-H", "Destination: /team/z.txt"]].concat();
        assert_eq!(status(addr, "/team/t.txt", &args), 403, "{verb} by bob");
    }
    // The writer writes; nobody's folder is not found, even to them.
    assert_eq!(
        status(addr, "/team/n.txt", &[&alice[..], &["-T", local]].concat()),
        201
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("team/n.txt")).unwrap(),
        "uploaded\n"
    );
    assert_eq!(
        status(
            addr,
            "/team/old.txt",
            &[&alice[..], &["-X", "DELETE"]].concat()
        ),
        204
    );
    assert!(!dir.path().join("team/old.txt").exists());
    assert_eq!(status(addr, "/private/x.txt", &alice), 404);
    assert_eq!(status(addr, "/top.txt", &[]), 404);
    // Listings show what the visitor may reach.
    let root = curl(addr, "/", &["-H", "Accept: application/json"]).body;
    assert!(
        root.contains("\"pub\"") && !root.contains("team") && !root.contains("top.txt"),
        "{root}"
    );
    let root = curl(
        addr,
        "/",
        &[&bob[..], &["-H", "Accept: application/json"]].concat(),
    )
    .body;
    assert!(
        root.contains("\"pub\"") && root.contains("\"team\"") && !root.contains("private"),
        "{root}"
    );
    // A keep-alive client sends its login with each request: all pass.
    let out = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "20",
            "-u",
            "bob:builder",
            "-w",
            "%{http_code} %{num_connects}\n",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
        ])
        .args((0..3).map(|_| format!("http://{addr}/team/t.txt")))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 1\n200 0\n200 0\n"
    );

    // The access log names who was logged in.
    let mut server = server;
    let mut stderr = server.child.stderr.take().unwrap();
    assert_eq!(server.terminate(), Some(0));
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(
        log.contains(" - bob [") && log.contains("\"GET /team/t.txt HTTP/1.1\" 200 5"),
        "{log}"
    );
    assert!(
        log.contains(" - alice [") && log.contains("\"PUT /team/n.txt HTTP/1.1\" 201"),
        "{log}"
    );
    assert!(
        log.contains("127.0.0.1 - - [") && log.contains("\"GET /pub/p.txt HTTP/1.1\" 200 7"),
        "{log}"
    );
}

/// Ten wrong passwords from one address within a minute: every request
/// from it is a 429 with `Retry-After`, the right password included.
fn guessing_is_shut_out(model: &str) {
    let dir = share();
    let server = start(model, dir.path(), false);
    let addr = server.addr();
    for i in 0..10 {
        let guess = format!("alice:guess{i}");
        assert_eq!(
            status(addr, "/team/t.txt", &["-u", &guess]),
            401,
            "guess {i}"
        );
    }
    for args in [&["-u", "alice:wonderland"][..], &[]] {
        let reply = curl(addr, "/pub/p.txt", args);
        assert_eq!(reply.status, 429, "{args:?}: {}", reply.head);
        let retry: u64 = reply
            .head
            .lines()
            .find_map(|l| l.strip_prefix("Retry-After: "))
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("Retry-After in {}", reply.head));
        assert!((1..=60).contains(&retry), "{retry}");
    }
    assert_eq!(server.terminate(), Some(0));
}

every_model!(guessing_is_shut_out);

/// `up`'s services count failed logins together: ten wrong `AUTH`s on the
/// files protocol, and the address gets 429 from the web page as well.
#[test]
fn guessing_on_one_service_of_up_closes_the_others() {
    let dir = share();
    let mut args = up_args(utf8(dir.path()), &["--no-tftp"]);
    args.extend_from_slice(RULES);
    let server = Server::start(&args);
    let addrs = up_addrs(&server);
    let find = |name: &str| addrs.iter().find(|(n, _)| n == name).unwrap().1;
    let (http, files) = (find("http"), find("files"));
    assert_eq!(status(http, "/pub/p.txt", &[]), 200);
    for i in 0..10 {
        let stream = common::connect(files, std::time::Duration::from_secs(20));
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        (&stream)
            .write_all(format!("AUTH alice guess{i}\n").as_bytes())
            .unwrap();
        let mut reply = String::new();
        reader.read_line(&mut reply).unwrap();
        assert!(reply.starts_with("ERR 401 "), "guess {i}: {reply}");
    }
    let reply = curl(http, "/pub/p.txt", &[]);
    assert_eq!(reply.status, 429, "{}", reply.head);
    assert!(reply.head.contains("Retry-After: "), "{}", reply.head);
    assert_eq!(server.terminate(), Some(0));
}

/// The JSON of `up`'s page: its settings name who is logged in, a folder's
/// listing says what they may do there, and without an anonymous rule every
/// route of the page (chat included) asks for a login, its script excepted.
#[test]
fn up_tells_the_page_who_is_logged_in_and_what_they_may_do() {
    let dir = share();
    let json = |reply: Reply| -> serde_json::Value {
        assert_eq!(reply.status, 200, "{}", reply.head);
        serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
    };
    let mut args = up_args(
        utf8(dir.path()),
        &["--no-tftp", "--no-files", "--upload", "--overwrite"],
    );
    args.extend_from_slice(RULES);
    let server = Server::start(&args);
    let http = server.addr();
    let (alice, bob) = (["-u", "alice:wonderland"], ["-u", "bob:builder"]);
    let settings = json(curl(http, "/_netkit/settings", &[]));
    assert_eq!(
        (settings["user"].clone(), settings["accounts"].clone()),
        (serde_json::Value::Null, true.into())
    );
    assert_eq!(json(curl(http, "/_netkit/settings", &bob))["user"], "bob");
    let may = |args: &[&str], folder: &str| {
        json(curl(http, &format!("/_netkit/ls?path={folder}"), args))["may"].clone()
    };
    assert_eq!(
        may(&alice, "/team/"),
        serde_json::json!({ "upload": true, "delete": true })
    );
    assert_eq!(
        may(&bob, "/team/"),
        serde_json::json!({ "upload": false, "delete": false })
    );
    assert_eq!(
        may(&[], "/drop/"),
        serde_json::json!({ "upload": true, "delete": true })
    );
    assert_eq!(
        may(&[], "/pub/"),
        serde_json::json!({ "upload": false, "delete": false })
    );
    let root = json(curl(http, "/_netkit/ls?path=/", &[]));
    let names: Vec<&str> = root["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["drop", "pub"]);
    assert_eq!(curl(http, "/_netkit/ls?path=/team/", &[]).status, 401);
    assert_eq!(curl(http, "/_netkit/ls?path=/private/", &alice).status, 404);
    assert_eq!(server.terminate(), Some(0));

    // No anonymous rule: the page and its routes ask for a login.
    let mut args = up_args(utf8(dir.path()), &["--no-tftp", "--no-files"]);
    args.extend_from_slice(&RULES[..4]);
    let server = Server::start(&args);
    let http = server.addr();
    for path in [
        "/",
        "/_netkit/settings",
        "/_netkit/ls?path=/",
        "/_netkit/stats",
    ] {
        let reply = curl(http, path, &[]);
        assert_eq!(reply.status, 401, "{path}: {}", reply.head);
        assert!(
            reply
                .head
                .contains("WWW-Authenticate: Basic realm=\"netkit\""),
            "{path}"
        );
    }
    let join = ["-X", "POST", "--data", "mallory"];
    assert_eq!(curl(http, "/_netkit/chat/join", &join).status, 401);
    assert_eq!(
        curl(http, "/_netkit/chat/join", &[&bob[..], &join].concat()).status,
        200
    );
    assert_eq!(curl(http, "/_netkit/app.js", &[]).status, 200);
    assert_eq!(curl(http, "/", &bob).status, 200);
    assert_eq!(server.terminate(), Some(0));
}
