//! Property test for the served-root name parser (`RelPath::parse`), the one
//! function every service's names go through: whatever it accepts has no
//! `..`, `.`, empty, `/` or NUL component.

#[path = "../../../fuzz/harness/mod.rs"]
mod harness;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn served_names_never_escape(name in "([a-z.]{0,4}|\\.\\.|%2e|/|\\\\|\u{0}|c:){0,12}") {
        harness::root_path(name.as_bytes());
    }

    #[test]
    fn arbitrary_names(data in prop::collection::vec(any::<u8>(), 0..300)) {
        harness::root_path(&data);
    }
}
