//! One chat room across many `chat serve` instances, through Redis.
//!
//! The room in `netkit_proto` knows nothing of Redis: it talks to the others
//! through its [`Link`] seam. This module is that link, and the two threads
//! behind it:
//!
//! ```text
//!  Room ──claim (EVAL, under the room's lock, ≤ 0.5 s)──────────────▶ Redis
//!  Room ──publish/release──▶ channel ──▶ writer ──XADD/HSET/EVAL────▶ Redis
//!                                       (heartbeat, name refresh, reaping)
//!  Room ◀──Room::receive (shared order)── reader ◀──XREAD BLOCK─────── Redis
//! ```
//!
//! Keys, all under `netkit:chat:ROOM:`:
//! - `log`: a stream capped with `MAXLEN ~`; every join, message, leave and
//!   announcement is one entry, and its id is the room's one order. Every
//!   instance (the speaker's own included) delivers an entry to its local
//!   members when it reads it back, never before: each member hears each event
//!   once, in the same order everywhere. History on join is the stream's tail.
//! - `name:NAME` (lower-cased) = the instance holding it, set only if absent
//!   (atomically, in a Lua script), with an expiry the holder keeps refreshing.
//! - `alive:INSTANCE`, expiring after the liveness timeout unless refreshed
//!   (every third of it); `members:INSTANCE`, a hash of that instance's member
//!   names; `instances`, the set of instances. An instance that finds another's
//!   `alive` key gone takes `reap:INSTANCE` (set if absent) and announces its
//!   members as LEFT, frees their names and forgets it.
//!
//! When Redis is away the link says so ([`LinkStatus::Split`]): the room then
//! delivers locally at once, the threads log the outage and reconnect with
//! backoff, and on return the instance re-registers its members and names and
//! re-reads the others' members (telling its members who came and went).

mod codec;
mod reader;
mod writer;

use anyhow::{bail, Context, Result};
use netkit_proto::chat::hub::Hub;
use netkit_proto::chat::link::{Link, LinkStatus, Shared};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How long one Redis command may take before the instance counts as split.
const IO_TIMEOUT: Duration = Duration::from_millis(500);

/// How long an instance may stay silent before the others count it as dead.
pub const DEFAULT_LIVENESS: Duration = Duration::from_secs(15);

/// Backplane settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// The room's name: instances with the same Redis and room are one room.
    pub room: String,
    /// An instance silent for this long is dead: its members leave, its names
    /// free up.
    pub liveness: Duration,
    /// Messages replayed on join (the room's history size).
    pub history: usize,
}

/// Whether `name` may name a room (letters, digits, `-`, `_`, `.`; 1–64).
pub fn valid_room(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Redis key names for one room.
#[derive(Debug, Clone)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn log(&self) -> String {
        format!("{}log", self.prefix)
    }
    fn name(&self, name: &str) -> String {
        format!(
            "{}name:{}",
            self.prefix,
            netkit_proto::chat::names::name_key(name)
        )
    }
    fn alive(&self, instance: &str) -> String {
        format!("{}alive:{instance}", self.prefix)
    }
    fn members(&self, instance: &str) -> String {
        format!("{}members:{instance}", self.prefix)
    }
    fn instances(&self) -> String {
        format!("{}instances", self.prefix)
    }
    fn reap(&self, instance: &str) -> String {
        format!("{}reap:{instance}", self.prefix)
    }
}

/// What the link asks of the writer thread.
#[derive(Debug)]
enum Command {
    /// The room's own event number, and the event.
    Publish(u64, Shared),
    Release(String),
    /// Leave the room for good (clean shutdown); acknowledged on the sender.
    Goodbye(Vec<Arc<str>>, Sender<()>),
}

/// Members on other instances: instance → lower-cased name → name.
type View = HashMap<String, BTreeMap<String, Arc<str>>>;

/// What the link and both threads share.
struct State {
    config: Config,
    client: redis::Client,
    me: String,
    keys: Keys,
    /// The claims' own connection (claims answer under the room's lock).
    claims: Mutex<Option<redis::Connection>>,
    writer_ok: AtomicBool,
    reader_ok: AtomicBool,
    view: Mutex<View>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("config", &self.config)
            .field("me", &self.me)
            .field("whole", &self.whole())
            .finish_non_exhaustive()
    }
}

impl State {
    fn view(&self) -> MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn whole(&self) -> bool {
        self.writer_ok.load(Ordering::SeqCst) && self.reader_ok.load(Ordering::SeqCst)
    }

    /// Records that one side lost Redis; logs when the room becomes split.
    fn lost(&self, side: &AtomicBool, what: &str, error: &redis::RedisError) {
        let was_whole = self.whole();
        side.store(false, Ordering::SeqCst);
        if was_whole {
            tracing::warn!(
                "backplane: {what} failed ({error}); room '{}' is split: serving local members only, reconnecting to {}",
                self.config.room,
                self.config.url
            );
        }
    }

    /// Records that one side has Redis again; logs when the room is whole.
    fn regained(&self, side: &AtomicBool) {
        let was_whole = self.whole();
        side.store(true, Ordering::SeqCst);
        self.whole_again(was_whole);
    }

    /// Logs that the room is whole, if it is now and was not before.
    fn whole_again(&self, was_whole: bool) {
        if !was_whole && self.whole() {
            tracing::info!(
                "backplane: connected to {}; room '{}' is whole",
                self.config.url,
                self.config.room
            );
        }
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let con = self.client.get_connection_with_timeout(IO_TIMEOUT)?;
        con.set_read_timeout(Some(IO_TIMEOUT))?;
        con.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(con)
    }

