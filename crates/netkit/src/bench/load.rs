//! `bench load`: the target, the request bytes, and the threads that drive
//! them (each a `worker` event loop), merged into one [`LoadReport`].

use super::reply::Expect;
use super::report::{ErrorCounts, Latency, LoadReport};
use super::worker::{self, Limit, Live, Plan, Tally};
use anyhow::{bail, Context, Result};
use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How long a run lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// Start requests for this long.
    After(Duration),
    /// Exactly this many requests (completed or failed).
    Requests(u64),
}

/// Everything `bench load` needs to know.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `http[s]://host[:port][/path]` or `tcp://host:port` (echo round trips).
    pub url: String,
    /// `https://`: how the server's certificate is checked (required for https).
    pub tls: Option<Arc<ClientConfig>>,
    /// `https://`: resume TLS sessions on new connections (as wrk and
    /// browsers do); off, every connection pays a full handshake.
    pub tls_resume: bool,
    /// Connections, each with one request in flight.
    pub connections: usize,
    /// Threads (default: one per CPU, at most one per connection).
    pub threads: Option<usize>,
    /// Duration or request count.
    pub stop: Stop,
    /// A request without a complete reply after this long fails as a timeout.
    pub timeout: Duration,
    /// HTTP: a new connection for every request (`Connection: close`).
    pub close: bool,
    /// HTTP method.
    pub method: String,
    /// Extra HTTP header lines, `Name: value`.
    pub headers: Vec<String>,
    /// HTTP request body.
    pub body: Vec<u8>,
    /// tcp://: bytes per echo round trip.
    pub size: usize,
    /// Show a live progress line on stderr.
    pub progress: bool,
}

impl LoadOptions {
    /// Defaults for `url`: 10 connections for 10 s, keep-alive GET, 64-byte echoes.
    pub fn new(url: &str) -> LoadOptions {
        LoadOptions {
            url: url.to_owned(),
            tls: None,
            tls_resume: true,
            connections: 10,
            threads: None,
            stop: Stop::After(Duration::from_secs(10)),
            timeout: Duration::from_secs(5),
            close: false,
            method: "GET".to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            size: 64,
            progress: false,
        }
    }
}

/// A parsed target: where to connect, what to send, what comes back.
#[derive(Debug, Clone)]
struct Target {
    addr: SocketAddr,
    request: Vec<u8>,
    expect: Expect,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
}

fn target(o: &LoadOptions) -> Result<Target> {
    let (scheme, rest) = o
        .url
        .split_once("://")
        .with_context(|| format!("'{}' is not a URL (http://…, https://… or tcp://…)", o.url))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    anyhow::ensure!(!authority.is_empty(), "'{}' has no host", o.url);
    match scheme {
        "http" | "https" => {
            let https = scheme == "https";
            let addr = resolve(authority, if https { 443 } else { 80 })?;
            let head_request = o.method.eq_ignore_ascii_case("HEAD");
            let tls = match (https, &o.tls) {
                (false, _) => None,
                (true, Some(config)) => Some((
                    Arc::clone(config),
                    crate::tls::client::server_name(authority)?,
                )),
                (true, None) => bail!("an https:// URL needs a TLS configuration"),
            };
            Ok(Target {
                addr,
                request: http_request(o, authority, path)?,
                expect: Expect::Http { head_request },
                tls,
            })
        }
        "tcp" => {
            anyhow::ensure!(path == "/", "a tcp:// URL has no path");
            anyhow::ensure!(o.size > 0, "--size must be at least 1");
            let request = (0..o.size).map(|i| b'a' + (i % 26) as u8).collect();
            Ok(Target {
                addr: resolve(authority, 7007)?,
                request,
                expect: Expect::Echo { len: o.size },
                tls: None,
            })
        }
        other => bail!("unsupported scheme '{other}' (http, https or tcp)"),
    }
}

fn resolve(authority: &str, default_port: u16) -> Result<SocketAddr> {
    let with_port = if authority.ends_with(']') || !authority.contains(':') {
        format!("{authority}:{default_port}")
    } else {
        authority.to_owned()
    };
    with_port
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve '{authority}'"))?
        .next()
        .with_context(|| format!("'{authority}' has no address"))
}

