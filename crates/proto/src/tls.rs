//! TLS for any TCP service: a [`Session`] wrapper that runs the service's
//! session inside a rustls server connection.
//!
//! rustls is itself sans-IO (ciphertext in, plaintext out, and back), so TLS
//! fits the seam without a line of it in HTTP or the files protocol, and runs
//! under every model a driver offers:
//!
//! ```text
//!   driver ── ciphertext ──▶ TlsSession ── plaintext ──▶ inner session
//!          ◀── ciphertext ──  (rustls)  ◀── bytes, FileChunk ──┘
//! ```
//!
//! The wrapper plays driver for the inner session: it keeps the call order of
//! [`crate::Session`] (greeting after the handshake, leftover plaintext
//! re-offered once the inner output is out, EOF after the last byte, time-outs,
//! wakes and shutdown passed through) and adds what TLS needs on top: a
//! handshake deadline ([`HANDSHAKE_TIMEOUT`]), the alert rustls makes for a bad
//! handshake, and `close_notify` when the inner session is done.
//!
//! **What replaces sendfile.** The kernel cannot encrypt for us (no kTLS
//! here), so a [`FileChunk`] the inner session returns is read by the wrapper
//! itself with `pread` in pieces of [`FILE_PIECE`] bytes (four full TLS
//! records) into one scratch buffer per thread, encrypted by rustls into the
//! output, and handed to the driver as plain bytes: memory per connection
//! stays bounded by one piece plus the driver's gather limit, whatever the
//! file's size. The cost is one copy out of the page cache and the AES-GCM
//! pass; `bench/https-vs-peers.sh` measures it against nginx and h2o, who do
//! the same (neither uses kTLS by default).

mod file;
mod session;
#[cfg(test)]
mod tests;

pub use session::TlsSession;

use crate::Service;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a client has to finish the handshake before the connection is
/// closed (the inner session's own time-outs run beside it).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many file bytes are read and encrypted at a time (four TLS records of
/// 16 KiB): large enough for few calls, small enough to bound memory.
pub const FILE_PIECE: usize = 64 * 1024;

/// The cryptography every netkit TLS endpoint uses: rustls' ring provider,
/// which builds without cmake or a C toolchain beyond cc (aws-lc-rs needs
/// both). rustls 0.23.48 marks it deprecated because ring has no
/// post-quantum key exchange (X25519MLKEM768); X25519 and the NIST curves
/// remain, which every client of ours offers. Its default order puts P-384
/// first, whose key share ring computes with generic big-number code: several
/// times the cost of X25519 for each handshake. X25519 first, as OpenSSL and
/// browsers offer it (servers and clients alike).
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups = vec![X25519, SECP256R1, SECP384R1];
    Arc::new(provider)
}

/// The cipher suites a server offers, best first: Mozilla's "intermediate"
/// order (AES-128-GCM, then AES-256-GCM, then ChaCha20-Poly1305), every one
/// AEAD with forward secrecy.
const SERVER_SUITES: &[rustls::SupportedCipherSuite] = {
    use rustls::crypto::ring::cipher_suite::*;
    &[
        TLS13_AES_128_GCM_SHA256,
        TLS13_AES_256_GCM_SHA384,
        TLS13_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
};

/// A server configuration for one certificate chain and its key: rustls
/// with the ring provider, TLS 1.2 and 1.3 only (rustls has nothing older),
/// HTTP/1.1 offered by ALPN when `alpn_http` (a browser then knows what it
/// speaks; the files protocol offers nothing).
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    alpn_http: bool,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let mut provider = (*provider()).clone();
    provider.cipher_suites = SERVER_SUITES.to_vec();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // The server's order, not the client's: OpenSSL clients (curl, wrk)
    // ask for AES-256 first, which costs a third more per byte and makes the
    // key schedule SHA-384 (no SHA extensions used for it) for no gain in
    // practice.
    config.ignore_client_order = true;
    if alpn_http {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
    }
    Ok(config)
}

/// Wraps a TCP service in TLS: each connection is a [`TlsSession`] around a
/// session of the inner service.
#[derive(Debug)]
pub struct TlsService<S> {
    config: Arc<rustls::ServerConfig>,
    inner: Arc<S>,
    handshake_timeout: Duration,
}

impl<S: Service> TlsService<S> {
    /// `inner` over TLS with `config` (certificate, key, versions).
    pub fn new(config: Arc<rustls::ServerConfig>, inner: Arc<S>) -> Self {
        Self {
            config,
            inner,
            handshake_timeout: HANDSHAKE_TIMEOUT,
        }
    }

    /// Changes how long a client may take to finish the handshake.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The wrapped service.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }
}

impl<S: Service> Service for TlsService<S> {
    type Session = TlsSession<S::Session>;

    fn new_session(&self, peer: Option<SocketAddr>, now: Instant) -> Self::Session {
        let inner = self.inner.new_session(peer, now);
        TlsSession::new(
            Arc::clone(&self.config),
            inner,
            now,
            now + self.handshake_timeout,
        )
    }
}
