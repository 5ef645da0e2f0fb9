//! `netkit man DIR`: one manual page per command (`netkit.1`, `netkit-http.1`,
//! `netkit-http-serve.1`, …), generated from the clap definitions of this very
//! binary (clap_mangen), so the pages never drift from the command line.

use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use std::path::PathBuf;

/// `netkit man` arguments.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The folder to write the pages into (created if missing).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
}

/// Writes every page into the folder (an existing page of the same name is replaced).
pub fn run(args: ManArgs) -> Result<()> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(super::Cli::command(), dir)
        .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
    Ok(())
}
