//! The files client end to end against a live `netkit files serve`: `ls`
//! (table and `--json`), `get` (quiet when piped, `--resume`), `put` (SHA-256
//! checked), refusals with exit status 1; `files shell` driven through tmux for
//! a get (with Tab completion of a remote name) and a put; 20 clients
//! uploading and downloading 1 KiB–50 MiB at once while a 21st lists; and a
//! `put` killed mid-upload leaving no trace.

use crate::common;

use crate::files_shell::Tmux;
use common::{
    eventually, local_args, netkit, netkit_bin, random_bytes, sha, upload_temporaries, utf8, Dirs,
    Server,
};
use netkit::cli::files::Client;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

fn start(dir: &Path, model: &str, extra: &[&str]) -> Server {
    let mut args = local_args(&["files", "serve", utf8(dir)], model);
    // The stress tests make millions of requests: no access log.
    args.push("--quiet");
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn addr(server: &Server) -> String {
    server.addr().to_string()
}

/// Runs a client command to completion with stdout and stderr captured.
fn client(args: &[&str], cwd: &Path) -> Output {
    let mut cmd = netkit(args);
    cmd.current_dir(cwd).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn netkit client");
    child.wait_with_output().expect("client output")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn ls_get_put_resume_and_refusals() {
    let d = Dirs::new();
    std::fs::write(d.served.join("hello.txt"), b"hello\n").unwrap();
    let server = start(&d.served, "epoll", &["--upload"]);
    let a = addr(&server);
    let data = random_bytes(1, 3_000_000);
    std::fs::write(d.local.join("data.bin"), &data).unwrap();

    let put = client(&["files", "put", &a, "data.bin", "--json"], &d.local);
    assert!(put.status.success(), "{}", stderr(&put));
    let summary: serde_json::Value = serde_json::from_slice(&put.stdout).unwrap();
    assert_eq!(summary["sha256"], sha(&data).as_str());
    assert_eq!(std::fs::read(d.served.join("data.bin")).unwrap(), data);

    let ls = client(&["files", "ls", &a, "--json"], &d.local);
    let entries: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let names: Vec<(&str, u64)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["size"].as_u64().unwrap()))
        .collect();
    assert_eq!(names, [("data.bin", 3_000_000), ("hello.txt", 6)]);
    let table = stdout(&client(&["files", "ls", &a], &d.local));
    assert!(
        table.contains("hello.txt") && table.contains("2.86 MiB"),
        "{table}"
    );

    let get = client(&["files", "get", &a, "data.bin", "copy.bin"], &d.local);
    assert!(get.status.success(), "{}", stderr(&get));
    assert!(get.stdout.is_empty(), "quiet when stdout is not a terminal");
    assert_eq!(std::fs::read(d.local.join("copy.bin")).unwrap(), data);

    std::fs::create_dir(d.local.join("into")).unwrap();
    let get = client(&["files", "get", &a, "hello.txt", "into"], &d.local);
    assert!(get.status.success(), "{}", stderr(&get));
    assert_eq!(
        std::fs::read(d.local.join("into/hello.txt")).unwrap(),
        b"hello\n"
    );

    std::fs::write(d.local.join("part.bin"), &data[..1_000_000]).unwrap();
    let resume = client(
        &[
            "files", "get", &a, "data.bin", "part.bin", "--resume", "--json",
        ],
        &d.local,
    );
    let summary: serde_json::Value = serde_json::from_slice(&resume.stdout).unwrap();
    assert_eq!(summary["offset"], 1_000_000);
    assert_eq!(summary["bytes"], 2_000_000);
    assert_eq!(std::fs::read(d.local.join("part.bin")).unwrap(), data);

    let again = client(&["files", "put", &a, "data.bin"], &d.local);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("ERR 409"), "{}", stderr(&again));

    std::fs::write(d.local.join("keep.txt"), b"mine").unwrap();
    let missing = client(&["files", "get", &a, "nope", "keep.txt"], &d.local);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("ERR 404"), "{}", stderr(&missing));
    assert_eq!(std::fs::read(d.local.join("keep.txt")).unwrap(), b"mine");

    let usage = client(&["files", "get", &a], &d.local);
    assert_eq!(usage.status.code(), Some(2));
    assert_eq!(server.terminate(), Some(0));
}

