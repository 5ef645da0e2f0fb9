//! The access log on stderr, one line per request or transfer in the one
//! format of [`netkit_proto::access_log`], for every service (`--quiet` turns
//! it off): lines gathered in memory and written in batches, outside
//! `tracing` (a formatted event per request would cost the hot path), but
//! obeying its level (info).

use netkit_proto::access_log::{clf_date, write_line, AccessLog, Entry};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// The access log a server writes, at level info: none with `--quiet` (or
/// `RUST_LOG=warn`); `buffered` unless lines must go out at once (a forked
/// child exits without a flusher).
pub(crate) fn open(quiet: bool, buffered: bool) -> Option<Log> {
    if quiet || !tracing::enabled!(tracing::Level::INFO) {
        return None;
    }
    let log = Arc::new(StderrLog::new(buffered));
    let flusher = log.spawn_flusher();
    Some(Log { log, flusher })
}

/// An open access log: what services are given ([`Log::sink`]); dropping it
/// writes what is left and stops the flusher.
pub(crate) struct Log {
    log: Arc<StderrLog>,
    flusher: Option<JoinHandle<()>>,
}

impl Log {
    /// The sink to hand a service.
    pub(crate) fn sink(&self) -> Arc<dyn AccessLog> {
        self.log.clone()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.log.stop();
        if let Some(flusher) = self.flusher.take() {
            let _ = flusher.join();
        }
    }
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

    /// Starts the thread that writes the batches (none when unbuffered).
    fn spawn_flusher(self: &Arc<Self>) -> Option<JoinHandle<()>> {
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

    /// Stops the flusher and writes what is left.
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
    fn entry(&self, entry: &Entry<'_>) {
        let mut line = Vec::with_capacity(96 + entry.request.len());
        write_line(&mut line, clf_date(SystemTime::now()).as_bytes(), entry);
        self.record(&line);
    }

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
