//! The `If` header (RFC 4918 §10.4): lists of conditions — lock tokens and
//! ETags, each possibly negated with `Not` — optionally tagged with the
//! resource they are about. The header holds when any list holds; a list
//! holds when all its conditions do.

/// One condition of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    /// `<token>`: a state token (a lock token, or an URI such as `DAV:no-lock`).
    Token(String),
    /// `[etag]`.
    ETag(String),
}

/// A list: its resource tag (`None`: the request's target) and conditions
/// (`true`: negated with `Not`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct List {
    pub(crate) tag: Option<String>,
    pub(crate) conds: Vec<(bool, Cond)>,
}

/// Most lists and conditions read from one header.
const MAX_ITEMS: usize = 64;

/// Parses an `If` header; `Err` when it is malformed (400).
pub(crate) fn parse(value: &[u8]) -> Result<Vec<List>, ()> {
    let s = std::str::from_utf8(value).map_err(|_| ())?;
    let mut rest = s.trim_start();
    let mut lists = Vec::new();
    let mut tag: Option<String> = None;
    let mut items = 0;
    while !rest.is_empty() {
        items += 1;
        if items > MAX_ITEMS {
            return Err(());
        }
        if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>').ok_or(())?;
            tag = Some(r[..end].to_owned());
            rest = r[end + 1..].trim_start();
            continue;
        }
        let r = rest.strip_prefix('(').ok_or(())?;
        let end = r.find(')').ok_or(())?;
        let conds = conditions(&r[..end])?;
        lists.push(List {
            tag: tag.clone(),
            conds,
        });
        rest = r[end + 1..].trim_start();
    }
    if lists.is_empty() {
        return Err(());
    }
    Ok(lists)
}

fn conditions(mut s: &str) -> Result<Vec<(bool, Cond)>, ()> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            break;
        }
        let mut not = false;
        if s.len() >= 3 && s[..3].eq_ignore_ascii_case("not") {
            not = true;
            s = s[3..].trim_start();
        }
        let (cond, rest) = if let Some(r) = s.strip_prefix('<') {
            let end = r.find('>').ok_or(())?;
            (Cond::Token(r[..end].to_owned()), &r[end + 1..])
        } else if let Some(r) = s.strip_prefix('[') {
            let end = r.find(']').ok_or(())?;
            (Cond::ETag(r[..end].to_owned()), &r[end + 1..])
        } else {
            return Err(());
        };
        out.push((not, cond));
        if out.len() > MAX_ITEMS {
            return Err(());
        }
        s = rest;
    }
    if out.is_empty() {
        return Err(());
    }
    Ok(out)
}

/// Every lock token named positively in any list.
pub(crate) fn tokens(lists: &[List]) -> impl Iterator<Item = &str> {
    lists.iter().flat_map(|l| {
        l.conds.iter().filter_map(|(not, c)| match c {
            Cond::Token(t) if !not => Some(t.as_str()),
            _ => None,
        })
    })
}
