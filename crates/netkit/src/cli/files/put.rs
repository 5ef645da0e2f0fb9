//! `netkit files put ADDR LOCAL [NAME] [--json]`: upload a file and check the
//! SHA-256 the server returns against the one computed while sending.

use super::client::Client;
use super::link::Target;
use super::progress::{bar, report};
use crate::tls::client::TlsClientArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `netkit files put` arguments.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The server, `host[:port]` (default port 8888).
    #[arg(value_parser = crate::cli::values::addr)]
    addr: String,
    // --tls, --cacert, --fingerprint, --insecure.
    #[command(flatten)]
    tls: TlsClientArgs,
    #[command(flatten)]
    login: super::login::LoginArgs,
    /// The local file.
    local: PathBuf,
    /// The remote name (default: LOCAL's file name).
    name: Option<String>,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

/// What an upload did.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Uploaded {
    pub(crate) name: String,
    pub(crate) bytes: u64,
    pub(crate) sha256: String,
    pub(crate) seconds: f64,
}

pub(crate) fn run(args: PutArgs) -> Result<()> {
    let mut client = Client::connect_to(&Target::new(&args.addr, &args.tls)?)?;
    args.login.log_in(&mut client)?;
    let name = match args.name {
        Some(name) => name,
        None => default_name(&args.local)?,
    };
    let done = upload(&mut client, &args.local, &name)?;
    client.quit();
    report(&done, summary(&done), args.json)
}

pub(crate) fn default_name(local: &Path) -> Result<String> {
    local
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .with_context(|| format!("{} has no usable file name", local.display()))
}

pub(crate) fn upload(client: &mut Client, local: &Path, name: &str) -> Result<Uploaded> {
    let file = File::open(local).with_context(|| format!("cannot open {}", local.display()))?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!("{} is not a regular file", local.display());
    }
    let started = Instant::now();
    let progress = bar(meta.len(), name);
    let sha256 = client.put_file(name, &file, meta.len(), &progress)?;
    progress.finish_and_clear();
    Ok(Uploaded {
        name: name.to_owned(),
        bytes: meta.len(),
        sha256,
        seconds: started.elapsed().as_secs_f64(),
    })
}

pub(crate) fn summary(u: &Uploaded) -> String {
    crate::cli::transfer_summary::line(
        &u.name,
        u.bytes,
        std::time::Duration::from_secs_f64(u.seconds),
        Some(&format!("sha256 {} verified", u.sha256)),
    )
}
