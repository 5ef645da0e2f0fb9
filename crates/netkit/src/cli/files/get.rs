//! `netkit files get ADDR NAME [LOCAL] [--resume] [--json]`: download a file.
//!
//! The local file is opened only once the server said OK, so a refused
//! request never truncates it; an interrupted download leaves what arrived,
//! which `--resume` continues from (`GET name <local size>`).

use super::client::Client;
use super::progress::{bar, report};
use crate::cli::common::resolve;
use anyhow::{Context, Result};
use clap::Args;
use netkit_proto::files::DEFAULT_PORT;
use netkit_proto::root::RelPath;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `netkit files get` arguments.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The server, `host[:port]` (default port 8888).
    addr: String,
    /// The remote name.
    name: String,
    /// Where to save it: a file, or a directory to save it in (default: the
    /// remote name's last component, here).
    local: Option<PathBuf>,
    /// Continue a partial LOCAL instead of starting over.
    #[arg(long)]
    resume: bool,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

/// What a download did.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Downloaded {
    pub(crate) name: String,
    pub(crate) local: PathBuf,
    pub(crate) offset: u64,
    pub(crate) bytes: u64,
    pub(crate) seconds: f64,
}

pub(crate) fn run(args: GetArgs) -> Result<()> {
    let mut client = Client::connect(resolve(&args.addr, DEFAULT_PORT)?)?;
    let local = match args.local {
        // Into a directory: under the remote name's last component.
        Some(dir) if dir.is_dir() => dir.join(default_local(&args.name)?),
        Some(local) => local,
        None => default_local(&args.name)?,
    };
    let done = download(&mut client, &args.name, &local, args.resume)?;
    client.quit();
    report(&done, summary(&done), args.json)
}

/// The last component of a remote name, refused if it could climb out.
pub(crate) fn default_local(name: &str) -> Result<PathBuf> {
    let rel = RelPath::parse(name).with_context(|| format!("bad remote name {name:?}"))?;
    let base = rel
        .file_name()
        .with_context(|| format!("{name:?} names no file"))?;
    Ok(PathBuf::from(base))
}

/// Downloads `name` to `local`, from where `local` ends when resuming.
pub(crate) fn download(
    client: &mut Client,
    name: &str,
    local: &Path,
    resume: bool,
) -> Result<Downloaded> {
    let offset = match std::fs::metadata(local) {
        Ok(meta) if resume => meta.len(),
        _ => 0,
    };
    let started = Instant::now();
    let len = client.get_start(name, offset)?;
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .append(resume)
        .truncate(!resume)
        .open(local)
        .with_context(|| format!("cannot write {}", local.display()))?;
    let progress = bar(len, name);
    // Straight to the file: the body arrives in chunks of up to the reader's
    // 1 MiB buffer, and a BufWriter would copy each once more on its way.
    let mut sink = file;
    client.get_body(len, &mut sink, &progress)?;
    sink.flush()
        .with_context(|| format!("writing {}", local.display()))?;
    progress.finish_and_clear();
    Ok(Downloaded {
        name: name.to_owned(),
        local: local.to_owned(),
        offset,
        bytes: len,
        seconds: started.elapsed().as_secs_f64(),
    })
}

pub(crate) fn summary(d: &Downloaded) -> String {
    if d.bytes == 0 && d.offset > 0 {
        return format!("{}: already complete", d.local.display());
    }
    let resumed = (d.offset > 0).then(|| {
        format!(
            "resumed at {}",
            crate::cli::transfer_summary::size(d.offset)
        )
    });
    crate::cli::transfer_summary::line(
        &format!("{} → {}", d.name, d.local.display()),
        d.bytes,
        std::time::Duration::from_secs_f64(d.seconds),
        resumed.as_deref(),
    )
}
