//! TLS end to end with real clients: curl verifying a certificate made in the
//! test (`--cacert`) and skipping verification of `--tls`'s own (`-k`);
//! `openssl s_client` refused at TLS 1.1 and served at 1.2 and 1.3; the
//! fingerprint on stderr equal to the one openssl computes from what the
//! server sent; clear exit codes for missing, broken or mismatched files; a
//! client speaking plain HTTP to the TLS port turned away without harming the
//! next; a client that never starts the handshake closed at its deadline; and Chromium loading `up --tls`'s page over https.

use crate::common::{self, local_args, netkit, run_bounded, up_addrs, up_args, utf8, Server};
use crate::tls_support::TestCert;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// A served folder with `a.txt`.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "over tls\n").unwrap();
    dir
}

/// `netkit ARGS` with stderr read line by line (for the fingerprint).
fn start_with_stderr(args: &[&str]) -> (Server, mpsc::Receiver<String>) {
    let mut cmd = netkit(args);
    cmd.stderr(Stdio::piped());
    let mut server = Server::start_cmd(cmd);
    let stderr = server.child.stderr.take().expect("piped stderr");
    (server, common::spawn_line_reader(stderr))
}

/// The fingerprint a server printed on stderr (printed before its ready line).
fn printed_fingerprint(stderr: &mpsc::Receiver<String>) -> String {
    for _ in 0..20 {
        let line = stderr
            .recv_timeout(LIMIT)
            .expect("a fingerprint line on stderr");
        if let Some(fp) = line.strip_prefix("tls: certificate SHA-256 fingerprint ") {
            return fp.trim().to_owned();
        }
    }
    panic!("no fingerprint line on stderr");
}

fn curl(args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "20"])
        .args(args)
        .stdin(Stdio::null());
    run_bounded(cmd, LIMIT)
}

/// `openssl s_client` to `port` with `flags`, stdin closed at once: its
/// stdout (the handshake's report and the server's certificate).
fn s_client(port: u16, flags: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(flags)
        .stdin(Stdio::null());
    run_bounded(cmd, LIMIT)
}

