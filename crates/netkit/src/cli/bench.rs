//! `netkit bench load|models|tasks`: flags in, a report out (human text, or one
//! JSON document with `--json`). The work itself is in [`crate::bench`].

use super::values::{duration, load_url, positive, positive_duration};
use crate::bench::models::{self, ModelsOptions, ServiceKind};
use crate::bench::tasks::{self, TasksOptions};
use crate::bench::{load, LoadOptions, Stop};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use netkit_drivers::Model;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// `netkit bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Load generator: closed-loop requests over many connections (http://, https://, tcp:// echo).
    Load(LoadArgs),
    /// Start a service under every --model and load it at a ladder of connection counts.
    Models(ModelsArgs),
    /// The same CPU job and IO job run sequentially, on threads and on processes.
    Tasks(TasksArgs),
    /// Chat fan-out deliveries per second, netkit or redis (bench/chat-fanout.sh).
    #[command(hide = true)]
    ChatFanout(crate::bench::chat_fanout::FanoutArgs),
    /// Chat deliveries per second and latency across instances (bench/chat-backplane.sh).
    #[command(hide = true)]
    ChatBackplane(crate::bench::chat_backplane::BackplaneBenchArgs),
}

/// `netkit bench load` flags.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// http[s]://host[:port][/path] or tcp://host:port (echo round trips).
    #[arg(value_parser = load_url)]
    url: String,
    // https://: --cacert, --fingerprint or --insecure (default: the system's roots).
    #[command(flatten)]
    tls: crate::tls::client::TlsClientArgs,
    /// https://: a full TLS handshake on every new connection (by default
    /// sessions are resumed, as wrk and browsers do).
    #[arg(long)]
    no_tls_resume: bool,
    /// Connections, each with one request in flight.
    #[arg(short = 'c', long, default_value_t = 10, value_parser = positive::<usize>)]
    connections: usize,
    /// How long to run, e.g. 10s, 500ms, 1m (a bare number is seconds).
    #[arg(short = 'd', long, value_parser = positive_duration, conflicts_with = "requests")]
    duration: Option<Duration>,
    /// Exactly this many requests instead of a duration (Ctrl-C ends either early, with a report).
    #[arg(short = 'n', long, value_parser = positive::<u64>)]
    requests: Option<u64>,
    /// Threads, each an event loop over its share of the connections (default: CPUs).
    #[arg(short = 't', long, value_parser = positive::<usize>)]
    threads: Option<usize>,
    /// A request without a complete reply after this long fails as a timeout.
    #[arg(long, value_parser = positive_duration, default_value = "5s")]
    timeout: Duration,
    /// HTTP: a new connection for every request.
    #[arg(long)]
    close: bool,
    /// HTTP method.
    #[arg(short = 'm', long, default_value = "GET")]
    method: String,
    /// Extra header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// HTTP request body (-b is --bind everywhere, so the body is -B).
    #[arg(short = 'B', long, conflicts_with = "body_file")]
    body: Option<String>,
    /// HTTP request body from a file.
    #[arg(long, value_name = "PATH")]
    body_file: Option<PathBuf>,
    /// tcp://: bytes per echo round trip.
    #[arg(long, default_value_t = 64, value_parser = positive::<usize>)]
    size: usize,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

/// `netkit bench models` flags.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// The service to load: echo (tcp:// round trips) or http (GET of a small file).
    #[arg(long, default_value = "echo", value_parser = ["echo", "http"])]
    service: String,
    /// Models to compare, comma-separated (default: all).
    #[arg(long, value_delimiter = ',', value_parser = parse_model)]
    models: Vec<Model>,
    /// Connection counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000")]
    ladder: Vec<usize>,
    /// Load duration at each rung.
    #[arg(short = 'd', long, value_parser = positive_duration, default_value = "2s")]
    duration: Duration,
    /// Load-generator threads.
    #[arg(short = 't', long, value_parser = positive::<usize>)]
    threads: Option<usize>,
    /// Echo bytes per round trip.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Also draw the table as an SVG chart here.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,
}

