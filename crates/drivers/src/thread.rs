//! `--model thread`: a thread per connection (the seed's threading server,
//! `socketserver.ThreadingMixIn`).
//!
//! The accepting thread hands each connection to a new thread and goes back to
//! `accept`. Every client is served at once, each with simple blocking code; the
//! cost is a stack and a kernel thread per client, which is what limits this
//! model at thousands of connections. On shutdown the accept loop stops and the
//! connection threads get the grace period to finish.

use crate::loops::blocking::{accept_loop, serve_connection};
use crate::shutdown::Tracker;
use crate::{Config, Listener, Shutdown};
use netkit_proto::Service;
use std::io;
use std::sync::Arc;

/// Stack for connection threads: sessions keep their buffers on the heap.
const STACK_SIZE: usize = 256 * 1024;

/// Serves each connection on a thread of its own.
pub fn serve<S: Service>(
    listeners: impl Into<Vec<Listener>>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let listeners = listeners.into();
    let tracker = Arc::new(Tracker::default());
    let result = accept_loop(&listeners, shutdown, |conn, peer| {
        let guard = tracker.enter();
        let (service, config, shutdown) = (Arc::clone(&service), config.clone(), shutdown.clone());
        let spawned = std::thread::Builder::new()
            .name("netkit-conn".into())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                serve_connection(&*service, conn, peer, &config, &shutdown);
                drop(guard);
            });
        if let Err(e) = spawned {
            // The connection (moved into the closure) is closed as the error drops it.
            tracing::warn!(?peer, "cannot start a thread for a connection: {e}");
        }
    });
    drop(listeners);
    let left = tracker.wait_idle(config.grace);
    if left > 0 {
        tracing::warn!("{left} connection(s) still open after the grace period");
    }
    result
}
