//! `netkit files get ADDR NAME [LOCAL] [--resume] [--no-verify] [--json]`:
//! download a file.
//!
//! The local file is opened only once the server said OK, so a refused
//! request never truncates it; an interrupted download leaves what arrived,
//! which `--resume` continues from (`GET name <local size>`) — once the
//! server's `SUM name <local size>` showed the local part is the start of the
//! remote file; otherwise the download starts over, and says so. Unless
//! `--no-verify`, the finished file is checked against the server's `SUM`
//! (see [`super::verify`]); a mismatch removes it and fails.

use super::client::Client;
use super::link::Target;
use super::progress::{bar, report};
use super::verify::{check_part, HashingFile, Part};
use crate::tls::client::TlsClientArgs;
use anyhow::{Context, Result};
use clap::Args;
use netkit_proto::files::wire::hex;
use netkit_proto::root::RelPath;
use sha2::{Digest, Sha256};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `netkit files get` arguments.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The server, `host[:port]` (default port 8888).
    #[arg(value_parser = crate::cli::values::addr)]
    addr: String,
    // --tls, --cacert, --fingerprint, --insecure.
    #[command(flatten)]
    tls: TlsClientArgs,
    #[command(flatten)]
    login: super::login::LoginArgs,
    /// The remote name.
    name: String,
    /// Where to save it: a file, or a directory to save it in (default: the
    /// remote name's last component, here).
    local: Option<PathBuf>,
    /// Continue a partial LOCAL instead of starting over (when the server's
    /// SHA-256 shows it is the start of the remote file).
    #[arg(long)]
    resume: bool,
    /// Do not check the downloaded file against the server's SHA-256 (the
    /// server then reads the file once, not twice).
    #[arg(long)]
    no_verify: bool,
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
    /// The whole file was checked against the server's SHA-256.
    pub(crate) verified: bool,
    /// `--resume` found a local part that was not the remote file's start.
    pub(crate) restarted: bool,
}

pub(crate) fn run(args: GetArgs) -> Result<()> {
    let mut client = Client::connect_to(&Target::new(&args.addr, &args.tls)?)?;
    args.login.log_in(&mut client)?;
    let local = match args.local {
        // Into a directory: under the remote name's last component.
        Some(dir) if dir.is_dir() => dir.join(default_local(&args.name)?),
        Some(local) => local,
        None => default_local(&args.name)?,
    };
    let done = download(
        &mut client,
        &args.name,
        &local,
        args.resume,
        !args.no_verify,
    )?;
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

/// Downloads `name` to `local`, from where `local` ends when resuming (and
/// its bytes are the start of the remote file); with `verify`, checks the
/// result against the server's SHA-256 and removes it if it differs.
pub(crate) fn download(
    client: &mut Client,
    name: &str,
    local: &Path,
    resume: bool,
    verify: bool,
) -> Result<Downloaded> {
    let started = Instant::now();
    let (mut offset, mut hasher, mut restarted) = (0, Sha256::new(), false);
    let have = std::fs::metadata(local).map_or(0, |m| m.len());
    if resume && have > 0 {
        match check_part(client, name, local, have)? {
            Part::Matches(part) => (offset, hasher) = (have, part),
            Part::Differs(why) => {
                eprintln!("netkit: {}: {why}; starting over", local.display());
                restarted = true;
            }
        }
    }
    let len = client.get_start(name, offset)?;
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .append(offset > 0)
        .truncate(offset == 0)
        .open(local)
        .with_context(|| format!("cannot write {}", local.display()))?;
    let progress = bar(len, name);
    // Straight to the file: the body arrives in chunks of up to the reader's
    // 1 MiB buffer, and a BufWriter would copy each once more on its way.
    let mut sink = HashingFile { file, hasher };
    client.get_body(len, &mut sink, &progress)?;
    sink.flush()
        .with_context(|| format!("writing {}", local.display()))?;
    progress.finish_and_clear();
    let HashingFile { file, hasher } = sink;
    drop(file);
    // A resume that found everything already there was checked by its SUM.
    let verified = if len == 0 && offset > 0 {
        true
    } else if verify {
        let total = offset + len;
        let ours = hex(&hasher.finalize());
        let theirs = client.sum(name, Some(total))?;
        if ours != theirs {
            let removed = std::fs::remove_file(local).is_ok();
            anyhow::bail!(
                "{}: the download does not match {name} on the server (SHA-256 {ours} here, \
                 {theirs} there; did it change meanwhile?); {}",
                local.display(),
                if removed {
                    "removed it"
                } else {
                    "could not remove it"
                }
            );
        }
        true
    } else {
        false
    };
    Ok(Downloaded {
        name: name.to_owned(),
        local: local.to_owned(),
        offset,
        bytes: len,
        seconds: started.elapsed().as_secs_f64(),
        verified,
        restarted,
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
