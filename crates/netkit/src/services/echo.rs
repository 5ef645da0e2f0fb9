//! The echo service (`netkit echo serve`).

use crate::cli::share_args::IdleArgs;
use netkit_proto::echo::EchoService;
use std::sync::Arc;
use std::time::Duration;

/// The echo port (RFC 862 uses 7, which needs root).
pub const DEFAULT_PORT: u16 = 7007;

/// How long an idle connection is kept by default.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// The TCP (or Unix socket) echo service with the asked idle time-out.
pub fn service(idle: IdleArgs) -> Arc<EchoService> {
    Arc::new(EchoService::new(idle.or(IDLE_TIMEOUT)))
}
