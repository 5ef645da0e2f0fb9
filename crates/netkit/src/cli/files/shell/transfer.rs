//! The transfers: `get`, `put`, `mget`, `mput`, each file with its progress
//! bar and its line, `-r` walking folders, `-a` resuming a download (the
//! local part checked with SUM first, as sftp's reget), and a summary per
//! batch (files, bytes, rate).

use super::commands::Shell;
use super::paths::{self, shown};
use crate::cli::files::{get, put};
use crate::cli::transfer_summary;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How deep `-r` goes: a loop of symlinks must end somewhere.
const MAX_DEPTH: usize = 32;

/// The flags a transfer command takes.
#[derive(Default)]
struct Flags {
    resume: bool,
    recursive: bool,
}

/// Leading `-a`, `-r` (or `-ar`) words, then the rest.
fn flags<'a>(args: &'a [String], allowed: &str) -> Result<(Flags, Vec<&'a str>)> {
    let mut f = Flags::default();
    let mut rest = Vec::new();
    for arg in args {
        match arg.strip_prefix('-') {
            Some(letters) if rest.is_empty() && !letters.is_empty() => {
                for c in letters.chars() {
                    match c {
                        'a' if allowed.contains('a') => f.resume = true,
                        'r' if allowed.contains('r') => f.recursive = true,
                        other => bail!("unknown flag -{other}"),
                    }
                }
            }
            _ => rest.push(arg.as_str()),
        }
    }
    Ok((f, rest))
}

/// Files and bytes moved by one command.
struct Batch {
    files: u64,
    bytes: u64,
    started: Instant,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            files: 0,
            bytes: 0,
            started: Instant::now(),
        }
    }

    fn add(&mut self, bytes: u64) {
        self.files += 1;
        self.bytes += bytes;
    }

    fn report(&self) {
        let what = format!("{} file(s)", self.files);
        println!(
            "{}",
            transfer_summary::line(&what, self.bytes, self.started.elapsed(), None)
        );
    }
}

impl Shell {
    pub(super) fn get(&self, args: &[String]) -> Result<()> {
        let (f, rest) = flags(args, "ar")?;
        let (name, local) = match rest[..] {
            [name] => (name, None),
            [name, local] => (name, Some(paths::local(local))),
            _ => bail!("usage: get [-a] [-r] NAME [LOCAL]"),
        };
        let remote = self.path(name);
        let base = PathBuf::from(paths::split(&remote).1);
        let mut batch = Batch::new();
        if f.recursive {
            let local = local.unwrap_or(base);
            self.get_tree(&remote, &local, f.resume, &mut batch, 0)?;
            batch.report();
        } else {
            let local = match local {
                Some(dir) if dir.is_dir() => dir.join(base),
                Some(local) => local,
                None => base,
            };
            self.get_one(&remote, &local, f.resume, &mut batch)?;
        }
        Ok(())
    }

    pub(super) fn mget(&self, args: &[String]) -> Result<()> {
        let (f, patterns) = flags(args, "ar")?;
        if patterns.is_empty() {
            bail!("usage: mget [-a] [-r] GLOB…");
        }
        let mut batch = Batch::new();
        for pattern in patterns {
            for entry in self.expand(pattern)? {
                let path = entry.name.trim_end_matches('/');
                let local = PathBuf::from(paths::split(path).1);
                if !entry.is_dir() {
                    self.get_one(path, &local, f.resume, &mut batch)?;
                } else if f.recursive {
                    self.get_tree(path, &local, f.resume, &mut batch, 0)?;
                } else {
                    println!("skipped folder {} (use mget -r)", shown(path));
                }
            }
        }
        batch.report();
        Ok(())
    }

