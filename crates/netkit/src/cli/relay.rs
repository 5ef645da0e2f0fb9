//! `netkit relay` (being written).

use anyhow::Result;

/// `netkit relay` arguments.
#[derive(Debug, clap::Args)]
pub struct RelayArgs {}

/// Runs the command.
pub fn run(_args: RelayArgs) -> Result<()> {
    anyhow::bail!("netkit relay is not written yet")
}
