//! Receiving many datagrams with one system call: `recvmmsg(2)`.
//!
//! [`RecvBatch`] owns [`SLOTS`] buffers, each big enough for any UDP payload
//! (so nothing is ever truncated), and fills as many as are queued with one
//! call. The buffers are allocated zeroed and untouched, so the memory they
//! really occupy is the pages datagrams were written to.

use crate::udp_gso::socket_addr;
use std::io;
use std::mem;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// Datagrams one call receives at most.
pub(super) const SLOTS: usize = 64;

/// Bytes per slot: more than the largest UDP payload (65,527 over IPv6).
const SLOT: usize = 65_536;

/// Buffers for one `recvmmsg` and what it received.
pub(super) struct RecvBatch {
    bufs: Vec<u8>,
    addrs: Vec<libc::sockaddr_storage>,
    /// Per slot: the address length and the datagram length the kernel wrote.
    got: Vec<(libc::socklen_t, usize)>,
    len: usize,
}

impl RecvBatch {
    pub(super) fn new() -> RecvBatch {
        RecvBatch {
            bufs: vec![0; SLOTS * SLOT],
            // SAFETY: sockaddr_storage is plain data; all-zero is valid.
            addrs: vec![unsafe { mem::zeroed() }; SLOTS],
            got: vec![(0, 0); SLOTS],
            len: 0,
        }
    }

    /// Receives what is queued (up to [`SLOTS`] datagrams) without blocking:
    /// how many (`WouldBlock` when none).
    pub(super) fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.len = 0;
        let mut iovs: Vec<libc::iovec> = self
            .bufs
            .chunks_exact_mut(SLOT)
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let mut hdrs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .zip(self.addrs.iter_mut())
            .map(|(iov, addr)| {
                // SAFETY: msghdr is plain data; all-zero is a valid empty header.
                let mut msg: libc::msghdr = unsafe { mem::zeroed() };
                msg.msg_name = (addr as *mut libc::sockaddr_storage).cast();
                msg.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as _;
                msg.msg_iov = iov;
                msg.msg_iovlen = 1;
                libc::mmsghdr {
                    msg_hdr: msg,
                    msg_len: 0,
                }
            })
            .collect();
        let n = loop {
            // SAFETY: each header points to its own iovec (into `bufs`) and
            // address slot, all alive and unmoved for the call.
            let n = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    hdrs.len() as _,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                break n as usize;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        };
        for (got, hdr) in self.got.iter_mut().zip(&hdrs[..n]) {
            *got = (hdr.msg_hdr.msg_namelen, hdr.msg_len as usize);
        }
        self.len = n;
        Ok(n)
    }

    /// The datagrams of the last [`RecvBatch::recv`], with their senders
    /// (any whose sender is not an IP address is skipped).
    pub(super) fn datagrams(&self) -> impl Iterator<Item = (SocketAddr, &[u8])> {
        self.got[..self.len]
            .iter()
            .zip(&self.addrs)
            .zip(self.bufs.chunks_exact(SLOT))
            .filter_map(|((&(alen, n), addr), buf)| {
                Some((socket_addr(addr, alen)?, &buf[..n.min(SLOT)]))
            })
    }
}
