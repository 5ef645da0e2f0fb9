//! TLS for netkit's clients (`files ls|get|put|shell`, `bench load https://…`):
//! the flags that say how the server's certificate is checked, the rustls
//! [`ClientConfig`] they make, and a blocking stream over it.
//!
//! ```text
//!   --tls               the system's trusted roots (rustls-native-certs)
//!   --cacert FILE       the authorities in FILE (PEM) instead
//!   --fingerprint HEX   exactly one certificate, by the SHA-256 of its DER
//!   --insecure          any certificate (with a warning)
//! ```
//!
//! A pinned or insecure connection skips the chain, name and date checks, but
//! the handshake's signatures are still checked with the provider's
//! algorithms, so the peer must hold the certificate's private key.

use anyhow::{bail, Context, Result};
use clap::Args;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, OtherError,
    RootCertStore, SignatureScheme, StreamOwned,
};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

/// Ciphertext read per system call: rustls asks for 4 KiB at a time, which
/// would make a large download a million reads per GiB.
const READ_BUF: usize = 1 << 20;

/// How a client checks the server's certificate (every flag implies `--tls`).
#[derive(Debug, Clone, Default, Args)]
pub struct TlsClientArgs {
    /// Use TLS, checking the server's certificate against the system's trusted roots.
    #[arg(long)]
    pub tls: bool,
    /// Use TLS, trusting the certificate authorities in FILE (PEM) instead of the system's.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["fingerprint", "insecure"])]
    pub cacert: Option<PathBuf>,
    /// Use TLS and accept exactly the certificate with this SHA-256 fingerprint
    /// (hex, colons optional; what `files serve --tls` prints). Its names and
    /// dates are not checked.
    #[arg(long, value_name = "HEX", value_parser = parse_fingerprint, conflicts_with = "insecure")]
    pub fingerprint: Option<Fingerprint>,
    /// Use TLS without checking the server's certificate (anyone on the way
    /// can read and change the connection).
    #[arg(long)]
    pub insecure: bool,
}

impl TlsClientArgs {
    /// Whether any flag asks for TLS.
    pub fn wanted(&self) -> bool {
        self.tls || self.cacert.is_some() || self.fingerprint.is_some() || self.insecure
    }

    /// The configuration the flags ask for; `None` without any (plain TCP).
    pub fn config(&self) -> Result<Option<Arc<ClientConfig>>> {
        if self.wanted() {
            self.config_always().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The configuration, with the system's roots when no flag is given (an
    /// `https://` URL: never unchecked by default).
    pub fn config_always(&self) -> Result<Arc<ClientConfig>> {
        let provider = netkit_proto::tls::provider();
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .context("the TLS provider offers no TLS 1.2 or 1.3")?;
        let config = if let Some(pin) = self.fingerprint {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    pin: Some(pin),
                    provider,
                }))
                .with_no_client_auth()
        } else if self.insecure {
            eprintln!(
                "netkit: warning: --insecure: the server's certificate is not checked; \
                 anyone between here and the server can read and change this connection"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    pin: None,
                    provider,
                }))
                .with_no_client_auth()
        } else {
            let roots = match &self.cacert {
                Some(file) => roots_from(file)?,
                None => system_roots()?,
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        Ok(Arc::new(config))
    }

    /// Where to connect to `addr` (`host[:port]`, as the client commands take
    /// it) over TLS; `None` without any TLS flag.
    pub fn connector(&self, addr: &str) -> Result<Option<Connector>> {
        let Some(config) = self.config()? else {
            return Ok(None);
        };
        Ok(Some(Connector {
            config,
            name: server_name(addr)?,
        }))
    }
}

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl fmt::Display for Fingerprint {
    /// `AB:CD:…`, as `openssl x509 -fingerprint -sha256` and `--tls` servers print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: Vec<String> = self.0.iter().map(|b| format!("{b:02X}")).collect();
        f.write_str(&hex.join(":"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Fingerprint {
    /// The fingerprint of a certificate (the SHA-256 of its DER).
    pub fn of(cert: &CertificateDer<'_>) -> Fingerprint {
        Fingerprint(Sha256::digest(cert.as_ref()).into())
    }
}

/// Parses 64 hex digits, any case, optionally separated by colons.
pub fn parse_fingerprint(s: &str) -> Result<Fingerprint, String> {
    let digits: String = s.chars().filter(|c| *c != ':').collect();
    let bad = || "not a SHA-256 fingerprint (64 hex digits, colons optional)".to_owned();
    if digits.len() != 64 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(Fingerprint(out))
}

/// The name a certificate must be valid for, from `host[:port]` (an address
/// is checked against the certificate's IP addresses).
pub fn server_name(addr: &str) -> Result<ServerName<'static>> {
    let host = if addr.parse::<IpAddr>().is_ok() {
        addr
    } else if let Some(rest) = addr.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        addr.rsplit_once(':').map_or(addr, |(host, _)| host)
    };
    ServerName::try_from(host.to_owned())
        .with_context(|| format!("'{host}' is not a host name or address"))
}

fn roots_from(file: &std::path::Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    for cert in certs {
        let cert = cert.with_context(|| format!("{}: bad PEM", file.display()))?;
        roots
            .add(cert)
            .with_context(|| format!("{}: unusable certificate", file.display()))?;
    }
    if roots.is_empty() {
        bail!("{} holds no certificate (PEM)", file.display());
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    // One unreadable or odd certificate in the store must not stop the rest.
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(String::new, |e| format!(" ({e})"));
        bail!(
            "no trusted root certificates found on this system{why}; \
             use --cacert FILE or --fingerprint HEX"
        );
    }
    Ok(roots)
}

/// Accepts the one pinned certificate (`pin`), or any (`None`: --insecure);
/// either way, handshake signatures are checked against it.
#[derive(Debug)]
struct Pinned {
    pin: Option<Fingerprint>,
    provider: Arc<CryptoProvider>,
}

/// The server's certificate is not the pinned one.
#[derive(Debug)]
struct PinMismatch {
    presented: Fingerprint,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server presented a certificate with SHA-256 fingerprint {}, not the pinned one",
            self.presented
        )
    }
}

