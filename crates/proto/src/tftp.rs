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
//! [`server`] (with [`per_client`], its cap per address) and [`client`]. The seam with the driver is
//! [`crate::TransferService`] / [`crate::TransferSession`]: like
//! [`crate::DatagramService`], but each session gets a socket (a TFTP transfer
//! ID) of its own.

pub mod client;
pub mod netascii;
pub mod per_client;
mod receiver;
mod sender;
pub mod server;
pub mod transfer;
pub mod wire;

#[cfg(test)]
mod access_tests;
#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod tests;

// The seam with the driver is generic (any protocol whose transfers each take
// a socket of their own); it lives at the crate root beside `DatagramService`.
pub use crate::{TransferService, TransferSession};
