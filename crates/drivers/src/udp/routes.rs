//! Which of a loop's sockets each peer was last heard on, so that everything
//! sent to it — the answer to its datagram, and what other peers' datagrams
//! or a timer make the service send it (a chat line, a PING) — leaves
//! through the socket it talks to. A client on a connected socket (`chat
//! join`, `nc -u`) hears only the address it sent to, and a socket bound to
//! `127.0.0.1` cannot send to `::1` at all.
//!
//! Bounded, since any address can send a datagram: two generations of at
//! most [`GENERATION`] peers each; when the current one is full it becomes
//! the previous one and the oldest is forgotten. A peer heard since the last
//! [`GENERATION`] new ones is always known (a chat member's PING renews it);
//! one forgotten gets the first socket of its address family.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};

/// Peers one generation remembers.
pub(super) const GENERATION: usize = 16_384;

/// Peer → index of the socket it was last heard on.
#[derive(Debug, Default)]
pub(super) struct Routes {
    current: HashMap<SocketAddr, usize>,
    previous: HashMap<SocketAddr, usize>,
    /// Per socket: its local address is IPv6 (a dual-stack `::` one also
    /// reaches IPv4 peers, which it sees as mapped addresses).
    ipv6: Vec<bool>,
}

impl Routes {
    /// Routes among `sockets`, in that order.
    pub(super) fn new(sockets: &[UdpSocket]) -> Routes {
        let ipv6 = sockets
            .iter()
            .map(|s| s.local_addr().is_ok_and(|a| a.is_ipv6()))
            .collect();
        Routes {
            ipv6,
            ..Routes::default()
        }
    }

    /// `peer` was heard on socket `index`.
    pub(super) fn heard(&mut self, peer: SocketAddr, index: usize) {
        if self.current.get(&peer) == Some(&index) {
            return;
        }
        if self.current.len() >= GENERATION && !self.current.contains_key(&peer) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(peer, index);
    }

    /// The socket to send to `peer` through: where it was last heard, else
    /// the first of its address family, else the first.
    pub(super) fn socket_for(&self, peer: SocketAddr) -> usize {
        if let Some(&index) = self.current.get(&peer).or_else(|| self.previous.get(&peer)) {
            return index;
        }
        self.ipv6
            .iter()
            .position(|&v6| v6 == peer.is_ipv6())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_peer_is_answered_where_it_was_last_heard() {
        let v4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        let v6 = UdpSocket::bind("[::1]:0").unwrap();
        let v4b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut routes = Routes::new(&[v4, v6, v4b]);
        routes.heard(addr(1), 2);
        assert_eq!(routes.socket_for(addr(1)), 2);
        routes.heard(addr(1), 0);
        assert_eq!(routes.socket_for(addr(1)), 0);
        // Never heard: the first socket of its family.
        assert_eq!(routes.socket_for(addr(2)), 0);
        assert_eq!(routes.socket_for("[::1]:5".parse().unwrap()), 1);
    }

    #[test]
    fn memory_is_bounded_and_recent_peers_are_kept() {
        let sockets = [
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("127.0.0.1:0").unwrap(),
        ];
        let mut routes = Routes::new(&sockets);
        routes.heard(addr(1), 1);
        for i in 0..(3 * GENERATION) {
            let peer = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], (i >> 16) as u16 + 2));
            routes.heard(peer, 1);
            if i % 1000 == 0 {
                // A member that keeps talking stays known through the flood.
                routes.heard(addr(1), 1);
            }
            assert!(routes.current.len() + routes.previous.len() <= 2 * GENERATION);
        }
        assert_eq!(routes.socket_for(addr(1)), 1);
    }
}
