//! Sending many datagrams with few system calls: `sendmmsg(2)` and UDP GSO.
//!
//! [`SendBatch::send`] takes everything a UDP loop has to send after a batch
//! of input and sends it in as few calls as it can:
//!
//! ```text
//!   out: [a1 b1 c1 a2 b2 c2 a3 …]          (in the order the service queued it)
//!     │ group by destination, keeping each destination's order
//!     ▼
//!   a: [a1 a2 a3]  b: [b1 b2 …]  c: …
//!     │ a run of equal-sized datagrams to one address (the last may be
//!     │ shorter) becomes ONE message with a UDP_SEGMENT control message (GSO)
//!     ▼
//!   sendmmsg([msg a1+a2+a3 seg=20, msg b1+b2 seg=20, msg c1, …])   one call
//! ```
//!
//! On the wire a GSO message is still separate datagrams, one per segment: the
//! kernel cuts it at the segment size (on loopback, at the receiving socket,
//! unless that socket asked for UDP_GRO and takes the batch whole). Only runs
//! of small datagrams (at most [`GSO_MAX_SEGMENT`] bytes, under any path MTU)
//! are merged. If the kernel refuses GSO (older than Linux 4.18, or a device
//! without checksum offload: `EIO`/`EINVAL`), the batch falls back to one
//! message per datagram and remembers not to try again.
//!
//! Sending is best effort, as `send_to` in a loop was: a datagram the kernel
//! refuses (`EAGAIN`, an ICMP error from an earlier send) is dropped and logged.

use netkit_proto::Datagram;
use std::io;
use std::mem;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// Datagrams in one GSO message at most (the kernel's UDP_MAX_SEGMENTS was
/// 64 before Linux 6.7; later ones allow 128).
pub const GSO_MAX_SEGMENTS: usize = 64;

/// The largest datagram merged into a GSO message: segment plus headers must
/// fit the path MTU, and 1,200 bytes fit under IPv6's minimum of 1,280.
pub const GSO_MAX_SEGMENT: usize = 1_200;

/// Payload bytes in one GSO message at most (one UDP datagram's worth).
const GSO_MAX_BYTES: usize = 65_000;

/// Messages handed to one `sendmmsg` call (the kernel's UIO_MAXIOV caps it at 1,024).
const MMSG_MAX: usize = 1_024;

/// Sends queued datagrams in batches. Keeps its buffers between calls.
#[derive(Debug)]
pub struct SendBatch {
    gso: bool,
    /// Indexes into `out`, grouped by destination (stable: each destination's
    /// datagrams keep their order).
    order: Vec<usize>,
    /// Scratch for sorting `order`.
    keys: Vec<(u128, usize)>,
    /// One per message: the first position in `order`, how many datagrams,
    /// and the GSO segment size (0: a single datagram, no GSO).
    runs: Vec<Run>,
}

#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    count: usize,
    seg: u16,
}

impl Default for SendBatch {
    fn default() -> Self {
        SendBatch::new()
    }
}

impl SendBatch {
    /// A batch that tries GSO first.
    pub fn new() -> SendBatch {
        SendBatch {
            gso: true,
            order: Vec::new(),
            keys: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// A batch that never uses GSO (one message per datagram, still `sendmmsg`).
    pub fn without_gso() -> SendBatch {
        SendBatch {
            gso: false,
            ..SendBatch::new()
        }
    }

    /// Whether GSO is still tried (false once the kernel refused it).
    pub fn gso(&self) -> bool {
        self.gso
    }

    /// Sends every datagram in `out` (emptying it): per destination in the
    /// order queued; across destinations in no promised order.
    pub fn send(&mut self, socket: &UdpSocket, out: &mut Vec<Datagram>) {
        match out.len() {
            0 => return,
            1 => {
                // The common lock-step case: no grouping, one plain call.
                let d = &out[0];
                if let Err(e) = socket.send_to(&d.data, d.to) {
                    tracing::debug!(to = %d.to, "send_to: {e}");
                }
                out.clear();
                return;
            }
            _ => {}
        }
        // Sorted by (address key, position): datagrams to one address keep
        // their order. The key is cheap to compare; addresses that differ only
        // in what it leaves out (IPv6 flow and scope) still get runs of their
        // own, as `plan` compares whole addresses.
        self.keys.clear();
        self.keys
            .extend(out.iter().enumerate().map(|(i, d)| (key(d.to), i)));
        self.keys.sort_unstable();
        self.order.clear();
        self.order.extend(self.keys.iter().map(|&(_, i)| i));
        self.runs.clear();
        self.plan(out, 0);
        let mut next = 0;
        while next < self.runs.len() {
            let end = (next + MMSG_MAX).min(self.runs.len());
            match send_runs(socket, out, &self.order, &self.runs[next..end]) {
                Ok(n) => next += n.max(1),
                Err(e) if self.runs[next].seg > 0 && gso_refused(&e) => {
                    tracing::debug!("UDP GSO refused ({e}); sending datagrams one by one");
                    self.gso = false;
                    let from = self.runs[next].start;
                    self.runs.truncate(next);
                    self.plan(out, from);
                }
                Err(e) => {
                    let d = &out[self.order[self.runs[next].start]];
                    tracing::debug!(to = %d.to, "sendmmsg: {e}");
                    next += 1;
                }
            }
        }
        out.clear();
    }

    /// Appends to `runs` the messages for `order[from..]`.
    fn plan(&mut self, out: &[Datagram], from: usize) {
        let mut i = from;
        while i < self.order.len() {
            let first = &out[self.order[i]];
            let seg = first.data.len();
            let mut count = 1;
            let mut bytes = seg;
            if self.gso && seg > 0 && seg <= GSO_MAX_SEGMENT {
                while let Some(&k) = self.order.get(i + count) {
                    let d = &out[k];
                    let fits = d.to == first.to
                        && !d.data.is_empty()
                        && d.data.len() <= seg
                        && count < GSO_MAX_SEGMENTS
                        && bytes + d.data.len() <= GSO_MAX_BYTES;
                    if !fits {
                        break;
                    }
                    count += 1;
                    bytes += d.data.len();
                    if d.data.len() < seg {
                        break; // a shorter one ends the run
                    }
                }
            }
            let seg = if count > 1 { seg as u16 } else { 0 };
            self.runs.push(Run {
                start: i,
                count,
                seg,
            });
            i += count;
        }
    }
}

/// A sort key for `addr`: its IP, port and family in one number.
fn key(addr: SocketAddr) -> u128 {
    match addr {
        SocketAddr::V4(a) => u128::from(a.ip().to_bits()) << 16 | u128::from(a.port()),
        // The low bits of an IPv6 address are the host's; the port replaces
        // the top 16 bits, and the family bit keeps it apart from IPv4 keys.
        SocketAddr::V6(a) => {
            (a.ip().to_bits() & (u128::MAX >> 17)) | u128::from(a.port()) << 111 | 1 << 127
        }
    }
}

/// Whether a failed GSO send means "this kernel or device cannot do GSO".
fn gso_refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO | libc::EINVAL | libc::EOPNOTSUPP | libc::ENOPROTOOPT)
    )
}

