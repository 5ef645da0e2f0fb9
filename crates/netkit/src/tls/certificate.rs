//! Certificates for the servers: a PEM chain and key read from files
//! (`--tls-cert`, `--tls-key`), or a self-signed one made at start for this
//! host's names and addresses (`--tls`); and the SHA-256 fingerprint a user
//! compares with what a client shows (`openssl x509 -fingerprint -sha256`).

use anyhow::{anyhow, bail, Context, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

/// A certificate chain (leaf first) and the leaf's private key.
#[derive(Debug)]
pub struct Identity {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Identity {
    /// The SHA-256 fingerprint of the leaf certificate.
    pub fn fingerprint(&self) -> String {
        self.chain
            .first()
            .map_or_else(String::new, |c| fingerprint(c))
    }
}

/// Reads a PEM certificate chain and its key. Every failure names the file
/// and what is wrong with it.
pub fn load(cert: &Path, key: &Path) -> Result<Identity> {
    let cert_pem = std::fs::read(cert)
        .with_context(|| format!("cannot read --tls-cert {}", cert.display()))?;
    let key_pem =
        std::fs::read(key).with_context(|| format!("cannot read --tls-key {}", key.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            anyhow!(
                "--tls-cert {}: not a PEM certificate chain: {e}",
                cert.display()
            )
        })?;
    if chain.is_empty() {
        bail!("--tls-cert {}: no PEM certificate in it", cert.display());
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        anyhow!(
            "--tls-key {}: no PEM private key in it (PKCS#8, PKCS#1 or SEC1): {e}",
            key.display()
        )
    })?;
    Ok(Identity { chain, key })
}

/// A self-signed certificate for `names` (DNS names) and `addresses`, with a
/// fresh ECDSA P-256 key, valid from now for a year.
pub fn self_signed(names: &[String], addresses: &[IpAddr]) -> Result<Identity> {
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    let first = names.first().map_or("netkit", String::as_str);
    dn.push(DnType::CommonName, format!("netkit on {first}"));
    params.distinguished_name = dn;
    for name in names {
        let name = name
            .as_str()
            .try_into()
            .context("a host name for the certificate")?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    for ip in addresses {
        params.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    let now = time_now();
    params.not_before = now - rcgen_days(1);
    params.not_after = now + rcgen_days(365);
    let key = KeyPair::generate().context("making a key for the certificate")?;
    let cert = params
        .self_signed(&key)
        .context("signing the certificate")?;
    let key =
        PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| anyhow!("the new key: {e}"))?;
    Ok(Identity {
        chain: vec![cert.der().clone()],
        key,
    })
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn rcgen_days(days: i64) -> time::Duration {
    time::Duration::days(days)
}

/// The names and addresses a certificate made at start covers: this host's
/// name, `localhost`, the loopback addresses, and every address the given
/// binds serve (their interfaces' for a wildcard).
pub fn host_identity(binds: &[IpAddr]) -> (Vec<String>, Vec<IpAddr>) {
    let mut names = Vec::new();
    if let Ok(host) = nix::unistd::gethostname() {
        if let Some(host) = host.to_str().filter(|h| !h.is_empty()) {
            names.push(host.to_owned());
        }
    }
    if !names.iter().any(|n| n == "localhost") {
        names.push("localhost".to_owned());
    }
    let mut addresses: Vec<IpAddr> =
        vec![[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
    for bind in binds {
        let mut found = crate::up::interface_addresses(*bind);
        if !bind.is_unspecified() {
            found.push(*bind);
        }
        for ip in found {
            if !addresses.contains(&ip) {
                addresses.push(ip);
            }
        }
    }
    (names, addresses)
}

/// SHA-256 of the certificate's DER as openssl's `x509 -fingerprint -sha256`
/// prints it: uppercase hex pairs joined by colons.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = Sha256::digest(cert.as_ref());
    let mut text = String::with_capacity(digest.len() * 3);
    for (i, byte) in digest.iter().enumerate() {
        if i > 0 {
            text.push(':');
        }
        let _ = write!(text, "{byte:02X}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_made_certificate_covers_the_names_and_addresses_asked_for() {
        let names = vec!["box".to_owned(), "localhost".to_owned()];
        let ips: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        let made = self_signed(&names, &ips).unwrap();
        let config =
            netkit_proto::tls::server_config(made.chain.clone(), made.key.clone_key(), true);
        assert!(config.is_ok(), "the key matches the certificate");
        let fp = made.fingerprint();
        assert_eq!(fp.len(), 32 * 3 - 1, "{fp}");
        assert!(fp.split(':').all(|h| h.len() == 2
            && h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())));
    }

    #[test]
    fn the_fingerprint_is_openssl_s_format() {
        let der = CertificateDer::from(b"abc".to_vec());
        assert_eq!(
            fingerprint(&der),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn files_that_are_missing_empty_or_mismatched_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let err = load(&cert, &key).unwrap_err().to_string();
        assert!(
            err.contains("--tls-cert") && err.contains("cert.pem"),
            "{err}"
        );
        std::fs::write(&cert, "not pem").unwrap();
        std::fs::write(&key, "not pem").unwrap();
        let err = load(&cert, &key).unwrap_err().to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
    }
}
