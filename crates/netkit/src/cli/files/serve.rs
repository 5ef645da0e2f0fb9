//! `netkit files serve [DIR]`: the files protocol under any `--model`.

use super::digest::ThreadDigests;
use crate::cli::common::{announce_all, parse_size, shutdown_on_signals, ModelArgs, ServerArgs};
use anyhow::{Context, Result};
use clap::Args;
use netkit_proto::files::{FilesConfig, FilesService, DEFAULT_PORT};
use netkit_proto::root::Root;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `netkit files serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The directory to share.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Allow uploads (PUT); without it they get ERR 403.
    #[arg(long)]
    upload: bool,
    /// Let an upload replace an existing file (otherwise ERR 409).
    #[arg(long)]
    overwrite: bool,
    /// Largest upload accepted, e.g. 500M or 2GiB (otherwise ERR 413).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_upload: Option<u64>,
    /// Close connections idle for this many seconds (0: never).
    #[arg(long, default_value_t = 300)]
    idle_timeout: u64,
}

pub(crate) fn run(args: ServeArgs) -> Result<()> {
    let shutdown = shutdown_on_signals()?;
    // A file-size limit (RLIMIT_FSIZE) must fail one upload with EFBIG (ERR
    // 507), not kill the server with SIGXFSZ.
    // SAFETY: SIG_IGN installs no handler code.
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGXFSZ,
            nix::sys::signal::SigHandler::SigIgn,
        )
    }
    .context("ignoring SIGXFSZ")?;
    let root = Root::open(&args.dir)
        .with_context(|| format!("cannot open directory {}", args.dir.display()))?;
    let stale = root
        .remove_stale_temporaries()
        .context("removing stale upload temporaries")?;
    if stale > 0 {
        tracing::info!("removed {stale} unfinished upload(s) left by an earlier run");
    }
    let config = args.model.config()?;
    let listeners = args.server.listen_tcp(DEFAULT_PORT)?;
    let files = FilesConfig {
        upload: args.upload,
        overwrite: args.overwrite,
        max_upload: args.max_upload,
        idle_timeout: (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout)),
    };
    // Large uploads are hashed on a thread of their own, beside the receive.
    let service = Arc::new(
        FilesService::new(Arc::new(root), files).with_digest_pool(Arc::new(ThreadDigests)),
    );
    announce_all("files", "tcp", &listeners)?;
    netkit_drivers::serve(args.model.model, listeners, service, &config, &shutdown)?;
    Ok(())
}
