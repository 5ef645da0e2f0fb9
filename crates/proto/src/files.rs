//! The files protocol (`netkit files serve`): LIST, GET, PUT, SUM and QUIT over TCP,
//! every payload counted in bytes, so one connection carries any number of
//! commands however TCP splits or joins them.
//!
//! ```text
//!   driver bytes ──▶ FilesSession::handle_input ──▶ wire::split_line / Command::parse
//!                         │                                │
//!                         │ PUT body: write + hash        ├ LIST ─▶ Root::list
//!                         ▼                                ├ GET  ─▶ Root::open_file ─▶ FileChunk (sendfile)
//!                    AtomicFile ── commit (fsync+rename)   ├ PUT  ─▶ Root::create_atomic
//!                                                          ├ SUM  ─▶ Root::open_file ─▶ sum (a slice per wake-up)
//!                                                          └ AUTH ─▶ Access::login (every command: Access::decide)
//!                         │
//!   driver ◀── poll_transmit: "OK …\n", "ERR <code> …\n", file ranges
//! ```
//!
//! [`wire`] holds the byte format (parse and emit, both directions, shared with
//! the client), [`session`] the per-connection state machine, [`digest`]
//! where an upload's SHA-256 is computed (inline, or a caller's pool), [`sum`]
//! the SHA-256 a SUM asks for, hashed in slices so a huge file never stalls a
//! single-threaded loop. Every command is checked against the server's
//! [`crate::access`] rules for the session's user (none until an AUTH). Names go through [`crate::root`], the only code that
//! touches the served directory — hidden names (`.env`, `a/.git/config`)
//! included: the root answers them not found (ERR 404), leaves them out of
//! LIST and refuses to create them, unless the server runs with `--hidden`.

pub mod digest;
mod errors;
pub mod session;
mod storage;
pub mod sum;
pub mod wire;

pub use digest::{DigestPool, FileDigest};
pub use session::FilesSession;
pub use sum::SumBuffers;

use crate::access::{Access, Guessing};
use crate::access_log::{self, AccessLog, Pending};
use crate::root::Root;
use crate::Service;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default TCP port of `netkit files serve`.
pub const DEFAULT_PORT: u16 = 8888;

/// What a files server allows.
#[derive(Debug, Clone, Default)]
pub struct FilesConfig {
    /// Whether PUT is allowed at all (otherwise ERR 403).
    pub upload: bool,
    /// Whether PUT may replace an existing file (otherwise ERR 409).
    pub overwrite: bool,
    /// Largest PUT accepted, in bytes (otherwise ERR 413).
    pub max_upload: Option<u64>,
    /// Close a connection that sends nothing for this long.
    pub idle_timeout: Option<Duration>,
}

/// Makes a [`FilesSession`] per connection, all sharing one [`Root`].
#[derive(Debug, Clone)]
pub struct FilesService {
    root: Arc<Root>,
    config: Arc<FilesConfig>,
    pool: Option<Arc<dyn DigestPool>>,
    /// The read buffers every session's SUM borrows a step at a time.
    sum_buffers: Arc<SumBuffers>,
    log: Option<Arc<dyn AccessLog>>,
    /// Who may read and write what (open unless given).
    access: Arc<Access>,
    /// Failed AUTHs per address.
    guessing: Guessing,
}

impl FilesService {
    /// A service over `root`. Call [`Root::remove_stale_temporaries`] first,
    /// once, at start-up.
    pub fn new(root: Arc<Root>, config: FilesConfig) -> Self {
        FilesService {
            root,
            config: Arc::new(config),
            pool: None,
            sum_buffers: Arc::new(SumBuffers::new()),
            log: None,
            access: Arc::new(Access::open()),
            guessing: Guessing::new(),
        }
    }

    /// Checks every command against `access` (AUTH logs a session in), and
    /// counts failed AUTHs in `guessing`, which other services of the process
    /// may share: after too many, the address gets `ERR 429`.
    pub fn with_access(mut self, access: Arc<Access>, guessing: Guessing) -> Self {
        self.access = access;
        self.guessing = guessing;
        self
    }

    /// Logs every command's outcome (one [`crate::access_log`] line each).
    pub fn with_access_log(mut self, log: Arc<dyn AccessLog>) -> Self {
        self.log = Some(log);
        self
    }

    /// Hashes large uploads with `pool` instead of on the connection's
    /// thread (see [`digest`]).
    pub fn with_digest_pool(mut self, pool: Arc<dyn DigestPool>) -> Self {
        self.pool = Some(pool);
        self
    }
}

impl Service for FilesService {
    type Session = FilesSession;

    fn new_session(&self, peer: Option<SocketAddr>, now: Instant) -> FilesSession {
        let mut session = FilesSession::new(
            self.root.clone(),
            self.config.clone(),
            self.pool.clone(),
            self.sum_buffers.clone(),
            session::Gate::new(
                self.access.clone(),
                self.guessing.clone(),
                peer.map(|p| p.ip()),
            ),
            now,
        );
        session.log = Pending::new(self.log.clone(), peer);
        session
    }
}

/// What the access log says a command asked: `GET /name FILES`; nothing for
/// QUIT; `AUTH user` (never a password, even in a line that did not parse);
/// a command added later, or a bad line, as sent.
fn log_request(parsed: &Result<wire::Command, wire::CommandError>, line: &[u8]) -> Vec<u8> {
    use wire::Command;
    match parsed {
        Ok(Command::Auth { user, .. }) => access_log::request("AUTH", user, "FILES"),
        _ if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"AUTH") => {
            access_log::request("AUTH", "", "FILES")
        }
        Ok(Command::List) => access_log::request("LIST", "", "FILES"),
        Ok(Command::Get { name, .. }) => access_log::request("GET", name, "FILES"),
        Ok(Command::Put { name, .. }) => access_log::request("PUT", name, "FILES"),
        Ok(Command::ListDir { folder }) => access_log::request("LIST", folder, "FILES"),
        Ok(Command::Mkdir { name }) => access_log::request("MKDIR", name, "FILES"),
        Ok(Command::Delete { name }) => access_log::request("DELETE", name, "FILES"),
        // The log's request has one path: the source; the target follows it.
        Ok(Command::Move { from, to }) => {
            access_log::request("MOVE", &format!("{from} -> {to}"), "FILES")
        }
        Ok(Command::Quit) => Vec::new(),
        _ => line.iter().take(256).copied().collect(),
    }
}
