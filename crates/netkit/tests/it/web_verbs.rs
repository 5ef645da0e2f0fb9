//! The file-management verbs of `netkit http serve` end to end with curl:
//! PUT, MKCOL, DELETE (of a whole folder), MOVE and COPY with `Destination`
//! (a path or an absolute URL), under every model; refused without
//! `--upload`, only growing the share without `--overwrite`; a read-only
//! rule refusing every verb; destinations outside the share or on another
//! host; hidden names.

use crate::common;
use crate::http;

use common::{every_model, utf8, Server};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

fn share() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("a.txt", "alpha\n"),
        ("b.txt", "bravo\n"),
        ("d/x.txt", "x\n"),
        ("d/e/y.txt", "y\n"),
        (".env", "KEY\n"),
        ("local.txt", "uploaded\n"),
    ] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}

/// `curl -s -o /dev/null -w %{http_code} ARGS URL`: the status.
fn status(addr: SocketAddr, path: &str, args: &[&str]) -> u16 {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
        ])
        .args(args)
        .arg(format!("http://{addr}{path}"))
        .stdin(Stdio::null())
        .output()
        .expect("curl (installed by scripts/test.sh)");
    let code = String::from_utf8_lossy(&out.stdout);
    code.trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl {args:?} {path}: {code:?}"))
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn gone(dir: &Path, name: &str) -> bool {
    dir.join(name).symlink_metadata().is_err()
}

fn start(model: &str, dir: &Path, extra: &[&str]) -> Server {
    http::start_with(model, dir, extra, false)
}

/// Every verb, each success and refusal as curl sees it, under `model`.
fn every_verb_with_curl(model: &str) {
    let dir = share();
    let d = dir.path();
    let local = d.join("local.txt");
    let local = utf8(&local);
    let server = start(model, d, &["--upload", "--overwrite"]);
    let addr = server.addr();
    let url = |p: &str| format!("Destination: http://{addr}{p}");
    let to = |p: &str| format!("Destination: {p}");
    let cases: Vec<(&str, &str, Vec<String>, u16)> = vec![
        ("PUT", "/new.txt", vec!["-T".into(), local.into()], 201),
        ("PUT", "/new.txt", vec!["-T".into(), local.into()], 204),
        (
            "PUT",
            "/no/such/new.txt",
            vec!["-T".into(), local.into()],
            409,
        ),
        ("MKCOL", "/m/", vec![], 201),
        ("MKCOL", "/m/", vec![], 405),
        ("MKCOL", "/x/y/", vec![], 409),
        (
            "MKCOL",
            "/body/",
            vec!["--data-binary".into(), "<x/>".into()],
            415,
        ),
        ("COPY", "/a.txt", vec!["-H".into(), to("/m/a.txt")], 201),
        ("COPY", "/d/", vec!["-H".into(), url("/m/d/")], 201),
        (
            "COPY",
            "/b.txt",
            vec![
                "-H".into(),
                url("/a.txt"),
                "-H".into(),
                "Overwrite: F".into(),
            ],
            412,
        ),
        ("COPY", "/b.txt", vec!["-H".into(), url("/a.txt")], 204),
        (
            "COPY",
            "/d/",
            vec!["-H".into(), to("/d0/"), "-H".into(), "Depth: 0".into()],
            201,
        ),
        (
            "MOVE",
            "/m/a.txt",
            vec!["-H".into(), url("/moved%20here.txt")],
            201,
        ),
        (
            "MOVE",
            "/moved%20here.txt",
            vec!["-H".into(), to("/b.txt")],
            204,
        ),
        ("MOVE", "/d/", vec!["-H".into(), to("/d/e/d/")], 403),
        ("MOVE", "/d/", vec!["-H".into(), to("/d/")], 403),
        // Outside the share, or on another host.
        ("COPY", "/a.txt", vec!["-H".into(), to("/../a.txt")], 400),
        (
            "COPY",
            "/a.txt",
            vec!["-H".into(), to("/%2e%2e/a.txt")],
            400,
        ),
        (
            "COPY",
            "/a.txt",
            vec!["-H".into(), "Destination: http://example.com/a.txt".into()],
            502,
        ),
        (
            "MOVE",
            "/a.txt",
            vec![
                "-H".into(),
                format!("Destination: http://127.0.0.2:{}/a", addr.port()),
            ],
            502,
        ),
        // Hidden names are never written or taken.
        ("COPY", "/.env", vec!["-H".into(), to("/env")], 403),
        ("MOVE", "/a.txt", vec!["-H".into(), to("/.a")], 403),
        ("MKCOL", "/.git/", vec![], 403),
        ("DELETE", "/.env", vec![], 403),
        // DELETE: a file, a folder with everything in it.
        ("DELETE", "/new.txt", vec![], 204),
        ("DELETE", "/m/", vec![], 204),
        ("DELETE", "/m/", vec![], 404),
    ];
    for (verb, path, args, want) in &cases {
        let mut all: Vec<&str> = vec!["-X", verb];
        all.extend(args.iter().map(String::as_str));
        assert_eq!(
            status(addr, path, &all),
            *want,
            "{model}: {verb} {path} {args:?}"
        );
    }
    assert_eq!(read(d, "a.txt"), "bravo\n");
    assert_eq!(read(d, "b.txt"), "alpha\n");
    assert_eq!(read(d, "d/e/y.txt"), "y\n");
    assert!(
        std::fs::read_dir(d.join("d0")).unwrap().next().is_none(),
        "Depth: 0"
    );
    assert_eq!(read(d, ".env"), "KEY\n");
    for name in [
        "new.txt",
        "m",
        "body",
        "env",
        ".a",
        ".git",
        "moved here.txt",
    ] {
        assert!(gone(d, name), "{model}: {name}");
    }
    assert!(
        common::upload_temporaries(d).is_empty(),
        "{model}: temporaries left"
    );
    assert_eq!(server.terminate(), Some(0));
}

