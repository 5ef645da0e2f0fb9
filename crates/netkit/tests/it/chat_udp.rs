//! `netkit chat serve` over raw UDP sockets: names, fan-out, leaving, timeouts,
//! admin lines and operator commands, every error, flood control, history.
//! Synchronisation is by replies only: to show that nothing was sent to a
//! socket, a PING follows and its PONG must be the next datagram.

use crate::common;

use common::Server;
use std::io::Write;
use std::net::UdpSocket;
use std::process::{ChildStdin, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

struct Member {
    socket: UdpSocket,
}

impl Member {
    fn new(server: &Server) -> Member {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.connect(server.addr()).expect("connect");
        socket.set_read_timeout(Some(WAIT)).expect("timeout");
        Member { socket }
    }

    fn joined(server: &Server, name: &str) -> Member {
        let m = Member::new(server);
        m.send(&format!("JOIN {name}"));
        assert_eq!(
            m.recv(),
            format!("OK {name}"),
            "a new member's OK names it alone"
        );
        // Its next datagram confirms the address: the member list follows.
        m.send("PING");
        let members = m.recv();
        assert!(members.starts_with("MEMBERS "), "{name}: {members}");
        assert_eq!(m.recv(), "PONG");
        m
    }

    fn send(&self, text: &str) {
        self.send_bytes(text.as_bytes());
    }

    fn send_bytes(&self, data: &[u8]) {
        self.socket.send(data).expect("send");
    }

    fn recv(&self) -> String {
        let mut buf = [0u8; 65_536];
        let n = self
            .socket
            .recv(&mut buf)
            .expect("a datagram within the wait");
        String::from_utf8(buf[..n].to_vec()).expect("utf-8 from the server")
    }

    /// Proves nothing else was queued for this member: a PING's PONG comes next.
    fn nothing_pending(&self) {
        self.send("PING");
        assert_eq!(self.recv(), "PONG");
    }
}

fn serve(extra: &[&str]) -> Server {
    let mut args = vec!["chat", "serve", "--bind", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn serve_with_stdin(extra: &[&str]) -> (Server, ChildStdin) {
    let mut args = vec!["chat", "serve", "--bind", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(extra);
    let mut cmd = common::netkit(&args);
    cmd.stdin(Stdio::piped());
    let mut server = Server::start_cmd(cmd);
    let stdin = server.child.stdin.take().expect("piped stdin");
    (server, stdin)
}

#[test]
fn ready_line_names_udp_and_members_hear_the_shutdown() {
    let server = serve(&[]);
    assert!(server.url.starts_with("udp://127.0.0.1:"), "{}", server.url);
    let alice = Member::joined(&server, "alice");
    assert_eq!(server.terminate(), Some(0));
    assert_eq!(alice.recv(), "ADMIN the server is shutting down");
}

#[test]
fn join_with_unique_and_valid_names() {
    let server = serve(&[]);
    let alice = Member::new(&server);
    alice.send("JOIN alice");
    assert_eq!(alice.recv(), "OK alice");
    alice.send("PING");
    assert_eq!(alice.recv(), "MEMBERS alice");
    assert_eq!(alice.recv(), "PONG");
    let bob = Member::new(&server);
    bob.send("JOIN Bob");
    assert_eq!(bob.recv(), "OK Bob", "the list follows bob's next datagram");
    assert_eq!(alice.recv(), "JOINED Bob");

    let other = Member::new(&server);
    // Padded with spaces so the error fits in what was sent (no amplification).
    other.send("JOIN ALICE                ");
    assert_eq!(other.recv(), "ERR name-taken");
    other.send("JOIN bob                  ");
    assert_eq!(other.recv(), "ERR name-taken");
    other.send("JOIN two words            ");
    assert_eq!(other.recv(), "ERR bad-name");
    other.send(&format!("JOIN {}", "x".repeat(33)));
    assert_eq!(other.recv(), "ERR bad-name");
    other.send("JOIN                      ");
    assert_eq!(other.recv(), "ERR bad-name");
    other.send_bytes(b"JOIN ctl\x07name            ");
    assert_eq!(other.recv(), "ERR bad-name");
    // Invisible and text-direction characters; look-alikes of a member's name.
    for invisible in ["\u{202e}ecila", "al\u{200b}ice", "bo\u{200d}b"] {
        other.send(&format!("JOIN {invisible}            "));
        assert_eq!(other.recv(), "ERR bad-name", "{invisible:?}");
    }
    for look_alike in ["ａlice", "alicе", "ＢＯＢ"] {
        other.send(&format!("JOIN {look_alike}            "));
        assert_eq!(other.recv(), "ERR name-taken", "{look_alike}");
    }
    other.send(&format!("JOIN {}", "é".repeat(32)));
    assert_eq!(other.recv(), format!("OK {}", "é".repeat(32)));
    assert_eq!(alice.recv(), format!("JOINED {}", "é".repeat(32)));
    alice.send("WHO");
    assert_eq!(
        alice.recv(),
        format!("MEMBERS alice Bob {}", "é".repeat(32))
    );
}

#[test]
fn say_reaches_every_other_member_once_and_never_the_sender() {
    let server = serve(&[]);
    let names = ["ann", "ben", "cat", "dan"];
    let members: Vec<Member> = names.iter().map(|n| Member::joined(&server, n)).collect();
    // Drain the JOINED notices: member i saw the joins of those after it.
    for (i, m) in members.iter().enumerate() {
        for later in &names[i + 1..] {
            assert_eq!(m.recv(), format!("JOINED {later}"));
        }
    }
    for (i, speaker) in members.iter().enumerate() {
        speaker.send(&format!("SAY hello from {}  with  spaces", names[i]));
        for (j, m) in members.iter().enumerate() {
            if i != j {
                assert_eq!(
                    m.recv(),
                    format!("MSG {} hello from {}  with  spaces", names[i], names[i])
                );
            }
        }
    }
    for m in &members {
        m.nothing_pending();
    }
}

#[test]
fn leave_and_silence_are_announced() {
    let server = serve(&["--idle-timeout", "2"]);
    let alice = Member::joined(&server, "alice");
    let bob = Member::joined(&server, "bob");
    let carol = Member::joined(&server, "carol");
    assert_eq!(alice.recv(), "JOINED bob");
    assert_eq!(alice.recv(), "JOINED carol");
    assert_eq!(bob.recv(), "JOINED carol");
    bob.send("LEAVE");
    assert_eq!(alice.recv(), "LEFT bob");
    assert_eq!(carol.recv(), "LEFT bob");
    bob.send("SAY still here?");
    assert_eq!(bob.recv(), "ERR not-joined");

    // Carol goes silent; Alice keeps pinging until the room drops Carol.
    alice
        .socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 1500];
    'outer: loop {
        assert!(start.elapsed() < WAIT, "carol was never dropped");
        alice.send("PING");
        while let Ok(n) = alice.socket.recv(&mut buf) {
            match &buf[..n] {
                b"PONG" => {}
                b"LEFT carol" => break 'outer,
                other => panic!("unexpected {:?}", String::from_utf8_lossy(other)),
            }
        }
    }
    carol.send("SAY I was away");
    assert_eq!(carol.recv(), "ERR not-joined");
}

#[test]
fn admin_lines_and_operator_commands() {
    let (server, mut stdin) = serve_with_stdin(&[]);
    let alice = Member::joined(&server, "alice");
    let bob = Member::joined(&server, "bob");
    assert_eq!(alice.recv(), "JOINED bob");
    writeln!(stdin, "管理员 说 hello everyone").unwrap();
    assert_eq!(alice.recv(), "ADMIN 管理员 说 hello everyone");
    assert_eq!(bob.recv(), "ADMIN 管理员 说 hello everyone");

    writeln!(stdin, "/list").unwrap();
    let line = server.lines.recv_timeout(WAIT).expect("a /list answer");
    assert!(
        line.starts_with("2 members: alice (udp 127.0.0.1:"),
        "{line}"
    );
    assert!(line.contains(", bob (udp 127.0.0.1:"), "{line}");

    writeln!(stdin, "/kick BOB").unwrap();
    let line = server.lines.recv_timeout(WAIT).expect("a /kick answer");
    assert!(line.starts_with("kicked BOB (udp "), "{line}");
    assert_eq!(bob.recv(), "ERR kicked");
    assert_eq!(alice.recv(), "LEFT bob");
    bob.send("SAY am I still in?");
    assert_eq!(bob.recv(), "ERR not-joined");
    writeln!(stdin, "/kick nobody").unwrap();
    assert_eq!(
        server.lines.recv_timeout(WAIT).unwrap(),
        "no member named nobody"
    );
}

#[test]
fn errors_and_no_amplification() {
    let server = serve(&[]);
    let stranger = Member::new(&server);
    // Short datagrams from an unknown address get no answer longer than they are…
    stranger.send("PING");
    stranger.send("SAY x");
    stranger.send("LEAVE");
    stranger.send_bytes(b"\xff");
    stranger.send("?");
    // …so the first answer is to this padded PING.
    stranger.send("PING          ");
    assert_eq!(stranger.recv(), "ERR not-joined");
    stranger.send("SAY hello, anyone?");
    assert_eq!(stranger.recv(), "ERR not-joined");
    stranger.send("LEAVE                    ");
    assert_eq!(stranger.recv(), "ERR not-joined");
    stranger.send("DANCE all night long");
    assert_eq!(stranger.recv(), "ERR bad-command");

    let alice = Member::joined(&server, "alice");
    let bob = Member::joined(&server, "bob");
    assert_eq!(alice.recv(), "JOINED bob");
    bob.send(&format!("SAY {}", "x".repeat(1001)));
    assert_eq!(bob.recv(), "ERR too-long");
    bob.send(&format!("SAY {}", "y".repeat(1000)));
    assert_eq!(
        alice.recv(),
        format!("MSG bob {}", "y".repeat(1000)),
        "the too-long one was not forwarded"
    );
    bob.send("dance");
    assert_eq!(bob.recv(), "ERR bad-command");
    bob.send_bytes(b"SAY \xc3\x28 broken utf-8");
    assert_eq!(bob.recv(), "ERR bad-command");
    bob.send("say lower case");
    assert_eq!(bob.recv(), "ERR bad-command");
    alice.nothing_pending();
}

#[test]
fn flood_control_refuses_and_does_not_forward_the_excess() {
    // A bucket of 3 that refills once every 1000 s: exactly 3 get through.
    let server = serve(&["--rate", "0.001", "--burst", "3"]);
    let alice = Member::joined(&server, "alice");
    let bob = Member::joined(&server, "bob");
    assert_eq!(alice.recv(), "JOINED bob");
    for i in 0..6 {
        bob.send(&format!("SAY m{i}"));
    }
    for i in 0..3 {
        assert_eq!(alice.recv(), format!("MSG bob m{i}"));
    }
    for _ in 3..6 {
        assert_eq!(bob.recv(), "ERR rate-limited");
    }
    alice.nothing_pending();
    bob.nothing_pending();
    // The limit is per member.
    alice.send("SAY mine");
    assert_eq!(bob.recv(), "MSG alice mine");
}

#[test]
fn rate_zero_turns_flood_control_off() {
    let server = serve(&["--rate", "0"]);
    let alice = Member::joined(&server, "alice");
    let bob = Member::joined(&server, "bob");
    assert_eq!(alice.recv(), "JOINED bob");
    for i in 0..200 {
        bob.send(&format!("SAY m{i}"));
        // Keep the sender in step with the receiver so no buffer overflows.
        assert_eq!(alice.recv(), format!("MSG bob m{i}"));
    }
    bob.nothing_pending();
}

#[test]
fn a_joining_member_gets_the_last_50_messages() {
    let server = serve(&["--rate", "0"]);
    let alice = Member::joined(&server, "alice");
    for i in 0..60 {
        alice.send(&format!("SAY message {i}"));
    }
    alice.nothing_pending();
    let bob = Member::new(&server);
    bob.send("JOIN bob");
    assert_eq!(bob.recv(), "OK bob");
    // The list and history follow the member's next datagram, which proves the
    // address is really its own (a forged JOIN gets one OK, not fifty messages).
    bob.send("PING");
    assert_eq!(bob.recv(), "MEMBERS alice bob");
    for i in 10..60 {
        assert_eq!(bob.recv(), format!("HISTORY alice message {i}"));
    }
    assert_eq!(bob.recv(), "PONG");
    bob.nothing_pending();
}

#[test]
fn fork_model_with_irc_is_a_usage_error() {
    let out = common::netkit(&[
        "chat",
        "serve",
        "--port",
        "0",
        "--irc-port",
        "0",
        "--model",
        "fork",
    ])
    .stderr(Stdio::piped())
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fork"));
}

#[test]
fn control_characters_never_reach_another_member() {
    let server = serve(&[]);
    let alice = Member::joined(&server, "alice");
    let mallory = Member::joined(&server, "mallory");
    assert_eq!(alice.recv(), "JOINED mallory");
    mallory
        .send_bytes(b"SAY \x1b]0;owned\x07\x1b[2J\r\nalice: give me your password\x7f\xc2\x9b\tok");
    let got = alice.recv();
    assert!(!got.chars().any(char::is_control), "{got:?}");
    assert_eq!(
        got,
        "MSG mallory \u{fffd}]0;owned\u{fffd}\u{fffd}[2J\u{fffd}\u{fffd}alice: give me your password\u{fffd}\u{fffd} ok"
    );
}

#[test]
fn a_join_flood_from_one_address_admits_its_burst_and_answers_no_more_than_it_got() {
    let server = serve(&["--join-burst", "5", "--join-rate", "0.01"]);
    let alice = Member::joined(&server, "alice");
    let floods: Vec<UdpSocket> = (0..50)
        .map(|i| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.send_to(format!("JOIN j{i:05}").as_bytes(), server.addr())
                .unwrap();
            s
        })
        .collect();
    // alice took one token; four more members from this address were let in.
    for _ in 0..4 {
        assert!(alice.recv().starts_with("JOINED j"));
    }
    alice.nothing_pending();
    // A padded JOIN is told why (the short ones were not answered at all).
    let late = Member::new(&server);
    late.send("JOIN late                      ");
    assert_eq!(late.recv(), "ERR rate-limited");
    alice.send("WHO");
    assert_eq!(alice.recv().split(' ').count(), 1 + 5, "alice and four");
    drop(floods);
}

/// The chat benches' measuring clients are hidden `netkit bench` subcommands
/// (run by bench/chat-fanout.sh and bench/chat-backplane.sh), not `chat` ones:
/// each counts every delivery through a real room.
#[test]
fn the_chat_benches_run_under_netkit_bench() {
    let server = serve(&["--rate", "0", "--join-rate", "0"]);
    let addr = server.addr().to_string();
    let run = |args: &[&str]| {
        let out = common::netkit(args).output().expect("run netkit");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stdout, stderr)
    };
    let fanout = ["bench", "chat-fanout", "--udp", &addr, "--members", "3"];
    let (code, line, err) = run(&[&fanout[..], &["--messages", "40"]].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(line.contains(" delivered=120 expected=120 "), "{line}");
    assert!(line.contains(" members_missing_messages=0 "), "{line}");

    let backplane = ["bench", "chat-backplane", "--udp", &addr, "--members", "3"];
    let (code, line, err) = run(&[&backplane[..], &["--messages", "40"]].concat());
    assert_eq!(code, Some(0), "{err}");
    assert!(
        line.starts_with("instances=1 members=3 messages=40 "),
        "{line}"
    );
    assert!(line.contains(" delivered=120 expected=120 "), "{line}");

    let (code, _, err) = run(&["chat", "fanout-bench", "--udp", &addr]);
    assert_eq!(code, Some(2), "no longer a chat subcommand: {err}");
}
