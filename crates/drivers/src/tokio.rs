//! `--model async`: every connection is a tokio task on a multi-threaded runtime.
//!
//! # Async tasks versus threads
//!
//! The thread model gives each client a kernel thread that *blocks* in `read`
//! or `write`; the kernel parks it and runs another thread. That is simple code,
//! but every waiting client costs a stack and a scheduler entry.
//!
//! Here each client is a *task*: a small state machine (the `async fn` below,
//! compiled into a struct) that never blocks. When a read or write would block,
//! the task returns `Pending` to the runtime, which registers the socket with
//! epoll and runs other tasks; when epoll says the socket is ready, the task is
//! resumed where it left off. `config.workers` threads run every task, so ten
//! thousand idle clients cost ten thousand small structs, not ten thousand
//! threads. The price: a task must never block its worker (no blocking syscalls
//! inside), which is why sendfile runs through `async_io` on a non-blocking
//! socket instead of being called directly.
//!
//! The code reads like the blocking loop in `loops/blocking.rs`, with `.await` where
//! that loop would block, and `tokio::select!` where it would `poll(2)` on the
//! socket, the session's deadline, the shutdown pipe and the wake-up eventfd at
//! once (here a tokio `Notify` stands in for the eventfd).
//!
//! # Shutdown
//!
//! The accept loop also waits on the [`Shutdown`] descriptor (a duplicate of it,
//! registered with the runtime as a tokio pipe). When it becomes readable the listener is dropped,
//! every task learns through a `watch` channel and calls `handle_shutdown`, and
//! the tasks get `config.grace` to finish; the runtime then drops whatever is
//! left.

use crate::io::{
    discard, discard_received, gather, is_resource_exhaustion, is_transient_accept_error,
    send_file, InputBuffer, LINGER,
};
use crate::{Config, Listener, Shutdown};
use netkit_proto::{Service, Session};
use socket2::{SockRef, Socket};
use std::io::{self, Write};
use std::net::{Shutdown as HowShutdown, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};
use tokio::io::Interest;
use tokio::net::unix::pipe;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

/// Serves each connection as a task on a runtime of `config.workers` threads.
pub fn serve<S: Service>(
    listeners: impl Into<Vec<Listener>>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.workers.max(1))
        .thread_name("netkit-async")
        .enable_io()
        .enable_time()
        .build()?;
    let result = runtime.block_on(run(listeners.into(), service, config, shutdown));
    // Tasks still running after the grace period are dropped at their next await.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn run<S: Service>(
    listeners: Vec<Listener>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    // The registration must happen inside the runtime, hence here and not in serve().
    let listeners = listeners
        .into_iter()
        .map(AsyncListener::new)
        .collect::<io::Result<Vec<_>>>()?;
    let mut turn = 0;
    // A duplicate of the shutdown pipe's read end, watched by the runtime's epoll.
    // Tokio makes the pipe non-blocking; harmless, as nobody ever reads it.
    let stop_pipe = pipe::Receiver::from_owned_fd(shutdown.fd().try_clone_to_owned()?)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let result = loop {
        if shutdown.is_triggered() {
            break Ok(());
        }
        tokio::select! {
            accepted = accept_any(&listeners, &mut turn) => match accepted {
                Ok((stream, peer)) => {
                    let (service, stop) = (Arc::clone(&service), stop_rx.clone());
                    let send_timeout = config.send_timeout;
                    tasks.spawn(async move {
                        serve_connection(&*service, stream, peer, send_timeout, stop).await
                    });
                }
                Err(e) if is_transient_accept_error(&e) => {
                    if is_resource_exhaustion(&e) {
                        tracing::warn!("accept: {e}; pausing");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                Err(e) => break Err(e),
            },
            // Nobody reads the pipe, so once readable it stays readable.
            ready = stop_pipe.readable() => break ready,
            // Reap finished tasks so the set does not grow with every connection served.
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = joined {
                    // A panic in one session ends only that connection.
                    tracing::error!("connection task failed: {e}");
                }
            }
        }
    };
    drop(listeners);
    stop_tx.send_replace(true);
    let drained = tokio::time::timeout(config.grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "{} connection(s) still open after the grace period",
            tasks.len()
        );
        tasks.abort_all();
    }
    result
}

