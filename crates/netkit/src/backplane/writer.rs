//! The writer thread: publishes the room's events, keeps this instance's
//! heartbeat and name claims alive, reaps dead instances, and reconnects with
//! backoff when Redis goes away.

use super::codec::{self, fields};
use super::{Command, State};
use netkit_proto::chat::event::{LeaveReason, MemberId};
use netkit_proto::chat::hub::Hub;
use netkit_proto::chat::link::Shared;
use redis::{Connection, RedisResult};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Commands sent to Redis in one round trip at most.
const BATCH: usize = 512;

/// Stream entries kept: enough for the history among joins and leaves.
pub(super) fn stream_cap(history: usize) -> usize {
    (history * 10).max(1000)
}

pub(super) struct Writer {
    state: Arc<State>,
    hub: Arc<Hub>,
    rx: Receiver<Command>,
    con: Option<Connection>,
    backoff: Duration,
    next_tick: Instant,
}

impl Writer {
    pub(super) fn new(state: Arc<State>, hub: Arc<Hub>, rx: Receiver<Command>) -> Writer {
        Writer {
            state,
            hub,
            rx,
            con: None,
            backoff: FIRST_BACKOFF,
            next_tick: Instant::now(),
        }
    }

    fn period(&self) -> Duration {
        (self.state.config.liveness / 3).max(Duration::from_millis(50))
    }

    /// Connects and registers this instance; false if Redis is away.
    pub(super) fn connect_once(&mut self) -> bool {
        let was_whole = self.state.whole();
        let result = self.state.connect().and_then(|mut con| {
            // Publish from now on: a member who joins while we register is
            // either announced by its own join or re-announced below (the
            // others ignore the repeat).
            self.state.writer_ok.store(true, Ordering::SeqCst);
            self.register(&mut con).map(|()| con)
        });
        match result {
            Ok(con) => {
                self.con = Some(con);
                self.backoff = FIRST_BACKOFF;
                self.next_tick = Instant::now() + self.period();
                self.state.whole_again(was_whole);
                true
            }
            Err(e) => {
                self.state.lost(&self.state.writer_ok, "connecting", &e);
                false
            }
        }
    }

    /// Heartbeat, instance set, member hash, name claims, and a presence entry
    /// per local member (after an outage Redis may have forgotten everything).
    fn register(&self, con: &mut Connection) -> RedisResult<()> {
        let (state, keys, me) = (&self.state, &self.state.keys, &self.state.me);
        let names = self.hub.with_room(|room| room.local_names());
        let mut pipe = redis::pipe();
        state
            .heartbeat(pipe.atomic())
            .ignore()
            .cmd("DEL")
            .arg(keys.members(me))
            .ignore();
        for name in &names {
            pipe.cmd("HSET")
                .arg(keys.members(me))
                .arg(&**name)
                .arg(1)
                .ignore();
            // Number 0: news to the others only.
            self.xadd(&mut pipe, me, 0, &Shared::Joined { name: name.clone() });
        }
        pipe.query::<()>(con)?;
        self.refresh_names(con)
    }

    fn xadd(&self, pipe: &mut redis::Pipeline, origin: &str, number: u64, event: &Shared) {
        let cap = stream_cap(self.state.config.history);
        let cmd = pipe
            .cmd("XADD")
            .arg(self.state.keys.log())
            .arg("MAXLEN")
            .arg("~")
            .arg(cap)
            .arg("*");
        for (k, v) in fields(origin, number, event) {
            cmd.arg(k).arg(v);
        }
        cmd.ignore();
    }

    fn refresh_names(&self, con: &mut Connection) -> RedisResult<()> {
        let held = self.hub.with_room(|room| room.held_names());
        if held.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(codec::REFRESH).arg(held.len());
        for name in &held {
            cmd.arg(self.state.keys.name(name));
        }
        cmd.arg(&self.state.me).arg(self.state.ttl_ms());
        let lost: Vec<String> = cmd.query(con)?;
        for key in lost {
            tracing::warn!(
                "backplane: {key} is held by another instance (taken while the room was split)"
            );
        }
        Ok(())
    }

