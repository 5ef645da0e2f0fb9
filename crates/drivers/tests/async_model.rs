//! Tests of `--model async` on its own: a byte-exact echo with half-close from
//! eight clients, prompt shutdown of an idle client, and the sendfile path.
//! (The behaviours every model shares are in every_model.rs.)

use netkit_drivers::tokio::serve;
use netkit_drivers::{Config, Listener, Shutdown};
use netkit_proto::echo::EchoService;
use netkit_proto::{Service, Session};
use std::io::{Read, Write};
use std::net::{Shutdown as HowShutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn echoes_with_half_close_then_stops_on_shutdown() {
    let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new().unwrap();
    let config = Config {
        workers: 2,
        // Far longer than the test waits: shutdown must close idle clients itself.
        grace: Duration::from_secs(300),
        ..Config::default()
    };
    let (done_tx, done) = std::sync::mpsc::channel();
    {
        let shutdown = shutdown.clone();
        let service = Arc::new(EchoService::new(None));
        std::thread::spawn(move || {
            let _ = done_tx.send(serve(listener, service, &config, &shutdown));
        });
    }
    let clients: Vec<_> = (0..8u8)
        .map(|i| {
            std::thread::spawn(move || {
                let payload: Vec<u8> = (0..200_000u32).map(|n| (n as u8) ^ i).collect();
                let mut conn = TcpStream::connect(addr).unwrap();
                let writer = {
                    let (mut conn, payload) = (conn.try_clone().unwrap(), payload.clone());
                    std::thread::spawn(move || {
                        conn.write_all(&payload).unwrap();
                        conn.shutdown(HowShutdown::Write).unwrap();
                    })
                };
                let mut back = Vec::new();
                conn.read_to_end(&mut back).unwrap();
                writer.join().unwrap();
                assert!(back == payload, "client {i}: {} bytes back", back.len());
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // An idle client is closed by shutdown, not waited for until the grace ends.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    idle.read_exact(&mut one).unwrap();
    shutdown.trigger();
    let result = done.recv_timeout(Duration::from_secs(30));
    result
        .expect("serve returned before the grace period")
        .unwrap();
    assert_eq!(
        idle.read(&mut one).unwrap(),
        0,
        "server closed the idle client"
    );
}

/// Greets with a header, then one file range, then closes: the sendfile path.
struct FileService(Arc<std::fs::File>);

struct FileSession {
    file: Option<Arc<std::fs::File>>,
}

impl Service for FileService {
    type Session = FileSession;
    fn new_session(&self, _: Option<SocketAddr>, _: Instant) -> FileSession {
        FileSession {
            file: Some(Arc::clone(&self.0)),
        }
    }
}

impl Session for FileSession {
    fn handle_input(&mut self, _: Instant, _: &[u8]) -> usize {
        0
    }
    fn handle_eof(&mut self, _: Instant) {}
    fn handle_timeout(&mut self, _: Instant) {}
    fn handle_shutdown(&mut self, _: Instant) {}
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<netkit_proto::FileChunk> {
        let file = self.file.take()?;
        out.extend_from_slice(b"HDR\n");
        Some(netkit_proto::FileChunk {
            file,
            offset: 10,
            len: 1 << 20,
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn wants_read(&self) -> bool {
        false
    }
    fn is_done(&self) -> bool {
        self.file.is_none()
    }
}

#[test]
fn file_chunks_go_out_with_sendfile_after_the_bytes() {
    let path = std::env::temp_dir().join(format!("netkit-tokio-{}", std::process::id()));
    let content: Vec<u8> = (0..(1u32 << 20) + 100).map(|n| (n % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let file = Arc::new(std::fs::File::open(&path).unwrap());
    std::fs::remove_file(&path).unwrap();

    let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new().unwrap();
    let server = {
        let shutdown = shutdown.clone();
        std::thread::spawn(move || {
            serve(
                listener,
                Arc::new(FileService(file)),
                &Config::default(),
                &shutdown,
            )
        })
    };
    let mut back = Vec::new();
    TcpStream::connect(addr)
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    shutdown.trigger();
    server.join().unwrap().unwrap();
    assert_eq!(&back[..4], b"HDR\n");
    assert!(
        back[4..] == content[10..10 + (1 << 20)],
        "{} bytes",
        back.len()
    );
}
