//! Chat backplane outages: a SIGKILLed instance's members are announced as
//! LEFT elsewhere and their names freed; a stopped (SIGTERM) instance's members
//! leave at once; a Redis restart splits the room without a crash, and it heals.
//!
//! Each test starts its own `redis-server` on a free port (Debian package
//! redis-server, installed by scripts/test.sh). Synchronisation is by replies
//! and log lines only.

use crate::chat_backplane_support as support;

use support::{Instance, Redis, Udp};

#[test]
fn a_killed_instance_leaves_and_frees_its_names() {
    let redis = Redis::start();
    // Heartbeats every second, dead after three: slow enough that a busy
    // machine does not miss one, fast enough for a test.
    let [mut a, b, c] = [(); 3].map(|()| Instance::start(&redis, &["--backplane-timeout", "3"]));
    let _alice = Udp::joined(&a, "alice");
    let _amy = Udp::joined(&a, "amy");
    let bob = Udp::joined(&b, "bob");
    let carol = Udp::joined(&c, "carol");
    for m in [&bob, &carol] {
        // Everyone has heard of everyone before the kill.
        m.sees("MEMBERS alice amy bob carol");
    }
    a.server.child.kill().expect("SIGKILL");
    let _ = a.server.child.wait();
    for m in [&bob, &carol] {
        let mut left: Vec<String> = Vec::new();
        for _ in 0..100 {
            if left.len() == 2 {
                break;
            }
            let d = m.recv();
            if d.starts_with("LEFT ") {
                left.push(d);
            }
        }
        left.sort();
        assert_eq!(left, ["LEFT alice", "LEFT amy"]);
    }
    let _again = Udp::joined(&b, "alice");
    let _amy_again = Udp::joined(&c, "amy");
    let _ = bob.until("JOINED amy");
    bob.sees("MEMBERS alice amy bob carol");
}

#[test]
fn a_redis_restart_splits_the_room_and_it_heals() {
    let mut redis = Redis::start();
    let [mut a, mut b] = [(); 2].map(|()| Instance::start(&redis, &[]));
    let alice = Udp::joined(&a, "alice");
    let amy = Udp::joined(&a, "amy");
    let bob = Udp::joined(&b, "bob");
    let _ = alice.until("JOINED bob");

    let _ = redis.child.kill();
    let _ = redis.child.wait();
    a.log("is split");
    b.log("is split");
    assert_eq!(a.operator("/status"), "room split, 3 members");
    // bob's server cannot be asked to kick him now.
    assert_eq!(
        a.operator("/kick bob"),
        "bob is on another server and the backplane is away: kick it there"
    );
    // Local members are still served, each message once.
    alice.send("SAY while split");
    let before = amy.until("MSG alice while split");
    assert!(before.iter().all(|d| !d.starts_with("MSG")), "{before:?}");
    assert!(amy.pending().is_empty());
    let _late = Udp::joined(&b, "bert");

    redis.restart();
    a.log("is whole");
    b.log("is whole");
    // Whole again: members on both sides hear each other (and the split
    // message is not replayed).
    alice.send("SAY back");
    let before = bob.until("MSG alice back");
    assert!(
        !before.iter().any(|d| d.contains("while split")),
        "{before:?}"
    );
    bob.send("SAY hello again");
    let _ = alice.until("MSG bob hello again");
    let _ = amy.until("MSG bob hello again");
    bob.sees("MEMBERS alice amy bert bob");
    assert_eq!(b.operator("/status"), "room whole, 4 members");
    assert_eq!(a.server.child.try_wait().expect("status"), None, "alive");
}

#[test]
fn a_stopped_instance_says_goodbye_and_its_farewell_stays_home() {
    let redis = Redis::start();
    // The default liveness timeout (15 s): only a goodbye can be this quick.
    let [a, b] = [(); 2].map(|()| Instance::start(&redis, &[]));
    let alice = Udp::joined(&a, "alice");
    let bob = Udp::joined(&b, "bob");
    bob.sees("MEMBERS alice bob");
    assert_eq!(a.server.terminate(), Some(0));
    let _ = alice.until("ADMIN the server is shutting down");
    let before = bob.until("LEFT alice");
    assert!(before.iter().all(|d| !d.starts_with("ADMIN")), "{before:?}");
    let late: Vec<_> = bob.pending();
    assert!(late.iter().all(|d| !d.starts_with("ADMIN")), "{late:?}");
    let _alice_again = Udp::joined(&b, "alice");
}
