//! The sending side of a transfer: reads blocks, keeps one window of them,
//! resends on timeout only.
//!
//! The window holds whole DATA packets for blocks `acked+1 ..`; `next_unsent`
//! says how far into it the driver has been handed packets. An ACK that moves
//! `acked` forward drops the acknowledged packets, tops the window up from the
//! source and starts sending it again from the first unacknowledged block (RFC
//! 7440's go-back: a receiver that saw a gap acknowledges the last block it has
//! in order). An ACK that moves nothing is ignored, which is what keeps a
//! duplicated ACK from doubling every later DATA (Sorcerer's Apprentice).
//!
//! Read-ahead: once the whole window has been handed out, the next block is
//! read while the window travels (as tftpd-hpa does), so an ACK is answered
//! without a file read on the round trip's critical path.

use super::transfer::{Config, Failure, FirstContact, Rto, Status};
use super::wire::{self, ErrorCode, Packet};
use std::collections::VecDeque;
use std::io::Read;
use std::time::Instant;

/// Sends a file as DATA blocks.
pub struct Sender {
    cfg: Config,
    source: Box<dyn Read + Send>,
    /// DATA packets for blocks `acked+1 ..`, at most `windowsize`.
    window: VecDeque<Vec<u8>>,
    /// Packet buffers to reuse.
    spare: Vec<Vec<u8>>,
    acked: u16,
    next_unsent: usize,
    /// How many packets of the window have gone out at least once.
    sent: usize,
    /// The source is exhausted: the last packet read is the final block.
    eof: bool,
    /// The DATA packet after the window, read ahead while the window travels.
    ahead: Option<Vec<u8>>,
    /// An OACK waiting for ACK 0, and whether it is due to be (re)sent.
    prelude: Option<(Vec<u8>, bool)>,
    /// An ERROR to send once before finishing.
    error: Option<Vec<u8>>,
    status: Status,
    deadline: Option<Instant>,
    /// Until the peer's first ACK, the short deadline of a server transfer.
    contact: FirstContact,
    /// When the current window went out, for a round-trip sample.
    sent_at: Option<Instant>,
    tries: u32,
    rto: Rto,
    bytes: u64,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("cfg", &self.cfg)
            .field("acked", &self.acked)
            .field("window", &self.window.len())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// Starts sending `source`. With a `prelude` (an OACK), that goes first and
    /// DATA 1 waits for ACK 0; without one, DATA 1 goes out at once.
    pub fn new(
        cfg: Config,
        source: Box<dyn Read + Send>,
        now: Instant,
        prelude: Option<Vec<u8>>,
    ) -> Sender {
        let mut s = Sender {
            cfg,
            source,
            window: VecDeque::new(),
            spare: Vec::new(),
            acked: 0,
            next_unsent: 0,
            sent: 0,
            eof: false,
            ahead: None,
            prelude: prelude.map(|p| (p, true)),
            error: None,
            status: Status::Running,
            deadline: Some(now + cfg.timeout),
            contact: FirstContact::new(&cfg, now),
            sent_at: Some(now),
            tries: 0,
            rto: Rto::new(&cfg),
            bytes: 0,
        };
        if s.prelude.is_none() {
            s.fill();
        }
        s
    }

    /// Where the transfer stands.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Payload bytes the peer acknowledged.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Finished and nothing left to send.
    pub fn is_done(&self) -> bool {
        self.status != Status::Running && self.error.is_none()
    }

