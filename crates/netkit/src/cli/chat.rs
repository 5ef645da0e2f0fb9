//! `netkit chat …`. Not yet built.

use anyhow::Result;
use clap::{Args, Subcommand};

/// `netkit chat …`
#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Serve (not yet built).
    Serve(ServeArgs),
}

/// `netkit chat serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {}

/// Runs a `chat` command.
pub fn run(cmd: ChatCommand) -> Result<()> {
    match cmd {
        ChatCommand::Serve(ServeArgs {}) => anyhow::bail!("chat is not built yet"),
    }
}
