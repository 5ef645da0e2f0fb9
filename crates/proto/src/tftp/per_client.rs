//! How many transfers one address may have running at once.
//!
//! A request costs the server a socket, a thread and a slot out of the
//! driver's fixed number; without a cap per address, one host that sends a
//! burst of requests and never acknowledges them takes every slot, and no one
//! else is served until they time out. Each transfer holds a [`Slot`] of its
//! address; the slot is given back when the transfer is dropped, however it
//! ended. Addresses are counted by IP, not port: a flood comes from many
//! ports of one host.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The transfers each address has running.
#[derive(Debug)]
pub struct PerClient {
    max: usize,
    running: Mutex<HashMap<IpAddr, usize>>,
}

impl PerClient {
    /// At most `max` transfers per address (0 is taken as 1).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            running: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more transfer of `ip`, unless it has `max` running.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let n = running.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            table: Arc::clone(self),
            ip,
        })
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Transfers `ip` has running.
    pub fn running(&self, ip: IpAddr) -> usize {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.get(&ip).copied().unwrap_or(0)
    }
}

/// One running transfer of an address; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    table: Arc<PerClient>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self.table.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = running.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                // Only addresses with transfers running are kept.
                running.remove(&self.ip);
            }
        }
    }
}
