//! HTTP Basic authentication (RFC 7617): what an `Authorization` header
//! holds, and the challenge that asks for one.
//!
//! `Authorization: Basic base64(user ":" password)`, the scheme's name in any
//! case, the decoded text UTF-8 (we say so in the challenge's `charset`),
//! split at the first colon (a user name has none; a password may). Another
//! scheme (`Bearer`, `Digest`) is not ours: the request is anonymous. A Basic
//! header that does not decode is a failed login like a wrong password, so
//! it counts against the address as guessing does.

use super::response::Reply;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// The protection space every share answers with.
pub(crate) const CHALLENGE: &str = "Basic realm=\"netkit\", charset=\"UTF-8\"";

/// Standard base64; clients that leave the padding out are understood.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What an `Authorization` header carries.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Credentials {
    /// No header, or a scheme other than Basic.
    None,
    /// A user name and password.
    Basic { user: String, password: String },
    /// A Basic header that is not base64 of UTF-8 `user:password`.
    Malformed,
}

/// Reads an `Authorization` header value (already trimmed).
pub(crate) fn credentials(value: Option<&[u8]>) -> Credentials {
    let Some(value) = value else {
        return Credentials::None;
    };
    let (scheme, token) = match value.iter().position(|&b| b == b' ') {
        Some(at) => (&value[..at], &value[at + 1..]),
        None => (value, &b""[..]),
    };
    if !scheme.eq_ignore_ascii_case(b"Basic") {
        return Credentials::None;
    }
    let token = token.trim_ascii();
    let Ok(decoded) = BASE64.decode(token) else {
        return Credentials::Malformed;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return Credentials::Malformed;
    };
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() => Credentials::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        },
        _ => Credentials::Malformed,
    }
}

/// `401` asking for Basic credentials.
pub(crate) fn challenge() -> Reply {
    let mut reply = Reply::error(401);
    reply.header("WWW-Authenticate", CHALLENGE);
    reply
}

/// `429` for an address that guessed too often: try again in `secs`.
pub(crate) fn too_many(secs: u64) -> Reply {
    let mut reply = Reply::error(429);
    reply.header("Retry-After", secs.max(1));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> Credentials {
        Credentials::Basic {
            user: user.into(),
            password: password.into(),
        }
    }

    #[test]
    fn basic_headers_decode() {
        let cases: &[(&[u8], Credentials)] = &[
            (b"Basic YWxpY2U6c2VjcmV0", basic("alice", "secret")),
            (b"basic   YWxpY2U6c2VjcmV0", basic("alice", "secret")),
            // RFC 7617's own example, and a colon inside the password.
            (
                b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
                basic("Aladdin", "open sesame"),
            ),
            (b"Basic YTpiOmM=", basic("a", "b:c")),
            (b"Basic YTpiOmM", basic("a", "b:c")),
            // UTF-8: "jürgen:pässword".
            (
                b"Basic asO8cmdlbjpww6Rzc3dvcmQ=",
                basic("jürgen", "pässword"),
            ),
            (b"Basic YTo=", basic("a", "")),
            (b"Bearer abc", Credentials::None),
            (b"Digest username=x", Credentials::None),
            (b"Basic", Credentials::Malformed),
            (b"Basic !!!", Credentials::Malformed),
            (b"Basic YWxpY2U=", Credentials::Malformed), // no colon
            (b"Basic OnNlY3JldA==", Credentials::Malformed), // no user
            (b"Basic /w==", Credentials::Malformed),     // not UTF-8
        ];
        for (value, want) in cases {
            assert_eq!(
                &credentials(Some(value)),
                want,
                "{}",
                String::from_utf8_lossy(value)
            );
        }
        assert_eq!(credentials(None), Credentials::None);
    }

    #[test]
    fn the_challenge_names_the_realm_and_charset() {
        let reply = challenge();
        assert_eq!(reply.status, 401);
        assert!(reply
            .headers
            .contains("WWW-Authenticate: Basic realm=\"netkit\", charset=\"UTF-8\"\r\n"));
        assert!(too_many(0).headers.contains("Retry-After: 1\r\n"));
    }
}
