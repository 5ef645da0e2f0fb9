//! `netkit tftp …`. Not yet built.

use anyhow::Result;
use clap::{Args, Subcommand};

/// `netkit tftp …`
#[derive(Debug, Subcommand)]
pub enum TftpCommand {
    /// Serve (not yet built).
    Serve(ServeArgs),
}

/// `netkit tftp serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Runs a `tftp` command.
pub fn run(cmd: TftpCommand) -> Result<()> {
    match cmd {
        TftpCommand::Serve(ServeArgs {}) => anyhow::bail!("tftp is not built yet"),
    }
}