/// The request, serialised once for every connection to send as is.
fn http_request(o: &LoadOptions, authority: &str, path: &str) -> Result<Vec<u8>> {
    let method = o.method.to_ascii_uppercase();
    anyhow::ensure!(
        !method.is_empty() && method.bytes().all(|b| b.is_ascii_alphabetic()),
        "'{}' is not an HTTP method",
        o.method
    );
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    let has = |name: &str| {
        o.headers.iter().any(|h| {
            h.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
    };
    if !has("host") {
        req.push_str(&format!("Host: {authority}\r\n"));
    }
    for h in &o.headers {
        anyhow::ensure!(
            h.contains(':') && !h.contains('\r') && !h.contains('\n'),
            "header '{h}' is not 'Name: value'"
        );
        req.push_str(h.trim());
        req.push_str("\r\n");
    }
    if !o.body.is_empty() || matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        req.push_str(&format!("Content-Length: {}\r\n", o.body.len()));
    }
    if o.close {
        req.push_str("Connection: close\r\n");
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(&o.body);
    Ok(bytes)
}

/// Makes the first Ctrl-C end the run early with a report of what was done
/// (a second one exits at once, as usual).
pub fn stop_early_on_sigint() -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    extern "C" fn interrupted(_: nix::libc::c_int) {
        worker::INTERRUPTED.store(true, Ordering::Relaxed);
    }
    let action = SigAction::new(
        SigHandler::Handler(interrupted),
        SaFlags::SA_RESTART | SaFlags::SA_RESETHAND,
        SigSet::empty(),
    );
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe { sigaction(Signal::SIGINT, &action) }.context("installing the SIGINT handler")?;
    Ok(())
}

/// Runs the load and reports what it measured.
pub fn run(o: &LoadOptions) -> Result<LoadReport> {
    anyhow::ensure!(o.connections > 0, "-c must be at least 1");
    anyhow::ensure!(o.connections < u32::MAX as usize, "-c is far too large");
    let t = target(o)?;
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = o.threads.unwrap_or(cpus).clamp(1, o.connections);
    let timeout = o.timeout.max(Duration::from_millis(1));
    let request: Arc<[u8]> = t.request.into();
    let start = Instant::now();
    let limit = match o.stop {
        Stop::After(d) => Limit::Until(start + d),
        Stop::Requests(n) => Limit::Count(Arc::new(AtomicU64::new(n))),
    };
    let lives: Vec<Arc<Live>> = (0..threads).map(|_| Arc::new(Live::default())).collect();
    let (done_tx, done_rx) = mpsc::channel::<std::io::Result<Tally>>();
    let mut handles = Vec::with_capacity(threads);
    for (n, live) in lives.iter().enumerate() {
        let plan = Plan {
            addr: t.addr,
            conns: o.connections / threads + usize::from(n < o.connections % threads),
            request: Arc::clone(&request),
            expect: t.expect,
            close_each: o.close,
            timeout,
            limit: limit.clone(),
            tls: t
                .tls
                .as_ref()
                .map(|(config, name)| (thread_config(config, o.tls_resume), name.clone())),
        };
        let live = Arc::clone(live);
        let tx = done_tx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("load-{n}"))
            .spawn(move || {
                let _ = tx.send(worker::run(plan, &live));
            })
            .context("starting a load thread")?;
        handles.push(handle);
    }
    drop(done_tx);
    let mut tallies = Vec::with_capacity(threads);
    let mut first_error = None;
    let tick = Duration::from_millis(250);
    while tallies.len() + usize::from(first_error.is_some()) < threads {
        match done_rx.recv_timeout(tick) {
            Ok(Ok(tally)) => tallies.push(tally),
            Ok(Err(e)) => first_error = first_error.or(Some(e)),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if o.progress {
            show_progress(start, o.stop, &lives);
        }
    }
    if o.progress {
        eprint!("\r\x1b[2K");
    }
    for h in handles {
        let _ = h.join();
    }
    if let Some(e) = first_error {
        return Err(e).context("a load thread failed");
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(merge(o, threads, seconds, tallies))
}

/// A thread's own TLS configuration: its own session cache (no lock shared
/// between threads), or none.
fn thread_config(config: &ClientConfig, resume: bool) -> Arc<ClientConfig> {
    let mut config = config.clone();
    config.resumption = if resume {
        Resumption::in_memory_sessions(256)
    } else {
        Resumption::disabled()
    };
    Arc::new(config)
}

fn show_progress(start: Instant, stop: Stop, lives: &[Arc<Live>]) {
    let done: u64 = lives
        .iter()
        .map(|l| l.completed.load(Ordering::Relaxed))
        .sum();
    let errors: u64 = lives.iter().map(|l| l.errors.load(Ordering::Relaxed)).sum();
    let secs = start.elapsed().as_secs_f64();
    let goal = match stop {
        Stop::After(d) => format!("{secs:.1}/{:.1} s", d.as_secs_f64()),
        Stop::Requests(n) => format!("{done}/{n} requests"),
    };
    let rate = done as f64 / secs.max(1e-9);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r\x1b[2K{goal}  {done} done  {rate:.0} req/s  {errors} errors"
    );
    let _ = err.flush();
}

fn merge(o: &LoadOptions, threads: usize, seconds: f64, tallies: Vec<Tally>) -> LoadReport {
    let mut all = Tally::new();
    let mut errors = ErrorCounts::default();
    for t in &tallies {
        // Same bounds everywhere, so adding cannot fail.
        let _ = all.hist.add(&t.hist);
        all.completed += t.completed;
        all.bytes_read += t.bytes_read;
        all.bytes_written += t.bytes_written;
        errors.merge(&t.errors);
        all.starved += t.starved;
        all.handshakes += t.handshakes;
        all.resumed += t.resumed;
        if all.tls_error.is_none() {
            all.tls_error.clone_from(&t.tls_error);
        }
    }
    let secs = seconds.max(1e-9);
    LoadReport {
        target: o.url.clone(),
        connections: o.connections,
        threads,
        close: o.close,
        seconds,
        requests: all.completed,
        requests_per_sec: all.completed as f64 / secs,
        bytes_read: all.bytes_read,
        bytes_written: all.bytes_written,
        read_bytes_per_sec: all.bytes_read as f64 / secs,
        errors,
        latency_us: Latency::from_histogram(&all.hist),
        starved_connections: all.starved,
        tls_handshakes: all.handshakes,
        tls_resumed: all.resumed,
        tls_error: all.tls_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_serialised_once_with_host_headers_body_and_close() {
        let mut o = LoadOptions::new("http://127.0.0.1:8080/a/b?x=1");
        o.method = "post".into();
        o.headers = vec!["X-Test: 1".into()];
        o.body = b"hi".to_vec();
        o.close = true;
        let t = target(&o).unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            String::from_utf8(t.request).unwrap(),
            "POST /a/b?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Test: 1\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
        let mut o = LoadOptions::new("http://127.0.0.1");
        o.headers = vec!["host: example".into()];
        let req = String::from_utf8(target(&o).unwrap().request).unwrap();
        assert_eq!(req, "GET / HTTP/1.1\r\nhost: example\r\n\r\n");
    }

    #[test]
    fn echo_targets_and_bad_urls() {
        let mut o = LoadOptions::new("tcp://127.0.0.1:9");
        o.size = 30;
        let t = target(&o).unwrap();
        assert_eq!(t.request.len(), 30);
        assert_eq!(t.expect, Expect::Echo { len: 30 });
        for bad in [
            "127.0.0.1:80",
            "ftp://x/",
            "http:///",
            "tcp://127.0.0.1:9/x",
        ] {
            assert!(target(&LoadOptions::new(bad)).is_err(), "{bad}");
        }
        let mut o = LoadOptions::new("http://127.0.0.1/");
        o.headers = vec!["no colon".into()];
        assert!(target(&o).is_err());
    }
}
