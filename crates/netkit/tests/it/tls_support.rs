//! Helpers for the TLS tests: a certificate made in the test (rcgen) written
//! as PEM files, and a small blocking rustls client that trusts it.

use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A certificate for `localhost` and 127.0.0.1, its key, as PEM files in a
/// folder of their own.
pub struct TestCert {
    pub dir: tempfile::TempDir,
    pub der: CertificateDer<'static>,
}

impl TestCert {
    pub fn new() -> TestCert {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("names");
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("certificate");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        TestCert {
            der: cert.der().clone(),
            dir,
        }
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    /// `--tls-cert FILE --tls-key FILE`, as owned strings.
    pub fn flags(&self) -> Vec<String> {
        let path = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
        vec![
            "--tls-cert".into(),
            path(&self.cert()),
            "--tls-key".into(),
            path(&self.key()),
        ]
    }

    /// A TLS connection to `addr` (as `localhost`) that trusts only this
    /// certificate; reads and writes fail after 60 s.
    pub fn connect(&self, addr: SocketAddr) -> Tls {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.der.clone()).expect("root");
        let config = rustls::ClientConfig::builder_with_provider(netkit_proto::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").expect("name");
        let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
        let tcp = crate::common::connect(addr, Duration::from_secs(60));
        BufReader::new(rustls::StreamOwned::new(conn, tcp))
    }
}

/// A buffered TLS client connection.
pub type Tls = BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>;

/// One line from `conn`, without its end.
pub fn line(conn: &mut Tls) -> String {
    let mut line = String::new();
    conn.read_line(&mut line).expect("read a line");
    line.trim_end_matches(['\r', '\n']).to_owned()
}

/// Sends bytes.
pub fn send(conn: &mut Tls, bytes: &[u8]) {
    conn.get_mut().write_all(bytes).expect("send");
    conn.get_mut().flush().expect("flush");
}

/// Exactly `n` bytes.
pub fn bytes(conn: &mut Tls, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    conn.read_exact(&mut buf).expect("read the payload");
    buf
}

/// One HTTP/1.1 response: its head (lines) and its body (by Content-Length).
pub fn http_response(conn: &mut Tls) -> (Vec<String>, Vec<u8>) {
    let mut head = Vec::new();
    for _ in 0..100 {
        let l = line(conn);
        if l.is_empty() {
            break;
        }
        head.push(l);
    }
    let len = head
        .iter()
        .find_map(|h| {
            let (name, value) = h.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let body = bytes(conn, len);
    (head, body)
}

/// Reads to the end: Ok(bytes) after the server's close_notify, Err if it
/// closed without one.
pub fn to_end(conn: &mut Tls) -> std::io::Result<Vec<u8>> {
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).map(|_| rest)
}
