//! HTTP/1.1 static-file service (`netkit http serve`): GET/HEAD of files and
//! listings, conditional and range requests, uploads, `/_netkit/stats`.
//!
//! ```text
//!   bytes ──▶ request::parse_head ──▶ Head (borrowed from the input, no copies)
//!                 │ 400/414/431/505          │
//!                 ▼                          ▼
//!            error reply            session::HttpSession::dispatch
//!                                     ├ GET/HEAD ─▶ static_files (files, index.html,
//!                                     │              304, 206/416, .br/.gz siblings)
//!                                     │              └▶ listing (HTML / JSON, ?sort=)
//!                                     ├ GET/HEAD /dir/?zip ─▶ zip (the streaming archive)
//!                                     ├ GET/HEAD /dir/?q=  ─▶ search (bounded walk)
//!                                     ├ PUT ──────▶ upload (Content-Length or chunked
//!                                     │              body → Root::create_atomic)
//!                                     ├ DELETE, OPTIONS, /_netkit/stats
//!                                     ├ a program's own routes ─▶ extension
//!                                     │   (bytes, or an event stream)
//!                                     ▼
//!                                   Reply ──▶ response::write_head + body
//!                                             (small files inline, large ones as a
//!                                              FileChunk for sendfile)
//! ```
//!
//! Everything outside one connection lives in [`HttpService`]: the served
//! [`Root`], the [`HttpConfig`], and what whoever runs the service hands it in
//! an [`HttpContext`] — the instant uptime counts from, the [`WallClock`] (for
//! `Date` and log lines, asked at most once a second with the `Instant` the
//! session was told), where the [`Stats`] counters live (process memory, or
//! memory forked children share), the [`FileCache`] of open files every
//! session shares, and the access log sink. The protocol makes none of them:
//! it reads no clock, keeps nothing per thread and knows nothing of processes.
//!
//! Everything the server adds lives under `/_netkit/` ([`STATS_PATH`],
//! [`LOGIN_PATH`], and the routes of `netkit up`'s web page), so a real file
//! anywhere else is never hidden.
//!
//! Accounts (`--auth`): the context hands the service the [`Access`] rules and
//! the [`Guessing`] counts every service of the process shares. Each request
//! may log in with HTTP Basic (RFC 7617, `login.rs`); the session keeps the
//! last header that did, so a keep-alive client pays for one password check.
//! Its path and verb then go to the access layer through a [`Visitor`]
//! (`visitor.rs`), which the listings and the extension ask too: 401 with the
//! challenge where logging in would help, 403 for a user the rules refuse,
//! 404 otherwise; ten wrong passwords from an address within a minute make
//! every request from it a 429 until the minute ends. The counters and the
//! web page's routes follow the rule of the share's root: whoever may list
//! `/` (or pass through it to a folder of theirs) may see them. Browsers are kept from turning the share against its visitors:
//! every reply says `X-Content-Type-Options: nosniff`; with uploads or the web
//! page, files and listings come with `Content-Security-Policy: sandbox
//! allow-scripts …` (a page from the share runs in an origin of its own); with the web page, a
//! state-changing request from another origin is a 403 (`Origin` against
//! `Host`). `DELETE` needs `--overwrite` as well as `--upload` (without it a
//! share only grows), and a redirect never names another host (`//evil.com`).
//!
//! Message rules, chosen and tested (RFC 9112):
//! - A bare LF ends a line like CRLF does (§2.2 allows it); a bare CR is a 400.
//! - obs-fold (a header line starting with a space or tab) is rejected with 400
//!   (§5.2 lets a server reject it or unfold it; rejecting is the safe choice).
//! - `Host` must be a valid `host[:port]` (reg-name, IPv4 or `[IPv6]`), else 400.
//! - Content-Length must be plain digits; repeated values must agree; together
//!   with Transfer-Encoding it is a 400. Transfer-Encoding must be exactly
//!   `chunked` (HTTP/1.1 only). Every framing error closes the connection.

mod cache;
mod clock;
mod dav;
mod destination;
pub mod extension;
pub mod listing;
mod login;
mod query;
mod request;
mod response;
mod search;
mod session;
mod sort;
mod static_files;
mod stats;
mod target;
mod upload;
mod verbs;
mod visitor;
mod zip;

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod extension_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod verbs_tests;

pub use cache::FileCache;
pub use clock::{AnchoredClock, WallClock};
pub use session::HttpSession;
pub use stats::{Counters, Snapshot, Stats};
pub use visitor::Visitor;

use crate::access::{Access, Guessing};
use crate::root::Root;
use crate::Service;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the server's counters are read (JSON).
pub const STATS_PATH: &str = "/_netkit/stats";

/// Where a browser is asked to log in (`?to=/path` says where to go back):
/// 401 until it sends credentials that log in, then a redirect.
pub const LOGIN_PATH: &str = "/_netkit/login";

/// Settings of an HTTP server (the `netkit http serve` flags).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Accept PUT and DELETE.
    pub upload: bool,
    /// PUT may replace an existing file.
    pub overwrite: bool,
    /// Largest accepted upload body, in bytes.
    pub max_upload: u64,
    /// Add CORS headers and answer preflight requests.
    pub cors: bool,
    /// How long a client may take to send a request head (and between body reads).
    pub header_timeout: Duration,
    /// How long an idle keep-alive connection is kept.
    pub keepalive_timeout: Duration,
    /// Connections beyond this many are answered 503 and closed.
    pub max_connections: Option<usize>,
    /// The concurrency model's name, reported by `/_netkit/stats`.
    pub model: String,
    /// Keep WebDAV dead properties in the folder sidecar even where the file
    /// system has extended attributes (for tests of the fallback; the
    /// binary sets it from `NETKIT_DAV_SIDECAR_ONLY=1`).
    pub dav_sidecar_only: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            upload: false,
            overwrite: false,
            max_upload: 1 << 30,
            cors: false,
            // nginx's client_header_timeout and keepalive_timeout.
            header_timeout: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(75),
            max_connections: None,
            model: String::new(),
            dav_sidecar_only: false,
        }
    }
}