impl std::error::Error for PinMismatch {}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = Fingerprint::of(end_entity);
        match self.pin {
            Some(pin) if pin != presented => Err(rustls::Error::InvalidCertificate(
                CertificateError::Other(OtherError(Arc::new(PinMismatch { presented }))),
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A configuration and the name the server's certificate must carry.
#[derive(Debug, Clone)]
pub struct Connector {
    /// How certificates are checked.
    pub config: Arc<ClientConfig>,
    /// The server's name (or address) as the user gave it.
    pub name: ServerName<'static>,
}

/// A blocking TLS connection; reads and writes plaintext.
pub type TlsStream = StreamOwned<ClientConnection, BufferedSocket>;

impl Connector {
    /// Runs the handshake over `sock` (connected to `peer`), so a refused
    /// certificate fails here, with a sentence, not at the first command.
    pub fn handshake(&self, sock: TcpStream, peer: SocketAddr) -> Result<TlsStream> {
        let conn = ClientConnection::new(Arc::clone(&self.config), self.name.clone())
            .context("starting TLS")?;
        let mut stream = StreamOwned::new(conn, BufferedSocket::new(sock));
        while stream.conn.is_handshaking() {
            if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
                bail!("TLS handshake with {peer} failed: {}", explain(&e));
            }
        }
        Ok(stream)
    }
}

/// A socket whose reads go through a large buffer (see [`READ_BUF`]) and
/// whose writes go straight out.
#[derive(Debug)]
pub struct BufferedSocket(BufReader<TcpStream>);

impl BufferedSocket {
    fn new(sock: TcpStream) -> BufferedSocket {
        BufferedSocket(BufReader::with_capacity(READ_BUF, sock))
    }

    /// The socket.
    pub fn get_ref(&self) -> &TcpStream {
        self.0.get_ref()
    }
}

impl Read for BufferedSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for BufferedSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.get_mut().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.get_mut().flush()
    }
}

/// A failed handshake as a sentence, with what to do about the usual cases.
pub fn explain(e: &io::Error) -> String {
    let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return e.to_string();
    };
    match tls {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not signed by an authority trusted here \
             (a self-signed server? use --cacert FILE or --fingerprint HEX)"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => {
            let why = other.0.to_string();
            // webpki's own error, passed through rustls by name only.
            if why == "CaUsedAsEndEntity" {
                "the server's certificate is a CA certificate, which cannot also be a \
                 server's (`openssl req -x509` makes those; pin it with --fingerprint HEX)"
                    .to_owned()
            } else {
                why
            }
        }
        rustls::Error::InvalidMessage(_) => {
            format!("{tls} (is the server speaking TLS? a plain server takes no --tls flag)")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_or_without_colons_in_any_case() {
        let lower = "ab".repeat(32);
        let upper_colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_fingerprint(&lower), parse_fingerprint(&upper_colons));
        let fp = parse_fingerprint(&upper_colons).unwrap();
        assert_eq!(fp.0, [0xab; 32]);
        assert_eq!(fp.to_string(), upper_colons);
        for bad in ["", "ab", &"ab".repeat(33), &"zz".repeat(32)] {
            assert!(parse_fingerprint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn x25519_is_offered_first() {
        let args = TlsClientArgs {
            fingerprint: Some(Fingerprint([0; 32])),
            ..TlsClientArgs::default()
        };
        let config = args.config_always().unwrap();
        let groups: Vec<_> = config
            .crypto_provider()
            .kx_groups
            .iter()
            .map(|g| g.name())
            .collect();
        assert_eq!(groups[0], rustls::NamedGroup::X25519, "{groups:?}");
    }

    #[test]
    fn server_names_come_from_host_and_port() {
        let name = |a: &str| server_name(a).unwrap().to_str().into_owned();
        assert_eq!(name("example.org:8888"), "example.org");
        assert_eq!(name("example.org"), "example.org");
        assert_eq!(name("127.0.0.1:1"), "127.0.0.1");
        assert_eq!(name("[::1]:8888"), "::1");
        assert_eq!(name("::1"), "::1");
    }
}
