//! What every command shares: server address and model flags, the ready line,
//! logging to stderr, and turning an outcome into an exit status.

use super::values::{duration, positive};
use anyhow::{Context, Result};
use clap::Args;
use netkit_drivers::{Config, Listener, Model, Shutdown};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

/// The addresses a server listens on: `-b/--bind`, repeatable, for every
/// service (`netkit up` takes it alone, each service with its own port).
#[derive(Debug, Clone, Args)]
pub struct BindArgs {
    /// Address to listen on; give it again for more (`::` serves IPv6 and IPv4).
    #[arg(short = 'b', long, default_values_t = [IpAddr::V4(Ipv4Addr::UNSPECIFIED)])]
    pub bind: Vec<IpAddr>,
}

impl BindArgs {
    /// Every `--bind` address with `port`.
    pub fn addrs(&self, port: u16) -> Vec<SocketAddr> {
        self.bind
            .iter()
            .map(|ip| SocketAddr::new(*ip, port))
            .collect()
    }

    /// A TCP listener on `port` of every `--bind` address (`::` dual-stack).
    pub(crate) fn tcp(&self, port: u16) -> Result<Vec<Listener>> {
        listen_tcp(&self.bind, port)
    }

    /// A UDP socket on `port` of every `--bind` address (`::` dual-stack).
    pub(crate) fn udp(&self, port: u16) -> Result<Vec<UdpSocket>> {
        bind_udp(&self.bind, port)
    }
}

/// A TCP listener on `port` of every address in `ips` (`::` dual-stack).
pub(crate) fn listen_tcp(ips: &[IpAddr], port: u16) -> Result<Vec<Listener>> {
    ips.iter()
        .map(|ip| {
            let addr = SocketAddr::new(*ip, port);
            Listener::bind_tcp(addr).with_context(|| format!("cannot listen on tcp {addr}"))
        })
        .collect()
}

/// A UDP socket on `port` of every address in `ips` (`::` dual-stack).
pub(crate) fn bind_udp(ips: &[IpAddr], port: u16) -> Result<Vec<UdpSocket>> {
    ips.iter()
        .map(|ip| {
            let addr = SocketAddr::new(*ip, port);
            netkit_drivers::listener::bind_udp(addr)
                .with_context(|| format!("cannot bind udp {addr}"))
        })
        .collect()
}

/// Where a server listens.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// `-b/--bind`, repeatable.
    #[command(flatten)]
    pub binds: BindArgs,
    /// Port to listen on (0 picks a free one); the default depends on the service.
    #[arg(short = 'p', long)]
    pub port: Option<u16>,
}

impl ServerArgs {
    /// The port: `--port`, else `default_port`.
    pub fn port(&self, default_port: u16) -> u16 {
        self.port.unwrap_or(default_port)
    }

    /// Every socket address, one per `--bind`.
    pub fn addrs(&self, default_port: u16) -> Vec<SocketAddr> {
        self.binds.addrs(self.port(default_port))
    }

    /// A TCP listener on every `--bind` address (`::` dual-stack).
    pub(crate) fn listen_tcp(&self, default_port: u16) -> Result<Vec<Listener>> {
        self.binds.tcp(self.port(default_port))
    }

    /// The UDP sockets of a service that serves UDP (TFTP, chat, echo
    /// `--udp`): one per `--bind` (`::` dual-stack).
    pub(crate) fn udp_sockets(&self, default_port: u16) -> Result<Vec<UdpSocket>> {
        self.binds.udp(self.port(default_port))
    }
}

/// One ready line per listener: `SERVICE listening on SCHEME://IP:PORT`.
pub(crate) fn announce_all(service: &str, scheme: &str, listeners: &[Listener]) -> Result<()> {
    for listener in listeners {
        announce(service, &listener.url(scheme)?)?;
    }
    Ok(())
}

/// One ready line per UDP socket: `SERVICE listening on udp://IP:PORT`.
pub(crate) fn announce_udp(service: &str, sockets: &[UdpSocket]) -> Result<()> {
    for socket in sockets {
        announce(service, &udp_url(socket)?)?;
    }
    Ok(())
}

/// `udp://IP:PORT` of a bound socket (the ready line's URL).
pub(crate) fn udp_url(socket: &UdpSocket) -> Result<String> {
    Ok(format!("udp://{}", socket.local_addr()?))
}

/// How a TCP server handles concurrent clients.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Concurrency model: iterative, thread, pool, fork, select, poll, epoll, async, uring.
    #[arg(long, default_value_t = Model::DEFAULT, value_parser = parse_model)]
    pub model: Model,
    /// Worker threads for pool, epoll, async and uring (default: one per CPU).
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
        // A kernel that refuses io_uring is reported before anything listens.
        if self.model == Model::Uring {
            netkit_drivers::uring::check()?;
        }
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

/// Logs go to stderr; `RUST_LOG` picks the level (default: info). Colour
/// only on a terminal and never with `NO_COLOR` set: escape codes in a pipe
/// or a log file are noise.
pub(crate) fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(std::io::stderr().is_terminal()))
        .with_target(false)
        // A log line that cannot be written (stderr a file past a file-size
        // limit, or gone) is dropped: reporting that on stderr would panic.
        .log_internal_errors(false)
        .try_init();
}

/// Whether to write escape codes to a stream: only a terminal, and not when
/// `NO_COLOR` is set to anything but the empty string (no-color.org).
pub(crate) fn colour(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// 0 for success — including a closed stdout (`netkit … | head`) — else a
/// one-line reason on stderr and 1.
pub(crate) fn exit_code(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // Not eprintln!: it panics when stderr cannot be written.
            let _ = writeln!(std::io::stderr(), "netkit: {e:#}");
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
