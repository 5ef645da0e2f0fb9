//! `netkit relay`: flags, opening the log and the listener, the ready line;
//! the one-thread loop itself is in [`crate::relay`].

use super::common::{announce, shutdown_on_signals, ServerArgs};
use anyhow::{Context, Result};
use netkit_drivers::Listener;
use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::path::PathBuf;

/// The relay's default port.
pub const DEFAULT_PORT: u16 = 7070;

/// `netkit relay` arguments.
#[derive(Debug, clap::Args)]
#[command(mut_arg("port", |a| super::values::default_port(a, "7070")))]
pub struct RelayArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// File every line is appended to (created if missing, never truncated).
    #[arg(long, value_name = "FILE", default_value = "relay.log")]
    log: PathBuf,
}

/// Runs the command.
pub fn run(args: RelayArgs) -> Result<()> {
    let shutdown = shutdown_on_signals()?;
    let mut log = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&args.log)
        .with_context(|| format!("cannot open log {}", args.log.display()))?;
    // The shared listener helper: the same options and port checks as every server.
    let mut listeners = Vec::new();
    for listener in args.server.listen_tcp(DEFAULT_PORT)? {
        match listener {
            Listener::Tcp(l) => listeners.push(l),
            Listener::Unix(..) => anyhow::bail!("expected a TCP listener"),
        }
    }
    // A duplicate of fd 0, read without std's buffer (poll must see every byte
    // still unread); none if the process was started with stdin closed.
    let stdin = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => Some(File::from(fd)),
        Err(e) => {
            tracing::warn!("stdin unavailable ({e}); serving clients only");
            None
        }
    };
    for listener in &listeners {
        announce("relay", &format!("tcp://{}", listener.local_addr()?))?;
    }
    crate::relay::serve(&listeners, stdin, &mut log, &shutdown)
        .with_context(|| format!("relay failed (log {})", args.log.display()))
}