every_model!(every_verb_with_curl);

/// Without `--upload` nothing is written; with it but without
/// `--overwrite`, the share only grows.
#[test]
fn upload_and_overwrite_are_the_switches() {
    let dir = share();
    let d = dir.path();
    let dest = "Destination: /z.txt";
    let taken = "Destination: /b.txt";
    let server = start("thread", d, &[]);
    let addr = server.addr();
    for (verb, path, args) in [
        ("PUT", "/n.txt", vec!["--data-binary", "x"]),
        ("MKCOL", "/n/", vec![]),
        ("DELETE", "/a.txt", vec![]),
        ("DELETE", "/d/", vec![]),
        ("MOVE", "/a.txt", vec!["-H", dest]),
        ("COPY", "/a.txt", vec!["-H", dest]),
    ] {
        let all = [&["-X", verb][..], &args].concat();
        assert_eq!(status(addr, path, &all), 403, "no --upload: {verb} {path}");
    }
    assert_eq!(server.terminate(), Some(0));
    assert!(gone(d, "n.txt") && gone(d, "n") && gone(d, "z.txt"));

    let server = start("thread", d, &["--upload"]);
    let addr = server.addr();
    for (verb, path, args, want) in [
        ("PUT", "/a.txt", vec!["--data-binary", "x"], 409),
        ("DELETE", "/a.txt", vec![], 403),
        ("DELETE", "/d/", vec![], 403),
        ("MOVE", "/a.txt", vec!["-H", dest], 403),
        ("MOVE", "/a.txt", vec!["-H", taken], 412),
        ("COPY", "/a.txt", vec!["-H", taken], 412),
        (
            "COPY",
            "/a.txt",
            vec!["-H", taken, "-H", "Overwrite: T"],
            412,
        ),
        ("COPY", "/a.txt", vec!["-H", dest], 201),
        ("MKCOL", "/n/", vec![], 201),
    ] {
        let all = [&["-X", verb][..], &args].concat();
        assert_eq!(
            status(addr, path, &all),
            want,
            "--upload: {verb} {path} {args:?}"
        );
    }
    assert_eq!(server.terminate(), Some(0));
    assert_eq!(
        (read(d, "a.txt"), read(d, "b.txt")),
        ("alpha\n".into(), "bravo\n".into())
    );
    assert_eq!(read(d, "z.txt"), "alpha\n");
    assert!(d.join("n").is_dir() && d.join("d/e/y.txt").exists());
}

