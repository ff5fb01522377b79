//! Per-client limits in the manner of Postfix's anvil: sessions at once, sessions
//! begun per minute and new keys (Diffie-Hellman misses) per minute, counted per client
//! address or per network (/24, /64), with the reasons the gateway refuses a client for.
//!
//! No I/O and no clock of its own: the caller passes `now`, so the tests step time.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// The window of the per-minute limits.
const MINUTE: Duration = Duration::from_secs(60);
/// Above this many clients remembered, idle ones whose window is over are forgotten.
const SWEEP_ABOVE: usize = 4096;

/// Why the gateway refused a client or ended its session early. The `name` is what logs
/// and metrics label it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// All session slots are in use (`limits.max_sessions`).
    TooManySessions,
    /// The client already has `limits.client_sessions` sessions open.
    ClientSessions,
    /// The client began `limits.client_sessions_per_minute` sessions in the last minute.
    ClientRate,
    /// The client made `limits.client_new_keys_per_minute` new-key exchanges in the last
    /// minute.
    ClientNewKeys,
    /// A command line longer than `limits.line_length` (answered 500, the session goes on).
    LineTooLong,
    /// A command line that goes on far past the limit without ending.
    LineRunaway,
    /// `limits.hard_error_limit` errors in one session.
    TooManyErrors,
    /// A command line (or body record) not complete within its deadline.
    LineDeadline,
    /// The client silent on its turn for the idle timeout (shorter under stress).
    IdleTimeout,
    /// The Diffie-Hellman queue is full: the exchange gets 454, the session goes on.
    DhQueueFull,
}

impl Refusal {
    /// Every reason, for callers that keep a counter per reason.
    pub const ALL: [Self; 10] = [
        Self::TooManySessions,
        Self::ClientSessions,
        Self::ClientRate,
        Self::ClientNewKeys,
        Self::LineTooLong,
        Self::LineRunaway,
        Self::TooManyErrors,
        Self::LineDeadline,
        Self::IdleTimeout,
        Self::DhQueueFull,
    ];

    /// A short stable name for logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::TooManySessions => "too-many-sessions",
            Self::ClientSessions => "client-sessions",
            Self::ClientRate => "client-session-rate",
            Self::ClientNewKeys => "client-new-key-rate",
            Self::LineTooLong => "line-too-long",
            Self::LineRunaway => "line-runaway",
            Self::TooManyErrors => "too-many-errors",
            Self::LineDeadline => "line-deadline",
            Self::IdleTimeout => "idle-timeout",
            Self::DhQueueFull => "dh-queue-full",
        }
    }

    /// What the client is told (CRLF included).
    pub fn reply(self) -> &'static [u8] {
        match self {
            Self::TooManySessions => {
                b"421 4.3.2 ssmail gateway: too many sessions, try again later\r\n"
            }
            Self::ClientSessions => {
                b"421 4.7.0 ssmail gateway: too many sessions from your address, try again later\r\n"
            }
            Self::ClientRate => {
                b"421 4.7.0 ssmail gateway: too many new sessions from your address, try again later\r\n"
            }
            Self::ClientNewKeys => {
                b"421 4.7.0 ssmail gateway: too many new keys from your address, try again later\r\n"
            }
            Self::LineTooLong => b"500 5.5.2 ssmail gateway: line too long\r\n",
            Self::LineRunaway => {
                b"421 4.7.0 ssmail gateway: line too long, closing\r\n"
            }
            Self::TooManyErrors => b"421 4.7.0 ssmail gateway: too many errors, closing\r\n",
            Self::LineDeadline => {
                b"421 4.4.2 ssmail gateway: line not complete in time, closing\r\n"
            }
            Self::IdleTimeout => b"421 4.4.2 ssmail gateway: timeout, closing\r\n",
            Self::DhQueueFull => b"454 XCRYPT FAIL\r\n",
        }
    }
}

/// A network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parses `ADDR/LEN` or a bare address (a host).
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        Some(Self {
            addr: mask(addr, prefix),
            prefix,
        })
    }

    /// Whether `ip` is inside (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = unmap(ip);
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// The per-client limits; 0 turns one off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientLimits {
    /// Sessions open at once per client.
    pub sessions: u32,
    /// Sessions begun per client in the last minute.
    pub sessions_per_minute: u32,
    /// New-key exchanges (Diffie-Hellman misses) per client in the last minute.
    pub new_keys_per_minute: u32,
    /// Count per /24 (IPv4) or /64 (IPv6) rather than per address.
    pub per_network: bool,
    /// Clients no per-client limit applies to.
    pub exempt: Vec<Net>,
}

