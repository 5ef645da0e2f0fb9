//! The HTTP service (`netkit http serve`, `netkit up`): its settings from the
//! shared flags, and what the binary hands it — the system's wall clock, the
//! access log, and the service's counters where every worker of the chosen
//! model reaches them: this process's memory for models whose workers are
//! threads, memory the children share for `--model fork`
//! ([`netkit_drivers::shared_memory`]). The protocol asks for none of them: it
//! is given them (see `netkit_proto::http::HttpContext`).

use super::access::Gate;
use super::access_log::Log;
use crate::cli::share_args::{HttpArgs, IdleArgs, ShareArgs, NEVER};
use netkit_drivers::shared_memory::SharedMemory;
use netkit_drivers::{Listener, Model};
use netkit_proto::http::extension::Extension;
use netkit_proto::http::{
    Counters, HttpConfig, HttpContext, HttpService, LockStore, LockTable, Stats, WallClock,
};
use netkit_proto::root::Root;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The HTTP port (80 needs root).
pub const DEFAULT_PORT: u16 = 8000;

/// How long an idle keep-alive connection is kept by default (nginx's).
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(75);

/// The HTTP settings the shared flags ask for.
pub fn config(share: &ShareArgs, http: &HttpArgs, idle: IdleArgs, model: Model) -> HttpConfig {
    HttpConfig {
        upload: share.upload,
        overwrite: share.overwrite,
        max_upload: share.max_upload.unwrap_or(u64::MAX),
        cors: http.cors,
        header_timeout: http.header_timeout,
        keepalive_timeout: idle.or(KEEPALIVE_TIMEOUT).unwrap_or(NEVER),
        max_connections: http.max_connections,
        model: model.name().to_owned(),
        // For tests only: the dead-property sidecar without extended attributes.
        dav_sidecar_only: std::env::var_os("NETKIT_DAV_SIDECAR_ONLY").is_some_and(|v| v == "1"),
    }
}

/// The client speaks first: accept a connection once its request is there
/// (one wake-up per connection; a silent one is handed over after ~1 s and
/// then meets `--header-timeout`). Best effort: serving works without it.
pub(crate) fn defer_accept(listeners: &[Listener]) {
    for listener in listeners {
        if let Err(e) = listener.defer_accept(1) {
            tracing::debug!("TCP_DEFER_ACCEPT: {e}");
        }
    }
}

/// The HTTP service over `root` under `model`: the wall clock, counters every
/// worker of `model` shares (uptime from now), the access log when there is
/// one, `extension` (`up`'s web app) when given, and `gate`: the access
/// rules and failed-login counters shared with the process's other services,
/// which every request's HTTP Basic login and path are checked against.
pub(crate) fn service(
    root: Root,
    config: HttpConfig,
    model: Model,
    log: Option<&Log>,
    extension: Option<Arc<dyn Extension>>,
    gate: &Gate,
) -> Arc<HttpService> {
    let mut context = context(model, Instant::now());
    context.log = log.map(Log::sink);
    context.access = Arc::clone(&gate.access);
    context.guessing = gate.guessing.clone();
    Arc::new(HttpService::with_extension(
        root, config, context, extension,
    ))
}

/// The context for a service run under `model`, uptime counted from
/// `started`; no access log (the caller adds one).
pub fn context(model: Model, started: Instant) -> HttpContext {
    let mut context = HttpContext::new(started, Arc::new(SystemClock));
    if model == Model::Fork {
        match ForkStats::new() {
            Ok(stats) => context.stats = Arc::new(stats),
            // Serving goes on; the counters then cover one child each.
            Err(e) => tracing::warn!("shared memory for the counters: {e}"),
        }
        match ForkLocks::new() {
            Ok(locks) => context.locks = Arc::new(locks),
            // Serving goes on; each child's locks then guard only its own
            // connection: say so.
            Err(e) => tracing::warn!(
                "shared memory for the WebDAV lock table: {e}; locks hold per connection only"
            ),
        }
    }
    context
}

/// WebDAV's [`LockTable`] in memory that `--model fork`'s children share.
struct ForkLocks(SharedMemory<LockTable>);

impl ForkLocks {
    fn new() -> std::io::Result<Self> {
        // SAFETY: all zeros is an empty `LockTable` (its documented
        // promise), and its whole state is in its own bytes: plain data
        // changed under the spin lock in its first word, no pointer inside.
        unsafe { SharedMemory::zeroed() }.map(Self)
    }
}

impl LockStore for ForkLocks {
    fn table(&self) -> &LockTable {
        &self.0
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn wall_time(&self, _now: Instant) -> SystemTime {
        SystemTime::now()
    }
}

/// [`Counters`] in memory that `--model fork`'s children share.
#[derive(Debug)]
pub struct ForkStats(SharedMemory<Counters>);

impl ForkStats {
    /// Maps the counters (all zero).
    pub fn new() -> std::io::Result<Self> {
        // SAFETY: `Counters` is a `#[repr(C)]` struct of atomics only, changed
        // only through `&self` (its documented promise), so its whole state
        // is in the shared bytes.
        unsafe { SharedMemory::new(Counters::default()) }.map(Self)
    }
}

impl Stats for ForkStats {
    fn counters(&self) -> &Counters {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::http::HttpCommand;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    /// `up` without `--idle-timeout` keeps HTTP connections
    /// [`KEEPALIVE_TIMEOUT`]: it must be what `http serve` keeps them.
    #[test]
    fn up_keeps_idle_connections_as_http_serve_does_by_default() {
        let cli = Cli::try_parse_from(["netkit", "http", "serve"]).expect("parses");
        let Command::Http(HttpCommand::Serve(args)) = cli.command else {
            panic!("not http serve");
        };
        assert_eq!(args.config().keepalive_timeout, KEEPALIVE_TIMEOUT);
    }
}
