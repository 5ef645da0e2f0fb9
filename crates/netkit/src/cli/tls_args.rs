//! The TLS flags of every server that can speak TLS (`http serve`, `files
//! serve`, `up`), declared once so they read and mean the same everywhere.

use clap::Args;
use std::path::PathBuf;

/// `--tls`, or `--tls-cert FILE --tls-key FILE`.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// Serve over TLS with a self-signed certificate made at start for this
    /// host's names and addresses (its SHA-256 fingerprint is printed).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub tls: bool,
    /// Serve over TLS with this certificate chain (PEM, leaf first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// Whether the flags ask for TLS at all.
    pub fn enabled(&self) -> bool {
        self.tls || self.tls_cert.is_some()
    }
}
