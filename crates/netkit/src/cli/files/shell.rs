//! `netkit files shell ADDR`: an interactive prompt over one connection.
//!
//! Line editing and history come from rustyline; Tab completes command names,
//! remote names after `get` (from the last listing, refreshed by `ls` and
//! after each `put`) and local paths after `put`. Words may be quoted (`'a b'`,
//! `"a b"`) or escaped (`a\ b`). Every ERR code gets a sentence saying what
//! happened; a broken connection is re-opened on the next command.

use super::client::{server_error, Client};
use super::link::Target;
use super::{get, put};
use crate::tls::client::TlsClientArgs;
use anyhow::{bail, Result};
use clap::Args;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use std::path::PathBuf;

/// `netkit files shell` arguments.
#[derive(Debug, Args)]
pub struct ShellArgs {
    /// The server, `host[:port]` (default port 8888).
    #[arg(value_parser = crate::cli::values::addr)]
    addr: String,
    // --tls, --cacert, --fingerprint, --insecure.
    #[command(flatten)]
    tls: TlsClientArgs,
    #[command(flatten)]
    login: super::login::LoginArgs,
}

const COMMANDS: [&str; 5] = ["ls", "get", "put", "help", "quit"];

const HELP: &str = "\
commands:
  ls                  list the server's files
  get NAME [LOCAL]    download NAME (to LOCAL, default: its name, here),
                      checked against the server's SHA-256
  put LOCAL [NAME]    upload LOCAL (as NAME, default: its file name)
  help                this text
  quit                leave (also: exit, Ctrl-D)
Tab completes commands, remote names after `get` and local paths after `put`.";

pub(crate) fn run(args: ShellArgs) -> Result<()> {
    let target = Target::new(&args.addr, &args.tls)?;
    let addr = target.addr;
    let login = args.login.credentials()?;
    let mut shell = Shell {
        client: None,
        target,
        login,
    };
    shell.client()?;
    let mut editor: Editor<ShellHelper, DefaultHistory> = Editor::new()?;
    editor.set_helper(Some(ShellHelper {
        remote: Vec::new(),
        files: FilenameCompleter::new(),
    }));
    println!("connected to {addr}; type help for commands");
    if let Ok(names) = shell.names() {
        set_remote(&mut editor, names);
    }
    loop {
        let line = match editor.readline("files> ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
        }
        let words = match split_words(&line) {
            Ok(words) => words,
            Err(e) => {
                println!("error: {e}");
                continue;
            }
        };
        let Some((cmd, rest)) = words.split_first() else {
            continue;
        };
        let outcome = match (cmd.as_str(), rest) {
            ("quit" | "exit" | "bye", []) => break,
            ("help" | "?", []) => {
                println!("{HELP}");
                Ok(())
            }
            ("ls", []) => shell.ls().map(|names| set_remote(&mut editor, names)),
            ("get", [name]) => shell.get(name, None),
            ("get", [name, local]) => shell.get(name, Some(local)),
            ("put", [local]) => shell
                .put(local, None)
                .map(|names| set_remote(&mut editor, names)),
            ("put", [local, name]) => shell
                .put(local, Some(name))
                .map(|names| set_remote(&mut editor, names)),
            ("ls" | "get" | "put" | "help" | "quit", _) => {
                println!("usage: see `help`");
                Ok(())
            }
            (other, _) => {
                println!("unknown command '{other}'; type help");
                Ok(())
            }
        };
        if let Err(e) = outcome {
            println!("error: {}", explain(&e));
            if server_error(&e).is_none() {
                // The connection's state is unknown after a transfer failed.
                shell.client = None;
            }
        }
    }
    if let Some(client) = shell.client.take() {
        client.quit();
    }
    Ok(())
}

struct Shell {
    target: Target,
    client: Option<Client>,
    /// Sent as AUTH on every (re)connection.
    login: Option<super::login::Credentials>,
}

impl Shell {
    fn client(&mut self) -> Result<&mut Client> {
        if self.client.is_none() {
            let mut client = Client::connect_to(&self.target)?;
            if let Some(login) = &self.login {
                login.log_in(&mut client)?;
            }
            self.client = Some(client);
        }
        match self.client.as_mut() {
            Some(client) => Ok(client),
            None => bail!("not connected"),
        }
    }

    fn names(&mut self) -> Result<Vec<String>> {
        Ok(self.client()?.list()?.into_iter().map(|e| e.name).collect())
    }

    fn ls(&mut self) -> Result<Vec<String>> {
        let entries = self.client()?.list()?;
        for e in &entries {
            println!(
                "{:>10}  {}  {}",
                crate::cli::transfer_summary::size(e.size),
                super::progress::date(e.mtime),
                e.name
            );
        }
        println!("{} file(s)", entries.len());
        Ok(entries.into_iter().map(|e| e.name).collect())
    }

