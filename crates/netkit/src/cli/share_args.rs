//! The flags of every command that shares a folder (`http serve`, `files
//! serve`, `tftp serve`, `up`), declared once so they read and mean the same
//! everywhere; and HTTP's own tuning flags, shared by `http serve` and `up`.

use super::values::{duration, positive, positive_duration, size, usage_error};
use crate::services::access::{self, Gate};
use clap::error::ErrorKind;
use clap::Args;
use netkit_drivers::Model;
use std::path::PathBuf;
use std::time::Duration;

/// What a shared folder allows, and whether transfers are logged.
#[derive(Debug, Clone, Args)]
pub struct ShareArgs {
    /// Accept uploads (HTTP PUT and DELETE, files PUT, TFTP WRQ).
    #[arg(long)]
    pub upload: bool,
    /// Let an upload replace an existing file (with --upload).
    #[arg(long)]
    pub overwrite: bool,
    /// Largest upload accepted, e.g. 512K, 100M, 2G (bytes without a suffix);
    /// without it, as large as the disk's free space.
    #[arg(long, value_name = "SIZE", value_parser = size)]
    pub max_upload: Option<u64>,
    /// Serve, list and accept dot-files (names starting with '.').
    #[arg(long)]
    pub hidden: bool,
    /// No access log (otherwise one line per request or transfer on stderr).
    #[arg(long, short)]
    pub quiet: bool,
    /// An access rule, repeatable: USER:PASSWORD@PATH[:rw][,PATH[:rw]...],
    /// or @PATH[:rw],... for anyone; without rules anyone reads. PASSWORD may
    /// be an Argon2id hash from `netkit passwd`.
    #[arg(long = "auth", value_name = "RULE")]
    pub auth: Vec<String>,
    /// A file of access rules, one a line ('#' comments).
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
}

impl ShareArgs {
    /// The access rules and failed-login counters for services run under
    /// `model` (see [`crate::services::access`]); a bad rule or an unreadable
    /// `--auth-file` is a usage error of `command` (exit 2). Also warns when
    /// `--upload` lets anyone write.
    pub(crate) fn gate(&self, model: Model, command: &[&str]) -> Gate {
        match access::load(self, model) {
            Ok(gate) => {
                access::warn_if_anyone_writes(self, &gate);
                gate
            }
            Err(e) => usage_error(command, ErrorKind::ValueValidation, &e.to_string()),
        }
    }
}

/// HTTP's limits and CORS.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Add CORS headers (any origin) and answer preflight requests.
    #[arg(long)]
    pub cors: bool,
    /// How long a client may take to send a request head (and between body reads).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = positive_duration)]
    pub header_timeout: Duration,
    /// Connections beyond this many are answered 503 and closed.
    #[arg(long, value_name = "N", value_parser = positive::<usize>)]
    pub max_connections: Option<usize>,
}

/// `--idle-timeout` as every service spells it: a duration, 0 for never.
/// `--keepalive-timeout` (HTTP's old name) is kept as a hidden alias.
#[derive(Debug, Clone, Copy, Args)]
pub struct IdleArgs {
    /// Close a connection idle this long (0: never); the default depends on the service.
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = duration,
        alias = "keepalive-timeout"
    )]
    pub idle_timeout: Option<Duration>,
}

impl IdleArgs {
    /// The idle time-out to use: the flag's, else `default`; `None` is never.
    pub fn or(self, default: Duration) -> Option<Duration> {
        Some(self.idle_timeout.unwrap_or(default)).filter(|d| !d.is_zero())
    }
}

/// A wait that never comes (an idle time-out of 0), for services that take a
/// plain duration: far off, yet far from overflowing an `Instant`.
pub const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);
