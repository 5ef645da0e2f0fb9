//! Real clients against `netkit http serve`: curl and wget download
//! byte-exact (a 100 MiB file too), `curl -C -` resumes a partial download
//! with a Range request, `curl -T` uploads; and `--max-connections` turns
//! the connection over the limit away with a 503. curl and wget are installed
//! by scripts/test.sh.

use crate::common;
use crate::http;

use http::{connect, fixture, parse_all, read_to_close, start};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

const BIG: u64 = 100 << 20;

/// Writes a 100 MiB file quickly: each MiB is a distinct shift of one
/// pattern, so a misplaced block or a wrong offset shows.
fn write_big(path: &Path) {
    let block = http::pattern(1 << 20);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..(BIG >> 20) as usize {
        f.write_all(&block[i % 251..]).unwrap();
        f.write_all(&block[..i % 251]).unwrap();
    }
    f.flush().unwrap();
}

/// Compares two files a MiB at a time.
fn assert_same_file(a: &Path, b: &Path) {
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    assert_eq!(
        fa.metadata().unwrap().len(),
        fb.metadata().unwrap().len(),
        "{a:?} vs {b:?}: sizes"
    );
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut offset = 0u64;
    loop {
        let n = fa.read(&mut ba).unwrap();
        if n == 0 {
            return;
        }
        fb.read_exact(&mut bb[..n]).unwrap();
        assert!(
            ba[..n] == bb[..n],
            "{a:?} vs {b:?}: differ in the MiB at {offset}"
        );
        offset += n as u64;
    }
}

fn run(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("run client (installed by scripts/test.sh)");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// curl and wget download byte-exact, resume and upload.
fn curl_and_wget(model: &str) {
    curl_and_wget_files(model, false)
}

/// The same with a 100 MiB file among them.
fn curl_and_wget_100_mib(model: &str) {
    curl_and_wget_files(model, true)
}

/// The downloads, resume and upload, with `big.bin` (100 MiB) when `big`.
fn curl_and_wget_files(model: &str, big: bool) {
    let dir = fixture();
    if big {
        write_big(&dir.path().join("big.bin"));
    }
    let server = start(model, dir.path(), &["--upload"]);
    let base = format!("http://{}", server.addr());
    let local = tempfile::tempdir().unwrap();
    let l = local.path();

    run(Command::new("curl")
        .args(["-sSf", "-o"])
        .arg(l.join("c.bin"))
        .arg(format!("{base}/data.bin")));
    assert_same_file(&dir.path().join("data.bin"), &l.join("c.bin"));
    run(Command::new("wget")
        .args(["-q", "-O"])
        .arg(l.join("w.bin"))
        .arg(format!("{base}/data.bin")));
    assert_same_file(&dir.path().join("data.bin"), &l.join("w.bin"));

    // Resume: a partial copy of the first 12,345 bytes, completed with -C -.
    let original = std::fs::read(dir.path().join("data.bin")).unwrap();
    std::fs::write(l.join("part.bin"), &original[..12_345]).unwrap();
    run(Command::new("curl")
        .args(["-sSf", "-C", "-", "-o"])
        .arg(l.join("part.bin"))
        .arg(format!("{base}/data.bin")));
    assert_same_file(&dir.path().join("data.bin"), &l.join("part.bin"));

    // Upload with -T: a PUT of the file; it appears complete under its name.
    std::fs::write(l.join("up.txt"), http::pattern(300_000)).unwrap();
    run(Command::new("curl")
        .args(["-sSf", "-T"])
        .arg(l.join("up.txt"))
        .arg(format!("{base}/uploaded.txt")));
    assert_same_file(&l.join("up.txt"), &dir.path().join("uploaded.txt"));
    // Again: the file exists, so curl -f fails with 409.
    let again = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-T"])
        .arg(l.join("up.txt"))
        .arg(format!("{base}/uploaded.txt"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&again.stdout), "409");

    if big {
        let src = dir.path().join("big.bin");
        run(Command::new("curl")
            .args(["-sSf", "-o"])
            .arg(l.join("big-c.bin"))
            .arg(format!("{base}/big.bin")));
        assert_same_file(&src, &l.join("big-c.bin"));
        std::fs::remove_file(l.join("big-c.bin")).unwrap();
        run(Command::new("wget")
            .args(["-q", "-O"])
            .arg(l.join("big-w.bin"))
            .arg(format!("{base}/big.bin")));
        assert_same_file(&src, &l.join("big-w.bin"));
        // Resume the big one from its middle.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(l.join("big-w.bin"))
            .unwrap();
        f.set_len(BIG / 2 + 17).unwrap();
        run(Command::new("curl")
            .args(["-sSf", "-C", "-", "-o"])
            .arg(l.join("big-w.bin"))
            .arg(format!("{base}/big.bin")));
        assert_same_file(&src, &l.join("big-w.bin"));
    }
    assert_eq!(server.terminate(), Some(0));
}

fn max_connections(model: &str) {
    let dir = fixture();
    let server = start(model, dir.path(), &["--max-connections", "1"]);
    let addr = server.addr();
    let mut first = connect(addr);
    first
        .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !http::text(&got).ends_with("hello, world\n") {
        let n = first.read(&mut buf).unwrap();
        assert!(n > 0, "{model}: first connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    // The first connection is open and idle: a second one is over the limit.
    let mut second = connect(addr);
    let _ = second.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let raw = read_to_close(&mut second);
    assert_eq!(parse_all(&raw, &[])[0].status, 503, "{model}");
    drop(first);
    // Once it is gone, a new connection is served (the count may lag the
    // close by a moment: retry a bounded number of times).
    let served = (0..100).any(|_| {
        let raw = http::exchange(
            addr,
            b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        let ok = parse_all(&raw, &[])
            .first()
            .is_some_and(|r| r.status == 200);
        if !ok {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        ok
    });
    assert!(
        served,
        "{model}: never served after the first connection left"
    );
    assert_eq!(server.terminate(), Some(0));
}

/// SIGTERM while a download is in flight: the transfer finishes, then the
/// server exits 0.
fn sigterm_lets_a_download_finish(model: &str) {
    let dir = fixture();
    std::fs::write(dir.path().join("20m.bin"), http::pattern(20 << 20)).unwrap();
    let server = start(model, dir.path(), &[]);
    let mut s = connect(server.addr());
    s.write_all(b"GET /20m.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 1024];
    s.read_exact(&mut first).expect("the download started");
    common::signal(&server.child, "TERM");
    let mut rest = read_to_close(&mut s);
    let mut all = first.to_vec();
    all.append(&mut rest);
    let r = parse_all(&all, &[]).pop().expect("a reply");
    assert_eq!((r.status, r.body.len()), (200, 20 << 20), "{model}");
    assert!(r.body == http::pattern(20 << 20), "{model}: byte-exact");
    assert_eq!(server.terminate(), Some(0));
}

common::every_model! {
    curl_and_wget: [iterative, thread, pool, select, poll, epoll, r#async],
    curl_and_wget_100_mib: [fork, thread, epoll],
    max_connections: [thread, pool, fork, select, poll, epoll, r#async],
    sigterm_lets_a_download_finish,
}
