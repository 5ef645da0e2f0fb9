//! `bench models`: the same service under every concurrency model, loaded at a
//! ladder of connection counts, as one table (and a chart).
//!
//! Each model gets a fresh server — this very binary, `netkit echo serve` or
//! `netkit http serve` with `--model M --port 0`, found by its ready line — and
//! keeps it for all its rungs. While a rung runs, a sampler sums the resident
//! memory of the server and its children (fork's processes count too) and keeps
//! the peak. A rung a model cannot take is marked, not run: `iterative` past 10
//! connections (one client at a time: the rest only wait), `select` past
//! FD_SETSIZE, `fork` at 1000 processes. A server that dies is restarted and
//! its rung marked failed.

use super::chart;
use super::load::{self, LoadOptions, Stop};
use super::report::{bytes, count, micros, ErrorCounts};
pub use super::server::ServiceKind;
use super::server::{RssSampler, Server, Site};
use anyhow::Result;
use netkit_drivers::Model;
use serde::Serialize;
use std::fmt;
use std::path::Path;
use std::time::Duration;
/// select(2) cannot watch a descriptor numbered 1024 or more.
const FD_SETSIZE: usize = 1024;

/// What `bench models` runs.
#[derive(Debug, Clone)]
pub struct ModelsOptions {
    /// The service.
    pub service: ServiceKind,
    /// The models, in table order.
    pub models: Vec<Model>,
    /// Connection counts.
    pub ladder: Vec<usize>,
    /// Load duration at each rung.
    pub duration: Duration,
    /// Load-generator threads.
    pub threads: Option<usize>,
    /// Echo bytes per round trip.
    pub size: usize,
    /// Print each rung to stderr as it finishes.
    pub progress: bool,
}

/// One model at one connection count.
#[derive(Debug, Clone, Serialize)]
pub struct Rung {
    /// Connections.
    pub connections: usize,
    /// `ok`, `skipped` (the model cannot take it) or `failed`.
    pub outcome: &'static str,
    /// Why it was skipped or failed, or what stood out (starved connections).
    pub note: Option<String>,
    /// Completed requests per second.
    pub requests_per_sec: f64,
    /// 99th-percentile latency, microseconds.
    pub p99_us: u64,
    /// Peak resident memory of the server and its children, KiB.
    pub peak_rss_kib: u64,
    /// Errors by kind.
    pub errors: ErrorCounts,
}

/// One model's rungs.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    /// The model's name.
    pub model: String,
    /// One entry per ladder rung.
    pub rungs: Vec<Rung>,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct ModelsReport {
    /// `echo` or `http`.
    pub service: &'static str,
    /// Seconds of load per rung.
    pub seconds_per_rung: f64,
    /// CPUs on this machine (client and server share them).
    pub cpus: usize,
    /// Connection counts.
    pub ladder: Vec<usize>,
    /// One row per model.
    pub rows: Vec<ModelRow>,
    /// What the numbers show, in words (stalls, memory per connection, peaks).
    pub conclusions: Vec<String>,
}

/// Why `model` cannot take `conns` connections, if it cannot.
fn cannot_take(model: Model, conns: usize) -> Option<&'static str> {
    match model {
        Model::Iterative if conns > 10 => Some("one client at a time: the others only wait"),
        Model::Select if conns + 16 > FD_SETSIZE => Some("past select's FD_SETSIZE (1024)"),
        Model::Fork if conns >= 1000 => Some("a process per connection: too many processes"),
        _ => None,
    }
}

