//! Latency fault tolerance (Java 5.2+ `LatencyFaultToleranceImpl` and the
//! update rule of `MQFaultStrategy`): brokers that answered slowly or failed
//! are isolated for a while and avoided by queue selection.
//!
//! Time is passed in (`now`), never read from a clock, so behaviour is
//! deterministic under test.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use actix_rocketmq::producer::fault::LatencyFaultTolerance;
//!
//! let mut table = LatencyFaultTolerance::new();
//! let t0 = Instant::now();
//! // A 600 ms answer isolates the broker for 2 s.
//! table.update("broker-a", Duration::from_millis(600), false, true, t0);
//! assert!(!table.is_available("broker-a", t0 + Duration::from_millis(1999)));
//! assert!(table.is_available("broker-a", t0 + Duration::from_secs(2)));
//! ```
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Latency thresholds of the 5.2+ table, in ms (Java `latencyMax`).
pub const LATENCY_MAX_MS: [u64; 7] = [50, 100, 550, 1800, 3000, 5000, 15000];
/// Isolation for each threshold, in ms (Java `notAvailableDuration`).
pub const NOT_AVAILABLE_DURATION_MS: [u64; 7] = [0, 0, 2000, 5000, 6000, 10000, 30000];
/// The pretend latency of an attempt that isolates its broker (5.2+: 10 000 ms).
pub const ISOLATION_LATENCY: Duration = Duration::from_millis(10_000);

/// The isolation a latency earns: the duration of the largest threshold it reaches (0 below all).
///
/// ```
/// use std::time::Duration;
/// use actix_rocketmq::producer::fault::not_available_duration;
/// assert_eq!(not_available_duration(Duration::from_millis(99)), Duration::ZERO);
/// assert_eq!(not_available_duration(Duration::from_millis(550)), Duration::from_millis(2000));
/// assert_eq!(not_available_duration(Duration::from_secs(60)), Duration::from_secs(30));
/// ```
pub fn not_available_duration(latency: Duration) -> Duration {
    let ms = latency.as_millis();
    LATENCY_MAX_MS
        .iter()
        .zip(NOT_AVAILABLE_DURATION_MS)
        .rev()
        .find(|(max, _)| ms >= u128::from(**max))
        .map_or(Duration::ZERO, |(_, d)| Duration::from_millis(d))
}

/// What the table knows of one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FaultItem {
    latency: Duration,
    // Unavailable before this instant (Java `startTimestamp`); None = never isolated.
    available_from: Option<Instant>,
    reachable: bool,
}

impl FaultItem {
    fn is_available(&self, now: Instant) -> bool {
        self.available_from.is_none_or(|t| now >= t)
    }
}

/// Per-broker latency, isolation window and reachability.
///
/// A broker the table has never heard of is available and reachable.
///
/// ```
/// use std::time::{Duration, Instant};
/// use actix_rocketmq::producer::fault::LatencyFaultTolerance;
/// let mut t = LatencyFaultTolerance::new();
/// let now = Instant::now();
/// assert!(t.is_available("unknown", now) && t.is_reachable("unknown"));
/// t.update("b", Duration::from_millis(5), true, false, now);
/// assert!(!t.is_reachable("b"));
/// ```
#[derive(Debug, Clone)]
pub struct LatencyFaultTolerance {
    items: HashMap<String, FaultItem>,
    latency_max: [u64; 7],
    not_available: [u64; 7],
    // Java `whichItemWorst`: rotates pick_one_at_least over the better half.
    #[cfg(test)]
    which_item_worst: usize,
}

impl Default for LatencyFaultTolerance {
    fn default() -> Self {
        Self::with_durations(LATENCY_MAX_MS, NOT_AVAILABLE_DURATION_MS)
    }
}

