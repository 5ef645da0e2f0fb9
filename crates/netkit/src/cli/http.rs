//! `netkit http …`. Not yet built.

use anyhow::Result;
use clap::{Args, Subcommand};

/// `netkit http …`
#[derive(Debug, Subcommand)]
pub enum HttpCommand {
    /// Serve (not yet built).
    Serve(ServeArgs),
}

/// `netkit http serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Runs a `http` command.
pub fn run(cmd: HttpCommand) -> Result<()> {
    match cmd {
        HttpCommand::Serve(ServeArgs {}) => anyhow::bail!("http is not built yet"),
    }
}
