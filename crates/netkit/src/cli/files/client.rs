//! A blocking files-protocol client: one TCP connection, any number of
//! commands, used by `ls`, `get`, `put` and `shell` (and by tests).
//!
//! Reply lines are read through one large buffer that the file bodies are then
//! copied out of, so a GET moves megabytes per system call and nothing is lost
//! between a header and the payload that follows it. Under TLS (see
//! [`super::link`]) the same calls go through rustls, and an upload is read
//! and encrypted instead of sent with sendfile(2).

use super::link::{Link, Target};
use anyhow::{anyhow, bail, Context, Result};
use indicatif::ProgressBar;
use netkit_proto::files::wire::{hex, Command, ListEntry, Reply, MAX_LINE};
use nix::errno::Errno;
use nix::sys::sendfile::sendfile;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, Read, Seek, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Bytes moved per read or write of a file body.
const BUF_SIZE: usize = 1 << 20;

/// Bytes per sendfile(2) call of an upload (the progress bar moves between).
const SENDFILE_CHUNK: usize = 4 << 20;

/// How long a reply may take (a large upload's fsync included).
const REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// An `ERR <code> <message>` from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The code (400, 403, 404, 409, 413, 500, 507).
    pub code: u16,
    /// The server's explanation.
    pub message: String,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server refused (ERR {}): {}", self.code, self.message)
    }
}

impl std::error::Error for ServerError {}

/// A connection to a files server.
#[derive(Debug)]
pub struct Client {
    reader: Link,
}

impl Client {
    /// Connects to `addr` (plain TCP).
    pub fn connect(addr: SocketAddr) -> Result<Client> {
        Client::connect_to(&Target::plain(addr))
    }

    /// Connects to `target`, over TLS when its flags asked for it.
    pub(crate) fn connect_to(target: &Target) -> Result<Client> {
        Ok(Client {
            reader: target.connect(REPLY_TIMEOUT)?,
        })
    }

    fn send(&mut self, cmd: &Command) -> Result<()> {
        let mut line = Vec::new();
        cmd.emit(&mut line);
        self.reader
            .write_all(&line)
            .and_then(|()| self.reader.flush())
            .context("sending a command")
    }

    /// Reads one reply line; an `ERR` becomes a [`ServerError`].
    fn reply(&mut self) -> Result<Reply> {
        let line = self.line()?;
        match Reply::parse(&line) {
            Some(Reply::Err { code, message }) => Err(ServerError { code, message }.into()),
            Some(reply) => Ok(reply),
            None => bail!("unexpected reply from the server: {line:?}"),
        }
    }

    fn line(&mut self) -> Result<String> {
        let mut line = String::new();
        let limit = (MAX_LINE + 1) as u64;
        (&mut self.reader)
            .take(limit)
            .read_line(&mut line)
            .context("reading a reply")?;
        match line.strip_suffix('\n') {
            Some(l) => Ok(l.to_owned()),
            None if line.is_empty() => bail!("the server closed the connection"),
            None => bail!("reply line too long or cut short"),
        }
    }

    fn ok_number(&mut self) -> Result<u64> {
        match self.reply()? {
            Reply::Ok(n) => n.parse().with_context(|| format!("bad count {n:?}")),
            other => bail!("expected OK <number>, got {other:?}"),
        }
    }

    /// `AUTH user password`: logs the connection in.
    pub fn auth(&mut self, user: &str, password: &str) -> Result<()> {
        self.send(&Command::Auth {
            user: user.to_owned(),
            password: netkit_proto::files::wire::Password(password.to_owned()),
        })?;
        match self.reply()? {
            Reply::Ok(_) => Ok(()),
            other => bail!("expected OK, got {other:?}"),
        }
    }

    /// `LIST`: the regular files in the server's root.
    pub fn list(&mut self) -> Result<Vec<ListEntry>> {
        self.send(&Command::List)?;
        let n = self.ok_number()?;
        let mut entries = Vec::new();
        for _ in 0..n {
            let line = self.line()?;
            entries.push(ListEntry::parse(&line).with_context(|| format!("bad entry {line:?}"))?);
        }
        Ok(entries)
    }

