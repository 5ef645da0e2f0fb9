//! The server side: turning a request that arrived on the listening port into
//! a transfer on a fresh port, and keeping strangers out of it.
//!
//! ```text
//!   RRQ/WRQ ──▶ size check (≤ 512 bytes) ─▶ parse ─▶ name (RelPath) ─▶ Root
//!                  │ ERROR 4                 │ 4      │ 2              │ 1/2/3/6
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

use super::netascii::NetasciiReader;
use super::per_client::{PerClient, Slot};
use super::transfer::{Config, NetasciiSink, Receiver, Sender, Sink, Transfer};
use super::transfer::{Failure, Status};
use super::wire::{self, Direction, ErrorCode, Mode, Options, Packet, MAX_REQUEST};
use super::{TransferService, TransferSession};
use crate::access_log::{self, AccessLog, Entry};
use crate::root::{AtomicFile, RelPath, Root, RootError};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Refusals (answers that are one ERROR) per second, and their burst. Each
/// costs the driver a fresh socket and a thread, so a flood of garbage at the
/// listening port must not become a flood of sockets that starves real
/// requests (it did: 0 RRQs/s got through under `bench/hostile.sh`), nor a
/// reflector (an ERROR is longer than a 1-byte datagram). Beyond the budget a
/// refusal is dropped silently; a real client retries.
const REFUSALS_PER_SEC: f64 = 200.0;
const REFUSAL_BURST: f64 = 200.0;

/// The refusal budget's token bucket.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Option<Instant>,
}

/// Bytes one window may put in flight. A whole window must fit in the
/// receiver's socket buffer (about 208 KiB by default on Linux, counted with
/// per-packet overhead), or the window causes the very loss it then recovers
/// from; so a large blksize gets a smaller windowsize than asked (RFC 7440
/// lets the server lower it).
const WINDOW_BUDGET: usize = 160 * 1024;

/// The largest datagram a sending transfer needs whole: an ACK is 4 bytes,
/// an ERROR at most a request's size.
const HEARD_BY_SENDER: usize = MAX_REQUEST + 4;

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
    refusals: Mutex<Bucket>,
    per_client: Arc<PerClient>,
    log: Option<Arc<dyn AccessLog>>,
}

impl TftpServer {
    /// Serves `root`.
    pub fn new(root: Arc<Root>, cfg: ServerConfig) -> Self {
        let refusals = Mutex::new(Bucket {
            tokens: REFUSAL_BURST,
            at: None,
        });
        let per_client = PerClient::new(cfg.max_per_client);
        Self {
            root,
            cfg,
            refusals,
            per_client,
            log: None,
        }
    }

    /// Logs every transfer and refusal when it ends (one
    /// [`crate::access_log`] line each).
    pub fn with_access_log(mut self, log: Arc<dyn AccessLog>) -> Self {
        self.log = Some(log);
        self
    }

