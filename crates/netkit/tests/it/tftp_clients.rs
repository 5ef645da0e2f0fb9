//! `netkit tftp serve` against real TFTP clients nobody here wrote — curl,
//! tftp-hpa and atftp (installed by scripts/test.sh) — and against netkit's own
//! client: every size that sits on a block boundary, the option sets each
//! client is known for, netascii byte for byte, uploads, and a 40 MiB file at
//! 512-byte blocks whose block numbers roll over past 65535.

use crate::common;

use common::{netkit, random_bytes, wait_bounded, Dirs, Server};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The sizes the issue names: empty, around one block, two blocks, 1 MiB.
const SIZES: [usize; 6] = [0, 511, 512, 513, 1024, 1 << 20];

/// A client that takes longer than this is stuck.
const CLIENT_LIMIT: Duration = Duration::from_secs(120);

struct Setup {
    _dirs: Dirs,
    root: PathBuf,
    local: PathBuf,
    server: Server,
}

impl Setup {
    /// A served directory holding `size-N` for every size, and a server on it.
    fn new(extra: &[&str]) -> Setup {
        let dirs = Dirs::new();
        let (root, local) = (dirs.served.clone(), dirs.local.clone());
        for (i, size) in SIZES.iter().enumerate() {
            std::fs::write(
                root.join(format!("size-{size}")),
                random_bytes(i as u64, *size),
            )
            .unwrap();
            std::fs::write(
                local.join(format!("size-{size}")),
                random_bytes(100 + i as u64, *size),
            )
            .unwrap();
        }
        let root_arg = root.to_str().unwrap().to_owned();
        let mut args = vec![
            "tftp",
            "serve",
            &root_arg,
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
        ];
        args.extend_from_slice(extra);
        let server = Server::start(&args);
        Setup {
            _dirs: dirs,
            root,
            local,
            server,
        }
    }

    fn port(&self) -> String {
        self.server.addr().port().to_string()
    }

    fn url(&self, name: &str) -> String {
        format!("tftp://127.0.0.1:{}/{name}", self.port())
    }
}

/// Runs a client to completion (bounded), panicking with its output on failure.
fn run(mut cmd: Command) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let code = wait_bounded(&mut child, CLIENT_LIMIT);
    let out = child.wait_with_output().expect("client output");
    assert_eq!(
        code,
        Some(0),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_same(a: &Path, b: &Path) {
    let x = std::fs::read(a).unwrap_or_else(|e| panic!("{}: {e}", a.display()));
    let y = std::fs::read(b).unwrap_or_else(|e| panic!("{}: {e}", b.display()));
    assert!(
        x == y,
        "{} ({} bytes) differs from {} ({} bytes)",
        a.display(),
        x.len(),
        b.display(),
        y.len()
    );
}

fn curl_get(s: &Setup, extra: &[&str], tag: &str) {
    for size in SIZES {
        let name = format!("size-{size}");
        let out = s.local.join(format!("{tag}-{name}"));
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "100"])
            .args(extra)
            .arg("-o")
            .arg(&out)
            .arg(s.url(&name));
        run(cmd);
        assert_same(&s.root.join(&name), &out);
    }
}

#[test]
fn curl_downloads_at_default_options() {
    curl_get(&Setup::new(&[]), &[], "default");
}

#[test]
fn curl_downloads_with_blksize_1468() {
    curl_get(&Setup::new(&[]), &["--tftp-blksize", "1468"], "b1468");
}

#[test]
fn curl_downloads_with_blksize_65464() {
    curl_get(&Setup::new(&[]), &["--tftp-blksize", "65464"], "b65464");
}

#[test]
fn curl_downloads_without_options() {
    curl_get(&Setup::new(&[]), &["--tftp-no-options"], "noopt");
}

fn curl_put(s: &Setup, extra: &[&str], tag: &str) {
    for size in SIZES {
        let local = s.local.join(format!("size-{size}"));
        let name = format!("{tag}-up-{size}");
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "100"])
            .args(extra)
            .arg("-T")
            .arg(&local)
            .arg(s.url(&name));
        run(cmd);
        assert_same(&local, &s.root.join(&name));
    }
}

