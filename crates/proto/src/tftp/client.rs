//! The client side: send the request, learn the server's TID from its first
//! answer, check the OACK, then run the same [`Transfer`] the server does.
//!
//! ```text
//!   RRQ ──▶ server:port            (resent on timeout, up to the retry cap)
//!       ◀── OACK from server:tid   → check: nothing larger than asked → ACK 0, Receiver
//!       ◀── DATA 1 from server:tid → no options: Receiver at 512 / lockstep
//!   WRQ ──▶ …  ◀── OACK or ACK 0   → Sender, DATA 1 at once
//! ```
//!
//! After the first answer every packet must come from that TID; others get
//! ERROR 5. A server that answers a request with options by ERROR 8 (tftpd-hpa
//! does when it grants none of them, e.g. `tsize` in netascii) is asked once
//! more without options, as RFC 2347 allows.
//!
//! A client is a [`TransferSession`], so it runs on the same transfer loop as
//! the server's transfers; an ICMP port unreachable before the server answered
//! ends it at once ([`Failure::Refused`]).

use super::transfer::{Config, Failure, Receiver, Sender, Sink, Status, Transfer};
use super::wire::{self, Direction, ErrorCode, Mode, Options, Packet, DEFAULT_BLKSIZE};
use crate::TransferSession;
use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What to ask the server for.
#[derive(Debug, Clone)]
pub struct Request {
    /// get (Read) or put (Write).
    pub direction: Direction,
    /// The remote file name.
    pub filename: String,
    /// Transfer mode.
    pub mode: Mode,
    /// Options to ask for; `tsize` is the file size for a put, 0 for a get.
    pub options: Options,
}

enum Pending {
    Get(Box<dyn Sink>),
    Put(Box<dyn Read + Send>),
}

