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
//!                                     │              └▶ listing (HTML / JSON)
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
//! [`Root`], the [`HttpConfig`], the statistics every worker updates with
//! atomics, and the access log sink. The wall clock (for `Date`,
//! `Last-Modified` comparisons and log lines) is a function in the config, so
//! tests can pin it; the session asks it at most once a second.
//!
//! Everything the server adds lives under `/_netkit/` ([`STATS_PATH`], and the
//! routes of `netkit up`'s web page), so a real file anywhere else is never
//! hidden. Browsers are kept from turning the share against its visitors:
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
pub mod extension;
mod listing;
mod request;
mod response;
mod session;
mod static_files;
mod stats;
mod upload;

#[cfg(test)]
mod extension_tests;
#[cfg(test)]
mod tests;

pub use session::HttpSession;
pub use stats::Stats;

use crate::root::Root;
use crate::Service;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Where the server's counters are read (JSON).
pub const STATS_PATH: &str = "/_netkit/stats";

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
    /// The wall clock (for `Date` and log lines).
    pub clock: fn() -> SystemTime,
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
            clock: SystemTime::now,
        }
    }
}

pub use crate::access_log::AccessLog;
pub(crate) use response::{clf_date, push_escaped, push_u64};

/// State shared by every session.
pub(crate) struct Shared {
    /// Unique per service, for the per-worker file cache.
    pub(crate) id: u64,
    pub(crate) root: Root,
    pub(crate) config: HttpConfig,
    pub(crate) stats: stats::SharedStats,
    pub(crate) log: Option<Arc<dyn AccessLog>>,
    pub(crate) started: Instant,
    /// `Allow` header value for this configuration.
    pub(crate) allow: &'static str,
    /// Routes the program added (`netkit up`'s web app), if any.
    pub(crate) ext: Option<Arc<dyn extension::Extension>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

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
    /// A service serving `root`; `started` is the instant uptime counts from;
    /// `log` receives access log lines (`None`: no access log).
    pub fn new(
        root: Root,
        config: HttpConfig,
        log: Option<Arc<dyn AccessLog>>,
        started: Instant,
    ) -> Self {
        Self::with_extension(root, config, log, started, None)
    }

    /// The same, with an [`extension::Extension`] owning some paths.
    pub fn with_extension(
        root: Root,
        config: HttpConfig,
        log: Option<Arc<dyn AccessLog>>,
        started: Instant,
        ext: Option<Arc<dyn extension::Extension>>,
    ) -> Self {
        let allow = if config.upload && config.overwrite {
            "GET, HEAD, OPTIONS, PUT, DELETE"
        } else if config.upload {
            "GET, HEAD, OPTIONS, PUT"
        } else {
            "GET, HEAD, OPTIONS"
        };
        Self {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                root,
                config,
                stats: stats::SharedStats::new(),
                log,
                started,
                allow,
                ext,
            }),
        }
    }

    /// The live counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }
}

impl Service for HttpService {
    type Session = HttpSession;

    fn new_session(&self, peer: Option<SocketAddr>, now: Instant) -> HttpSession {
        let stats = &self.shared.stats;
        let open = stats.connections_open.fetch_add(1, Ordering::Relaxed) + 1;
        stats.connections_total.fetch_add(1, Ordering::Relaxed);
        let over = self
            .shared
            .config
            .max_connections
            .is_some_and(|max| open > max);
        HttpSession::new(Arc::clone(&self.shared), peer, now, over)
    }
}
