//! The files service (`netkit files serve`, `netkit up`): its settings from
//! the shared flags, the digest pool that hashes large uploads beside the
//! receive, the access log, and the one process setting it needs (SIGXFSZ
//! ignored, so a file-size limit fails one upload instead of the server).

use super::access::Gate;
use super::access_log::Log;
use super::digest::ThreadDigests;
use crate::cli::share_args::{IdleArgs, ShareArgs};
use anyhow::Result;
use netkit_proto::files::{FilesConfig, FilesService};
use netkit_proto::root::Root;
use std::sync::Arc;
use std::time::Duration;

pub use netkit_proto::files::DEFAULT_PORT;

/// How long an idle connection is kept by default.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// The files settings the shared flags ask for.
pub fn config(share: &ShareArgs, idle: IdleArgs) -> FilesConfig {
    FilesConfig {
        upload: share.upload,
        overwrite: share.overwrite,
        max_upload: share.max_upload,
        idle_timeout: idle.or(IDLE_TIMEOUT),
    }
}

/// The files service over `root`: large uploads are hashed on a thread of
/// their own, beside the receive; every command is checked against `gate`.
pub(crate) fn service(
    root: Root,
    config: FilesConfig,
    log: Option<&Log>,
    gate: &Gate,
) -> Result<Arc<FilesService>> {
    let mut service = FilesService::new(Arc::new(root), config)
        .with_digest_pool(Arc::new(ThreadDigests))
        .with_access(gate.access.clone(), gate.guessing.clone());
    if let Some(log) = log {
        service = service.with_access_log(log.sink());
    }
    Ok(Arc::new(service))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::files::FilesCommand;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    /// `up` without `--idle-timeout` keeps files connections
    /// [`IDLE_TIMEOUT`]: it must be what `files serve` keeps them.
    #[test]
    fn up_keeps_idle_connections_as_files_serve_does_by_default() {
        let cli = Cli::try_parse_from(["netkit", "files", "serve"]).expect("parses");
        let Command::Files(FilesCommand::Serve(args)) = cli.command else {
            panic!("not files serve");
        };
        assert_eq!(args.config().idle_timeout, Some(IDLE_TIMEOUT));
    }
}
