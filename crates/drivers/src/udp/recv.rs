//! The one UDP receiver: many datagrams per system call, both ways the kernel
//! offers — `recvmmsg(2)` fills a batch of slots, and UDP GRO hands a run of
//! datagrams from one sender over as one buffer, which [`Receiver`] cuts back
//! into datagrams — plus the socket options that go with it (receive-buffer
//! size, GRO, packet info).
//!
//! ```text
//!   socket ──recvmmsg──▶ slot 0: [d1]                 from a, to 10.0.0.1
//!                        slot 1: [d2 d3 d4] seg=100   from b (a GRO batch)
//!                        …
//!          datagrams() ─▶ (a, d1) (b, d2) (b, d3) (b, d4) …
//! ```
//!
//! Used by the datagram loop ([`super::serve`]: chat, echo), the transfer
//! loop's listening socket and its transfers ([`super::transfers`]: the TFTP
//! server and client), and the chat fan-out benchmark's members. Under a
//! flood, reading a batch per system call drains garbage far faster than one
//! `recvfrom` each, so the queue keeps room for real requests.

use nix::sys::socket::{
    recvmmsg, recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, MultiHeaders, RecvMsg,
    SockaddrStorage,
};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

/// How a receive waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Take what is queued; `WouldBlock` when nothing is.
    No,
    /// As the socket does (its read timeout gives `WouldBlock`), until at
    /// least one datagram came; then take what else is queued.
    Blocking,
}

/// What one slot received.
#[derive(Clone, Copy, Debug)]
struct Received {
    len: usize,
    from: Option<SocketAddr>,
    /// With packet info on: the local address the datagram was sent to.
    to: Option<IpAddr>,
    /// A GRO batch: the size of each datagram in it (the last may be shorter).
    seg: Option<usize>,
}

/// Buffers for one receive and what it received. Keeps them between calls.
pub struct Receiver {
    /// `recvmmsg` headers (more than one slot only).
    headers: Option<MultiHeaders<SockaddrStorage>>,
    /// Control-message room per slot, if any cmsg is expected.
    cmsg: Option<Vec<u8>>,
    /// `slots` slots of `slot` bytes; allocated zeroed and never cleared, so
    /// the memory really used is the pages datagrams were written to.
    buf: Vec<u8>,
    slot: usize,
    gro: bool,
    got: Vec<Received>,
    /// The socket the headers last served (see [`Receiver::recv`]).
    last_socket: Option<RawFd>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("slots", &self.slots())
            .field("slot", &self.slot)
            .field("gro", &self.gro)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Room for `slots` datagrams (or GRO batches) of up to `slot` bytes each
    /// (a longer one is cut to `slot`). With `pktinfo`, room for each one's
    /// local address too (the socket must have [`enable_pktinfo`]); with
    /// `gro`, for the segment size of a GRO batch (see [`enable_gro`]).
    pub fn new(slots: usize, slot: usize, pktinfo: bool, gro: bool) -> Receiver {
        let slots = slots.max(1);
        let cmsg = match (pktinfo, gro) {
            (false, false) => None,
            (true, false) => Some(nix::cmsg_space!(nix::libc::in6_pktinfo)),
            (false, true) => Some(nix::cmsg_space!(i32)),
            (true, true) => Some(nix::cmsg_space!(nix::libc::in6_pktinfo, i32)),
        };
        let headers = (slots > 1).then(|| MultiHeaders::preallocate(slots, cmsg.clone()));
        Receiver {
            headers,
            cmsg,
            buf: vec![0; slots * slot],
            slot,
            gro,
            got: Vec::with_capacity(slots),
            last_socket: None,
        }
    }

    /// Datagrams (or GRO batches) one [`Receiver::recv`] takes at most.
    pub fn slots(&self) -> usize {
        self.buf.len() / self.slot
    }

