//! `--model poll` (being written).

use crate::{Config, Listener, Shutdown};
use netkit_proto::Service;
use std::io;
use std::sync::Arc;

/// Not written yet.
pub fn serve<S: Service>(
    _listener: Listener,
    _service: Arc<S>,
    _config: &Config,
    _shutdown: &Shutdown,
) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "model poll is not written yet",
    ))
}
