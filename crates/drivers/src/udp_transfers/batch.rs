//! Sending a window in one system call: a run of equal-sized datagrams to
//! one address goes out as one `sendmsg` with UDP generic segmentation
//! offload (GSO), one datagram at a time where the kernel refuses it.

use std::io;
use std::net::{SocketAddr, UdpSocket};

/// Datagrams in one GSO send at most (the kernel's UDP_MAX_SEGMENTS).
const MAX_SEGMENTS: usize = 64;

/// Bytes in one GSO send at most (one UDP datagram's payload, with room).
const MAX_GSO_BYTES: usize = 65_000;

/// Sends datagrams, merging a run of equal-sized ones to the same address (the
/// last may be shorter) into one `sendmsg` with UDP generic segmentation
/// offload: a TFTP window becomes one system call and one trip down the
/// stack; the kernel (or the NIC) cuts it back into datagrams. Knows nothing
/// of TFTP. Falls back to one `send_to` each if the kernel refuses GSO.
#[derive(Debug)]
pub struct Batcher {
    buf: Vec<u8>,
    to: Option<SocketAddr>,
    seg: usize,
    count: usize,
    /// A shorter datagram ended the run.
    closed: bool,
    gso: bool,
}

impl Default for Batcher {
    fn default() -> Self {
        Self {
            // Reserved on first use: a transfer in lockstep never batches.
            buf: Vec::new(),
            to: None,
            seg: 0,
            count: 0,
            closed: false,
            gso: true,
        }
    }
}

impl Batcher {
    /// Queues one datagram (sending what was queued first if it cannot join).
    pub fn push(&mut self, socket: &UdpSocket, to: SocketAddr, data: &[u8]) {
        // An empty datagram cannot be a GSO segment: it always goes alone.
        let joins = self.to == Some(to)
            && !data.is_empty()
            && !self.closed
            && data.len() <= self.seg
            && self.count < MAX_SEGMENTS
            && self.buf.len() + data.len() <= MAX_GSO_BYTES;
        if !joins {
            self.flush(socket);
            if self.buf.capacity() == 0 {
                self.buf.reserve(MAX_GSO_BYTES);
            }
            self.to = Some(to);
            self.seg = data.len();
        }
        self.buf.extend_from_slice(data);
        self.count += 1;
        if data.len() < self.seg || self.seg == 0 {
            self.closed = true;
        }
    }

    /// Sends everything queued.
    pub fn flush(&mut self, socket: &UdpSocket) {
        let Some(to) = self.to.take() else {
            return;
        };
        if self.count > 1 && self.gso {
            if let Err(e) = send_gso(socket, to, &self.buf, self.seg) {
                tracing::debug!("UDP GSO refused ({e}); sending datagrams one by one");
                self.gso = false;
            }
        }
        if self.count == 1 || !self.gso {
            for d in self.buf.chunks(self.seg.max(1)) {
                if let Err(e) = socket.send_to(d, to) {
                    // Counted as lost: the session's retransmission covers it.
                    tracing::debug!(%to, "send_to: {e}");
                }
            }
            if self.buf.is_empty() {
                let _ = socket.send_to(&[], to);
            }
        }
        self.buf.clear();
        self.count = 0;
        self.closed = false;
    }
}

fn send_gso(socket: &UdpSocket, to: SocketAddr, buf: &[u8], seg: usize) -> nix::Result<usize> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, SockaddrStorage};
    use std::os::fd::AsRawFd;
    let seg = u16::try_from(seg).map_err(|_| nix::errno::Errno::EINVAL)?;
    let addr = SockaddrStorage::from(to);
    sendmsg(
        socket.as_raw_fd(),
        &[io::IoSlice::new(buf)],
        &[ControlMessage::UdpGsoSegments(&seg)],
        MsgFlags::empty(),
        Some(&addr),
    )
}
