//! One builder per service, used by its `… serve` command and by `netkit up`
//! alike, so the two cannot drift: the same settings from the same flags, the
//! same digest pool, signals, idle time-outs, access log and counters.
//!
//! ```text
//!   cli/<command>.rs ── parse flags ──┐
//!                                     ├──▶ services::<name>::… ──▶ Arc<Service>
//!   up.rs ── UpConfig ────────────────┘        (then bind, announce, serve)
//! ```
//!
//! A builder takes the shared flag groups of [`crate::cli::share_args`] (or a
//! plain config) and what the binary hands every service: the open folder
//! ([`open_share`]) and the access log ([`access_log`]). Adding a service is
//! one module in `netkit_proto`, one file here, one CLI file.

pub mod access;
pub(crate) mod access_log;
pub mod chat;
mod digest;
pub mod echo;
pub mod files;
pub mod http;
pub mod tftp;

use crate::cli::share_args::ShareArgs;
use anyhow::{Context, Result};
use netkit_drivers::Model;
use netkit_proto::root::Root;
use std::path::Path;

/// The shared folder as every sharing service opens it: dot-files only with
/// `--hidden`, and, when it takes uploads, the unfinished uploads an earlier
/// run left removed (a failure to remove them is logged, not fatal: serving
/// works without it).
/// (Every netkit process ignores SIGXFSZ from its start: see
/// [`ignore_sigxfsz`].)
pub fn open_share(dir: &Path, share: &ShareArgs) -> Result<Root> {
    let root = reopen_share(dir, share)?;
    // The sweep walks the whole tree: only a share that takes uploads needs
    // it (a read-only one never shows or serves a temporary anyway).
    if share.upload {
        match root.remove_stale_temporaries() {
            Ok(0) => {}
            Ok(n) => tracing::info!("removed {n} unfinished upload(s) left by an earlier run"),
            Err(e) => tracing::warn!("removing stale upload temporaries: {e}"),
        }
    }
    Ok(root)
}

/// The shared folder once more, for a further service of the same process
/// (`up`): as [`open_share`], without the clean-up it already did.
pub fn reopen_share(dir: &Path, share: &ShareArgs) -> Result<Root> {
    Ok(Root::open(dir)
        .with_context(|| format!("cannot share {}", dir.display()))?
        .with_hidden(share.hidden))
}

/// Makes a file-size limit (RLIMIT_FSIZE, inherited by forked children) fail
/// one upload with EFBIG (HTTP 507, `ERR 507`, TFTP error 3) instead of killing
/// the server with SIGXFSZ. Process-wide and set first thing, before any
/// write: a log line to a stderr that is a file past the limit would
/// otherwise kill the process before it serves anyone.
pub fn ignore_sigxfsz() -> Result<()> {
    // SAFETY: SIG_IGN installs no handler code.
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGXFSZ,
            nix::sys::signal::SigHandler::SigIgn,
        )
    }
    .context("ignoring SIGXFSZ")?;
    Ok(())
}

/// The access log for services run under `model` (none with `--quiet`): a
/// forked child exits without running a flusher, so under `--model fork`
/// every line is written at once; every other model buffers.
pub(crate) fn open_log(share: &ShareArgs, model: Model) -> Option<access_log::Log> {
    access_log::open(share.quiet, model != Model::Fork)
}
