//! Passwords: checking them ([`Secret`]), remembering recent successful
//! Argon2 checks ([`LoginCache`]), and hashing a new one for `netkit passwd`
//! ([`hash_password`]).
//!
//! A password in a rule is either an Argon2 PHC string (`$argon2id$v=19$…`,
//! parsed once at start) or plain text. A plain one is kept as its SHA-256 and
//! compared with the offered password's SHA-256 in constant time (`subtle`),
//! so neither its bytes nor its length leak through timing.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, Params, PasswordHash};
use sha2::{Digest, Sha256};
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// One account's password, ready to check.
pub(super) enum Secret {
    /// A PHC string, parsed (and its parameters checked) at start.
    Hashed {
        hash: Box<PasswordHash>,
        spelled: String,
    },
    /// A plain password: its SHA-256.
    Plain { digest: [u8; 32], spelled: String },
}

impl Secret {
    /// Reads a rule's PASSWORD: a string starting with `$argon2` must be a
    /// valid Argon2 PHC string; anything else is a plain password.
    pub(super) fn parse(password: &str) -> Result<Secret, String> {
        if !password.starts_with("$argon2") {
            return Ok(Secret::Plain {
                digest: Sha256::digest(password.as_bytes()).into(),
                spelled: password.to_owned(),
            });
        }
        let hash = PasswordHash::new(password)
            .map_err(|e| format!("the password looks like an Argon2 PHC string but is not: {e}"))?;
        if argon2::Algorithm::try_from(hash.algorithm.as_str()).is_err() {
            return Err(format!("{} is not an Argon2 variant", hash.algorithm));
        }
        Params::try_from(&hash)
            .map_err(|e| format!("the Argon2 PHC string's parameters are unusable: {e}"))?;
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err("the Argon2 PHC string has no salt or no hash".into());
        }
        Ok(Secret::Hashed {
            hash: Box::new(hash),
            spelled: password.to_owned(),
        })
    }

    /// Whether checking costs an Argon2 computation.
    pub(super) fn is_hashed(&self) -> bool {
        matches!(self, Secret::Hashed { .. })
    }

    /// Whether a rule spelled this password exactly so (a user named in two
    /// rules must give the same password in both).
    pub(super) fn is_spelled(&self, password: &str) -> bool {
        match self {
            Secret::Hashed { spelled, .. } | Secret::Plain { spelled, .. } => spelled == password,
        }
    }

    /// Whether `password` is this secret: Argon2 verification (slow by
    /// design), or a constant-time comparison of digests.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        match self {
            Secret::Hashed { hash, .. } => {
                Argon2::default().verify_password(password, &**hash).is_ok()
            }
            Secret::Plain { digest, .. } => {
                let offered: [u8; 32] = Sha256::digest(password).into();
                offered.ct_eq(digest).into()
            }
        }
    }
}

/// The most recent successful Argon2 verifications this process remembers.
const CACHED_LOGINS: usize = 64;

/// Recent successful Argon2 verifications, as (account, keyed SHA-256 of
/// the password). The key is random per process, so what is cached is no
/// cheaper to guess from than the PHC string itself; when the system's
/// random source fails, nothing is cached (every login verifies).
///
/// Under `--model fork` every child starts with its parent's (empty) copy:
/// the cache then serves the many requests of one keep-alive connection.
pub(super) struct LoginCache {
    key: Option<[u8; 16]>,
    entries: Mutex<Vec<(usize, [u8; 32])>>,
}

impl LoginCache {
    pub(super) fn new() -> Self {
        Self {
            key: argon2::password_hash::try_generate_salt().ok(),
            entries: Mutex::new(Vec::new()),
        }
    }

    fn digest(key: &[u8; 16], account: usize, password: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(key);
        hasher.update(account.to_le_bytes());
        hasher.update(password);
        hasher.finalize().into()
    }

    /// Whether `password` verified for `account` recently.
    pub(super) fn contains(&self, account: usize, password: &[u8]) -> bool {
        let Some(key) = &self.key else {
            return false;
        };
        let digest = Self::digest(key, account, password);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .any(|(a, d)| *a == account && bool::from(d.ct_eq(&digest)))
    }

    /// Remembers a successful verification, forgetting the oldest beyond
    /// [`CACHED_LOGINS`].
    pub(super) fn insert(&self, account: usize, password: &[u8]) {
        let Some(key) = &self.key else {
            return;
        };
        let digest = Self::digest(key, account, password);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CACHED_LOGINS {
            entries.remove(0);
        }
        entries.push((account, digest));
    }
}

/// Why a password could not be hashed (the system's random source failed).
#[derive(Debug, thiserror::Error)]
#[error("hashing the password: {0}")]
pub struct HashError(String);

/// Hashes `password` with Argon2id (the crate's default parameters, a fresh
/// random salt) into the PHC string a rule's PASSWORD may be: what
/// `netkit passwd` prints.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}