impl Default for ClientLimits {
    /// Postfix's defaults: 50 sessions at once (`smtpd_client_connection_count_limit`),
    /// no rate limits, the loopback networks exempt (as `$mynetworks` is).
    fn default() -> Self {
        Self {
            sessions: 50,
            sessions_per_minute: 0,
            new_keys_per_minute: 0,
            per_network: false,
            exempt: ["127.0.0.0/8", "::1"]
                .iter()
                .filter_map(|n| Net::parse(n))
                .collect(),
        }
    }
}

/// Event times in the last minute, at most `cap` of them (the limit: more are never
/// needed to say "over").
#[derive(Debug, Default)]
struct Window(VecDeque<Instant>);

impl Window {
    fn expire(&mut self, now: Instant) {
        while self
            .0
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= MINUTE)
        {
            self.0.pop_front();
        }
    }

    /// Records an event unless `cap` are in the window already (0: no limit, nothing kept).
    fn admit(&mut self, cap: u32, now: Instant) -> bool {
        if cap == 0 {
            return true;
        }
        self.expire(now);
        if self.0.len() >= cap as usize {
            return false;
        }
        self.0.push_back(now);
        true
    }
}

#[derive(Debug, Default)]
struct Usage {
    open: u32,
    begun: Window,
    keys: Window,
}

/// The counts of every client seen lately.
#[derive(Debug)]
pub struct Limiter {
    limits: ClientLimits,
    clients: HashMap<IpAddr, Usage>,
}

impl Limiter {
    /// No client counted yet.
    pub fn new(limits: ClientLimits) -> Self {
        Self {
            limits,
            clients: HashMap::new(),
        }
    }

    /// Whose counts `ip` goes by, or `None` if it is exempt.
    fn key(&self, ip: IpAddr) -> Option<IpAddr> {
        let ip = unmap(ip);
        if self.limits.exempt.iter().any(|n| n.contains(ip)) {
            return None;
        }
        Some(match (self.limits.per_network, ip) {
            (false, _) => ip,
            (true, IpAddr::V4(_)) => mask(ip, 24),
            (true, IpAddr::V6(_)) => mask(ip, 64),
        })
    }

    /// A session from `ip` begins at `now`: counted, or refused. Each admitted session
    /// must be [`end`](Self::end)ed.
    pub fn begin(&mut self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let Some(key) = self.key(ip) else {
            return Ok(());
        };
        if self.clients.len() > SWEEP_ABOVE {
            self.sweep(now);
        }
        let limits = &self.limits;
        let usage = self.clients.entry(key).or_default();
        if limits.sessions != 0 && usage.open >= limits.sessions {
            return Err(Refusal::ClientSessions);
        }
        if !usage.begun.admit(limits.sessions_per_minute, now) {
            return Err(Refusal::ClientRate);
        }
        usage.open += 1;
        Ok(())
    }

    /// A session [`begin`](Self::begin) admitted has ended.
    pub fn end(&mut self, ip: IpAddr) {
        let Some(key) = self.key(ip) else {
            return;
        };
        if let Some(usage) = self.clients.get_mut(&key) {
            usage.open = usage.open.saturating_sub(1);
            if usage.open == 0 && usage.begun.0.is_empty() && usage.keys.0.is_empty() {
                self.clients.remove(&key);
            }
        }
    }

    /// The client at `ip` needs a new key (a Diffie-Hellman computation) at `now`:
    /// counted, or refused.
    pub fn new_key(&mut self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let Some(key) = self.key(ip) else {
            return Ok(());
        };
        let cap = self.limits.new_keys_per_minute;
        let usage = self.clients.entry(key).or_default();
        if usage.keys.admit(cap, now) {
            Ok(())
        } else {
            Err(Refusal::ClientNewKeys)
        }
    }