/// Serves one connection; errors end only this connection and are logged.
async fn serve_connection<S: Service>(
    service: &S,
    stream: Stream,
    peer: Option<SocketAddr>,
    send_timeout: Duration,
    stop: watch::Receiver<bool>,
) {
    let mut session = service.new_session(peer, Instant::now());
    let wake = Arc::new(TaskWake(Notify::new()));
    session.set_waker(Waker::from(Arc::clone(&wake)));
    match drive(&stream, session, &wake, send_timeout, stop.clone()).await {
        // Half-close first so the peer reads everything before it sees EOF.
        Ok(eof) => {
            let _ = SockRef::from(&stream).shutdown(HowShutdown::Write);
            if !eof {
                linger(&stream, stop).await;
            }
        }
        Err(e) => tracing::debug!(?peer, "connection ended: {e}"),
    }
}

/// A lingering close (see `blocking::linger`): input left unread would turn
/// the close into a reset that destroys the reply in flight, so read and
/// discard until the peer's EOF or [`LINGER`] passes; a stopping server only
/// throws away what has already arrived.
async fn linger(stream: &Stream, mut stop: watch::Receiver<bool>) {
    let read_to_eof = async {
        while matches!(
            stream.io(Interest::READABLE, |mut sock| discard(&mut sock)).await,
            Ok(n) if n > 0
        ) {}
    };
    tokio::select! {
        _ = tokio::time::timeout(LINGER, read_to_eof) => {}
        () = stopped(&mut stop) => discard_received(&mut &*SockRef::from(stream)),
    }
}

/// The connection loop: the same steps as `blocking::drive`, awaiting instead of blocking.
async fn drive<S: Session>(
    stream: &Stream,
    mut session: S,
    wake: &TaskWake,
    send_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> io::Result<bool> {
    let mut input = InputBuffer::new();
    let mut out = Vec::new();
    let mut shutdown_seen = false;
    let mut eof = false;
    loop {
        flush(stream, &mut session, &mut out, send_timeout).await?;
        if session.is_done() {
            return Ok(eof);
        }
        let reading = session.wants_read() && !eof;
        let deadline = session.poll_timeout();
        if !reading && deadline.is_none() && shutdown_seen {
            // Nothing can make progress any more: neither input, time nor shutdown.
            return Ok(eof);
        }
        if reading && input.wants_reoffer() {
            // Leftover input (a pipelined request) goes in before waiting again.
            input.offer(|data| session.handle_input(Instant::now(), data));
            continue;
        }
        if reading && input.is_full() {
            return Err(io::Error::other(
                "session left a full input buffer unconsumed",
            ));
        }
        tokio::select! {
            read = stream.io(Interest::READABLE, |mut sock| {
                let now = Instant::now();
                input.read_and_offer(&mut sock, |data| session.handle_input(now, data))
            }), if reading => {
                if read? == 0 {
                    eof = true;
                    session.handle_eof(Instant::now());
                }
            }
            () = stopped(&mut stop), if !shutdown_seen => {
                shutdown_seen = true;
                session.handle_shutdown(Instant::now());
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                session.handle_timeout(Instant::now());
            }
            // A wake while the task was busy left a permit: no wake is lost.
            () = wake.0.notified() => session.handle_wake(Instant::now()),
        }
    }
}

/// A session's waker under this model: wakes the connection's task. Several
/// wakes before the task runs are one (Notify keeps a single permit).
struct TaskWake(Notify);

impl Wake for TaskWake {
    fn wake(self: Arc<Self>) {
        self.0.notify_one();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.notify_one();
    }
}

/// Resolves once shutdown has started (at once if it already has).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens once serving is over.
    let _ = stop.wait_for(|stopping| *stopping).await;
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Sends everything the session has to send, in order. Each write or sendfile
/// that makes no progress for `send_timeout` fails the connection, like the
/// blocking models' SO_SNDTIMEO.
async fn flush<S: Session>(
    stream: &Stream,
    session: &mut S,
    out: &mut Vec<u8>,
    send_timeout: Duration,
) -> io::Result<()> {
    loop {
        let chunk = gather(session, out);
        if out.is_empty() && chunk.is_none() {
            return Ok(());
        }
        let mut written = 0;
        while written < out.len() {
            let pending = &out[written..];
            let write = stream.io(Interest::WRITABLE, |mut sock| sock.write(pending));
            written += bounded(send_timeout, write).await?;
        }
        out.clear();
        let Some(chunk) = chunk else { continue };
        let mut sent = 0;
        while sent < chunk.len {
            let send = stream.io(Interest::WRITABLE, |sock| send_file(sock, &chunk, sent));
            match bounded(send_timeout, send).await? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank while being sent",
                    ))
                }
                n => sent += n as u64,
            }
        }
    }
}

