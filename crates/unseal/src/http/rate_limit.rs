//! Rate limits of the verify and reencrypt endpoints, one token bucket per client, so
//! that one client sending garbage (or a flood) cannot starve the others.
//!
//! A client is its peer address, plus the last `X-Forwarded-For` hop when there is one:
//! calls through the API server's service proxy all come from the API server, which
//! names the caller there. A direct caller can write any `X-Forwarded-For` it likes, so
//! every peer address also has a bucket of its own, [`PEER_FACTOR`] times larger, which
//! caps what such a caller gains by inventing hops. The number of buckets is bounded:
//! past [`MAX_CLIENTS`], full (idle) buckets are dropped, and if that is not enough new
//! clients share one overflow bucket.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// How many clients are tracked at most.
pub const MAX_CLIENTS: usize = 4096;
/// How much larger a peer address's own bucket is than a client's.
pub const PEER_FACTOR: u32 = 10;

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Clone, Debug)]
pub struct RateLimit {
    tokens: f64,
    last: Instant,
    burst: f64,
    per_second: f64,
}

impl RateLimit {
    /// A full bucket.
    pub fn new(burst: u32, per_second: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            last: Instant::now(),
            burst: f64::from(burst),
            per_second: f64::from(per_second),
        }
    }

    fn refill(&mut self, now: Instant) {
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self) -> bool {
        self.try_take_n(1)
    }

    /// Takes `n` tokens if there are that many.
    pub fn try_take_n(&mut self, n: u32) -> bool {
        self.refill(Instant::now());
        let n = f64::from(n);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }

    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.burst
    }
}

/// Who is calling, as far as the controller can tell.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// The TCP peer.
    pub peer: IpAddr,
    /// The last `X-Forwarded-For` hop, when the peer forwarded the call.
    pub forwarded_for: Option<String>,
}

impl ClientKey {
    /// The key for a call from `peer` with this `X-Forwarded-For` header value, if any.
    pub fn new(peer: IpAddr, forwarded_for: Option<&str>) -> Self {
        let forwarded_for = forwarded_for
            .and_then(|h| h.rsplit(',').next())
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| h.chars().take(64).collect());
        Self {
            peer,
            forwarded_for,
        }
    }
}

#[derive(Default)]
struct Buckets {
    clients: HashMap<ClientKey, RateLimit>,
    peers: HashMap<IpAddr, RateLimit>,
    overflow: Option<RateLimit>,
}

/// Per-client token buckets.
pub struct ClientRates {
    burst: u32,
    per_second: u32,
    buckets: Mutex<Buckets>,
}

impl ClientRates {
    /// Each client may make `burst` calls at once, refilled at `per_second`.
    pub fn new(burst: u32, per_second: u32) -> Self {
        Self {
            burst,
            per_second,
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// Takes a token for `client`; `false` when it (or its peer address) has none left.
    pub fn try_take(&self, client: &ClientKey) -> bool {
        self.try_take_n(client, 1)
    }

    /// Takes `n` tokens for `client` (a costly call is charged by its cost); `false` when
    /// it (or its peer address) has too few left. A refusal by the client's own bucket
    /// takes nothing from the peer's.
    pub fn try_take_n(&self, client: &ClientKey, n: u32) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if buckets.clients.len() >= MAX_CLIENTS && !buckets.clients.contains_key(client) {
            buckets.clients.retain(|_, b| !b.is_full(now));
            buckets.peers.retain(|_, b| !b.is_full(now));
        }
        let (burst, rate) = (self.burst, self.per_second);
        // The client's own bucket first: a refused call must not use up its peer's.
        let client_ok =
            if buckets.clients.len() < MAX_CLIENTS || buckets.clients.contains_key(client) {
                buckets
                    .clients
                    .entry(client.clone())
                    .or_insert_with(|| RateLimit::new(burst, rate))
                    .try_take_n(n)
            } else {
                buckets
                    .overflow
                    .get_or_insert_with(|| RateLimit::new(burst, rate))
                    .try_take_n(n)
            };
        if !client_ok {
            return false;
        }
        if buckets.peers.len() >= MAX_CLIENTS && !buckets.peers.contains_key(&client.peer) {
            return true;
        }
        buckets
            .peers
            .entry(client.peer)
            .or_insert_with(|| {
                RateLimit::new(
                    burst.saturating_mul(PEER_FACTOR),
                    rate.saturating_mul(PEER_FACTOR),
                )
            })
            .try_take_n(n)
    }

    /// How many clients have a bucket now (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clients
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_bucket_allows_a_burst_then_refuses() {
        let mut limit = RateLimit::new(3, 1);
        assert!((0..3).all(|_| limit.try_take()));
        assert!(!limit.try_take());
    }

    #[test]
    fn one_client_exhausting_its_bucket_leaves_others_served() {
        let rates = ClientRates::new(5, 1);
        let noisy = ClientKey::new(ip("10.0.0.1"), None);
        let quiet = ClientKey::new(ip("10.0.0.2"), None);
        assert_eq!((0..50).filter(|_| rates.try_take(&noisy)).count(), 5);
        assert!(rates.try_take(&quiet));
        let via_proxy_a = ClientKey::new(ip("10.0.0.9"), Some("1.1.1.1, 192.168.0.5"));
        let via_proxy_b = ClientKey::new(ip("10.0.0.9"), Some("192.168.0.6"));
        assert_eq!((0..50).filter(|_| rates.try_take(&via_proxy_a)).count(), 5);
        assert!(
            rates.try_take(&via_proxy_b),
            "another user behind the same proxy"
        );
    }

    #[test]
    fn inventing_forwarded_hops_is_capped_by_the_peer_bucket() {
        let rates = ClientRates::new(2, 1);
        let peer = ip("10.0.0.7");
        let served = (0..1000)
            .filter(|i| rates.try_take(&ClientKey::new(peer, Some(&format!("h{i}")))))
            .count();
        assert_eq!(served, 2 * PEER_FACTOR as usize);
        assert!(rates.try_take(&ClientKey::new(ip("10.0.0.8"), None)));
    }

    #[test]
    fn the_number_of_buckets_is_bounded() {
        let rates = ClientRates::new(1, 1);
        for i in 0..(MAX_CLIENTS as u32 * 2) {
            let peer = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            rates.try_take(&ClientKey::new(peer, None));
        }
        assert!(rates.tracked() <= MAX_CLIENTS);
    }
}
