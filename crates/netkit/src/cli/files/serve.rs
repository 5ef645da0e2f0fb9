//! `netkit files serve [DIR]`: the files protocol under any `--model`.

use super::digest::ThreadDigests;
use crate::cli::access_log;
use crate::cli::common::{announce_all, shutdown_on_signals, ModelArgs, ServerArgs};
use crate::cli::share_args::{IdleArgs, ShareArgs};
use anyhow::{Context, Result};
use clap::Args;
use netkit_drivers::Model;
use netkit_proto::files::{FilesConfig, FilesService, DEFAULT_PORT};
use netkit_proto::root::Root;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `netkit files serve` flags.
#[derive(Debug, Args)]
#[command(
    mut_arg("port", |a| crate::cli::values::default_port(a, "8888")),
    mut_arg("idle_timeout", |a| a.default_value("300s"))
)]
pub struct ServeArgs {
    /// The directory to share.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    share: ShareArgs,
    #[command(flatten)]
    idle: IdleArgs,
}

/// How long an idle connection is kept by default.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// The files settings the shared flags ask for (`files serve` and `up`).
pub(crate) fn files_config(share: &ShareArgs, idle: IdleArgs) -> FilesConfig {
    FilesConfig {
        upload: share.upload,
        overwrite: share.overwrite,
        max_upload: share.max_upload,
        idle_timeout: idle.or(IDLE_TIMEOUT),
    }
}

/// Makes a forked child's file-size limit (RLIMIT_FSIZE) fail one upload
/// with EFBIG (ERR 507) instead of killing the server with SIGXFSZ.
pub(crate) fn ignore_sigxfsz() -> Result<()> {
    // SAFETY: SIG_IGN installs no handler code.
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGXFSZ,
            nix::sys::signal::SigHandler::SigIgn,
        )
    }
    .context("ignoring SIGXFSZ")?;
    Ok(())
}

/// The files service over `root` (`files serve` and `up`): large uploads are
/// hashed on a thread of their own, beside the receive.
pub(crate) fn service(
    root: Root,
    config: FilesConfig,
    log: Option<&access_log::Log>,
) -> Arc<FilesService> {
    let mut service =
        FilesService::new(Arc::new(root), config).with_digest_pool(Arc::new(ThreadDigests));
    if let Some(log) = log {
        service = service.with_access_log(log.sink());
    }
    Arc::new(service)
}

pub(crate) fn run(args: ServeArgs) -> Result<()> {
    let shutdown = shutdown_on_signals()?;
    ignore_sigxfsz()?;
    let root = Root::open(&args.dir)
        .with_context(|| format!("cannot open directory {}", args.dir.display()))?
        .with_hidden(args.share.hidden);
    let stale = root
        .remove_stale_temporaries()
        .context("removing stale upload temporaries")?;
    if stale > 0 {
        tracing::info!("removed {stale} unfinished upload(s) left by an earlier run");
    }
    let config = args.model.config()?;
    let listeners = args.server.listen_tcp(DEFAULT_PORT)?;
    let files = files_config(&args.share, args.idle);
    // A forked child writes each line at once (it exits without a flusher).
    let log = access_log::open(args.share.quiet, args.model.model != Model::Fork);
    let service = service(root, files, log.as_ref());
    announce_all("files", "tcp", &listeners)?;
    let result = netkit_drivers::serve(args.model.model, listeners, service, &config, &shutdown);
    drop(log);
    result?;
    Ok(())
}
