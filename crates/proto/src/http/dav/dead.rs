//! Dead properties (RFC 4918 §4), kept with the file itself.
//!
//! Where the file system has user extended attributes, one attribute
//! (`user.netkit.dav.<hash of the name>`) per property holds the property
//! element as XML with its namespace declared: they belong to the file, so
//! they survive a restart and a rename (MOVE) moves them; COPY copies them.
//!
//! Where it has none (`setxattr` fails with `ENOTSUP`: some FUSE and
//! network mounts, or [`crate::http::HttpConfig::dav_sidecar_only`]), the
//! properties go to the folder's sidecar file (`.netkit-props`, reserved by
//! the root: no client ever names it): a JSON map of entry name → property
//! → XML, replaced whole on each change. The root's own properties are under
//! the empty name of its own sidecar. A folder's sidecar moves and goes with
//! the folder; a file's entry is moved, copied and dropped by [`moved`],
//! [`copy`] and [`deleted`]. One sidecar holds at most [`MAX_SIDECAR`]
//! bytes (a change beyond is 507).
//!
//! The choice is made per operation: a write tries the attribute first;
//! a read looks at both.

use super::xml::{self, Element};
use crate::http::Shared;
use crate::root::RelPath;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::sync::Mutex;
use xattr::FileExt;

/// The prefix of our attributes.
const PREFIX: &str = "user.netkit.dav.";
/// Largest property value kept (most file systems allow one block per value).
pub(crate) const MAX_VALUE: usize = 4000;
/// Most dead properties read back from one file.
const MAX_PROPS: usize = 256;
/// Largest sidecar (one folder's properties), in bytes.
pub(crate) const MAX_SIDECAR: usize = 256 * 1024;

/// A sidecar: entry name → `{ns}name` → the property as XML.
type Sidecar = BTreeMap<String, BTreeMap<String, String>>;

/// Sidecars are read, changed and replaced whole: one change at a time in
/// this process, so two threads never lose each other's change.
static SIDECAR_WRITES: Mutex<()> = Mutex::new(());

