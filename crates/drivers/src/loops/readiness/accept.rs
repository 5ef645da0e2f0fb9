//! Accepting on a non-blocking listener, for every readiness loop: a bounded
//! batch per readiness report, and a pause when the process runs out of
//! descriptors or memory.

use crate::io::{is_resource_exhaustion, is_transient_accept_error};
use crate::listener::{Conn, Listener};
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::Duration;

/// How many connections one readiness report of the listener may accept: enough
/// to drain a burst, few enough that established connections are not starved.
pub(crate) const ACCEPT_BATCH: usize = 64;

/// After the process runs out of descriptors or memory, how long the loops stop
/// watching the listener (a level-triggered listener would otherwise spin).
pub(crate) const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// What [`accept_batch`] left the listener in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepted {
    /// Drained, or the batch was used up (level-triggered loops will be told
    /// again): keep watching the listener.
    Continue,
    /// The process is out of descriptors or memory: stop watching the listener
    /// for [`ACCEPT_PAUSE`] instead of spinning on the same error.
    Exhausted,
}

/// Accepts up to [`ACCEPT_BATCH`] connections from a non-blocking listener,
/// handing each to `on_conn`; stops early at WouldBlock. Errors that concern
/// one connection are skipped; only a broken listener is an error.
pub(crate) fn accept_batch(
    listener: &Listener,
    mut on_conn: impl FnMut(Conn, Option<SocketAddr>),
) -> io::Result<Accepted> {
    for _ in 0..ACCEPT_BATCH {
        match listener.accept_nonblocking() {
            Ok((conn, peer)) => on_conn(conn, peer),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if is_resource_exhaustion(&e) => {
                tracing::warn!("accept: {e}; not accepting for {ACCEPT_PAUSE:?}");
                return Ok(Accepted::Exhausted);
            }
            Err(e) if is_transient_accept_error(&e) => {
                tracing::debug!("accept: {e}");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Accepted::Continue)
}
