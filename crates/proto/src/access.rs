//! Who may do what where: the one access layer every sharing service asks
//! (`--auth RULE`, `--auth-file FILE`), so HTTP, the files protocol, TFTP and
//! `up`'s web page cannot disagree.
//!
//! ```text
//!   --auth / --auth-file ── Access::parse (once, at start) ──▶ Arc<Access>
//!                                                                 │
//!   HTTP Basic, files AUTH ── Access::login(user, password) ──▶ Option<User>
//!   every request ── Access::decide(who, Read | Write, path) ──▶ Allow | NotFound
//!                                                                 | Unauthorized | Forbidden
//!   listings ── Access::may_traverse / Access::visible ──▶ which entries to show
//!   failed logins ── Guessing::failed / Guessing::check ──▶ Err(RetryAfter) = 429
//! ```
//!
//! A rule is `USER:PASSWORD@PATH[:rw][,PATH[:rw]…]`, or `@PATH[:rw],…` for
//! anyone without an account ([`rules`] parses them). A grant covers its
//! folder and everything below it; `:rw` adds writing there. A logged-in user
//! has their own grants and the anonymous ones. `--upload` stays the master
//! switch: [`Access`] never allows a write the service's own `--upload` /
//! `--overwrite` settings refuse — services check those first, then ask here.
//!
//! [`secret`] checks passwords (Argon2id PHC strings parsed once at start, or
//! plain ones compared in constant time), [`guessing`] counts failed logins
//! per address in a fixed-size table that `--model fork`'s children can share.

pub mod guessing;
pub mod rules;
pub mod secret;
#[cfg(test)]
mod tests;

pub use guessing::{FailureStore, FailureTable, Guessing, RetryAfter};
pub use rules::RuleError;
pub use secret::{hash_password, HashError};

use rules::{Grant, Rule};
use secret::{LoginCache, Secret};
use std::fmt;
use std::sync::Arc;

/// Parsed rules, shared (in an `Arc`) by every service of one process.
///
/// Built once at start by [`Access::open`] (no `--auth`) or [`Access::parse`];
/// after that only read, except for the small cache of recent successful
/// Argon2 verifications (see [`Access::login`]).
pub struct Access {
    /// No rules at all: anyone reads, and writes depend only on `--upload`.
    open: bool,
    /// Accounts, in the order of their first rule; a [`User`] is an index here.
    accounts: Vec<Account>,
    /// What anyone (logged in or not) may do.
    anonymous: Vec<Grant>,
    /// Recent successful verifications of PHC passwords.
    cache: LoginCache,
}

/// One account: a name, its secret and its grants.
struct Account {
    name: Arc<str>,
    secret: Secret,
    grants: Vec<Grant>,
}

/// A logged-in user, as [`Access::login`] returns it: cheap to clone, and
/// only meaningful to the [`Access`] that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    name: Arc<str>,
    index: usize,
}

impl User {
    /// The account's name (what a web page shows as "logged in as").
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What a request wants to do to a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read a file, list a folder, hash a file.
    Read,
    /// Upload, overwrite, delete, make a folder, move (services check
    /// `--upload` and `--overwrite` first).
    Write,
}

/// The answer to "may this user do this to this path?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Answer as if the path did not exist (HTTP 404, `ERR 404`, TFTP error 1):
    /// a read nobody asking could be granted, or a read a logged-in user is
    /// not granted.
    NotFound,
    /// Not logged in, and some account may do this (for a read: read it, or
    /// list it on the way to its grants): HTTP 401 with `WWW-Authenticate`,
    /// `ERR 401`.
    Unauthorized,
    /// Logged in and not allowed to write here, or a write no account may do:
    /// HTTP 403, `ERR 403`, TFTP error 2.
    Forbidden,
}

impl Access {
    /// No `--auth`: anyone reads, and writes depend only on `--upload`.
    pub fn open() -> Access {
        Access {
            open: true,
            accounts: Vec::new(),
            anonymous: Vec::new(),
            cache: LoginCache::new(),
        }
    }

