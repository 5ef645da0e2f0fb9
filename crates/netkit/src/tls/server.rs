//! A server's TLS, from its flags: the certificate (read, or made at start),
//! its fingerprint told once on stderr, and the rustls configurations the
//! services are wrapped with (`netkit_proto::tls::TlsService`).

use super::certificate::{self, Identity};
use crate::cli::tls_args::TlsArgs;
use anyhow::{anyhow, Result};
use netkit_drivers::{Config, Listener, Model, Shutdown};
use netkit_proto::tls::TlsService;
use netkit_proto::Service;
use rustls::ServerConfig;
use std::net::IpAddr;
use std::sync::Arc;

/// The TLS side of a server: one certificate, a configuration per kind of
/// service.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// For HTTP (ALPN `http/1.1`).
    pub http: Arc<ServerConfig>,
    /// For protocols without an ALPN name (the files protocol).
    pub plain: Arc<ServerConfig>,
    fingerprint: String,
    /// The names a self-signed certificate was made for.
    made_for: Option<Vec<String>>,
}

impl ServerTls {
    /// TLS as the flags ask (`None` without any TLS flag). `binds`: the
    /// addresses the server listens on, which a self-signed certificate
    /// covers.
    pub fn from_args(args: &TlsArgs, binds: &[IpAddr]) -> Result<Option<ServerTls>> {
        let (identity, made_for) = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => (certificate::load(cert, key)?, None),
            _ if args.tls => {
                let (names, addresses) = certificate::host_identity(binds);
                let identity = certificate::self_signed(&names, &addresses)?;
                let mut all = names;
                all.extend(addresses.iter().map(ToString::to_string));
                (identity, Some(all))
            }
            _ => return Ok(None),
        };
        Self::new(identity, made_for).map(Some)
    }

    fn new(identity: Identity, made_for: Option<Vec<String>>) -> Result<ServerTls> {
        let config = |alpn_http: bool| {
            let Identity { chain, key } = identity.clone();
            netkit_proto::tls::server_config(chain, key, alpn_http)
                .map(Arc::new)
                .map_err(|e| anyhow!("--tls-key does not fit --tls-cert: {e}"))
        };
        Ok(ServerTls {
            http: config(true)?,
            plain: config(false)?,
            fingerprint: identity.fingerprint(),
            made_for,
        })
    }

    /// The leaf certificate's SHA-256 fingerprint (`AB:CD:…`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Tells the operator (on stderr, whatever the log level) which
    /// certificate clients will see, so they can compare.
    pub fn announce(&self) {
        if let Some(names) = &self.made_for {
            eprintln!("tls: self-signed certificate made for {}", names.join(", "));
        }
        eprintln!("tls: certificate SHA-256 fingerprint {}", self.fingerprint);
    }
}

/// Serves `service` on `listeners` under `model`, over TLS with `tls` when
/// given.
pub fn serve<S: Service>(
    tls: Option<&Arc<ServerConfig>>,
    model: Model,
    listeners: Vec<Listener>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> std::io::Result<()> {
    match tls {
        Some(tls) => {
            let service = Arc::new(TlsService::new(Arc::clone(tls), service));
            netkit_drivers::serve(model, listeners, service, config, shutdown)
        }
        None => netkit_drivers::serve(model, listeners, service, config, shutdown),
    }
}
