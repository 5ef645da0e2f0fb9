//! `netkit files shell ADDR`: an interactive prompt over one connection, as
//! sftp users expect (`ls`, `cd`, `get -r`, `mget *.log`, `lcd`, `!cmd`, …).
//!
//! ```text
//!   rustyline (editing, history file) ──▶ commands.rs (one line: dispatch)
//!          ▲ Tab                               │ get/put/mget/mput: transfer.rs
//!   completion.rs ── remote.rs (the one connection, shared) ◀─┘
//!                    paths.rs (remote paths against the working folder)
//! ```
//!
//! Words may be quoted (`'a b'`, `"a b"`) or escaped (`a\ b`). Every ERR
//! code gets a sentence saying what happened; a broken connection is
//! re-opened on the next command. At a terminal, history is appended after
//! each line to `$XDG_STATE_HOME/netkit/files_history` (or
//! `~/.local/state/…`); lines piped in are not kept.

mod commands;
mod completion;
mod paths;
mod remote;
mod transfer;

use super::link::Target;
use crate::tls::client::TlsClientArgs;
use anyhow::Result;
use clap::Args;
use commands::{Flow, Shell};
use completion::ShellHelper;
use remote::Remote;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::Editor;
use std::cell::RefCell;
use std::io::IsTerminal;
use std::rc::Rc;

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

pub(crate) fn run(args: ShellArgs) -> Result<()> {
    let target = Target::new(&args.addr, &args.tls)?;
    let addr = target.addr;
    let remote = Rc::new(RefCell::new(Remote::new(target, args.login.credentials()?)));
    // Fail now, not at the first command, when the server is not there.
    remote.borrow_mut().call(|_| Ok(()))?;
    let cwd = Rc::new(RefCell::new(String::new()));
    let mut editor: Editor<ShellHelper, FileHistory> = Editor::new()?;
    editor.set_helper(Some(ShellHelper::new(remote.clone(), cwd.clone())));
    // Lines piped in (a script) are no history, as with sftp -b.
    let history = paths::history_file().filter(|_| std::io::stdin().is_terminal());
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // A missing file is a first session.
        let _ = editor.load_history(path);
    }
    println!("connected to {addr}; type help for commands");
    let mut shell = Shell::new(remote.clone(), cwd.clone());
    loop {
        let prompt = format!("files:{}> ", paths::shown(&cwd.borrow()));
        let line = match editor.readline(&prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
            if let Some(path) = &history {
                // Appended at once, so a killed shell loses nothing.
                if let Err(e) = editor.append_history(path) {
                    eprintln!("netkit: cannot save history to {}: {e}", path.display());
                }
            }
        }
        if shell.line(&line) == Flow::Quit {
            break;
        }
    }
    remote.borrow_mut().quit();
    Ok(())
}
