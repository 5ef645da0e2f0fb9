//! How the listening socket is read: requests in batches
//! ([`crate::udp::recv::Receiver`]), each with its sender and (on a wildcard
//! address, via `IP_PKTINFO`) the local address it was sent to, and a receive
//! buffer large enough to ride out a flood.

/// Requests read by one `recvmmsg`.
pub(super) const REQUEST_BATCH: usize = 32;

/// `recvmmsg` calls per wake-up before shutdown is looked at again.
pub(super) const BATCHES_PER_WAKE: usize = 16;

/// Bytes kept of each datagram at the listening port: more than any request
/// may have (512), so a longer one is still seen as too long.
pub(super) const REQUEST_SLOT: usize = 1024;

/// The listening socket's receive buffer: under a flood of garbage, room for
/// thousands of datagrams, so a real request that arrives while the loop is
/// off the CPU is queued rather than dropped.
pub(super) const LISTEN_BUFFER: usize = 8 << 20;
