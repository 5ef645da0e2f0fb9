//! Sans-IO protocol state machines: the half of netkit that knows what bytes mean.
//!
//! Nothing in this crate opens a socket, starts a thread, reads a clock or forks.
//! A driver (crate `netkit-drivers`) owns the socket and the concurrency model; it
//! feeds a [`Session`] the bytes it read together with the current time, and asks it
//! what to send. That one seam is what lets every TCP service run under every
//! concurrency model, and lets every protocol be tested with plain byte strings and
//! a fake clock.
//!
//! ```text
//!   driver (socket, model)                      session (this crate)
//!   ──────────────────────                      ────────────────────
//!   read() ── bytes ─────────────────────────▶  handle_input(now, &[u8]) -> consumed
//!   read() == 0 ─────────────────────────────▶  handle_eof(now)
//!   deadline passed ─────────────────────────▶  handle_timeout(now)
//!   server stopping ─────────────────────────▶  handle_shutdown(now)
//!   waker.wake() from any thread ────────────▶  handle_wake(now)
//!   write() / sendfile() ◀── bytes, FileChunk ─ poll_transmit(&mut out)
//!   sleep until ◀──────────────── Instant ───── poll_timeout()
//!   read again? close? ◀────────── bool ─────── wants_read(), is_done()
//! ```
//!
//! Modules: [`access_log`] (the one access-log hook and line format), [`http`] (HTTP/1.1 static files and uploads), [`files`] (the files
//! protocol: LIST/GET/PUT/QUIT), [`tftp`] (TFTP transfers, server and client),
//! [`chat`] (the chat room and its UDP, IRC and web fronts), [`echo`] (the echo
//! service), [`relay`] (line assembly and log records for `netkit relay`),
//! [`testing`] (drive a session without a socket, with a fake clock), [`tls`]
//! (any TCP service over TLS: a session wrapper around rustls), [`root`]
//! (the served directory: safe names, opening beneath it, listings, atomic
//! uploads — the only code that touches files under a served directory).
#![warn(missing_docs, unreachable_pub)]

pub mod access;
pub mod access_log;
pub mod chat;
pub mod date;
pub mod echo;
pub mod files;
pub mod http;
pub mod relay;
pub mod root;
pub mod testing;
pub mod tftp;
pub mod tls;

use std::fs::File;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// A contiguous range of an open file that a session wants sent to its peer.
///
/// Drivers send it with `sendfile(2)` where they can, so large files never pass
/// through user space. The file is shared so a session may keep it open for the
/// next chunk.
#[derive(Debug, Clone)]
pub struct FileChunk {
    /// The open file.
    pub file: Arc<File>,
    /// Byte offset of the first byte to send.
    pub offset: u64,
    /// Number of bytes to send.
    pub len: u64,
}

/// One connection's protocol state: bytes in, bytes (or file ranges) out.
///
/// # Call order a driver keeps
///
/// 1. Right after [`Service::new_session`], the driver calls
///    [`Session::set_waker`] once, then calls [`Session::poll_transmit`] until it
///    returns `None` and sends what it produced (a protocol may greet first).
/// 2. While [`Session::wants_read`] is true and all output is flushed, the driver
///    reads, appends to its input buffer and calls [`Session::handle_input`] with the
///    whole unconsumed buffer; bytes not consumed are offered again, with more
///    appended, on the next call. A session must consume or reject (by finishing)
///    within the driver's input buffer size ([`MAX_INPUT`] bytes).
/// 3. Leftover input is re-offered without waiting for the peer: when the last
///    `handle_input` consumed something but not everything (one pipelined request
///    at a time), the driver calls `handle_input` again with what is left as soon
///    as the output is flushed and `wants_read` is true, until a call consumes
///    nothing; then it waits for more bytes.
/// 4. After any `handle_*` call the driver drains [`Session::poll_transmit`]: the
///    bytes it appended to `out` go first, then the returned file chunk; then it
///    calls `poll_transmit` again, until it returns `None` with nothing appended.
///    Then it re-checks `is_done`, `wants_read` and `poll_timeout`.
/// 5. When the peer closes its sending side, the driver calls [`Session::handle_eof`].
/// 6. When [`Session::poll_timeout`]'s instant passes, the driver calls
///    [`Session::handle_timeout`].
/// 7. When the waker from `set_waker` is called (from any thread), the driver
///    calls [`Session::handle_wake`] on the connection's own thread or loop;
///    several wakes may be merged into one call.
/// 8. When [`Session::is_done`] is true and all output is flushed, the driver
///    half-closes the connection (so the peer reads every byte, then EOF). Unless
///    the peer's EOF was already read, it then reads and discards whatever the
///    peer still sends for up to 2 seconds or until its EOF (a lingering close:
///    closing with unread input would send a reset that can destroy the reply
///    in flight; a stopping server only discards what has already arrived),
///    then closes. The session is dropped; it gets no more calls once done.
pub trait Session: Send + 'static {
    /// Offers the bytes received so far and not yet consumed; returns how many
    /// were consumed. Incomplete input is simply left unconsumed.
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> usize;

    /// The peer will send nothing more (it half-closed or closed).
    fn handle_eof(&mut self, now: Instant);

    /// The instant returned by [`Session::poll_timeout`] may have passed: drivers
    /// may wake a little early (or on a signal), so compare `now` with it.
    fn handle_timeout(&mut self, now: Instant);

    /// The server is stopping: finish what is in flight, take nothing new, then
    /// become done.
    fn handle_shutdown(&mut self, now: Instant);

    /// Appends bytes to send to `out`. If a file range must follow those bytes,
    /// returns it; the driver sends it and then calls again.
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk>;

    /// When the session next wants [`Session::handle_timeout`], if ever.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Whether the session accepts more input now.
    fn wants_read(&self) -> bool;

    /// Whether the connection should be closed once its output is flushed.
    fn is_done(&self) -> bool;

    /// Hands the session a waker, once, right after it is created. A session whose
    /// output can appear without input from its own peer (an IRC member receiving
    /// a chat room message) keeps it and calls `wake_by_ref()` from any thread; the
    /// driver then calls [`Session::handle_wake`] on its own thread and drains
    /// [`Session::poll_transmit`] as after any other `handle_*` call. Sessions that
    /// only answer their peer ignore it.
    fn set_waker(&mut self, waker: std::task::Waker) {
        let _ = waker;
    }

    /// Something woke the session through the waker from [`Session::set_waker`].
    /// Wake-ups may be merged (one call for several wakes) or spurious.
    fn handle_wake(&mut self, now: Instant) {
        let _ = now;
    }
}

