//! `netkit http serve [DIR]`: the HTTP/1.1 static-file server under any model,
//! with its access log (common log format on stderr, buffered).

use super::common::{announce_all, parse_size, shutdown_on_signals, ModelArgs, ServerArgs};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use netkit_drivers::Model;
use netkit_proto::http::{AccessLog, HttpConfig, HttpService};
use netkit_proto::root::Root;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The HTTP port (80 needs root).
pub const DEFAULT_PORT: u16 = 8000;

/// `netkit http …`
#[derive(Debug, Subcommand)]
pub enum HttpCommand {
    /// Serve DIR over HTTP/1.1: files, listings, ranges, uploads with --upload.
    Serve(ServeArgs),
}

/// `netkit http serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The directory to serve.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Accept PUT (create a file) and DELETE.
    #[arg(long)]
    upload: bool,
    /// Let PUT replace an existing file (with --upload).
    #[arg(long)]
    overwrite: bool,
    /// Largest upload accepted, e.g. 512K, 100M, 2G (bytes without a suffix).
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    max_upload: u64,
    /// Serve and list dotfiles.
    #[arg(long)]
    hidden: bool,
    /// Add CORS headers (any origin) and answer preflight requests.
    #[arg(long)]
    cors: bool,
    /// No access log.
    #[arg(long, short)]
    quiet: bool,
    /// Seconds a client may take to send a request head (and between body reads).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    header_timeout: f64,
    /// Seconds an idle keep-alive connection is kept open.
    #[arg(long, value_name = "SECS", default_value_t = 75.0)]
    keepalive_timeout: f64,
    /// Connections beyond this many are answered 503 and closed.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
}

/// Runs a `http` command.
pub fn run(cmd: HttpCommand) -> Result<()> {
    match cmd {
        HttpCommand::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    let shutdown = shutdown_on_signals()?;
    let config = args.model.config()?;
    let root =
        Root::open(&args.dir).with_context(|| format!("cannot serve {}", args.dir.display()))?;
    if args.upload {
        let removed = root.remove_stale_temporaries().unwrap_or(0);
        if removed > 0 {
            tracing::info!("removed {removed} unfinished uploads");
        }
    }
    let http = HttpConfig {
        upload: args.upload,
        overwrite: args.overwrite,
        max_upload: args.max_upload,
        hidden: args.hidden,
        cors: args.cors,
        header_timeout: seconds(args.header_timeout, "--header-timeout")?,
        keepalive_timeout: seconds(args.keepalive_timeout, "--keepalive-timeout")?,
        max_connections: args.max_connections,
        model: args.model.model.name().to_owned(),
        ..HttpConfig::default()
    };
    let listeners = args.server.listen_tcp(DEFAULT_PORT)?;
    // The client speaks first: accept a connection once its request is there
    // (one wake-up per connection; a silent one is handed over after ~1 s and
    // then meets --header-timeout). Best effort: serving works without it.
    for listener in &listeners {
        if let Err(e) = listener.defer_accept(1) {
            tracing::debug!("TCP_DEFER_ACCEPT: {e}");
        }
    }
    // A forked child exits without running a flusher, so it writes each line
    // straight away; every other model buffers.
    let log = (!args.quiet).then(|| Arc::new(StderrLog::new(args.model.model != Model::Fork)));
    let flusher = log.as_ref().map(|log| log.spawn_flusher());
    let sink = log.clone().map(|l| l as Arc<dyn AccessLog>);
    let service = Arc::new(HttpService::new(root, http, sink, Instant::now()));
    announce_all("http", "http", &listeners)?;
    let result = netkit_drivers::serve(args.model.model, listeners, service, &config, &shutdown);
    if let Some(log) = &log {
        log.stop();
    }
    if let Some(Some(handle)) = flusher {
        let _ = handle.join();
    }
    result?;
    Ok(())
}

fn seconds(secs: f64, flag: &str) -> Result<Duration> {
    anyhow::ensure!(secs > 0.0, "{flag} must be more than 0 seconds");
    Duration::try_from_secs_f64(secs).with_context(|| format!("{flag} must be a number of seconds"))
}

/// Access log lines gathered in memory and written to stderr in batches: by a
/// flusher thread every 100 ms, or at once past 64 KiB. Writing a line per
/// request would cost a system call per request on the hot path.
struct StderrLog {
    buf: Mutex<Vec<u8>>,
    buffered: bool,
    stop: Mutex<bool>,
    wake: std::sync::Condvar,
}

const LOG_BATCH: usize = 64 * 1024;
const LOG_INTERVAL: Duration = Duration::from_millis(100);

impl StderrLog {
    fn new(buffered: bool) -> Self {
        Self {
            buf: Mutex::new(Vec::new()),
            buffered,
            stop: Mutex::new(false),
            wake: std::sync::Condvar::new(),
        }
    }

    fn spawn_flusher(self: &Arc<Self>) -> Option<std::thread::JoinHandle<()>> {
        if !self.buffered {
            return None;
        }
        let log = Arc::clone(self);
        Some(std::thread::spawn(move || loop {
            let stopped = {
                let guard = log.stop.lock().unwrap_or_else(|e| e.into_inner());
                let (guard, _) = log
                    .wake
                    .wait_timeout(guard, LOG_INTERVAL)
                    .unwrap_or_else(|e| e.into_inner());
                *guard
            };
            log.flush();
            if stopped {
                return;
            }
        }))
    }

    fn stop(&self) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
        self.flush();
    }

    fn flush(&self) {
        let batch = std::mem::take(&mut *self.buf.lock().unwrap_or_else(|e| e.into_inner()));
        if !batch.is_empty() {
            let _ = std::io::stderr().lock().write_all(&batch);
        }
    }
}

impl AccessLog for StderrLog {
    fn record(&self, line: &[u8]) {
        if !self.buffered {
            let _ = std::io::stderr().lock().write_all(line);
            return;
        }
        let full = {
            let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
            buf.extend_from_slice(line);
            buf.len() >= LOG_BATCH
        };
        if full {
            self.flush();
        }
    }
}
