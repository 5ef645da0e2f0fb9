//! The fixture the safe root's tests share (`tests/root.rs`,
//! `tests/root_manage.rs`): a served folder beside an `outside` one no test
//! may ever reach through the root, and a macro that runs a test under both
//! resolvers.
#![allow(dead_code, unused_imports)] // each test binary uses part of it

pub use netkit_proto::root::{EntryKind, PathError, RelPath, Resolver, Root, RootError};
pub use std::fs;
pub use std::io::{Read, Write};
pub use std::os::unix::fs::symlink;
pub use std::path::PathBuf;
use tempfile::TempDir;

pub struct Fixture {
    pub _base: TempDir,
    pub served: PathBuf,
    pub outside: PathBuf,
    pub root: Root,
}

pub fn fixture(resolver: Resolver) -> Option<Fixture> {
    let base = tempfile::tempdir().expect("tempdir");
    let served = base.path().join("served");
    let outside = base.path().join("outside");
    fs::create_dir_all(served.join("d1/d2")).expect("mkdir");
    fs::create_dir(&outside).expect("mkdir");
    fs::write(served.join("a.txt"), "hello").expect("write");
    fs::write(served.join("d1/d2/f.txt"), "nested").expect("write");
    fs::write(outside.join("secret.txt"), "SECRET").expect("write");
    match Root::open_with(&served, resolver) {
        Ok(root) => Some(Fixture {
            _base: base,
            served,
            outside,
            root,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
            eprintln!("skipped: {e}");
            None
        }
        Err(e) => panic!("opening the root: {e}"),
    }
}

/// Generates `mod name { fn openat2(); fn walk(); }` from one body, like
/// ripgrep's `rgtest!` runs each test under both regex engines.
#[macro_export]
macro_rules! both_resolvers {
    ($(fn $name:ident($fx:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::root_fixture::*;

            fn run($fx: Fixture) $body

            #[test]
            fn openat2() {
                if let Some(fx) = fixture(Resolver::Openat2) {
                    assert_eq!(fx.root.resolver(), Resolver::Openat2);
                    run(fx);
                }
            }

            #[test]
            fn walk() {
                let fx = fixture(Resolver::Walk).expect("the walk works everywhere");
                assert_eq!(fx.root.resolver(), Resolver::Walk);
                run(fx);
            }
        }
    )*};
}

pub fn rel(name: &str) -> RelPath {
    RelPath::parse(name).expect("valid name")
}

pub fn read(root: &Root, name: &str) -> Result<String, RootError> {
    let (mut file, meta) = root.open_file(&rel(name))?;
    let mut text = String::new();
    file.read_to_string(&mut text).expect("read");
    assert_eq!(
        meta.len(),
        text.len() as u64,
        "metadata belongs to the file read"
    );
    Ok(text)
}

pub fn assert_forbidden<T: std::fmt::Debug>(result: Result<T, RootError>, what: &str) {
    assert!(
        matches!(result, Err(RootError::Forbidden(_))),
        "{what}: expected Forbidden, got {result:?}"
    );
}

/// Names in a directory, sorted, straight from std (not through the root).
pub fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
