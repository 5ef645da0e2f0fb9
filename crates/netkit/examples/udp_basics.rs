//! UDP basics: the seed's "基于UDP的服务端编程" — `socket(AF_INET, SOCK_DGRAM)`,
//! `bind`, `recvfrom`, `sendto`, `close` — with the client sending messages
//! continuously (the homework "可以连续的收发消息").
//!
//! UDP has no connection (no listen/accept): every `recv_from` returns one whole
//! datagram and the address of whoever sent it, and the server replies with
//! `send_to` that address. Message boundaries are kept (no 粘包 "sticky packets" as
//! with TCP), but delivery is not guaranteed, so the client uses a read timeout
//! instead of waiting forever for a reply that may have been lost.
//!
//! Run: `cargo run -p netkit --example udp_basics` (server thread + client, on
//! 127.0.0.1 and a free port), or in two terminals:
//! `... --example udp_basics -- server 127.0.0.1:8888` and
//! `... --example udp_basics -- client 127.0.0.1:8888` (type lines; empty line ends).
use std::io::BufRead;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// Replies "ack <n>: <text>" to each datagram; stops after a "bye" datagram.
fn serve(sock: &UdpSocket) -> std::io::Result<()> {
    let mut buf = [0u8; 1024];
    for n in 1.. {
        let (len, from) = sock.recv_from(&mut buf)?;
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        println!("server: from {from}: {text}");
        sock.send_to(format!("ack {n}: {text}").as_bytes(), from)?;
        if text == "bye" {
            break;
        }
    }
    Ok(())
}

/// Sends one message and waits (bounded) for the reply.
fn exchange(sock: &UdpSocket, server: SocketAddr, msg: &str) -> std::io::Result<String> {
    sock.send_to(msg.as_bytes(), server)?;
    let mut buf = [0u8; 1024];
    let (len, _) = sock.recv_from(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf[..len]).into_owned())
}

fn client_socket() -> std::io::Result<UdpSocket> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(sock)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["server", addr] => {
            let sock = UdpSocket::bind(addr)?;
            println!("udp server on {}", sock.local_addr()?);
            serve(&sock)?;
        }
        ["client", addr] => {
            let server: SocketAddr = addr.parse()?;
            let sock = client_socket()?;
            for line in std::io::stdin().lock().lines() {
                let line = line?;
                if line.is_empty() {
                    break;
                }
                println!("{}", exchange(&sock, server, &line)?);
            }
        }
        [] => {
            let server_sock = UdpSocket::bind("127.0.0.1:0")?;
            let server = server_sock.local_addr()?;
            println!("udp server on {server}");
            let handle = std::thread::spawn(move || serve(&server_sock));
            let sock = client_socket()?;
            for msg in ["hello", "how are you", "bye"] {
                println!("client: got {:?}", exchange(&sock, server, msg)?);
            }
            handle.join().map_err(|_| "server thread panicked")??;
            println!("done");
        }
        _ => {
            eprintln!("usage: udp_basics [server ADDR | client ADDR]");
            std::process::exit(2);
        }
    }
    Ok(())
}
