//! Build script: stamps the git commit the binary is built from into
//! `NETKIT_COMMIT`, which `netkit --version` prints beside the version.
//!
//! In order: the `NETKIT_COMMIT` environment variable when set (a container
//! or package build from a copy without `.git`, or a build that must name the
//! commit it was handed); else `git rev-parse --short HEAD` (with `-dirty` when
//! tracked files differ from HEAD) when a `.git` is reachable; else `unknown`.
//! Nothing here can fail the build: `cargo install` from a copy without `.git`
//! or without git at all just says `unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=NETKIT_COMMIT");
    // An edit may change the dirty flag: watch the sources the binary is built
    // from (a missing path would make cargo rerun this on every build).
    for sources in ["src", "../proto/src", "../drivers/src"] {
        if Path::new(sources).exists() {
            println!("cargo:rerun-if-changed={sources}");
        }
    }
    let from_env = std::env::var("NETKIT_COMMIT")
        .ok()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let commit = from_env
        .or_else(from_git)
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=NETKIT_COMMIT={commit}");
}

/// `git` in the crate's folder, its trimmed stdout if it succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The short commit, `-dirty` when tracked files differ; `None` without a repository.
fn from_git() -> Option<String> {
    let head = git(&["rev-parse", "--short", "HEAD"]).filter(|h| !h.is_empty())?;
    watch_head();
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// Asks cargo to run this script again when HEAD moves: a checkout changes
/// `HEAD`, a commit changes the branch's ref (loose or packed). In a worktree
/// HEAD lives in its own git dir, refs in the common one. Not the index: `git
/// status` rewrites it, and each rewrite would rebuild the crate for nothing.
fn watch_head() {
    let path = |args: &[&str]| git(args).map(PathBuf::from);
    let (Some(git_dir), Some(common)) = (
        path(&["rev-parse", "--absolute-git-dir"]),
        path(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
    ) else {
        return;
    };
    let mut watched: Vec<PathBuf> = vec![git_dir.join("HEAD"), common.join("packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common.join(branch));
    }
    for file in watched.iter().filter(|f| Path::new(f).exists()) {
        println!("cargo:rerun-if-changed={}", file.display());
    }
}
