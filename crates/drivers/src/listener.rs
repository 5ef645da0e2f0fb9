//! Listening sockets and accepted connections, TCP or Unix, behind one type each.
//!
//! Drivers are written against [`Listener`] and [`Conn`], so every model serves a
//! Unix stream socket (`echo serve --unix PATH`) exactly as it serves TCP.
//! TCP listeners are bound with SO_REUSEADDR (restart without waiting for
//! TIME_WAIT), SO_REUSEPORT (so the epoll model can open one listener per
//! worker on the same port and let the kernel spread connections) and
//! TCP_NODELAY, which accepted sockets inherit. Accepting is one `accept4`
//! call that also sets close-on-exec and, for the readiness loops, O_NONBLOCK.
//!
//! SO_REUSEPORT lets any process of the same user join a port's group, so a
//! second netkit on a busy port would start and take half its connections.
//! A new listener therefore checks two things between `bind` and `listen`:
//!
//! - [`port_guard`], against other netkits: an abstract-namespace Unix socket
//!   named after the protocol and port. Binding a name is atomic and the
//!   kernel frees it when the last descriptor closes (the process exits or
//!   dies), so of two netkits racing for a port exactly one gets the guard,
//!   and the other fails with `AddrInUse` before it ever listens.
//! - a probe, against everyone else (netcat-openbsd, for one, listens with
//!   SO_REUSEPORT too): a socket with SO_REUSEADDR but no SO_REUSEPORT bound
//!   to the same address. Linux refuses it when any socket listens there (or
//!   on an overlapping wildcard), and allows it beside our own socket that is
//!   bound but not yet listening and beside left-over TIME_WAIT connections.
//!
//! A listener on `::` is dual-stack (IPV6_V6ONLY off): it serves IPv4 too.
//!
//! A protocol whose client speaks first (HTTP) can ask for TCP_DEFER_ACCEPT
//! ([`Listener::defer_accept`]), as nginx's `deferred` and h2o do: the kernel
//! then hands a connection to `accept` only once its first bytes are there, so
//! a worker wakes once per connection, with its request ready to read.

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::io::{self, Read, Write};
use std::net::{Shutdown as HowShutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Connections the kernel queues before `accept` (it caps this at somaxconn).
const BACKLOG: i32 = 4096;

/// A bound, listening stream socket.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix stream listener, with the path it is bound to.
    Unix(UnixListener, PathBuf),
}

/// An accepted stream connection.
#[derive(Debug)]
pub enum Conn {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix stream connection.
    Unix(UnixStream),
}

impl Listener {
    /// Binds a TCP listener (port 0 picks a free port).
    pub fn bind_tcp(addr: SocketAddr) -> io::Result<Listener> {
        Ok(Listener::Tcp(reuseport_listener(addr, true)?))
    }

    /// Binds a Unix stream listener at `path`. A stale socket file left by a
    /// server that died is removed first; a live one (something accepts on it)
    /// is an `AddrInUse` error, and any other kind of file is never removed.
    pub fn bind_unix(path: &Path) -> io::Result<Listener> {
        remove_stale_socket(path)?;
        let listener = UnixListener::bind(path)?;
        Ok(Listener::Unix(listener, path.to_owned()))
    }

    /// The URL that names this listener in a ready line: `tcp://IP:PORT` or
    /// `unix:///path` (the caller substitutes its own scheme for TCP, e.g. http).
    pub fn url(&self, tcp_scheme: &str) -> io::Result<String> {
        Ok(match self {
            Listener::Tcp(l) => format!("{tcp_scheme}://{}", l.local_addr()?),
            Listener::Unix(_, path) => format!("unix://{}", path.display()),
        })
    }

    /// The TCP address, if this is a TCP listener.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    /// Accepts one connection, blocking (for the models that block in `read`);
    /// with the listener non-blocking this fails with `WouldBlock` when none is
    /// queued. On Linux an accepted socket does not inherit the listener's
    /// O_NONBLOCK, so no `fcntl` is needed to make it blocking.
    pub fn accept(&self) -> io::Result<(Conn, Option<SocketAddr>)> {
        self.accept4(0)
    }