/// Runs one socket operation, failing with `TimedOut` if it stalls for `limit`.
async fn bounded(
    limit: Duration,
    op: impl std::future::Future<Output = io::Result<usize>>,
) -> io::Result<usize> {
    match tokio::time::timeout(limit, op).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "peer stopped reading",
        )),
    }
}

/// The tokio form of [`Listener`].
enum AsyncListener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl AsyncListener {
    fn new(listener: Listener) -> io::Result<AsyncListener> {
        // Tokio needs non-blocking sockets: it waits for readiness itself.
        listener.set_nonblocking(true)?;
        Ok(match listener {
            Listener::Tcp(l) => AsyncListener::Tcp(TcpListener::from_std(l)?),
            Listener::Unix(l, _) => AsyncListener::Unix(UnixListener::from_std(l)?),
        })
    }

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Stream, Option<SocketAddr>)>> {
        match self {
            // Non-blocking and TCP_NODELAY already: mio accepts with
            // accept4(SOCK_NONBLOCK) and the listener passes TCP_NODELAY on.
            AsyncListener::Tcp(l) => l
                .poll_accept(cx)
                .map_ok(|(s, peer)| (Stream::Tcp(s), Some(peer))),
            AsyncListener::Unix(l) => l.poll_accept(cx).map_ok(|(s, _)| (Stream::Unix(s), None)),
        }
    }
}

/// The next connection from any of `listeners`. The search starts one past
/// the listener that gave the last connection (`turn`), so a busy listener
/// cannot starve the others.
async fn accept_any(
    listeners: &[AsyncListener],
    turn: &mut usize,
) -> io::Result<(Stream, Option<SocketAddr>)> {
    std::future::poll_fn(|cx| {
        let n = listeners.len().max(1);
        for k in 0..listeners.len() {
            let i = (*turn + k) % n;
            if let Poll::Ready(accepted) = listeners[i].poll_accept(cx) {
                *turn = i + 1;
                return Poll::Ready(accepted);
            }
        }
        Poll::Pending
    })
    .await
}

/// An accepted connection, TCP or Unix.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Waits until the socket is ready for `interest`, then runs `op` on it,
    /// waiting again whenever `op` fails with `WouldBlock`. `op` does plain
    /// non-blocking syscalls (read, write, sendfile) on the socket.
    async fn io<R>(
        &self,
        interest: Interest,
        mut op: impl FnMut(&Socket) -> io::Result<R>,
    ) -> io::Result<R> {
        let sock = SockRef::from(self);
        match self {
            Stream::Tcp(s) => s.async_io(interest, || op(&sock)).await,
            Stream::Unix(s) => s.async_io(interest, || op(&sock)).await,
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}
