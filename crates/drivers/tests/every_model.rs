//! Driver behaviours every model must share, checked under all nine models
//! with small in-process test services over real sockets on 127.0.0.1:0:
//!
//! - wake-ups: a session woken from another thread (a hub that another
//!   connection talks to, or a thread of its own) delivers to an idle client;
//! - re-offered input: a session that takes one line per call and stops
//!   reading while its reply is unsent still answers every pipelined line, and
//!   the driver does not spin on an incomplete one;
//! - lingering close: a session that answers and finishes while the client is
//!   still sending must not have its answer destroyed by a reset;
//! - output a session hands out over several `poll_transmit` calls is all
//!   sent before the driver waits for the peer, and file ranges (sendfile)
//!   follow their header bytes, pipelined requests answered in order.
//!
//! Under `fork` the services run in child processes: the hub is per process,
//! so only the wake from the session's own thread is tested there (the
//! documented limit), and fork servers run one at a time because each reaps
//! with `waitpid(-1)`.

mod common;
mod services;

use netkit_drivers::{Config, Listener, Model, Shutdown};
use netkit_proto::Service;
use services::{AnswerFirst, FileRanges, Hub, OneLine, Pieces};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown as How, SocketAddr, TcpStream};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};

use std::time::Duration;

/// Every blocking call in these tests gives up after this long.
const BOUND: Duration = Duration::from_secs(30);

/// Fork servers reap any child (`waitpid(-1)`), so only one runs at a time.
static FORK: Mutex<()> = Mutex::new(());

struct Server {
    addr: SocketAddr,
    /// Every listener's address (`addr` is the first).
    addrs: Vec<SocketAddr>,
    shutdown: Shutdown,
    done: mpsc::Receiver<io::Result<()>>,
    _fork: Option<MutexGuard<'static, ()>>,
}

impl Server {
    fn start<S: Service>(model: Model, service: S) -> Server {
        Server::start_on(model, service, &["127.0.0.1:0"])
    }

    /// A server with a listener on each of `binds`.
    fn start_on<S: Service>(model: Model, service: S, binds: &[&str]) -> Server {
        let fork = (model == Model::Fork).then(|| FORK.lock().unwrap_or_else(|e| e.into_inner()));
        let listeners: Vec<Listener> = binds
            .iter()
            .map(|b| Listener::bind_tcp(b.parse().unwrap()).unwrap())
            .collect();
        let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        let addr = addrs[0];
        let shutdown = Shutdown::new().unwrap();
        let (tx, done) = mpsc::channel();
        let signal = shutdown.clone();
        let config = Config {
            workers: 2,
            grace: Duration::from_secs(5),
            send_timeout: BOUND,
        };
        std::thread::spawn(move || {
            let result =
                netkit_drivers::serve(model, listeners, Arc::new(service), &config, &signal);
            let _ = tx.send(result);
        });
        Server {
            addr,
            addrs,
            shutdown,
            done,
            _fork: fork,
        }
    }

    fn connect(&self) -> TcpStream {
        self.connect_to(self.addr)
    }

    fn connect_to(&self, addr: SocketAddr) -> TcpStream {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
        s.set_write_timeout(Some(BOUND)).unwrap();
        s
    }