    /// Accepts one connection already non-blocking (for the readiness loops):
    /// `accept4(SOCK_NONBLOCK)` sets the flag in the same system call.
    pub fn accept_nonblocking(&self) -> io::Result<(Conn, Option<SocketAddr>)> {
        self.accept4(nix::libc::SOCK_NONBLOCK)
    }

    fn accept4(&self, flags: i32) -> io::Result<(Conn, Option<SocketAddr>)> {
        let (socket, peer) = SockRef::from(self).accept4(flags | nix::libc::SOCK_CLOEXEC)?;
        match self {
            // TCP_NODELAY comes from the listener (see `reuseport_listener`).
            Listener::Tcp(_) => Ok((Conn::Tcp(socket.into()), peer.as_socket())),
            Listener::Unix(..) => Ok((Conn::Unix(OwnedFd::from(socket).into()), None)),
        }
    }

    /// Switches `accept` between blocking and non-blocking.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(nonblocking),
            Listener::Unix(l, _) => l.set_nonblocking(nonblocking),
        }
    }

    /// Another listener for the same address, for a worker of its own: a new
    /// SO_REUSEPORT socket for TCP (the kernel balances connections between
    /// them) with the same TCP_DEFER_ACCEPT setting, a duplicate descriptor of
    /// the same socket for Unix.
    pub fn open_sibling(&self) -> io::Result<Listener> {
        match self {
            Listener::Tcp(l) => {
                let sibling = Listener::Tcp(reuseport_listener(l.local_addr()?, false)?);
                let deferred = tcp_int_option(l, nix::libc::TCP_DEFER_ACCEPT, None)?;
                if deferred > 0 {
                    sibling.defer_accept(deferred as u32)?;
                }
                Ok(sibling)
            }
            Listener::Unix(l, path) => Ok(Listener::Unix(l.try_clone()?, path.clone())),
        }
    }

    /// TCP_DEFER_ACCEPT, for protocols whose client speaks first: `accept`
    /// returns a connection only once data has arrived on it (no wake-up for
    /// the bare handshake, no read that finds nothing), or — for a client that
    /// stays silent — after about `secs` seconds, when the kernel hands it over
    /// anyway and the server's own header timeout takes charge. Never for a
    /// protocol where the server speaks first: its clients would wait that
    /// long for the greeting. No-op on a Unix socket.
    pub fn defer_accept(&self, secs: u32) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => {
                let secs = i32::try_from(secs).unwrap_or(i32::MAX);
                tcp_int_option(l, nix::libc::TCP_DEFER_ACCEPT, Some(secs)).map(drop)
            }
            Listener::Unix(..) => Ok(()),
        }
    }
}

/// One listener is a list of one: every model serves a list (`--bind` given
/// more than once), and a caller with a single listener passes it as is.
impl From<Listener> for Vec<Listener> {
    fn from(listener: Listener) -> Vec<Listener> {
        vec![listener]
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l, _) => l.as_fd(),
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl Conn {
    /// Shuts down the reading, writing, or both halves.
    pub fn shutdown(&self, how: HowShutdown) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.shutdown(how),
            Conn::Unix(s) => s.shutdown(how),
        }
    }

    /// Switches reads and writes between blocking and non-blocking.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_nonblocking(nonblocking),
            Conn::Unix(s) => s.set_nonblocking(nonblocking),
        }
    }

    /// Bounds how long one blocking write may stall.
    pub fn set_write_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_write_timeout(timeout),
            Conn::Unix(s) => s.set_write_timeout(timeout),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Conn {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Conn::Tcp(s) => s.as_fd(),
            Conn::Unix(s) => s.as_fd(),
        }
    }
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// How often a `--port 0` bind may land on a port another netkit guards
/// before giving up (the kernel picks a new port each time).
const PICK_ATTEMPTS: usize = 16;