#[test]
fn curl_verifies_a_certificate_made_in_the_test() {
    let dir = folder();
    let cert = TestCert::new();
    let mut args: Vec<String> = local_args(&["http", "serve", utf8(dir.path())], "epoll")
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(cert.flags());
    let server = Server::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let url = format!("{}/a.txt", server.url);
    let (code, body, err) = curl(&["--cacert", utf8(&cert.cert()), &url]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(body, "over tls\n");
    // Without the certificate curl refuses (60: peer certificate cannot be
    // authenticated): the verification above was real.
    let (code, _, _) = curl(&[&url]);
    assert_eq!(code, Some(60));
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn tls_alone_makes_a_certificate_whose_fingerprint_openssl_sees() {
    let dir = folder();
    let args = local_args(&["http", "serve", utf8(dir.path()), "--tls"], "epoll");
    let (server, stderr) = start_with_stderr(&args);
    let printed = printed_fingerprint(&stderr);
    let port = server.addr().port();
    let (code, body, err) = curl(&["-k", &format!("https://127.0.0.1:{port}/a.txt")]);
    assert_eq!((code, body.as_str()), (Some(0), "over tls\n"), "{err}");

    let (_, seen, _) = s_client(port, &[]);
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl x509");
    x509.stdin
        .take()
        .unwrap()
        .write_all(seen.as_bytes())
        .unwrap();
    let mut out = String::new();
    x509.stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(x509.wait().unwrap().success());
    // "sha256 Fingerprint=AB:CD:…" (OpenSSL 3) or "SHA256 Fingerprint=…".
    let openssl = out.trim().rsplit('=').next().unwrap().to_owned();
    assert_eq!(printed, openssl);
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn openssl_is_refused_at_tls_1_1_and_served_at_1_2_and_1_3() {
    let dir = folder();
    let args = local_args(&["files", "serve", utf8(dir.path()), "--tls"], "epoll");
    let server = Server::start(&args);
    assert!(server.url.starts_with("tls://"), "{}", server.url);
    let port = server.addr().port();
    // SECLEVEL=0 lets OpenSSL 3 offer TLS 1.1 at all: the refusal is the server's.
    let (code, out, err) = s_client(port, &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(
        err.contains("alert") || err.contains("handshake failure"),
        "{err}"
    );
    for (flag, version) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let (code, out, err) = s_client(port, &[flag]);
        assert_eq!(code, Some(0), "{flag}: {err}");
        assert!(
            out.contains(&format!("New, {version}, Cipher is")),
            "{flag}: {out}"
        );
    }
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn plain_http_to_the_tls_port_is_turned_away_and_others_are_served() {
    let dir = folder();
    let args = local_args(&["http", "serve", utf8(dir.path()), "--tls"], "epoll");
    let server = Server::start(&args);
    let mut plain = common::connect(server.addr(), LIMIT);
    plain
        .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    // The server answers with an alert at most, then closes (EOF, or a reset).
    let _ = plain.read_to_end(&mut reply);
    assert!(
        !String::from_utf8_lossy(&reply).contains("HTTP/1.1"),
        "{reply:?}"
    );
    let url = format!("https://127.0.0.1:{}/a.txt", server.addr().port());
    let (code, body, err) = curl(&["-k", &url]);
    assert_eq!((code, body.as_str()), (Some(0), "over tls\n"), "{err}");
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn a_client_that_never_starts_the_handshake_is_closed() {
    let dir = folder();
    let args = local_args(&["files", "serve", utf8(dir.path()), "--tls"], "epoll");
    let server = Server::start(&args);
    let mut silent = common::connect(server.addr(), LIMIT);
    let mut got = Vec::new();
    // The handshake deadline (10 s) closes it, long before the idle time-out
    // (300 s) or this read's limit.
    let n = silent.read_to_end(&mut got).expect("closed, not timed out");
    assert_eq!(n, 0, "nothing is sent to a client that said nothing");
    assert_eq!(server.terminate(), Some(0));
}

#[test]
fn certificate_files_that_are_missing_broken_or_mismatched_are_clear_errors() {
    let dir = folder();
    let (cert, other) = (TestCert::new(), TestCert::new());
    let run = |extra: &[&str]| {
        let mut args = local_args(&["http", "serve", utf8(dir.path())], "epoll");
        args.extend_from_slice(extra);
        run_bounded(netkit(&args), LIMIT)
    };
    let (c, k) = (utf8(&cert.cert()).to_owned(), utf8(&cert.key()).to_owned());
    let missing = dir.path().join("nope.pem");
    let missing = utf8(&missing);

    let (code, _, err) = run(&["--tls-cert", &c]);
    assert_eq!(code, Some(2), "--tls-cert needs --tls-key: {err}");
    let (code, _, err) = run(&["--tls", "--tls-cert", &c, "--tls-key", &k]);
    assert_eq!(code, Some(2), "--tls or files, not both: {err}");
    let (code, _, err) = run(&["--tls-cert", missing, "--tls-key", &k]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--tls-cert") && err.contains("nope.pem"),
        "{err}"
    );
    let (code, _, err) = run(&["--tls-cert", &c, "--tls-key", &c]);
    assert_eq!(code, Some(1), "a certificate is no key: {err}");
    assert!(err.contains("--tls-key"), "{err}");
    let (code, _, err) = run(&["--tls-cert", &c, "--tls-key", utf8(&other.key())]);
    assert_eq!(code, Some(1), "another certificate's key: {err}");
    assert!(err.contains("does not fit"), "{err}");
}

#[test]
fn up_serves_the_page_and_files_over_tls_and_shows_the_fingerprint() {
    use crate::tls_support::{line, send};
    let dir = folder();
    let cert = TestCert::new();
    let mut args: Vec<String> = up_args(utf8(dir.path()), &["--no-chat", "--no-irc"])
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(cert.flags());
    let server = Server::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let next = || server.lines.recv_timeout(LIMIT).expect("a line from up");
    let files = next();
    let files = files
        .strip_prefix("files listening on tls://")
        .unwrap_or_else(|| panic!("files over TLS: {files}"))
        .parse()
        .expect("an address");
    // openssl's form of the certificate's SHA-256.
    let hex = common::sha(&cert.der).to_uppercase();
    let pairs: Vec<&str> = (0..32).map(|i| &hex[2 * i..2 * i + 2]).collect();
    let fingerprint = pairs.join(":");
    let banner: Vec<String> = (0..40)
        .map(|_| next())
        .take_while(|l| !l.starts_with("Ctrl-C"))
        .collect();
    assert!(
        banner.iter().any(|l| l.trim() == fingerprint),
        "{banner:#?}"
    );
    assert!(banner.iter().any(|l| l.contains("https://")), "{banner:#?}");

    let mut conn = cert.connect(files);
    send(&mut conn, b"LIST\n");
    assert_eq!(line(&mut conn), "OK 1");
    assert!(line(&mut conn).ends_with(" a.txt"));
    let url = format!("{}/a.txt", server.url);
    let (code, body, err) = curl(&["--cacert", utf8(&cert.cert()), &url]);
    assert_eq!((code, body.as_str()), (Some(0), "over tls\n"), "{err}");
    assert_eq!(server.terminate(), Some(0));
}

#[tokio::test(flavor = "current_thread")]
async fn chromium_loads_the_up_page_over_https() {
    use crate::up_browser::{browser_with, Driver};
    use fantoccini::Locator;
    let dir = tempfile::tempdir().unwrap();
    let (shared, profile) = (dir.path().join("shared"), dir.path().join("profile"));
    for d in [&shared, &profile] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(shared.join("notes.txt"), "bring snacks\n").unwrap();
    let args = up_args(utf8(&shared), &["--tls", "--no-chat", "--no-irc"]);
    let (server, stderr) = start_with_stderr(&args);
    let printed = printed_fingerprint(&stderr);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let http = up_addrs(&server)
        .into_iter()
        .find(|(name, _)| name == "http")
        .expect("http address")
        .1;

    let driver = Driver::start();
    let c = browser_with(
        &driver,
        &profile,
        &profile,
        &["--ignore-certificate-errors"],
    )
    .await;
    c.goto(&format!("https://127.0.0.1:{}/", http.port()))
        .await
        .unwrap();
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("a.file[data-name='notes.txt']"))
        .await
        .expect("the page lists notes.txt over https");
    assert!(c
        .current_url()
        .await
        .unwrap()
        .as_str()
        .starts_with("https://"));
    let footer = c.find(Locator::Css("#clients")).await.unwrap();
    let shown = footer.text().await.unwrap();
    assert!(
        shown.contains(&printed),
        "the page shows the fingerprint: {shown}"
    );
    c.close().await.unwrap();
    drop(driver);
    assert_eq!(server.terminate(), Some(0));
}

/// The browser logs in to `up --tls --auth` over https: the login route asks
/// for credentials (given in the URL, as a user types them at the prompt),
/// then the page says who is logged in and lists what the rule grants.
#[tokio::test(flavor = "current_thread")]
async fn chromium_logs_in_to_the_up_page_over_https() {
    use crate::up_browser::{browser_with, eventually, text_of, Driver};
    use fantoccini::Locator;
    let dir = tempfile::tempdir().unwrap();
    let (shared, profile) = (dir.path().join("shared"), dir.path().join("profile"));
    for d in [&shared, &profile] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(shared.join("plans.txt"), "members only\n").unwrap();
    let args = up_args(
        utf8(&shared),
        &[
            "--tls",
            "--no-chat",
            "--no-irc",
            "--auth",
            "alice:wonderland@/",
        ],
    );
    let (server, stderr) = start_with_stderr(&args);
    let _ = printed_fingerprint(&stderr);
    let http = up_addrs(&server)
        .into_iter()
        .find(|(name, _)| name == "http")
        .expect("http address")
        .1;
    let driver = Driver::start();
    let c = browser_with(
        &driver,
        &profile,
        &profile,
        &["--ignore-certificate-errors"],
    )
    .await;
    c.goto(&format!(
        "https://alice:wonderland@127.0.0.1:{}/_netkit/login?to=/",
        http.port()
    ))
    .await
    .unwrap();
    eventually("the page to show alice", || async {
        (text_of(&c, "#who-user").await == "alice").then_some(())
    })
    .await;
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("a.file[data-name='plans.txt']"))
        .await
        .expect("alice sees plans.txt over https");
    assert!(c
        .current_url()
        .await
        .unwrap()
        .as_str()
        .starts_with("https://"));
    c.close().await.unwrap();
    drop(driver);
    assert_eq!(server.terminate(), Some(0));
}
