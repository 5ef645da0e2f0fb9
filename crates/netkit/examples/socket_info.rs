//! Socket information: the seed's "网络相关概念" and "套接字属性" lessons —
//! `socket.gethostname()`, `gethostbyname`, `inet_aton` / `inet_ntoa`,
//! `getservbyname('mysql')`, and on a socket `s.family`, `s.type`, `s.fileno()`,
//! `s.getsockname()`, `s.getpeername()`, `s.setsockopt()` / `s.getsockopt()`.
//!
//! Rust equivalents: `nix::unistd::gethostname`; name resolution through
//! `ToSocketAddrs`, which calls the C library's `getaddrinfo` (the modern
//! `gethostbyname`); `Ipv4Addr::octets` / `Ipv4Addr::from([u8; 4])` are
//! `inet_aton` / `inet_ntoa`; the service table is the text file `/etc/services`
//! that `getservbyname` reads (a minimal system may not have it — then we say so);
//! `local_addr` / `peer_addr` are getsockname / getpeername; socket2 exposes the
//! socket options with typed setters and getters.
//!
//! Run: `cargo run -p netkit --example socket_info`
use socket2::Socket;
use std::net::{Ipv4Addr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;

/// `getservbyname(name, proto)`: the port of a named service from /etc/services.
fn getservbyname(name: &str, proto: &str) -> Result<Option<u16>, std::io::Error> {
    let table = std::fs::read_to_string("/etc/services")?;
    for line in table.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let (Some(service), Some(port_proto)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((port, p)) = port_proto.split_once('/') else {
            continue;
        };
        let aliases: Vec<&str> = fields.collect();
        if p == proto && (service == name || aliases.contains(&name)) {
            return Ok(port.parse().ok());
        }
    }
    Ok(None)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "gethostname: {}",
        nix::unistd::gethostname()?.to_string_lossy()
    );
    match ("localhost", 80).to_socket_addrs() {
        Ok(addrs) => {
            let ips: Vec<_> = addrs.map(|a| a.ip().to_string()).collect();
            println!("getaddrinfo(localhost): {}", ips.join(" "));
        }
        Err(e) => println!("getaddrinfo(localhost): failed ({e})"),
    }

    let ip: Ipv4Addr = "192.168.1.2".parse()?;
    let packed = ip.octets();
    println!("inet_aton(192.168.1.2) = {packed:02x?}");
    println!("inet_ntoa({packed:02x?}) = {}", Ipv4Addr::from(packed));

    for service in ["http", "ssh", "mysql"] {
        match getservbyname(service, "tcp") {
            Ok(Some(port)) => println!("getservbyname({service}/tcp) = {port}"),
            Ok(None) => println!("getservbyname({service}/tcp): not in /etc/services"),
            Err(e) => println!("getservbyname({service}/tcp): /etc/services unavailable ({e})"),
        }
    }

    // A connected pair on loopback, port 0 = "any free port".
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let server_addr = listener.local_addr()?;
    println!("listener getsockname: {server_addr}");
    let client = TcpStream::connect(server_addr)?;
    let (conn, accepted_from) = listener.accept()?;
    println!("client getsockname: {}", client.local_addr()?);
    println!("client getpeername: {}", client.peer_addr()?);
    println!("server conn getpeername: {}", conn.peer_addr()?);
    println!(
        "peer of the accepted socket is the client: {}",
        conn.peer_addr()? == client.local_addr()? && accepted_from == client.local_addr()?
    );
    println!(
        "fileno: listener {}, client {}, conn {}",
        listener.as_raw_fd(),
        client.as_raw_fd(),
        conn.as_raw_fd()
    );

    // setsockopt / getsockopt through socket2.
    let sock = Socket::from(client);
    println!("family: {:?}, type: {:?}", sock.domain()?, sock.r#type()?);
    println!("SO_REUSEADDR before: {}", sock.reuse_address()?);
    sock.set_reuse_address(true)?;
    println!("SO_REUSEADDR after setsockopt: {}", sock.reuse_address()?);
    sock.set_tcp_nodelay(true)?;
    println!("TCP_NODELAY after setsockopt: {}", sock.tcp_nodelay()?);
    sock.set_recv_buffer_size(65536)?;
    // Linux doubles the requested size to leave room for its own bookkeeping.
    println!(
        "SO_RCVBUF asked 65536, getsockopt says {}",
        sock.recv_buffer_size()?
    );
    Ok(())
}
