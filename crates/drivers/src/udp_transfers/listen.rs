//! Reading the listening socket: requests in batches (`recvmmsg`), each with
//! its sender and (on a wildcard address, via `IP_PKTINFO`) the local address
//! it was sent to, and a receive buffer large enough to ride out a flood.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// Requests read by one `recvmmsg`.
pub(super) const REQUEST_BATCH: usize = 32;

/// `recvmmsg` calls per wake-up before shutdown is looked at again.
pub(super) const BATCHES_PER_WAKE: usize = 16;

/// Bytes kept of each datagram at the listening port: more than any request
/// may have (512), so a longer one is still seen as too long.
const REQUEST_SLOT: usize = 1024;

/// The listening socket's receive buffer: under a flood of garbage, room for
/// thousands of datagrams, so a real request that arrives while the loop is
/// off the CPU is queued rather than dropped.
const LISTEN_BUFFER: usize = 8 << 20;

/// Asks the kernel to tell, per datagram, the local address it was sent to.
pub(super) fn enable_pktinfo(listener: &UdpSocket, ip: IpAddr) -> bool {
    use nix::sys::socket::{setsockopt, sockopt};
    let done = match ip {
        IpAddr::V4(_) => setsockopt(listener, sockopt::Ipv4PacketInfo, &true),
        IpAddr::V6(_) => setsockopt(listener, sockopt::Ipv6RecvPacketInfo, &true),
    };
    done.is_ok()
}

/// Asks for [`LISTEN_BUFFER`]: past the system's maximum where allowed
/// (`SO_RCVBUFFORCE`, as root), else up to that maximum. Best effort.
pub(super) fn enlarge_receive_buffer(listener: &UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    if setsockopt(listener, sockopt::RcvBufForce, &LISTEN_BUFFER).is_err() {
        let _ = socket2::SockRef::from(listener).set_recv_buffer_size(LISTEN_BUFFER);
    }
}

/// Reads the listening socket [`REQUEST_BATCH`] datagrams per system call
/// (`recvmmsg`): under a flood, garbage is drained far faster than one
/// `recvfrom` each, so the queue keeps room for real requests.
pub(super) struct RequestReader {
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    buf: Vec<u8>,
    /// Per datagram read: its length, sender and (with pktinfo) the local
    /// address it was sent to.
    got: Vec<(usize, SocketAddr, Option<IpAddr>)>,
}

impl RequestReader {
    pub(super) fn new(pktinfo: bool) -> Self {
        let cmsg = pktinfo.then(|| nix::cmsg_space!(nix::libc::in6_pktinfo));
        Self {
            headers: nix::sys::socket::MultiHeaders::preallocate(REQUEST_BATCH, cmsg),
            buf: vec![0u8; REQUEST_BATCH * REQUEST_SLOT],
            got: Vec::with_capacity(REQUEST_BATCH),
        }
    }

    /// Reads what is queued, up to a batch, without blocking; returns how
    /// many datagrams were taken off the queue (some may be unusable).
    pub(super) fn read(&mut self, listener: &UdpSocket) -> io::Result<usize> {
        use nix::sys::socket::{recvmmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::AsRawFd;
        self.got.clear();
        let mut slices: Vec<[io::IoSliceMut<'_>; 1]> = self
            .buf
            .chunks_mut(REQUEST_SLOT)
            .map(|c| [io::IoSliceMut::new(c)])
            .collect();
        let results = recvmmsg(
            listener.as_raw_fd(),
            &mut self.headers,
            slices.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        let mut count = 0;
        for msg in results {
            count += 1;
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
            // A sender-less datagram keeps its slot (as an empty one) so
            // slots and entries stay in step.
            let from = msg.address.as_ref().and_then(sockaddr);
            let from = from.unwrap_or_else(|| SocketAddr::from(([0u8; 4], 0)));
            self.got.push((msg.bytes.min(REQUEST_SLOT), from, to));
        }
        Ok(count)
    }

    /// The datagrams of the last [`RequestReader::read`] that have a sender.
    pub(super) fn iter(&self) -> impl Iterator<Item = (SocketAddr, Option<IpAddr>, &[u8])> {
        self.got
            .iter()
            .zip(self.buf.chunks(REQUEST_SLOT))
            .filter(|((_, from, _), _)| from.port() != 0)
            .map(|(&(n, from, to), slot)| (from, to, &slot[..n]))
    }
}

pub(super) fn sockaddr(a: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    a.as_sockaddr_in()
        .map(|v4| SocketAddr::V4((*v4).into()))
        .or_else(|| a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_each_request_its_sender_length_and_local_address() {
        for (bind, pktinfo) in [("127.0.0.1:0", false), ("0.0.0.0:0", true)] {
            let listener = UdpSocket::bind(bind).unwrap();
            if pktinfo {
                assert!(enable_pktinfo(
                    &listener,
                    listener.local_addr().unwrap().ip()
                ));
            }
            enlarge_receive_buffer(&listener);
            let port = listener.local_addr().unwrap().port();
            let to = SocketAddr::from(([127, 0, 0, 1], port));
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            // More than a batch, an empty one and one longer than a slot.
            let mut sent: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
            for i in 0..(REQUEST_BATCH + 5) {
                let (from, data) = match i {
                    3 => (&b, Vec::new()),
                    7 => (&b, vec![9u8; 3000]),
                    _ => (&a, vec![i as u8; 1 + i]),
                };
                from.send_to(&data, to).unwrap();
                sent.push((from.local_addr().unwrap(), data));
            }
            let mut reader = RequestReader::new(pktinfo);
            let mut got = Vec::new();
            for _ in 0..1000 {
                match reader.read(&listener) {
                    Ok(_) => got.extend(reader.iter().map(|(f, l, d)| (f, l, d.to_vec()))),
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
                let n = want.len().min(REQUEST_SLOT);
                assert_eq!(
                    data[..],
                    want[..n],
                    "a longer one is cut to a slot, still > 512"
                );
            }
        }
    }
}
