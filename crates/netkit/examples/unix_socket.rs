//! Unix domain sockets: the seed's "本地套接字" — `socket(AF_UNIX, SOCK_STREAM)`,
//! `bind(file)` (the socket file is created if it does not exist), `listen`,
//! `recv`/`send`, and the cleanup cookie `os.path.exists(file)` / `os.unlink(file)`.
//!
//! A local socket is for programs on the same machine: the address is a path in the
//! file system, and the file it creates has type `s` in `ls -l` (the seed's list of
//! Linux file types). Everything else is the TCP stream API you already know, minus
//! the network stack. `bind` fails if the file already exists — a leftover from an
//! earlier run — so servers remove it before binding and after they finish.
//!
//! Run: `cargo run -p netkit --example unix_socket` (server thread + client in a
//! fresh temporary directory; the socket file is removed at the end).
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Echoes each line back in upper case until the client closes.
fn serve(listener: &UnixListener) -> std::io::Result<usize> {
    let (conn, _) = listener.accept()?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut writer = conn;
    let mut line = String::new();
    let mut count = 0;
    while reader.read_line(&mut line)? > 0 {
        writer.write_all(line.to_uppercase().as_bytes())?;
        line.clear();
        count += 1;
    }
    Ok(count)
}

fn client(path: &Path) -> std::io::Result<()> {
    let conn = UnixStream::connect(path)?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut writer = &conn;
    let mut reply = String::new();
    for msg in ["hello", "local", "socket"] {
        writer.write_all(format!("{msg}\n").as_bytes())?;
        reply.clear();
        reader.read_line(&mut reply)?;
        println!("client: sent {msg:?}, got {:?}", reply.trim_end());
    }
    conn.shutdown(std::net::Shutdown::Write)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("demo.sock");
    if path.exists() {
        std::fs::remove_file(&path)?; // os.path.exists + os.unlink, before bind
    }
    let listener = UnixListener::bind(&path)?;
    println!("server listening on unix://{}", path.display());
    let kind = std::fs::symlink_metadata(&path)?.file_type();
    println!(
        "socket file exists: {}, is a socket: {}",
        path.exists(),
        kind.is_socket()
    );

    let server = std::thread::scope(|s| {
        let server = s.spawn(|| serve(&listener));
        let sent = client(&path);
        if sent.is_err() {
            // Wake a server still blocked in accept(), so the join below returns.
            let _ = UnixStream::connect(&path);
        }
        (server.join(), sent)
    });
    let served = match server {
        (Ok(served), Ok(())) => served?,
        (Ok(_), Err(e)) => return Err(e.into()),
        (Err(_), _) => return Err("server thread panicked".into()),
    };
    println!("server: answered {served} line(s)");

    drop(listener); // close the socket; the file stays until it is unlinked
    println!("socket file still there after close: {}", path.exists());
    std::fs::remove_file(&path)?;
    println!("socket file removed: {}", !path.exists());
    Ok(())
}