/// A listening SO_REUSEPORT socket on `addr`; `claim` (every listener but an
/// epoll worker's sibling of one already listening) first makes sure nobody
/// else serves the port (see the module doc).
fn reuseport_listener(addr: SocketAddr, claim: bool) -> io::Result<TcpListener> {
    let mut attempt = 0;
    loop {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        dual_stack(&socket, addr)?;
        // Sessions hand over whole replies; Nagle would only hold back their last
        // segment until the previous one is acknowledged. Set on the listener,
        // Linux gives it to every accepted socket: no setsockopt per connection.
        socket.set_tcp_nodelay(true)?;
        socket.bind(&addr.into())?;
        let bound = socket.local_addr()?.as_socket().unwrap_or(addr);
        // Claimed between bind and listen: a socket that loses is closed
        // before any connection could reach it.
        if claim {
            match port_guard("tcp", bound.port()).and_then(|()| probe(bound)) {
                Ok(()) => {}
                Err(e) if addr.port() == 0 && attempt < PICK_ATTEMPTS => {
                    tracing::debug!("picked port {} is taken: {e}", bound.port());
                    attempt += 1;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        socket.listen(BACKLOG)?;
        return Ok(socket.into());
    }
}

/// Whether anybody listens on `addr` already, SO_REUSEPORT or not: a
/// socket without SO_REUSEPORT cannot bind beside a listener (see the module
/// doc). Dropped at once.
fn probe(addr: SocketAddr) -> io::Result<()> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    dual_stack(&socket, addr)?;
    socket.bind(&addr.into()).map_err(|e| match e.kind() {
        io::ErrorKind::AddrInUse => io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("address already in use: something listens on tcp {addr}"),
        ),
        _ => e,
    })
}

/// Binds a UDP socket; on `::` it is dual-stack like the TCP listeners. No
/// SO_REUSEADDR or SO_REUSEPORT, so the kernel itself refuses a second
/// server on the same port.
pub fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    dual_stack(&socket, addr)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// On the IPv6 wildcard, IPV6_V6ONLY off: `::` then serves IPv4 as well
/// (whatever `net.ipv6.bindv6only` says).
fn dual_stack(socket: &Socket, addr: SocketAddr) -> io::Result<()> {
    if let SocketAddr::V6(v6) = addr {
        if v6.ip().is_unspecified() {
            socket.set_only_v6(false)?;
        }
    }
    Ok(())
}

/// Claims `protocol`/`port` for this process, for its lifetime: an
/// abstract-namespace Unix socket named `netkit/<protocol>/<port>`. Abstract
/// names live in the network namespace, like ports, and the kernel releases
/// one when the last descriptor holding it closes, so a netkit that crashes
/// leaves nothing behind. Claiming a port this process already holds (a
/// sibling listener, a second `--bind` on the same port) succeeds; another
/// process's claim is `AddrInUse`. The guard is per port, not per address:
/// two netkits on different addresses with the same port are refused too,
/// which is also what keeps `0.0.0.0:P` and `127.0.0.1:P` from being shared.
pub fn port_guard(protocol: &str, port: u16) -> io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
    use std::sync::{Mutex, OnceLock};
    // The guards this process holds, kept open until it exits.
    static HELD: OnceLock<Mutex<Vec<(String, u16, UnixDatagram)>>> = OnceLock::new();
    let held = HELD.get_or_init(|| Mutex::new(Vec::new()));
    let mut held = held.lock().unwrap_or_else(|e| e.into_inner());
    if held.iter().any(|(p, n, _)| p == protocol && *n == port) {
        return Ok(());
    }
    let name = format!("netkit/{protocol}/{port}");
    let guard =
        UnixDatagram::bind_addr(&UnixAddr::from_abstract_name(name.as_bytes())?).map_err(|e| {
            match e.kind() {
                io::ErrorKind::AddrInUse => io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("address already in use: another netkit serves {protocol} port {port}"),
                ),
                _ => e,
            }
        })?;
    held.push((protocol.to_owned(), port, guard));
    Ok(())
}

