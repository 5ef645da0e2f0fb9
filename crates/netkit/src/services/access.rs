//! The access rules and the failed-login counters of one process, made once
//! from `--auth` / `--auth-file` and handed to every sharing service (see
//! `netkit_proto::access`), plus the warnings a user needs at start.
//!
//! ```text
//!   ShareArgs ── load ──▶ Gate { Arc<Access>, Guessing } ──▶ http / files / tftp builders
//!                              └ Guessing in shared memory under --model fork
//! ```

use crate::cli::share_args::ShareArgs;
use netkit_drivers::shared_memory::SharedMemory;
use netkit_drivers::Model;
use netkit_proto::access::{Access, FailureStore, FailureTable, Guessing, RuleError};
use std::path::PathBuf;
use std::sync::Arc;

/// What every sharing service of a process asks before serving: the rules,
/// and the failed logins per address. Clones share both.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The parsed rules (open without `--auth`).
    pub access: Arc<Access>,
    /// Failed logins per address, seen by every service (and every forked
    /// child) of this process.
    pub guessing: Guessing,
}

impl Gate {
    /// No rules: anyone reads; counters in this process.
    pub fn open() -> Self {
        Self {
            access: Arc::new(Access::open()),
            guessing: Guessing::new(),
        }
    }
}

/// Why the rules could not be loaded: a usage error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `--auth-file` could not be read.
    #[error("cannot read --auth-file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A rule is malformed: which one (an `--auth` value by its place
    /// among them, or a line of `--auth-file`), and why.
    #[error("{0}")]
    Rule(String),
}

/// Parses `--auth` values, then `--auth-file` lines, into one [`Gate`] for
/// services run under `model`. Without either flag the share is open.
/// Rules are numbered in that order (the `--auth` values, then the file's
/// lines), so an error names the one to fix.
pub fn load(share: &ShareArgs, model: Model) -> Result<Gate, LoadError> {
    let access = if share.auth.is_empty() && share.auth_file.is_none() {
        Access::open()
    } else {
        let mut rules = share.auth.clone();
        if let Some(path) = &share.auth_file {
            let text = std::fs::read_to_string(path).map_err(|source| LoadError::File {
                path: path.clone(),
                source,
            })?;
            rules.extend(text.lines().map(str::to_owned));
        }
        Access::parse(&rules).map_err(|e| LoadError::Rule(locate(e, share)))?
    };
    Ok(Gate {
        access: Arc::new(access),
        guessing: guessing(model),
    })
}

/// Names a bad rule as its user would look for it: `--auth` values by their
/// place, `--auth-file` lines as `FILE:LINE`.
fn locate(e: RuleError, share: &ShareArgs) -> String {
    match (&share.auth_file, e.number.checked_sub(share.auth.len())) {
        (Some(path), Some(line)) if line > 0 => {
            format!(
                "{}:{line}: access rule {}: {}",
                path.display(),
                e.rule,
                e.why
            )
        }
        _ => e.to_string(),
    }
}

/// The counters where every worker of `model` sees them: memory the children
/// share under `--model fork`, this process's heap otherwise.
fn guessing(model: Model) -> Guessing {
    if model != Model::Fork {
        return Guessing::new();
    }
    match ForkFailures::new() {
        Ok(store) => Guessing::with_store(Arc::new(store)),
        // Serving goes on; each child then counts only its own connection's
        // failures, which a new connection per attempt defeats: say so.
        Err(e) => {
            tracing::warn!("shared memory for failed-login counters: {e}; the guessing limit holds per connection only");
            Guessing::new()
        }
    }
}

/// A [`FailureTable`] in memory that `--model fork`'s children share.
struct ForkFailures(SharedMemory<FailureTable>);

impl ForkFailures {
    fn new() -> std::io::Result<Self> {
        // SAFETY: `FailureTable` is a `#[repr(C)]` array of atomics only,
        // changed only through `&self` (its documented promise), so its whole
        // state is in the shared bytes.
        unsafe { SharedMemory::new(FailureTable::new()) }.map(Self)
    }
}

impl FailureStore for ForkFailures {
    fn table(&self) -> &FailureTable {
        &self.0
    }
}

/// Warns (once, at start) that passwords sent to a listener that is not TLS
/// cross the network readable by anyone on the way. `http serve`, `files
/// serve` and `up` call it for the listeners that take logins; `tls` says
/// whether they are TLS (then nothing is said).
pub fn warn_if_passwords_in_clear(gate: &Gate, tls: bool) {
    if gate.access.has_accounts() && !tls {
        tracing::warn!(
            "--auth without TLS (plain HTTP, files): passwords cross the network in the clear; anyone on the way can read them"
        );
    }
}

/// Warns (once, at start) that `--upload` without `--auth` lets anyone who
/// reaches the server write to the share.
pub fn warn_if_anyone_writes(share: &ShareArgs, gate: &Gate) {
    if share.upload && gate.access.is_open() {
        tracing::warn!("--upload without --auth: anyone on the network can write to this share");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use netkit_proto::access::{Decision, Op};

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        share: ShareArgs,
    }

    fn share(args: &[&str]) -> ShareArgs {
        let args = ["netkit"].iter().chain(args);
        Flags::try_parse_from(args).expect("parses").share
    }

    #[test]
    fn no_flag_is_open_and_rules_from_flags_and_file_add_up() {
        let gate = load(&share(&[]), Model::Thread).expect("loads");
        assert!(gate.access.is_open());
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("rules");
        std::fs::write(&file, "# team\n\nbob:b@/b:rw\n").expect("written");
        let file = file.to_str().expect("utf-8");
        let gate = load(
            &share(&["--auth", "@/pub", "--auth-file", file]),
            Model::Fork,
        )
        .expect("loads");
        let bob = gate.access.login("bob", "b").expect("bob from the file");
        assert_eq!(
            gate.access.decide(Some(&bob), Op::Write, "b/x"),
            Decision::Allow
        );
        assert_eq!(gate.access.decide(None, Op::Read, "pub/x"), Decision::Allow);
    }

    #[test]
    fn errors_name_the_rule_or_the_file() {
        let err = load(&share(&["--auth", "@/a", "--auth", "bob@/"]), Model::Thread)
            .expect_err("a bad rule");
        assert!(err.to_string().contains("access rule 2"), "{err}");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("rules");
        std::fs::write(&file, "# team\n@/ok\nbob:@/\n").expect("written");
        let file = file.to_str().expect("utf-8");
        let err = load(
            &share(&["--auth", "@/a", "--auth-file", file]),
            Model::Thread,
        )
        .expect_err("a bad line");
        assert!(err.to_string().starts_with(&format!("{file}:3: ")), "{err}");
        assert!(err.to_string().contains("empty password"), "{err}");
        let err = load(
            &share(&["--auth-file", "/nonexistent/rules"]),
            Model::Thread,
        )
        .expect_err("no file");
        assert!(err.to_string().contains("/nonexistent/rules"), "{err}");
    }
}
