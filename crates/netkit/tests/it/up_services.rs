//! `netkit up`: all five services at once on port 0, each answered by its own
//! real client (curl for HTTP and TFTP, `netkit files ls`, a raw UDP JOIN, a
//! raw IRC NICK/USER), sharing one folder and one room; the web app's routes;
//! and `up` called as a library function.

use crate::common;

use common::{netkit, up_addrs, up_args, Server};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

/// `netkit up DIR` on 127.0.0.1, every port 0, and its five addresses by name.
pub(crate) fn start_up(
    dir: &std::path::Path,
    extra: &[&str],
) -> (Server, Vec<(String, SocketAddr)>) {
    let server = Server::start(&up_args(dir.to_str().unwrap(), extra));
    let addrs = up_addrs(&server);
    (server, addrs)
}

pub(crate) fn addr(addrs: &[(String, SocketAddr)], name: &str) -> SocketAddr {
    addrs
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {addrs:?}"))
        .1
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run a client");
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// One raw HTTP/1.1 exchange with `Connection: close`: (status, head, body).
pub(crate) fn http(addr: SocketAddr, request: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let at = reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&reply[..at]).into_owned();
    let status = head[9..12].parse().unwrap();
    (status, head, reply[at + 4..].to_vec())
}

#[test]
fn up_serves_all_five_services_to_their_real_clients() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from netkit up\n").unwrap();
    let (server, addrs) = start_up(dir.path(), &["--upload"]);
    let names: Vec<&str> = addrs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["http", "files", "tftp", "chat", "irc"]);

    // HTTP: curl fetches the file, and the web app is at / (no index.html).
    let http_addr = addr(&addrs, "http");
    let got = run(Command::new("curl").args(["-sSf", &format!("http://{http_addr}/hello.txt")]));
    assert_eq!(got, "hello from netkit up\n");
    let page = run(Command::new("curl").args(["-sSf", &format!("http://{http_addr}/")]));
    assert!(page.contains("/_netkit/app.js"), "{page}");

    // The file server: netkit files ls.
    let files_addr = addr(&addrs, "files").to_string();
    let listing = run(&mut netkit(&["files", "ls", &files_addr]));
    assert!(listing.contains("hello.txt"), "{listing}");

    // TFTP: curl tftp://.
    let tftp_addr = addr(&addrs, "tftp");
    let got = run(Command::new("curl").args(["-sSf", &format!("tftp://{tftp_addr}/hello.txt")]));
    assert_eq!(got, "hello from netkit up\n");

    // Chat: a raw UDP JOIN is welcomed.
    let chat_addr = addr(&addrs, "chat");
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    udp.send_to(b"JOIN udpuser", chat_addr).unwrap();
    let mut buf = [0u8; 2048];
    let n = udp.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"OK udpuser");
    // Its second datagram confirms the address: the member list follows.
    udp.send_to(b"PING", chat_addr).unwrap();
    let n = udp.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"MEMBERS udpuser");
    let n = udp.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"PONG");

    // IRC: NICK/USER gets the welcome, and the IRC member is in the same room.
    let irc = TcpStream::connect(addr(&addrs, "irc")).unwrap();
    irc.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut irc_in = BufReader::new(irc.try_clone().unwrap());
    (&irc)
        .write_all(b"NICK ircuser\r\nUSER u 0 * :Raw Client\r\nJOIN #netkit\r\n")
        .unwrap();
    let mut saw_welcome = false;
    let mut line = String::new();
    for _ in 0..50 {
        line.clear();
        irc_in.read_line(&mut line).unwrap();
        saw_welcome |= line.contains(" 001 ircuser ");
        if line.contains(" 366 ") {
            break; // end of NAMES: joined
        }
    }
    assert!(saw_welcome, "no 001 welcome");
    let n = udp.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"JOINED ircuser");
    udp.send_to(b"SAY hello irc", chat_addr).unwrap();
    for _ in 0..50 {
        line.clear();
        irc_in.read_line(&mut line).unwrap();
        if line.contains("PRIVMSG") {
            break;
        }
    }
    assert!(line.contains("PRIVMSG #netkit :hello irc"), "{line}");

    assert_eq!(server.terminate(), Some(0), "SIGTERM stops every service");
}

