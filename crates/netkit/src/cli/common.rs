//! What every command shares: server address and model flags, the ready line,
//! logging to stderr, and turning an outcome into an exit status.

use super::values::{duration, positive};
use anyhow::{Context, Result};
use clap::Args;
use netkit_drivers::{Config, Model, Shutdown};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

/// Where a server listens.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on.
    #[arg(short = 'b', long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub bind: IpAddr,
    /// Port to listen on (0 picks a free one); the default depends on the service.
    #[arg(short = 'p', long)]
    pub port: Option<u16>,
}

impl ServerArgs {
    /// The socket address, with `default_port` when `--port` was not given.
    pub fn addr(&self, default_port: u16) -> SocketAddr {
        SocketAddr::new(self.bind, self.port.unwrap_or(default_port))
    }
}

/// How a TCP server handles concurrent clients.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Concurrency model: iterative, thread, pool, fork, select, poll, epoll, async.
    #[arg(long, default_value_t = Model::DEFAULT, value_parser = parse_model)]
    pub model: Model,
    /// Worker threads for pool, epoll and async (default: one per CPU).
    #[arg(long, value_name = "N", value_parser = positive::<usize>)]
    pub workers: Option<usize>,
    /// How long in-flight connections get to finish after SIGINT/SIGTERM (10s, 500ms, 2m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub grace: Duration,
}

impl ModelArgs {
    /// The driver configuration these flags ask for.
    pub fn config(&self) -> Result<Config> {
        let mut config = Config::default();
        if let Some(workers) = self.workers {
            config.workers = workers;
        }
        config.grace = self.grace;
        Ok(config)
    }
}

fn parse_model(s: &str) -> Result<Model, String> {
    s.parse()
        .map_err(|e: netkit_drivers::UnknownModel| e.to_string())
}

/// Prints the ready line a client or test waits for, and flushes it.
pub(crate) fn announce(service: &str, url: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{service} listening on {url}")?;
    stdout.flush()?;
    Ok(())
}

/// A shutdown that SIGINT and SIGTERM start.
pub(crate) fn shutdown_on_signals() -> Result<Shutdown> {
    let shutdown = Shutdown::new().context("creating the shutdown pipe")?;
    shutdown
        .on_signals()
        .context("installing signal handlers")?;
    Ok(shutdown)
}

/// Resolves `host:port`, or `host` alone with `default_port`.
pub(crate) fn resolve(addr: &str, default_port: u16) -> Result<SocketAddr> {
    let with_port = if addr.parse::<IpAddr>().is_ok() || !addr.contains(':') {
        // A bare IPv6 address or host name: add the port.
        match addr.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, default_port).to_string(),
            Err(_) => format!("{addr}:{default_port}"),
        }
    } else {
        addr.to_owned()
    };
    with_port
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve '{addr}'"))?
        .next()
        .with_context(|| format!("'{addr}' has no address"))
}

/// Logs go to stderr; `RUST_LOG` picks the level (default: info).
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// 0 for success — including a closed stdout (`netkit … | head`) — else a
/// one-line reason on stderr and 1.
pub(crate) fn exit_code(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netkit: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_adds_the_default_port() {
        assert_eq!(
            resolve("127.0.0.1", 7).unwrap(),
            "127.0.0.1:7".parse().unwrap()
        );
        assert_eq!(
            resolve("127.0.0.1:9", 7).unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert_eq!(resolve("::1", 7).unwrap(), "[::1]:7".parse().unwrap());
        assert_eq!(resolve("localhost", 7).unwrap().port(), 7);
        assert!(resolve("no such host.invalid", 7).is_err());
    }
}