/// `netkit bench tasks` flags.
#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Copies of each job (the seed used 10).
    #[arg(long, default_value_t = TasksOptions::SEED.jobs, value_parser = positive::<usize>)]
    jobs: usize,
    /// CPU job: count the primes below this number by trial division.
    #[arg(long, default_value_t = TasksOptions::SEED.primes_below)]
    primes_below: u64,
    /// IO job: request/reply round trips to a local server that answers each after --io-delay.
    #[arg(long, default_value_t = TasksOptions::SEED.io_trips)]
    io_trips: u32,
    /// IO job: how long the server waits before each answer (a remote service's latency).
    #[arg(long, value_parser = duration, default_value = "5ms")]
    io_delay: Duration,
    /// Also draw the table as an SVG chart here.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,
}

/// Runs a `bench` command.
pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Load(args) => run_load(args),
        BenchCommand::Models(args) => run_models(args),
        BenchCommand::Tasks(args) => run_tasks(args),
        BenchCommand::ChatFanout(args) => crate::bench::chat_fanout::run(args),
        BenchCommand::ChatBackplane(args) => crate::bench::chat_backplane::run(args),
    }
}

fn on_terminal(json: bool) -> bool {
    // The progress line goes to stderr: it too must be a terminal.
    !json && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

fn run_load(a: LoadArgs) -> Result<()> {
    let mut o = LoadOptions::new(&a.url);
    if a.url.starts_with("https://") {
        o.tls = Some(a.tls.config_always()?);
        o.tls_resume = !a.no_tls_resume;
    } else {
        anyhow::ensure!(
            !a.tls.wanted() && !a.no_tls_resume,
            "--tls, --cacert, --fingerprint, --insecure and --no-tls-resume need an https:// URL"
        );
    }
    o.connections = a.connections;
    o.threads = a.threads;
    o.stop = match (a.requests, a.duration) {
        (Some(n), _) => Stop::Requests(n),
        (None, Some(d)) => Stop::After(d),
        (None, None) => Stop::After(Duration::from_secs(10)),
    };
    o.timeout = a.timeout;
    o.close = a.close;
    o.method = a.method;
    o.headers = a.headers;
    o.body = match (a.body, a.body_file) {
        (Some(text), _) => text.into_bytes(),
        (None, Some(path)) => {
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?
        }
        (None, None) => Vec::new(),
    };
    o.size = a.size;
    o.progress = on_terminal(a.json);
    load::stop_early_on_sigint()?;
    let report = load::run(&o)?;
    print(a.json, &report, &report)?;
    // As wrk: a run in which nothing succeeded is a failure, not a result.
    anyhow::ensure!(
        report.succeeded() > 0,
        "no request succeeded (errors: {}){}",
        report.errors,
        report
            .tls_error
            .as_ref()
            .map_or_else(String::new, |e| format!("; TLS: {e}"))
    );
    Ok(())
}

fn run_models(a: ModelsArgs) -> Result<()> {
    let o = ModelsOptions {
        service: if a.service == "http" {
            ServiceKind::Http
        } else {
            ServiceKind::Echo
        },
        models: if a.models.is_empty() {
            Model::ALL.to_vec()
        } else {
            a.models
        },
        ladder: a.ladder,
        duration: a.duration,
        threads: a.threads,
        size: a.size,
        progress: on_terminal(a.json),
    };
    let report = models::run(&o)?;
    if let Some(path) = &a.svg {
        models::draw(&report, path)?;
    }
    print(a.json, &report, &report)
}

fn run_tasks(a: TasksArgs) -> Result<()> {
    let o = TasksOptions {
        jobs: a.jobs,
        primes_below: a.primes_below,
        io_trips: a.io_trips,
        io_delay: a.io_delay,
    };
    let report = tasks::run(&o)?;
    if let Some(path) = &a.svg {
        tasks::draw(&report, path)?;
    }
    print(a.json, &report, &report)
}

fn print(json: bool, value: &impl serde::Serialize, text: &impl std::fmt::Display) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, value)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{text}")?;
    }
    out.flush()?;
    Ok(())
}

fn parse_model(s: &str) -> Result<Model, String> {
    s.parse()
        .map_err(|e: netkit_drivers::UnknownModel| e.to_string())
}
