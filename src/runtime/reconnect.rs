//! When a `ConnectionActor` may connect again: the reconnect policy and the
//! health of the current connection, as plain values the actor consults.
//!
//! A sick peer must never drive the client into a connect loop. A connect that
//! fails opens a backoff window, and so does a connection that dies before it
//! proved healthy (accepted then closed or reset, closed mid-frame, answered
//! garbage): to the cluster both are failed connects. A first good answer
//! proves a connection healthy and forgets past failures. While the window is open
//! requests fail fast, so the producer moves to another broker.
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

/// Exponential backoff with jitter and a cap, per remote address (as `fred`'s
/// `ReconnectPolicy`): `base`, `2 * base`, `4 * base`, ... up to `max`, each
/// scaled by a random factor in `1 ± jitter` so clients do not reconnect in step.
///
/// ```
/// use std::time::Duration;
/// use actix_rocketmq::internals::runtime::ReconnectPolicy;
///
/// let mut p = ReconnectPolicy::new(Duration::from_millis(100), Duration::from_secs(3)).with_jitter(0.0);
/// assert_eq!(p.next_delay(), Duration::from_millis(100));
/// assert_eq!(p.next_delay(), Duration::from_millis(200));
/// assert_eq!(p.attempts(), 2);
/// p.reset();
/// assert_eq!(p.next_delay(), Duration::from_millis(100));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// The first delay.
    pub base: Duration,
    /// The largest delay (before jitter).
    pub max: Duration,
    /// Relative spread of each delay, `0.0..1.0` (default 0.2: ±20 %).
    pub jitter: f64,
    attempts: u32,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy::new(Duration::from_millis(100), Duration::from_secs(3))
    }
}

impl ReconnectPolicy {
    /// Delays from `base` doubling up to `max`, ±20 % jitter.
    pub fn new(base: Duration, max: Duration) -> Self {
        ReconnectPolicy {
            base,
            max,
            jitter: 0.2,
            attempts: 0,
        }
    }

    /// Sets the relative jitter (clamped to `0.0..=0.9`).
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter.clamp(0.0, 0.9);
        self
    }

    /// Failed attempts counted since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Counts one more failure and returns how long to wait before the next connect.
    pub fn next_delay(&mut self) -> Duration {
        self.attempts = self.attempts.saturating_add(1);
        let exp = self
            .base
            .saturating_mul(1u32 << (self.attempts - 1).min(16))
            .min(self.max);
        if self.jitter > 0.0 {
            exp.mul_f64(rand::thread_rng().gen_range(1.0 - self.jitter..1.0 + self.jitter))
        } else {
            exp
        }
    }

    /// Forgets the failures: the next delay is `base` again.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

/// The reconnect state of one connection: the policy, the open backoff window,
/// and what the current connection has shown of its health.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionHealth {
    policy: ReconnectPolicy,
    /// Until when requests fail fast instead of connecting.
    retry_at: Option<Instant>,
    /// When the current connection was made.
    connected_at: Option<Instant>,
    /// The current connection delivered a response to a waiting request.
    answered: bool,
}

impl ConnectionHealth {
    pub(crate) fn new(policy: ReconnectPolicy) -> Self {
        ConnectionHealth {
            policy,
            retry_at: None,
            connected_at: None,
            answered: false,
        }
    }

    /// A connect succeeded; the backoff stays as it is until the connection proves healthy.
    pub(crate) fn connected(&mut self, now: Instant) {
        self.connected_at = Some(now);
        self.answered = false;
        self.retry_at = None;
    }

    /// A response matched a waiting request: the healthy exchange that forgets
    /// past failures (per response: a flag test and, the first time, a reset).
    #[inline]
    pub(crate) fn answered(&mut self) {
        if !self.answered {
            self.answered = true;
            self.policy.reset();
        }
    }

    /// A connect failed: opens the next backoff window and returns its length.
    pub(crate) fn connect_failed(&mut self, now: Instant) -> Duration {
        self.connected_at = None;
        let delay = self.policy.next_delay();
        self.retry_at = Some(now + delay);
        delay
    }

