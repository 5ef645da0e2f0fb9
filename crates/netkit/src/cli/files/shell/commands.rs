//! One typed line: split into words, dispatched, and answered — the
//! commands that are not transfers (`ls`, `cd`, `pwd`, `lcd`, `lls`, `lpwd`,
//! `mkdir`, `rm`, `mv`, `!`, `help`), and the sentence every ERR gets.

use super::paths::{self, resolve, shown};
use super::remote::Remote;
use crate::cli::files::client::server_error;
use crate::cli::files::progress::date;
use crate::cli::transfer_summary::size;
use anyhow::{bail, Context, Result};
use netkit_proto::files::wire::ListEntry;
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// Every command, for `help` and Tab: (name, usage, what it does).
pub(super) const COMMANDS: [(&str, &str, &str); 19] = [
    (
        "ls",
        "ls [FOLDER|GLOB]",
        "list a remote folder (folders end in /)",
    ),
    (
        "cd",
        "cd [FOLDER]",
        "change the remote folder (no FOLDER: the root)",
    ),
    ("pwd", "pwd", "print the remote folder"),
    (
        "get",
        "get [-a] [-r] NAME [LOCAL]",
        "download (-r a folder, -a resume a partial LOCAL)",
    ),
    ("put", "put [-r] LOCAL [NAME]", "upload (-r a folder)"),
    (
        "mget",
        "mget [-a] [-r] GLOB…",
        "download every remote name a glob matches",
    ),
    (
        "mput",
        "mput [-r] GLOB…",
        "upload every local name a glob matches",
    ),
    ("mkdir", "mkdir FOLDER…", "make remote folders"),
    (
        "rm",
        "rm NAME…",
        "remove remote files (a folder, after asking, with everything in it)",
    ),
    (
        "mv",
        "mv FROM TO",
        "rename or move a remote file or folder (into TO if a folder)",
    ),
    ("lcd", "lcd [DIR]", "change the local folder (no DIR: home)"),
    ("lls", "lls [DIR]", "list a local folder"),
    ("lpwd", "lpwd", "print the local folder"),
    (
        "!",
        "!COMMAND",
        "run COMMAND in a local shell (! alone: an interactive one)",
    ),
    ("help", "help", "this list"),
    ("quit", "quit", "leave (also: exit, bye, Ctrl-D)"),
    ("exit", "exit", "leave"),
    ("bye", "bye", "leave"),
    ("?", "?", "this list"),
];

/// Whether the shell goes on after a line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Go,
    Quit,
}

pub(crate) struct Shell {
    pub(super) remote: Rc<RefCell<Remote>>,
    /// The remote working folder, without a leading `/` (`""`: the root).
    pub(super) cwd: Rc<RefCell<String>>,
}

impl Shell {
    pub(crate) fn new(remote: Rc<RefCell<Remote>>, cwd: Rc<RefCell<String>>) -> Shell {
        Shell { remote, cwd }
    }

    /// Runs one typed line; errors are printed, never fatal.
    pub(crate) fn line(&mut self, line: &str) -> Flow {
        if let Some(command) = line.trim_start().strip_prefix('!') {
            report(local_shell(command));
            return Flow::Go;
        }
        let words = match paths::split_words(line) {
            Ok(words) => words,
            Err(e) => {
                println!("error: {e}");
                return Flow::Go;
            }
        };
        let Some((cmd, args)) = words.split_first() else {
            return Flow::Go;
        };
        let outcome = match cmd.as_str() {
            "quit" | "exit" | "bye" => return Flow::Quit,
            "help" | "?" => {
                help();
                Ok(())
            }
            "ls" | "dir" => self.ls(args),
            "cd" => self.cd(args),
            "pwd" => {
                println!("Remote working directory: {}", shown(&self.cwd.borrow()));
                Ok(())
            }
            "lpwd" => std::env::current_dir()
                .map(|d| println!("Local working directory: {}", d.display()))
                .context("cannot read the local folder"),
            "lcd" => lcd(args),
            "lls" => lls(args),
            "mkdir" => self.each(args, "mkdir FOLDER…", |c, p| c.mkdir(p)),
            "rm" | "del" => self.rm(args),
            "mv" | "rename" => self.mv(args),
            "get" => self.get(args),
            "put" => self.put(args),
            "mget" => self.mget(args),
            "mput" => self.mput(args),
            other => {
                println!("unknown command '{other}'; type help");
                Ok(())
            }
        };
        report(outcome);
        Flow::Go
    }

