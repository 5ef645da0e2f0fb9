//! `netkit files …`. Not yet built.

use anyhow::Result;
use clap::{Args, Subcommand};

/// `netkit files …`
#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Serve (not yet built).
    Serve(ServeArgs),
}

/// `netkit files serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Runs a `files` command.
pub fn run(cmd: FilesCommand) -> Result<()> {
    match cmd {
        FilesCommand::Serve(ServeArgs {}) => anyhow::bail!("files is not built yet"),
    }
}
