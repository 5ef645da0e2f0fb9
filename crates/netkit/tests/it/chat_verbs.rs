//! The chat's verbs beyond SAY end to end: an action (`ME`), a rename (`NICK`)
//! and a private message (`TELL`) crossing between raw UDP members, `netkit
//! chat join` (`/me`, `/nick`, `/msg`, `/who`, `/help`, a 2,500-byte line
//! arriving whole as three messages), the Python `irc` package (CTCP ACTION,
//! NICK, PRIVMSG to a nick; history NOTICEs without CTCP bytes) and the web
//! front's POST endpoints and events. (Across servers: chat_backplane.rs.)

use crate::chat_irc::{expect_line, serve, Python, Udp};
use crate::chat_join::Client;
use crate::common::Server;
use crate::up_services::{addr, http, start_up};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

fn chat() -> Server {
    Server::start(&["chat", "serve", "--bind", "127.0.0.1", "--port", "0"])
}

/// Reads datagrams until one starts with `prefix`; returns it (bounded).
fn until_prefix(m: &Udp, prefix: &str) -> String {
    for _ in 0..100 {
        let got = m.recv();
        if got.starts_with(prefix) {
            return got;
        }
    }
    panic!("never got {prefix}…");
}

#[test]
fn raw_udp_members_act_rename_and_tell() {
    let server = chat();
    let alice = Udp::join(&server, "alice");
    let bob = Udp::join(&server, "bob");
    let carol = Udp::join(&server, "carol");
    alice.send("ME waves\u{1b}[2J");
    bob.expect("ME alice waves\u{fffd}[2J");
    carol.expect("ME alice waves\u{fffd}[2J");
    alice.send("NICK alicia");
    alice.expect("OK alicia bob carol");
    bob.expect("RENAMED alice alicia");
    carol.expect("RENAMED alice alicia");
    bob.send("NICK ALICIA                    ");
    bob.expect("ERR name-taken");
    bob.send("NICK two words");
    bob.expect("ERR bad-name");
    bob.send("TELL Alicia just between us");
    alice.expect("TOLD bob just between us");
    bob.send("TELL nobody hello?");
    bob.expect("ERR no-such-member");
    // Carol heard neither the private message nor the refusals: her next
    // datagram after a message from alice is that message.
    alice.send("SAY after");
    assert_eq!(carol.recv(), "MSG alicia after");
    // A newcomer gets the action in its history, as an action.
    let late = UdpSocket::bind("127.0.0.1:0").unwrap();
    late.connect(server.addr()).unwrap();
    late.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    late.send(b"JOIN erin").unwrap();
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    late.send(b"PING").unwrap();
    while !got.iter().any(|g| g == "PONG") && got.len() < 20 {
        let n = late.recv(&mut buf).unwrap();
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(
        got.contains(&"HISTORY-ME alice waves\u{fffd}[2J".to_owned()),
        "{got:?}"
    );
}

#[test]
fn chat_join_speaks_the_verbs_and_splits_long_lines() {
    let server = chat();
    let bob = Udp::join(&server, "bob");
    let mut alice = Client::start(&server, "alice");
    alice.expect("joined as alice");
    alice.expect("members: alice, bob");
    bob.expect("JOINED alice");

    alice.type_line("/help");
    alice.expect("/msg NAME TEXT    a private message to NAME alone");
    alice.type_line("/me waves");
    bob.expect("ME alice waves");
    bob.send("ME bows");
    alice.expect("* bob bows");
    alice.type_line("/msg bob psst");
    alice.expect("[to bob] psst");
    bob.expect("TOLD alice psst");
    bob.send("TELL alice hush");
    alice.expect("[private] bob: hush");
    alice.type_line("/nick alicia");
    alice.expect("you are now known as alicia");
    bob.expect("RENAMED alice alicia");
    bob.send("NICK robert");
    alice.expect("bob is now known as robert");
    alice.type_line("/nick robert");
    alice.expect("! the name robert is taken");
    alice.type_line("/who");
    alice.expect("members: alicia, robert");
    alice.type_line("/dance");
    alice.expect("! unknown command /dance (try /help)");

    // 2,500 bytes typed at once (multi-byte characters across the cuts)
    // arrive as three messages that make the line again.
    let line: String = "é€a".repeat(2500 / 6) + &"x".repeat(2500 % 6);
    assert_eq!(line.len(), 2500);
    alice.type_line(&line);
    let mut texts = Vec::new();
    for _ in 0..3 {
        let msg = until_prefix(&bob, "MSG alicia ");
        texts.push(msg["MSG alicia ".len()..].to_owned());
    }
    assert!(
        texts.iter().all(|t| t.len() <= 1000),
        "{:?}",
        texts.iter().map(String::len).collect::<Vec<_>>()
    );
    assert_eq!(texts.concat(), line);

    alice.type_line("/quit");
    bob.expect("LEFT alicia");
    assert_eq!(alice.wait(), Some(0));
}

#[test]
fn irc_chat_join_and_udp_cross_actions_renames_and_private_messages() {
    let (server, irc, _operator) = serve("epoll");
    let bob = Udp::join(&server, "bob");
    bob.send("ME waved before anyone came");
    let mut alice = Client::start(&server, "alice");
    alice.expect("[history] * bob waved before anyone came");
    let mut py = Python::start(irc, "pyirc");
    expect_line(&py.lines, "own JOIN", |l| l == "JOINED pyirc #netkit");
    // History as a plain NOTICE: no CTCP byte in it.
    expect_line(&py.lines, "the action in the history", |l| {
        l == "PUBNOTICE [history] * bob waved before anyone came"
    });
    bob.expect("JOINED pyirc");
    alice.expect("pyirc joined");

    // Actions: IRC → UDP and join, join → IRC, UDP → IRC.
    writeln!(py.stdin, "me waves from irc").unwrap();
    bob.expect("ME pyirc waves from irc");
    alice.expect("* pyirc waves from irc");
    alice.type_line("/me waves from the terminal");
    expect_line(&py.lines, "alice's action", |l| {
        l == "ACTION alice waves from the terminal"
    });
    bob.send("ME bows");
    expect_line(&py.lines, "bob's action", |l| l == "ACTION bob bows");

    // Renames: IRC's NICK is heard as RENAMED, the others' as NICK.
    writeln!(py.stdin, "nick pyirc2").unwrap();
    expect_line(&py.lines, "own NICK", |l| l == "NICK pyirc pyirc2");
    bob.expect("RENAMED pyirc pyirc2");
    alice.expect("pyirc is now known as pyirc2");
    alice.type_line("/nick alicia");
    expect_line(&py.lines, "alice's NICK", |l| l == "NICK alice alicia");
    writeln!(py.stdin, "nick bob").unwrap();
    expect_line(&py.lines, "433", |l| l == "NICKINUSE");

    // Private messages: to one member each, from every side.
    writeln!(py.stdin, "msg alicia from irc to you").unwrap();
    alice.expect("[private] pyirc2: from irc to you");
    alice.type_line("/msg pyirc2 from the terminal to you");
    expect_line(&py.lines, "alice's private message", |l| {
        l == "PRIVMSG alicia from the terminal to you"
    });
    bob.send("TELL pyirc2 from udp to you");
    expect_line(&py.lines, "bob's private message", |l| {
        l == "PRIVMSG bob from udp to you"
    });
    writeln!(py.stdin, "msg bob from irc to bob").unwrap();
    bob.expect("TOLD pyirc2 from irc to bob");

    writeln!(py.stdin, "quit").unwrap();
    bob.expect("LEFT pyirc2");
    alice.type_line("/quit");
    bob.expect("LEFT alicia");
    assert_eq!(alice.wait(), Some(0));
}

#[test]
fn the_web_front_acts_renames_and_tells() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addrs) = start_up(dir.path(), &["--no-tftp", "--no-files"]);
    let h = addr(&addrs, "http");
    let post = |path: &str, body: &str| {
        http(
            h,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let (status, _, body) = post("/_netkit/chat/join", "webby");
    assert_eq!(status, 200);
    let token = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut sse = TcpStream::connect(h).unwrap();
    sse.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        sse,
        "GET /_netkit/chat/events?token={token} HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut sse = BufReader::new(sse);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut data_after = |event: &str| -> String {
        let mut line = String::new();
        while line != format!("event: {event}\n") && Instant::now() < deadline {
            line.clear();
            sse.read_line(&mut line).unwrap();
        }
        line.clear();
        sse.read_line(&mut line).unwrap();
        line
    };
    data_after("welcome");

    let chat = addr(&addrs, "chat");
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(chat).unwrap();
    let dgram = Udp::from_socket(udp);
    dgram.send("JOIN dgram");
    until_prefix(&dgram, "OK dgram");
    dgram.send("PING");
    dgram.expect("PONG");

    let q = format!("?token={token}");
    assert_eq!(post(&format!("/_netkit/chat/me{q}"), "waves").0, 204);
    dgram.expect("ME webby waves");
    assert_eq!(post(&format!("/_netkit/chat/tell{q}"), "dgram psst").0, 204);
    dgram.expect("TOLD webby psst");
    assert_eq!(post(&format!("/_netkit/chat/tell{q}"), "nobody hi").0, 404);
    let (status, _, body) = post(&format!("/_netkit/chat/nick{q}"), "webster");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    dgram.expect("RENAMED webby webster");
    assert_eq!(post(&format!("/_netkit/chat/nick{q}"), "dgram").0, 409);

    dgram.send("ME bows");
    assert_eq!(
        data_after("action"),
        "data: {\"name\":\"dgram\",\"text\":\"bows\"}\n"
    );
    dgram.send("TELL webster hush");
    assert_eq!(
        data_after("told"),
        "data: {\"from\":\"dgram\",\"text\":\"hush\"}\n"
    );
    dgram.send("NICK datagram");
    until_prefix(&dgram, "OK ");
    assert_eq!(
        data_after("renamed"),
        "data: {\"new\":\"datagram\",\"old\":\"dgram\"}\n"
    );
}
