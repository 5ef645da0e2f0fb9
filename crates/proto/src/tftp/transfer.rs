//! One transfer's state machine, for either side: the [`Sender`] of DATA
//! (server on RRQ, client on `put`) and the [`Receiver`] (server on WRQ, client
//! on `get`). No socket and no clock: the driver hands in packets from the
//! peer's TID and the current time, and sends what [`Transfer::poll_transmit`]
//! returns to that TID.
//!
//! ```text
//!   Sender                                   Receiver
//!   [OACK] ─────────────────────────────────▶ (or DATA 1 straight away)
//!          ◀──────────────────────────────── ACK 0
//!   DATA n+1 … n+W  (one window) ──────────▶ writes in-order blocks once
//!          ◀──────────────────────────────── ACK of the last in-order block
//!   timeout: resend the window from the       gap: ACK the last in-order block
//!   last acknowledged block (go-back)         timeout: resend the last ACK
//!   a duplicate ACK: nothing (no Sorcerer's Apprentice)
//!   a short block ends the file ─────────────▶ ACK, then linger to re-ACK it
//! ```
//!
//! Block numbers are `u16` and wrap from 65535 to 0, so every comparison is a
//! wrapping distance. Retries are counted per lack of progress and capped;
//! past the cap the transfer fails with an ERROR to the peer. A peer's ERROR
//! ends the transfer and is never answered.

use super::netascii::NetasciiDecoder;
use super::wire::DEFAULT_BLKSIZE;
use std::io;
use std::time::{Duration, Instant};

pub use super::receiver::Receiver;
pub use super::sender::Sender;

/// The shortest retransmission timeout adaptive timing goes down to: below
/// this, a busy machine's scheduling delay looks like loss.
pub const MIN_RTO: Duration = Duration::from_millis(50);

/// How a transfer times and sizes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Payload bytes per DATA packet.
    pub blksize: usize,
    /// DATA packets sent before waiting for an ACK (1 = lockstep RFC 1350).
    pub windowsize: u16,
    /// Retransmission timeout: the starting and the largest one.
    pub timeout: Duration,
    /// Whether the timeout adapts to measured round trips (false when the
    /// peer fixed it with the `timeout` option).
    pub adaptive: bool,
    /// Retransmissions without progress before the transfer is abandoned.
    pub retries: u32,
    /// How long a receiver stays after its final ACK to re-ACK a repeated
    /// last block (the sender may not have heard the ACK).
    pub linger: Duration,
    /// A server's transfer whose peer has not answered at all (no ACK of
    /// the OACK or DATA 1, no DATA 1 of an upload) within this is dropped
    /// without an ERROR, rather than after the whole retry schedule: a
    /// request from a forged or silent address holds a slot this long only.
    /// `None`: no such deadline (the client side).
    pub first_contact: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            blksize: DEFAULT_BLKSIZE,
            windowsize: 1,
            timeout: Duration::from_secs(1),
            adaptive: true,
            retries: 5,
            linger: Duration::from_secs(2),
            first_contact: None,
        }
    }
}

/// The first-contact deadline of [`Config::first_contact`], for either side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FirstContact(Option<Instant>);

impl FirstContact {
    pub(crate) fn new(cfg: &Config, now: Instant) -> Self {
        Self(cfg.first_contact.map(|d| now + d))
    }

    /// The peer answered: the deadline no longer applies.
    pub(crate) fn heard(&mut self) {
        self.0 = None;
    }

    /// The peer never answered and the deadline has passed.
    pub(crate) fn expired(&self, now: Instant) -> bool {
        self.0.is_some_and(|at| now >= at)
    }

    /// The earlier of this deadline and `other`.
    pub(crate) fn earliest(&self, other: Option<Instant>) -> Option<Instant> {
        match (self.0, other) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Why a transfer ended without the whole file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The peer sent an ERROR.
    #[error("peer error {code}: {message}")]
    Peer {
        /// The TFTP error code.
        code: u16,
        /// The peer's message.
        message: String,
    },
    /// The retry cap was reached.
    #[error("timed out after retries")]
    TimedOut,
    /// Reading or writing the local file failed.
    #[error("local I/O error: {0}")]
    Io(String),
    /// The peer broke the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Nothing listens at the server's port (an ICMP port unreachable
    /// answered the request).
    #[error("connection refused")]
    Refused,
}

/// Where a transfer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Still moving data.
    Running,
    /// The whole file went across (a receiver may still linger).
    Complete,
    /// Ended early.
    Failed(Failure),
}

