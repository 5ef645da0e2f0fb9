//! Flood limits: a token bucket, and one bucket per source address.
//!
//! Each member has a `Bucket` for what it says (`--rate` / `--burst`). Joins
//! and renames are charged to the member's *address* instead (`AddressLimit`,
//! `--join-rate` / `--join-burst`): a member is free to be many (a UDP port is
//! cheap, so is an IRC connection or a web join), so a per-member limit cannot
//! stop one host from flooding the room with members. An address is an IPv4
//! address, or an IPv6 /64 (what one host is usually given); an IPv4-mapped
//! IPv6 address counts as its IPv4 address.
//!
//! The table of addresses is bounded ([`MAX_ADDRESSES`]): buckets that have
//! refilled are forgotten when it is full (they hold nothing a fresh bucket
//! would not), and while it is still full of addresses that are all busy
//! joining, a new address is refused rather than the table grown.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Instant;

/// Addresses whose join buckets are remembered at most.
pub const MAX_ADDRESSES: usize = 65_536;

/// A token bucket: refills at a rate per second up to a burst.
#[derive(Debug, Clone)]
pub(super) struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    /// A full bucket.
    pub(super) fn full(now: Instant, burst: u32) -> Bucket {
        Bucket {
            tokens: f64::from(burst),
            refilled: now,
        }
    }

    fn refill(&mut self, now: Instant, rate: f64, burst: u32) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(burst));
        self.refilled = now;
    }

    /// Whether a token was there to take (always, when `rate` is 0: no limit).
    pub(super) fn take(&mut self, now: Instant, rate: f64, burst: u32) -> bool {
        if rate <= 0.0 {
            return true;
        }
        self.refill(now, rate, burst);
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }

    /// Whether it is full again by `now` (so forgetting it changes nothing).
    fn is_full(&self, now: Instant, rate: f64, burst: u32) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens + elapsed * rate >= f64::from(burst)
    }
}

/// One join bucket per address (see the module documentation).
#[derive(Debug)]
pub(super) struct AddressLimit {
    rate: f64,
    burst: u32,
    buckets: HashMap<IpAddr, Bucket>,
}

/// The address a host is counted under: IPv4 as is, IPv6 by its /64.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

impl AddressLimit {
    /// `rate` joins per second per address, `burst` at once (`rate` 0: no limit).
    pub(super) fn new(rate: f64, burst: u32) -> AddressLimit {
        AddressLimit {
            rate,
            burst,
            buckets: HashMap::new(),
        }
    }

    /// Charges one join to `ip`; false when its address is over the limit.
    pub(super) fn take(&mut self, now: Instant, ip: IpAddr) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let key = address_key(ip);
        if !self.buckets.contains_key(&key) && self.buckets.len() >= MAX_ADDRESSES {
            let (rate, burst) = (self.rate, self.burst);
            self.buckets.retain(|_, b| !b.is_full(now, rate, burst));
            if self.buckets.len() >= MAX_ADDRESSES {
                return false;
            }
        }
        let (rate, burst) = (self.rate, self.burst);
        self.buckets
            .entry(key)
            .or_insert_with(|| Bucket::full(now, burst))
            .take(now, rate, burst)
    }

    /// Addresses remembered (for tests and the bound).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_address_gets_its_burst_then_its_rate() {
        let t = Instant::now();
        let mut limit = AddressLimit::new(2.0, 5);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!((0..100).filter(|_| limit.take(t, ip)).count(), 5);
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limit.take(t, other), "another address has its own bucket");
        let later = t + Duration::from_secs(1);
        assert_eq!((0..100).filter(|_| limit.take(later, ip)).count(), 2);
    }

    #[test]
    fn ipv6_counts_by_slash_64_and_mapped_ipv4_as_ipv4() {
        let t = Instant::now();
        let mut limit = AddressLimit::new(1.0, 3);
        let taken = (0..10u16)
            .filter(|i| {
                limit.take(
                    t,
                    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, *i)),
                )
            })
            .count();
        assert_eq!(taken, 3, "one /64 is one host");
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert_eq!(address_key(mapped), v4);
    }

    #[test]
    fn the_table_is_bounded() {
        let t = Instant::now();
        let mut limit = AddressLimit::new(1.0, 2);
        for i in 0..MAX_ADDRESSES as u32 + 10 {
            limit.take(t, IpAddr::V4(i.into()));
        }
        assert!(limit.len() <= MAX_ADDRESSES);
        // Once their buckets refill, old addresses make room for new ones.
        let later = t + Duration::from_secs(5);
        assert!(limit.take(later, "203.0.113.9".parse().unwrap()));
        assert!(limit.len() <= MAX_ADDRESSES);
    }
}
