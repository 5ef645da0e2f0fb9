//! Names as the shell reads them: remote paths resolved against the remote
//! working folder (`/` is the root, `..` never climbs above it), local paths
//! with `~`, words split and escaped as a POSIX shell does, and where the
//! history file lives.

use std::path::PathBuf;

/// `arg` resolved against the remote folder `cwd` (both without a leading
/// `/`; `""` is the root): `/x` starts at the root, `.` and `..` are applied
/// (never above the root), doubled slashes are one.
pub(super) fn resolve(cwd: &str, arg: &str) -> String {
    let mut parts: Vec<&str> = if arg.starts_with('/') {
        Vec::new()
    } else {
        cwd.split('/').filter(|p| !p.is_empty()).collect()
    };
    for part in arg.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// A remote path as the user sees it: `/sub/x`, `/` for the root.
pub(super) fn shown(path: &str) -> String {
    format!("/{path}")
}

/// `dir/name` (just `name` in the root).
pub(super) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// The folder part and the last component of a remote path.
pub(super) fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some((dir, base)) => (dir, base),
        None => ("", path),
    }
}

/// The folder part of a word as typed (everything up to and including the
/// last `/`) and the rest: `sub/x` → (`sub/`, `x`).
pub(super) fn typed_split(word: &str) -> (&str, &str) {
    match word.rfind('/') {
        Some(i) => word.split_at(i + 1),
        None => ("", word),
    }
}

/// Whether a word is a glob pattern (`*`, `?` or `[`).
pub(super) fn is_glob(word: &str) -> bool {
    word.contains(['*', '?', '['])
}

/// A local path with a leading `~` (or `~/`) made the home folder.
pub(super) fn local(arg: &str) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match (arg.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home,
        (Some(rest), Some(home)) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(arg),
    }
}

/// Splits a command line into words as a POSIX shell does (shell-words):
/// whitespace separates, `'…'` and `"…"` quote, `\` escapes, `#` starts a
/// comment.
pub(super) fn split_words(line: &str) -> Result<Vec<String>, shell_words::ParseError> {
    shell_words::split(line)
}

/// A name as one word for [`split_words`]: each character a shell would read
/// otherwise is escaped with `\` (tab completion shows `my\ file`).
pub(super) fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_whitespace() || matches!(c, '\\' | '\'' | '"' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Where the shell's history is kept between sessions:
/// `$XDG_STATE_HOME/netkit/files_history`, else
/// `~/.local/state/netkit/files_history` (the XDG base directory rule: a
/// relative `XDG_STATE_HOME` is ignored). `None` without a home.
pub(super) fn history_file() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(state.join("netkit").join("files_history"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_paths_resolve_inside_the_root() {
        assert_eq!(resolve("", "a"), "a");
        assert_eq!(resolve("sub", "a/b"), "sub/a/b");
        assert_eq!(resolve("sub/deep", ".."), "sub");
        assert_eq!(resolve("sub", "../../.."), "");
        assert_eq!(resolve("sub", "/x//y/"), "x/y");
        assert_eq!(resolve("sub", "./z"), "sub/z");
        assert_eq!(resolve("sub", "/"), "");
        assert_eq!(shown(""), "/");
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("s", "a"), "s/a");
        assert_eq!(split("s/t/a"), ("s/t", "a"));
        assert_eq!(split("a"), ("", "a"));
        assert_eq!(typed_split("sub/x"), ("sub/", "x"));
        assert_eq!(typed_split("x"), ("", "x"));
        assert!(is_glob("*.log") && is_glob("a?") && !is_glob("plain.txt"));
    }

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
}