    /// Receives what is queued, up to a batch: how many messages (slots) were
    /// taken off the queue (`WouldBlock` when none; a GRO batch is one).
    /// EINTR is returned like any error: the caller polls again.
    pub fn recv(&mut self, socket: &UdpSocket, wait: Wait) -> io::Result<usize> {
        self.got.clear();
        let fd = socket.as_raw_fd();
        let other_socket = self.last_socket.replace(fd).is_some_and(|last| last != fd);
        if (self.gro || other_socket) && self.headers.is_some() {
            // The kernel writes back each header's control length (shorter
            // when a datagram came without a GRO cmsg) and address length (16
            // for IPv4) and nix's headers keep them: fresh ones, so the next
            // batch's segment size is not cut off, nor an IPv6 sender on a
            // socket read after an IPv4 one (a loop with a socket per --bind).
            self.headers = Some(MultiHeaders::preallocate(self.slots(), self.cmsg.clone()));
        }
        let Some(headers) = self.headers.as_mut() else {
            return self.recv_one(socket, wait);
        };
        let mut slices: Vec<[io::IoSliceMut<'_>; 1]> = self
            .buf
            .chunks_exact_mut(self.slot)
            .map(|c| [io::IoSliceMut::new(c)])
            .collect();
        let flags = match wait {
            Wait::No => MsgFlags::MSG_DONTWAIT,
            Wait::Blocking => MsgFlags::MSG_WAITFORONE,
        };
        let results = recvmmsg(socket.as_raw_fd(), headers, slices.iter_mut(), flags, None)?;
        for msg in results {
            self.got.push(Received::from_msg(&msg, self.slot));
        }
        Ok(self.got.len())
    }

    /// One slot: `recvmsg`, with the control buffer given afresh each call.
    fn recv_one(&mut self, socket: &UdpSocket, wait: Wait) -> io::Result<usize> {
        let flags = match wait {
            Wait::No => MsgFlags::MSG_DONTWAIT,
            Wait::Blocking => MsgFlags::empty(),
        };
        let mut iov = [io::IoSliceMut::new(&mut self.buf)];
        let cmsg = self.cmsg.as_deref_mut();
        let msg = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, cmsg, flags)?;
        self.got.push(Received::from_msg(&msg, self.slot));
        Ok(1)
    }

    /// The datagrams of the last [`Receiver::recv`] that have an IP sender,
    /// GRO batches cut back into their datagrams: sender, local address (with
    /// packet info) and payload.
    pub fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, Option<IpAddr>, &[u8])> {
        self.got
            .iter()
            .zip(self.buf.chunks_exact(self.slot))
            .filter_map(|(r, slot)| Some((r.from?, r.to, &slot[..r.len], r.seg)))
            .flat_map(|(from, to, data, seg)| {
                // An empty datagram is still one datagram.
                let size = seg.filter(|&s| s < data.len()).unwrap_or(data.len().max(1));
                let count = data.len().div_ceil(size).max(1);
                (0..count).map(move |i| {
                    let start = (i * size).min(data.len());
                    let end = (start + size).min(data.len());
                    (from, to, &data[start..end])
                })
            })
    }
}

impl Received {
    /// What one received message says: its length (at most a `slot`), its
    /// sender, and the packet info and GRO segment size of its control data.
    fn from_msg(msg: &RecvMsg<'_, '_, SockaddrStorage>, slot: usize) -> Received {
        let mut r = Received {
            len: msg.bytes.min(slot),
            from: msg.address.as_ref().and_then(sockaddr),
            to: None,
            seg: None,
        };
        read_cmsgs(msg.cmsgs().into_iter().flatten(), &mut r);
        r
    }
}

/// Takes packet info and a GRO segment size from `cmsgs` into `r`.
fn read_cmsgs(cmsgs: impl Iterator<Item = ControlMessageOwned>, r: &mut Received) {
    for c in cmsgs {
        match c {
            ControlMessageOwned::Ipv4PacketInfo(info) => {
                r.to = Some(IpAddr::from(
                    u32::from_be(info.ipi_addr.s_addr).to_be_bytes(),
                ));
            }
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                r.to = Some(IpAddr::from(info.ipi6_addr.s6_addr));
            }
            ControlMessageOwned::UdpGroSegments(s) => {
                r.seg = usize::try_from(s).ok().filter(|&s| s > 0);
            }
            _ => {}
        }
    }
}

/// The IP socket address in `a`, if it is one.
fn sockaddr(a: &SockaddrStorage) -> Option<SocketAddr> {
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
    if setsockopt(socket, sockopt::RcvBufForce, &bytes).is_err() {
        let _ = sock.set_recv_buffer_size(bytes);
    }
}