/// Runs every model at every rung.
pub fn run(o: &ModelsOptions) -> Result<ModelsReport> {
    anyhow::ensure!(!o.ladder.is_empty(), "--ladder needs at least one count");
    anyhow::ensure!(
        o.ladder.iter().all(|&c| c > 0),
        "--ladder counts must be at least 1"
    );
    let site = match o.service {
        ServiceKind::Http => Some(Site::create()?),
        ServiceKind::Echo => None,
    };
    let mut rows = Vec::new();
    for &model in &o.models {
        let mut server = None;
        let mut rungs = Vec::new();
        for &conns in &o.ladder {
            if let Some(why) = cannot_take(model, conns) {
                rungs.push(marked(conns, "skipped", why.to_owned()));
                continue;
            }
            if server.as_mut().is_none_or(|s: &mut Server| s.exited()) {
                server = match Server::start(o.service, model, site.as_ref()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        rungs.push(marked(conns, "failed", format!("{e:#}")));
                        continue;
                    }
                };
            }
            let Some(s) = server.as_mut() else { continue };
            let rung = run_rung(o, s, conns);
            if o.progress {
                eprintln!(
                    "{model:>9} {conns:>5} conns: {:.0} req/s {}",
                    rung.requests_per_sec,
                    rung.note.as_deref().unwrap_or("")
                );
            }
            rungs.push(rung);
        }
        if let Some(s) = server {
            s.stop();
        }
        rows.push(ModelRow {
            model: model.name().to_owned(),
            rungs,
        });
    }
    let mut report = ModelsReport {
        service: o.service.name(),
        seconds_per_rung: o.duration.as_secs_f64(),
        cpus: std::thread::available_parallelism().map_or(2, |n| n.get()),
        ladder: o.ladder.clone(),
        rows,
        conclusions: Vec::new(),
    };
    report.conclusions = report.read_conclusions();
    Ok(report)
}

fn marked(connections: usize, outcome: &'static str, note: String) -> Rung {
    Rung {
        connections,
        outcome,
        note: Some(note),
        requests_per_sec: 0.0,
        p99_us: 0,
        peak_rss_kib: 0,
        errors: ErrorCounts::default(),
    }
}

fn run_rung(o: &ModelsOptions, server: &mut Server, conns: usize) -> Rung {
    let mut load = LoadOptions::new(&server.url);
    load.connections = conns;
    load.threads = o.threads;
    load.stop = Stop::After(o.duration);
    load.size = o.size;
    // Long enough for a busy server, short enough that waiting in line shows.
    load.timeout = (o.duration / 2).max(Duration::from_millis(200));
    let sampler = RssSampler::start(server.child.id());
    let result = load::run(&load);
    let peak = sampler.finish();
    if server.exited() {
        return marked(conns, "failed", "the server exited".to_owned());
    }
    match result {
        Ok(r) => Rung {
            connections: conns,
            outcome: "ok",
            note: (r.starved_connections > 0).then(|| {
                format!(
                    "{} of {conns} connections never served",
                    r.starved_connections
                )
            }),
            requests_per_sec: r.requests_per_sec,
            p99_us: r.latency_us.p99,
            peak_rss_kib: peak,
            errors: r.errors,
        },
        Err(e) => marked(conns, "failed", format!("{e:#}")),
    }
}

/// Draws requests/s and p99 latency against connections, one line per model.
pub fn draw(report: &ModelsReport, path: &Path) -> Result<()> {
    let series: Vec<chart::Series> = report
        .rows
        .iter()
        .map(|row| chart::Series {
            name: row.model.clone(),
            points: row
                .rungs
                .iter()
                .filter(|r| r.outcome == "ok" && r.requests_per_sec > 0.0)
                .map(|r| {
                    (
                        r.connections as f64,
                        r.requests_per_sec,
                        r.p99_us as f64 / 1000.0,
                    )
                })
                .collect(),
        })
        .collect();
    let title = format!(
        "netkit {} under every model ({} s per rung, {})",
        report.service,
        report.seconds_per_rung,
        count(report.cpus as u64, "CPU", "CPUs")
    );
    chart::ladder(path, &title, &series)
}

