//! The server side: turning a request that arrived on the listening port into
//! a transfer on a fresh port, and keeping strangers out of it.
//!
//! ```text
//!   RRQ/WRQ ──▶ size check (≤ 512 bytes) ─▶ parse ─▶ name (RelPath) ─▶ anonymous rules ─▶ Root
//!                  │ ERROR 4                 │ 4      │ 2              │ 1 (read) / 2 (write) │ 1/2/3/6
//!                  ▼                         ▼        ▼                ▼
//!              options: blksize, timeout, tsize, windowsize  ─▶  OACK (only what was asked)
//!                                                               or DATA 1 / ACK 0
//! ```
//!
//! Every answer, errors included, leaves from the transfer's own socket, so
//! the driver treats them alike: a [`ServerTransfer`] that is done as soon as
//! its one ERROR is sent. Inside a transfer, a datagram from any other address
//! gets ERROR 5 and changes nothing.
//!
//! The OACK never carries `tsize 0` for a read: curl aborts on it, and RFC
//! 2347 lets a server leave out any option, so an empty file is simply sent
//! (and a read with only `tsize` asked becomes a plain RFC 1350 transfer).
//!
//! Pieces: the refusal budget (`server/refusals.rs`), the transfer as the
//! driver holds it with its TID check and log line (`server/session.rs`), and
//! an upload's destination (`server/upload.rs`).

mod refusals;
mod session;
mod upload;

pub use session::ServerTransfer;

use super::netascii::NetasciiReader;
use super::per_client::PerClient;
use super::transfer::{Config, Receiver, Sender, Transfer};
use super::wire::{self, Direction, ErrorCode, Mode, Options, Packet, MAX_REQUEST};
use super::TransferService;
use crate::access::{Access, Decision, Guessing, Op, RetryAfter};
use crate::access_log::AccessLog;
use crate::root::{RelPath, Root, RootError};
use refusals::Refusals;
use std::io::{BufReader, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use upload::{free_space, upload_sink};

/// Bytes one window may put in flight. A whole window must fit in the
/// receiver's socket buffer (about 208 KiB by default on Linux, counted with
/// per-packet overhead), or the window causes the very loss it then recovers
/// from; so a large blksize gets a smaller windowsize than asked (RFC 7440
/// lets the server lower it).
const WINDOW_BUDGET: usize = 160 * 1024;

/// Transfers one address may run at once, by default (`--max-per-client`).
pub const MAX_PER_CLIENT: usize = 32;

/// How long a transfer waits for its peer's first answer, by default.
pub const FIRST_CONTACT: Duration = Duration::from_secs(2);

/// Below this block size a read goes through a buffer of [`READ_BLOCKS`]
/// blocks (a system call per 512-byte block would dominate); at or above
/// it, each block is read straight into its packet, so a transfer holds no
/// memory beyond its window and the one block read ahead.
const DIRECT_READ: usize = 8 * 1024;

/// Blocks one buffered read fetches.
const READ_BLOCKS: usize = 16;

/// What a TFTP server allows and how its transfers behave.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Accept WRQ.
    pub upload: bool,
    /// Let a WRQ replace an existing file.
    pub overwrite: bool,
    /// The largest file a WRQ may write (`None`: no limit but the disk's).
    pub max_upload: Option<u64>,
    /// Timing for every transfer (the client's options override size, window
    /// and timeout).
    pub transfer: Config,
    /// The largest windowsize granted.
    pub max_windowsize: u16,
    /// Transfers one address (IP) may run at once; more are refused.
    pub max_per_client: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            upload: false,
            overwrite: false,
            max_upload: None,
            transfer: Config {
                first_contact: Some(FIRST_CONTACT),
                ..Config::default()
            },
            max_windowsize: 64,
            max_per_client: MAX_PER_CLIENT,
        }
    }
}

