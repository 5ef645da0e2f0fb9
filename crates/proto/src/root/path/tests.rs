//! Table-driven and property tests for [`RelPath::parse`].

use super::*;
use proptest::prelude::*;

fn ok(input: &str, expected: &[&str]) {
    match RelPath::parse(input) {
        Ok(path) => assert_eq!(path.components(), expected, "input {input:?}"),
        Err(e) => panic!("input {input:?}: expected {expected:?}, got error {e:?}"),
    }
}

fn err(input: &str, expected: PathError) {
    assert_eq!(RelPath::parse(input), Err(expected), "input {input:?}");
}

#[test]
fn accepted_names_are_normalised() {
    let table: &[(&str, &[&str])] = &[
        ("", &[]),
        (".", &[]),
        ("./", &[]),
        ("a", &["a"]),
        ("a/b/c.txt", &["a", "b", "c.txt"]),
        ("a//b", &["a", "b"]),
        ("a/./b", &["a", "b"]),
        ("./a", &["a"]),
        ("a/", &["a"]),
        ("a/b/", &["a", "b"]),
        ("...", &["..."]),
        ("..a", &["..a"]),
        ("a..", &["a.."]),
        (".hidden", &[".hidden"]),
        ("%2e%2e", &["%2e%2e"]), // still encoded: decoding is the caller's job
        ("héllo wörld/日本", &["héllo wörld", "日本"]),
        ("C:foo", &["C:foo"]),
        (".netkit-upload", &[".netkit-upload"]),
    ];
    for (input, expected) in table {
        ok(input, expected);
    }
}

#[test]
fn refused_names_say_why() {
    let long_component = "x".repeat(MAX_COMPONENT + 1);
    let long_path = "a/".repeat(MAX_PATH / 2 + 1);
    let table: &[(&str, PathError)] = &[
        ("/", PathError::Absolute),
        ("/etc/passwd", PathError::Absolute),
        ("//a", PathError::Absolute),
        ("..", PathError::ParentDir),
        ("../x", PathError::ParentDir),
        ("a/..", PathError::ParentDir),
        ("a/../b", PathError::ParentDir),
        ("a/b/../../..", PathError::ParentDir),
        ("./..", PathError::ParentDir),
        ("a\\b", PathError::Backslash),
        ("..\\..\\x", PathError::Backslash),
        ("\\", PathError::Backslash),
        ("a\0b", PathError::ControlCharacter),
        ("\0", PathError::ControlCharacter),
        ("a\nb", PathError::ControlCharacter),
        ("a\rb", PathError::ControlCharacter),
        ("\t", PathError::ControlCharacter),
        ("\x1b[31m", PathError::ControlCharacter),
        ("a\x7f", PathError::ControlCharacter),
        ("a\u{85}", PathError::ControlCharacter),
        ("/a\0", PathError::ControlCharacter), // controls are checked first
        (&long_component, PathError::ComponentTooLong),
        (&long_path, PathError::TooLong),
        (".netkit-upload-1234.tmp", PathError::Reserved),
        ("a/.netkit-upload-x", PathError::Reserved),
        (".netkit-props", PathError::Reserved),
        ("a/.netkit-props", PathError::Reserved),
    ];
    for (input, expected) in table {
        err(input, *expected);
    }
}

#[test]
fn limits_are_inclusive() {
    let max_component = "x".repeat(MAX_COMPONENT);
    ok(&max_component, &[&max_component]);
    let mut max_path = "a/".repeat(MAX_PATH / 2);
    max_path.truncate(MAX_PATH);
    assert_eq!(max_path.len(), MAX_PATH);
    assert_eq!(
        RelPath::parse(&max_path).map(|p| p.components().len()),
        Ok(MAX_PATH / 2)
    );
}

#[test]
fn hidden_means_a_component_starts_with_a_dot() {
    for (name, hidden) in [
        (".env", true),
        (".ssh/authorized_keys", true),
        ("a/.git/config", true),
        ("a/b/.c", true),
        ("a/./b", false),
        ("./a", false),
        ("a.txt", false),
        ("a./b..", false),
        ("", false),
    ] {
        let rel = RelPath::parse(name).expect("valid");
        assert_eq!(rel.is_hidden(), hidden, "{name:?}");
    }
}

#[test]
fn helpers_follow_the_components() {
    let path = RelPath::parse("a/b/c").expect("valid");
    assert_eq!(path.to_string(), "a/b/c");
    assert_eq!(path.file_name(), Some("c"));
    assert_eq!(path.parent().map(|p| p.to_string()), Some("a/b".to_owned()));
    assert_eq!(RelPath::root().parent(), None);
    assert_eq!(RelPath::root().to_os_path(), ".");
    assert_eq!(path.to_os_path(), "a/b/c");
    assert_eq!(
        RelPath::root().join("x/y").map(|p| p.to_string()),
        Ok("x/y".to_owned())
    );
    assert_eq!(path.join(".."), Err(PathError::ParentDir));
    assert_eq!(path.join("/etc"), Err(PathError::Absolute));
    assert_eq!(
        "a/./b".parse::<RelPath>().map(|p| p.to_string()),
        Ok("a/b".to_owned())
    );
}

/// Strings built from the characters that matter, so the interesting cases are
/// common rather than one in a million.
fn tricky_name() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("\\".to_owned()),
        Just("\0".to_owned()),
        Just("\n".to_owned()),
        Just(TEMP_PREFIX.to_owned()),
        "[a-z]{1,3}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn parsed_components_are_always_plain(input in prop_oneof![tricky_name(), any::<String>()]) {
        if let Ok(path) = RelPath::parse(&input) {
            for c in path.components() {
                prop_assert!(!c.is_empty());
                prop_assert!(c != "." && c != "..");
                prop_assert!(!c.contains(['/', '\\', '\0']));
                prop_assert!(!c.chars().any(char::is_control));
                prop_assert!(c.len() <= MAX_COMPONENT);
                prop_assert!(!c.starts_with(TEMP_PREFIX));
            }
            // Normalising is idempotent: the displayed form parses to itself.
            prop_assert_eq!(RelPath::parse(&path.to_string()), Ok(path));
        }
    }

    #[test]
    fn any_parent_component_is_refused(prefix in "[a-z/]{0,8}", suffix in "[a-z/]{0,8}") {
        let input = format!("{prefix}/../{suffix}");
        prop_assert!(RelPath::parse(&input).is_err());
    }
}