    /// When [`Sender::handle_timeout`] is next wanted.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.status == Status::Running {
            self.contact.earliest(self.deadline)
        } else {
            None
        }
    }

    /// The next packet to send, if any.
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        if self.error.is_some() {
            // Stored in `spare` so the slice can outlive this call.
            let e = self.error.take()?;
            self.spare.push(e);
            return self.spare.last().map(Vec::as_slice);
        }
        if self.status != Status::Running {
            return None;
        }
        if self.prelude.is_some() {
            let (packet, due) = self.prelude.as_mut()?;
            return std::mem::take(due).then_some(packet.as_slice());
        }
        let i = self.next_unsent;
        if i >= self.window.len() {
            self.read_ahead();
            // A failed read queued an ERROR: send it now.
            return match self.error.is_some() {
                true => self.poll_transmit(),
                false => None,
            };
        }
        let packet = &self.window[i];
        self.next_unsent += 1;
        self.sent = self.sent.max(self.next_unsent);
        Some(packet)
    }

    /// A packet from the peer.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        if self.status != Status::Running {
            return;
        }
        match wire::parse(packet) {
            Ok(Packet::Ack { block }) => self.on_ack(now, block),
            Ok(Packet::Error { code, message }) => {
                self.status = Status::Failed(Failure::Peer { code, message });
            }
            Ok(_) => self.fail(
                ErrorCode::IllegalOperation,
                "expected an ACK",
                Failure::Protocol("unexpected packet while sending".into()),
            ),
            Err(e) => self.fail(
                ErrorCode::IllegalOperation,
                "malformed packet",
                Failure::Protocol(e.to_string()),
            ),
        }
    }

    fn on_ack(&mut self, now: Instant, block: u16) {
        if self.prelude.is_some() {
            if block == 0 {
                self.prelude = None;
                self.progress(now);
                self.fill();
            }
            return;
        }
        let advance = block.wrapping_sub(self.acked) as usize;
        if advance == 0 || advance > self.sent {
            return; // a duplicate or stale ACK: nothing to do, nothing to resend
        }
        for _ in 0..advance {
            if let Some(p) = self.window.pop_front() {
                self.bytes += (p.len() - 4) as u64;
                self.spare.push(p);
            }
        }
        self.acked = block;
        self.sent -= advance;
        self.progress(now);
        if self.window.is_empty() && self.eof && self.ahead.is_none() {
            self.status = Status::Complete;
            self.deadline = None;
            return;
        }
        self.fill();
    }

    /// The peer moved forward: new round-trip sample, retries reset, and the
    /// window (topped up) goes out from its start.
    fn progress(&mut self, now: Instant) {
        self.contact.heard();
        if let (0, Some(at)) = (self.tries, self.sent_at) {
            self.rto.sample(now.saturating_duration_since(at));
        }
        self.tries = 0;
        self.next_unsent = 0;
        self.sent_at = Some(now);
        self.deadline = Some(now + self.rto.get());
    }

    /// Tops the window up: the block read ahead first, then from the source.
    fn fill(&mut self) {
        while self.window.len() < usize::from(self.cfg.windowsize.max(1)) {
            let packet = match self.ahead.take() {
                Some(p) => p,
                None if self.eof => break,
                None => match self.read_packet() {
                    Some(p) => p,
                    None => return,
                },
            };
            self.window.push_back(packet);
        }
    }

    /// Reads the block after the window, unless it is read or there is none.
    fn read_ahead(&mut self) {
        if self.status == Status::Running
            && self.prelude.is_none()
            && self.ahead.is_none()
            && !self.eof
        {
            self.ahead = self.read_packet();
        }
    }

    /// Reads the DATA packet for the block after the window (`None`: the read
    /// failed and the transfer with it).
    fn read_packet(&mut self) -> Option<Vec<u8>> {
        let block = self
            .acked
            .wrapping_add(self.window.len() as u16)
            .wrapping_add(1);
        let mut p = self.spare.pop().unwrap_or_default();
        // A recycled packet keeps its length, so only a new (or shorter)
        // one is zero-filled: no 64 KiB memset per block at the largest size.
        p.resize(4 + self.cfg.blksize, 0);
        p[..4].copy_from_slice(&wire::data_header(block));
        let mut n = 0;
        while n < self.cfg.blksize {
            match self.source.read(&mut p[4 + n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(
                        ErrorCode::NotDefined,
                        "read error",
                        Failure::Io(e.to_string()),
                    );
                    return None;
                }
            }
        }
        p.truncate(4 + n);
        self.eof = n < self.cfg.blksize;
        Some(p)
    }

    /// The deadline may have passed: resend the window (or the OACK), or give up.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.status == Status::Running && self.contact.expired(now) {
            // No ERROR: the peer never showed it exists (it may be forged).
            self.status = Status::Failed(Failure::TimedOut);
            self.deadline = None;
            return;
        }
        match self.deadline {
            Some(at) if self.status == Status::Running && now >= at => {}
            _ => return,
        }
        self.tries += 1;
        if self.tries > self.cfg.retries {
            return self.fail(ErrorCode::NotDefined, "timed out", Failure::TimedOut);
        }
        self.rto.backoff();
        self.next_unsent = 0;
        if let Some((_, due)) = &mut self.prelude {
            *due = true;
        }
        self.sent_at = None;
        self.deadline = Some(now + self.rto.get());
    }

    fn fail(&mut self, code: ErrorCode, message: &str, why: Failure) {
        self.error = Some(wire::error(code, message));
        self.status = Status::Failed(why);
        self.deadline = None;
    }
}
