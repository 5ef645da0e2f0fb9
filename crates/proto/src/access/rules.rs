//! The rule syntax: `USER:PASSWORD@PATH[:rw][,PATH[:rw]…]` for an account,
//! `@PATH[:rw][,…]` for anyone without one.
//!
//! The user name ends at the first `:`; the password runs to the *last* `@`
//! (so it may hold `@`, `:` and the `,` of a PHC string), and the paths follow
//! it, split at `,`. A path therefore holds no `@` and no `,`. A path names a
//! folder under the root: `/` (or empty between slashes) is all of it,
//! `/pub`, `pub` and `pub/` are the same folder, and `..` is refused. A
//! trailing `:rw` grants writing too, `:ro` (or nothing) reading only.

use super::Op;
use std::fmt;

/// A rule that cannot be used: which one, and why. `netkit` reports it as a
/// usage error (exit 2) at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// 1-based position of the rule among the lines given to
    /// [`super::Access::parse`].
    pub number: usize,
    /// The rule, its password hidden.
    pub rule: String,
    /// What is wrong with it.
    pub why: String,
}

impl RuleError {
    pub(super) fn new(number: usize, rule: &str, why: impl Into<String>) -> Self {
        Self {
            number,
            rule: hide_password(rule),
            why: why.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "access rule {} ({}): {}",
            self.number, self.rule, self.why
        )
    }
}

impl std::error::Error for RuleError {}

/// `alice:secret@/pub` → `alice:***@/pub`: an error message may end up in a
/// log or on a shared screen.
fn hide_password(rule: &str) -> String {
    match (rule.find(':'), rule.rfind('@')) {
        (Some(colon), Some(at)) if colon < at => {
            format!("{}:***{}", &rule[..colon], &rule[at..])
        }
        (Some(colon), None) => format!("{}:***", &rule[..colon]),
        _ => rule.to_owned(),
    }
}

/// One parsed rule.
#[derive(Debug)]
pub(super) enum Rule {
    /// `@PATH…`: grants for anyone.
    Anonymous(Vec<Grant>),
    /// `USER:PASSWORD@PATH…`.
    Account {
        name: String,
        password: String,
        grants: Vec<Grant>,
    },
}

/// One folder a rule grants, and whether writing too.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Grant {
    /// The folder's components from the root; empty for the whole root.
    folder: Vec<String>,
    /// `:rw`.
    write: bool,
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = if self.write { ":rw" } else { "" };
        write!(f, "/{}{mode}", self.folder.join("/"))
    }
}

impl Grant {
    /// Whether this grant lets its holder do `op` to `path` (components).
    pub(super) fn allows(&self, op: Op, path: &[&str]) -> bool {
        (op == Op::Read || self.write) && self.covers(path)
    }

    /// `path` is the granted folder or below it.
    fn covers(&self, path: &[&str]) -> bool {
        path.len() >= self.folder.len() && self.folder.iter().zip(path).all(|(a, b)| a == b)
    }

    /// `path` is covered, or lies on the way to the granted folder.
    pub(super) fn reaches(&self, path: &[&str]) -> bool {
        self.folder.iter().zip(path).all(|(a, b)| a == b)
    }
}

/// Parses one rule (not blank, not a comment).
pub(super) fn parse_rule(rule: &str) -> Result<Rule, String> {
    let Some(at) = rule.rfind('@') else {
        return Err("no '@': expected USER:PASSWORD@PATH or @PATH".into());
    };
    let grants = parse_grants(&rule[at + 1..])?;
    let who = &rule[..at];
    if who.is_empty() {
        return Ok(Rule::Anonymous(grants));
    }
    let Some((name, password)) = who.split_once(':') else {
        return Err("no ':' between the user name and the password".into());
    };
    if name.is_empty() {
        return Err("empty user name".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("user name holds {c:?}; names hold no spaces"));
    }
    if password.is_empty() {
        return Err("empty password".into());
    }
    Ok(Rule::Account {
        name: name.to_owned(),
        password: password.to_owned(),
        grants,
    })
}

/// `PATH[:rw][,PATH[:rw]…]`.
fn parse_grants(list: &str) -> Result<Vec<Grant>, String> {
    if list.trim().is_empty() {
        return Err("no PATH after '@' (use '/' for the whole share)".into());
    }
    list.split(',').map(parse_grant).collect()
}

fn parse_grant(item: &str) -> Result<Grant, String> {
    let item = item.trim();
    let (path, write) = if let Some(path) = item.strip_suffix(":rw") {
        (path, true)
    } else if let Some(path) = item.strip_suffix(":ro") {
        (path, false)
    } else {
        (item, false)
    };
    if path.is_empty() {
        return Err(format!(
            "empty PATH in {item:?} (use '/' for the whole share)"
        ));
    }
    if path.contains(['\\', '\0']) {
        return Err(format!("PATH {path:?} holds a backslash or NUL"));
    }
    let Some(folder) = components(path) else {
        return Err(format!("PATH {path:?} holds '..'"));
    };
    Ok(Grant {
        folder: folder.into_iter().map(str::to_owned).collect(),
        write,
    })
}

/// A `/`-separated path as components: empty and `.` components dropped;
/// `None` when one is `..` (nothing is granted through a `..`).
pub(super) fn components(path: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part => parts.push(part),
        }
    }
    Some(parts)
}
