//! The reader thread: follows the room's stream and hands each event to the
//! local room in stream order; keeps the view of members on other instances;
//! reconnects with backoff, re-reading the others' members when it does.

use super::codec::decode;
use super::writer::stream_cap;
use super::{State, View, IO_TIMEOUT};
use netkit_proto::chat::event::LeaveReason;
use netkit_proto::chat::hub::Hub;
use netkit_proto::chat::link::Shared;
use redis::{Connection, RedisResult};
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long one XREAD waits for news.
const BLOCK_MS: u64 = 1000;

type Entries = Vec<(String, Vec<String>)>;

pub(super) struct Reader {
    state: Arc<State>,
    hub: Arc<Hub>,
    /// The id of the last entry handed to the room.
    last: Option<String>,
    /// Whether the view has been read once (later reads tell the differences).
    viewed: bool,
    backoff: Duration,
    /// Told once, after the first catch-up (or the first failure).
    synced: Option<Sender<()>>,
}

fn fold(name: &str) -> String {
    netkit_proto::chat::names::name_key(name)
}

impl Reader {
    pub(super) fn new(state: Arc<State>, hub: Arc<Hub>, synced: Sender<()>) -> Reader {
        Reader {
            state,
            hub,
            last: None,
            viewed: false,
            backoff: FIRST_BACKOFF,
            synced: Some(synced),
        }
    }

    pub(super) fn run(mut self) {
        loop {
            if let Err(e) = self.follow() {
                if let Some(synced) = self.synced.take() {
                    let _ = synced.send(());
                }
                self.state
                    .lost(&self.state.reader_ok, "reading the room", &e);
                // A background thread's retry pause, not a synchronisation.
                std::thread::sleep(self.backoff);
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// One connection's life: catch up, then follow the stream until an error.
    fn follow(&mut self) -> RedisResult<()> {
        let con = self.state.client.get_connection_with_timeout(IO_TIMEOUT)?;
        con.set_write_timeout(Some(IO_TIMEOUT))?;
        con.set_read_timeout(Some(Duration::from_millis(BLOCK_MS) + IO_TIMEOUT))?;
        let mut con = con;
        let log = self.state.keys.log();
        if self.last.is_none() {
            let cap = stream_cap(self.state.config.history);
            let tail: Entries = redis::cmd("XREVRANGE")
                .arg(&log)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(cap)
                .query(&mut con)?;
            self.last = Some(tail.first().map_or("0-0".into(), |(id, _)| id.clone()));
            let mut said: Vec<Shared> = tail
                .iter()
                .rev()
                .filter_map(|(_, flat)| decode(flat).map(|e| e.event))
                .filter(|e| matches!(e, Shared::Said { .. } | Shared::Acted { .. }))
                .collect();
            let keep = said.len().saturating_sub(self.state.config.history);
            said.drain(..keep);
            self.hub.act(None, |room| room.seed_history(said));
        }
        self.resync(&mut con)?;
        self.backoff = FIRST_BACKOFF;
        self.state.regained(&self.state.reader_ok);
        if let Some(synced) = self.synced.take() {
            let _ = synced.send(());
        }
        loop {
            let last = self.last.clone().unwrap_or_else(|| "0-0".into());
            let reply: Option<Vec<(String, Entries)>> = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(1024)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(&log)
                .arg(last)
                .query(&mut con)?;
            for (_, entries) in reply.unwrap_or_default() {
                self.apply(entries);
            }
        }
    }

    /// Re-reads who is on the other live instances; after the first time, local
    /// members are told who came and went meanwhile.
    fn resync(&mut self, con: &mut Connection) -> RedisResult<()> {
        let keys = &self.state.keys;
        let instances: Vec<String> = redis::cmd("SMEMBERS").arg(keys.instances()).query(con)?;
        let mut fresh = View::new();
        for other in instances.iter().filter(|i| **i != self.state.me) {
            let alive: bool = redis::cmd("EXISTS").arg(keys.alive(other)).query(con)?;
            if alive {
                let names: Vec<String> = redis::cmd("HKEYS").arg(keys.members(other)).query(con)?;
                let members: BTreeMap<String, Arc<str>> = names
                    .into_iter()
                    .map(|n| (fold(&n), Arc::from(n)))
                    .collect();
                fresh.insert(other.clone(), members);
            }
        }
        let mut events = Vec::new();
        {
            let mut view = self.state.view();
            if self.viewed {
                let flat = |v: &View| -> HashMap<String, Arc<str>> {
                    v.values()
                        .flat_map(|m| m.iter().map(|(k, n)| (k.clone(), n.clone())))
                        .collect()
                };
                let (old, new) = (flat(&view), flat(&fresh));
                for (key, name) in &old {
                    if !new.contains_key(key) {
                        let reason = LeaveReason::TimedOut;
                        let name = name.clone();
                        events.push((None, Shared::Left { name, reason }));
                    }
                }
                for (key, name) in &new {
                    if !old.contains_key(key) {
                        events.push((None, Shared::Joined { name: name.clone() }));
                    }
                }
            }
            *view = fresh;
        }
        self.viewed = true;
        self.deliver(events);
        Ok(())
    }

    /// Stream entries, in order: the view follows the others' joins and leaves
    /// (a repeat is no news), and the room hears the rest.
    fn apply(&mut self, entries: Entries) {
        let mut events = Vec::new();
        {
            let mut view = self.state.view();
            for (id, flat) in entries {
                self.last = Some(id);
                let Some(entry) = decode(&flat) else { continue };
                if entry.origin == self.state.me {
                    if entry.number > 0 {
                        events.push((Some(entry.number), entry.event));
                    }
                    continue;
                }
                let news = match &entry.event {
                    Shared::Joined { name } => view
                        .entry(entry.origin.clone())
                        .or_default()
                        .insert(fold(name), name.clone())
                        .is_none(),
                    Shared::Left { name, .. } => view
                        .get_mut(&entry.origin)
                        .and_then(|m| m.remove(&fold(name)))
                        .is_some(),
                    Shared::Renamed { old, new } => {
                        let members = view.entry(entry.origin.clone()).or_default();
                        members.remove(&fold(old));
                        members.insert(fold(new), new.clone());
                        true
                    }
                    _ => true,
                };
                if news {
                    events.push((None, entry.event));
                }
            }
            view.retain(|_, members| !members.is_empty());
        }
        self.deliver(events);
    }

    /// Hands events to the room; this instance's own carry their number.
    fn deliver(&self, events: Vec<(Option<u64>, Shared)>) {
        if events.is_empty() {
            return;
        }
        self.hub.act(None, |room| {
            for (own, event) in events {
                match own {
                    Some(number) => room.receive_own(number, event),
                    None => room.receive(event),
                }
            }
        });
    }
}