#[test]
fn the_web_app_steps_aside_for_an_index_html_and_json_listings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "my own page").unwrap();
    let (server, addrs) = start_up(dir.path(), &["--no-tftp"]);
    let _ = server;
    let h = addr(&addrs, "http");
    let get = |path: &str, extra: &str| {
        http(
            h,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"),
        )
    };
    assert_eq!(get("/", "").2, b"my own page");
    let (status, head, body) = get("/_netkit/", "");
    assert_eq!(status, 200);
    assert!(head.contains("text/html"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("netkit"));
    let (status, head, _) = get("/_netkit/app.js", "");
    assert_eq!(status, 200);
    assert!(head.contains("text/javascript"), "{head}");
    let (status, _, body) = get("/_netkit/settings", "");
    assert_eq!(status, 200);
    let settings: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(settings["upload"], false);
    assert_eq!(settings["chat"], true);
    assert_eq!(settings["ports"]["http"], h.port());
    assert_eq!(get("/_netkit/nope", "").0, 404);
    assert_eq!(get("/_netkit/../etc/passwd", "").0, 400);
    // The page's listing works in a folder with an index.html too.
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join(".secret"), "x").unwrap();
    let (status, _, body) = get("/_netkit/ls?path=/", "");
    assert_eq!(status, 200);
    let listing: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let names: Vec<&str> = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sub", "index.html"], "folders first, no dotfiles");
    assert_eq!(get("/_netkit/ls?path=/../", "").0, 400);
    assert_eq!(get("/_netkit/ls?path=/nope/", "").0, 404);
}

/// The web chat under every model that can share the room (the stream is
/// woken from the UDP loop's thread, through each driver's wake-up path).
fn web_chat_members_are_known_by_token_and_hear_the_room_as_events(model: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addrs) = start_up(dir.path(), &["--model", model, "--no-tftp", "--no-files"]);
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
    assert_eq!(
        post("/_netkit/chat/join", "WEBBY").0,
        409,
        "names are unique"
    );
    assert_eq!(post("/_netkit/chat/say?token=forged", "hi").0, 404);

    // The stream: a UDP member's words arrive as an event.
    let mut sse = TcpStream::connect(h).unwrap();
    sse.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        sse,
        "GET /_netkit/chat/events?token={token} HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut sse = BufReader::new(sse);
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains("event: welcome") && Instant::now() < deadline {
        sse.read_line(&mut seen).unwrap();
    }
    assert!(seen.contains("text/event-stream"), "{seen}");

    let chat_addr = addr(&addrs, "chat");
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    udp.send_to(b"JOIN dgram", chat_addr).unwrap();
    let mut buf = [0u8; 2048];
    let n = udp.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"OK dgram");
    udp.send_to(b"PING", chat_addr).unwrap();
    let n = udp.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"MEMBERS dgram webby");
    let n = udp.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"PONG");
    udp.send_to(b"SAY hello browser", chat_addr).unwrap();
    let mut line = String::new();
    while !line.contains("hello browser") && Instant::now() < deadline {
        line.clear();
        sse.read_line(&mut line).unwrap();
    }
    assert_eq!(
        line,
        "data: {\"name\":\"dgram\",\"text\":\"hello browser\"}\n"
    );

    assert_eq!(
        post(&format!("/_netkit/chat/say?token={token}"), "hi dgram").0,
        204
    );
    let n = udp.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"MSG webby hi dgram");

    // Closing the stream is leaving the room.
    drop(sse);
    let n = udp.recv(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"LEFT webby"), "{:?}", &buf[..n]);
}

#[test]
fn up_is_a_library_function() {
    use netkit::up::{Up, UpConfig};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.txt"), "x").unwrap();
    let mut config = UpConfig::new(dir.path().to_owned());
    config.bind = vec!["127.0.0.1".parse().unwrap()];
    config.http_port = Some(0);
    config.files_port = None;
    config.tftp_port = Some(0);
    config.chat_port = Some(0);
    config.irc_port = None;
    let up = Up::bind(config).unwrap();
    let lines = up.ready_lines().unwrap();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("http listening on http://127.0.0.1:"));
    let http_port = up.ports()[0].1;
    let shutdown = netkit_drivers::Shutdown::new().unwrap();
    let stopper = shutdown.clone();
    let served = std::thread::spawn(move || up.run(&shutdown));
    let (status, _, body) = http(
        SocketAddr::from(([127, 0, 0, 1], http_port)),
        "GET /x.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((status, body.as_slice()), (200, &b"x"[..]));
    stopper.trigger();
    served.join().unwrap().expect("a clean stop");
}

#[test]
fn fork_cannot_share_the_room() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::netkit_bin())
        .args(["up", dir.path().to_str().unwrap(), "--model", "fork"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("fork"));
}