impl LatencyFaultTolerance {
    /// An empty table.
    ///
    /// ```
    /// assert!(actix_rocketmq::producer::fault::LatencyFaultTolerance::new().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty table with its own thresholds and isolations, in ms (Java
    /// `setLatencyMax` / `setNotAvailableDuration`): a latency of at least
    /// `latency_max[i]` (the largest such `i`) isolates for `not_available[i]`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use actix_rocketmq::producer::fault::LatencyFaultTolerance;
    /// let mut t = LatencyFaultTolerance::with_durations(
    ///     [10, 20, 30, 40, 50, 60, 70],
    ///     [0, 100, 200, 300, 400, 500, 600],
    /// );
    /// assert_eq!(t.not_available_for(Duration::from_millis(25)), Duration::from_millis(100));
    /// let now = Instant::now();
    /// t.update("b", Duration::from_millis(25), false, true, now);
    /// assert!(!t.is_available("b", now + Duration::from_millis(99)));
    /// ```
    pub fn with_durations(latency_max: [u64; 7], not_available: [u64; 7]) -> Self {
        LatencyFaultTolerance {
            items: HashMap::new(),
            latency_max,
            not_available,
            #[cfg(test)]
            which_item_worst: 0,
        }
    }

    /// The isolation `latency` earns under this table's thresholds (see
    /// [`not_available_duration`] for the defaults').
    pub fn not_available_for(&self, latency: Duration) -> Duration {
        let ms = latency.as_millis();
        self.latency_max
            .iter()
            .zip(self.not_available)
            .rev()
            .find(|(max, _)| ms >= u128::from(**max))
            .map_or(Duration::ZERO, |(_, d)| Duration::from_millis(d))
    }

    /// Records the outcome of one attempt on `broker` (Java 5.2+ `updateFaultItem`).
    ///
    /// The isolation earned is [`not_available_duration`] of `latency`, or of
    /// [`ISOLATION_LATENCY`] when `isolation` is set. It only ever *extends* the
    /// broker's window: a later fast answer does not shorten it. `latency` and
    /// `reachable` are recorded as given. Outcomes (5.x): success
    /// `(false, true)`, client error `(false, true)`, network error
    /// `(true, false)` with a detector else `(true, true)`, broker error code
    /// `(true, false)`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use actix_rocketmq::producer::fault::LatencyFaultTolerance;
    /// let mut t = LatencyFaultTolerance::new();
    /// let t0 = Instant::now();
    /// t.update("b", Duration::from_millis(3), true, true, t0); // isolated 10 s
    /// t.update("b", Duration::from_millis(3), false, true, t0); // fast answer: still isolated
    /// assert!(!t.is_available("b", t0 + Duration::from_secs(9)));
    /// ```
    pub fn update(
        &mut self,
        broker: &str,
        latency: Duration,
        isolation: bool,
        reachable: bool,
        now: Instant,
    ) {
        let duration = self.not_available_for(if isolation {
            ISOLATION_LATENCY
        } else {
            latency
        });
        let item = match self.items.get_mut(broker) {
            Some(item) => item,
            None => self.items.entry(broker.to_owned()).or_insert(FaultItem {
                latency,
                available_from: None,
                reachable,
            }),
        };
        item.latency = latency;
        item.reachable = reachable;
        if !duration.is_zero() {
            // An unrepresentable instant cannot come from a ≤ 30 s window; keep the old one then.
            if let Some(until) = now.checked_add(duration) {
                if item.available_from.is_none_or(|old| until > old) {
                    item.available_from = Some(until);
                }
            }
        }
    }

    /// Whether `broker` is outside its isolation window at `now`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mut t = actix_rocketmq::producer::fault::LatencyFaultTolerance::new();
    /// let now = Instant::now();
    /// t.update("b", Duration::from_secs(20), false, true, now);
    /// assert!(!t.is_available("b", now));
    /// ```
    pub fn is_available(&self, broker: &str, now: Instant) -> bool {
        self.items
            .get(broker)
            .is_none_or(|item| item.is_available(now))
    }

    /// Whether `broker`'s last outcome left it reachable.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mut t = actix_rocketmq::producer::fault::LatencyFaultTolerance::new();
    /// t.update("b", Duration::ZERO, true, false, Instant::now());
    /// assert!(!t.is_reachable("b"));
    /// ```
    pub fn is_reachable(&self, broker: &str) -> bool {
        self.items.get(broker).is_none_or(|item| item.reachable)
    }

    // The methods below only tests use (the producer never asks them), so
    // they are built for tests alone: the Java parity stays checked.