fn twenty_clients_while_one_lists(model: &str) {
    let d = Dirs::new();
    let server = start(&d.served, model, &["--upload"]);
    let addr = server.addr();
    // 1 KiB to 50 MiB, geometrically.
    let sizes: Vec<usize> = (0..20)
        .map(|i| (1024.0 * 51_200f64.powf(f64::from(i) / 19.0)) as usize)
        .collect();
    let done = AtomicBool::new(false);
    let bar = indicatif::ProgressBar::hidden();
    let (failures, listings) = std::thread::scope(|scope| {
        let lister = scope.spawn(|| -> Result<usize, String> {
            let mut c = Client::connect(addr).map_err(|e| e.to_string())?;
            let mut count = 0;
            let start = Instant::now();
            while !done.load(Ordering::SeqCst) && start.elapsed() < LIMIT {
                for e in c.list().map_err(|e| format!("LIST: {e:#}"))? {
                    let i: usize = e.name[1..e.name.len() - 4].parse().unwrap();
                    // An upload is visible complete or not at all.
                    if e.size != sizes[i] as u64 {
                        return Err(format!("{} listed at {} bytes", e.name, e.size));
                    }
                }
                count += 1;
            }
            Ok(count)
        });
        let workers: Vec<_> = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let bar = &bar;
                scope.spawn(move || -> Result<(), String> {
                    let data = random_bytes(i as u64 + 1, size);
                    let name = format!("f{i:02}.bin");
                    let mut c = Client::connect(addr).map_err(|e| e.to_string())?;
                    let digest = c
                        .put(&name, &mut &data[..], size as u64, bar)
                        .map_err(|e| format!("put {name}: {e:#}"))?;
                    if digest != sha(&data) {
                        return Err(format!("{name}: wrong digest"));
                    }
                    let len = c.get_start(&name, 0).map_err(|e| e.to_string())?;
                    let mut got = Vec::with_capacity(size);
                    c.get_body(len, &mut got, bar)
                        .map_err(|e| format!("get {name}: {e:#}"))?;
                    if got != data {
                        return Err(format!("{name}: downloaded bytes differ"));
                    }
                    c.quit();
                    Ok(())
                })
            })
            .collect();
        let failures: Vec<String> = workers
            .into_iter()
            .filter_map(|w| w.join().unwrap_or_else(|_| Err("panicked".into())).err())
            .collect();
        done.store(true, Ordering::SeqCst);
        let listings = lister.join().expect("lister panicked");
        (failures, listings)
    });
    assert!(failures.is_empty(), "{failures:#?}");
    let listings = listings.unwrap_or_else(|e| panic!("lister: {e}"));
    assert!(listings > 0);
    for (i, &size) in sizes.iter().enumerate() {
        let stored = std::fs::read(d.served.join(format!("f{i:02}.bin"))).unwrap();
        assert_eq!(
            stored,
            random_bytes(i as u64 + 1, size),
            "f{i:02}.bin on disk"
        );
    }
    assert!(upload_temporaries(&d.served).is_empty());
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn twenty_clients_while_one_lists_epoll() {
    twenty_clients_while_one_lists("epoll");
}

#[test]
fn twenty_clients_while_one_lists_thread() {
    twenty_clients_while_one_lists("thread");
}

#[test]
fn put_killed_mid_upload_leaves_the_old_file() {
    let d = Dirs::new();
    std::fs::write(d.served.join("target.bin"), b"OLD").unwrap();
    let server = start(&d.served, "epoll", &["--upload", "--overwrite"]);
    // A sparse file far too large to finish before we look.
    let huge = std::fs::File::create(d.local.join("huge.bin")).unwrap();
    huge.set_len(4 << 30).unwrap();
    let a = addr(&server);
    let mut put = netkit(&["files", "put", &a, "huge.bin", "target.bin"])
        .current_dir(&d.local)
        .spawn()
        .expect("spawn put");
    eventually(LIMIT, "the upload under way", || {
        upload_temporaries(&d.served)
            .first()
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| m.len() > 1 << 20)
    });
    common::signal(&put, "KILL");
    let _ = put.wait();
    eventually(LIMIT, "the temporary removed", || {
        upload_temporaries(&d.served).is_empty()
    });
    assert_eq!(std::fs::read(d.served.join("target.bin")).unwrap(), b"OLD");
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn shell_through_a_terminal_gets_and_puts() {
    let d = Dirs::new();
    std::fs::write(d.served.join("hello.txt"), b"hello from the server\n").unwrap();
    std::fs::write(d.served.join("other.bin"), b"x").unwrap();
    std::fs::write(d.local.join("up.txt"), b"uploaded through the shell\n").unwrap();
    let server = start(&d.served, "epoll", &["--upload"]);
    let tmux = Tmux::new("netkit-files-test");
    // History goes to a state directory of the test's own.
    let state = d.local.join(".state");
    let shell = format!(
        "env XDG_STATE_HOME={} {} files shell {}",
        utf8(&state),
        netkit_bin(),
        addr(&server)
    );
    let local = d.local.to_str().unwrap();
    let started = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "shell",
        "-x",
        "150",
        "-y",
        "40",
        "-c",
        local,
        &shell,
    ]);
    assert!(started.status.success(), "{}", stderr(&started));
    tmux.wait_for("files:/>");

    // Tab completes the remote name from the listing the shell loaded.
    tmux.keys(&["get hel", "Tab"]);
    tmux.wait_for("get hello.txt");
    tmux.keys(&["Enter"]);
    tmux.wait_for("hello.txt → hello.txt");
    assert_eq!(
        std::fs::read(d.local.join("hello.txt")).unwrap(),
        b"hello from the server\n"
    );

    tmux.keys(&["put up.txt", "Enter"]);
    tmux.wait_for("verified");
    assert_eq!(
        std::fs::read(d.served.join("up.txt")).unwrap(),
        b"uploaded through the shell\n"
    );

    tmux.keys(&["get nope", "Enter"]);
    tmux.wait_for("not found on the server");
    tmux.keys(&["put up.txt", "Enter"]);
    tmux.wait_for("that name is taken on the server");
    tmux.keys(&["ls", "Enter"]);
    tmux.wait_for("3 file(s)");

    tmux.keys(&["quit", "Enter"]);
    eventually(LIMIT, "the shell exits", || {
        !tmux.cmd(&["has-session", "-t", "shell"]).status.success()
    });
    assert_eq!(server.terminate(), Some(0));
}