pub use crate::access_log::AccessLog;
pub use dav::{LockStore, LockTable};
pub(crate) use response::{clf_date, push_escaped, push_u64};

/// What an HTTP service is given by whoever runs it (the binary, a test):
/// its time, where its counters live, its open-file cache and its access log.
/// The protocol makes none of these itself.
pub struct HttpContext {
    /// The instant uptime counts from.
    pub started: Instant,
    /// The wall clock, for `Date` and log lines.
    pub clock: Arc<dyn WallClock>,
    /// Where the counters live: [`Counters`] in this process for models whose
    /// workers are threads; memory the children share for `--model fork`.
    pub stats: Arc<dyn Stats>,
    /// The open files every session of the service shares.
    pub cache: FileCache,
    /// Where access log lines go (`None`: no access log).
    pub log: Option<Arc<dyn AccessLog>>,
    /// The accounts and rules (`--auth`): who may read and write what.
    pub access: Arc<Access>,
    /// The failed logins per address, shared with the other services of the
    /// process (a clone counts into the same table) so guessing on one counts
    /// on all.
    pub guessing: Guessing,
    /// Where WebDAV's lock table lives: this process's heap for models whose
    /// workers are threads; memory the children share for `--model fork`.
    pub locks: Arc<dyn LockStore>,
}

impl HttpContext {
    /// A context with counters in this process, an empty cache and no
    /// access log.
    pub fn new(started: Instant, clock: Arc<dyn WallClock>) -> Self {
        Self {
            started,
            clock,
            stats: Arc::new(Counters::default()),
            cache: FileCache::new(),
            log: None,
            access: Arc::new(Access::open()),
            guessing: Guessing::new(),
            locks: Arc::new(LockTable::boxed()),
        }
    }
}

impl std::fmt::Debug for HttpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpContext")
            .field("started", &self.started)
            .field("stats", &self.stats.counters().snapshot())
            .field("log", &self.log.is_some())
            .finish_non_exhaustive()
    }
}

/// State shared by every session.
pub(crate) struct Shared {
    pub(crate) root: Root,
    pub(crate) config: HttpConfig,
    pub(crate) started: Instant,
    pub(crate) clock: Arc<dyn WallClock>,
    pub(crate) stats: Arc<dyn Stats>,
    pub(crate) cache: FileCache,
    pub(crate) log: Option<Arc<dyn AccessLog>>,
    pub(crate) access: Arc<Access>,
    pub(crate) guessing: Guessing,
    /// `Allow` header value for this configuration.
    pub(crate) allow: &'static str,
    /// Routes the program added (`netkit up`'s web app), if any.
    pub(crate) ext: Option<Arc<dyn extension::Extension>>,
    /// CRCs of files already sent in archives (a resumed archive needs them).
    pub(crate) zip_crcs: zip::crc::CrcCache,
    /// WebDAV's lock table (see `dav/lock.rs`).
    pub(crate) locks: dav::Locks,
}

impl Shared {
    /// The counters to bump.
    pub(crate) fn counters(&self) -> &Counters {
        self.stats.counters()
    }
}

/// Makes HTTP sessions; shared by every worker.
pub struct HttpService {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HttpService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpService")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl HttpService {
    /// A service serving `root` with what `context` hands it.
    pub fn new(root: Root, config: HttpConfig, context: HttpContext) -> Self {
        Self::with_extension(root, config, context, None)
    }

    /// The same, with an [`extension::Extension`] owning some paths.
    pub fn with_extension(
        root: Root,
        config: HttpConfig,
        context: HttpContext,
        ext: Option<Arc<dyn extension::Extension>>,
    ) -> Self {
        let allow = if config.upload && config.overwrite {
            "GET, HEAD, OPTIONS, PUT, DELETE, MKCOL, COPY, MOVE"
        } else if config.upload {
            "GET, HEAD, OPTIONS, PUT, MKCOL, COPY"
        } else {
            "GET, HEAD, OPTIONS"
        };
        let HttpContext {
            started,
            clock,
            stats,
            cache,
            log,
            access,
            guessing,
            locks,
        } = context;
        Self {
            shared: Arc::new(Shared {
                root,
                config,
                started,
                clock,
                stats,
                cache,
                log,
                access,
                guessing,
                allow,
                ext,
                zip_crcs: Default::default(),
                locks: dav::Locks::new(locks, started),
            }),
        }
    }

    /// The counters, as `/_netkit/stats` reports them.
    pub fn stats(&self) -> Snapshot {
        self.shared.counters().snapshot()
    }
}

impl Service for HttpService {
    type Session = HttpSession;

    fn new_session(&self, peer: Option<SocketAddr>, now: Instant) -> HttpSession {
        let open = self.shared.counters().opened();
        let over = self
            .shared
            .config
            .max_connections
            .is_some_and(|max| open > max);
        HttpSession::new(Arc::clone(&self.shared), peer, now, over)
    }
}
