//! The one UDP sender: many datagrams with few system calls, `sendmmsg(2)`
//! and UDP GSO.
//!
//! [`Sender`] takes everything a loop has to send after a batch of input —
//! the datagram loop's `Vec<Datagram>` ([`Sender::send`]), or a transfer's
//! window copied in as the session hands it over ([`Sender::push`], then
//! [`Sender::flush`]) — and sends it in as few calls as it can:
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
//! unless that socket asked for UDP GRO and takes the batch whole). A sender
//! for a socket with many peers ([`Sender::new`]) merges only small datagrams
//! (at most [`GSO_MAX_SEGMENT`] bytes, under any path MTU), so that one large
//! datagram cannot make the kernel refuse GSO for everyone; a sender for one
//! peer ([`Sender::for_one_peer`], a TFTP transfer) merges any size a GSO
//! message holds. If the kernel refuses GSO (older than Linux 4.18, a device
//! without checksum offload, a segment over the path MTU: `EIO`/`EINVAL`), the
//! batch falls back to one message per datagram and the sender remembers not
//! to try again.
//!
//! Sending is best effort, as `send_to` in a loop was: a datagram the kernel
//! refuses (`EAGAIN`, an ICMP error from an earlier send) is dropped and logged
//! (a TFTP session's retransmission covers it).
//!
//! Neither nix nor socket2 has a `sendmmsg` with a control message per
//! message (nix's is shared by all of them), so the call and its UDP_SEGMENT
//! control messages are built here, in the three `unsafe` blocks below.

use netkit_proto::Datagram;
use socket2::SockAddr;
use std::io;
use std::mem;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// Datagrams in one GSO message at most (the kernel's UDP_MAX_SEGMENTS was
/// 64 before Linux 6.7; later ones allow 128).
pub const GSO_MAX_SEGMENTS: usize = 64;

/// The largest datagram a sender for many peers merges into a GSO message:
/// segment plus headers must fit the path MTU, and 1,200 bytes fit under
/// IPv6's minimum of 1,280.
pub const GSO_MAX_SEGMENT: usize = 1_200;

/// Payload bytes in one GSO message at most (one UDP datagram's worth).
const GSO_MAX_BYTES: usize = 65_000;

/// Messages handed to one `sendmmsg` call (the kernel's UIO_MAXIOV caps it at 1,024).
const MMSG_MAX: usize = 1_024;