    /// Spends one refusal from the budget, if any is left.
    fn may_refuse(&self, now: Instant) -> bool {
        let mut b = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed =
            b.at.map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f64());
        b.tokens = (b.tokens + elapsed * REFUSALS_PER_SEC).min(REFUSAL_BURST);
        b.at = Some(now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn start(&self, now: Instant, packet: &[u8]) -> Result<Transfer, (ErrorCode, String)> {
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
                let sink = Capped {
                    inner: AtomicSink(Some(BufWriter::with_capacity(256 * 1024, file))),
                    left: max,
                };
                let sink: Box<dyn Sink> = match mode {
                    Mode::Octet => Box::new(sink),
                    Mode::Netascii => Box::new(NetasciiSink::new(sink)),
                };
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

/// Bytes an unprivileged writer may still use on the file's file system
/// (unknown: unlimited, and the write itself will say).
fn free_space(file: &std::fs::File) -> u64 {
    match nix::sys::statvfs::fstatvfs(file) {
        Ok(st) => st.blocks_available().saturating_mul(st.fragment_size()),
        Err(_) => u64::MAX,
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
            Some(_) => self.start(now, data),
            None => Err((
                ErrorCode::NotDefined,
                format!(
                    "too many transfers from this address (at most {}); try again later",
                    self.per_client.max()
                ),
            )),
        };
        let (transfer, reply, slot, refused) = match started {
            Ok(t) => (Some(t), None, slot, None),
            Err(_) if !self.may_refuse(now) => return None,
            Err((code, msg)) => (None, Some(wire::error(code, &msg)), None, Some(code)),
        };
        let log = self.log.clone().map(|sink| Logged {
            sink,
            request: log_request(data),
            refused,
        });
        Some(ServerTransfer {
            peer: from,
            _slot: slot,
            transfer,
            reply,
            foreign: None,
            foreign_packet: wire::error(ErrorCode::UnknownTid, "unknown transfer ID"),
            log,
        })
    }
}

/// One transfer as the server runs it: the peer's address (its TID), the
/// transfer, and any ERROR owed to a stranger.
#[derive(Debug)]
pub struct ServerTransfer {
    peer: SocketAddr,
    /// The peer address's share of [`ServerConfig::max_per_client`], given
    /// back when the transfer is dropped.
    _slot: Option<Slot>,
    transfer: Option<Transfer>,
    /// A refusal to send instead of a transfer.
    reply: Option<Vec<u8>>,
    foreign: Option<SocketAddr>,
    foreign_packet: Vec<u8>,
    /// Written to the access log when the transfer is dropped (done, or cut
    /// short by the server stopping).
    log: Option<Logged>,
}

/// What the access log line of a transfer needs besides its outcome.
#[derive(Debug)]
struct Logged {
    sink: Arc<dyn AccessLog>,
    request: Vec<u8>,
    refused: Option<ErrorCode>,
}

/// `GET /name TFTP` (a read) or `PUT /name TFTP` (a write); empty for what
/// is not a request.
fn log_request(data: &[u8]) -> Vec<u8> {
    match wire::parse(data) {
        Ok(Packet::Request {
            direction,
            filename,
            ..
        }) => {
            let method = match direction {
                Direction::Read => "GET",
                Direction::Write => "PUT",
            };
            access_log::request(method, &String::from_utf8_lossy(filename), "TFTP")
        }
        _ => Vec::new(),
    }
}

/// A TFTP outcome as the HTTP-style status every access log line carries.
fn log_status(refused: Option<ErrorCode>, transfer: Option<&Transfer>) -> u16 {
    match (refused, transfer.map(Transfer::status)) {
        (Some(ErrorCode::FileNotFound), _) => 404,
        (Some(ErrorCode::AccessViolation | ErrorCode::NoSuchUser), _) => 403,
        (Some(ErrorCode::DiskFull), _) => 507,
        (Some(ErrorCode::FileExists), _) => 409,
        (Some(ErrorCode::NotDefined), _) => 500,
        (Some(_), _) => 400,
        (None, Some(Status::Complete)) => 200,
        (None, Some(Status::Failed(Failure::TimedOut))) => 408,
        (None, Some(Status::Failed(Failure::Peer { .. }))) => 499,
        (None, Some(Status::Failed(Failure::Protocol(_)))) => 400,
        (None, Some(Status::Failed(_))) => 500,
        // Still running when dropped: the server stopped before it ended.
        (None, Some(Status::Running) | None) => 503,
    }
}

impl Drop for ServerTransfer {
    fn drop(&mut self) {
        if let Some(log) = &self.log {
            let transfer = self.transfer.as_ref();
            let entry = Entry {
                peer: Some(self.peer),
                request: &log.request,
                status: log_status(log.refused, transfer),
                bytes: transfer.map_or(0, Transfer::bytes),
            };
            log.sink.entry(&entry);
        }
    }
}

impl ServerTransfer {
    /// The transfer, unless the request was refused.
    pub fn transfer(&self) -> Option<&Transfer> {
        self.transfer.as_ref()
    }
}

impl TransferSession for ServerTransfer {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if from != self.peer {
            if !matches!(wire::parse(data), Ok(Packet::Error { .. })) {
                self.foreign = Some(from);
            }
            return;
        }
        if let Some(t) = &mut self.transfer {
            t.handle_packet(now, data);
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(t) = &mut self.transfer {
            t.handle_timeout(now);
        }
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, &[u8])> {
        if let Some(to) = self.foreign.take() {
            return Some((to, &self.foreign_packet));
        }
        if let Some(reply) = self.reply.take() {
            self.foreign_packet = reply;
            return Some((self.peer, &self.foreign_packet));
        }
        let peer = self.peer;
        self.transfer.as_mut()?.poll_transmit().map(|p| (peer, p))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.transfer.as_ref()?.poll_timeout()
    }

    fn largest_datagram(&self) -> Option<usize> {
        match self.transfer {
            Some(Transfer::Recv(_)) => None,
            // ACKs and ERRORs; a longer datagram is not one of them anyway.
            _ => Some(HEARD_BY_SENDER),
        }
    }

    fn is_done(&self) -> bool {
        self.reply.is_none()
            && self.foreign.is_none()
            && self.transfer.as_ref().is_none_or(Transfer::is_done)
    }
}

/// An upload's destination: buffered, committed (fsync + rename) on the last
/// block, removed if dropped before.
struct AtomicSink(Option<BufWriter<AtomicFile>>);

impl Sink for AtomicSink {
    fn write_block(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.0 {
            Some(w) => w.write_all(data),
            None => Err(io::Error::other("upload already finished")),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        let w = self
            .0
            .take()
            .ok_or_else(|| io::Error::other("upload already finished"))?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.commit().map_err(io::Error::from)
    }
}

/// At most `left` more bytes may be written (`--max-upload`, for a client that
/// sent no tsize): beyond, the write fails as "allocation exceeded" (TFTP
/// error 3) and the upload is discarded.
struct Capped<S> {
    inner: S,
    left: u64,
}

impl<S: Sink> Sink for Capped<S> {
    fn write_block(&mut self, data: &[u8]) -> io::Result<()> {
        let len = data.len() as u64;
        if len > self.left {
            return Err(io::Error::from_raw_os_error(
                nix::errno::Errno::EDQUOT as i32,
            ));
        }
        self.left -= len;
        self.inner.write_block(data)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }
}
