//! What every command shares: server address and model flags, the ready line,
//! logging to stderr, and turning an outcome into an exit status.

use anyhow::{Context, Result};
use clap::Args;
use netkit_drivers::{Config, Listener, Model, Shutdown};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

/// Where a server listens.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on; give it again for more (`::` serves IPv6 and IPv4).
    #[arg(long, default_values_t = [IpAddr::V4(Ipv4Addr::UNSPECIFIED)])]
    pub bind: Vec<IpAddr>,
    /// Port to listen on (0 picks a free one); the default depends on the service.
    #[arg(long)]
    pub port: Option<u16>,
}

impl ServerArgs {
    /// The first socket address, with `default_port` when `--port` was not given.
    pub fn addr(&self, default_port: u16) -> SocketAddr {
        let ip = self.bind.first().copied();
        SocketAddr::new(
            ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            self.port.unwrap_or(default_port),
        )
    }

    /// Every socket address, one per `--bind`.
    pub fn addrs(&self, default_port: u16) -> Vec<SocketAddr> {
        let port = self.port.unwrap_or(default_port);
        self.bind
            .iter()
            .map(|ip| SocketAddr::new(*ip, port))
            .collect()
    }

    /// A TCP listener on every `--bind` address (`::` dual-stack).
    pub(crate) fn listen_tcp(&self, default_port: u16) -> Result<Vec<Listener>> {
        self.addrs(default_port)
            .into_iter()
            .map(|addr| {
                Listener::bind_tcp(addr).with_context(|| format!("cannot listen on tcp {addr}"))
            })
            .collect()
    }

    /// The UDP socket of a service that serves one (TFTP, chat, echo
    /// `--udp`): `--bind` once, where `::` serves IPv6 and IPv4.
    pub(crate) fn udp_socket(&self, default_port: u16) -> Result<UdpSocket> {
        anyhow::ensure!(
            self.bind.len() == 1,
            "UDP services listen on one address: give --bind once (:: serves IPv6 and IPv4)"
        );
        let addr = self.addr(default_port);
        netkit_drivers::listener::bind_udp(addr).with_context(|| format!("cannot bind udp {addr}"))
    }
}

/// One ready line per listener: `SERVICE listening on SCHEME://IP:PORT`.
pub(crate) fn announce_all(service: &str, scheme: &str, listeners: &[Listener]) -> Result<()> {
    for listener in listeners {
        announce(service, &listener.url(scheme)?)?;
    }
    Ok(())
}

/// How a TCP server handles concurrent clients.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Concurrency model: iterative, thread, pool, fork, select, poll, epoll, async.
    #[arg(long, default_value_t = Model::DEFAULT, value_parser = parse_model)]
    pub model: Model,
    /// Worker threads for pool, epoll and async (default: one per CPU).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Seconds in-flight connections get to finish after SIGINT/SIGTERM.
    #[arg(long, default_value_t = 10.0)]
    pub grace: f64,
}

impl ModelArgs {
    /// The driver configuration these flags ask for.
    pub fn config(&self) -> Result<Config> {
        let mut config = Config::default();
        if let Some(workers) = self.workers {
            anyhow::ensure!(workers > 0, "--workers must be at least 1");
            config.workers = workers;
        }
        config.grace = Duration::try_from_secs_f64(self.grace)
            .context("--grace must be a number of seconds")?;
        Ok(config)
    }
}

/// `--max-upload` sizes: `1000`, `64K`, `500M`, `2G`, `2GiB`, `1.5GB` (binary
/// multiples; `B`, `KB` and `KiB` spellings alike, any case). Whole numbers are
/// exact; a fraction is rounded down to a byte.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        other => return Err(format!("unknown size unit '{other}' (K, M, G, T)")),
    };
    let not_a_size = || format!("'{s}' is not a size (e.g. 500M)");
    let out_of_range = || format!("'{s}' is out of range");
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(1u64 << shift).ok_or_else(out_of_range);
    }
    let number: f64 = number.parse().map_err(|_| not_a_size())?;
    let bytes = number * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(out_of_range());
    }
    Ok(bytes as u64)
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

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10"), Ok(10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert_eq!(parse_size("1.5MiB"), Ok(1572864));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(
            parse_size("16777217T"),
            Err("'16777217T' is out of range".into())
        );
        assert!(parse_size("lots").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("5Q").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