/// One `sendmmsg` for `runs`: how many messages the kernel took (at least one),
/// or the error of the first.
fn send_runs(
    socket: &UdpSocket,
    out: &[Datagram],
    order: &[usize],
    runs: &[Run],
) -> io::Result<usize> {
    let datagrams: usize = runs.iter().map(|r| r.count).sum();
    let mut iovs: Vec<libc::iovec> = Vec::with_capacity(datagrams);
    let mut addrs: Vec<(libc::sockaddr_storage, libc::socklen_t)> = Vec::with_capacity(runs.len());
    let mut cmsgs: Vec<Cmsg> = Vec::with_capacity(runs.len());
    for run in runs {
        for &k in &order[run.start..run.start + run.count] {
            let data = &out[k].data;
            iovs.push(libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            });
        }
        addrs.push(sockaddr(out[order[run.start]].to));
        cmsgs.push(Cmsg::segment(run.seg));
    }
    // No vector above grows from here on: the pointers stay valid.
    let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(runs.len());
    let mut iov_at = 0;
    for ((run, addr), cmsg) in runs.iter().zip(&mut addrs).zip(&mut cmsgs) {
        // SAFETY: msghdr is plain data; all-zero is a valid empty header.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = (&mut addr.0 as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = addr.1;
        msg.msg_iov = iovs[iov_at..].as_mut_ptr();
        msg.msg_iovlen = run.count as _;
        if run.seg > 0 {
            msg.msg_control = cmsg.0.as_mut_ptr().cast();
            msg.msg_controllen = mem::size_of_val(&cmsg.0) as _;
        }
        iov_at += run.count;
        hdrs.push(libc::mmsghdr {
            msg_hdr: msg,
            msg_len: 0,
        });
    }
    loop {
        // SAFETY: every header points into `iovs`, `addrs` and `cmsgs`, which
        // outlive the call and are not moved; each iovec points into a
        // datagram of `out`, borrowed for the call.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                hdrs.as_mut_ptr(),
                hdrs.len() as _,
                libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            return Ok((n as usize).max(1));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A control-message buffer holding one UDP_SEGMENT (u16), aligned for cmsghdr.
struct Cmsg([u64; 3]);

impl Cmsg {
    fn segment(seg: u16) -> Cmsg {
        let mut buf = Cmsg([0; 3]);
        if seg > 0 {
            // SAFETY: the buffer is CMSG_SPACE(2) = 24 bytes on 64-bit Linux
            // (checked below), aligned for cmsghdr; the header and data written
            // are within it.
            unsafe {
                let space = libc::CMSG_SPACE(mem::size_of::<u16>() as u32) as usize;
                assert!(space <= mem::size_of_val(&buf.0));
                let hdr = buf.0.as_mut_ptr().cast::<libc::cmsghdr>();
                (*hdr).cmsg_level = libc::SOL_UDP;
                (*hdr).cmsg_type = libc::UDP_SEGMENT;
                (*hdr).cmsg_len = libc::CMSG_LEN(mem::size_of::<u16>() as u32) as _;
                libc::CMSG_DATA(hdr).cast::<u16>().write_unaligned(seg);
            }
        }
        buf
    }
}

/// A socket address as the kernel takes it.
pub(crate) fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe {
                (&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in>()
                    .write(sin)
            };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(), // as std does: not byte-swapped
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe {
                (&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in6>()
                    .write(sin6)
            };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}
