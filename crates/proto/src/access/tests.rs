//! The access layer as tables: rule parsing, every decision, logins, and the
//! guessing limit on a fake clock.

use super::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};
use Decision::{Allow, Forbidden, NotFound, Unauthorized};
use Op::{Read, Write};

/// alice writes /team and reads /docs; bob reads /; anyone reads /pub and
/// writes /pub/inbox; carol (also an `@` reader) owns /carol.
fn rules() -> Access {
    Access::parse([
        "# the team",
        "",
        "alice:wonder@/team:rw,/docs",
        "bob:builder@/",
        "@/pub,/pub/inbox:rw",
        "carol:c:o@l@/carol:rw",
    ])
    .expect("rules parse")
}

#[test]
fn decisions_follow_the_rules_as_a_table() {
    let access = rules();
    let alice = access.login("alice", "wonder").expect("alice logs in");
    let bob = access.login("bob", "builder").expect("bob logs in");
    let carol = access.login("carol", "c:o@l").expect("carol logs in");
    let (a, b, c) = (Some(&alice), Some(&bob), Some(&carol));
    #[rustfmt::skip]
    let table: &[(Option<&User>, Op, &str, Decision)] = &[
        // anonymous: the `@` rules, 401 where an account could, else 404 / 403
        (None, Read, "pub/a.txt", Allow),
        (None, Read, "/pub/", Allow),
        (None, Read, "pub", Allow),
        (None, Write, "pub/a.txt", Forbidden),         // no account writes there either
        (None, Write, "pub/inbox/new.txt", Allow),
        (None, Write, "pub/inbox", Allow),
        (None, Read, "team/plan.txt", Unauthorized),
        (None, Write, "team/plan.txt", Unauthorized),
        (None, Read, "", Unauthorized),                // bob reads the root
        (None, Read, "public/x", Unauthorized),        // not /pub: bob could
        (None, Read, "pub/../team/plan.txt", NotFound), // `..` is granted to nobody
        (None, Write, "pub/inbox/../../team/x", Forbidden),
        (None, Read, "./pub//a.txt", Allow),
        // alice: her own grants and the `@` ones
        (a, Read, "team/plan.txt", Allow),
        (a, Write, "team/plan.txt", Allow),
        (a, Write, "team", Allow),
        (a, Read, "docs/guide.md", Allow),
        (a, Write, "docs/guide.md", Forbidden),        // read-only there
        (a, Read, "teamwork/x", NotFound),             // a sibling sharing a prefix
        (a, Read, "carol/diary", NotFound),
        (a, Write, "carol/diary", Forbidden),
        (a, Read, "", NotFound),                       // an ancestor: listable via may_traverse only
        (a, Read, "pub/a.txt", Allow),
        (a, Write, "pub/inbox/b.txt", Allow),
        (a, Write, "pub/b.txt", Forbidden),
        (a, Read, "team/../carol/diary", NotFound),
        // bob reads everything, writes nothing but the anonymous inbox
        (b, Read, "", Allow),
        (b, Read, "carol/diary", Allow),
        (b, Write, "carol/diary", Forbidden),
        (b, Write, "pub/inbox/c.txt", Allow),
        // carol: her folder, plus the `@` rules
        (c, Write, "carol/diary", Allow),
        (c, Write, "carol/", Allow),
        (c, Read, "team/plan.txt", NotFound),
        (c, Read, "pub", Allow),
    ];
    for (row, &(who, op, path, expected)) in table.iter().enumerate() {
        let got = access.decide(who, op, path);
        let name = who.map_or("anonymous", User::name);
        assert_eq!(got, expected, "row {row}: {name} {op:?} {path:?}");
    }
}

#[test]
fn a_write_no_account_may_do_is_forbidden_to_anonymous() {
    let access = Access::parse(["@/pub", "viewer:v@/"]).expect("parses");
    assert_eq!(access.decide(None, Write, "pub/x"), Forbidden);
    assert_eq!(access.decide(None, Read, "secret"), Unauthorized);
    // Logging in would show the way to /team: the root asks for it.
    let team = Access::parse(["alice:a@/team"]).expect("parses");
    assert_eq!(team.decide(None, Read, ""), Unauthorized);
    assert_eq!(team.decide(None, Read, "other"), NotFound);
    let only_anonymous = Access::parse(["@/pub"]).expect("parses");
    assert!(!only_anonymous.has_accounts());
    assert_eq!(only_anonymous.decide(None, Read, "secret"), NotFound);
    assert_eq!(only_anonymous.decide(None, Write, "pub/x"), Forbidden);
}

