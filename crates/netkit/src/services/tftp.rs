//! The TFTP service (`netkit tftp serve`, `netkit up`): its settings from the
//! shared flags and its timing, and the access log.

use super::access::Gate;
use super::access_log::Log;
use crate::cli::share_args::ShareArgs;
use netkit_proto::root::Root;
use netkit_proto::tftp::server::{ServerConfig, TftpServer, MAX_PER_CLIENT};
use std::sync::Arc;
use std::time::Duration;

/// The TFTP port netkit uses by default (69 needs root).
pub const DEFAULT_PORT: u16 = 6969;

/// How the server paces transfers (`tftp serve`'s flags; `up` takes the
/// defaults).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The first and largest retransmission timeout.
    pub timeout: Duration,
    /// Retransmissions without progress before a transfer is dropped.
    pub retries: u32,
    /// Transfers one client address may run at once.
    pub max_per_client: usize,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            timeout: Duration::from_secs(1),
            retries: 5,
            max_per_client: MAX_PER_CLIENT,
        }
    }
}

/// The TFTP settings the shared flags and `timing` ask for.
pub fn config(share: &ShareArgs, timing: Timing) -> ServerConfig {
    let mut config = ServerConfig {
        upload: share.upload,
        overwrite: share.overwrite,
        max_upload: share.max_upload,
        max_per_client: timing.max_per_client,
        ..ServerConfig::default()
    };
    config.transfer.timeout = timing.timeout;
    config.transfer.retries = timing.retries;
    // Long enough to answer a lost last ACK twice, short enough not to hold
    // the transfer's slot.
    config.transfer.linger = (timing.timeout * 2).min(Duration::from_secs(5));
    config
}

/// The TFTP service over `root`, logging to `log` when there is one, serving
/// what `gate`'s rules grant anyone without an account.
pub(crate) fn service(
    root: Root,
    config: ServerConfig,
    log: Option<&Log>,
    gate: &Gate,
) -> TftpServer {
    let service = TftpServer::new(Arc::new(root), config)
        .with_access(gate.access.clone(), gate.guessing.clone());
    match log {
        Some(log) => service.with_access_log(log.sink()),
        None => service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    /// `up` takes [`Timing::default`]: it must be what `tftp serve` runs
    /// without flags.
    #[test]
    fn up_times_transfers_as_tftp_serve_does_by_default() {
        let cli = Cli::try_parse_from(["netkit", "tftp", "serve"]).expect("parses");
        let Command::Tftp(crate::cli::tftp::TftpCommand::Serve(args)) = cli.command else {
            panic!("not tftp serve");
        };
        let (flags, default) = (args.timing(), Timing::default());
        assert_eq!(
            (flags.timeout, flags.retries, flags.max_per_client),
            (default.timeout, default.retries, default.max_per_client)
        );
    }
}
