//! File transfer: the seed's homework "编写一个程序，完成一个文本文件（图片）在服务端和
//! 客户端之间的传输 要求使用tcp套接字" — send a file (an image in the seed) from a
//! client to a server over TCP.
//!
//! TCP delivers a byte stream with no message boundaries (粘包), so the receiver
//! cannot tell "end of file" from "more is coming" by itself. The sender first
//! sends the length as 8 bytes (big-endian), then exactly that many bytes; the
//! receiver reads the 8 bytes, then copies exactly that many and knows it is done
//! — and can tell a truncated transfer from a complete one. Binary data goes
//! through untouched: an image is just bytes.
//!
//! Run: `cargo run -p netkit --example file_transfer` (makes a 1 MiB temp file,
//! sends it over 127.0.0.1 and compares), `... -- SRC DST` (copies SRC to DST over
//! TCP), or in two terminals `... -- recv 127.0.0.1:8888 OUT` and
//! `... -- send 127.0.0.1:8888 FILE`.
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Client side: length prefix, then the bytes.
fn send(addr: &str, src: &Path) -> Res<u64> {
    let mut file = BufReader::new(File::open(src)?);
    let len = file.get_ref().metadata()?.len();
    let mut conn = BufWriter::new(TcpStream::connect(addr)?);
    conn.write_all(&len.to_be_bytes())?;
    let copied = std::io::copy(&mut file, &mut conn)?;
    conn.flush()?;
    if copied != len {
        return Err(format!("{} changed while sending", src.display()).into());
    }
    Ok(len)
}

/// Server side: one connection, read the length, then exactly that many bytes.
fn receive(listener: &TcpListener, dst: &Path) -> Res<u64> {
    let (conn, peer) = listener.accept()?;
    let mut conn = BufReader::new(conn);
    let mut header = [0u8; 8];
    conn.read_exact(&mut header)?;
    let len = u64::from_be_bytes(header);
    println!("receiver: {peer} announces {len} bytes");
    let mut out = BufWriter::new(File::create(dst)?);
    let got = std::io::copy(&mut conn.take(len), &mut out)?;
    out.flush()?;
    if got != len {
        let _ = std::fs::remove_file(dst); // never leave a truncated copy behind
        return Err(format!("connection closed after {got} of {len} bytes").into());
    }
    Ok(got)
}

/// Copies `src` to `dst` through a loopback connection and checks the result.
fn loopback(src: &Path, dst: &Path) -> Res<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?.to_string();
    let src_owned = src.to_owned();
    let sender = std::thread::spawn(move || send(&addr, &src_owned).map_err(|e| e.to_string()));
    let got = receive(&listener, dst)?;
    let sent = sender.join().map_err(|_| "sender panicked")??;
    println!("sent {sent} bytes, received {got} bytes");
    let same = std::fs::read(src)? == std::fs::read(dst)?;
    println!("identical: {same}");
    if !same {
        return Err("the copy differs from the original".into());
    }
    Ok(())
}

/// A stand-in "image": 1 MiB + 7 bytes of pseudo-random data (every byte value).
fn make_sample(path: &Path) -> Res<()> {
    let mut x: u32 = 0x2545_f491;
    let data: Vec<u8> = (0..(1 << 20) + 7)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(path, data)?;
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => {
            let dir = tempfile::tempdir()?;
            let (src, dst) = (dir.path().join("picture.bin"), dir.path().join("copy.bin"));
            make_sample(&src)?;
            loopback(&src, &dst)
        }
        ["recv", addr, out] => {
            let listener = TcpListener::bind(addr)?;
            println!("receiver on {}", listener.local_addr()?);
            let got = receive(&listener, Path::new(out))?;
            println!("received {got} bytes into {out}");
            Ok(())
        }
        ["send", addr, file] => {
            println!("sent {} bytes", send(addr, Path::new(file))?);
            Ok(())
        }
        [src, dst] => loopback(Path::new(src), Path::new(dst)),
        _ => {
            eprintln!("usage: file_transfer [SRC DST | recv ADDR OUT | send ADDR FILE]");
            std::process::exit(2);
        }
    }
}