    pub(super) fn put(&self, args: &[String]) -> Result<()> {
        let (f, rest) = flags(args, "r")?;
        let (local, name) = match rest[..] {
            [local] => (paths::local(local), None),
            [local, name] => (paths::local(local), Some(name)),
            _ => bail!("usage: put [-r] LOCAL [NAME]"),
        };
        let base = put::default_name(&local)?;
        let mut remote = match name {
            Some(name) => self.path(name),
            None => self.path(&base),
        };
        if name.is_some() && self.is_remote_dir(&remote) && !f.recursive {
            remote = paths::join(&remote, &base);
        }
        let mut batch = Batch::new();
        if f.recursive {
            self.put_tree(&local, &remote, &mut batch, 0)?;
            batch.report();
        } else {
            self.put_one(&local, &remote, &mut batch)?;
        }
        Ok(())
    }

    pub(super) fn mput(&self, args: &[String]) -> Result<()> {
        let (f, patterns) = flags(args, "r")?;
        if patterns.is_empty() {
            bail!("usage: mput [-r] GLOB…");
        }
        let mut batch = Batch::new();
        for pattern in patterns {
            let pattern = paths::local(pattern);
            let pattern = pattern.to_string_lossy();
            let mut matched = 0;
            for local in glob::glob(&pattern).with_context(|| format!("bad pattern {pattern}"))? {
                let local = local.context("reading a local folder")?;
                matched += 1;
                let remote = self.path(&put::default_name(&local)?);
                if local.is_dir() {
                    if f.recursive {
                        self.put_tree(&local, &remote, &mut batch, 0)?;
                    } else {
                        println!("skipped folder {} (use mput -r)", local.display());
                    }
                } else {
                    self.put_one(&local, &remote, &mut batch)?;
                }
            }
            if matched == 0 {
                bail!("{pattern}: no match");
            }
        }
        batch.report();
        Ok(())
    }

    fn get_one(&self, remote: &str, local: &Path, resume: bool, batch: &mut Batch) -> Result<()> {
        let done = self
            .remote
            .borrow_mut()
            .call(|c| get::download(c, remote, local, resume, true))?;
        println!("{}", get::summary(&done));
        batch.add(done.bytes);
        Ok(())
    }

    /// A remote folder into the local folder `local` (made if missing).
    fn get_tree(
        &self,
        remote: &str,
        local: &Path,
        resume: bool,
        batch: &mut Batch,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            bail!("{}: folders nested deeper than {MAX_DEPTH}", shown(remote));
        }
        let entries = self.list(remote)?;
        std::fs::create_dir_all(local).with_context(|| format!("mkdir {}", local.display()))?;
        for e in entries {
            let name = e.name.trim_end_matches('/');
            let (from, to) = (paths::join(remote, name), local.join(name));
            if e.is_dir() {
                self.get_tree(&from, &to, resume, batch, depth + 1)?;
            } else {
                self.get_one(&from, &to, resume, batch)?;
            }
        }
        Ok(())
    }

    fn put_one(&self, local: &Path, remote: &str, batch: &mut Batch) -> Result<()> {
        let done = self
            .remote
            .borrow_mut()
            .call(|c| put::upload(c, local, remote))?;
        println!("{} → {}", local.display(), put::summary(&done));
        batch.add(done.bytes);
        Ok(())
    }

    /// A local folder as the remote folder `remote` (made unless it exists).
    fn put_tree(&self, local: &Path, remote: &str, batch: &mut Batch, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            bail!(
                "{}: folders nested deeper than {MAX_DEPTH}",
                local.display()
            );
        }
        if !local.is_dir() {
            return self.put_one(local, remote, batch);
        }
        if !self.is_remote_dir(remote) {
            self.remote.borrow_mut().call(|c| c.mkdir(remote))?;
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(local)
            .with_context(|| format!("reading {}", local.display()))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading {}", local.display()))?;
        entries.sort();
        for path in entries {
            let name = put::default_name(&path)?;
            self.put_tree(&path, &paths::join(remote, &name), batch, depth + 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_come_first() {
        let args: Vec<String> = ["-ar", "x", "-y"].map(String::from).to_vec();
        let (f, rest) = flags(&args, "ar").unwrap();
        assert!(f.resume && f.recursive);
        assert_eq!(rest, ["x", "-y"]);
        assert!(flags(&args, "r").is_err());
    }
}