/// A read-only account is refused every verb; rules are checked on the
/// destination of MOVE and COPY too, and MOVE's source is a write.
#[test]
fn read_only_rules_refuse_every_verb() {
    let dir = share();
    let d = dir.path();
    std::fs::create_dir_all(d.join("drop")).unwrap();
    let rules = [
        "--upload",
        "--overwrite",
        "--auth",
        "bob:pw@/",
        "--auth",
        "alice:pw@/drop:rw",
    ];
    let server = start("thread", d, &rules);
    let addr = server.addr();
    let bob = ["-u", "bob:pw"];
    let alice = ["-u", "alice:pw"];
    for (verb, path, args) in [
        ("PUT", "/n.txt", vec!["--data-binary", "x"]),
        ("MKCOL", "/n/", vec![]),
        ("DELETE", "/a.txt", vec![]),
        ("DELETE", "/d/", vec![]),
        ("MOVE", "/a.txt", vec!["-H", "Destination: /z.txt"]),
        ("COPY", "/a.txt", vec!["-H", "Destination: /z.txt"]),
    ] {
        let all = [&bob[..], &["-X", verb], &args].concat();
        assert_eq!(status(addr, path, &all), 403, "bob: {verb} {path}");
    }
    // alice writes only in drop: a COPY into it works (she reads nothing
    // else, so only from it), a MOVE out of it is a write elsewhere.
    let args = |dest: &'static str| [&alice[..], &["-X", "COPY", "-H", dest]].concat();
    assert_eq!(
        status(addr, "/a.txt", &args("Destination: /drop/a.txt")),
        404
    );
    let local = d.join("local.txt");
    let put = [&alice[..], &["-T", utf8(&local)]].concat();
    assert_eq!(status(addr, "/drop/l.txt", &put), 201);
    assert_eq!(
        status(addr, "/drop/l.txt", &args("Destination: /drop/l2.txt")),
        201
    );
    assert_eq!(
        status(addr, "/drop/l.txt", &args("Destination: /l3.txt")),
        403
    );
    let mv = [&alice[..], &["-X", "MOVE", "-H", "Destination: /l4.txt"]].concat();
    assert_eq!(status(addr, "/drop/l.txt", &mv), 403);
    assert_eq!(server.terminate(), Some(0));
    assert!(
        gone(d, "n.txt")
            && gone(d, "n")
            && gone(d, "z.txt")
            && gone(d, "l3.txt")
            && gone(d, "l4.txt")
    );
    assert_eq!(read(d, "drop/l2.txt"), "uploaded\n");
    assert!(d.join("a.txt").exists() && d.join("d/e/y.txt").exists());
}

/// litmus (the WebDAV conformance suite, a client nobody here wrote) runs its
/// `basic` and `copymove` suites against `http serve --upload --overwrite`:
/// every test passes but `basic`'s `options`, which asks for the `DAV:`
/// header of the WebDAV layer built on these verbs.
#[test]
fn litmus_basic_and_copymove() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap(); // litmus writes its logs here
    let server = start("epoll", dir.path(), &["--upload", "--overwrite"]);
    let mut cmd = Command::new("litmus");
    cmd.arg("-k")
        .arg(format!("http://{}/", server.addr()))
        .env("TESTS", "basic copymove")
        .current_dir(work.path());
    let (code, out, err) = common::run_bounded(cmd, std::time::Duration::from_secs(120));
    assert_eq!(server.terminate(), Some(0));
    let failed: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("FAIL") || l.contains("WARNING"))
        .collect();
    let allowed = |l: &&str| l.contains(". options.") && l.contains("does not claim WebDAV");
    assert!(
        failed.iter().all(allowed),
        "litmus: {failed:?}\n{out}\n{err}"
    );
    assert!(
        out.contains("summary for `copymove': of 13 tests run: 13 passed, 0 failed"),
        "{out}"
    );
    assert!(
        out.contains("summary for `basic': of 16 tests run: 15 passed")
            || out.contains("summary for `basic': of 16 tests run: 16 passed"),
        "{out}"
    );
    assert!(code.is_some(), "litmus finished: {out}");
}