    fn stop(self) {
        self.shutdown.trigger();
        let result = self.done.recv_timeout(BOUND).expect("server did not stop");
        result.expect("serve failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// Reads one line (without the newline), failing the test on EOF or error.
fn line(r: &mut impl BufRead, what: &str) -> String {
    let mut s = String::new();
    match r.read_line(&mut s) {
        Ok(0) => panic!("{what}: EOF instead of a line"),
        Ok(_) => s.trim_end_matches('\n').to_owned(),
        Err(e) => panic!("{what}: {e} (after {s:?})"),
    }
}

/// An idle member hears what another connection says, promptly and in order,
/// even when many lines arrive at once (wakes merged, nothing lost), and the
/// wakers of members who left reach nobody.
fn hub_pushes_to_an_idle_client(model: Model) {
    let server = Server::start(model, Hub::default());
    // Members who joined and left: their wakers stay in the hub and are called
    // for every line, after their connections (and slots) are gone.
    for _ in 0..3 {
        let mut ghost = BufReader::new(server.connect());
        ghost.get_mut().write_all(b"join\n").unwrap();
        assert_eq!(line(&mut ghost, "ghost join"), "joined");
    }
    let mut idle = BufReader::new(server.connect());
    idle.get_mut().write_all(b"join\n").unwrap();
    assert_eq!(line(&mut idle, "join"), "joined");
    // `idle` now waits in read: only a wake-up can bring it more.
    let mut talker = BufReader::new(server.connect());
    let said: String = (0..200).map(|i| format!("say line {i}\n")).collect();
    talker.get_mut().write_all(said.as_bytes()).unwrap();
    for i in 0..200 {
        assert_eq!(line(&mut idle, model.name()), format!("line {i}"));
    }
    for _ in 0..200 {
        assert_eq!(line(&mut talker, "said"), "said");
    }
    drop((idle, talker));
    server.stop();
}

/// A thread of the session's own (inside the serving process, so this holds
/// under fork too) pushes a line to an idle client.
fn own_thread_wakes_an_idle_client(model: Model) {
    let server = Server::start(model, Hub::default());
    let mut client = BufReader::new(server.connect());
    client.get_mut().write_all(b"later hello\n").unwrap();
    assert_eq!(line(&mut client, "later"), "ok");
    assert_eq!(line(&mut client, model.name()), "hello");
    client.get_mut().write_all(b"later again\n").unwrap();
    assert_eq!(line(&mut client, "later"), "ok");
    assert_eq!(line(&mut client, model.name()), "again");
    drop(client);
    server.stop();
}

/// Pipelined lines, one taken per call while the reply is unsent: every line
/// is answered without the client sending more; an incomplete line is not
/// spun on (few calls that consume nothing).
fn leftover_input_is_offered_again(model: Model) {
    let server = Server::start(model, OneLine);
    let mut client = BufReader::new(server.connect());
    let lines: String = (0..100).map(|i| format!("l{i}\n")).collect();
    client.get_mut().write_all(lines.as_bytes()).unwrap();
    client.get_mut().write_all(b"part").unwrap();
    for i in 0..100 {
        assert_eq!(line(&mut client, model.name()), format!("l{i}"));
    }
    client.get_mut().write_all(b"ial\nstats\n").unwrap();
    assert_eq!(line(&mut client, "partial"), "partial");
    let stats = line(&mut client, "stats");
    let idle_calls: usize = stats
        .strip_prefix("idle-calls ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad stats line {stats:?}"));
    assert!(
        idle_calls <= 10,
        "{model}: {idle_calls} handle_input calls consumed nothing (spinning?)"
    );
    drop(client);
    server.stop();
}

/// A server given several listeners (`--bind` twice) serves on every one,
/// IPv4 and IPv6, round after round: none is starved by another.
fn several_listeners_are_all_served(model: Model) {
    let server = Server::start_on(model, OneLine, &["127.0.0.1:0", "[::1]:0"]);
    for round in 0..3 {
        for &addr in &server.addrs {
            let mut client = BufReader::new(server.connect_to(addr));
            client.get_mut().write_all(b"hello\n").unwrap();
            assert_eq!(
                line(&mut client, &format!("{model} {addr} round {round}")),
                "hello"
            );
        }
    }
    server.stop();
}

/// A session that panics (a protocol bug) costs its own connection only:
/// after several such connections, new clients on every worker are served.
fn a_panicking_session_costs_only_its_connection(model: Model) {
    let server = Server::start(model, OneLine);
    for round in 0..6 {
        let mut doomed = server.connect();
        doomed.write_all(b"panic\n").unwrap();
        let mut rest = Vec::new();
        // EOF or a reset: either way nothing is answered.
        let _ = doomed.read_to_end(&mut rest);
        assert!(
            rest.is_empty(),
            "{model}: a panicked session answered {rest:?}"
        );
        let mut client = BufReader::new(server.connect());
        client.get_mut().write_all(b"still here\n").unwrap();
        assert_eq!(
            line(&mut client, &format!("{model} round {round}")),
            "still here"
        );
    }
    server.stop();
}

/// The session answers its first line with 256 KiB and is done while the
/// client is still sending a megabyte: the client must read the whole answer
/// and then EOF, not a reset.
fn answer_survives_unread_input(model: Model) {
    let server = Server::start(model, AnswerFirst);
    for round in 0..3 {
        let mut client = server.connect();
        let mut writer = client.try_clone().unwrap();
        let sending = std::thread::spawn(move || {
            let mut data = b"go\n".to_vec();
            data.resize(1 << 20, b'x');
            // Errors are the point of failure being tested, reported by the reader.
            let _ = writer.write_all(&data);
            let _ = writer.shutdown(How::Write);
        });
        let mut got = Vec::new();
        let result = client.read_to_end(&mut got);
        let _ = sending.join();
        if let Err(e) = result {
            panic!("{model} round {round}: {e} after {} bytes", got.len());
        }
        assert!(
            got == services::answer(),
            "{model} round {round}: got {} bytes",
            got.len()
        );
    }
    server.stop();
}

/// Output produced over several `poll_transmit` calls (one line each) is all
/// sent before the driver waits for the peer again.
fn output_in_several_calls_is_all_sent(model: Model) {
    let server = Server::start(model, Pieces);
    let mut client = BufReader::new(server.connect());
    for round in [3, 1000] {
        client
            .get_mut()
            .write_all(format!("{round}\n").as_bytes())
            .unwrap();
        for i in 0..round {
            assert_eq!(line(&mut client, model.name()), format!("piece {i}"));
        }
    }
    drop(client);
    server.stop();
}

/// Pipelined requests for file ranges, answered one at a time, each a header
/// then the range through sendfile, byte-exact and in order.
fn file_ranges_follow_their_headers_pipelined(model: Model) {
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let path = std::env::temp_dir().join(format!(
        "netkit-every-model-{}-{}",
        std::process::id(),
        model.name()
    ));
    std::fs::write(&path, &content).unwrap();
    let file = Arc::new(std::fs::File::open(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    let server = Server::start(model, FileRanges(file));
    let ranges = [(0, 10), (5, 250_000), (100, 0), (299_000, 1000), (7, 1)];
    let mut expected = Vec::new();
    let mut requests = String::new();
    for (offset, len) in ranges {
        requests.push_str(&format!("{offset} {len}\n"));
        expected.extend_from_slice(format!("range {offset} {len}\n").as_bytes());
        expected.extend_from_slice(&content[offset..offset + len]);
    }
    let mut client = server.connect();
    let mut writer = client.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        writer.write_all(requests.as_bytes())?;
        writer.shutdown(How::Write)
    });
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    sending.join().unwrap().unwrap();
    assert!(
        got == expected,
        "{model}: got {} bytes, want {}",
        got.len(),
        expected.len()
    );
    server.stop();
}

// The hub needs two connections served at once and one shared service:
// not `iterative` (one client at a time) nor `fork` (a hub per process).
common::every_model! {
    own_thread_wakes_an_idle_client,
    leftover_input_is_offered_again,
    output_in_several_calls_is_all_sent,
    file_ranges_follow_their_headers_pipelined,
    answer_survives_unread_input,
    several_listeners_are_all_served,
    a_panicking_session_costs_only_its_connection,
    hub_pushes_to_an_idle_client: [thread, pool, select, poll, epoll, r#async],
}