#[test]
fn the_iterative_model_serves_the_page_without_its_chat() {
    // An open page's event stream would hold the only connection served.
    let dir = tempfile::tempdir().unwrap();
    let (_server, addrs) = start_up(dir.path(), &["--model", "iterative"]);
    let h = addr(&addrs, "http");
    let (status, _, body) = http(
        h,
        "GET /_netkit/settings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    let settings: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(settings["chat"], false);
    assert_eq!(settings["model"], "iterative");
    let (status, _, _) = http(
        h,
        "POST /_netkit/chat/join HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
    );
    assert_eq!(status, 404);
}

/// The web page's state-changing routes answer only the page's own origin
/// (a cross-site `text/plain` POST needs no preflight, so only the server can
/// refuse it); files from the share are sandboxed and the page's own assets
/// are not; the counters live under /_netkit/, beside a real `api/stats`.
#[test]
fn the_web_page_refuses_other_origins_and_sandboxes_the_share() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.html"), "<script>1</script>").unwrap();
    std::fs::create_dir(dir.path().join("api")).unwrap();
    std::fs::write(dir.path().join("api/stats"), "a real file").unwrap();
    // An index.html that is a folder does not hide the page.
    std::fs::create_dir(dir.path().join("index.html")).unwrap();
    let (server, addrs) = start_up(dir.path(), &["--upload", "--no-tftp", "--no-files"]);
    let h = addr(&addrs, "http");
    let host = format!("Host: {h}\r\n");
    let same = format!("Origin: http://{h}\r\n");
    let send = |method: &str, path: &str, headers: &str, body: &str| {
        http(
            h,
            &format!(
                "{method} {path} HTTP/1.1\r\n{host}{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let plain = "Content-Type: text/plain\r\n";
    for evil in [
        "Origin: http://evil.example\r\n",
        "Origin: null\r\n",
        "Sec-Fetch-Site: cross-site\r\n",
    ] {
        let (status, _, body) = send(
            "POST",
            "/_netkit/chat/join",
            &format!("{plain}{evil}"),
            "mallory",
        );
        assert_eq!(status, 403, "{evil}: {}", String::from_utf8_lossy(&body));
        let (status, _, _) = send("PUT", "/evil.txt", evil, "x");
        assert_eq!(status, 403, "{evil}");
    }
    assert!(!dir.path().join("evil.txt").exists());
    let (status, _, body) = send(
        "POST",
        "/_netkit/chat/join",
        &format!("{plain}{same}"),
        "alice",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let token: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(token["token"].is_string(), "{token}");
    assert_eq!(send("PUT", "/mine.txt", &same, "mine").0, 201);
    // Without --overwrite nothing is removed, from any origin.
    assert_eq!(send("DELETE", "/mine.txt", &same, "").0, 403);
    assert_eq!(send("DELETE", "/mine.txt", "", "").0, 403);
    assert!(dir.path().join("mine.txt").exists());

    let get = |path: &str| {
        http(
            h,
            &format!("GET {path} HTTP/1.1\r\n{host}Connection: close\r\n\r\n"),
        )
    };
    for path in ["/page.html", "/mine.txt"] {
        let (status, head, _) = get(path);
        assert_eq!(status, 200);
        assert!(
            head.contains("\r\nX-Content-Type-Options: nosniff"),
            "{head}"
        );
        assert!(
            head.contains("\r\nContent-Security-Policy: sandbox allow-scripts"),
            "{head}"
        );
    }
    for path in ["/", "/_netkit/app.js", "/_netkit/settings"] {
        let (status, head, body) = get(path);
        assert_eq!(status, 200, "{path}");
        assert!(
            head.contains("\r\nX-Content-Type-Options: nosniff"),
            "{head}"
        );
        assert!(!head.contains("Content-Security-Policy"), "{path}: {head}");
        if path == "/" {
            assert!(String::from_utf8_lossy(&body).contains("/_netkit/app.js"));
        }
    }
    let (status, _, body) = get("/_netkit/stats");
    assert_eq!(status, 200);
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(stats["requests"].is_number(), "{stats}");
    assert_eq!(stats["chat_room"], "alone", "{stats}");
    assert_eq!(get("/api/stats").2, b"a real file");
    assert_eq!(server.terminate(), Some(0));
}

common::every_model! {
    web_chat_members_are_known_by_token_and_hear_the_room_as_events:
        [epoll, thread, pool, select, poll, r#async, uring],
}
