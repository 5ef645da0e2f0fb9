//! `--model pool`: a fixed pool of worker threads (`--workers N`).
//!
//! The accepting thread puts each connection on a queue; N workers take them
//! off one at a time and serve each to the end. Thread count stays bounded no
//! matter how many clients come — but a client is only served when a worker is
//! free, so N busy or idle clients make everyone else wait in the queue, like
//! the iterative model times N.

use crate::listener::Conn;
use crate::loops::blocking::{accept_loop, serve_connection};
use crate::shutdown::Tracker;
use crate::{Config, Listener, Shutdown};
use netkit_proto::Service;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Serves connections on `config.workers` threads.
pub fn serve<S: Service>(
    listeners: impl Into<Vec<Listener>>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let listeners = listeners.into();
    let (queue, jobs) = mpsc::channel::<(Conn, Option<SocketAddr>)>();
    let jobs = Arc::new(Mutex::new(jobs));
    let tracker = Arc::new(Tracker::default());
    for i in 0..config.workers.max(1) {
        let guard = tracker.enter();
        let (jobs, service, config, shutdown) = (
            Arc::clone(&jobs),
            Arc::clone(&service),
            config.clone(),
            shutdown.clone(),
        );
        std::thread::Builder::new()
            .name(format!("netkit-pool-{i}"))
            .spawn(move || {
                let _guard = guard;
                loop {
                    // The lock is held only while taking a job, not while serving it.
                    let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        Ok((conn, peer)) => {
                            serve_connection(&*service, conn, peer, &config, &shutdown)
                        }
                        Err(mpsc::RecvError) => return, // queue closed: shutting down
                    }
                }
            })?;
    }
    let result = accept_loop(&listeners, shutdown, |conn, peer| {
        // Fails only if every worker has exited, which they do only on shutdown.
        let _ = queue.send((conn, peer));
    });
    drop(listeners);
    // Queued connections not yet started are still served: they were accepted.
    drop(queue);
    let left = tracker.wait_idle(config.grace);
    if left > 0 {
        tracing::warn!("{left} worker(s) still busy after the grace period");
    }
    result
}
