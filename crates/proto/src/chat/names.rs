//! What a member name may be, when two names are the same, and what text
//! may reach another member.
//!
//! A name is 1–32 characters with no spaces, control characters, invisible
//! or text-direction characters (Unicode's default-ignorable code points, as
//! UTS #39 types them: U+200B–U+200F, U+202A–U+202E, U+2060–U+206F, U+FEFF,
//! U+3164, variation selectors, …), and none of the characters IRC gives a
//! meaning to. Two names are the same when their UTS #39 confusable
//! skeletons agree after case folding, so `ａlice` (fullwidth) and `alicе`
//! (Cyrillic е) are `alice`: [`name_key`] is the key every name table uses
//! (the room's, the backplane's).
//!
//! Text is never refused for its characters; its control characters (C0, DEL,
//! C1) are replaced by [`clean_text`] before anyone hears it, so no member
//! can move another's cursor, retitle its terminal or fake a line.

use unicode_security::general_security_profile::IdentifierType;
use unicode_security::GeneralSecurityProfile;

/// The longest member name, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// Whether `name` is a valid member name (see the module documentation).
pub fn valid_name(name: &str) -> bool {
    let count = name.chars().count();
    (1..=MAX_NAME_CHARS).contains(&count)
        && !name.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || invisible(c)
                || matches!(c, ',' | '*' | '?' | '!' | '@')
        })
        && !name.starts_with([':', '#', '&'])
}

/// An invisible or text-direction character (default-ignorable, UTS #39),
/// or a code point that is no character at all.
fn invisible(c: char) -> bool {
    matches!(
        c.identifier_type(),
        Some(IdentifierType::Default_Ignorable | IdentifierType::Not_Character)
    )
}

/// The key under which a name is held: its UTS #39 skeleton, case-folded
/// before and after (`0` and `O` share a skeleton, `O` and `o` a case).
pub fn name_key(name: &str) -> String {
    let lower = name.to_lowercase();
    unicode_security::skeleton(&lower)
        .flat_map(char::to_lowercase)
        .collect()
}

/// `text` with every control character (C0, DEL, C1) replaced: a tab by a
/// space, anything else by U+FFFD (visible, so nothing is silently hidden).
/// Borrowed when there is nothing to replace.
pub fn clean_text(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_direction_characters_are_refused() {
        for bad in [
            "\u{202e}ecila",
            "al\u{200b}ice",
            "al\u{200d}ice",
            "\u{feff}bob",
            "a\u{2066}b",
            "\u{3164}",
            "x\u{fe0f}",
            "a\u{ad}b",
            "bell\u{7}",
            "c1\u{85}",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        for good in ["alice", "Ünïcödé", "管理员", "bob[m]", "x_y-z", "Алиса"] {
            assert!(valid_name(good), "{good}");
        }
    }

    #[test]
    fn confusable_names_share_a_key() {
        let alice = name_key("alice");
        for same in [
            "Alice",
            "ＡＬＩＣＥ",
            "ａlice",
            "alicе",
            "ALICE",
            "a\u{0301}lice",
        ] {
            if same == "a\u{0301}lice" {
                assert_ne!(name_key(same), alice, "an accent is a different name");
                continue;
            }
            assert_eq!(name_key(same), alice, "{same}");
        }
        assert_eq!(name_key("b0b"), name_key("bob"));
        assert_eq!(name_key("bi1l"), name_key("bill"));
        assert_ne!(name_key("bob"), name_key("rob"));
    }

    #[test]
    fn control_characters_never_pass_through_text() {
        assert!(matches!(
            clean_text("plain é"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(clean_text("a\tb"), "a b");
        let dirty = "\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nalice: give me\u{7f}\u{9b}x";
        let clean = clean_text(dirty);
        assert!(!clean.chars().any(char::is_control), "{clean:?}");
        assert_eq!(clean.chars().filter(|c| *c == '\u{fffd}').count(), 7);
    }
}