/// The attribute name of `{ns}name`.
fn key(ns: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{{{ns}}}{name}").as_bytes());
    let mut key = String::from(PREFIX);
    for b in &digest[..16] {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

/// The sidecar key of `{ns}name`.
fn side_key(ns: &str, name: &str) -> String {
    format!("{{{ns}}}{name}")
}

/// The folder whose sidecar holds `rel`'s properties, and its entry there.
fn place(rel: &RelPath) -> (RelPath, String) {
    match (rel.parent(), rel.file_name()) {
        (Some(parent), Some(name)) => (parent, name.to_owned()),
        _ => (RelPath::root(), String::new()),
    }
}

fn unsupported(e: &io::Error) -> bool {
    e.raw_os_error() == Some(nix::libc::ENOTSUP)
}

fn read(shared: &Shared, dir: &RelPath) -> io::Result<Sidecar> {
    match shared.root.read_sidecar(dir, MAX_SIDECAR) {
        Ok(None) => Ok(Sidecar::new()),
        // A damaged sidecar reads as empty rather than blocking every change.
        Ok(Some(bytes)) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
        Err(e) => Err(io::Error::other(e)),
    }
}

fn write(shared: &Shared, dir: &RelPath, side: &Sidecar) -> io::Result<()> {
    let bytes = if side.is_empty() {
        None
    } else {
        let bytes = serde_json::to_vec(side).map_err(io::Error::other)?;
        if bytes.len() > MAX_SIDECAR {
            return Err(io::Error::from(io::ErrorKind::FileTooLarge));
        }
        Some(bytes)
    };
    shared
        .root
        .write_sidecar(dir, bytes.as_deref())
        .map_err(io::Error::other)
}

/// Changes one entry of a sidecar (read, change, replace, under the lock).
fn change(
    shared: &Shared,
    rel: &RelPath,
    f: impl FnOnce(&mut BTreeMap<String, String>),
) -> io::Result<()> {
    let _one = SIDECAR_WRITES.lock().unwrap_or_else(|p| p.into_inner());
    let (dir, name) = place(rel);
    let mut side = read(shared, &dir)?;
    let entry = side.entry(name.clone()).or_default();
    let before = entry.clone();
    f(entry);
    if *entry == before {
        return Ok(());
    }
    if entry.is_empty() {
        side.remove(&name);
    }
    write(shared, &dir, &side)
}

/// The dead properties of one request: reads each sidecar once.
pub(crate) struct Dead<'a> {
    shared: &'a Shared,
    sidecars: RefCell<HashMap<RelPath, Sidecar>>,
}

impl<'a> Dead<'a> {
    pub(crate) fn new(shared: &'a Shared) -> Self {
        Self {
            shared,
            sidecars: RefCell::new(HashMap::new()),
        }
    }

    fn xattrs(&self) -> bool {
        !self.shared.config.dav_sidecar_only
    }

    /// `rel`'s entry in its sidecar.
    fn side(&self, rel: &RelPath) -> BTreeMap<String, String> {
        let (dir, name) = place(rel);
        let mut memo = self.sidecars.borrow_mut();
        if !memo.contains_key(&dir) {
            let side = read(self.shared, &dir).unwrap_or_default();
            memo.insert(dir.clone(), side);
        }
        memo.get(&dir)
            .and_then(|s| s.get(&name))
            .cloned()
            .unwrap_or_default()
    }

    /// Every dead property of `rel` (`file` opened on it).
    pub(crate) fn list(&self, rel: &RelPath, file: &File) -> Vec<Element> {
        let mut out: Vec<Element> = Vec::new();
        if self.xattrs() {
            if let Ok(names) = file.list_xattr() {
                out.extend(
                    names
                        .filter(|n| n.to_str().is_some_and(|n| n.starts_with(PREFIX)))
                        .take(MAX_PROPS)
                        .filter_map(|n| file.get_xattr(&n).ok().flatten())
                        .filter_map(|v| xml::parse(&v).ok()),
                );
            }
        }
        for value in self.side(rel).values().take(MAX_PROPS) {
            if let Ok(p) = xml::parse(value.as_bytes()) {
                if !out.iter().any(|o| o.ns == p.ns && o.name == p.name) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// One dead property.
    pub(crate) fn get(&self, rel: &RelPath, file: &File, ns: &str, name: &str) -> Option<Element> {
        if self.xattrs() {
            if let Some(v) = file.get_xattr(key(ns, name)).ok().flatten() {
                return xml::parse(&v).ok();
            }
        }
        let value = self.side(rel).remove(&side_key(ns, name))?;
        xml::parse(value.as_bytes()).ok()
    }

    /// Sets a property to the element (its name is the property's).
    pub(crate) fn set(&self, rel: &RelPath, file: &File, prop: &Element) -> io::Result<()> {
        let mut value = String::new();
        prop.write(&mut value);
        if value.len() > MAX_VALUE {
            return Err(io::Error::from(io::ErrorKind::FileTooLarge));
        }
        if self.xattrs() {
            match file.set_xattr(key(&prop.ns, &prop.name), value.as_bytes()) {
                Err(e) if unsupported(&e) => {}
                done => return done,
            }
        }
        self.sidecars.borrow_mut().clear();
        let k = side_key(&prop.ns, &prop.name);
        change(self.shared, rel, |entry| {
            entry.insert(k, value);
        })
    }

    /// Removes a property; removing one that is not there is no error.
    pub(crate) fn remove(
        &self,
        rel: &RelPath,
        file: &File,
        ns: &str,
        name: &str,
    ) -> io::Result<()> {
        if self.xattrs() {
            match file.remove_xattr(key(ns, name)) {
                Err(e) if e.raw_os_error() == Some(nix::libc::ENODATA) || unsupported(&e) => {}
                other => other?,
            }
        }
        self.sidecars.borrow_mut().clear();
        let k = side_key(ns, name);
        change(self.shared, rel, |entry| {
            entry.remove(&k);
        })
    }
}

/// Copies every dead property of `from` onto `to` (COPY): what `to` kept
/// in a sidecar is replaced.
pub(crate) fn copy(shared: &Shared, from: (&RelPath, &File), to: (&RelPath, &File)) {
    let dead = Dead::new(shared);
    let _ = change(shared, to.0, BTreeMap::clear);
    for prop in dead.list(from.0, from.1) {
        let _ = dead.set(to.0, to.1, &prop);
    }
}

/// After a MOVE of `from` to `to`: its sidecar entry goes along (the
/// attributes and a folder's own sidecar moved with the rename).
pub(crate) fn moved(shared: &Shared, from: &RelPath, to: &RelPath) {
    let mut taken = BTreeMap::new();
    let _ = change(shared, from, |entry| taken = std::mem::take(entry));
    let _ = change(shared, to, |entry| *entry = taken);
}

/// After a DELETE of `rel`: its sidecar entry goes.
pub(crate) fn deleted(shared: &Shared, rel: &RelPath) {
    let _ = change(shared, rel, BTreeMap::clear);
}