/// Sets (`Some`) or reads (`None`) an integer IPPROTO_TCP option; returns the
/// value read (or set).
fn tcp_int_option(sock: &impl AsRawFd, name: i32, set: Option<i32>) -> io::Result<i32> {
    use nix::libc::{c_void, getsockopt, setsockopt, socklen_t, IPPROTO_TCP};
    let mut value = set.unwrap_or(0);
    let mut len = std::mem::size_of::<i32>() as socklen_t;
    let ptr = std::ptr::addr_of_mut!(value).cast::<c_void>();
    // SAFETY: `ptr` points at an i32 that lives across the call and `len` is
    // its size; the kernel reads or writes at most `len` bytes there.
    let rc = unsafe {
        match set {
            Some(_) => setsockopt(sock.as_raw_fd(), IPPROTO_TCP, name, ptr, len),
            None => getsockopt(sock.as_raw_fd(), IPPROTO_TCP, name, ptr, &mut len),
        }
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn remove_stale_socket(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not a socket", path.display()),
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("{} is in use by a running server", path.display()),
        )),
        Err(_) => std::fs::remove_file(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_unix_socket_is_replaced_but_live_one_is_not() {
        let dir = std::env::temp_dir().join(format!("netkit-listener-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let live = Listener::bind_unix(&path).unwrap();
        let err = Listener::bind_unix(&path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(live); // the file stays behind: now it is stale
        assert!(path.exists());
        let again = Listener::bind_unix(&path).unwrap();
        assert!(again.url("tcp").unwrap().starts_with("unix://"));
        drop(again);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"not a socket").unwrap();
        assert!(Listener::bind_unix(&path).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn accepted_sockets_come_with_their_flags_set() {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
        let listener = Listener::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let _clients = [
            std::net::TcpStream::connect(addr).unwrap(),
            std::net::TcpStream::connect(addr).unwrap(),
        ];
        let flags = |conn: &Conn| {
            let status = OFlag::from_bits_retain(fcntl(conn, FcntlArg::F_GETFL).unwrap());
            let fd = FdFlag::from_bits_retain(fcntl(conn, FcntlArg::F_GETFD).unwrap());
            let nodelay = SockRef::from(conn).tcp_nodelay().unwrap();
            (
                status.contains(OFlag::O_NONBLOCK),
                fd.contains(FdFlag::FD_CLOEXEC),
                nodelay,
            )
        };
        let (blocking, peer) = listener.accept().unwrap();
        assert!(peer.is_some());
        assert_eq!(flags(&blocking), (false, true, true));
        let (nonblocking, _) = listener.accept_nonblocking().unwrap();
        assert_eq!(flags(&nonblocking), (true, true, true));
    }

    #[test]
    fn tcp_siblings_share_the_port() {
        let first = Listener::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        let second = first.open_sibling().unwrap();
        assert_eq!(second.local_addr(), Some(addr));
        let deferred = |l: &Listener| tcp_int_option(l, nix::libc::TCP_DEFER_ACCEPT, None);
        assert_eq!(deferred(&second).unwrap(), 0, "off unless asked for");
    }

    #[test]
    fn deferred_accept_is_set_on_siblings_and_waits_for_data() {
        use std::time::Duration;
        let first = Listener::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        // Long enough that a slow test run cannot see the kernel give up.
        first.defer_accept(10).unwrap();
        let deferred = |l: &Listener| tcp_int_option(l, nix::libc::TCP_DEFER_ACCEPT, None);
        // The kernel rounds to whole SYN-ACK retransmissions: non-zero is "on".
        assert!(deferred(&first).unwrap() > 0);
        let sibling = first.open_sibling().unwrap();
        assert!(deferred(&sibling).unwrap() > 0, "the sibling defers too");
        drop(sibling);
        first.set_nonblocking(true).unwrap();
        let addr = first.local_addr().unwrap();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        // Connected, but nothing sent: not yet accepted.
        let err = first.accept_nonblocking().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let ready = crate::io::wait_readable(&[first.as_fd()], Some(Duration::from_secs(5)));
        assert_eq!(ready.unwrap(), Some(0), "accepted once data arrived");
        let (mut conn, _) = first.accept_nonblocking().unwrap();
        conn.set_nonblocking(false).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(conn.read(&mut buf).unwrap(), 18, "the request came with it");
    }
}