    /// `arg` as a remote path from the working folder.
    pub(super) fn path(&self, arg: &str) -> String {
        resolve(&self.cwd.borrow(), arg)
    }

    pub(super) fn list(&self, folder: &str) -> Result<Vec<ListEntry>> {
        self.remote.borrow_mut().list(folder)
    }

    /// Whether `path` is a remote folder (listed as one by its parent).
    pub(super) fn is_remote_dir(&self, path: &str) -> bool {
        if path.is_empty() {
            return true;
        }
        let (dir, base) = paths::split(path);
        self.list(dir)
            .is_ok_and(|entries| entries.iter().any(|e| e.name == format!("{base}/")))
    }

    /// The remote names a word stands for: a glob matched against its
    /// folder's listing (sorted), or the word itself.
    pub(super) fn expand(&self, word: &str) -> Result<Vec<ListEntry>> {
        let path = self.path(word);
        let (dir, pattern) = paths::split(&path);
        if !paths::is_glob(pattern) {
            let entries = self.list(dir).unwrap_or_default();
            let found = entries
                .into_iter()
                .find(|e| e.name.trim_end_matches('/') == pattern);
            let name = found.map_or_else(|| pattern.to_owned(), |e| e.name);
            return Ok(vec![ListEntry {
                size: 0,
                mtime: 0,
                name: paths::join(dir, &name),
            }]);
        }
        let glob = glob::Pattern::new(pattern).with_context(|| format!("bad pattern {word}"))?;
        let matched: Vec<ListEntry> = self
            .list(dir)?
            .into_iter()
            .filter(|e| glob.matches(e.name.trim_end_matches('/')))
            .map(|e| ListEntry {
                name: paths::join(dir, &e.name),
                ..e
            })
            .collect();
        if matched.is_empty() {
            bail!("{word}: no match");
        }
        Ok(matched)
    }

    fn ls(&self, args: &[String]) -> Result<()> {
        let entries = match args {
            [] => self.list(&self.cwd.borrow())?,
            [word] if paths::is_glob(word) => self
                .expand(word)?
                .into_iter()
                .map(|e| ListEntry {
                    name: paths::split(e.name.trim_end_matches('/')).1.to_owned()
                        + if e.is_dir() { "/" } else { "" },
                    ..e
                })
                .collect(),
            [folder] => self.list(&self.path(folder))?,
            _ => bail!("usage: ls [FOLDER|GLOB]"),
        };
        let folders = entries.iter().filter(|e| e.is_dir()).count();
        for e in &entries {
            let shown_size = if e.is_dir() { "-".into() } else { size(e.size) };
            println!("{shown_size:>10}  {}  {}", date(e.mtime), e.name);
        }
        println!("{} file(s), {folders} folder(s)", entries.len() - folders);
        Ok(())
    }

    fn cd(&self, args: &[String]) -> Result<()> {
        let target = match args {
            [] => String::new(),
            [folder] => self.path(folder),
            _ => bail!("usage: cd [FOLDER]"),
        };
        // Listing it shows it is a folder this session may enter.
        self.list(&target)?;
        *self.cwd.borrow_mut() = target;
        Ok(())
    }

    /// Runs `op` on each argument's remote path (at least one).
    fn each(
        &self,
        args: &[String],
        usage: &str,
        op: impl Fn(&mut crate::cli::files::client::Client, &str) -> Result<()>,
    ) -> Result<()> {
        if args.is_empty() {
            bail!("usage: {usage}");
        }
        for arg in args {
            let path = self.path(arg);
            self.remote.borrow_mut().call(|c| op(c, &path))?;
        }
        Ok(())
    }

    fn rm(&self, args: &[String]) -> Result<()> {
        if args.is_empty() {
            bail!("usage: rm NAME…");
        }
        for word in args {
            for entry in self.expand(word)? {
                let path = entry.name.trim_end_matches('/');
                if entry.is_dir()
                    && !confirm(&format!(
                        "remove folder {} and everything in it? [y/N] ",
                        shown(path)
                    ))?
                {
                    println!("kept {}", shown(path));
                    continue;
                }
                self.remote.borrow_mut().call(|c| c.delete(path))?;
                println!("removed {}", shown(path));
            }
        }
        Ok(())
    }

