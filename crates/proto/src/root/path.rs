//! Validating a client-supplied name: the pure half of the safe root.
//!
//! Every protocol receives file names from the network (an HTTP path, a files
//! protocol `GET name`, a TFTP read request). Before anything touches the file
//! system, [`RelPath::parse`] turns that text into a list of plain components or
//! refuses it, in the spirit of darkhttpd's `make_safe_url`. It is a pure
//! function: no file system, so it is tested by a table and a property test.
//!
//! The rules, and why each exists:
//!
//! | input                         | result          | why                                   |
//! |-------------------------------|-----------------|---------------------------------------|
//! | `/etc/passwd`                 | `Absolute`      | would name a file outside the root    |
//! | `a/../../x`, `..`             | `ParentDir`     | climbs out; we never try to balance it|
//! | `a\b`                         | `Backslash`     | a separator on other systems          |
//! | NUL, `\n`, DEL, C1 controls   | `ControlCharacter` | NUL truncates C strings; controls forge logs and listings |
//! | component > 255 bytes         | `ComponentTooLong` | `NAME_MAX`: the kernel would refuse it anyway |
//! | input > 4096 bytes            | `TooLong`       | `PATH_MAX`; also bounds the work done |
//! | `.netkit-upload-…`            | `Reserved`      | in-progress uploads are not for clients |
//! | `.netkit-props`               | `Reserved`      | WebDAV's dead properties, kept by the root |
//! | `a//b`, `a/./b`, `a/`         | `a/b`, `a/b`, `a` | empty and `.` components change nothing |
//! | `""`, `.`                     | the root itself | so a listing of the root has a name   |
//!
//! A name with a component starting with `.` (`.env`, `a/.git/config`) is
//! well formed: whether it is served is the [`crate::root::Root`]'s policy
//! ([`RelPath::is_hidden`]).
//!
//! Decoding (percent-encoding, a leading `/` of an HTTP path) is the caller's job;
//! whatever `..` survives decoding is refused here. A trailing `/` is dropped: a
//! caller that gives it meaning (HTTP redirects a directory to `dir/`) looks at its
//! own input.
//!
//! Passing this check only makes a name well formed. Symlinks can still point
//! anywhere, which is why opening is done by [`crate::root::Root`] with
//! `RESOLVE_BENEATH`, never by joining this path onto a directory name.

use std::fmt;
use std::str::FromStr;

/// Longest accepted component, in bytes (Linux `NAME_MAX`).
pub const MAX_COMPONENT: usize = 255;
/// Longest accepted name, in bytes, before normalisation (Linux `PATH_MAX`).
pub const MAX_PATH: usize = 4096;

/// Temporary upload files start with this; clients may not name them.
pub(crate) const TEMP_PREFIX: &str = ".netkit-upload-";
/// The per-folder file of WebDAV dead properties (see `sidecar.rs`); clients
/// may not name it.
pub(crate) const SIDECAR: &str = ".netkit-props";
/// Temporary upload files end with this.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";

/// Why a client-supplied name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The name starts with `/`.
    #[error("absolute paths are not allowed")]
    Absolute,
    /// A component is `..`.
    #[error("`..` is not allowed in a path")]
    ParentDir,
    /// The name contains `\`.
    #[error("backslashes are not allowed in a path")]
    Backslash,
    /// The name contains NUL or another control character.
    #[error("control characters are not allowed in a path")]
    ControlCharacter,
    /// A component is longer than [`MAX_COMPONENT`] bytes.
    #[error("a path component is longer than {MAX_COMPONENT} bytes")]
    ComponentTooLong,
    /// The name is longer than [`MAX_PATH`] bytes.
    #[error("the path is longer than {MAX_PATH} bytes")]
    TooLong,
    /// A component names a temporary upload file or the properties sidecar.
    #[error("names starting with `{TEMP_PREFIX}` and `{SIDECAR}` are reserved")]
    Reserved,
}

/// A validated path relative to a served directory: zero or more components, none
/// of them empty, `.`, `..`, or containing `/`, `\`, NUL or control characters.
///
/// The empty path is the root itself. Displays as `a/b/c` (the root as ``).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelPath {
    components: Vec<String>,
}

impl RelPath {
    /// The root directory itself.
    pub fn root() -> Self {
        Self::default()
    }

    /// Validates a client-supplied name and normalises it (see the module doc for
    /// the rules).
    pub fn parse(name: &str) -> Result<Self, PathError> {
        // Length first: it bounds the work of every later check.
        if name.len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(PathError::ControlCharacter);
        }
        if name.contains('\\') {
            return Err(PathError::Backslash);
        }
        if name.starts_with('/') {
            return Err(PathError::Absolute);
        }
        let mut components = Vec::new();
        for part in name.split('/') {
            check_component(part)?;
            if !part.is_empty() && part != "." {
                components.push(part.to_owned());
            }
        }
        Ok(Self { components })
    }

    /// The components, outermost first.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// Whether this is the root directory itself.
    pub fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    /// The last component, or `None` for the root.
    pub fn file_name(&self) -> Option<&str> {
        self.components.last().map(String::as_str)
    }

    /// The directory containing this path, or `None` for the root.
    pub fn parent(&self) -> Option<RelPath> {
        let (_, init) = self.components.split_last()?;
        Some(Self {
            components: init.to_vec(),
        })
    }

    /// This path followed by `rest`, which is validated like any client name
    /// (so `rest` may itself be `b/c`, but never `..` or absolute).
    pub fn join(&self, rest: &str) -> Result<RelPath, PathError> {
        let tail = Self::parse(rest)?;
        let mut components = self.components.clone();
        components.extend(tail.components);
        let joined = Self { components };
        if joined.to_string().len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        Ok(joined)
    }

    /// Whether some component starts with `.`: a hidden name, which a
    /// [`crate::root::Root`] serves only when told to (`--hidden`).
    pub fn is_hidden(&self) -> bool {
        self.components.iter().any(|c| c.starts_with('.'))
    }

    /// The path to hand to `openat`: `a/b`, or `.` for the root.
    pub(crate) fn to_os_path(&self) -> String {
        if self.is_root() {
            ".".to_owned()
        } else {
            self.to_string()
        }
    }
}

/// One component: `..` and reserved names are refused, lengths are bounded.
fn check_component(part: &str) -> Result<(), PathError> {
    if part == ".." {
        return Err(PathError::ParentDir);
    }
    if part.len() > MAX_COMPONENT {
        return Err(PathError::ComponentTooLong);
    }
    if part.starts_with(TEMP_PREFIX) || part == SIDECAR {
        return Err(PathError::Reserved);
    }
    Ok(())
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.components.join("/"))
    }
}

impl FromStr for RelPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, PathError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests;
