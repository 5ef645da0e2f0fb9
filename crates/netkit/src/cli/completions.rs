//! `netkit completions SHELL`: the shell's completion script, generated from the
//! clap definitions of this very binary (clap_complete), so it never drifts from
//! the command line. Packages install it where each shell looks for it.

use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use std::io::Write;

/// `netkit completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for (bash, zsh, fish, …).
    #[arg(value_name = "SHELL")]
    shell: Shell,
}

/// Writes the completion script on stdout.
pub fn run(args: CompletionsArgs) -> Result<()> {
    let mut cmd = super::Cli::command();
    // Into memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "netkit", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("cannot write the completion script")
}
