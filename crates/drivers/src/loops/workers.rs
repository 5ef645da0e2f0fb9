//! One event loop per thread, each on its own listener set: how the epoll and
//! uring models start their workers, wind them all down when one fails, and
//! join them. The first worker runs on the calling thread.

use crate::{Config, Listener, Shutdown};
use netkit_proto::Service;
use std::io;
use std::sync::Arc;

/// What one worker runs: its listeners, the descriptors made for it before
/// any worker accepts, the service, the settings, and the two signals it
/// stops on (the server's, and the one that winds the others down).
pub(crate) type RunWorker<S, F> =
    fn(Vec<Listener>, F, Arc<S>, &Config, &[Shutdown; 2]) -> io::Result<()>;

/// Serves with `config.workers` loops named `name-N`: SO_REUSEPORT siblings
/// of `listeners` for the extra threads, `make_fds` called for every worker
/// first, then `run` on each.
pub(crate) fn serve<S: Service, F: Send + 'static>(
    name: &'static str,
    listeners: Vec<Listener>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
    make_fds: fn() -> io::Result<F>,
    run: RunWorker<S, F>,
) -> io::Result<()> {
    // If one worker fails, this private signal winds the others down too, so
    // `serve` can return the error instead of leaving them running.
    let stop_others = Shutdown::new()?;
    let mut siblings = Vec::new();
    for _ in 1..config.workers.max(1) {
        let set: io::Result<Vec<Listener>> = listeners.iter().map(Listener::open_sibling).collect();
        siblings.push(set?);
    }
    // Every worker's descriptors are made here, before any worker accepts:
    // a worker still starting up while the first one fills the descriptor
    // table (a connection flood right after the ready line) would otherwise
    // fail with EMFILE and take the server down.
    let mut own = Vec::new();
    for _ in 0..config.workers.max(1) {
        own.push(make_fds()?);
    }
    let first_fds = own.pop().ok_or_else(|| io::Error::other("no worker"))?;
    let mut threads = Vec::new();
    for ((i, sibling), fds) in siblings.into_iter().enumerate().zip(own) {
        let (service, config) = (Arc::clone(&service), config.clone());
        let signals = [shutdown.clone(), stop_others.clone()];
        let spawned = std::thread::Builder::new()
            .name(format!("netkit-{name}-{}", i + 1))
            .spawn(move || run(sibling, fds, service, &config, &signals));
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => {
                stop_others.trigger();
                join_all(name, threads)?;
                return Err(e);
            }
        }
    }
    let first = run(
        listeners,
        first_fds,
        service,
        config,
        &[shutdown.clone(), stop_others],
    );
    let rest = join_all(name, threads);
    first.and(rest)
}

fn join_all(name: &str, threads: Vec<std::thread::JoinHandle<io::Result<()>>>) -> io::Result<()> {
    let mut result = Ok(());
    for t in threads {
        let r = t.join().unwrap_or_else(|_| {
            Err(io::Error::other(format!(
                "a worker of the {name} model panicked"
            )))
        });
        result = result.and(r);
    }
    result
}
