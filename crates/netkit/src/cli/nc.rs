//! `netkit nc` (being written).

use anyhow::Result;

/// `netkit nc` arguments.
#[derive(Debug, clap::Args)]
pub struct NcArgs {}

/// Runs the command.
pub fn run(_args: NcArgs) -> Result<()> {
    anyhow::bail!("netkit nc is not written yet")
}
