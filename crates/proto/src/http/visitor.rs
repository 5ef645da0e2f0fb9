//! Who sent a request and what the share lets them do: the one place HTTP
//! asks the [`Access`] layer its question ("may this user do this to this
//! path?"), for the files, the listings and the web page alike.
//!
//! A [`Visitor`] is made per request (it borrows; nothing is allocated). It
//! answers with the same [`Decision`] the files protocol and TFTP get, so
//! the services cannot disagree; what it adds is HTTP's view of it:
//! - `--upload` is the master switch and `--overwrite` guards deleting, on top
//!   of the rules ([`Visitor::may_upload`], [`Visitor::may_delete`]);
//! - a folder the visitor may not read but that leads to one they may is
//!   listed, showing only the way there ([`Visitor::may_list`],
//!   [`Visitor::shows`]);
//! - the web page and its routes follow the rule of the share's root: whoever
//!   may list `/` may use the page ([`Visitor::may_use_page`]).
//!
//! Without `--auth` the access layer is open and every answer is yes.

use crate::access::{Access, Decision, Op, User};
use crate::root::RelPath;

/// The visitor of one request. Handed to the program's extension too.
#[derive(Debug, Clone, Copy)]
pub struct Visitor<'a> {
    access: &'a Access,
    who: Option<&'a User>,
    upload: bool,
    overwrite: bool,
}

/// The path the access layer is asked about: root-relative, `/`-separated
/// (the root is empty).
pub(crate) fn access_path(rel: &RelPath) -> String {
    rel.to_string()
}

impl<'a> Visitor<'a> {
    /// `who` (none: anonymous) in a share with these rules and switches.
    pub(crate) fn new(
        access: &'a Access,
        who: Option<&'a User>,
        upload: bool,
        overwrite: bool,
    ) -> Self {
        Visitor {
            access,
            who,
            upload,
            overwrite,
        }
    }

    /// The logged-in user's name (`None`: anonymous).
    pub fn user(&self) -> Option<&'a str> {
        self.who.map(User::name)
    }

    /// Whether the share has accounts to log in to (so a login could help).
    pub fn has_accounts(&self) -> bool {
        self.access.has_accounts()
    }

    /// The access layer's answer for `op` on `path` (root-relative, `/`-separated).
    pub fn decide(&self, op: Op, path: &str) -> Decision {
        self.access.decide(self.who, op, path)
    }

    /// Whether the visitor may read `path` (a file, or a folder and all below it).
    pub fn may_read(&self, path: &str) -> bool {
        self.decide(Op::Read, path) == Decision::Allow
    }

    /// Whether the folder `path` may be listed: readable, or on the way to a
    /// folder that is (then its listing shows only that way).
    pub fn may_list(&self, path: &str) -> bool {
        self.access.may_traverse(self.who, path)
    }

    /// Whether an entry `name` of the folder `folder` appears in its listing:
    /// it is readable, or leads to something that is.
    pub fn shows(&self, folder: &str, name: &str) -> bool {
        if self.access.is_open() {
            return true;
        }
        if folder.is_empty() {
            self.access.visible(self.who, name)
        } else {
            self.access.visible(self.who, &format!("{folder}/{name}"))
        }
    }

    /// Whether the visitor may create files in `folder` (`--upload` and a
    /// rule that lets them write there).
    pub fn may_upload(&self, folder: &str) -> bool {
        self.upload && self.decide(Op::Write, folder) == Decision::Allow
    }

    /// Whether the visitor may replace or delete files in `folder` (also
    /// `--overwrite`).
    pub fn may_delete(&self, folder: &str) -> bool {
        self.overwrite && self.may_upload(folder)
    }

    /// Whether the visitor may use the web page and its routes: they may list
    /// the share's root.
    pub fn may_use_page(&self) -> bool {
        self.access.is_open() || self.may_list("")
    }

    /// Why the page is refused: 401 to the anonymous where an account could
    /// help, 403 to a user with no folder at all.
    pub(crate) fn page_refusal(&self) -> Decision {
        if self.who.is_none() && self.has_accounts() {
            Decision::Unauthorized
        } else {
            Decision::Forbidden
        }
    }
}
