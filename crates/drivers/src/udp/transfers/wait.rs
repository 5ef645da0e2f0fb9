//! How one transfer waits for its peer: a blocking receive whose read
//! timeout is the time to the session's deadline, after a short poll while
//! polling pays off.

use crate::udp::recv::{Receiver, Wait};
use std::io;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// How long a wait polls before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// Waits without polling after a poll that came to nothing.
const SPIN_PAUSE: u32 = 16;

/// What one wait heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Heard {
    /// Datagrams are in the receiver.
    Datagrams,
    /// Nothing came before the wait ran out.
    Nothing,
    /// The kernel reported an ICMP port unreachable for an earlier send
    /// (only on a socket with `IP_RECVERR`, or a connected one).
    Refused,
    /// Another error (EINTR, say), logged: the transfer's own timeout decides.
    Error,
}

/// The read timeout armed on a transfer's socket, and whether polling before
/// sleeping has been paying off.
///
/// In lockstep the peer's next datagram is often only microseconds away, and
/// on a virtual machine putting an idle CPU to sleep and waking it costs more
/// than that — per block, on the critical path (measured: blksize 1468 over
/// loopback 2.5× faster with the poll). So a wait first polls the socket
/// without blocking for up to [`SPIN`]; a wait where that came to nothing
/// turns polling off for the next [`SPIN_PAUSE`] waits, so a slow peer (a
/// real network, a busy client) costs at most [`SPIN`] of CPU per
/// [`SPIN_PAUSE`] blocks. The socket's read timeout is re-set only when it
/// would oversleep by more than an eighth or wake before half of the wait
/// has passed, so steady transfers do not pay a `setsockopt` per block: a
/// blocking receive is then two system calls per block (recv, send) where a
/// readiness loop pays three (poll, recv, send).
#[derive(Debug, Default)]
pub(super) struct Waiting {
    armed: Option<Duration>,
    /// Waits left before polling is tried again.
    spin_pause: u32,
}

impl Waiting {
    /// Waits up to `wait` for datagrams on `socket` into `receiver`. Fails
    /// only when the read timeout cannot be set.
    pub(super) fn receive(
        &mut self,
        socket: &UdpSocket,
        receiver: &mut Receiver,
        wait: Duration,
    ) -> io::Result<Heard> {
        match self.poll_first(socket, receiver) {
            Ok(true) => return Ok(Heard::Datagrams),
            Ok(false) => {}
            Err(_) => return Ok(Heard::Refused),
        }
        if self
            .armed
            .is_none_or(|a| a > wait + wait / 8 || a < wait / 2)
        {
            socket.set_read_timeout(Some(wait))?;
            self.armed = Some(wait);
        }
        Ok(match receiver.recv(socket, Wait::Blocking) {
            Ok(_) => Heard::Datagrams,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Heard::Nothing
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Heard::Refused,
            Err(e) => {
                tracing::debug!("transfer recv: {e}");
                Heard::Error
            }
        })
    }

    /// Polls for up to [`SPIN`] if polling pays off: whether a datagram came
    /// (an error only for a refused peer).
    fn poll_first(&mut self, socket: &UdpSocket, receiver: &mut Receiver) -> io::Result<bool> {
        if self.spin_pause > 0 {
            self.spin_pause -= 1;
            return Ok(false);
        }
        let until = Instant::now() + SPIN;
        loop {
            match receiver.recv(socket, Wait::No) {
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < until => {
                    std::hint::spin_loop();
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(e),
                Err(_) => {
                    self.spin_pause = SPIN_PAUSE;
                    return Ok(false);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(receiver: &Receiver) -> Vec<Vec<u8>> {
        receiver.datagrams().map(|(_, _, d)| d.to_vec()).collect()
    }

    #[test]
    fn polling_before_sleeping_pauses_after_a_miss() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = socket.local_addr().unwrap();
        let mut rx = Receiver::new(1, 2048, false, false);
        let mut waiting = Waiting::default();
        peer.send_to(b"ack", to).unwrap();
        assert!(waiting.poll_first(&socket, &mut rx).unwrap());
        assert_eq!(
            texts(&rx),
            [b"ack"],
            "a queued datagram is taken by the poll"
        );
        assert!(!waiting.poll_first(&socket, &mut rx).unwrap());
        // After that miss, the next waits sleep at once, even with data there.
        peer.send_to(b"late", to).unwrap();
        for _ in 0..SPIN_PAUSE {
            assert!(!waiting.poll_first(&socket, &mut rx).unwrap());
        }
        assert!(waiting.poll_first(&socket, &mut rx).unwrap());
        assert_eq!(texts(&rx), [b"late"]);
    }

    #[test]
    fn a_wait_hears_a_datagram_or_runs_out() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut rx = Receiver::new(1, 2048, false, false);
        let mut waiting = Waiting::default();
        let wait = Duration::from_millis(20);
        assert_eq!(
            waiting.receive(&socket, &mut rx, wait).unwrap(),
            Heard::Nothing
        );
        peer.send_to(b"data", socket.local_addr().unwrap()).unwrap();
        let mut heard = Heard::Nothing;
        for _ in 0..100 {
            heard = waiting.receive(&socket, &mut rx, wait).unwrap();
            if heard != Heard::Nothing {
                break;
            }
        }
        assert_eq!(heard, Heard::Datagrams);
        assert_eq!(texts(&rx), [b"data"]);
    }
}