    fn mv(&self, args: &[String]) -> Result<()> {
        let [from, to] = args else {
            bail!("usage: mv FROM TO");
        };
        let from = self.path(from);
        let mut to = self.path(to);
        if self.is_remote_dir(&to) {
            to = paths::join(&to, paths::split(&from).1);
        }
        self.remote.borrow_mut().call(|c| c.rename(&from, &to))?;
        println!("{} → {}", shown(&from), shown(&to));
        Ok(())
    }
}

fn help() {
    for (_, usage, what) in COMMANDS
        .iter()
        .filter(|c| !matches!(c.0, "exit" | "bye" | "?"))
    {
        println!("  {usage:<28} {what}");
    }
    println!("Tab completes commands, remote names and local paths.");
}

fn lcd(args: &[String]) -> Result<()> {
    let dir = match args {
        [] => paths::local("~"),
        [dir] => paths::local(dir),
        _ => bail!("usage: lcd [DIR]"),
    };
    std::env::set_current_dir(&dir).with_context(|| format!("lcd {}", dir.display()))
}

fn lls(args: &[String]) -> Result<()> {
    let dir = match args {
        [] => std::path::PathBuf::from("."),
        [dir] => paths::local(dir),
        _ => bail!("usage: lls [DIR]"),
    };
    let mut entries: Vec<(String, Option<u64>)> = std::fs::read_dir(&dir)
        .with_context(|| format!("lls {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            match std::fs::metadata(e.path()) {
                Ok(m) if m.is_dir() => (name + "/", None),
                Ok(m) => (name, Some(m.len())),
                Err(_) => (name, None),
            }
        })
        .collect();
    entries.sort();
    for (name, len) in entries {
        println!("{:>10}  {name}", len.map_or("-".into(), size));
    }
    Ok(())
}

/// `!command` through `sh -c`; `!` alone starts `$SHELL`.
fn local_shell(command: &str) -> Result<()> {
    let status = if command.trim().is_empty() {
        let shell = std::env::var_os("SHELL").unwrap_or_else(|| "sh".into());
        std::process::Command::new(shell).status()
    } else {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .status()
    }
    .context("cannot start a local shell")?;
    if !status.success() {
        println!("({status})");
    }
    Ok(())
}

/// Asks a yes/no question on the terminal; only `y` or `yes` is yes.
fn confirm(question: &str) -> Result<bool> {
    print!("{question}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn report(outcome: Result<()>) {
    if let Err(e) = outcome {
        println!("error: {}", explain(&e));
    }
}

/// A sentence for the user: what the server's code means, with its message.
pub(super) fn explain(e: &anyhow::Error) -> String {
    let Some(err) = server_error(e) else {
        return format!("{e:#}");
    };
    let what = match err.code {
        400 => "the server did not accept that request",
        401 => "log in first (files shell --user NAME)",
        403 if err.message.contains("is a directory") => "that is a folder (use -r)",
        403 => "forbidden (the server's --upload, --overwrite or access rules)",
        404 => "not found on the server",
        409 => "that name is taken on the server (it keeps existing files unless started with --overwrite)",
        413 => "too large for this server (its --max-upload limit)",
        429 => "too many failed logins from this address; wait a minute",
        507 => "the server's disk is full; nothing was stored",
        500 => "the server hit an internal error",
        _ => "the server refused",
    };
    format!("{what} — {} (ERR {})", err.message, err.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::files::ServerError;

    #[test]
    fn every_err_code_gets_a_sentence() {
        for (code, words) in [
            (400, "did not accept"),
            (401, "log in first"),
            (403, "forbidden"),
            (404, "not found"),
            (409, "taken"),
            (413, "too large"),
            (429, "too many failed logins"),
            (500, "internal error"),
            (507, "disk is full"),
        ] {
            let e = anyhow::Error::new(ServerError {
                code,
                message: "why".into(),
            });
            let said = explain(&e);
            assert!(said.contains(words), "{code}: {said}");
            assert!(said.ends_with(&format!("why (ERR {code})")), "{said}");
        }
    }
}
