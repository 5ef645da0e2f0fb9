//! What packaging relies on, checked on the built binary (the full install, the
//! shells, `man` and the Debian package are checked by scripts/test-install.sh):
//! `--version` names a commit, `completions` prints a script for each shell
//! that names every command, `man DIR` writes one page per visible command.

use crate::common;

use clap::CommandFactory;
use common::run_netkit;

#[test]
fn version_names_the_version_and_a_commit() {
    let out = run_netkit(&["--version"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let version = out.stdout.trim();
    let expected = format!("netkit {} (", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&expected), "{version}");
    let commit = version[expected.len()..].trim_end_matches(')');
    let hash = commit.trim_end_matches("-dirty");
    let is_hash = hash.len() >= 7 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(is_hash || commit == "unknown", "{version}");
}

#[test]
fn completions_name_every_command_in_each_shell() {
    let commands: Vec<String> = netkit::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for (shell, marker) in [
        ("bash", "_netkit()"),
        ("zsh", "#compdef netkit"),
        ("fish", "complete -c netkit"),
    ] {
        let out = run_netkit(&["completions", shell]);
        assert_eq!(out.code, Some(0), "{shell}: {}", out.stderr);
        assert!(out.stdout.contains(marker), "{shell}: no {marker}");
        for command in &commands {
            assert!(
                out.stdout.contains(command.as_str()),
                "{shell}: {command} missing"
            );
        }
    }
    let out = run_netkit(&["completions", "tcsh"]);
    assert_eq!(out.code, Some(2), "an unknown shell is a usage error");
}

#[test]
fn man_writes_one_page_per_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("man1");
    let out = run_netkit(&["man", common::utf8(&target)]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    fn pages(cmd: &clap::Command, name: &str, out: &mut Vec<String>) {
        out.push(format!("{name}.1"));
        // Hidden commands (internal benchmarks' helpers) get no page.
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            pages(sub, &format!("{name}-{}", sub.get_name()), out);
        }
    }
    let mut expected = Vec::new();
    pages(&netkit::cli::Cli::command(), "netkit", &mut expected);
    let mut written: Vec<String> = std::fs::read_dir(&target)
        .expect("the pages' folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    expected.sort();
    written.sort();
    assert_eq!(written, expected);
    let page = std::fs::read_to_string(target.join("netkit-http-serve.1")).expect("page");
    assert!(page.contains(".TH netkit-http-serve 1"), "{page}");
    assert!(page.contains("upload"), "the page lists the flags");
}