/// Sends datagrams in batches. Keeps its buffers between calls.
#[derive(Debug)]
pub struct Sender {
    gso: bool,
    /// The largest datagram merged into a GSO message.
    max_segment: usize,
    /// Datagrams [`Sender::push`]ed and not yet flushed, back to back…
    staged: Vec<u8>,
    /// …and each one's destination and end in `staged`.
    staged_at: Vec<(SocketAddr, usize)>,
    /// Indexes into the datagrams being sent, grouped by destination
    /// (stable: each destination's datagrams keep their order).
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

impl Default for Sender {
    fn default() -> Self {
        Sender::new()
    }
}

impl Sender {
    /// A sender for a socket with many peers: tries GSO first, for runs of
    /// datagrams of at most [`GSO_MAX_SEGMENT`] bytes.
    pub fn new() -> Sender {
        Sender {
            gso: true,
            max_segment: GSO_MAX_SEGMENT,
            staged: Vec::new(),
            staged_at: Vec::new(),
            order: Vec::new(),
            keys: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// A sender for a socket that talks to one peer (a transfer): tries GSO
    /// for runs of datagrams of any size that fit one GSO message, and a
    /// refusal turns it off for this sender only.
    pub fn for_one_peer() -> Sender {
        Sender {
            max_segment: GSO_MAX_BYTES,
            ..Sender::new()
        }
    }

    /// A sender that never uses GSO (one message per datagram, still `sendmmsg`).
    pub fn without_gso() -> Sender {
        Sender {
            gso: false,
            ..Sender::new()
        }
    }

    /// Whether GSO is still tried (false once the kernel refused it).
    pub fn gso(&self) -> bool {
        self.gso
    }

    /// Sends every datagram in `out` (emptying it): per destination in the
    /// order queued; across destinations in no promised order.
    pub fn send(&mut self, socket: &UdpSocket, out: &mut Vec<Datagram>) {
        match &out[..] {
            [] => {}
            // The common lock-step case: no grouping, one plain call.
            [d] => send_one(socket, d.to, &d.data),
            all => self.send_all(socket, all),
        }
        out.clear();
    }

    /// Queues a copy of one datagram for [`Sender::flush`] (for a session
    /// that lends its datagrams one at a time).
    pub fn push(&mut self, to: SocketAddr, data: &[u8]) {
        if self.staged.capacity() == 0 {
            // Reserved on first use: a transfer in lockstep never stages.
            self.staged.reserve(GSO_MAX_BYTES);
        }
        self.staged.extend_from_slice(data);
        self.staged_at.push((to, self.staged.len()));
    }

    /// Sends everything [`Sender::push`]ed, as [`Sender::send`] does.
    pub fn flush(&mut self, socket: &UdpSocket) {
        let staged = Staged {
            bytes: &self.staged,
            at: &self.staged_at,
        };
        match staged.count() {
            0 => return,
            1 => {
                let (to, data) = staged.get(0);
                send_one(socket, to, data);
            }
            _ => {
                // Taken out for the call, so `send_all` may borrow `self`.
                let (bytes, at) = (mem::take(&mut self.staged), mem::take(&mut self.staged_at));
                self.send_all(
                    socket,
                    &Staged {
                        bytes: &bytes,
                        at: &at,
                    },
                );
                (self.staged, self.staged_at) = (bytes, at);
            }
        }
        self.staged.clear();
        self.staged_at.clear();
    }

    /// Groups `items` by destination, plans the messages and sends them.
    fn send_all(&mut self, socket: &UdpSocket, items: &(impl Items + ?Sized)) {
        // Sorted by (address key, position): datagrams to one address keep
        // their order. The key is cheap to compare; addresses that differ only
        // in what it leaves out (IPv6 flow and scope) still get runs of their
        // own, as `plan` compares whole addresses.
        self.keys.clear();
        self.keys
            .extend((0..items.count()).map(|i| (key(items.get(i).0), i)));
        self.keys.sort_unstable();
        self.order.clear();
        self.order.extend(self.keys.iter().map(|&(_, i)| i));
        self.runs.clear();
        self.plan(items, 0);
        let mut next = 0;
        while next < self.runs.len() {
            let end = (next + MMSG_MAX).min(self.runs.len());
            match send_runs(socket, items, &self.order, &self.runs[next..end]) {
                Ok(n) => next += n.max(1),
                Err(e) if self.runs[next].seg > 0 && gso_refused(&e) => {
                    tracing::debug!("UDP GSO refused ({e}); sending datagrams one by one");
                    self.gso = false;
                    let from = self.runs[next].start;
                    self.runs.truncate(next);
                    self.plan(items, from);
                }
                Err(e) => {
                    let to = items.get(self.order[self.runs[next].start]).0;
                    tracing::debug!(%to, "sendmmsg: {e}");
                    next += 1;
                }
            }
        }
    }

    /// Appends to `runs` the messages for `order[from..]`.
    fn plan(&mut self, items: &(impl Items + ?Sized), from: usize) {
        let mut i = from;
        while i < self.order.len() {
            let (first_to, first) = items.get(self.order[i]);
            let seg = first.len();
            let mut count = 1;
            let mut bytes = seg;
            if self.gso && seg > 0 && seg <= self.max_segment {
                while let Some(&k) = self.order.get(i + count) {
                    let (to, d) = items.get(k);
                    let fits = to == first_to
                        && !d.is_empty()
                        && d.len() <= seg
                        && count < GSO_MAX_SEGMENTS
                        && bytes + d.len() <= GSO_MAX_BYTES;
                    if !fits {
                        break;
                    }
                    count += 1;
                    bytes += d.len();
                    if d.len() < seg {
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

/// Datagrams to send, by position: a service's queue, or staged copies.
trait Items {
    fn count(&self) -> usize;
    fn get(&self, i: usize) -> (SocketAddr, &[u8]);
}

impl Items for [Datagram] {
    fn count(&self) -> usize {
        self.len()
    }

    fn get(&self, i: usize) -> (SocketAddr, &[u8]) {
        (self[i].to, &self[i].data)
    }
}

/// Datagrams staged back to back in `bytes`, each one's end in `at`.
struct Staged<'a> {
    bytes: &'a [u8],
    at: &'a [(SocketAddr, usize)],
}

impl Items for Staged<'_> {
    fn count(&self) -> usize {
        self.at.len()
    }

    fn get(&self, i: usize) -> (SocketAddr, &[u8]) {
        let start = if i == 0 { 0 } else { self.at[i - 1].1 };
        let (to, end) = self.at[i];
        (to, &self.bytes[start..end])
    }
}

/// One datagram, one plain call.
fn send_one(socket: &UdpSocket, to: SocketAddr, data: &[u8]) {
    if let Err(e) = socket.send_to(data, to) {
        tracing::debug!(%to, "send_to: {e}");
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
    items: &(impl Items + ?Sized),
    order: &[usize],
    runs: &[Run],
) -> io::Result<usize> {
    let datagrams: usize = runs.iter().map(|r| r.count).sum();
    // `IoSlice` is ABI-compatible with `iovec` on Unix (std guarantees it).
    let mut iovs: Vec<io::IoSlice<'_>> = Vec::with_capacity(datagrams);
    let mut addrs: Vec<SockAddr> = Vec::with_capacity(runs.len());
    let mut cmsgs: Vec<Cmsg> = Vec::with_capacity(runs.len());
    for run in runs {
        for &k in &order[run.start..run.start + run.count] {
            iovs.push(io::IoSlice::new(items.get(k).1));
        }
        addrs.push(SockAddr::from(items.get(order[run.start]).0));
        cmsgs.push(Cmsg::segment(run.seg));
    }
    // No vector above grows from here on: the pointers stay valid.
    let mut hdrs: Vec<libc::mmsghdr> = Vec::with_capacity(runs.len());
    let mut iov_at = 0;
    for ((run, addr), cmsg) in runs.iter().zip(&addrs).zip(&mut cmsgs) {
        // SAFETY: msghdr is plain data (pointers, lengths, padding on some
        // libcs); all-zero is a valid empty header.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        // The kernel only reads the address (sendmmsg takes it as non-const).
        msg.msg_name = addr.as_ptr().cast_mut().cast();
        msg.msg_namelen = addr.len();
        msg.msg_iov = iovs[iov_at..].as_mut_ptr().cast();
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
        // datagram of `items`, borrowed for the call; `hdrs.len()` headers
        // are initialised.
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
