//! `netkit files ls ADDR [--json]`: the server's regular files.

use super::client::Client;
use super::link::Target;
use super::progress::date;
use crate::cli::transfer_summary::size;
use crate::tls::client::TlsClientArgs;
use anyhow::Result;
use clap::Args;
use std::io::Write;

/// `netkit files ls` arguments.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// The server, `host[:port]` (default port 8888).
    #[arg(value_parser = crate::cli::values::addr)]
    addr: String,
    // --tls, --cacert, --fingerprint, --insecure.
    #[command(flatten)]
    tls: TlsClientArgs,
    #[command(flatten)]
    login: super::login::LoginArgs,
    /// Print one JSON array of {size, mtime, name} instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: LsArgs) -> Result<()> {
    let mut client = Client::connect_to(&Target::new(&args.addr, &args.tls)?)?;
    args.login.log_in(&mut client)?;
    let entries = client.list()?;
    client.quit();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &entries)?;
        writeln!(out)?;
        return Ok(());
    }
    let width = entries
        .iter()
        .map(|e| size(e.size).len())
        .max()
        .unwrap_or(0);
    for e in &entries {
        writeln!(
            out,
            "{:>width$}  {}  {}",
            size(e.size),
            date(e.mtime),
            e.name
        )?;
    }
    Ok(())
}
