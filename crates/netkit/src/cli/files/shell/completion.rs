//! Tab completion: command names first; then remote names (listed from the
//! server on each Tab, in the folder the word names so far) or local paths,
//! by command and argument; after `cd` only folders.

use super::commands::COMMANDS;
use super::paths::{self, escape, resolve, typed_split};
use super::remote::Remote;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use std::cell::RefCell;
use std::rc::Rc;

pub(crate) struct ShellHelper {
    remote: Rc<RefCell<Remote>>,
    cwd: Rc<RefCell<String>>,
    files: FilenameCompleter,
}

/// What an argument names.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Remote,
    RemoteFolder,
    Local,
    Nothing,
}

/// What the `index`-th argument (flags not counted) of `cmd` names.
fn kind(cmd: &str, index: usize) -> Kind {
    match (cmd, index) {
        ("cd", 0) => Kind::RemoteFolder,
        ("ls" | "dir", 0) => Kind::Remote,
        ("get", 0) | ("rm" | "del" | "mget" | "mkdir" | "mv" | "rename", _) => Kind::Remote,
        ("get", 1) | ("put", 0) | ("mput" | "lcd" | "lls", _) => Kind::Local,
        ("put", 1) => Kind::Remote,
        _ => Kind::Nothing,
    }
}

/// Where the word under the cursor starts: after the last whitespace that
/// is not escaped with `\`.
fn word_start(before: &str) -> usize {
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in before.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c.is_whitespace() {
            start = i + c.len_utf8();
        }
    }
    start
}

impl ShellHelper {
    pub(crate) fn new(remote: Rc<RefCell<Remote>>, cwd: Rc<RefCell<String>>) -> ShellHelper {
        ShellHelper {
            remote,
            cwd,
            files: FilenameCompleter::new(),
        }
    }

    /// Remote names starting with `typed` (a word as typed, unescaped),
    /// each as its whole replacement word.
    fn remote_names(&self, typed: &str, folders_only: bool) -> Vec<Pair> {
        let (dir, prefix) = typed_split(typed);
        let folder = resolve(&self.cwd.borrow(), dir);
        // A Tab while a command holds the connection (never, single-threaded)
        // completes nothing rather than panicking.
        let Ok(mut remote) = self.remote.try_borrow_mut() else {
            return Vec::new();
        };
        let Ok(entries) = remote.list(&folder) else {
            return Vec::new();
        };
        entries
            .into_iter()
            .filter(|e| e.name.starts_with(prefix) && (e.is_dir() || !folders_only))
            .map(|e| Pair {
                replacement: escape(&format!("{dir}{}", e.name)),
                display: e.name,
            })
            .collect()
    }
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
        let start = word_start(before);
        let words = paths::split_words(&before[..start]).unwrap_or_default();
        let Some((cmd, args)) = words.split_first() else {
            let typed = before.trim_start();
            let pairs = COMMANDS
                .iter()
                .filter(|c| c.0.starts_with(typed))
                .map(|c| Pair {
                    display: c.0.to_owned(),
                    replacement: format!("{} ", c.0),
                })
                .collect();
            return Ok((before.len() - typed.len(), pairs));
        };
        let index = args.iter().filter(|a| !a.starts_with('-')).count();
        let typed = paths::split_words(&before[start..])
            .ok()
            .and_then(|w| w.into_iter().next())
            .unwrap_or_default();
        match kind(cmd, index) {
            Kind::Remote => Ok((start, self.remote_names(&typed, false))),
            Kind::RemoteFolder => Ok((start, self.remote_names(&typed, true))),
            Kind::Local => self.files.complete(line, pos, ctx),
            Kind::Nothing => Ok((pos, Vec::new())),
        }
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

    #[test]
    fn words_and_kinds() {
        assert_eq!(word_start("get a"), 4);
        assert_eq!(word_start(r"get my\ fi"), 4);
        assert_eq!(word_start("get "), 4);
        assert_eq!(kind("cd", 0), Kind::RemoteFolder);
        assert_eq!(kind("get", 0), Kind::Remote);
        assert_eq!(kind("get", 1), Kind::Local);
        assert_eq!(kind("put", 0), Kind::Local);
        assert_eq!(kind("put", 1), Kind::Remote);
        assert_eq!(kind("pwd", 0), Kind::Nothing);
    }
}