    fn ttl_ms(&self) -> u64 {
        self.config.liveness.as_millis().max(1) as u64
    }

    /// Adds this instance's heartbeat to `pipe`: its liveness key (with the
    /// TTL), then its place in the instance set, whose reply (1: it was
    /// missing) is left for the caller to read or ignore.
    fn heartbeat<'p>(&self, pipe: &'p mut redis::Pipeline) -> &'p mut redis::Pipeline {
        pipe.cmd("SET")
            .arg(self.keys.alive(&self.me))
            .arg(1)
            .arg("PX")
            .arg(self.ttl_ms())
            .ignore()
            .cmd("SADD")
            .arg(self.keys.instances())
            .arg(&self.me)
    }

    /// Claims `name` for this instance, if free or already ours. A connection
    /// that broke since its last use (Redis restarted) gets one fresh try.
    fn claim(&self, name: &str) -> redis::RedisResult<bool> {
        let mut guard = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        let mut result = Ok(0_i64);
        for _ in 0..2 {
            let con = match guard.take() {
                Some(con) => con,
                None => self.connect()?,
            };
            let mut con = con;
            result = redis::cmd("EVAL")
                .arg(codec::CLAIM)
                .arg(1)
                .arg(self.keys.name(name))
                .arg(&self.me)
                .arg(self.ttl_ms())
                .query::<i64>(&mut con);
            if result.is_ok() {
                *guard = Some(con);
                break;
            }
        }
        result.map(|won| won == 1)
    }
}

/// The room's side of the backplane (see [`Link`]).
#[derive(Debug)]
struct RedisLink {
    state: Arc<State>,
    tx: Sender<Command>,
}

impl Link for RedisLink {
    fn claim(&mut self, name: &str) -> bool {
        if !self.state.writer_ok.load(Ordering::SeqCst) {
            return true; // split: local names only, re-claimed on return
        }
        match self.state.claim(name) {
            Ok(won) => won,
            Err(e) => {
                self.state.lost(&self.state.writer_ok, "a name claim", &e);
                true
            }
        }
    }

    fn release(&mut self, name: &str) {
        let _ = self.tx.send(Command::Release(name.to_owned()));
    }

    fn publish(&mut self, number: u64, event: &Shared) -> bool {
        self.state.writer_ok.load(Ordering::SeqCst)
            && self
                .tx
                .send(Command::Publish(number, event.clone()))
                .is_ok()
    }

    fn elsewhere(&self) -> Vec<Arc<str>> {
        let view = self.state.view();
        view.values().flat_map(|m| m.values().cloned()).collect()
    }

    fn status(&self) -> LinkStatus {
        if self.state.whole() {
            LinkStatus::Whole
        } else {
            LinkStatus::Split
        }
    }
}

/// A running backplane for one hub's room.
#[derive(Debug)]
pub struct Backplane {
    state: Arc<State>,
    hub: Arc<Hub>,
    tx: Sender<Command>,
}

impl Backplane {
    /// Links `hub`'s room to the others on `config.url`. Redis being away at
    /// start is no error (the room starts split and keeps trying); a bad URL is.
    pub fn start(config: Config, hub: Arc<Hub>) -> Result<Backplane> {
        if !config.url.starts_with("redis://") {
            bail!("--backplane must be redis://HOST:PORT[/DB]");
        }
        let client = redis::Client::open(config.url.as_str())
            .with_context(|| format!("bad backplane URL {}", config.url))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let me = format!("{}-{nanos:08x}", std::process::id());
        let keys = Keys {
            prefix: format!("netkit:chat:{}:", config.room),
        };
        let state = Arc::new(State {
            config,
            client,
            me,
            keys,
            claims: Mutex::new(None),
            writer_ok: AtomicBool::new(false),
            reader_ok: AtomicBool::new(false),
            view: Mutex::new(View::new()),
        });
        let (tx, rx) = mpsc::channel();
        // Register before the room opens, so the first claims already count.
        let mut writer = writer::Writer::new(state.clone(), hub.clone(), rx);
        if !writer.connect_once() {
            tracing::warn!(
                "backplane: {} is unreachable; room '{}' starts split, retrying",
                state.config.url,
                state.config.room
            );
        }
        let link = RedisLink {
            state: state.clone(),
            tx: tx.clone(),
        };
        hub.act(None, |room| room.set_link(Box::new(link)));
        std::thread::Builder::new()
            .name("backplane-writer".into())
            .spawn(move || writer.run())?;
        let (synced, first_sync) = mpsc::channel();
        let reader = reader::Reader::new(state.clone(), hub.clone(), synced);
        std::thread::Builder::new()
            .name("backplane-reader".into())
            .spawn(move || reader.run())?;
        // Open once the history and the others' members are read (or Redis
        // proved away), so no event said after the ready line is missed.
        let _ = first_sync.recv_timeout(IO_TIMEOUT * 4);
        Ok(Backplane { state, hub, tx })
    }

    /// Whether the room is whole or split.
    pub fn status(&self) -> LinkStatus {
        if self.state.whole() {
            LinkStatus::Whole
        } else {
            LinkStatus::Split
        }
    }

    /// Leaves the shared room for good: local members are announced as LEFT
    /// elsewhere, their names freed, and the room goes on alone (so a farewell
    /// announcement reaches local members only). Waits at most a second.
    pub fn shutdown(&self) {
        let names = self.hub.with_room(|room| room.local_names());
        let (done, wait) = mpsc::channel();
        if self.tx.send(Command::Goodbye(names, done)).is_ok() {
            let _ = wait.recv_timeout(Duration::from_secs(1));
        }
        self.hub.act(None, |room| room.unlink());
    }
}
