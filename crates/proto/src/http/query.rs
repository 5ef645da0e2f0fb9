//! The query string of a request target (`?zip`, `?q=TEXT`,
//! `?sort=size&order=desc`): form-decoded parameters, looked up by name.

use percent_encoding::percent_decode_str;
use std::borrow::Cow;

/// The value of parameter `key` in `query` (with or without its leading
/// `?`): `Some("")` for a bare `?zip`, `None` when absent. `+` is a space
/// and `%XX` is decoded (invalid UTF-8 becomes U+FFFD); the first occurrence
/// wins.
pub(crate) fn param<'a>(query: &'a str, key: &str) -> Option<Cow<'a, str>> {
    let query = query.strip_prefix('?').unwrap_or(query);
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| {
            if v.contains(['+', '%']) {
                let spaced = v.replace('+', " ");
                Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
            } else {
                Cow::Borrowed(v)
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::param;

    #[test]
    fn params() {
        assert_eq!(param("?zip", "zip").as_deref(), Some(""));
        assert_eq!(param("?a=1&zip=", "zip").as_deref(), Some(""));
        assert_eq!(param("?q=a+b%2Fc", "q").as_deref(), Some("a b/c"));
        assert_eq!(param("?q=%C3%A9", "q").as_deref(), Some("é"));
        assert_eq!(param("?q=%FF", "q").as_deref(), Some("\u{fffd}"));
        assert_eq!(param("?zipper=1", "zip"), None);
        assert_eq!(param("", "zip"), None);
        assert_eq!(
            param("?sort=size&sort=name", "sort").as_deref(),
            Some("size")
        );
    }
}
