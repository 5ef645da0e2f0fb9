//! `netkit files get` checks what it downloads with the server's `SUM`:
//! `--resume` continues a local part only when it is the start of the remote
//! file (and starts over, saying so, when it is not — a file of zeros, a file
//! longer than the remote one); every download is verified unless
//! `--no-verify`, and one that does not match (a server that lies, here a
//! small fake one) fails with exit 1 and leaves nothing under the final
//! name. The shell's `get` verifies too.

use crate::common;

use common::{local_args, netkit, random_bytes, utf8, Dirs, Server};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn client(args: &[&str], cwd: &Path) -> Output {
    client_with_input(args, cwd, b"")
}

/// Runs a client command to completion, `input` on its stdin.
fn client_with_input(args: &[&str], cwd: &Path, input: &[u8]) -> Output {
    let mut cmd = netkit(args);
    cmd.current_dir(cwd)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn netkit client");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input).expect("write the client's input");
    drop(stdin);
    child.wait_with_output().expect("client output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {:?} / {}", o.stdout, stderr(o)))
}

#[test]
fn resume_continues_only_a_part_the_server_confirms() {
    let d = Dirs::new();
    let data = random_bytes(7, 300_000);
    std::fs::write(d.served.join("data.bin"), &data).unwrap();
    let server = Server::start(&local_args(&["files", "serve", utf8(&d.served)], "epoll"));
    let a = server.addr().to_string();
    let get = |local: &str| {
        client(
            &["files", "get", &a, "data.bin", local, "--resume", "--json"],
            &d.local,
        )
    };

    // The case from the issue: 1,000 local bytes of zeros.
    std::fs::write(d.local.join("zeros.bin"), [0u8; 1000]).unwrap();
    let out = get("zeros.bin");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("starting over"), "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(summary["restarted"], true);
    assert_eq!(summary["offset"], 0);
    assert_eq!(summary["bytes"], 300_000);
    assert_eq!(summary["verified"], true);
    assert_eq!(std::fs::read(d.local.join("zeros.bin")).unwrap(), data);

    // Longer than the remote file: starts over too.
    std::fs::write(d.local.join("long.bin"), random_bytes(8, 400_000)).unwrap();
    let out = get("long.bin");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("longer"), "{}", stderr(&out));
    assert_eq!(std::fs::read(d.local.join("long.bin")).unwrap(), data);

    // A true part: continued where it ends, and verified whole.
    std::fs::write(d.local.join("part.bin"), &data[..1000]).unwrap();
    let out = get("part.bin");
    let summary = json(&out);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    assert_eq!(
        (&summary["offset"], &summary["bytes"], &summary["restarted"]),
        (&1000.into(), &299_000.into(), &false.into())
    );
    assert_eq!(summary["verified"], true);
    assert_eq!(std::fs::read(d.local.join("part.bin")).unwrap(), data);

    // Already complete: nothing to fetch, the SUM of the part was the check.
    let out = get("part.bin");
    let summary = json(&out);
    assert_eq!(
        (&summary["bytes"], &summary["verified"]),
        (&0.into(), &true.into())
    );

    // Without --resume every download is verified; --no-verify skips it.
    let out = client(
        &["files", "get", &a, "data.bin", "v.bin", "--json"],
        &d.local,
    );
    assert_eq!(json(&out)["verified"], true);
    let out = client(
        &[
            "files",
            "get",
            &a,
            "data.bin",
            "nv.bin",
            "--json",
            "--no-verify",
        ],
        &d.local,
    );
    assert_eq!(json(&out)["verified"], false);
    assert_eq!(std::fs::read(d.local.join("nv.bin")).unwrap(), data);
    assert_eq!(server.terminate(), Some(0));
}

/// A files server that answers every GET with `hello` and every SUM with a
/// digest of zeros (a lie), for `connections` connections; the commands it
/// saw are returned when it is joined.
struct LyingServer {
    addr: String,
    seen: Arc<Mutex<Vec<String>>>,
    thread: std::thread::JoinHandle<()>,
}

impl LyingServer {
    fn start(connections: usize) -> LyingServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let thread = std::thread::spawn(move || {
            for _ in 0..connections {
                let (conn, _) = listener.accept().expect("accept");
                serve_lies(conn, &log);
            }
        });
        LyingServer { addr, seen, thread }
    }

    fn commands(self) -> Vec<String> {
        self.thread.join().expect("the fake server");
        let seen = self.seen.lock().unwrap();
        seen.clone()
    }
}

fn serve_lies(conn: TcpStream, log: &Mutex<Vec<String>>) {
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end().to_owned();
        log.lock().unwrap().push(line.clone());
        let reply: &[u8] = match line.split(' ').next().unwrap_or("") {
            "LIST" => b"OK 1\n5 0 x.bin\n",
            "GET" => b"OK 5\nhello",
            "SUM" => b"OK 0000000000000000000000000000000000000000000000000000000000000000\n",
            "QUIT" => b"BYE\n",
            _ => b"ERR 400 unknown\n",
        };
        if conn.write_all(reply).is_err() || line == "QUIT" {
            return;
        }
    }
}

#[test]
fn a_download_that_does_not_match_fails_and_is_removed() {
    let d = Dirs::new();
    let liar = LyingServer::start(3);
    let a = liar.addr.clone();

    let out = client(&["files", "get", &a, "x.bin", "x.bin"], &d.local);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("does not match") && err.contains("removed"),
        "{err}"
    );
    assert!(!d.local.join("x.bin").exists(), "no corrupt file left");

    let out = client(
        &["files", "get", &a, "x.bin", "fast.bin", "--no-verify"],
        &d.local,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(d.local.join("fast.bin")).unwrap(), b"hello");

    // The shell's get verifies too (and the session goes on).
    let out = client_with_input(
        &["files", "shell", &a],
        &d.local,
        b"get x.bin shell.bin\nquit\n",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("does not match"), "{text}");
    assert!(!d.local.join("shell.bin").exists());

    let seen = liar.commands();
    let sums = seen.iter().filter(|c| c.starts_with("SUM ")).count();
    assert_eq!(sums, 2, "one SUM per verified download: {seen:?}");
    assert!(seen.contains(&"SUM x.bin 5".to_owned()), "{seen:?}");
}