    /// `LIST <folder>`: the files and folders in `folder` (`/` for the
    /// root); a folder's name ends in `/`.
    pub fn list_dir(&mut self, folder: &str) -> Result<Vec<ListEntry>> {
        let folder = if folder.is_empty() { "/" } else { folder };
        self.send(&Command::ListDir {
            folder: folder.to_owned(),
        })?;
        let n = self.ok_number()?;
        let mut entries = Vec::new();
        for _ in 0..n {
            let line = self.line()?;
            entries.push(ListEntry::parse(&line).with_context(|| format!("bad entry {line:?}"))?);
        }
        Ok(entries)
    }

    /// `MKDIR name`.
    pub fn mkdir(&mut self, name: &str) -> Result<()> {
        self.send(&Command::Mkdir {
            name: name.to_owned(),
        })?;
        self.ok_empty()
    }

    /// `DELETE name`: a file, or a folder with everything in it.
    pub fn delete(&mut self, name: &str) -> Result<()> {
        self.send(&Command::Delete {
            name: name.to_owned(),
        })?;
        self.ok_empty()
    }

    /// `MOVE from\tto`.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        self.send(&Command::Move {
            from: from.to_owned(),
            to: to.to_owned(),
        })?;
        self.ok_empty()
    }

    fn ok_empty(&mut self) -> Result<()> {
        match self.reply()? {
            Reply::Ok(_) => Ok(()),
            other => bail!("expected OK, got {other:?}"),
        }
    }

    /// Sends `GET name offset`; returns the number of bytes that follow. Call
    /// [`Client::get_body`] next (with that count) unless it is 0.
    pub fn get_start(&mut self, name: &str, offset: u64) -> Result<u64> {
        self.send(&Command::Get {
            name: name.to_owned(),
            offset,
        })?;
        self.ok_number()
    }

    /// `SUM name [length]`: the server's SHA-256 (hex) of the file's first
    /// `length` bytes (the whole file with `None`).
    pub fn sum(&mut self, name: &str, length: Option<u64>) -> Result<String> {
        self.send(&Command::Sum {
            name: name.to_owned(),
            length,
        })?;
        match self.reply()? {
            Reply::Ok(digest)
                if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                Ok(digest.to_ascii_lowercase())
            }
            other => bail!("expected OK <sha256>, got {other:?}"),
        }
    }

    /// Copies the next `len` bytes of the connection into `sink`.
    pub fn get_body(&mut self, len: u64, sink: &mut impl Write, bar: &ProgressBar) -> Result<()> {
        let mut remaining = len;
        while remaining > 0 {
            let buf = self.reader.fill_buf().context("receiving the file")?;
            if buf.is_empty() {
                bail!("the server closed the connection {remaining} bytes early");
            }
            let n = buf
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX));
            sink.write_all(&buf[..n])
                .context("writing the local file")?;
            self.reader.consume(n);
            remaining -= n as u64;
            bar.inc(n as u64);
        }
        Ok(())
    }

    /// Uploads `size` bytes from `source` as `name`; returns the SHA-256 (hex)
    /// the server computed, after checking it equals the one computed here.
    pub fn put(
        &mut self,
        name: &str,
        source: &mut impl Read,
        size: u64,
        bar: &ProgressBar,
    ) -> Result<String> {
        self.start_put(name, size)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0; BUF_SIZE];
        let mut remaining = size;
        while remaining > 0 {
            let want = buf
                .len()
                .min(usize::try_from(remaining).unwrap_or(usize::MAX));
            let n = source
                .read(&mut buf[..want])
                .context("reading the local file")?;
            if n == 0 {
                bail!("the local file shrank while being sent ({remaining} bytes missing)");
            }
            hasher.update(&buf[..n]);
            self.reader
                .write_all(&buf[..n])
                .context("sending the file")?;
            remaining -= n as u64;
            bar.inc(n as u64);
        }
        self.reader.flush().context("sending the file")?;
        self.finish_put(&hex(&hasher.finalize()))
    }

    /// [`Client::put`] for the first `size` bytes of a local file, faster: the
    /// bytes go to the socket with `sendfile(2)` (no copy through user space)
    /// while a second thread reads the same range and hashes it, so SHA-256
    /// runs beside the transfer instead of in front of every write. If the
    /// file changes meanwhile, the two digests differ and the upload fails.
    /// Under TLS the bytes must be encrypted here: [`Client::put`] it is.
    pub fn put_file(
        &mut self,
        name: &str,
        mut file: &File,
        size: u64,
        bar: &ProgressBar,
    ) -> Result<String> {
        if self.reader.plain_socket().is_none() {
            file.rewind().context("reading the local file")?;
            return self.put(name, &mut file, size, bar);
        }
        self.start_put(name, size)?;
        let stop = AtomicBool::new(false);
        let ours = std::thread::scope(|scope| {
            let hashing = scope.spawn(|| hash_file(file, size, &stop));
            let sent = match self.reader.plain_socket() {
                Some(sock) => send_file(sock, file, size, bar),
                None => Err(anyhow!("sendfile needs a plain socket")),
            };
            if sent.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            let hashed = hashing
                .join()
                .unwrap_or_else(|_| Err(anyhow!("the hashing thread panicked")));
            sent.and(hashed)
        })?;
        self.finish_put(&ours)
    }

    /// `PUT name size`, then waits for `READY`.
    fn start_put(&mut self, name: &str, size: u64) -> Result<()> {
        self.send(&Command::Put {
            name: name.to_owned(),
            size,
        })?;
        match self.reply()? {
            Reply::Ready => Ok(()),
            other => bail!("expected READY, got {other:?}"),
        }
    }

    /// Reads the server's digest after a body and compares it with `ours`.
    fn finish_put(&mut self, ours: &str) -> Result<String> {
        match self.reply()? {
            Reply::Ok(theirs) if theirs == ours => Ok(theirs),
            Reply::Ok(theirs) => {
                bail!("checksum mismatch: sent {ours}, the server stored {theirs}")
            }
            other => bail!("expected OK <sha256>, got {other:?}"),
        }
    }

    /// `QUIT`, then waits for `BYE` (best effort: the connection closes anyway).
    pub fn quit(mut self) {
        if self.send(&Command::Quit).is_ok() {
            let _ = self.reply();
        }
    }
}

