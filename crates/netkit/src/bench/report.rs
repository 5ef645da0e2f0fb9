//! What a load run measured, as numbers (for `--json` and `bench models`) and
//! as the few lines a person reads.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    Connect,
    Read,
    Write,
    Timeout,
    Status,
    Invalid,
    Tls,
}

/// Failed requests by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ErrorCounts {
    /// The connection could not be made (refused, unreachable, reset while connecting).
    pub connect: u64,
    /// The peer closed or reset the connection before the reply was complete (short read).
    pub read: u64,
    /// Sending the request failed (the peer had closed or reset).
    pub write: u64,
    /// No complete reply within the timeout.
    pub timeout: u64,
    /// A complete HTTP reply whose status was not 2xx or 3xx (also counted as a request).
    pub status: u64,
    /// A reply that could not be framed, or an echo that differed from what was sent.
    pub invalid: u64,
    /// The TLS handshake or a record failed (a refused certificate, say).
    pub tls: u64,
    /// The `status` replies by HTTP status code.
    pub statuses: BTreeMap<u16, u64>,
}

impl ErrorCounts {
    pub(crate) fn add(&mut self, kind: ErrorKind) {
        *match kind {
            ErrorKind::Connect => &mut self.connect,
            ErrorKind::Read => &mut self.read,
            ErrorKind::Write => &mut self.write,
            ErrorKind::Timeout => &mut self.timeout,
            ErrorKind::Status => &mut self.status,
            ErrorKind::Invalid => &mut self.invalid,
            ErrorKind::Tls => &mut self.tls,
        } += 1;
    }

    /// A complete reply whose status is not 2xx or 3xx.
    pub(crate) fn add_status(&mut self, code: u16) {
        self.add(ErrorKind::Status);
        *self.statuses.entry(code).or_default() += 1;
    }

    pub(crate) fn merge(&mut self, other: &ErrorCounts) {
        for (code, n) in &other.statuses {
            *self.statuses.entry(*code).or_default() += n;
        }
        self.connect += other.connect;
        self.read += other.read;
        self.write += other.write;
        self.timeout += other.timeout;
        self.status += other.status;
        self.invalid += other.invalid;
        self.tls += other.tls;
    }

    /// Every error of every kind.
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout + self.status + self.invalid + self.tls
    }

    /// Requests that got no complete reply (every kind but `status`).
    pub fn failed(&self) -> u64 {
        self.total() - self.status
    }
}

impl fmt::Display for ErrorCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total() == 0 {
            return f.write_str("none");
        }
        let kinds = [
            ("connect", self.connect),
            ("read", self.read),
            ("write", self.write),
            ("timeout", self.timeout),
            ("invalid", self.invalid),
            ("tls", self.tls),
        ];
        let mut parts: Vec<String> = kinds
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        // Each status code by name, so a 404 for a wrong path is plain.
        let named: u64 = self.statuses.values().sum();
        parts.extend(self.statuses.iter().map(|(code, n)| format!("{code} ×{n}")));
        if self.status > named {
            parts.push(format!("status {}", self.status - named));
        }
        f.write_str(&parts.join(", "))
    }
}

/// Latency of completed requests, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Fastest.
    pub min: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Slowest.
    pub max: u64,
}

impl Latency {
    pub(crate) fn from_histogram(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// The outcome of one `bench load` run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The URL that was driven.
    pub target: String,
    /// Open connections (each with one request in flight).
    pub connections: usize,
    /// Threads, each with its own event loop.
    pub threads: usize,
    /// Whether each request had a connection of its own.
    pub close: bool,
    /// Wall time of the run, in seconds.
    pub seconds: f64,
    /// Requests that got a complete reply (whatever its status).
    pub requests: u64,
    /// `requests` per second of wall time.
    pub requests_per_sec: f64,
    /// Bytes received.
    pub bytes_read: u64,
    /// Bytes sent.
    pub bytes_written: u64,
    /// Bytes received per second.
    pub read_bytes_per_sec: f64,
    /// Errors by kind.
    pub errors: ErrorCounts,
    /// Latency percentiles of completed requests, in microseconds.
    pub latency_us: Latency,
    /// Connections that never got a single reply.
    pub starved_connections: u64,
    /// `https://`: TLS handshakes completed (one per connection).
    pub tls_handshakes: u64,
    /// `https://`: of those, the ones that resumed a session.
    pub tls_resumed: u64,
    /// `https://`: the first TLS failure, as a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_error: Option<String>,
}

impl LoadReport {
    /// Requests that got a 2xx or 3xx reply (or an echo back).
    pub fn succeeded(&self) -> u64 {
        self.requests.saturating_sub(self.errors.status)
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.latency_us;
        writeln!(
            f,
            "{} — {} on {}{}, {:.2} s",
            self.target,
            count(self.connections as u64, "connection", "connections"),
            count(self.threads as u64, "thread", "threads"),
            if self.close {
                ", a connection per request"
            } else {
                ""
            },
            self.seconds
        )?;
        writeln!(
            f,
            "  requests  {:>12}   {:>12.1} req/s",
            self.requests, self.requests_per_sec
        )?;
        writeln!(
            f,
            "  transfer  {:>12} read, {} written   {}/s read",
            bytes(self.bytes_read as f64),
            bytes(self.bytes_written as f64),
            bytes(self.read_bytes_per_sec)
        )?;
        writeln!(
            f,
            "  latency   p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {})",
            micros(l.p50 as f64),
            micros(l.p90 as f64),
            micros(l.p99 as f64),
            micros(l.p999 as f64),
            micros(l.max as f64),
            micros(l.mean)
        )?;
        if self.target.starts_with("https://") {
            writeln!(
                f,
                "  tls       {:>12} handshakes   {:>12.1} /s   {} resumed",
                self.tls_handshakes,
                self.tls_handshakes as f64 / self.seconds.max(1e-9),
                self.tls_resumed
            )?;
        }
        write!(f, "  errors    {}", self.errors)?;
        if self.starved_connections > 0 {
            write!(
                f,
                "\n  starved   {} of {} never got a reply",
                self.starved_connections,
                count(self.connections as u64, "connection", "connections")
            )?;
        }
        Ok(())
    }
}

/// `1, "thread", "threads"` → `1 thread`; `4, …` → `4 threads`.
pub(crate) fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `1234` µs → `1.23 ms`.
pub(crate) fn micros(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}

/// `1536` → `1.50 KiB` (indicatif's binary units, as every netkit report).
pub(crate) fn bytes(n: f64) -> String {
    indicatif::HumanBytes(n.max(0.0) as u64).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_well() {
        assert_eq!(micros(12.0), "12 µs");
        assert_eq!(micros(1234.0), "1.23 ms");
        assert_eq!(micros(2_500_000.0), "2.50 s");
        assert_eq!(bytes(10.0), "10 B");
        assert_eq!(bytes(1536.0), "1.50 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0), "3.00 MiB");
        assert_eq!(count(1u64, "thread", "threads"), "1 thread");
        assert_eq!(count(0u64, "copy", "copies"), "0 copies");
        assert_eq!(count(2u64, "copy", "copies"), "2 copies");
    }

    #[test]
    fn errors_print_only_their_kinds() {
        let mut e = ErrorCounts::default();
        assert_eq!(e.to_string(), "none");
        e.add_status(404);
        e.add(ErrorKind::Read);
        e.add(ErrorKind::Read);
        e.add_status(503);
        e.add_status(404);
        assert_eq!(e.to_string(), "read 2, 404 ×2, 503 ×1");
        assert_eq!((e.total(), e.failed()), (5, 2));
    }
}