    /// Marks `broker` reachable or not (what the 5.x detector does after a probe).
    #[cfg(test)]
    pub fn set_reachable(&mut self, broker: &str, reachable: bool) {
        if let Some(item) = self.items.get_mut(broker) {
            item.reachable = reachable;
        }
    }

    /// The instant `broker` becomes available again, if it is isolated at `now`.
    #[cfg(test)]
    pub fn isolated_until(&self, broker: &str, now: Instant) -> Option<Instant> {
        self.items
            .get(broker)
            .and_then(|item| item.available_from)
            .filter(|t| now < *t)
    }

    /// The latency last recorded for `broker`.
    #[cfg(test)]
    pub fn latency(&self, broker: &str) -> Option<Duration> {
        self.items.get(broker).map(|item| item.latency)
    }

    /// Forgets `broker` (Java `remove`).
    #[cfg(test)]
    pub fn remove(&mut self, broker: &str) {
        self.items.remove(broker);
    }

    /// Keeps only the brokers for which `keep` is true (drop brokers no route names any more).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mut t = actix_rocketmq::producer::fault::LatencyFaultTolerance::new();
    /// t.update("gone", Duration::from_secs(20), false, true, Instant::now());
    /// t.retain(|b| b != "gone");
    /// assert!(t.is_empty());
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.items.retain(|name, _| keep(name));
    }

    /// Brokers in the table.
    ///
    /// ```
    /// assert_eq!(actix_rocketmq::producer::fault::LatencyFaultTolerance::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the table knows no broker.
    ///
    /// ```
    /// assert!(actix_rocketmq::producer::fault::LatencyFaultTolerance::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The least bad broker when none is good (Java 4.x `pickOneAtLeast`): sort the
    /// known brokers available-first, then by lower latency, then by earlier end of
    /// isolation (then by name), and rotate over the better half. `None` when the
    /// table is empty.
    #[cfg(test)]
    pub fn pick_one_at_least(&mut self, now: Instant) -> Option<String> {
        let mut items: Vec<(&String, &FaultItem)> = self.items.iter().collect();
        items.sort_by(|(an, a), (bn, b)| {
            b.is_available(now)
                .cmp(&a.is_available(now))
                .then(a.latency.cmp(&b.latency))
                .then(a.available_from.cmp(&b.available_from))
                .then(an.cmp(bn))
        });
        let half = items.len() / 2;
        let index = if half == 0 {
            0
        } else {
            let i = self.which_item_worst % half;
            self.which_item_worst = self.which_item_worst.wrapping_add(1);
            i
        };
        items.get(index).map(|(name, _)| (*name).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn fault_table_matches_java_5_2() {
        let cases = [
            (0, 0),
            (49, 0),
            (50, 0),
            (100, 0),
            (549, 0),
            (550, 2000),
            (1799, 2000),
            (1800, 5000),
            (3000, 6000),
            (4999, 6000),
            (5000, 10000),
            (10000, 10000),
            (15000, 30000),
            (u64::MAX, 30000),
        ];
        for (latency, iso) in cases {
            assert_eq!(not_available_duration(ms(latency)), ms(iso), "{latency}");
        }
    }

    #[test]
    fn fault_isolation_only_extends() {
        let mut t = LatencyFaultTolerance::new();
        let t0 = Instant::now();
        t.update("b", ms(20_000), false, true, t0); // 30 s
        t.update("b", ms(600), false, true, t0 + ms(1000)); // would end at 3 s
        assert_eq!(t.isolated_until("b", t0), Some(t0 + ms(30_000)));
        assert_eq!(t.latency("b"), Some(ms(600)));
        t.update("b", ms(1), false, true, t0 + ms(29_000));
        assert!(!t.is_available("b", t0 + ms(29_999)));
        assert!(t.is_available("b", t0 + ms(30_000)));
        // A later, longer window does extend.
        t.update("b", ms(5000), false, true, t0 + ms(25_000));
        assert_eq!(
            t.isolated_until("b", t0 + ms(30_000)),
            Some(t0 + ms(35_000))
        );
    }

    #[test]
    fn fault_isolation_flag_uses_10s() {
        let mut t = LatencyFaultTolerance::new();
        let t0 = Instant::now();
        t.update("b", ms(1), true, false, t0);
        assert_eq!(t.isolated_until("b", t0), Some(t0 + ms(10_000)));
        assert!(!t.is_reachable("b"));
        // A success afterwards makes it reachable but leaves the window.
        t.update("b", ms(1), false, true, t0 + ms(1));
        assert!(t.is_reachable("b"));
        assert!(!t.is_available("b", t0 + ms(9_999)));
        assert!(t.is_available("b", t0 + ms(10_000)));
    }

    #[test]
    fn fault_fast_answers_never_isolate() {
        let mut t = LatencyFaultTolerance::new();
        let t0 = Instant::now();
        t.update("b", ms(549), false, true, t0);
        assert!(t.is_available("b", t0));
        assert_eq!(t.isolated_until("b", t0), None);
    }

    #[test]
    fn fault_pick_one_at_least_prefers_better_half() {
        let mut t = LatencyFaultTolerance::new();
        let t0 = Instant::now();
        assert_eq!(t.pick_one_at_least(t0), None);
        t.update("only", ms(20_000), false, false, t0);
        assert_eq!(t.pick_one_at_least(t0).as_deref(), Some("only"));
        t.update("a", ms(600), false, true, t0);
        t.update("b", ms(2000), false, true, t0);
        t.update("c", ms(10), false, true, t0);
        // Order: c (available), then a, b, only by latency; better half = [c, a].
        let picks: Vec<_> = (0..4).filter_map(|_| t.pick_one_at_least(t0)).collect();
        assert_eq!(picks, ["c", "a", "c", "a"]);
        t.retain(|b| b != "c");
        t.remove("only");
        assert_eq!(t.len(), 2);
    }

    // The test-only methods' examples (once doctests).
    #[test]
    fn fault_set_reachable_example() {
        let mut t = LatencyFaultTolerance::new();
        t.update("b", Duration::ZERO, true, false, Instant::now());
        t.set_reachable("b", true);
        assert!(t.is_reachable("b"));
    }

    #[test]
    fn fault_isolated_until_example() {
        let mut t = LatencyFaultTolerance::new();
        let now = Instant::now();
        t.update("b", Duration::from_millis(2000), false, true, now);
        assert_eq!(
            t.isolated_until("b", now),
            Some(now + Duration::from_secs(5))
        );
    }

    #[test]
    fn fault_latency_example() {
        let mut t = LatencyFaultTolerance::new();
        t.update("b", Duration::from_millis(7), false, true, Instant::now());
        assert_eq!(t.latency("b"), Some(Duration::from_millis(7)));
    }

    #[test]
    fn fault_remove_example() {
        let mut t = LatencyFaultTolerance::new();
        t.update("b", Duration::from_secs(20), false, false, Instant::now());
        t.remove("b");
        assert!(t.is_reachable("b") && t.is_empty());
    }

    #[test]
    fn fault_retain_example() {
        let mut t = LatencyFaultTolerance::new();
        let now = Instant::now();
        t.update("a", Duration::ZERO, false, true, now);
        t.update("b", Duration::ZERO, false, true, now);
        t.retain(|b| b == "a");
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn fault_pick_one_at_least_example() {
        let mut t = LatencyFaultTolerance::new();
        let now = Instant::now();
        t.update("slow", Duration::from_secs(4), false, true, now);
        t.update("fast", Duration::from_millis(600), false, true, now);
        assert_eq!(t.pick_one_at_least(now).as_deref(), Some("fast"));
    }

    proptest! {
        #[test]
        fn fault_prop_isolated_broker_readmitted_after_its_window(
            latency in 0u64..40_000,
            isolation in any::<bool>(),
            offset in 0u64..60_000,
        ) {
            let mut t = LatencyFaultTolerance::new();
            let t0 = Instant::now();
            t.update("b", ms(latency), isolation, !isolation, t0);
            let window = not_available_duration(if isolation { ISOLATION_LATENCY } else { ms(latency) });
            let at = t0 + ms(offset);
            prop_assert_eq!(t.is_available("b", at), ms(offset) >= window);
            prop_assert!(t.is_available("b", t0 + window));
        }
    }
}