#[test]
fn curl_uploads_at_every_option_set() {
    let s = Setup::new(&["--upload"]);
    curl_put(&s, &[], "default");
    curl_put(&s, &["--tftp-no-options"], "noopt");
    curl_put(&s, &["--tftp-blksize", "1468"], "b1468");
    curl_put(&s, &["--tftp-blksize", "65464"], "b65464");
}

/// tftp-hpa: `get REMOTE LOCAL`, `put LOCAL REMOTE`.
fn tftp_hpa(s: &Setup, mode: &str, verb: &str, remote: &str, local: &Path) {
    let mut cmd = Command::new("tftp");
    cmd.args(["-m", mode, "127.0.0.1", &s.port(), "-c", verb]);
    if verb == "put" {
        cmd.arg(local).arg(remote);
    } else {
        cmd.arg(remote).arg(local);
    }
    run(cmd);
}

#[test]
fn tftp_hpa_binary_get_and_put() {
    let s = Setup::new(&["--upload"]);
    for size in SIZES {
        let name = format!("size-{size}");
        let out = s.local.join(format!("hpa-{name}"));
        tftp_hpa(&s, "binary", "get", &name, &out);
        assert_same(&s.root.join(&name), &out);
        let up = format!("hpa-up-{size}");
        tftp_hpa(&s, "binary", "put", &up, &s.local.join(&name));
        assert_same(&s.local.join(&name), &s.root.join(&up));
    }
}

/// Text with every case netascii must get right: LF, CR LF, a bare CR, a LF
/// whose CR LF straddles the 512-byte block boundary, a CR that ends a block,
/// and a CR as the very last byte.
fn tricky_text() -> Vec<u8> {
    let mut t = b"one\ntwo\r\nbare\rcr\n\n".to_vec();
    t.resize(511, b'x');
    t.push(b'\n'); // encoded CR at offset 511, LF at 512: split across blocks
    t.extend(std::iter::repeat_n(b'y', 510));
    t.push(b'\r'); // CR NUL split the same way
    t.extend_from_slice(b"tail\r\n\r");
    t
}

#[test]
fn tftp_hpa_ascii_round_trips_byte_for_byte() {
    let s = Setup::new(&["--upload"]);
    let text = tricky_text();
    std::fs::write(s.root.join("text.txt"), &text).unwrap();
    std::fs::write(s.local.join("text.txt"), &text).unwrap();
    let out = s.local.join("got.txt");
    tftp_hpa(&s, "ascii", "get", "text.txt", &out);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        text,
        "download decoded to the original"
    );
    tftp_hpa(&s, "ascii", "put", "up.txt", &s.local.join("text.txt"));
    assert_eq!(
        std::fs::read(s.root.join("up.txt")).unwrap(),
        text,
        "upload decoded to the original"
    );
}

fn atftp_get(s: &Setup, option: &str, tag: &str) {
    for size in SIZES {
        let name = format!("size-{size}");
        let out = s.local.join(format!("{tag}-{name}"));
        let mut cmd = Command::new("atftp");
        cmd.args(["--option", option, "-g", "-r", &name, "-l"])
            .arg(&out)
            .args(["127.0.0.1", &s.port()]);
        run(cmd);
        assert_same(&s.root.join(&name), &out);
    }
}

#[test]
fn atftp_windowsize_16() {
    atftp_get(&Setup::new(&[]), "windowsize 16", "w16");
}

#[test]
fn atftp_blksize_1468_get_and_put() {
    let s = Setup::new(&["--upload"]);
    atftp_get(&s, "blksize 1468", "b1468");
    let local = s.local.join(format!("size-{}", 1 << 20));
    let mut cmd = Command::new("atftp");
    cmd.args(["--option", "blksize 1468", "-p", "-r", "atftp-up", "-l"])
        .arg(&local)
        .args(["127.0.0.1", &s.port()]);
    run(cmd);
    assert_same(&local, &s.root.join("atftp-up"));
}