    pub(super) fn run(mut self) {
        loop {
            if self.con.is_some() && !self.state.writer_ok.load(Ordering::SeqCst) {
                // A claim found Redis away: reconnect and register again.
                self.con = None;
            }
            if self.con.is_none() {
                match self.rx.recv_timeout(self.backoff) {
                    Ok(cmd) => {
                        if self.drop_while_split(cmd) {
                            return;
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                if !self.connect_once() {
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
                continue;
            }
            let wait = self.next_tick.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(first) => {
                    let mut batch = vec![first];
                    while batch.len() < BATCH {
                        match self.rx.try_recv() {
                            Ok(cmd) => batch.push(cmd),
                            Err(_) => break,
                        }
                    }
                    if self.apply(batch) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if Instant::now() >= self.next_tick {
                self.next_tick = Instant::now() + self.period();
                if let Err(e) = self.tick() {
                    self.fail("the heartbeat", &e);
                }
            }
        }
    }

    /// A command that arrives while split: an event published just before the
    /// outage is delivered here, locally. True when the thread should end.
    fn drop_while_split(&self, cmd: Command) -> bool {
        match cmd {
            Command::Publish(number, event) => {
                self.hub.act(None, |room| room.receive_own(number, event));
                false
            }
            Command::Release(_) => false, // the claim expires by itself
            Command::Goodbye(_, done) => {
                let _ = done.send(());
                true
            }
        }
    }

    fn fail(&mut self, what: &str, e: &redis::RedisError) {
        self.con = None;
        self.state.lost(&self.state.writer_ok, what, e);
    }

    /// Sends a batch in one round trip. True when the thread should end.
    fn apply(&mut self, batch: Vec<Command>) -> bool {
        let (keys, me) = (&self.state.keys, self.state.me.clone());
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut published = Vec::new();
        let mut goodbye = None;
        for cmd in batch {
            match cmd {
                Command::Publish(number, event) => {
                    match &event {
                        Shared::Joined { name } => {
                            pipe.cmd("HSET")
                                .arg(keys.members(&me))
                                .arg(&**name)
                                .arg(1)
                                .ignore();
                        }
                        Shared::Left { name, .. } => {
                            pipe.cmd("HDEL")
                                .arg(keys.members(&me))
                                .arg(&**name)
                                .ignore();
                        }
                        Shared::Renamed { old, new } => {
                            pipe.cmd("HDEL").arg(keys.members(&me)).arg(&**old).ignore();
                            pipe.cmd("HSET")
                                .arg(keys.members(&me))
                                .arg(&**new)
                                .arg(1)
                                .ignore();
                        }
                        _ => {}
                    }
                    self.xadd(&mut pipe, &me, number, &event);
                    published.push((number, event));
                }
                Command::Release(name) => {
                    // Held here again meanwhile (released, then re-claimed
                    // before this ran): keep the claim.
                    let held = self
                        .hub
                        .with_room(|room| room.name_taken(&name, MemberId::Elsewhere));
                    if held {
                        continue;
                    }
                    pipe.cmd("EVAL")
                        .arg(codec::RELEASE)
                        .arg(1)
                        .arg(keys.name(&name))
                        .arg(&me)
                        .ignore();
                }
                Command::Goodbye(names, done) => {
                    for name in &names {
                        let reason = LeaveReason::Quit("server shutting down".into());
                        let left = Shared::Left {
                            name: name.clone(),
                            reason,
                        };
                        self.xadd(&mut pipe, &me, 0, &left);
                        pipe.cmd("EVAL")
                            .arg(codec::RELEASE)
                            .arg(1)
                            .arg(keys.name(name))
                            .arg(&me)
                            .ignore();
                    }
                    pipe.cmd("DEL")
                        .arg(keys.alive(&me))
                        .arg(keys.members(&me))
                        .ignore()
                        .cmd("SREM")
                        .arg(keys.instances())
                        .arg(&me)
                        .ignore();
                    goodbye = Some(done);
                    break;
                }
            }
        }
        let Some(con) = self.con.as_mut() else {
            return false;
        };
        let mut result = pipe.query::<()>(con);
        if result.is_err() {
            // The connection may have died with a Redis that is back already
            // (a restart between two heartbeats): one fresh try.
            if let Ok(mut fresh) = self.state.connect() {
                if self.register(&mut fresh).is_ok() {
                    result = pipe.query::<()>(&mut fresh);
                    self.con = Some(fresh);
                }
            }
        }
        if let Err(e) = result {
            self.fail("publishing", &e);
            // Never sent (or not known to be): local members hear it now.
            self.hub.act(None, |room| {
                for (number, event) in published {
                    room.receive_own(number, event);
                }
            });
        }
        if let Some(done) = goodbye {
            let _ = done.send(());
            return true;
        }
        false
    }

    /// Heartbeat, name refresh, and reaping of instances whose heartbeat stopped.
    fn tick(&mut self) -> RedisResult<()> {
        let state = self.state.clone();
        let (keys, me) = (&state.keys, &state.me);
        let Some(mut con) = self.con.take() else {
            return Ok(());
        };
        let result = (|| {
            let (added,): (i64,) = state.heartbeat(&mut redis::pipe()).query(&mut con)?;
            if added == 1 {
                // Taken for dead (a stall longer than the liveness timeout, or
                // Redis lost its data): announce our members again.
                tracing::warn!(
                    "backplane: this instance was missing from Redis; registering again"
                );
                self.register(&mut con)?;
            }
            self.refresh_names(&mut con)?;
            let instances: Vec<String> = redis::cmd("SMEMBERS")
                .arg(keys.instances())
                .query(&mut con)?;
            for other in instances.iter().filter(|i| *i != me) {
                let alive: bool = redis::cmd("EXISTS")
                    .arg(keys.alive(other))
                    .query(&mut con)?;
                if !alive {
                    self.reap(&mut con, other)?;
                }
            }
            Ok(())
        })();
        self.con = Some(con);
        result
    }

    /// Announces a dead instance's members as LEFT and frees their names, if
    /// this instance wins the right to.
    fn reap(&self, con: &mut Connection, dead: &str) -> RedisResult<()> {
        let keys = &self.state.keys;
        let won: Option<String> = redis::cmd("SET")
            .arg(keys.reap(dead))
            .arg(&self.state.me)
            .arg("NX")
            .arg("PX")
            .arg(self.state.ttl_ms())
            .query(con)?;
        if won.is_none() {
            return Ok(());
        }
        let names: Vec<String> = redis::cmd("HKEYS").arg(keys.members(dead)).query(con)?;
        let mut pipe = redis::pipe();
        pipe.atomic();
        for name in &names {
            let left = Shared::Left {
                name: name.as_str().into(),
                reason: LeaveReason::TimedOut,
            };
            self.xadd(&mut pipe, dead, 0, &left);
        }
        if !names.is_empty() {
            let release = pipe.cmd("EVAL").arg(codec::RELEASE).arg(names.len());
            for name in &names {
                release.arg(keys.name(name));
            }
            release.arg(dead).ignore();
        }
        pipe.cmd("DEL")
            .arg(keys.members(dead))
            .ignore()
            .cmd("SREM")
            .arg(keys.instances())
            .arg(dead)
            .ignore();
        pipe.query::<()>(con)?;
        tracing::info!(
            "backplane: instance {dead} stopped its heartbeat; {} of its members left",
            names.len()
        );
        Ok(())
    }
}
