//! `--user NAME` on the files clients: the password comes from
//! `NETKIT_PASSWORD`, else is asked on the terminal without echo; the client
//! sends `AUTH` first, and again after every reconnection (`shell`).

use super::client::Client;
use anyhow::Result;
use clap::Args;

/// The environment variable a password may come from (for scripts).
pub(crate) const PASSWORD_ENV: &str = "NETKIT_PASSWORD";

/// The login flag of `files ls|get|put|shell`.
#[derive(Debug, Clone, Args)]
pub(crate) struct LoginArgs {
    /// Log in as NAME (password from NETKIT_PASSWORD, else asked without echo).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
}

/// A user name and password to send as `AUTH`.
#[derive(Clone)]
pub(crate) struct Credentials {
    user: String,
    password: String,
}

impl LoginArgs {
    /// The credentials to log in with (the password read now, once), or
    /// `None` without `--user`.
    pub(crate) fn credentials(&self) -> Result<Option<Credentials>> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        let password = match std::env::var(PASSWORD_ENV) {
            Ok(password) => password,
            Err(_) => crate::cli::passwd::ask(&format!("Password for {user}: "))?,
        };
        Ok(Some(Credentials {
            user: user.clone(),
            password,
        }))
    }

    /// Logs `client` in when `--user` is given.
    pub(crate) fn log_in(&self, client: &mut Client) -> Result<()> {
        match self.credentials()? {
            Some(credentials) => credentials.log_in(client),
            None => Ok(()),
        }
    }
}

impl Credentials {
    /// Sends `AUTH`; a refusal is the server's error (`ERR 401`, `ERR 429`).
    pub(crate) fn log_in(&self, client: &mut Client) -> Result<()> {
        client.auth(&self.user, &self.password)
    }
}