#[test]
fn forty_mib_at_512_byte_blocks_rolls_over() {
    let s = Setup::new(&["--upload"]);
    let big = random_bytes(40, 40 << 20);
    std::fs::write(s.root.join("big"), &big).unwrap();
    // curl asks for blksize 512 explicitly: 81,920 blocks, past 65,535.
    let out = s.local.join("big");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "110", "--tftp-blksize", "512", "-o"])
        .arg(&out)
        .arg(s.url("big"));
    run(cmd);
    assert_same(&s.root.join("big"), &out);
    // And the other way, through netkit's own client.
    let addr = s.server.addr().to_string();
    let mut cmd = netkit(&["tftp", "put", &addr]);
    cmd.arg(&out).arg("big-up");
    run(cmd);
    assert_same(&out, &s.root.join("big-up"));
}

#[test]
fn netkit_client_get_put_with_windows_and_netascii() {
    let s = Setup::new(&["--upload"]);
    let addr = s.server.addr().to_string();
    for size in SIZES {
        let name = format!("size-{size}");
        for (blk, win) in [("512", "1"), ("1468", "16"), ("65464", "4")] {
            let out = s.local.join(format!("nk-{blk}-{win}-{name}"));
            let mut cmd = netkit(&[
                "tftp",
                "get",
                &addr,
                &name,
                "--blksize",
                blk,
                "--windowsize",
                win,
            ]);
            cmd.arg(&out);
            run(cmd);
            assert_same(&s.root.join(&name), &out);
        }
        let up = format!("nk-up-{size}");
        let mut cmd = netkit(&["tftp", "put", &addr]);
        cmd.arg(s.local.join(&name))
            .args([&up, "--windowsize", "8"]);
        run(cmd);
        assert_same(&s.local.join(&name), &s.root.join(&up));
    }
    let text = tricky_text();
    std::fs::write(s.local.join("t.txt"), &text).unwrap();
    let mut cmd = netkit(&["tftp", "put", &addr]);
    cmd.arg(s.local.join("t.txt")).args(["--mode", "netascii"]);
    run(cmd);
    assert_eq!(std::fs::read(s.root.join("t.txt")).unwrap(), text);
    let mut cmd = netkit(&["tftp", "get", &addr, "t.txt", "--mode", "netascii"]);
    cmd.arg(s.local.join("t-back.txt"));
    run(cmd);
    assert_eq!(std::fs::read(s.local.join("t-back.txt")).unwrap(), text);
}

#[test]
fn netkit_client_reports_server_errors() {
    let s = Setup::new(&[]);
    let addr = s.server.addr().to_string();
    let out = netkit(&["tftp", "get", &addr, "missing", "--retries", "1"])
        .arg(s.local.join("missing"))
        .stderr(Stdio::piped())
        .output()
        .expect("run netkit");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error 1"), "{err}");
    assert!(
        !s.local.join("missing").exists(),
        "no partial file left behind"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&s.local)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn many_transfers_at_once_and_a_dead_client_holds_up_nobody() {
    let s = Setup::new(&[]);
    // A client that asks and then never ACKs: its transfer waits on timeouts.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    dead.send_to(b"\x00\x01size-1048576\x00octet\x00", s.server.addr())
        .unwrap();
    let name = format!("size-{}", 1 << 20);
    let children: Vec<_> = (0..12)
        .map(|i| {
            let out = s.local.join(format!("many-{i}"));
            let child = Command::new("curl")
                .args(["-sS", "--max-time", "100", "--tftp-blksize", "1468", "-o"])
                .arg(&out)
                .arg(s.url(&name))
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn curl");
            (child, out)
        })
        .collect();
    for (mut child, out) in children {
        assert_eq!(wait_bounded(&mut child, CLIENT_LIMIT), Some(0));
        assert_same(&s.root.join(&name), &out);
    }
}