/// Asks the kernel to hand over runs of datagrams from one sender as one
/// buffer (UDP GRO; a GSO message arrives whole), which a [`Receiver`] made
/// with `gro` cuts back into datagrams. Best effort: whether it is on.
pub fn enable_gro(socket: &UdpSocket) -> bool {
    setsockopt(socket, sockopt::UdpGroSegment, &true).is_ok()
}

/// Asks the kernel to tell, per datagram, the local address it was sent to
/// (for a [`Receiver`] made with `pktinfo`); `ip` is the socket's family.
pub fn enable_pktinfo(socket: &UdpSocket, ip: IpAddr) -> bool {
    let done = match ip {
        IpAddr::V4(_) => setsockopt(socket, sockopt::Ipv4PacketInfo, &true),
        IpAddr::V6(_) => setsockopt(socket, sockopt::Ipv6RecvPacketInfo, &true),
    };
    done.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::udp::send::Sender;

    #[test]
    fn batches_keep_each_datagram_its_sender_length_and_local_address() {
        const SLOTS: usize = 32;
        const SLOT: usize = 1024;
        for (bind, pktinfo) in [("127.0.0.1:0", false), ("0.0.0.0:0", true)] {
            let listener = UdpSocket::bind(bind).unwrap();
            if pktinfo {
                assert!(enable_pktinfo(&listener, IpAddr::from([0, 0, 0, 0])));
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
            let mut batch = Receiver::new(SLOTS, SLOT, pktinfo, false);
            assert_eq!(batch.slots(), SLOTS);
            let mut got = Vec::new();
            for _ in 0..1000 {
                match batch.recv(&listener, Wait::No) {
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
    fn one_receiver_reads_ipv4_and_ipv6_sockets_in_turn() {
        let v4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let v6 = UdpSocket::bind("[::1]:0").unwrap();
        let (c4, c6) = (
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("[::1]:0").unwrap(),
        );
        let mut rx = Receiver::new(8, 64, false, false);
        for round in 0..2 {
            for (server, client) in [(&v4, &c4), (&v6, &c6)] {
                client.send_to(b"hi", server.local_addr().unwrap()).unwrap();
                assert_eq!(received(server, &mut rx, 1), [b"hi"]);
                let from: Vec<SocketAddr> = rx.datagrams().map(|(f, _, _)| f).collect();
                assert_eq!(from, [client.local_addr().unwrap()], "round {round}");
            }
        }
    }

    /// Receives `want` datagrams, blocking up to 10 s for each message.
    fn received(socket: &UdpSocket, rx: &mut Receiver, want: usize) -> Vec<Vec<u8>> {
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut got = Vec::new();
        while got.len() < want {
            rx.recv(socket, Wait::Blocking).expect("a datagram");
            got.extend(rx.datagrams().map(|(_, _, d)| d.to_vec()));
        }
        got
    }

    #[test]
    fn gro_batches_are_cut_back_into_the_datagrams_sent() {
        // One slot (recvmsg) and several (recvmmsg), each with and without
        // GRO; a lone datagram first, so a slot that once received no GRO
        // cmsg must still see the next batch's segment size.
        for (slots, gro) in [(1, false), (1, true), (8, false), (8, true)] {
            let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
            if gro {
                assert!(enable_gro(&rx));
            }
            grow_receive_buffer(&rx, 1 << 20);
            let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
            let to = rx.local_addr().unwrap();
            let mut receiver = Receiver::new(slots, 128 * 1024, false, gro);
            tx.send_to(b"alone", to).unwrap();
            assert_eq!(received(&rx, &mut receiver, 1), [b"alone".to_vec()]);
            let mut sent: Vec<Vec<u8>> = (0..70u8).map(|i| vec![i; 100]).collect();
            sent.push(vec![200; 7]); // a short one ends the run
            sent.push(vec![201; 100]);
            sent.push(Vec::new());
            let mut sender = Sender::for_one_peer();
            for d in &sent {
                sender.push(to, d);
            }
            sender.flush(&tx);
            let got = received(&rx, &mut receiver, sent.len());
            assert_eq!(got, sent, "slots {slots}, gro {gro}");
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