/// The TFTP service: shared by the listening loop, makes one
/// [`ServerTransfer`] per request.
#[derive(Debug)]
pub struct TftpServer {
    root: Arc<Root>,
    cfg: ServerConfig,
    refusals: Refusals,
    per_client: Arc<PerClient>,
    log: Option<Arc<dyn AccessLog>>,
    /// What anyone may read and write (TFTP has no login).
    access: Arc<Access>,
    /// Failed logins on the other services of this process.
    guessing: Guessing,
}

impl TftpServer {
    /// Serves `root`.
    pub fn new(root: Arc<Root>, cfg: ServerConfig) -> Self {
        let refusals = Refusals::new();
        let per_client = PerClient::new(cfg.max_per_client);
        Self {
            root,
            cfg,
            refusals,
            per_client,
            log: None,
            access: Arc::new(Access::open()),
            guessing: Guessing::new(),
        }
    }

    /// Serves only what `access` grants anyone without an account (TFTP has
    /// no login): a read elsewhere is "file not found", a write elsewhere an
    /// access violation. An address that failed too many logins on another
    /// service (counted in `guessing`) is refused until its minute ends.
    pub fn with_access(mut self, access: Arc<Access>, guessing: Guessing) -> Self {
        self.access = access;
        self.guessing = guessing;
        self
    }

    /// Whether anyone without an account may do `op` to `rel`; if not, the
    /// ERROR to answer.
    fn permit(&self, op: Op, rel: &RelPath) -> Result<(), (ErrorCode, String)> {
        match (self.access.decide(None, op, &rel.to_string()), op) {
            (Decision::Allow, _) => Ok(()),
            (_, Op::Read) => Err((ErrorCode::FileNotFound, format!("{rel}: not found"))),
            (_, Op::Write) => Err((
                ErrorCode::AccessViolation,
                format!("{rel}: not writable without an account"),
            )),
        }
    }

    /// Logs every transfer and refusal when it ends (one
    /// [`crate::access_log`] line each).
    pub fn with_access_log(mut self, log: Arc<dyn AccessLog>) -> Self {
        self.log = Some(log);
        self
    }

    fn start(
        &self,
        now: Instant,
        from: SocketAddr,
        packet: &[u8],
    ) -> Result<Transfer, (ErrorCode, String)> {
        if let Err(RetryAfter(secs)) = self.guessing.check(now, from.ip()) {
            let msg = format!("too many failed logins from this address; try again in {secs} s");
            return Err((ErrorCode::NotDefined, msg));
        }
        if packet.len() > MAX_REQUEST {
            return Err((ErrorCode::IllegalOperation, "request too long".into()));
        }
        let (direction, filename, mode, options) = match wire::parse(packet) {
            Ok(Packet::Request {
                direction,
                filename,
                mode,
                options,
            }) => (direction, filename, mode, options),
            Ok(_) => return Err((ErrorCode::IllegalOperation, "expected RRQ or WRQ".into())),
            Err(e) => return Err((ErrorCode::IllegalOperation, e.to_string())),
        };
        let name = std::str::from_utf8(filename)
            .map_err(|_| (ErrorCode::AccessViolation, "file name is not UTF-8".into()))?;
        let rel = RelPath::parse(name).map_err(|e| (ErrorCode::AccessViolation, e.to_string()))?;
        let asked = Options::from_pairs(&options);
        let (cfg, mut granted) = self.negotiate(&asked);
        match direction {
            Direction::Read => {
                self.permit(Op::Read, &rel)?;
                let (file, meta) = self.root.open_file(&rel).map_err(root_error)?;
                // Left out when 0 (curl aborts) and for netascii (the wire size differs).
                if asked.tsize.is_some() && meta.len() > 0 && mode == Mode::Octet {
                    granted.tsize = Some(meta.len());
                }
                let source = file_source(file, meta.len(), mode, cfg.blksize);
                let prelude = (!granted.is_empty()).then(|| wire::oack(&granted.to_pairs()));
                Ok(Transfer::Send(Sender::new(cfg, source, now, prelude)))
            }
            Direction::Write => {
                if !self.cfg.upload {
                    return Err((
                        ErrorCode::AccessViolation,
                        "uploads are disabled (--upload)".into(),
                    ));
                }
                self.permit(Op::Write, &rel)?;
                // A symlink that leads out is refused as such, not as "exists".
                if let Err(e @ RootError::Forbidden(_)) = self.root.metadata(&rel) {
                    return Err(root_error(e));
                }
                let file = self
                    .root
                    .create_atomic(&rel, self.cfg.overwrite)
                    .map_err(root_error)?;
                if let Some(size) = asked.tsize {
                    // Refused now rather than after the disk fills (RFC 2349).
                    if size > free_space(file.file()) {
                        return Err((ErrorCode::DiskFull, "not enough space for tsize".into()));
                    }
                }
                let max = self.cfg.max_upload.unwrap_or(u64::MAX);
                if asked.tsize.is_some_and(|size| size > max) {
                    return Err((ErrorCode::DiskFull, format!("larger than {max} bytes")));
                }
                granted.tsize = asked.tsize;
                let sink = upload_sink(file, max, mode);
                let initial = if granted.is_empty() {
                    wire::ack(0)
                } else {
                    wire::oack(&granted.to_pairs())
                };
                Ok(Transfer::Recv(Receiver::new(cfg, sink, now, Some(initial))))
            }
        }
    }