    /// Clients remembered.
    #[cfg(test)]
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// Forgets the clients with no session open and nothing in their windows.
    pub fn sweep(&mut self, now: Instant) {
        self.clients.retain(|_, u| {
            u.begun.expire(now);
            u.keys.expire(now);
            u.open > 0 || !u.begun.0.is_empty() || !u.keys.0.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn limits(sessions: u32, per_minute: u32, keys: u32) -> ClientLimits {
        ClientLimits {
            sessions,
            sessions_per_minute: per_minute,
            new_keys_per_minute: keys,
            per_network: false,
            exempt: Vec::new(),
        }
    }

    #[test]
    fn concurrent_sessions_are_counted_per_address() {
        let mut l = Limiter::new(limits(2, 0, 0));
        let t = Instant::now();
        assert_eq!(l.begin(ip("192.0.2.1"), t), Ok(()));
        assert_eq!(l.begin(ip("192.0.2.1"), t), Ok(()));
        assert_eq!(l.begin(ip("192.0.2.1"), t), Err(Refusal::ClientSessions));
        // Another address has its own count.
        assert_eq!(l.begin(ip("192.0.2.2"), t), Ok(()));
        l.end(ip("192.0.2.1"));
        assert_eq!(l.begin(ip("192.0.2.1"), t), Ok(()));
    }

    #[test]
    fn session_rate_is_a_sliding_minute() {
        let mut l = Limiter::new(limits(0, 3, 0));
        let t = Instant::now();
        let a = ip("2001:db8::1");
        for s in 0..3 {
            assert_eq!(l.begin(a, t + Duration::from_secs(s * 10)), Ok(()));
            l.end(a);
        }
        assert_eq!(
            l.begin(a, t + Duration::from_secs(59)),
            Err(Refusal::ClientRate)
        );
        // The first one falls out of the window at 60 s.
        assert_eq!(l.begin(a, t + Duration::from_secs(60)), Ok(()));
        assert_eq!(
            l.begin(a, t + Duration::from_secs(61)),
            Err(Refusal::ClientRate)
        );
    }

    #[test]
    fn new_keys_are_limited_apart_from_sessions() {
        let mut l = Limiter::new(limits(0, 0, 2));
        let t = Instant::now();
        let a = ip("198.51.100.7");
        assert_eq!(l.new_key(a, t), Ok(()));
        assert_eq!(l.new_key(a, t), Ok(()));
        assert_eq!(l.new_key(a, t), Err(Refusal::ClientNewKeys));
        assert_eq!(l.begin(a, t), Ok(()), "sessions are not new keys");
        assert_eq!(l.new_key(a, t + MINUTE), Ok(()));
    }

    #[test]
    fn networks_share_a_count_when_asked() {
        let mut l = Limiter::new(ClientLimits {
            per_network: true,
            ..limits(1, 0, 0)
        });
        let t = Instant::now();
        assert_eq!(l.begin(ip("203.0.113.9"), t), Ok(()));
        assert_eq!(
            l.begin(ip("203.0.113.200"), t),
            Err(Refusal::ClientSessions)
        );
        assert_eq!(l.begin(ip("203.0.114.1"), t), Ok(()));
        assert_eq!(l.begin(ip("2001:db8:0:1::5"), t), Ok(()));
        assert_eq!(
            l.begin(ip("2001:db8:0:1:ffff::9"), t),
            Err(Refusal::ClientSessions)
        );
        assert_eq!(l.begin(ip("2001:db8:0:2::5"), t), Ok(()));
    }

    #[test]
    fn exempt_clients_are_never_refused() {
        let mut l = Limiter::new(ClientLimits {
            exempt: vec![Net::parse("127.0.0.0/8").expect("net")],
            ..limits(1, 1, 1)
        });
        let t = Instant::now();
        for _ in 0..10 {
            assert_eq!(l.begin(ip("127.0.0.1"), t), Ok(()));
            assert_eq!(l.new_key(ip("127.0.0.1"), t), Ok(()));
        }
        // Mapped IPv4 counts as IPv4.
        assert_eq!(l.begin(ip("::ffff:127.0.0.3"), t), Ok(()));
        assert_eq!(l.clients(), 0);
        assert_eq!(l.begin(ip("10.0.0.1"), t), Ok(()));
        assert_eq!(l.begin(ip("10.0.0.1"), t), Err(Refusal::ClientSessions));
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let mut l = Limiter::new(limits(5, 5, 0));
        let t = Instant::now();
        l.begin(ip("192.0.2.1"), t).expect("admitted");
        l.end(ip("192.0.2.1"));
        assert_eq!(l.clients(), 1, "its window still counts");
        l.sweep(t + MINUTE);
        assert_eq!(l.clients(), 0);
    }

    #[test]
    fn nets_parse_and_match() {
        let n = Net::parse("10.1.2.3/16").expect("net");
        assert!(n.contains(ip("10.1.200.1")));
        assert!(!n.contains(ip("10.2.0.1")));
        assert!(!n.contains(ip("::1")));
        assert!(Net::parse("::1").expect("host").contains(ip("::1")));
        assert!(
            Net::parse("0.0.0.0/0")
                .expect("all")
                .contains(ip("8.8.8.8"))
        );
        assert_eq!(Net::parse("10.0.0.0/33"), None);
        assert_eq!(Net::parse("nonsense"), None);
        for r in Refusal::ALL {
            assert!(r.reply().ends_with(b"\r\n") && !r.name().is_empty());
        }
    }
}
