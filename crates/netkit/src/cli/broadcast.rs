//! `netkit broadcast` (being written).

use anyhow::Result;

/// `netkit broadcast` arguments.
#[derive(Debug, clap::Subcommand)]
pub enum BroadcastCommand {
    /// Being written.
    Todo,
}

/// Runs the command.
pub fn run(_args: BroadcastCommand) -> Result<()> {
    anyhow::bail!("netkit broadcast is not written yet")
}
