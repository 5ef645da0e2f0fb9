//! `netkit passwd`: prints the Argon2id PHC string of a password, for a rule's
//! PASSWORD (`--auth 'alice:$argon2id$…@/team:rw'`), so the clear password
//! need not be written in a script or an `--auth-file`.
//!
//! On a terminal the password is asked twice without echo; from a pipe, the
//! first line of stdin is the password (`echo "$PW" | netkit passwd`).

use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};

/// `netkit passwd` arguments (none).
#[derive(Debug, Args)]
pub struct PasswdArgs {}

/// Runs `netkit passwd`.
pub fn run(_args: PasswdArgs) -> Result<()> {
    let password = if std::io::stdin().is_terminal() {
        let first = ask("Password: ")?;
        let again = ask("Again: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    } else {
        first_line(std::io::stdin().lock())?
    };
    if password.is_empty() {
        bail!("empty password");
    }
    let hash = netkit_proto::access::hash_password(&password)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{hash}")?;
    out.flush()?;
    Ok(())
}

/// Asks for a secret on the terminal, without echo (even when stdin and
/// stdout are pipes, as long as the process has a terminal).
pub(crate) fn ask(prompt: &str) -> Result<String> {
    rpassword::prompt_password(prompt)
        .context("no terminal to ask for the password on (set NETKIT_PASSWORD, or pipe it in)")
}

/// The first line of `input`, without its line ending.
fn first_line(mut input: impl BufRead) -> Result<String> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piped_password_is_its_first_line_without_the_ending() {
        let read = |s: &str| first_line(s.as_bytes()).expect("reads");
        assert_eq!(read("s3cret pass\nignored\n"), "s3cret pass");
        assert_eq!(read("dos\r\n"), "dos");
        assert_eq!(read("no newline"), "no newline");
        assert_eq!(read(""), "");
    }
}
