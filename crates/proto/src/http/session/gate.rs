//! The checks of accounts and rules every request meets before a handler
//! sees it (with `--auth`; without it the share is open and this is one
//! branch per request):
//!
//! 1. an address that guessed ten wrong passwords within a minute gets 429
//!    with `Retry-After` on every request until its minute ends;
//! 2. `Authorization: Basic` logs in (the last header that did is kept for
//!    the connection, so a keep-alive client repeating it costs no password
//!    hash per request); a wrong or malformed one is a 401 and counts as a
//!    guess;
//! 3. the request's path and verb are put to the access layer: `GET`/`HEAD`
//!    read, the writing verbs write. A refusal is 404 where logging in would
//!    not help, 401 (with the challenge) where it would, 403 for a user whose
//!    rules do not allow it. A folder that only leads to granted ones is
//!    listed, nothing more.

use super::super::login::{self, Credentials};
use super::super::response::Reply;
use super::super::target::Target;
use super::super::visitor::access_path;
use super::HttpSession;
use crate::access::{Decision, Op, User};
use std::time::Instant;

/// What a request may see of its target (a `GET` or `HEAD`).
#[derive(Debug)]
pub(crate) enum Sight {
    /// The file, or the folder (its `index.html` or listing).
    Whole,
    /// Only the listing of a folder that leads to a granted one; anything
    /// else is answered with the refusal.
    Passing(Reply),
}

/// What a verb does to its target, for the rules (`None`: nothing that
/// touches the files, such as `OPTIONS`, or a verb answered 405 anyway).
/// `MOVE` and `COPY` also write their `Destination`, checked apart; `COPY`
/// only reads its source, `MOVE` takes it away.
pub(crate) fn op_of(method: &str) -> Option<Op> {
    match method {
        "GET" | "HEAD" | "PROPFIND" | "COPY" => Some(Op::Read),
        "PUT" | "DELETE" | "MKCOL" | "MOVE" | "PROPPATCH" | "LOCK" | "UNLOCK" => Some(Op::Write),
        _ => None,
    }
}

/// The reply to a refusal of the access layer.
pub(crate) fn refusal(decision: Decision) -> Reply {
    match decision {
        Decision::Unauthorized => login::challenge(),
        Decision::Forbidden => Reply::error(403),
        Decision::NotFound | Decision::Allow => Reply::error(404),
    }
}

impl HttpSession {
    /// Who sent the request (`None`: anonymous), or the reply that ends it
    /// here: 429 for an address that guessed too often, 401 for credentials
    /// that do not log in.
    pub(super) fn identify(
        &mut self,
        now: Instant,
        authorization: Option<&[u8]>,
    ) -> Result<Option<User>, Reply> {
        let access = &self.shared.access;
        if !access.has_accounts() {
            return Ok(None); // nothing to log in to: a header is ignored
        }
        let ip = self.peer.map(|p| p.ip());
        if let Some(ip) = ip {
            if let Err(retry) = self.shared.guessing.check(now, ip) {
                return Err(login::too_many(retry.0));
            }
        }
        let Some(header) = authorization else {
            return Ok(None);
        };
        if let Some((known, user)) = &self.login {
            if known.as_slice() == header {
                return Ok(Some(user.clone()));
            }
        }
        let user = match login::credentials(Some(header)) {
            Credentials::None => return Ok(None),
            Credentials::Basic { user, password } => access.login(&user, &password),
            Credentials::Malformed => None,
        };
        match user {
            Some(user) => {
                self.login = Some((header.to_vec(), user.clone()));
                Ok(Some(user))
            }
            None => {
                if let Some(ip) = ip {
                    self.shared.guessing.failed(now, ip);
                }
                Err(login::challenge())
            }
        }
    }

    /// Whether `who` may `op` on the target: `Ok` with what a read may see,
    /// or the refusal. Writes are let through while uploads are off: the
    /// handlers refuse them all alike (403), revealing nothing.
    pub(super) fn grant(
        &self,
        who: Option<&User>,
        op: Op,
        target: &Target<'_>,
    ) -> Result<Sight, Reply> {
        let access = &self.shared.access;
        if access.is_open() || (op == Op::Write && !self.shared.config.upload) {
            return Ok(Sight::Whole);
        }
        let path = access_path(&target.rel);
        match (access.decide(who, op, &path), op) {
            (Decision::Allow, _) => Ok(Sight::Whole),
            (decision, Op::Read) if access.may_traverse(who, &path) => {
                Ok(Sight::Passing(refusal(decision)))
            }
            (decision, _) => Err(refusal(decision)),
        }
    }
}