#[test]
fn ancestors_are_traversed_only_toward_grants() {
    let access = rules();
    let alice = access.login("alice", "wonder").expect("logs in");
    let a = Some(&alice);
    // (who, folder, may_traverse)
    #[rustfmt::skip]
    let table: &[(Option<&User>, &str, bool)] = &[
        (a, "", true),
        (a, "/", true),
        (a, "team", true),
        (a, "team/deep/er", true),
        (a, "docs", true),
        (a, "pub", true),
        (a, "carol", false),
        (a, "teamwork", false),
        (a, "../team", false),
        (None, "", true),
        (None, "pub/inbox", true),
        (None, "team", false),
    ];
    for (row, &(who, folder, expected)) in table.iter().enumerate() {
        assert_eq!(
            access.may_traverse(who, folder),
            expected,
            "row {row}: {folder:?}"
        );
        assert_eq!(
            access.visible(who, folder),
            expected,
            "row {row}: {folder:?}"
        );
    }
}

#[test]
fn without_rules_anyone_reads_and_writes_depend_on_upload_alone() {
    let access = Access::open();
    assert!(access.is_open());
    assert!(!access.has_accounts());
    assert_eq!(access.decide(None, Read, "any/thing"), Allow);
    assert_eq!(access.decide(None, Write, "any/thing"), Allow);
    assert!(access.may_traverse(None, "any"));
    assert_eq!(access.login("alice", "x"), None);
}

#[test]
fn an_empty_rule_list_grants_nothing() {
    let access = Access::parse(["# only comments", "   "]).expect("parses");
    assert!(!access.is_open());
    assert_eq!(access.decide(None, Read, ""), NotFound);
    assert!(!access.may_traverse(None, ""));
}

#[test]
fn logins_check_the_password() {
    let access = rules();
    assert!(access.login("alice", "wonder").is_some());
    assert_eq!(access.login("alice", "Wonder"), None);
    assert_eq!(access.login("alice", "wonde"), None);
    assert_eq!(access.login("alice", ""), None);
    assert_eq!(access.login("mallory", "wonder"), None);
    assert_eq!(
        access.login("carol", "c:o@l").map(|u| u.name().to_owned()),
        Some("carol".into())
    );
}

#[test]
fn argon2id_phc_passwords_log_in_and_are_remembered() {
    let hash = hash_password("s3cret pass").expect("hashes");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let access = Access::parse([format!("dave:{hash}@/dave:rw")]).expect("parses");
    assert_eq!(access.login("dave", "wrong"), None);
    let dave = access.login("dave", "s3cret pass").expect("right password");
    assert_eq!(access.decide(Some(&dave), Write, "dave/x"), Allow);
    // The second login is answered from the cache: the same user.
    assert_eq!(access.login("dave", "s3cret pass"), Some(dave));
    assert_eq!(access.login("dave", "s3cret pas"), None);
    // An unknown name is refused too (after a verification's worth of work).
    assert_eq!(access.login("eve", "s3cret pass"), None);
}

#[test]
fn a_user_may_have_several_rules_with_one_password() {
    let access = Access::parse(["erin:pw@/a", "erin:pw@/b:rw"]).expect("parses");
    let erin = access.login("erin", "pw").expect("logs in");
    assert_eq!(access.decide(Some(&erin), Read, "a/x"), Allow);
    assert_eq!(access.decide(Some(&erin), Write, "b/x"), Allow);
    assert_eq!(access.decide(Some(&erin), Write, "a/x"), Forbidden);
    let err = Access::parse(["erin:pw@/a", "erin:other@/b"]).expect_err("two passwords");
    assert_eq!(err.number, 2);
    assert!(err.why.contains("another password"), "{err}");
}

#[test]
fn bad_rules_say_which_and_why_without_the_password() {
    #[rustfmt::skip]
    let table: &[(&str, &str)] = &[
        ("alice:pw", "no '@'"),
        ("alicepw@/", "no ':'"),
        (":pw@/", "empty user name"),
        ("al ice:pw@/", "no spaces"),
        ("alice:@/", "empty password"),
        ("alice:pw@", "no PATH"),
        ("alice:pw@/a,,/b", "empty PATH"),
        ("alice:pw@:rw", "empty PATH"),
        ("alice:pw@/a/../b", "'..'"),
        ("@/a\\b", "backslash"),
        ("alice:$argon2id$v=19$nonsense@/", "Argon2 PHC"),
    ];
    for &(rule, why) in table {
        let err = Access::parse(["@/ok", rule]).expect_err(rule);
        assert_eq!(err.number, 2, "{rule}");
        assert!(err.why.contains(why), "{rule}: {err}");
        if rule.contains(":pw") {
            assert!(!err.to_string().contains(":pw@"), "password shown: {err}");
        }
    }
}