/// Sends bytes `0..size` of `file` to `sock` with sendfile(2).
fn send_file(sock: &TcpStream, file: &File, size: u64, bar: &ProgressBar) -> Result<()> {
    let mut offset: i64 = 0;
    let end = i64::try_from(size).context("file too large")?;
    while offset < end {
        let want = usize::try_from(end - offset)
            .unwrap_or(usize::MAX)
            .min(SENDFILE_CHUNK);
        let n = match sendfile(sock, file, Some(&mut offset), want) {
            Err(Errno::EINTR) => continue,
            other => other.context("sending the file")?,
        };
        if n == 0 {
            bail!(
                "the local file shrank while being sent ({} bytes missing)",
                end - offset
            );
        }
        bar.inc(n as u64);
    }
    Ok(())
}

/// The SHA-256 (hex) of bytes `0..size` of `file`, read with pread(2); gives
/// up early once `stop` is set (the send failed).
fn hash_file(file: &File, size: u64, stop: &AtomicBool) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0; BUF_SIZE];
    let mut offset = 0;
    while offset < size && !stop.load(Ordering::Relaxed) {
        let want = buf
            .len()
            .min(usize::try_from(size - offset).unwrap_or(usize::MAX));
        let n = file
            .read_at(&mut buf[..want], offset)
            .context("reading the local file")?;
        if n == 0 {
            bail!(
                "the local file shrank while being sent ({} bytes missing)",
                size - offset
            );
        }
        hasher.update(&buf[..n]);
        offset += n as u64;
    }
    Ok(hex(&hasher.finalize()))
}

/// The server's error behind `e`, if it is one.
pub(crate) fn server_error(e: &anyhow::Error) -> Option<&ServerError> {
    e.chain().find_map(|c| c.downcast_ref::<ServerError>())
}
