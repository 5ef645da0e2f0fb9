//! One transfer as the server runs it ([`ServerTransfer`], the
//! [`TransferSession`] the driver holds): the peer's address is its TID, a
//! datagram from anyone else gets ERROR 5 and changes nothing, a refusal is
//! one ERROR, and the access log line is written when it is dropped.

use crate::access_log::{self, AccessLog, Entry};
use crate::tftp::per_client::Slot;
use crate::tftp::transfer::{Failure, Status, Transfer};
use crate::tftp::wire::{self, Direction, ErrorCode, Packet, MAX_REQUEST};
use crate::tftp::TransferSession;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// The largest datagram a sending transfer needs whole: an ACK is 4 bytes,
/// an ERROR at most a request's size.
const HEARD_BY_SENDER: usize = MAX_REQUEST + 4;

/// One transfer as the server runs it: the peer's address (its TID), the
/// transfer, and any ERROR owed to a stranger.
#[derive(Debug)]
pub struct ServerTransfer {
    peer: SocketAddr,
    /// The peer address's share of [`super::ServerConfig::max_per_client`],
    /// given back as soon as the transfer has ended: an upload that lingers
    /// to re-acknowledge a repeated last block is no longer one the address
    /// runs, and must not keep a client that fetches files one after another
    /// from its next.
    slot: Option<Slot>,
    transfer: Option<Transfer>,
    /// A refusal to send instead of a transfer.
    reply: Option<Vec<u8>>,
    foreign: Option<SocketAddr>,
    foreign_packet: Vec<u8>,
    /// Written to the access log when the transfer is dropped (done, or cut
    /// short by the server stopping).
    log: Option<Logged>,
}

impl ServerTransfer {
    /// The session for the request `data` from `peer`: the transfer it
    /// `started` (holding the address's `slot`), or the one ERROR that
    /// refuses it; logged to `log` when dropped.
    pub(super) fn new(
        peer: SocketAddr,
        slot: Option<Slot>,
        started: Result<Transfer, (ErrorCode, String)>,
        log: Option<Arc<dyn AccessLog>>,
        data: &[u8],
    ) -> Self {
        let (transfer, reply, refused) = match started {
            Ok(t) => (Some(t), None, None),
            Err((code, msg)) => (None, Some(wire::error(code, &msg)), Some(code)),
        };
        let log = log.map(|sink| Logged {
            sink,
            request: log_request(data),
            refused,
        });
        ServerTransfer {
            peer,
            slot: slot.filter(|_| transfer.is_some()),
            transfer,
            reply,
            foreign: None,
            foreign_packet: wire::error(ErrorCode::UnknownTid, "unknown transfer ID"),
            log,
        }
    }

    /// The transfer, unless the request was refused.
    pub fn transfer(&self) -> Option<&Transfer> {
        self.transfer.as_ref()
    }

    /// Gives the address's slot back once the transfer is no longer running.
    fn release_slot_when_ended(&mut self) {
        if self.slot.is_some()
            && self
                .transfer
                .as_ref()
                .is_none_or(|t| !matches!(t.status(), Status::Running))
        {
            self.slot = None;
        }
    }
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
        self.release_slot_when_ended();
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(t) = &mut self.transfer {
            t.handle_timeout(now);
        }
        self.release_slot_when_ended();
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