    /// The transfer settings and the options to acknowledge (all but tsize,
    /// which depends on the file).
    fn negotiate(&self, asked: &Options) -> (Config, Options) {
        let mut cfg = self.cfg.transfer;
        let mut granted = Options::default();
        if let Some(b) = asked.blksize {
            cfg.blksize = b;
            granted.blksize = Some(b);
        }
        if let Some(t) = asked.timeout {
            cfg.timeout = Duration::from_secs(t.into());
            cfg.adaptive = false;
            granted.timeout = Some(t);
        }
        if let Some(w) = asked.windowsize {
            let budget = (WINDOW_BUDGET / (2 * cfg.blksize + 1024)).max(1);
            let w = w
                .min(self.cfg.max_windowsize.max(1))
                .min(u16::try_from(budget).unwrap_or(u16::MAX));
            cfg.windowsize = w;
            granted.windowsize = Some(w);
        }
        (cfg, granted)
    }
}

/// What a read sends of a file: exactly the `len` bytes its metadata gave
/// (a procfs-like file that says 0 but reads data sends nothing, as HTTP and
/// the files protocol do), buffered only for small blocks.
pub fn file_source<R: Read + Send + 'static>(
    file: R,
    len: u64,
    mode: Mode,
    blksize: usize,
) -> Box<dyn Read + Send> {
    let file = file.take(len);
    match mode {
        // The encoder reads in chunks of its own.
        Mode::Netascii => Box::new(NetasciiReader::new(file)),
        Mode::Octet if blksize >= DIRECT_READ => Box::new(file),
        Mode::Octet => Box::new(BufReader::with_capacity(blksize * READ_BLOCKS, file)),
    }
}

fn root_error(e: RootError) -> (ErrorCode, String) {
    let code = match &e {
        RootError::NotFound(_) | RootError::NotADirectory(_) => ErrorCode::FileNotFound,
        RootError::Exists(_) => ErrorCode::FileExists,
        RootError::NoSpace(_) => ErrorCode::DiskFull,
        RootError::Io(_) => ErrorCode::NotDefined,
        _ => ErrorCode::AccessViolation,
    };
    (code, e.to_string())
}

impl TransferService for TftpServer {
    type Transfer = ServerTransfer;

    fn handle_request(
        &self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
    ) -> Option<ServerTransfer> {
        if let Ok(Packet::Error { .. }) = wire::parse(data) {
            return None; // an ERROR is never answered
        }
        let slot = self.per_client.take(from.ip());
        let started = match slot {
            Some(_) => self.start(now, from, data),
            None => Err((
                ErrorCode::NotDefined,
                format!(
                    "too many transfers from this address (at most {}); try again later",
                    self.per_client.max()
                ),
            )),
        };
        if started.is_err() && !self.refusals.may_refuse(now) {
            return None;
        }
        let log = self.log.clone();
        Some(ServerTransfer::new(from, slot, started, log, data))
    }
}
