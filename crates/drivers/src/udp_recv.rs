//! Receiving UDP datagrams many at a time — one `recvmmsg(2)` fills a batch of
//! slots — and the receive-buffer sizing that lets a flood queue instead of
//! dropping. Shared by the UDP loop ([`crate::udp`]: chat, echo) and the
//! TFTP listener ([`crate::udp_transfers`]).
//!
//! Under a flood, reading a batch per system call drains garbage far faster
//! than one `recvfrom` each, so the queue keeps room for real requests.

use nix::sys::socket::{recvmmsg, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// What one slot received.
#[derive(Clone, Copy, Debug)]
struct Received {
    len: usize,
    from: Option<SocketAddr>,
    /// With packet info on: the local address the datagram was sent to.
    to: Option<IpAddr>,
}

/// Buffers for one `recvmmsg` and what it received.
pub struct RecvBatch {
    headers: MultiHeaders<SockaddrStorage>,
    /// `slots` slots of `slot` bytes; allocated zeroed and never cleared, so
    /// the memory really used is the pages datagrams were written to.
    buf: Vec<u8>,
    slot: usize,
    got: Vec<Received>,
}

impl RecvBatch {
    /// Room for `slots` datagrams of up to `slot` bytes each (a longer one is
    /// cut to `slot`); with `pktinfo`, room for each one's local address too
    /// (the socket must have `IP_PKTINFO` / `IPV6_RECVPKTINFO` on).
    pub fn new(slots: usize, slot: usize, pktinfo: bool) -> RecvBatch {
        let cmsg = pktinfo.then(|| nix::cmsg_space!(nix::libc::in6_pktinfo));
        RecvBatch {
            headers: MultiHeaders::preallocate(slots, cmsg),
            buf: vec![0; slots * slot],
            slot,
            got: Vec::with_capacity(slots),
        }
    }

    /// Datagrams one [`RecvBatch::recv`] takes at most.
    pub fn slots(&self) -> usize {
        self.buf.len() / self.slot
    }

    /// Receives what is queued, up to a batch, without blocking: how many
    /// datagrams were taken off the queue (`WouldBlock` when none).
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.got.clear();
        let mut slices: Vec<[io::IoSliceMut<'_>; 1]> = self
            .buf
            .chunks_exact_mut(self.slot)
            .map(|c| [io::IoSliceMut::new(c)])
            .collect();
        // Non-blocking, so EINTR is as rare as it is harmless: the caller
        // treats it like any error and polls again.
        let results = recvmmsg(
            socket.as_raw_fd(),
            &mut self.headers,
            slices.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        for msg in results {
            let mut to = None;
            for c in msg.cmsgs().into_iter().flatten() {
                match c {
                    ControlMessageOwned::Ipv4PacketInfo(info) => {
                        to = Some(IpAddr::from(
                            u32::from_be(info.ipi_addr.s_addr).to_be_bytes(),
                        ));
                    }
                    ControlMessageOwned::Ipv6PacketInfo(info) => {
                        to = Some(IpAddr::from(info.ipi6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            let from = msg.address.as_ref().and_then(sockaddr);
            let len = msg.bytes.min(self.slot);
            self.got.push(Received { len, from, to });
        }
        Ok(self.got.len())
    }

    /// The datagrams of the last [`RecvBatch::recv`] that have an IP sender:
    /// sender, local address (with packet info) and payload.
    pub fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, Option<IpAddr>, &[u8])> {
        self.got
            .iter()
            .zip(self.buf.chunks_exact(self.slot))
            .filter_map(|(r, slot)| Some((r.from?, r.to, &slot[..r.len])))
    }
}

/// The IP socket address in `a`, if it is one.
pub fn sockaddr(a: &SockaddrStorage) -> Option<SocketAddr> {
    a.as_sockaddr_in()
        .map(|v4| SocketAddr::V4((*v4).into()))
        .or_else(|| a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into())))
}

/// Asks for a receive buffer of `bytes`, so a burst (or a flood) queues
/// rather than drops while the reader is busy or descheduled: beyond
/// `net.core.rmem_max` with `SO_RCVBUFFORCE` when allowed (root), else as
/// much as `SO_RCVBUF` gives. Best effort.
pub fn grow_receive_buffer(socket: &UdpSocket, bytes: usize) {
    let sock = socket2::SockRef::from(socket);
    if sock.recv_buffer_size().is_ok_and(|n| n >= bytes) {
        return;
    }
    let forced =
        nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::RcvBufForce, &bytes);
    if forced.is_err() {
        let _ = sock.set_recv_buffer_size(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enable_pktinfo(socket: &UdpSocket) {
        nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::Ipv4PacketInfo, &true)
            .unwrap();
    }

    #[test]
    fn batches_keep_each_datagram_its_sender_length_and_local_address() {
        const SLOTS: usize = 32;
        const SLOT: usize = 1024;
        for (bind, pktinfo) in [("127.0.0.1:0", false), ("0.0.0.0:0", true)] {
            let listener = UdpSocket::bind(bind).unwrap();
            if pktinfo {
                enable_pktinfo(&listener);
            }
            grow_receive_buffer(&listener, 1 << 20);
            let port = listener.local_addr().unwrap().port();
            let to = SocketAddr::from(([127, 0, 0, 1], port));
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            // More than a batch, an empty one and one longer than a slot.
            let mut sent: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
            for i in 0..(SLOTS + 5) {
                let (from, data) = match i {
                    3 => (&b, Vec::new()),
                    7 => (&b, vec![9u8; 3000]),
                    _ => (&a, vec![i as u8; 1 + i]),
                };
                from.send_to(&data, to).unwrap();
                sent.push((from.local_addr().unwrap(), data));
            }
            let mut batch = RecvBatch::new(SLOTS, SLOT, pktinfo);
            assert_eq!(batch.slots(), SLOTS);
            let mut got = Vec::new();
            for _ in 0..1000 {
                match batch.recv(&listener) {
                    Ok(n) => {
                        assert!(n <= SLOTS);
                        got.extend(batch.datagrams().map(|(f, l, d)| (f, l, d.to_vec())));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if got.len() == sent.len() {
                            break;
                        }
                        std::thread::yield_now();
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(got.len(), sent.len(), "bind {bind}");
            for ((from, local, data), (want_from, want)) in got.iter().zip(&sent) {
                assert_eq!(from, want_from);
                assert_eq!(*local, pktinfo.then(|| IpAddr::from([127, 0, 0, 1])));
                let n = want.len().min(SLOT);
                assert_eq!(data[..], want[..n], "a longer one is cut to a slot");
            }
        }
    }

    #[test]
    fn the_receive_buffer_grows() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = socket2::SockRef::from(&socket).recv_buffer_size().unwrap();
        grow_receive_buffer(&socket, before * 4);
        let after = socket2::SockRef::from(&socket).recv_buffer_size().unwrap();
        assert!(after > before, "{before} -> {after}");
    }
}