    fn get(&mut self, name: &str, local: Option<&String>) -> Result<()> {
        let local = match local {
            Some(l) => PathBuf::from(l),
            None => get::default_local(name)?,
        };
        let done = get::download(self.client()?, name, &local, false, true)?;
        println!("{}", get::summary(&done));
        Ok(())
    }

    fn put(&mut self, local: &str, name: Option<&String>) -> Result<Vec<String>> {
        let local = PathBuf::from(local);
        let name = match name {
            Some(n) => n.clone(),
            None => put::default_name(&local)?,
        };
        let done = put::upload(self.client()?, &local, &name)?;
        println!("{}", put::summary(&done));
        self.names()
    }
}

fn set_remote(editor: &mut Editor<ShellHelper, DefaultHistory>, names: Vec<String>) {
    if let Some(helper) = editor.helper_mut() {
        helper.remote = names;
    }
}

/// A sentence for the user: what the server's code means, with its message.
fn explain(e: &anyhow::Error) -> String {
    let Some(err) = server_error(e) else {
        return format!("{e:#}");
    };
    let what = match err.code {
        400 => "the server did not accept that request",
        403 => "forbidden",
        404 => "not found on the server",
        409 => "that name is taken on the server (it keeps existing files unless started with --overwrite)",
        413 => "too large for this server (its --max-upload limit)",
        507 => "the server's disk is full; nothing was stored",
        500 => "the server hit an internal error",
        _ => "the server refused",
    };
    format!("{what} — {} (ERR {})", err.message, err.code)
}

/// Splits a command line into words as a POSIX shell does (shell-words):
/// whitespace separates, `'…'` and `"…"` quote, `\` escapes, `#` starts a
/// comment.
fn split_words(line: &str) -> Result<Vec<String>, shell_words::ParseError> {
    shell_words::split(line)
}

/// A name as one word for [`split_words`]: each character a shell would read
/// otherwise is escaped with `\` (tab completion shows `my\ file`).
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_whitespace() || matches!(c, '\\' | '\'' | '"' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Tab completion: commands, remote names after `get`, local paths after `put`.
struct ShellHelper {
    remote: Vec<String>,
    files: FilenameCompleter,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let trimmed = before.trim_start();
        let lead = before.len() - trimmed.len();
        let Some(space) = trimmed.find(char::is_whitespace) else {
            let pairs = COMMANDS
                .iter()
                .filter(|c| c.starts_with(trimmed))
                .map(|c| pair(c, format!("{c} ")))
                .collect();
            return Ok((lead, pairs));
        };
        let args = &trimmed[space..];
        let arg_start = lead + space + (args.len() - args.trim_start().len());
        match &trimmed[..space] {
            "get" => {
                let typed = &line[arg_start..pos];
                let words = split_words(typed).unwrap_or_default();
                let past_name = words.len() > 1
                    || (typed.ends_with(char::is_whitespace) && !typed.ends_with("\\ "));
                if past_name {
                    return Ok((pos, Vec::new()));
                }
                let prefix = words.into_iter().next().unwrap_or_default();
                let pairs = self
                    .remote
                    .iter()
                    .filter(|n| n.starts_with(&prefix))
                    .map(|n| pair(n, escape(n)))
                    .collect();
                Ok((arg_start, pairs))
            }
            "put" => self.files.complete(line, pos, ctx),
            _ => Ok((pos, Vec::new())),
        }
    }
}

fn pair(display: &str, replacement: String) -> Pair {
    Pair {
        display: display.to_owned(),
        replacement,
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;
    use rustyline::history::DefaultHistory;

    #[test]
    fn words_quotes_and_escapes() {
        assert_eq!(split_words("get  a.txt b").unwrap(), ["get", "a.txt", "b"]);
        assert_eq!(
            split_words(r"get my\ file 'x y' "),
            Ok(vec!["get".into(), "my file".into(), "x y".into()])
        );
        assert_eq!(split_words("put \"a b\"").unwrap(), ["put", "a b"]);
        assert!(split_words("get 'open").is_err());
        assert_eq!(
            split_words(&format!("get {}", escape("#a 'b\""))).unwrap()[1],
            "#a 'b\""
        );
    }

    #[test]
    fn completes_commands_and_remote_names() {
        let helper = ShellHelper {
            remote: vec!["alpha.txt".into(), "also me.bin".into(), "beta".into()],
            files: FilenameCompleter::new(),
        };
        let history = DefaultHistory::new();
        let ctx = Context::new(&history);
        let (start, got) = helper.complete("ge", 2, &ctx).unwrap();
        assert_eq!((start, got[0].replacement.as_str()), (0, "get "));
        let (start, got) = helper.complete("get al", 6, &ctx).unwrap();
        let names: Vec<&str> = got.iter().map(|p| p.replacement.as_str()).collect();
        assert_eq!((start, names), (4, vec!["alpha.txt", r"also\ me.bin"]));
        let (_, got) = helper.complete(r"get also\ m", 11, &ctx).unwrap();
        assert_eq!(got.len(), 1);
    }
}
