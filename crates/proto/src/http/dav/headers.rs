//! The request headers WebDAV adds (RFC 4918 §10): `If`, `Lock-Token` and
//! `Timeout` kept raw by the head parser (`Depth`, `Destination` and
//! `Overwrite` are fields of the head itself, for the write verbs), and read
//! here.

use std::time::Duration;

/// Longest lock accepted (`Timeout: Infinite` gets this).
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// A lock asked without `Timeout`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The WebDAV headers of a request, as sent.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DavHeaders<'a> {
    pub(crate) if_: Option<&'a [u8]>,
    pub(crate) lock_token: Option<&'a [u8]>,
    pub(crate) timeout: Option<&'a [u8]>,
}

impl<'a> DavHeaders<'a> {
    /// Keeps `name: value` if it is one of ours; whether it was.
    pub(crate) fn take(&mut self, name: &str, value: &'a [u8]) -> bool {
        let slot = if name.eq_ignore_ascii_case("if") {
            &mut self.if_
        } else if name.eq_ignore_ascii_case("lock-token") {
            &mut self.lock_token
        } else if name.eq_ignore_ascii_case("timeout") {
            &mut self.timeout
        } else {
            return false;
        };
        *slot = Some(value.trim_ascii());
        true
    }
}

/// A `Depth` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    Zero,
    One,
    Infinity,
}

/// Reads `Depth` (`None`: absent; `Err`: not one of `0`, `1`, `infinity`).
pub(crate) fn depth(value: Option<&[u8]>) -> Result<Option<Depth>, ()> {
    match value {
        None => Ok(None),
        Some(b"0") => Ok(Some(Depth::Zero)),
        Some(b"1") => Ok(Some(Depth::One)),
        Some(v) if v.eq_ignore_ascii_case(b"infinity") => Ok(Some(Depth::Infinity)),
        Some(_) => Err(()),
    }
}

/// The lock duration asked by `Timeout` (RFC 4918 §10.7: the first value we
/// understand), bounded by [`MAX_TIMEOUT`].
pub(crate) fn timeout(value: Option<&[u8]>) -> Duration {
    let Some(value) = value.and_then(|v| std::str::from_utf8(v).ok()) else {
        return DEFAULT_TIMEOUT;
    };
    for part in value.split(',').map(str::trim) {
        if part.eq_ignore_ascii_case("infinite") {
            return MAX_TIMEOUT;
        }
        let secs = part
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("second-"))
            .and_then(|_| part[7..].parse::<u64>().ok());
        if let Some(secs) = secs {
            return Duration::from_secs(secs.clamp(1, MAX_TIMEOUT.as_secs()));
        }
    }
    DEFAULT_TIMEOUT
}

/// The token of `Lock-Token: <token>`.
pub(crate) fn lock_token(value: Option<&[u8]>) -> Option<&str> {
    let v = std::str::from_utf8(value?).ok()?;
    v.strip_prefix('<')?.strip_suffix('>')
}