impl ModelsReport {
    /// The course's conclusions, read off the numbers: who starved connections,
    /// what each extra connection cost in memory, where each model peaked.
    fn read_conclusions(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for row in &self.rows {
            let ok: Vec<&Rung> = row.rungs.iter().filter(|r| r.outcome == "ok").collect();
            if let Some(r) = ok.iter().find(|r| r.note.is_some()) {
                notes.push(format!(
                    "{}: stalls at {} connections ({})",
                    row.model,
                    r.connections,
                    r.note.as_deref().unwrap_or("")
                ));
            }
        }
        let mut costs = Vec::new();
        for row in &self.rows {
            let ok: Vec<&Rung> = row.rungs.iter().filter(|r| r.outcome == "ok").collect();
            if let (Some(first), Some(last)) = (ok.first(), ok.last()) {
                if last.connections > first.connections {
                    let extra = last.peak_rss_kib.saturating_sub(first.peak_rss_kib) as f64;
                    let per = extra * 1024.0 / (last.connections - first.connections) as f64;
                    costs.push((per, format!("{} {}", row.model, bytes(per))));
                }
            }
        }
        if !costs.is_empty() {
            costs.sort_by(|a, b| b.0.total_cmp(&a.0));
            let list: Vec<String> = costs.into_iter().map(|c| c.1).collect();
            notes.push(format!(
                "server memory per extra connection: {}",
                list.join(", ")
            ));
        }
        let peaks: Vec<String> = self
            .rows
            .iter()
            .filter_map(|row| {
                let best = row
                    .rungs
                    .iter()
                    .filter(|r| r.outcome == "ok")
                    .max_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec))?;
                Some(format!(
                    "{} {:.0} at {}",
                    row.model, best.requests_per_sec, best.connections
                ))
            })
            .collect();
        if !peaks.is_empty() {
            notes.push(format!("peak req/s (at connections): {}", peaks.join(", ")));
        }
        notes
    }
}

impl fmt::Display for ModelsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bench models: {} service, {} s per rung, {} shared by client and server",
            self.service,
            self.seconds_per_rung,
            count(self.cpus as u64, "CPU", "CPUs")
        )?;
        writeln!(f)?;
        write!(f, "{:<10}", "req/s")?;
        for c in &self.ladder {
            write!(f, "{:>12}", format!("{c} conns"))?;
        }
        writeln!(f)?;
        for row in &self.rows {
            write!(f, "{:<10}", row.model)?;
            for r in &row.rungs {
                let cell = match r.outcome {
                    "ok" => format!("{:.0}", r.requests_per_sec),
                    other => other.to_owned(),
                };
                write!(f, "{cell:>12}")?;
            }
            writeln!(f)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<10} {:>6} {:>11} {:>10} {:>10} {:>7}  note",
            "model", "conns", "req/s", "p99", "peak RSS", "errors"
        )?;
        for row in &self.rows {
            for r in &row.rungs {
                let note = r.note.as_deref().unwrap_or("");
                if r.outcome == "ok" {
                    writeln!(
                        f,
                        "{:<10} {:>6} {:>11.0} {:>10} {:>10} {:>7}  {note}",
                        row.model,
                        r.connections,
                        r.requests_per_sec,
                        micros(r.p99_us as f64),
                        bytes(r.peak_rss_kib as f64 * 1024.0),
                        r.errors.total(),
                    )?;
                } else {
                    writeln!(
                        f,
                        "{:<10} {:>6} {:>11} {:>10} {:>10} {:>7}  {}: {note}",
                        row.model, r.connections, "-", "-", "-", "-", r.outcome
                    )?;
                }
            }
        }
        if !self.conclusions.is_empty() {
            writeln!(f)?;
            writeln!(f, "what it shows:")?;
            for n in &self.conclusions {
                writeln!(f, "  {n}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_marked_where_the_course_says() {
        assert!(cannot_take(Model::Iterative, 10).is_none());
        assert!(cannot_take(Model::Iterative, 100).is_some());
        assert!(cannot_take(Model::Select, 1000).is_none());
        assert!(cannot_take(Model::Select, 2000).is_some());
        assert!(cannot_take(Model::Fork, 100).is_none());
        assert!(cannot_take(Model::Fork, 1000).is_some());
        assert!(cannot_take(Model::Epoll, 10_000).is_none());
    }
}
