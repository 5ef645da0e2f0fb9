//! How a listening socket is read: requests in batches
//! ([`crate::udp::recv::Receiver`]), each with its sender and the local
//! address it was sent to (on a wildcard address learnt via `IP_PKTINFO`,
//! else the socket's own), and a receive buffer large enough to ride out a
//! flood.

use crate::udp::recv::{enable_pktinfo, grow_receive_buffer, Receiver, Wait};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// Requests read by one `recvmmsg`.
const REQUEST_BATCH: usize = 32;

/// `recvmmsg` calls per wake-up before the other listeners and shutdown are
/// looked at again.
const BATCHES_PER_WAKE: usize = 16;

/// Bytes kept of each datagram at the listening port: more than any request
/// may have (512), so a longer one is still seen as too long.
const REQUEST_SLOT: usize = 1024;

/// The listening socket's receive buffer: under a flood of garbage, room for
/// thousands of datagrams, so a real request that arrives while the loop is
/// off the CPU is queued rather than dropped.
const LISTEN_BUFFER: usize = 8 << 20;

/// One listening socket and its receive buffers.
pub(super) struct Listening<'a> {
    socket: &'a UdpSocket,
    /// Its bound address (a wildcard one when packet info tells better).
    local_ip: IpAddr,
    requests: Receiver,
}

impl<'a> Listening<'a> {
    /// Readies `socket` (non-blocking, a large buffer, packet info on a
    /// wildcard address).
    pub(super) fn new(socket: &'a UdpSocket) -> io::Result<Listening<'a>> {
        socket.set_nonblocking(true)?;
        let local_ip = socket.local_addr()?.ip();
        // On a wildcard address, learn which address each request was sent to,
        // so the transfer answers from it (a multi-homed server would otherwise
        // answer from whatever address routing picks, and clients ignore that).
        let pktinfo = local_ip.is_unspecified() && enable_pktinfo(socket, local_ip);
        grow_receive_buffer(socket, LISTEN_BUFFER);
        Ok(Listening {
            socket,
            local_ip,
            requests: Receiver::new(REQUEST_BATCH, REQUEST_SLOT, pktinfo, false),
        })
    }

    /// Hands each queued request to `request(from, to, data)`, where `to`
    /// is the local address it was sent to, up to [`BATCHES_PER_WAKE`]
    /// batches.
    pub(super) fn read(&mut self, mut request: impl FnMut(SocketAddr, IpAddr, &[u8])) {
        for _ in 0..BATCHES_PER_WAKE {
            let count = match self.requests.recv(self.socket, Wait::No) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!("recvmmsg: {e}");
                    break;
                }
            };
            for (from, to, data) in self.requests.datagrams() {
                request(from, to.unwrap_or(self.local_ip), data);
            }
            if count < REQUEST_BATCH {
                break;
            }
        }
    }
}
