//! The receiving side of a transfer: writes in-order blocks exactly once and
//! acknowledges each window.
//!
//! A block arriving in order is written and counted; the ACK goes out when a
//! window's worth has arrived or the block is short (the last). Anything else
//! is a duplicate or a gap: the receiver acknowledges the last block it has in
//! order, which in lockstep re-ACKs a repeated DATA (its ACK was lost) and with
//! a window tells the sender where to go back to (once per gap, so a burst of
//! out-of-order blocks does not become a burst of ACKs). After the last block
//! it lingers, re-ACKing a repeated last DATA, then is done.

use super::transfer::{Config, Failure, FirstContact, Sink, Status};
use super::wire::{self, ErrorCode, Packet};
use std::time::Instant;

/// Receives a file as DATA blocks.
pub struct Receiver {
    cfg: Config,
    sink: Box<dyn Sink>,
    /// The block expected next.
    next: u16,
    /// In-order blocks since the last ACK.
    in_window: u16,
    /// The last ACK (or the OACK), resent on timeout.
    last_ack: Vec<u8>,
    ack_due: bool,
    /// A gap was already answered.
    gap_acked: bool,
    error: Option<Vec<u8>>,
    status: Status,
    deadline: Option<Instant>,
    /// Until the peer's first DATA, the short deadline of a server transfer.
    contact: FirstContact,
    tries: u32,
    final_block: Option<u16>,
    bytes: u64,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("cfg", &self.cfg)
            .field("next", &self.next)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Starts receiving into `sink`, expecting DATA 1. `initial` is what
    /// acknowledges the request (an OACK or ACK 0) and is sent at once and on
    /// timeouts; `None` when the request itself is what gets retransmitted
    /// (a client whose first DATA is about to be handed in).
    pub fn new(
        cfg: Config,
        sink: Box<dyn Sink>,
        now: Instant,
        initial: Option<Vec<u8>>,
    ) -> Receiver {
        let ack_due = initial.is_some();
        Receiver {
            cfg,
            sink,
            next: 1,
            in_window: 0,
            last_ack: initial.unwrap_or_else(|| wire::ack(0)),
            ack_due,
            gap_acked: false,
            error: None,
            status: Status::Running,
            deadline: Some(now + cfg.timeout),
            contact: FirstContact::new(&cfg, now),
            tries: 0,
            final_block: None,
            bytes: 0,
        }
    }

    /// Where the transfer stands.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Payload bytes received in order.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Finished, flushed, and no longer lingering.
    pub fn is_done(&self) -> bool {
        self.status != Status::Running
            && self.error.is_none()
            && !self.ack_due
            && self.deadline.is_none()
    }

    /// When [`Receiver::handle_timeout`] is next wanted.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.status {
            Status::Running => self.contact.earliest(self.deadline),
            _ => self.deadline,
        }
    }

    /// The next packet to send, if any.
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        if let Some(e) = self.error.take() {
            self.last_ack = e;
            return Some(&self.last_ack);
        }
        std::mem::take(&mut self.ack_due).then_some(self.last_ack.as_slice())
    }

    /// A packet from the peer.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        let lingering = self.status == Status::Complete;
        if self.status != Status::Running && !lingering {
            return;
        }
        match wire::parse(packet) {
            Ok(Packet::Data { block, .. }) if lingering => {
                if Some(block) == self.final_block {
                    self.ack_due = true;
                }
            }
            Ok(Packet::Data { block, data }) => self.on_data(now, block, data),
            Ok(Packet::Error { code, message }) => {
                if !lingering {
                    self.status = Status::Failed(Failure::Peer { code, message });
                }
                self.deadline = None;
            }
            _ if lingering => {}
            Ok(_) => self.fail(
                ErrorCode::IllegalOperation,
                "expected DATA",
                Failure::Protocol("unexpected packet while receiving".into()),
            ),
            Err(e) => self.fail(
                ErrorCode::IllegalOperation,
                "malformed packet",
                Failure::Protocol(e.to_string()),
            ),
        }
    }

    fn on_data(&mut self, now: Instant, block: u16, data: &[u8]) {
        if data.len() > self.cfg.blksize {
            return self.fail(
                ErrorCode::IllegalOperation,
                "block larger than blksize",
                Failure::Protocol(format!("{}-byte block", data.len())),
            );
        }
        if block != self.next {
            if self.cfg.windowsize <= 1 || !self.gap_acked {
                self.acknowledge(self.next.wrapping_sub(1));
                self.gap_acked = true;
            }
            return;
        }
        if let Err(e) = self.sink.write_block(data) {
            return self.io_failed(&e);
        }
        self.bytes += data.len() as u64;
        self.contact.heard();
        self.next = self.next.wrapping_add(1);
        self.in_window += 1;
        self.gap_acked = false;
        self.tries = 0;
        self.deadline = Some(now + self.cfg.timeout);
        if data.len() < self.cfg.blksize {
            if let Err(e) = self.sink.finish() {
                return self.io_failed(&e);
            }
            self.acknowledge(block);
            self.status = Status::Complete;
            self.final_block = Some(block);
            self.deadline = (!self.cfg.linger.is_zero()).then(|| now + self.cfg.linger);
        } else if self.in_window >= self.cfg.windowsize.max(1) {
            self.acknowledge(block);
        }
    }

    fn acknowledge(&mut self, block: u16) {
        self.last_ack = wire::ack(block);
        self.ack_due = true;
        self.in_window = 0;
    }

    fn io_failed(&mut self, e: &std::io::Error) {
        use nix::errno::Errno;
        let disk_full = matches!(
            e.raw_os_error().map(Errno::from_raw),
            Some(Errno::ENOSPC | Errno::EDQUOT | Errno::EFBIG)
        );
        let (code, msg) = if disk_full {
            (ErrorCode::DiskFull, "disk full")
        } else {
            (ErrorCode::NotDefined, "write error")
        };
        self.fail(code, msg, Failure::Io(e.to_string()));
    }

    /// The deadline may have passed: resend the last ACK, give up, or stop
    /// lingering.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.status == Status::Running && self.contact.expired(now) {
            // No ERROR: the peer never showed it exists (it may be forged).
            self.status = Status::Failed(Failure::TimedOut);
            self.deadline = None;
            self.ack_due = false;
            return;
        }
        match self.deadline {
            Some(at) if now >= at => {}
            _ => return,
        }
        if self.status != Status::Running {
            self.deadline = None;
            return;
        }
        self.tries += 1;
        if self.tries > self.cfg.retries {
            return self.fail(ErrorCode::NotDefined, "timed out", Failure::TimedOut);
        }
        self.ack_due = true;
        self.in_window = 0;
        self.deadline = Some(now + self.cfg.timeout);
    }

    fn fail(&mut self, code: ErrorCode, message: &str, why: Failure) {
        self.error = Some(wire::error(code, message));
        self.status = Status::Failed(why);
        self.deadline = None;
        self.ack_due = false;
    }
}