/// The largest input a driver buffers for a session that has not consumed it.
pub const MAX_INPUT: usize = 64 * 1024;

/// A datagram to send: the UDP counterpart of [`Session::poll_transmit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Where to send it.
    pub to: SocketAddr,
    /// The payload.
    pub data: Vec<u8>,
}

/// A UDP service: one state machine for every peer, fed datagrams and time.
///
/// The UDP loop (`netkit_drivers::udp`) calls [`DatagramService::handle_datagram`]
/// for each datagram received and [`DatagramService::handle_timeout`] when
/// [`DatagramService::poll_timeout`]'s instant passes (possibly a little early:
/// compare `now`), and sends everything pushed onto `out`.
pub trait DatagramService: Send + 'static {
    /// One datagram arrived from `from`.
    fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        out: &mut Vec<Datagram>,
    );

    /// The instant from [`DatagramService::poll_timeout`] may have passed.
    fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Datagram>);

    /// When the service next wants [`DatagramService::handle_timeout`], if ever.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// A service whose requests arrive on one socket and are served each from a
/// socket of its own (`netkit_drivers::udp::transfers::serve`).
pub trait TransferService: Send + Sync + 'static {
    /// One transfer's state.
    type Transfer: TransferSession;

    /// A datagram arrived on the listening socket. `None`: ignore it. Otherwise
    /// the driver opens a fresh socket, sends the session's first datagrams
    /// from it, and serves the session there until it is done.
    fn handle_request(&self, now: Instant, from: SocketAddr, data: &[u8])
        -> Option<Self::Transfer>;
}

/// One transfer on its own socket, run by the transfer loop
/// (`netkit_drivers::udp::transfers`): a server's transfer from
/// [`TransferService::handle_request`], or a client's one transfer.
/// Call order: after creation and after every `handle_*`, drain
/// [`TransferSession::poll_transmit`]; wake at
/// [`TransferSession::poll_timeout`]; drop the session (and its socket) when
/// [`TransferSession::is_done`].
pub trait TransferSession: Send + 'static {
    /// A datagram arrived on the transfer's socket from `from` (not
    /// necessarily its peer).
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]);
    /// The instant from [`TransferSession::poll_timeout`] may have passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, and where.
    fn poll_transmit(&mut self) -> Option<(SocketAddr, &[u8])>;
    /// When the session next wants [`TransferSession::handle_timeout`].
    fn poll_timeout(&self) -> Option<Instant>;
    /// Finished: nothing left to send or wait for.
    fn is_done(&self) -> bool;
    /// The largest datagram the session needs whole, if it knows one: the
    /// driver then receives into a buffer that size, one datagram at a time,
    /// instead of one sized for a batch of the largest (a sender of DATA
    /// only ever hears ACKs, and a thousand of them stalled must not each
    /// hold a batch buffer).
    fn largest_datagram(&self) -> Option<usize> {
        None
    }
    /// The kernel reported an ICMP "port unreachable" for an earlier
    /// datagram (only on a socket that asked for such reports, like the TFTP
    /// client's before the server answered). By default nothing happens: the
    /// session's own timeouts decide.
    fn handle_refused(&mut self, now: Instant) {
        let _ = now;
    }
}

/// A TCP (or Unix stream) service: makes one [`Session`] per accepted connection.
///
/// A service is shared by every worker of every model, so it is `Sync`; state that
/// outlives one connection (statistics, a chat room) lives here.
pub trait Service: Send + Sync + 'static {
    /// The per-connection state machine.
    type Session: Session;

    /// Starts the session for a newly accepted connection. `peer` is the remote
    /// address, or `None` for a Unix socket peer.
    fn new_session(&self, peer: Option<SocketAddr>, now: Instant) -> Self::Session;
}