#[test]
fn paths_in_rules_are_folders_however_spelled() {
    for spelling in ["@/pub", "@pub", "@pub/", "@//pub/./", "@/pub:ro"] {
        let access = Access::parse([spelling]).expect(spelling);
        assert_eq!(access.decide(None, Read, "pub/x"), Allow, "{spelling}");
        assert_eq!(access.decide(None, Write, "pub/x"), Forbidden, "{spelling}");
        assert_eq!(access.decide(None, Read, "pubx"), NotFound, "{spelling}");
    }
    let all = Access::parse(["@/:rw"]).expect("parses");
    assert_eq!(all.decide(None, Write, "any/where"), Allow);
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an address")
}

#[test]
fn ten_failures_in_a_minute_close_the_address_until_the_minute_ends() {
    let guessing = Guessing::new();
    let t0 = Instant::now();
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    let attacker = ip("192.0.2.7");
    for i in 0..9 {
        guessing.failed(at(i), attacker);
        assert_eq!(
            guessing.check(at(i), attacker),
            Ok(()),
            "after {} failures",
            i + 1
        );
    }
    guessing.failed(at(9), attacker);
    assert_eq!(guessing.check(at(9), attacker), Err(RetryAfter(51)));
    assert_eq!(guessing.check(at(30), attacker), Err(RetryAfter(30)));
    assert_eq!(
        guessing.check(at(59) + Duration::from_millis(500), attacker),
        Err(RetryAfter(1))
    );
    // Others are not affected.
    assert_eq!(guessing.check(at(30), ip("192.0.2.8")), Ok(()));
    // The minute from the first failure ends: served again, counting anew.
    assert_eq!(guessing.check(at(60), attacker), Ok(()));
    guessing.failed(at(61), attacker);
    assert_eq!(guessing.check(at(61), attacker), Ok(()));
}

#[test]
fn failures_spread_over_more_than_a_minute_never_close() {
    let guessing = Guessing::new();
    let t0 = Instant::now();
    let host = ip("198.51.100.1");
    for i in 0..30 {
        let now = t0 + Duration::from_secs(7 * i);
        guessing.failed(now, host);
        assert_eq!(guessing.check(now, host), Ok(()), "failure {i}");
    }
}

#[test]
fn an_ipv6_slash_64_is_one_address_and_v4_mapped_is_v4() {
    let guessing = Guessing::new();
    let t0 = Instant::now();
    for i in 0..10u16 {
        let host = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, i + 1));
        guessing.failed(t0, host);
    }
    assert!(guessing.check(t0, ip("2001:db8:1:2::ffff")).is_err());
    assert_eq!(guessing.check(t0, ip("2001:db8:1:3::1")), Ok(()));
    for _ in 0..10 {
        guessing.failed(t0, ip("::ffff:203.0.113.5"));
    }
    assert!(guessing
        .check(t0, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5)))
        .is_err());
    for _ in 0..10 {
        guessing.failed(t0, ip("::1"));
    }
    assert!(guessing.check(t0, ip("::1")).is_err());
    assert_eq!(guessing.check(t0, ip("0.0.0.1")), Ok(()));
}

#[test]
fn the_table_is_bounded_and_the_oldest_is_evicted() {
    let guessing = Guessing::new();
    let t0 = Instant::now();
    let victim = ip("10.0.0.1");
    for _ in 0..10 {
        guessing.failed(t0, victim);
    }
    assert!(guessing.check(t0, victim).is_err());
    // Four times as many newer addresses as slots: the table does not grow,
    // and the oldest entry (the first address) gives way.
    let later = t0 + Duration::from_secs(1);
    for n in 0..(4 * guessing::SLOTS as u32) {
        guessing.failed(later, IpAddr::V4(Ipv4Addr::from(0x0B00_0000 + n)));
    }
    assert_eq!(std::mem::size_of::<FailureTable>(), guessing::SLOTS * 16);
    assert_eq!(guessing.check(later, victim), Ok(()));
}

#[test]
fn clones_count_into_one_table() {
    let guessing = Guessing::new();
    let other = guessing.clone();
    let t0 = Instant::now();
    let host = ip("192.0.2.50");
    for i in 0..10 {
        if i % 2 == 0 { &guessing } else { &other }.failed(t0, host);
    }
    assert!(guessing.check(t0, host).is_err());
    assert!(other.check(t0, host).is_err());
}
