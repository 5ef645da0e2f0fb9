//! TCP basics: the seed's first "TCP的服务端" and 客户端 — `socket` → `bind` →
//! `listen` → `accept` → `recv`/`send` → `close`, and the client's `connect` —
//! rewritten as the homework asks to exchange messages continuously
//! ("将tcp交互程序改写为可以连续的收发消息").
//!
//! What the seed says about `recv`, visible here: it blocks while the receive
//! buffer is empty, and returns empty (0 bytes) once the other side has closed —
//! that is how the server knows the client left. TCP is a byte stream without
//! message boundaries (粘包, "sticky packets"), so each message ends with `\n` and
//! the reader splits on it (the seed's fix "每次发送后加一个结尾标志").
//!
//! Run: `cargo run -p netkit --example tcp_basics` (server thread + client, on
//! 127.0.0.1 and a free port), or in two terminals:
//! `... --example tcp_basics -- server 127.0.0.1:8888` and
//! `... --example tcp_basics -- client 127.0.0.1:8888` (type lines; EOF ends).
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

/// Serves one connected client: answers each line until recv returns empty.
fn serve_one(conn: TcpStream) -> std::io::Result<()> {
    let peer = conn.peer_addr()?;
    println!("server: connection from {peer}");
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut writer = conn;
    let mut line = String::new();
    for n in 1.. {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            println!(
                "server: recv returned empty, {peer} closed; {} message(s)",
                n - 1
            );
            return Ok(());
        }
        let text = line.trim_end();
        println!("server: got {text:?}");
        writer.write_all(format!("reply {n}: {text}\n").as_bytes())?;
    }
    Ok(())
}

/// Sends each line of `msgs` and prints the reply, then closes its sending side.
fn client(addr: &str, msgs: impl Iterator<Item = String>) -> std::io::Result<()> {
    let conn = TcpStream::connect(addr)?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut writer = &conn;
    let mut reply = String::new();
    for msg in msgs {
        writer.write_all(format!("{msg}\n").as_bytes())?;
        reply.clear();
        if reader.read_line(&mut reply)? == 0 {
            return Err(std::io::Error::other("server closed the connection"));
        }
        println!("client: {}", reply.trim_end());
    }
    // close() of the seed; shutdown(Write) first so the server sees EOF now.
    conn.shutdown(Shutdown::Write)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["server", addr] => {
            let listener = TcpListener::bind(addr)?;
            println!("tcp server on {}", listener.local_addr()?);
            // One client after another, like the seed's loop around accept().
            for conn in listener.incoming() {
                if let Err(e) = conn.and_then(serve_one) {
                    eprintln!("server: {e}");
                }
            }
        }
        ["client", addr] => {
            let lines = std::io::stdin().lock().lines().map_while(Result::ok);
            client(addr, lines)?;
        }
        [] => {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?.to_string();
            println!("tcp server on {addr}");
            let server =
                std::thread::spawn(move || listener.accept().and_then(|(c, _)| serve_one(c)));
            let msgs = ["hello", "how are you", "bye"].map(String::from);
            client(&addr, msgs.into_iter())?;
            server.join().map_err(|_| "server thread panicked")??;
            println!("done");
        }
        _ => {
            eprintln!("usage: tcp_basics [server ADDR | client ADDR]");
            std::process::exit(2);
        }
    }
    Ok(())
}
