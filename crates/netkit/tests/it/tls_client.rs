//! The TLS clients end to end, against a TLS front this test controls:
//! socat (`OPENSSL-LISTEN`, OpenSSL's server) with certificates made here by
//! rcgen, forwarding to a plain `netkit files serve` / `http serve`.
//! `files ls --cacert` (right and wrong CA), `--fingerprint` (right and wrong
//! pin, with the pin the server presented in the error), `--insecure` (works,
//! warns), `--tls` against a self-signed certificate (unknown issuer),
//! `files get`/`put`/`shell` byte-exact, and `bench load https://` counting requests
//! and handshakes (resumed, or full with `--no-tls-resume`).

use crate::common;

use common::{
    netkit, random_bytes, read_all_on_a_thread, run_netkit, spawn_line_reader, utf8, wait_bounded,
    Dirs, Server, READY_TIMEOUT,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// The names the test certificates are made for.
const NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// Certificates and keys, as PEM files in a temporary directory.
struct Certs {
    _dir: tempfile::TempDir,
    /// A CA, and a server certificate it signed (chain: leaf then CA).
    ca: PathBuf,
    signed_chain: PathBuf,
    signed_key: PathBuf,
    /// A CA that signed nothing here.
    other_ca: PathBuf,
    /// A self-signed server certificate (not a CA), as `--tls` servers make.
    self_signed: PathBuf,
    self_signed_key: PathBuf,
    /// Its SHA-256 fingerprint, `AB:CD:…`.
    self_signed_fp: String,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a PEM file");
    path
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA")
}

fn certs() -> Certs {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();

    let authority = ca("netkit test CA");
    let key = KeyPair::generate().expect("server key");
    let leaf = CertificateParams::new(names.clone())
        .expect("server params")
        .signed_by(&key, &authority)
        .expect("sign the server certificate");
    let signed_chain = write(d, "chain.pem", &(leaf.pem() + &authority.pem()));
    let signed_key = write(d, "chain.key", &key.serialize_pem());

    let own = rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
    let fp: Vec<String> = Sha256::digest(own.cert.der())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    Certs {
        ca: write(d, "ca.pem", &authority.pem()),
        other_ca: write(d, "other-ca.pem", &ca("someone else").pem()),
        signed_chain,
        signed_key,
        self_signed: write(d, "self.pem", &own.cert.pem()),
        self_signed_key: write(d, "self.key", &own.signing_key.serialize_pem()),
        self_signed_fp: fp.join(":"),
        _dir: dir,
    }
}

/// A socat TLS front on 127.0.0.1, killed when dropped.
struct TlsFront {
    child: Child,
    addr: SocketAddr,
}

impl TlsFront {
    /// `socat -d -d OPENSSL-LISTEN:0,… TCP:to`, ready once socat's notice
    /// names the port it listens on (after listen(2), so connects succeed).
    fn start(cert: &Path, key: &Path, to: SocketAddr) -> TlsFront {
        let listen = format!(
            "OPENSSL-LISTEN:0,bind=127.0.0.1,reuseaddr,fork,cert={},key={},verify=0",
            utf8(cert),
            utf8(key)
        );
        let mut child = Command::new("socat")
            .args(["-d", "-d", &listen, &format!("TCP:{to}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("socat is required: apt-get install -y socat");
        let lines = spawn_line_reader(child.stderr.take().expect("piped stderr"));
        let started = Instant::now();
        let addr = loop {
            let left = READY_TIMEOUT.saturating_sub(started.elapsed());
            let Ok(line) = lines.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("socat printed no 'listening on' line within {READY_TIMEOUT:?}");
            };
            if let Some((_, at)) = line.split_once("listening on AF=2 ") {
                break at.trim().parse().expect("socat's listening address");
            }
        };
        // Keep draining socat's notices so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        TlsFront { child, addr }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn files_server(dir: &Path) -> Server {
    Server::start(&[
        "files",
        "serve",
        utf8(dir),
        "-b",
        "127.0.0.1",
        "-p",
        "0",
        "--upload",
        "--quiet",
    ])
}

/// `netkit files ls ADDR EXTRA…`: (exit code, stdout, stderr).
fn ls(addr: SocketAddr, extra: &[&str]) -> common::Output {
    let addr = addr.to_string();
    let mut args = vec!["files", "ls", &addr];
    args.extend_from_slice(extra);
    run_netkit(&args)
}

#[test]
fn files_ls_checks_the_certificate_as_asked() {
    let c = certs();
    let d = Dirs::new();
    std::fs::write(d.served.join("hello.txt"), b"hello\n").unwrap();
    let server = files_server(&d.served);
    let by_ca = TlsFront::start(&c.signed_chain, &c.signed_key, server.addr());
    let self_signed = TlsFront::start(&c.self_signed, &c.self_signed_key, server.addr());
    let listed = |o: &common::Output| o.code == Some(0) && o.stdout.contains("hello.txt");

    // --cacert: the CA that signed it, then one that did not.
    let ok = ls(by_ca.addr, &["--cacert", utf8(&c.ca)]);
    assert!(listed(&ok), "{}", ok.stderr);
    let wrong = ls(by_ca.addr, &["--cacert", utf8(&c.other_ca)]);
    assert_eq!(wrong.code, Some(1), "{}", wrong.stdout);
    assert!(wrong.stderr.contains("TLS handshake"), "{}", wrong.stderr);
    assert!(wrong.stdout.is_empty(), "{}", wrong.stdout);

    // --fingerprint: any case, with or without colons; a wrong pin names
    // the one the server presented.
    let fp = &c.self_signed_fp;
    let bare = fp.replace(':', "").to_ascii_lowercase();
    for pin in [fp.as_str(), bare.as_str()] {
        let ok = ls(self_signed.addr, &["--fingerprint", pin]);
        assert!(listed(&ok), "{pin}: {}", ok.stderr);
    }
    let wrong_pin = "00".repeat(32);
    let wrong = ls(self_signed.addr, &["--fingerprint", &wrong_pin]);
    assert_eq!(wrong.code, Some(1), "{}", wrong.stdout);
    assert!(wrong.stderr.contains(fp.as_str()), "{}", wrong.stderr);
    assert_eq!(wrong.stderr.trim().lines().count(), 1, "{}", wrong.stderr);
    // The pin skips names: the CA-signed front is refused by pin, not name.
    let other = ls(by_ca.addr, &["--fingerprint", fp]);
    assert_eq!(other.code, Some(1), "{}", other.stdout);

    // --insecure: works, and says what it gives up.
    let insecure = ls(self_signed.addr, &["--insecure"]);
    assert!(listed(&insecure), "{}", insecure.stderr);
    assert!(
        insecure.stderr.contains("warning") && insecure.stderr.contains("not checked"),
        "{}",
        insecure.stderr
    );

    // --tls: the system's roots do not know a self-signed certificate.
    let unknown = ls(self_signed.addr, &["--tls"]);
    assert_eq!(unknown.code, Some(1), "{}", unknown.stdout);
    assert!(
        unknown
            .stderr
            .contains("not signed by an authority trusted here"),
        "{}",
        unknown.stderr
    );

    // A client that speaks plain TCP to the TLS front gets no listing; a TLS
    // client at a plain server is told what is likely wrong.
    let plain = ls(self_signed.addr, &[]);
    assert_ne!(plain.code, Some(0), "{}", plain.stdout);
    let not_tls = ls(server.addr(), &["--insecure"]);
    assert_eq!(not_tls.code, Some(1), "{}", not_tls.stdout);
    assert!(
        not_tls.stderr.contains("is the server speaking TLS?"),
        "{}",
        not_tls.stderr
    );
}

#[test]
fn files_get_and_put_are_byte_exact_over_tls() {
    let c = certs();
    let d = Dirs::new();
    let server = files_server(&d.served);
    let front = TlsFront::start(&c.signed_chain, &c.signed_key, server.addr());
    let addr = front.addr.to_string();
    let ca = utf8(&c.ca);
    // Several TLS records and reads, and a size that is no multiple of them.
    let data = random_bytes(18, 5_000_017);
    let local = d.local.join("up.bin");
    std::fs::write(&local, &data).unwrap();

    let put = run_netkit(&["files", "put", &addr, utf8(&local), "--cacert", ca]);
    assert_eq!(put.code, Some(0), "{}", put.stderr);
    assert!(
        std::fs::read(d.served.join("up.bin")).unwrap() == data,
        "the upload differs"
    );

    let back = d.local.join("back.bin");
    let get = run_netkit(&["files", "get", &addr, "up.bin", utf8(&back), "--cacert", ca]);
    assert_eq!(get.code, Some(0), "{}", get.stderr);
    assert!(
        std::fs::read(&back).unwrap() == data,
        "the download differs"
    );

    // Resuming a partial file over TLS: SUM, then GET from an offset.
    std::fs::write(&back, &data[..1_234_567]).unwrap();
    let resumed = run_netkit(&[
        "files",
        "get",
        &addr,
        "up.bin",
        utf8(&back),
        "--resume",
        "--json",
        "--cacert",
        ca,
    ]);
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    let summary: serde_json::Value = serde_json::from_str(&resumed.stdout).unwrap();
    assert_eq!(summary["offset"], 1_234_567, "{}", resumed.stdout);
    assert!(
        std::fs::read(&back).unwrap() == data,
        "the resumed file differs"
    );

    // The shell keeps one TLS connection for a put, a get and a listing.
    let mut shell = netkit(&["files", "shell", &addr, "--cacert", ca]);
    shell.current_dir(&d.local).stdin(Stdio::piped());
    let mut child = shell.spawn().expect("spawn files shell");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(b"put up.bin again.bin\nget again.bin third.bin\nls\nquit\n")
        .unwrap();
    drop(stdin);
    let out = read_all_on_a_thread(child.stdout.take().expect("piped stdout"));
    assert_eq!(wait_bounded(&mut child, READY_TIMEOUT), Some(0));
    let out = out.join().expect("shell output");
    assert!(out.contains("2 file(s)"), "{out}");
    assert!(std::fs::read(d.served.join("again.bin")).unwrap() == data);
    assert!(std::fs::read(d.local.join("third.bin")).unwrap() == data);
}

#[test]
fn bench_load_https_counts_requests_and_handshakes() {
    let c = certs();
    let d = Dirs::new();
    std::fs::write(d.served.join("small"), [b'x'; 100]).unwrap();
    let http = Server::start(&[
        "http",
        "serve",
        utf8(&d.served),
        "-b",
        "127.0.0.1",
        "-p",
        "0",
        "--quiet",
    ]);
    let front = TlsFront::start(&c.self_signed, &c.self_signed_key, http.addr());
    let url = format!("https://{}/small", front.addr);
    let json = |o: &common::Output| -> serde_json::Value {
        assert_eq!(o.code, Some(0), "{}", o.stderr);
        serde_json::from_str(&o.stdout).expect("bench load --json")
    };

    let keep_alive = json(&run_netkit(&[
        "bench",
        "load",
        &url,
        "--insecure",
        "-d",
        "1s",
        "-c",
        "2",
        "-t",
        "1",
        "--json",
    ]));
    assert!(keep_alive["requests"].as_u64().unwrap() > 0, "{keep_alive}");
    assert_eq!(keep_alive["errors"]["tls"], 0, "{keep_alive}");
    let handshakes = keep_alive["tls_handshakes"].as_u64().unwrap();
    assert!((1..=2).contains(&handshakes), "{keep_alive}");

    // A connection per request: a handshake per request.
    let close = json(&run_netkit(&[
        "bench",
        "load",
        &url,
        "--fingerprint",
        &c.self_signed_fp,
        "--close",
        "-n",
        "8",
        "-c",
        "2",
        "-t",
        "1",
        "--json",
    ]));
    assert_eq!(close["requests"], 8, "{close}");
    assert_eq!(close["tls_handshakes"], 8, "{close}");
    // The first connections' tickets let later ones resume, as wrk's do.
    assert!(close["tls_resumed"].as_u64().unwrap() >= 1, "{close}");
    let full = json(&run_netkit(&[
        "bench",
        "load",
        &url,
        "--insecure",
        "--close",
        "--no-tls-resume",
        "-n",
        "4",
        "-c",
        "1",
        "--json",
    ]));
    assert_eq!(full["tls_handshakes"], 4, "{full}");
    assert_eq!(full["tls_resumed"], 0, "{full}");

    // No flag: the system's roots, which refuse it; the reason is printed.
    let refused = run_netkit(&["bench", "load", &url, "-n", "4", "-c", "1", "--json"]);
    assert_eq!(refused.code, Some(1), "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("not signed by an authority trusted here"),
        "{}",
        refused.stderr
    );
}
