//! `--model iterative`: the seed's 循环服务器 (loop server).
//!
//! Accept one client, serve it until it leaves, then accept the next. Simple and
//! fair in the sense of first come, first served — but while one client is
//! connected everybody else waits in the kernel's listen backlog, so one slow or
//! idle client stalls the whole service. That limit is the lesson; sessions'
//! idle timeouts are what stop an idle client from holding the server forever.
//! The lingering close (`loops/blocking.rs`) also runs here, so a client that does
//! not close after its reply holds the next one back for up to two seconds.

use crate::loops::blocking::{accept_loop, serve_connection};
use crate::{Config, Listener, Shutdown};
use netkit_proto::Service;
use std::io;
use std::sync::Arc;

/// Serves connections one after another on the calling thread.
pub fn serve<S: Service>(
    listeners: impl Into<Vec<Listener>>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let listeners = listeners.into();
    accept_loop(&listeners, shutdown, |conn, peer| {
        serve_connection(&*service, conn, peer, config, shutdown);
    })
}