    /// The connection ended. One that answered (or lived long) reconnects at
    /// once (`None`); one that died before any answer, or because the peer sent
    /// undecodable bytes, counts as a failed connect (`Some(window)`).
    pub(crate) fn disconnected(&mut self, now: Instant, undecodable: bool) -> Option<Duration> {
        let since = self.connected_at.take()?;
        let lived = now.saturating_duration_since(since);
        // Long-lived connections never storm, answered or not (idle closes, dead peers).
        let healthy = !undecodable && (self.answered || lived >= STABLE_WITHOUT_ANSWER);
        if healthy {
            self.policy.reset();
            self.retry_at = None;
            None
        } else {
            Some(self.connect_failed(now))
        }
    }

    /// Requests fail fast until then.
    pub(crate) fn backing_off(&self, now: Instant) -> bool {
        self.retry_at.is_some_and(|t| now < t)
    }

    /// Failed connects (and young deaths) in a row.
    pub(crate) fn failures(&self) -> u32 {
        self.policy.attempts()
    }

    /// Time left in the backoff window.
    pub(crate) fn retry_in(&self, now: Instant) -> Option<Duration> {
        self.retry_at.and_then(|t| t.checked_duration_since(now))
    }
}

/// A connection open this long is no storm even if it never answered.
const STABLE_WITHOUT_ANSWER: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ReconnectPolicy {
        ReconnectPolicy::new(Duration::from_millis(100), Duration::from_millis(800))
            .with_jitter(0.0)
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut p = policy();
        let d: Vec<u128> = (0..6).map(|_| p.next_delay().as_millis()).collect();
        assert_eq!(d, [100, 200, 400, 800, 800, 800]);
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let mut p = ReconnectPolicy::new(Duration::from_millis(100), Duration::from_secs(1));
        for _ in 0..200 {
            p.reset();
            let d = p.next_delay();
            assert!(
                d >= Duration::from_millis(80) && d <= Duration::from_millis(120),
                "{d:?}"
            );
        }
    }

    #[test]
    fn a_connection_that_dies_before_answering_counts_as_a_failed_connect() {
        let t0 = Instant::now();
        let mut h = ConnectionHealth::new(policy());
        h.connected(t0);
        // Accepted, then closed at once: no answer.
        let w = h.disconnected(t0 + Duration::from_millis(1), false);
        assert_eq!(w, Some(Duration::from_millis(100)));
        assert!(h.backing_off(t0 + Duration::from_millis(50)));
        assert!(!h.backing_off(t0 + Duration::from_millis(102)));
        h.connected(t0 + Duration::from_millis(110));
        // Garbage for an answer: the window grows.
        let w = h.disconnected(t0 + Duration::from_millis(120), true);
        assert_eq!(w, Some(Duration::from_millis(200)));
        assert_eq!(h.failures(), 2);
        // Even after good answers, garbage is a failed connect.
        h.connected(t0 + Duration::from_millis(400));
        h.answered();
        assert_eq!(h.failures(), 0);
        assert_eq!(
            h.disconnected(t0 + Duration::from_millis(401), true),
            Some(Duration::from_millis(100))
        );
    }

    #[test]
    fn an_answer_resets_the_backoff() {
        let t0 = Instant::now();
        let mut h = ConnectionHealth::new(policy());
        h.connect_failed(t0);
        h.connect_failed(t0);
        assert_eq!(h.failures(), 2);
        h.connected(t0 + Duration::from_secs(1));
        h.answered();
        assert_eq!(h.failures(), 0);
        assert_eq!(h.disconnected(t0 + Duration::from_secs(1), false), None);
        assert!(!h.backing_off(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn a_long_silent_connection_is_not_a_storm() {
        let t0 = Instant::now();
        let mut h = ConnectionHealth::new(policy());
        h.connect_failed(t0);
        h.connected(t0);
        assert_eq!(h.disconnected(t0 + STABLE_WITHOUT_ANSWER, false), None);
        assert_eq!(h.failures(), 0);
        // Not connected: nothing to count.
        assert_eq!(h.disconnected(t0 + STABLE_WITHOUT_ANSWER, false), None);
    }
}
