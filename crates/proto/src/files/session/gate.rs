//! One session's side of the access rules: who it is logged in as, and the
//! reply to a command it may not run (`ERR 401`, `403`, `404`, `429`).
//!
//! ```text
//!   any command ── refused(now)? ── ERR 429 (too many failed AUTHs from this address)
//!   AUTH ── Access::login ── OK │ ERR 401 (counted in Guessing)
//!   GET/SUM ── check(Read) ─┐
//!   PUT/MKDIR/DELETE/MOVE ── check(Write) ┴─ Allow │ ERR 404 │ ERR 401 │ ERR 403
//!   LIST [folder] ── listing_of() ── every entry │ only the visible ones │ refused
//! ```

use crate::access::{Access, Decision, Guessing, Op, RetryAfter, User};
use crate::files::wire::{printable, ErrCode};
use crate::root::RelPath;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// The session's access state.
#[derive(Clone)]
pub(crate) struct Gate {
    access: Arc<Access>,
    guessing: Guessing,
    /// The peer's address (none for a Unix socket: never counted).
    ip: Option<IpAddr>,
    /// Logged in as, after a successful AUTH.
    user: Option<User>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("ip", &self.ip)
            .field("user", &self.user.as_ref().map(User::name))
            .finish_non_exhaustive()
    }
}

/// An error reply.
pub(super) type Refusal = (ErrCode, String);

/// What a LIST shows.
pub(super) enum Listing {
    /// Every file.
    All,
    /// Only the files [`Gate::shows`] lets through.
    Visible,
}

impl Gate {
    pub(crate) fn new(access: Arc<Access>, guessing: Guessing, ip: Option<IpAddr>) -> Self {
        Self {
            access,
            guessing,
            ip,
            user: None,
        }
    }

    /// `ERR 429` while the peer's address has failed AUTH too often.
    pub(super) fn refused(&self, now: Instant) -> Option<Refusal> {
        let ip = self.ip?;
        let RetryAfter(secs) = self.guessing.check(now, ip).err()?;
        Some((
            ErrCode::TooManyRequests,
            format!("too many failed logins from your address; try again in {secs} s"),
        ))
    }

    /// `AUTH user password`: logs the session in, or counts a failure (and
    /// logs it out: a failed AUTH never leaves an earlier login standing).
    pub(super) fn auth(&mut self, now: Instant, user: &str, password: &str) -> Result<(), Refusal> {
        self.user = self.access.login(user, password);
        if self.user.is_some() {
            return Ok(());
        }
        if let Some(ip) = self.ip {
            self.guessing.failed(now, ip);
        }
        Err((ErrCode::Unauthorized, "wrong user name or password".into()))
    }

    /// Whether the session may do `op` to `rel` (`name` as the client wrote
    /// it, for the message). A read refused to someone logging in would not
    /// help answers as a missing file would, so nobody learns it exists.
    pub(super) fn check(&self, op: Op, rel: &RelPath, name: &str) -> Result<(), Refusal> {
        if self.access.is_open() {
            return Ok(()); // no rules: skip making the path a string
        }
        self.answer(
            self.access.decide(self.user.as_ref(), op, &rel.to_string()),
            op,
            name,
        )
    }

    fn answer(&self, decision: Decision, op: Op, name: &str) -> Result<(), Refusal> {
        let name = printable(name, 256);
        match decision {
            Decision::Allow => Ok(()),
            Decision::NotFound => Err((ErrCode::NotFound, format!("{name}: not found"))),
            Decision::Unauthorized => Err((
                ErrCode::Unauthorized,
                format!("{name}: log in first (AUTH <user> <password>)"),
            )),
            Decision::Forbidden => {
                let what = if op == Op::Write { "write" } else { "read" };
                let who = self
                    .user
                    .as_ref()
                    .map_or("anyone without an account", User::name);
                Err((
                    ErrCode::Forbidden,
                    format!("{name}: {who} may not {what} here"),
                ))
            }
        }
    }

    /// What a LIST of the root shows, or why it is refused.
    pub(super) fn listing(&self) -> Result<Listing, Refusal> {
        self.listing_of("", "/")
    }

    /// What a LIST of `folder` (a path from the root, `""` for the root)
    /// shows, or why it is refused (`name` as the client wrote it).
    pub(super) fn listing_of(&self, folder: &str, name: &str) -> Result<Listing, Refusal> {
        let who = self.user.as_ref();
        match self.access.decide(who, Op::Read, folder) {
            Decision::Allow => Ok(Listing::All),
            _ if self.access.may_traverse(who, folder) => Ok(Listing::Visible),
            decision => self.answer(decision, Op::Read, name).map(|()| Listing::All),
        }
    }

    /// Whether a file at `path` appears in a [`Listing::Visible`] listing.
    pub(super) fn shows(&self, path: &str) -> bool {
        self.access.decide(self.user.as_ref(), Op::Read, path) == Decision::Allow
    }

    /// Whether a folder at `path` appears in a [`Listing::Visible`] listing:
    /// it is readable, or leads to something that is.
    pub(super) fn shows_folder(&self, path: &str) -> bool {
        self.access.visible(self.user.as_ref(), path)
    }
}
