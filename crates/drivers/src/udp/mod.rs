//! UDP: no connections to accept, so no choice of model — two small loops on
//! one sender and one receiver.
//!
//! ```text
//!                      ┌ serve / serve_woken   sockets (one per --bind), one
//!   datagram_loop.rs ──┤                        DatagramService (chat, UDP echo):
//!                      │                        recvmmsg in, grouped sendmmsg +
//!                      └                        GSO out through the peer's socket
//!   routes.rs          which socket each peer was last heard on (bounded)
//!   transfers/       ──┬ serve                  listening sockets, a socket and
//!                      │                        thread per TransferSession (TFTP server)
//!                      └ run                    one TransferSession on a socket
//!                                               (the TFTP client): the same loop
//!   send.rs  Sender    the one sender: group by destination, runs as GSO
//!                      messages, one sendmmsg; falls back where GSO is refused
//!   recv.rs  Receiver  the one receiver: recvmmsg slots, GRO batches cut
//!                      back into datagrams, packet info; buffer sizing
//! ```

mod datagram_loop;
pub mod recv;
mod routes;
pub mod send;
pub mod transfers;

pub use datagram_loop::{serve, serve_woken, DatagramLoop, UdpWaker, RECEIVE_BUFFER};
