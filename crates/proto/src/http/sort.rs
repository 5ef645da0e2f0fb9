//! The order of a listing or of search results: `?sort=name|size|mtime` and
//! `&order=asc|desc`. Folders always come first; names compare
//! case-insensitively (then byte for byte, so the order is total). Sizes of
//! folders mean nothing, so by size folders keep their name order. An
//! unknown value is the default: by name, ascending.

use super::query::param;
use crate::root::{Entry, EntryKind};
use std::cmp::Ordering;

/// What to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Name,
    Size,
    Mtime,
}

impl Key {
    const ALL: [Key; 3] = [Key::Name, Key::Size, Key::Mtime];

    fn as_str(self) -> &'static str {
        match self {
            Key::Name => "name",
            Key::Size => "size",
            Key::Mtime => "mtime",
        }
    }
}

/// A requested order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Order {
    pub(crate) key: Key,
    pub(crate) desc: bool,
}

impl Order {
    /// The order a query asks for.
    pub(crate) fn from_query(query: &str) -> Order {
        let key = match param(query, "sort").as_deref() {
            Some("size") => Key::Size,
            Some("mtime") => Key::Mtime,
            _ => Key::Name,
        };
        let desc = param(query, "order").as_deref() == Some("desc");
        Order { key, desc }
    }

    /// Sorts items, each seen as (its name or path, its entry).
    pub(crate) fn sort<T>(self, items: &mut [T], view: impl Fn(&T) -> (&str, &Entry)) {
        items.sort_by(|a, b| self.compare(view(a), view(b)));
    }

    fn compare(self, (an, a): (&str, &Entry), (bn, b): (&str, &Entry)) -> Ordering {
        let (a_dir, b_dir) = (a.kind == EntryKind::Dir, b.kind == EntryKind::Dir);
        if a_dir != b_dir {
            return b_dir.cmp(&a_dir); // folders first, whatever the order
        }
        let by_name = || {
            let folded = an.chars().flat_map(char::to_lowercase);
            folded
                .cmp(bn.chars().flat_map(char::to_lowercase))
                .then_with(|| an.cmp(bn))
        };
        let ordering = match self.key {
            Key::Size if !a_dir => a.size.cmp(&b.size).then_with(by_name),
            Key::Mtime => a.modified.cmp(&b.modified).then_with(by_name),
            _ => by_name(),
        };
        if self.desc {
            ordering.reverse()
        } else {
            ordering
        }
    }

    /// The column headers' links (name, size, modified), each keeping `keep`
    /// (e.g. `q=x&`, already encoded for a URL) and sorting by its column:
    /// the column sorted by now flips its direction. With the arrow the
    /// current column shows.
    pub(crate) fn header_links(self, keep: &str) -> [(String, &'static str); 3] {
        Key::ALL.map(|key| {
            let desc = key == self.key && !self.desc;
            let order = if desc { "desc" } else { "asc" };
            let arrow = match (key == self.key, self.desc) {
                (false, _) => "",
                (true, false) => " ▲",
                (true, true) => " ▼",
            };
            (format!("?{keep}sort={}&order={order}", key.as_str()), arrow)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn entry(name: &str, kind: EntryKind, size: u64, secs: u64) -> Entry {
        Entry {
            name: name.into(),
            kind,
            symlink: false,
            size,
            modified: Some(UNIX_EPOCH + Duration::from_secs(secs)),
        }
    }

    fn sorted(query: &str) -> Vec<String> {
        let mut entries = vec![
            entry("b.txt", EntryKind::File, 30, 1),
            entry("Zeta", EntryKind::Dir, 4096, 5),
            entry("A.txt", EntryKind::File, 10, 3),
            entry("alpha", EntryKind::Dir, 4096, 2),
            entry("c.txt", EntryKind::File, 20, 2),
        ];
        Order::from_query(query).sort(&mut entries, |e| (e.name.as_str(), e));
        entries.into_iter().map(|e| e.name).collect()
    }

    #[test]
    fn folders_first_then_the_key() {
        assert_eq!(sorted(""), ["alpha", "Zeta", "A.txt", "b.txt", "c.txt"]);
        assert_eq!(
            sorted("?order=desc"),
            ["Zeta", "alpha", "c.txt", "b.txt", "A.txt"]
        );
        assert_eq!(
            sorted("?sort=size"),
            ["alpha", "Zeta", "A.txt", "c.txt", "b.txt"]
        );
        assert_eq!(
            sorted("?sort=size&order=desc"),
            ["Zeta", "alpha", "b.txt", "c.txt", "A.txt"]
        );
        assert_eq!(
            sorted("?sort=mtime"),
            ["alpha", "Zeta", "b.txt", "c.txt", "A.txt"]
        );
        assert_eq!(sorted("?sort=bogus&order=up"), sorted(""));
    }

    #[test]
    fn header_links_flip_the_current_column() {
        let links = Order::from_query("?sort=size").header_links("q=x&");
        assert_eq!(links[0], ("?q=x&sort=name&order=asc".into(), ""));
        assert_eq!(links[1], ("?q=x&sort=size&order=desc".into(), " ▲"));
        let links = Order::from_query("?sort=size&order=desc").header_links("");
        assert_eq!(links[1], ("?sort=size&order=asc".into(), " ▼"));
    }
}
