//! `netkit echo serve`: the echo service over TCP (every model), UDP, or a Unix
//! stream socket.

use super::common::{announce_all, announce_udp, shutdown_on_signals, ModelArgs, ServerArgs};
use super::share_args::IdleArgs;
use crate::services;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use netkit_drivers::Listener;
use netkit_proto::echo::UdpEcho;
use std::path::PathBuf;

pub use crate::services::echo::DEFAULT_PORT;

/// `netkit echo …`
#[derive(Debug, Subcommand)]
pub enum EchoCommand {
    /// Send back every byte received (default port 7007).
    Serve(ServeArgs),
}

/// `netkit echo serve` flags.
#[derive(Debug, Args)]
#[command(
    mut_arg("port", |a| super::values::default_port(a, "7007")),
    mut_arg("idle_timeout", |a| a.default_value("300s"))
)]
pub struct ServeArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Echo UDP datagrams instead of a TCP stream.
    #[arg(long, conflicts_with = "unix")]
    udp: bool,
    /// Listen on a Unix stream socket at PATH instead of TCP.
    #[arg(long, value_name = "PATH")]
    unix: Option<PathBuf>,
    #[command(flatten)]
    idle: IdleArgs,
}

/// Runs an `echo` command.
pub fn run(cmd: EchoCommand) -> Result<()> {
    match cmd {
        EchoCommand::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    let shutdown = shutdown_on_signals()?;
    if args.udp {
        let sockets = args.server.udp_sockets(DEFAULT_PORT)?;
        announce_udp("echo", &sockets)?;
        netkit_drivers::udp::serve(&sockets, &mut UdpEcho, &shutdown)?;
        return Ok(());
    }
    let config = args.model.config()?;
    let listeners = match &args.unix {
        Some(path) => vec![Listener::bind_unix(path)
            .with_context(|| format!("cannot listen on {}", path.display()))?],
        None => args.server.listen_tcp(DEFAULT_PORT)?,
    };
    let _socket_file = args.unix.clone().map(RemoveOnDrop);
    announce_all("echo", "tcp", &listeners)?;
    let service = services::echo::service(args.idle);
    netkit_drivers::serve(args.model.model, listeners, service, &config, &shutdown)?;
    Ok(())
}

/// Removes a Unix socket's file when the server exits.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