    /// Parses `--auth` values and `--auth-file` lines (blank lines and lines
    /// starting with `#` are skipped). The result is never open, even with no
    /// rule at all: then nothing is granted. Errors name the rule (by its
    /// 1-based position among the lines given) and say why.
    pub fn parse<I, S>(rules: I) -> Result<Access, RuleError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut access = Access {
            open: false,
            accounts: Vec::new(),
            anonymous: Vec::new(),
            cache: LoginCache::new(),
        };
        for (index, line) in rules.into_iter().enumerate() {
            let line = line.as_ref().trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let number = index + 1;
            match rules::parse_rule(line).map_err(|why| RuleError::new(number, line, why))? {
                Rule::Anonymous(grants) => access.anonymous.extend(grants),
                Rule::Account {
                    name,
                    password,
                    grants,
                } => access.add_account(number, line, name, &password, grants)?,
            }
        }
        Ok(access)
    }

    /// Adds a rule's grants to an account, making it on its first rule.
    fn add_account(
        &mut self,
        number: usize,
        line: &str,
        name: String,
        password: &str,
        grants: Vec<Grant>,
    ) -> Result<(), RuleError> {
        if let Some(account) = self.accounts.iter_mut().find(|a| *a.name == *name) {
            if !account.secret.is_spelled(password) {
                return Err(RuleError::new(
                    number,
                    line,
                    format!("user {name:?} already has another password"),
                ));
            }
            account.grants.extend(grants);
            return Ok(());
        }
        let secret = Secret::parse(password).map_err(|why| RuleError::new(number, line, why))?;
        self.accounts.push(Account {
            name: name.into(),
            secret,
            grants,
        });
        Ok(())
    }

    /// Whether there are no rules at all (no `--auth`).
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Whether logging in could ever help: some account exists.
    pub fn has_accounts(&self) -> bool {
        !self.accounts.is_empty()
    }

    /// Checks a user name and password. Argon2 verification is slow by
    /// design; a successful one is remembered (by a keyed SHA-256 of the
    /// password, never the password itself) so a keep-alive client sending
    /// the same credentials with every request pays for it once. An unknown
    /// name costs a verification too, so names cannot be told from timing.
    pub fn login(&self, user: &str, password: &str) -> Option<User> {
        let Some(index) = self.accounts.iter().position(|a| *a.name == *user) else {
            // Spend what a wrong password would, then fail.
            if let Some(account) = self.accounts.iter().find(|a| a.secret.is_hashed()) {
                let _ = account.secret.verify(password.as_bytes());
            }
            return None;
        };
        let account = &self.accounts[index];
        if !account.secret.is_hashed() {
            return account
                .secret
                .verify(password.as_bytes())
                .then(|| self.user(index));
        }
        if self.cache.contains(index, password.as_bytes()) {
            return Some(self.user(index));
        }
        if account.secret.verify(password.as_bytes()) {
            self.cache.insert(index, password.as_bytes());
            return Some(self.user(index));
        }
        None
    }

    fn user(&self, index: usize) -> User {
        User {
            name: self.accounts[index].name.clone(),
            index,
        }
    }

    /// May `who` (`None`: not logged in) do `op` to `path`? `path` is
    /// relative to the served root, `/`-separated, `""` (or `/`) for the root
    /// itself; leading, trailing and doubled slashes and `.` components are
    /// ignored, and a path with a `..` component is granted to nobody.
    pub fn decide(&self, who: Option<&User>, op: Op, path: &str) -> Decision {
        if self.open {
            return Decision::Allow;
        }
        let Some(path) = rules::components(path) else {
            return self.refusal(who, op, false);
        };
        if self.grants(who).any(|g| g.allows(op, &path)) {
            return Decision::Allow;
        }
        // Logging in helps a read of a folder on the way to an account's
        // grant too: its listing would show the way (and a browser must be
        // asked for a login at `/` when only `/team` is granted).
        let account_could = self.accounts.iter().any(|a| {
            a.grants.iter().any(|g| match op {
                Op::Read => g.reaches(&path),
                Op::Write => g.allows(op, &path),
            })
        });
        self.refusal(who, op, account_could)
    }

    /// What to answer when `who` is not granted `op`.
    fn refusal(&self, who: Option<&User>, op: Op, account_could: bool) -> Decision {
        match (who, op) {
            (None, _) if account_could => Decision::Unauthorized,
            (_, Op::Read) => Decision::NotFound,
            (_, Op::Write) => Decision::Forbidden,
        }
    }

    /// Whether `who` may list `folder` because it lies on the way to (or
    /// inside) something `who` may read: a listing of it then shows only the
    /// entries for which [`Access::visible`] is true. True whenever
    /// `decide(who, Read, folder)` allows.
    pub fn may_traverse(&self, who: Option<&User>, folder: &str) -> bool {
        if self.open {
            return true;
        }
        let Some(folder) = rules::components(folder) else {
            return false;
        };
        self.grants(who).any(|g| g.reaches(&folder))
    }

    /// Whether an entry (file or folder, by its path from the root) appears in
    /// `who`'s listings: it is readable, or leads to something readable.
    pub fn visible(&self, who: Option<&User>, path: &str) -> bool {
        self.may_traverse(who, path)
    }

    /// `who`'s grants: their own and everyone's.
    fn grants<'a>(&'a self, who: Option<&User>) -> impl Iterator<Item = &'a Grant> + 'a {
        let own = who
            .and_then(|u| self.accounts.get(u.index))
            .map(|a| a.grants.as_slice())
            .unwrap_or_default();
        own.iter().chain(self.anonymous.iter())
    }
}

impl fmt::Debug for Access {
    /// Names and grants, never secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let accounts: Vec<_> = self
            .accounts
            .iter()
            .map(|a| (&*a.name, &a.grants))
            .collect();
        f.debug_struct("Access")
            .field("open", &self.open)
            .field("accounts", &accounts)
            .field("anonymous", &self.anonymous)
            .finish_non_exhaustive()
    }
}
