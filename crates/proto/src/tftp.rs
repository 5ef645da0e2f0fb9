//! TFTP (RFC 1350) with option negotiation (RFC 2347: blksize 2348, timeout and
//! tsize 2349, windowsize 7440), as sans-IO state machines.
//!
//! ```text
//!   listening socket ── RRQ/WRQ ──▶ TftpServer::handle_request ──▶ ServerTransfer
//!                                         (server.rs: names, root,     │
//!                                          options, refusals)          │ one fresh socket each
//!   transfer socket  ── DATA/ACK ─▶ ServerTransfer ─▶ Transfer ────────┘
//!                                   (TID check)       (transfer.rs: Sender | Receiver,
//!                                                      windows, timers, rollover)
//!   netkit tftp get/put ─────────▶ Client (client.rs) ─▶ the same Transfer
//! ```
//!
//! Modules: [`wire`] (packets as bytes), [`netascii`] (line-end conversion),
//! [`transfer`] (the per-transfer machines, in `sender` and `receiver`),
//! [`server`] and [`client`]. The seam with the driver is
//! [`TransferService`] / [`TransferSession`]: like [`crate::DatagramService`],
//! but each session gets a socket (a TFTP transfer ID) of its own.

pub mod client;
pub mod netascii;
mod receiver;
mod sender;
pub mod server;
pub mod transfer;
pub mod wire;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Instant;

/// A service whose requests arrive on one socket and are served each from a
/// socket of its own (`netkit_drivers::udp_transfers`).
pub trait TransferService: Send + Sync + 'static {
    /// One transfer's state.
    type Transfer: TransferSession;

    /// A datagram arrived on the listening socket. `None`: ignore it. Otherwise
    /// the driver opens a fresh socket, sends the session's first datagrams
    /// from it, and serves the session there until it is done.
    fn handle_request(&self, now: Instant, from: SocketAddr, data: &[u8])
        -> Option<Self::Transfer>;
}

/// One transfer on its own socket. Call order: after creation and after every
/// `handle_*`, drain [`TransferSession::poll_transmit`]; wake at
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
}
