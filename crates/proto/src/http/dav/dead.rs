//! Dead properties (RFC 4918 §4): kept with the file itself, one extended
//! attribute (`user.netkit.dav.<hash of the name>`) per property holding the
//! property element as XML with its namespace declared. The attributes
//! belong to the file, so they survive a restart and a rename (MOVE) moves
//! them; COPY copies them ([`copy`]). A file system without user extended
//! attributes answers PROPPATCH with 403 for each property (no sidecar
//! files are written).

use super::xml::{self, Element};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io;
use xattr::FileExt;

/// The prefix of our attributes.
const PREFIX: &str = "user.netkit.dav.";
/// Largest property value kept (most file systems allow one block per value).
pub(crate) const MAX_VALUE: usize = 4000;
/// Most dead properties read back from one file.
const MAX_PROPS: usize = 256;

/// The attribute name of `{ns}name`.
fn key(ns: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{{{ns}}}{name}").as_bytes());
    let mut key = String::from(PREFIX);
    for b in &digest[..16] {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

/// Every dead property of the file.
pub(crate) fn list(file: &File) -> Vec<Element> {
    let Ok(names) = file.list_xattr() else {
        return Vec::new();
    };
    names
        .filter(|n| n.to_str().is_some_and(|n| n.starts_with(PREFIX)))
        .take(MAX_PROPS)
        .filter_map(|n| file.get_xattr(&n).ok().flatten())
        .filter_map(|v| xml::parse(&v).ok())
        .collect()
}

/// One dead property.
pub(crate) fn get(file: &File, ns: &str, name: &str) -> Option<Element> {
    let value = file.get_xattr(key(ns, name)).ok().flatten()?;
    xml::parse(&value).ok()
}

/// Sets a property to the element (its name is the property's).
pub(crate) fn set(file: &File, prop: &Element) -> io::Result<()> {
    let mut value = String::new();
    prop.write(&mut value);
    if value.len() > MAX_VALUE {
        return Err(io::Error::from(io::ErrorKind::FileTooLarge));
    }
    file.set_xattr(key(&prop.ns, &prop.name), value.as_bytes())
}

/// Removes a property; removing one that is not there is no error.
pub(crate) fn remove(file: &File, ns: &str, name: &str) -> io::Result<()> {
    match file.remove_xattr(key(ns, name)) {
        Err(e) if e.raw_os_error() == Some(nix::libc::ENODATA) => Ok(()),
        other => other,
    }
}

/// Copies every dead property of `from` onto `to` (COPY).
pub(crate) fn copy(from: &File, to: &File) {
    for prop in list(from) {
        let _ = set(to, &prop);
    }
}
