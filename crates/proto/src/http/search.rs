//! `GET /folder/?q=TEXT`: the files and folders below the folder whose name
//! contains TEXT, case-insensitively, as the listing page (paths relative to
//! the folder) or JSON.
//!
//! The walk goes through the [`Root`](crate::root::Root) API (hidden names
//! stay out unless `--hidden`, symlinks that lead out are never followed),
//! breadth first so shallow matches come first, and does not descend into
//! folders reached through a symlink (a link to an ancestor would loop).
//! Its time is bounded: it stops at [`MAX_RESULTS`] matches, after visiting
//! [`MAX_VISITED`] entries, and does not go deeper than [`MAX_DEPTH`]
//! folders; the reply then says it was cut short (`"truncated"` and why).

use super::listing::{display_path, json_row, page_reply, wants_json, Page, COMPONENT};
use super::query::param;
use super::request::Head;
use super::response::Reply;
use super::sort::Order;
use super::target::{error_reply, Target};
use super::Shared;
use crate::root::{Entry, EntryKind, RelPath, Root, RootError};
use percent_encoding::utf8_percent_encode;
use std::collections::VecDeque;

/// Matches one reply holds at most.
pub(crate) const MAX_RESULTS: usize = 1000;
/// Entries one search looks at, at most.
pub(crate) const MAX_VISITED: usize = 100_000;
/// Folder levels below the searched one that are searched.
pub(crate) const MAX_DEPTH: usize = 32;

/// Why a search stopped before the end of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Results,
    Visited,
    Depth,
}

impl Cut {
    fn reason(self) -> String {
        match self {
            Cut::Results => format!("the first {MAX_RESULTS} matches"),
            Cut::Visited => format!("stopped after looking at {MAX_VISITED} entries"),
            Cut::Depth => format!("folders deeper than {MAX_DEPTH} levels were not searched"),
        }
    }
}

/// Whether the request is a search (`/folder/?q=TEXT`, TEXT not empty).
pub(crate) fn asked(target: &Target<'_>) -> bool {
    target.dir && param(target.query, "q").is_some_and(|q| !q.is_empty())
}

/// The search reply.
pub(crate) fn reply(shared: &Shared, head: &Head<'_>, target: &Target<'_>) -> Reply {
    let text = param(target.query, "q").unwrap_or_default();
    let (mut found, cut) = match walk(&shared.root, &target.rel, &text, Limits::DEFAULT) {
        Ok(found) => found,
        Err(e) => return error_reply(&e),
    };
    let order = Order::from_query(target.query);
    order.sort(&mut found, |(path, e)| (path.as_str(), e));
    let folder = display_path(target);
    if wants_json(head) {
        let rows: Vec<_> = found.iter().map(|(path, e)| json_row(path, e)).collect();
        let doc = serde_json::json!({
            "path": folder,
            "query": text,
            "results": rows,
            "truncated": cut.is_some(),
            "truncated_because": cut.map(Cut::reason),
        });
        return page_reply(shared, doc.to_string(), "application/json");
    }
    let mut note = format!("{} found", found.len());
    if let Some(cut) = cut {
        note.push_str(&format!(" (cut short: {})", cut.reason()));
    }
    let page = Page {
        title: format!("Search for \u{201c}{text}\u{201d} in {folder}"),
        parent: false,
        order,
        keep: format!("q={}&", utf8_percent_encode(&text, COMPONENT)),
        query: &text,
        note: Some(note),
    };
    let rows: Vec<_> = found.iter().map(|(path, e)| (path.as_str(), e)).collect();
    page.reply(shared, &rows)
}

/// How far one search goes.
#[derive(Debug, Clone, Copy)]
struct Limits {
    results: usize,
    visited: usize,
    depth: usize,
}

impl Limits {
    const DEFAULT: Limits = Limits {
        results: MAX_RESULTS,
        visited: MAX_VISITED,
        depth: MAX_DEPTH,
    };
}

/// Matches below `base` (path relative to it, entry), and whether and why
/// the walk stopped early.
#[allow(clippy::type_complexity)]
fn walk(
    root: &Root,
    base: &RelPath,
    text: &str,
    limits: Limits,
) -> Result<(Vec<(String, Entry)>, Option<Cut>), RootError> {
    let needle = text.to_lowercase();
    let mut found = Vec::new();
    let mut visited = 0;
    let mut cut = None;
    let mut queue = VecDeque::from([(base.clone(), String::new(), 0usize)]);
    'walk: while let Some((rel, prefix, depth)) = queue.pop_front() {
        let entries = match root.list(&rel) {
            Ok(entries) => entries,
            Err(e) if depth == 0 => return Err(e),
            Err(_) => continue, // a subfolder we may not read: not searched
        };
        for e in entries {
            visited += 1;
            if visited > limits.visited {
                cut = Some(Cut::Visited);
                break 'walk;
            }
            if e.kind == EntryKind::Unreachable {
                continue;
            }
            let path = format!("{prefix}{}", e.name);
            if e.kind == EntryKind::Dir && !e.symlink {
                match rel.join(&e.name) {
                    Ok(sub) if depth < limits.depth => {
                        queue.push_back((sub, format!("{path}/"), depth + 1));
                    }
                    Ok(_) => cut = Some(Cut::Depth),
                    Err(_) => {}
                }
            }
            if e.name.to_lowercase().contains(&needle) {
                found.push((path, e));
                if found.len() >= limits.results {
                    cut = Some(Cut::Results);
                    break 'walk;
                }
            }
        }
    }
    Ok((found, cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(root: &Root, text: &str, limits: Limits) -> (Vec<String>, Option<Cut>) {
        let (found, cut) = walk(root, &RelPath::root(), text, limits).unwrap();
        (found.into_iter().map(|(path, _)| path).collect(), cut)
    }

    #[test]
    fn the_walk_is_bounded_and_says_why_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("a/b/c")).unwrap();
        for name in ["x1", "a/X2", "a/b/x3", "a/b/c/x4", "a/.x5", "a/b/other"] {
            std::fs::write(p.join(name), "").unwrap();
        }
        std::os::unix::fs::symlink("..", p.join("a/b/up")).unwrap();
        let root = Root::open(p).unwrap();
        let all = |text| found(&root, text, Limits::DEFAULT);
        // Breadth first, case-insensitive; hidden and the link to an ancestor
        // left out.
        assert_eq!(
            all("X"),
            (
                vec![
                    "x1".into(),
                    "a/X2".into(),
                    "a/b/x3".into(),
                    "a/b/c/x4".into()
                ],
                None
            )
        );
        assert_eq!(all("B"), (vec!["a/b".into()], None));
        let limits = Limits {
            results: 2,
            ..Limits::DEFAULT
        };
        assert_eq!(
            found(&root, "x", limits),
            (vec!["x1".into(), "a/X2".into()], Some(Cut::Results))
        );
        let limits = Limits {
            depth: 1,
            ..Limits::DEFAULT
        };
        assert_eq!(
            found(&root, "x", limits),
            (vec!["x1".into(), "a/X2".into()], Some(Cut::Depth))
        );
        let limits = Limits {
            visited: 3,
            ..Limits::DEFAULT
        };
        assert_eq!(
            found(&root, "x", limits),
            (vec!["x1".into(), "a/X2".into()], Some(Cut::Visited))
        );
        assert!(walk(
            &root,
            &RelPath::parse("nope").unwrap(),
            "x",
            Limits::DEFAULT
        )
        .is_err());
    }
}
