//! The shell's one connection, shared by the commands and Tab completion:
//! opened (and logged in) on first use, dropped when a transfer broke it so
//! the next command reconnects.

use crate::cli::files::client::{server_error, Client};
use crate::cli::files::link::Target;
use crate::cli::files::login::Credentials;
use anyhow::{bail, Result};
use netkit_proto::files::wire::ListEntry;

pub(super) struct Remote {
    target: Target,
    client: Option<Client>,
    /// Sent as AUTH on every (re)connection.
    login: Option<Credentials>,
}

impl Remote {
    pub(super) fn new(target: Target, login: Option<Credentials>) -> Remote {
        Remote {
            target,
            client: None,
            login,
        }
    }

    /// Runs `f` on the connection (opened if needed). After any failure but
    /// the server's own ERR, the connection's state is unknown: it is
    /// dropped, and the next call opens a new one.
    pub(super) fn call<T>(&mut self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        if self.client.is_none() {
            let mut client = Client::connect_to(&self.target)?;
            if let Some(login) = &self.login {
                login.log_in(&mut client)?;
            }
            self.client = Some(client);
        }
        let Some(client) = self.client.as_mut() else {
            bail!("not connected");
        };
        let result = f(client);
        if let Err(e) = &result {
            if server_error(e).is_none() {
                self.client = None;
            }
        }
        result
    }

    /// `LIST <folder>` (`""`: the root).
    pub(super) fn list(&mut self, folder: &str) -> Result<Vec<ListEntry>> {
        self.call(|c| c.list_dir(folder))
    }

    /// Says goodbye, if connected.
    pub(super) fn quit(&mut self) {
        if let Some(client) = self.client.take() {
            client.quit();
        }
    }
}