/// Where a receiver puts blocks.
pub trait Sink: Send {
    /// Writes one block's payload, in order.
    fn write_block(&mut self, data: &[u8]) -> io::Result<()>;
    /// The last block arrived: make the file complete (flush, commit).
    fn finish(&mut self) -> io::Result<()>;
}

/// A sink that turns netascii back into local text on its way to `inner`.
#[derive(Debug)]
pub struct NetasciiSink<S> {
    inner: S,
    decoder: NetasciiDecoder,
    buf: Vec<u8>,
}

impl<S: Sink> NetasciiSink<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            decoder: NetasciiDecoder::new(),
            buf: Vec::new(),
        }
    }
}

impl<S: Sink> Sink for NetasciiSink<S> {
    fn write_block(&mut self, data: &[u8]) -> io::Result<()> {
        self.buf.clear();
        self.decoder.decode(data, &mut self.buf);
        self.inner.write_block(&self.buf)
    }

    fn finish(&mut self) -> io::Result<()> {
        self.buf.clear();
        self.decoder.finish(&mut self.buf);
        self.inner.write_block(&self.buf)?;
        self.inner.finish()
    }
}

/// The retransmission timer: RFC 6298 smoothing with Karn's rule (callers
/// only sample round trips of packets sent once), doubled on each timeout,
/// kept between [`MIN_RTO`] and the configured timeout.
#[derive(Debug, Clone)]
pub(crate) struct Rto {
    max: Duration,
    adaptive: bool,
    srtt: Option<Duration>,
    rttvar: Duration,
    current: Duration,
}

impl Rto {
    pub(crate) fn new(cfg: &Config) -> Self {
        Self {
            max: cfg.timeout,
            adaptive: cfg.adaptive,
            srtt: None,
            rttvar: Duration::ZERO,
            current: cfg.timeout,
        }
    }

    pub(crate) fn get(&self) -> Duration {
        self.current
    }

    pub(crate) fn sample(&mut self, rtt: Duration) {
        if !self.adaptive {
            return;
        }
        let (srtt, rttvar) = match self.srtt {
            None => (rtt, rtt / 2),
            Some(srtt) => {
                let diff = srtt.abs_diff(rtt);
                ((srtt * 7 + rtt) / 8, (self.rttvar * 3 + diff) / 4)
            }
        };
        self.srtt = Some(srtt);
        self.rttvar = rttvar;
        self.current = (srtt + rttvar * 4).clamp(MIN_RTO.min(self.max), self.max);
    }

    pub(crate) fn backoff(&mut self) {
        self.current = (self.current * 2).min(self.max);
    }
}

/// Either side of a transfer, behind one set of verbs.
#[derive(Debug)]
pub enum Transfer {
    /// Sends DATA, receives ACKs.
    Send(Sender),
    /// Receives DATA, sends ACKs.
    Recv(Receiver),
}

impl Transfer {
    /// A packet arrived from the peer's TID.
    pub fn handle_packet(&mut self, now: std::time::Instant, packet: &[u8]) {
        match self {
            Transfer::Send(s) => s.handle_packet(now, packet),
            Transfer::Recv(r) => r.handle_packet(now, packet),
        }
    }

    /// The instant from [`Transfer::poll_timeout`] may have passed.
    pub fn handle_timeout(&mut self, now: std::time::Instant) {
        match self {
            Transfer::Send(s) => s.handle_timeout(now),
            Transfer::Recv(r) => r.handle_timeout(now),
        }
    }

    /// The next packet to send to the peer, if any.
    pub fn poll_transmit(&mut self) -> Option<&[u8]> {
        match self {
            Transfer::Send(s) => s.poll_transmit(),
            Transfer::Recv(r) => r.poll_transmit(),
        }
    }

    /// When [`Transfer::handle_timeout`] is next wanted.
    pub fn poll_timeout(&self) -> Option<std::time::Instant> {
        match self {
            Transfer::Send(s) => s.poll_timeout(),
            Transfer::Recv(r) => r.poll_timeout(),
        }
    }

    /// Where the transfer stands.
    pub fn status(&self) -> &Status {
        match self {
            Transfer::Send(s) => s.status(),
            Transfer::Recv(r) => r.status(),
        }
    }

    /// Finished, nothing left to send and nothing left to wait for.
    pub fn is_done(&self) -> bool {
        match self {
            Transfer::Send(s) => s.is_done(),
            Transfer::Recv(r) => r.is_done(),
        }
    }

    /// Payload bytes moved so far (acknowledged for a sender, written for a
    /// receiver).
    pub fn bytes(&self) -> u64 {
        match self {
            Transfer::Send(s) => s.bytes(),
            Transfer::Recv(r) => r.bytes(),
        }
    }
}