/// One client transfer.
pub struct Client {
    server: SocketAddr,
    peer: Option<SocketAddr>,
    cfg: Config,
    asked: Options,
    /// The request without its options, for a retry after ERROR 8.
    plain: Option<Vec<u8>>,
    request: Vec<u8>,
    request_due: bool,
    tries: u32,
    deadline: Option<Instant>,
    pending: Option<Pending>,
    transfer: Option<Transfer>,
    status: Status,
    /// An ERROR owed to the peer (a bad OACK) or to a stranger.
    error: Option<(SocketAddr, Vec<u8>)>,
    sent_error: Vec<u8>,
    tsize: Option<u64>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server)
            .field("peer", &self.peer)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A download of `req.filename` into `sink`.
    pub fn get(
        server: SocketAddr,
        req: Request,
        cfg: Config,
        sink: Box<dyn Sink>,
        now: Instant,
    ) -> Self {
        Self::new(server, req, cfg, Pending::Get(sink), now)
    }

    /// An upload of `source` as `req.filename`.
    pub fn put(
        server: SocketAddr,
        req: Request,
        cfg: Config,
        source: Box<dyn Read + Send>,
        now: Instant,
    ) -> Self {
        Self::new(server, req, cfg, Pending::Put(source), now)
    }

    fn new(
        server: SocketAddr,
        req: Request,
        mut cfg: Config,
        pending: Pending,
        now: Instant,
    ) -> Self {
        let mut request = Vec::new();
        let pairs = req.options.to_pairs();
        wire::emit_request(&mut request, req.direction, &req.filename, req.mode, &pairs);
        let plain = (!pairs.is_empty()).then(|| {
            let mut plain = Vec::new();
            wire::emit_request(&mut plain, req.direction, &req.filename, req.mode, &[]);
            plain
        });
        // Until an OACK says otherwise, RFC 1350 sizes apply.
        cfg.blksize = DEFAULT_BLKSIZE;
        cfg.windowsize = 1;
        cfg.linger = Duration::ZERO;
        Client {
            server,
            peer: None,
            cfg,
            asked: req.options,
            plain,
            request,
            request_due: true,
            tries: 0,
            deadline: Some(now + cfg.timeout),
            pending: Some(pending),
            transfer: None,
            status: Status::Running,
            error: None,
            sent_error: Vec::new(),
            tsize: None,
        }
    }

    /// Where the transfer stands.
    pub fn status(&self) -> &Status {
        match &self.transfer {
            Some(t) if self.status == Status::Running => t.status(),
            _ => &self.status,
        }
    }

    /// Payload bytes moved so far.
    pub fn bytes(&self) -> u64 {
        self.transfer.as_ref().map_or(0, Transfer::bytes)
    }

    /// The server's transfer port (its TID), once it answered.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The size the server announced (tsize in its OACK), if it did.
    pub fn tsize(&self) -> Option<u64> {
        self.tsize
    }

    /// The settings in force (after the OACK, if any).
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Finished and nothing left to send.
    pub fn is_done(&self) -> bool {
        self.error.is_none()
            && match &self.transfer {
                Some(t) if self.status == Status::Running => t.is_done(),
                _ => self.status != Status::Running,
            }
    }

    /// When [`Client::handle_timeout`] is next wanted.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.transfer {
            Some(t) => t.poll_timeout(),
            None if self.status == Status::Running => self.deadline,
            None => None,
        }
    }

    /// The next datagram to send and where.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, &[u8])> {
        if let Some((to, e)) = self.error.take() {
            self.sent_error = e;
            return Some((to, &self.sent_error));
        }
        if std::mem::take(&mut self.request_due) && self.status == Status::Running {
            return Some((self.server, &self.request));
        }
        let peer = self.peer?;
        self.transfer.as_mut()?.poll_transmit().map(|p| (peer, p))
    }

    /// The deadline may have passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(t) = &mut self.transfer {
            return t.handle_timeout(now);
        }
        match self.deadline {
            Some(at) if now >= at && self.status == Status::Running => {}
            _ => return,
        }
        self.tries += 1;
        if self.tries > self.cfg.retries {
            self.status = Status::Failed(Failure::TimedOut);
            self.deadline = None;
            return;
        }
        self.request_due = true;
        self.deadline = Some(now + self.cfg.timeout);
    }

    /// A datagram from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let is_error = matches!(wire::parse(data), Ok(Packet::Error { .. }));
        match self.peer {
            Some(peer) if peer == from => {
                if let Some(t) = &mut self.transfer {
                    t.handle_packet(now, data);
                }
            }
            Some(_) if !is_error => {
                let e = wire::error(ErrorCode::UnknownTid, "unknown transfer ID");
                self.error = Some((from, e));
            }
            Some(_) => {}
            None if from.ip() == self.server.ip() && self.status == Status::Running => {
                self.peer = Some(from);
                self.first_answer(now, from, data);
            }
            None => {}
        }
    }

    fn first_answer(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        if let Ok(Packet::Error { code: 8, .. }) = wire::parse(data) {
            if let Some(plain) = self.plain.take() {
                // Options refused: the same request without them, once.
                self.request = plain;
                self.asked = Options::default();
                self.peer = None;
                self.request_due = true;
                self.tries = 0;
                self.deadline = Some(now + self.cfg.timeout);
                return;
            }
        }
        let Some(pending) = self.pending.take() else {
            return;
        };
        match (wire::parse(data), pending) {
            (Ok(Packet::Oack { options }), pending) => {
                let got = Options::from_pairs(&options);
                if let Err(why) = self.accept_oack(&got) {
                    self.error = Some((from, wire::error(ErrorCode::OptionRefused, &why)));
                    self.status = Status::Failed(Failure::Protocol(why));
                    return;
                }
                self.transfer = Some(match pending {
                    Pending::Get(sink) => {
                        Transfer::Recv(Receiver::new(self.cfg, sink, now, Some(wire::ack(0))))
                    }
                    Pending::Put(source) => {
                        Transfer::Send(Sender::new(self.cfg, source, now, None))
                    }
                });
            }
            (Ok(Packet::Data { .. }), Pending::Get(sink)) => {
                let mut r = Receiver::new(self.cfg, sink, now, None);
                r.handle_packet(now, data);
                self.transfer = Some(Transfer::Recv(r));
            }
            (Ok(Packet::Ack { block: 0 }), Pending::Put(source)) => {
                self.transfer = Some(Transfer::Send(Sender::new(self.cfg, source, now, None)));
            }
            (Ok(Packet::Error { code, message }), _) => {
                self.status = Status::Failed(Failure::Peer { code, message });
            }
            _ => {
                self.error = Some((
                    from,
                    wire::error(ErrorCode::IllegalOperation, "unexpected packet"),
                ));
                self.status = Status::Failed(Failure::Protocol("unexpected first answer".into()));
            }
        }
        self.deadline = None;
    }

    /// An ICMP port unreachable came back: before the server answered, the
    /// request reached no server, and retrying cannot help; after, it is a
    /// stale report and the transfer's own timeouts decide.
    pub fn handle_refused(&mut self, _now: Instant) {
        if self.peer.is_none() && self.transfer.is_none() && self.status == Status::Running {
            self.status = Status::Failed(Failure::Refused);
            self.deadline = None;
        }
    }

    /// Takes the server's choices, refusing any it was not offered or that
    /// grew.
    fn accept_oack(&mut self, got: &Options) -> Result<(), String> {
        if let Some(b) = got.blksize {
            match self.asked.blksize {
                Some(asked) if b <= asked => self.cfg.blksize = b,
                _ => return Err(format!("blksize {b} was not offered")),
            }
        }
        if let Some(w) = got.windowsize {
            match self.asked.windowsize {
                Some(asked) if w <= asked => self.cfg.windowsize = w,
                _ => return Err(format!("windowsize {w} was not offered")),
            }
        }
        if let Some(t) = got.timeout {
            self.cfg.timeout = Duration::from_secs(t.into());
            self.cfg.adaptive = false;
        }
        self.tsize = got.tsize;
        Ok(())
    }
}

impl TransferSession for Client {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        Client::handle_datagram(self, now, from, data);
    }

    fn handle_timeout(&mut self, now: Instant) {
        Client::handle_timeout(self, now);
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, &[u8])> {
        Client::poll_transmit(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Client::poll_timeout(self)
    }

    fn is_done(&self) -> bool {
        Client::is_done(self)
    }

    fn handle_refused(&mut self, now: Instant) {
        Client::handle_refused(self, now);
    }
}
