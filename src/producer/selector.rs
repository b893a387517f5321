//! Queue selection: the producer's own rotation with broker avoidance and
//! fault tolerance (Java `MQFaultStrategy`, `TopicPublishInfo`), and the
//! user-facing strategies for ordered sends (Java `MessageQueueSelector`).
//!
//! ```
//! use actix_rocketmq::producer::selector::{MessageQueueSelector, SelectMessageQueueByHash, SelectorArg};
//! use actix_rocketmq::Message;
//! use actix_rocketmq::MessageQueue;
//!
//! let queues: Vec<_> = (0..4).map(|i| MessageQueue::new("T", "broker-a", i)).collect();
//! let msg = Message::new("T", "order 42 paid");
//! // Same key, same queue: per-order ordering, and the same queue a Java client picks.
//! let i = SelectMessageQueueByHash.select(&queues, &msg, &SelectorArg::from("order-42"));
//! assert_eq!(i, SelectMessageQueueByHash.select(&queues, &msg, &SelectorArg::from("order-42")));
//! ```
use std::fmt;
use std::time::Instant;

use rand::Rng;

use crate::protocol::message::Message;
use crate::protocol::route::{MessageQueue, TopicPublishInfo};

use super::fault::LatencyFaultTolerance;

/// Java `ThreadLocalIndex` masks the index to a non-negative int.
const POSITIVE_MASK: u32 = 0x7FFF_FFFF;

/// The rotating queue index of one topic, with the Java selection rules.
///
/// ```
/// use actix_rocketmq::producer::selector::QueueSelection;
/// use actix_rocketmq::internals::protocol::route::{MessageQueue, TopicPublishInfo};
///
/// let info = TopicPublishInfo {
///     queues: vec![MessageQueue::new("T", "a", 0), MessageQueue::new("T", "b", 0)],
///     ..Default::default()
/// };
/// let mut sel = QueueSelection::new();
/// // A retry after a failure on broker `a` goes to `b`.
/// let mq = sel.select_one(&info, Some("a"), None).unwrap();
/// assert_eq!(mq.broker_name, "b");
/// ```
#[derive(Debug, Clone)]
pub struct QueueSelection {
    index: u32,
    // splitmix64 state: random restarts without a thread-local RNG, reproducible in tests.
    rng: u64,
}

impl Default for QueueSelection {
    fn default() -> Self {
        Self::new()
    }
}

impl QueueSelection {
    /// A rotation starting at a random index (as Java's per-thread index does).
    ///
    /// ```
    /// let _ = actix_rocketmq::producer::selector::QueueSelection::new();
    /// ```
    pub fn new() -> Self {
        Self::with_seed(rand::random())
    }

    /// A rotation whose start and random restarts are fixed by `seed` (for tests).
    ///
    /// ```
    /// use actix_rocketmq::producer::selector::QueueSelection;
    /// assert_eq!(QueueSelection::with_seed(7).index(), QueueSelection::with_seed(7).index());
    /// ```
    pub fn with_seed(seed: u64) -> Self {
        let mut sel = QueueSelection {
            index: 0,
            rng: seed,
        };
        sel.reset();
        sel
    }

    /// The current index (the next pick uses `index + 1`).
    ///
    /// ```
    /// let s = actix_rocketmq::producer::selector::QueueSelection::with_seed(1);
    /// assert!(s.index() <= 0x7FFF_FFFF);
    /// ```
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Restarts the rotation at a random index (Java `resetIndex`, used by 5.x retries).
    ///
    /// ```
    /// let mut s = actix_rocketmq::producer::selector::QueueSelection::with_seed(1);
    /// s.reset();
    /// ```
    pub fn reset(&mut self) {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // Truncation intended: 31 random bits, like Java's abs(nextInt(MAX_VALUE)).
        self.index = (z as u32) & POSITIVE_MASK;
    }

    /// The next position in `0..len` (Java `abs(incrementAndGet() % len)`); `len` > 0.
    fn next_pos(&mut self, len: usize) -> usize {
        self.index = self.index.wrapping_add(1) & POSITIVE_MASK;
        // u32 → usize is lossless on every supported target.
        (self.index as usize) % len
    }

    /// The first of up to `len` next queues that `accept`s, advancing the index per look.
    fn walk<'q>(
        &mut self,
        queues: &'q [MessageQueue],
        mut accept: impl FnMut(&MessageQueue) -> bool,
    ) -> Option<&'q MessageQueue> {
        (0..queues.len()).find_map(|_| {
            let mq = &queues[self.next_pos(queues.len())];
            accept(mq).then_some(mq)
        })
    }

    /// Picks the queue for the next attempt (Java `MQFaultStrategy.selectOneMessageQueue`).
    ///
    /// `last_broker` is the broker of the previous, failed attempt of the same
    /// send (`None` on the first attempt). With `fault` off (`None`): the next
    /// queue whose broker is not `last_broker` within one turn, else the next
    /// queue. With `fault` on (`Some((table, now))`, Java 5.x): on a retry the
    /// index restarts at random; then pass 1 takes a queue whose broker is
    /// available and not `last_broker`, pass 2 one whose broker is reachable and
    /// not `last_broker`, pass 3 the next queue. `None` only when there are no queues.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use actix_rocketmq::producer::fault::LatencyFaultTolerance;
    /// use actix_rocketmq::producer::selector::QueueSelection;
    /// use actix_rocketmq::internals::protocol::route::{MessageQueue, TopicPublishInfo};
    ///
    /// let info = TopicPublishInfo {
    ///     queues: vec![MessageQueue::new("T", "a", 0), MessageQueue::new("T", "b", 0)],
    ///     ..Default::default()
    /// };
    /// let mut table = LatencyFaultTolerance::new();
    /// let now = Instant::now();
    /// table.update("a", Duration::from_secs(20), false, true, now); // isolated 30 s
    /// let mut sel = QueueSelection::new();
    /// for _ in 0..10 {
    ///     assert_eq!(sel.select_one(&info, None, Some((&table, now))).unwrap().broker_name, "b");
    /// }
    /// ```
    pub fn select_one(
        &mut self,
        info: &TopicPublishInfo,
        last_broker: Option<&str>,
        fault: Option<(&LatencyFaultTolerance, Instant)>,
    ) -> Option<MessageQueue> {
        let queues = info.queues.as_slice();
        if queues.is_empty() {
            return None;
        }
        let not_last = |mq: &MessageQueue| last_broker.is_none_or(|b| mq.broker_name != b);
        let picked = match fault {
            None => self.walk(queues, not_last),
            Some((table, now)) => {
                // Java 5.x resets the index on every retry (times > 0), i.e. when a last broker exists.
                if last_broker.is_some() {
                    self.reset();
                }
                self.walk(queues, |mq| {
                    table.is_available(&mq.broker_name, now) && not_last(mq)
                })
                .or_else(|| {
                    self.walk(queues, |mq| {
                        table.is_reachable(&mq.broker_name) && not_last(mq)
                    })
                })
            }
        };
        picked
            .or_else(|| queues.get(self.next_pos(queues.len())))
            .cloned()
    }
}

/// The argument handed to a [`MessageQueueSelector`] with a send (Java `Object arg`).
///
/// `Str`, `Int` and `Long` hash like Java's `String`, `Integer` and `Long`, so
/// [`SelectMessageQueueByHash`] maps a key to the queue a Java producer picks.
///
/// ```
/// use actix_rocketmq::producer::selector::SelectorArg;
/// assert_eq!(SelectorArg::from("hello").java_hash_code(), Some(99162322));
/// assert_eq!(SelectorArg::from(42i32).java_hash_code(), Some(42));
/// assert_eq!(SelectorArg::None.java_hash_code(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SelectorArg {
    /// No argument.
    #[default]
    None,
    /// A string key (order id, user id, ...).
    Str(String),
    /// A 32-bit key (Java `Integer`).
    Int(i32),
    /// A 64-bit key (Java `Long`).
    Long(i64),
}

impl SelectorArg {
    /// Java `arg.hashCode()`: `String.hashCode` over UTF-16 units, `Integer`
    /// is its value, `Long` is `(int)(v ^ (v >>> 32))`; `None` has no hash.
    ///
    /// ```
    /// use actix_rocketmq::producer::selector::SelectorArg;
    /// assert_eq!(SelectorArg::from(5_000_000_000i64).java_hash_code(), Some(705032705));
    /// ```
    pub fn java_hash_code(&self) -> Option<i32> {
        match self {
            SelectorArg::None => None,
            SelectorArg::Str(s) => Some(java_string_hash(s)),
            SelectorArg::Int(v) => Some(*v),
            // Truncation intended: Java casts the folded long to int.
            SelectorArg::Long(v) => Some((*v ^ ((*v as u64) >> 32) as i64) as i32),
        }
    }

    /// The string key, if this is one.
    ///
    /// ```
    /// use actix_rocketmq::producer::selector::SelectorArg;
    /// assert_eq!(SelectorArg::from("k").as_str(), Some("k"));
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SelectorArg::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for SelectorArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectorArg::None => f.write_str("<none>"),
            SelectorArg::Str(s) => f.write_str(s),
            SelectorArg::Int(v) => write!(f, "{v}"),
            SelectorArg::Long(v) => write!(f, "{v}"),
        }
    }
}

impl From<&str> for SelectorArg {
    fn from(s: &str) -> Self {
        SelectorArg::Str(s.to_owned())
    }
}
impl From<String> for SelectorArg {
    fn from(s: String) -> Self {
        SelectorArg::Str(s)
    }
}
impl From<&String> for SelectorArg {
    fn from(s: &String) -> Self {
        SelectorArg::Str(s.clone())
    }
}
impl From<i32> for SelectorArg {
    fn from(v: i32) -> Self {
        SelectorArg::Int(v)
    }
}
impl From<i64> for SelectorArg {
    fn from(v: i64) -> Self {
        SelectorArg::Long(v)
    }
}
impl From<()> for SelectorArg {
    fn from(_: ()) -> Self {
        SelectorArg::None
    }
}

/// Java `String.hashCode`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 units, wrapping.
///
/// ```
/// use actix_rocketmq::producer::selector::java_string_hash;
/// assert_eq!(java_string_hash(""), 0);
/// assert_eq!(java_string_hash("abc"), 96354);
/// ```
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// Chooses the queue of a send from the topic's queues (Java `MessageQueueSelector`).
///
/// Returns an index into `queues`; `None` (or an index out of range) fails
/// the send with [`ErrorKind::NoQueueSelected`](crate::error::ErrorKind::NoQueueSelected);
/// a panic is caught and fails the send with
/// [`ErrorKind::SelectorPanicked`](crate::error::ErrorKind::SelectorPanicked),
/// and the producer goes on.
/// Queues and message carry the topic *without* namespace, as in Java.
/// Sends through a selector are not retried on another queue.
///
/// ```
/// use actix_rocketmq::producer::selector::{MessageQueueSelector, SelectorArg};
/// use actix_rocketmq::internals::protocol::{message::Message, route::MessageQueue};
///
/// /// Everything to the first queue of broker `b`.
/// struct PinB;
/// impl MessageQueueSelector for PinB {
///     fn select(&self, queues: &[MessageQueue], _: &Message, _: &SelectorArg) -> Option<usize> {
///         queues.iter().position(|q| q.broker_name == "b")
///     }
/// }
/// ```
pub trait MessageQueueSelector: Send + Sync + 'static {
    /// The index of the chosen queue in `queues`.
    fn select(&self, queues: &[MessageQueue], msg: &Message, arg: &SelectorArg) -> Option<usize>;
}

/// Applies `selector` and returns the chosen queue, `None` if it chose none or out of range.
///
/// ```
/// use actix_rocketmq::producer::selector::{select_queue, SelectMessageQueueByHash, SelectorArg};
/// use actix_rocketmq::internals::protocol::{message::Message, route::MessageQueue};
/// let queues = vec![MessageQueue::new("T", "a", 0)];
/// let msg = Message::new("T", "x");
/// assert!(select_queue(&SelectMessageQueueByHash, &queues, &msg, &SelectorArg::from(1)).is_some());
/// assert!(select_queue(&SelectMessageQueueByHash, &queues, &msg, &SelectorArg::None).is_none());
/// ```
pub fn select_queue<'q, S: MessageQueueSelector + ?Sized>(
    selector: &S,
    queues: &'q [MessageQueue],
    msg: &Message,
    arg: &SelectorArg,
) -> Option<&'q MessageQueue> {
    selector
        .select(queues, msg, arg)
        .and_then(|i| queues.get(i))
}

/// `abs(arg.hashCode() % queueCount)`, exactly as Java's `SelectMessageQueueByHash`.
///
/// ```
/// use actix_rocketmq::producer::selector::{MessageQueueSelector, SelectMessageQueueByHash, SelectorArg};
/// use actix_rocketmq::internals::protocol::{message::Message, route::MessageQueue};
/// let queues: Vec<_> = (0..8).map(|i| MessageQueue::new("T", "a", i)).collect();
/// // "hello".hashCode() = 99162322, and 99162322 % 8 = 2.
/// let i = SelectMessageQueueByHash.select(&queues, &Message::new("T", "x"), &"hello".into());
/// assert_eq!(i, Some(2));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectMessageQueueByHash;

impl MessageQueueSelector for SelectMessageQueueByHash {
    fn select(&self, queues: &[MessageQueue], _msg: &Message, arg: &SelectorArg) -> Option<usize> {
        let len = i64::try_from(queues.len()).ok().filter(|l| *l > 0)?;
        let hash = i64::from(arg.java_hash_code()?);
        usize::try_from((hash % len).abs()).ok()
    }
}

/// A uniformly random queue (Java `SelectMessageQueueByRandom`).
///
/// ```
/// use actix_rocketmq::producer::selector::{MessageQueueSelector, SelectMessageQueueByRandom, SelectorArg};
/// use actix_rocketmq::internals::protocol::{message::Message, route::MessageQueue};
/// let queues: Vec<_> = (0..4).map(|i| MessageQueue::new("T", "a", i)).collect();
/// let i = SelectMessageQueueByRandom.select(&queues, &Message::new("T", "x"), &SelectorArg::None);
/// assert!(i.unwrap() < 4);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectMessageQueueByRandom;

impl MessageQueueSelector for SelectMessageQueueByRandom {
    fn select(&self, queues: &[MessageQueue], _msg: &Message, _arg: &SelectorArg) -> Option<usize> {
        if queues.is_empty() {
            return None;
        }
        Some(rand::thread_rng().gen_range(0..queues.len()))
    }
}

/// A selector made from a closure; see [`from_fn`].
#[derive(Clone, Copy)]
pub struct FnSelector<F>(F);

impl<F> fmt::Debug for FnSelector<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnSelector")
    }
}

impl<F> MessageQueueSelector for FnSelector<F>
where
    F: Fn(&[MessageQueue], &Message, &SelectorArg) -> Option<usize> + Send + Sync + 'static,
{
    fn select(&self, queues: &[MessageQueue], msg: &Message, arg: &SelectorArg) -> Option<usize> {
        (self.0)(queues, msg, arg)
    }
}

/// Makes a selector from a closure.
///
/// ```
/// use actix_rocketmq::producer::selector::{from_fn, MessageQueueSelector, SelectorArg};
/// use actix_rocketmq::internals::protocol::{message::Message, route::MessageQueue};
/// // Route by tag: tag "vip" to the last queue, others to the first.
/// let by_tag = from_fn(|queues: &[MessageQueue], msg: &Message, _: &SelectorArg| {
///     if msg.tags() == Some("vip") { queues.len().checked_sub(1) } else { Some(0) }
/// });
/// let queues: Vec<_> = (0..3).map(|i| MessageQueue::new("T", "a", i)).collect();
/// let msg = Message::new("T", "x").with_tags("vip");
/// assert_eq!(by_tag.select(&queues, &msg, &SelectorArg::None), Some(2));
/// ```
pub fn from_fn<F>(f: F) -> FnSelector<F>
where
    F: Fn(&[MessageQueue], &Message, &SelectorArg) -> Option<usize> + Send + Sync + 'static,
{
    FnSelector(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashSet};
    use std::time::Duration;

    /// Brokers `b0..` with the given queue counts, as `TopicPublishInfo::from_route` orders them.
    fn info(counts: &[i32]) -> TopicPublishInfo {
        let queues = counts
            .iter()
            .enumerate()
            .flat_map(|(b, n)| (0..*n).map(move |q| MessageQueue::new("T", format!("b{b}"), q)))
            .collect();
        TopicPublishInfo {
            queues,
            ..Default::default()
        }
    }

    #[test]
    fn selector_empty_info_selects_nothing() {
        let mut sel = QueueSelection::with_seed(1);
        let empty = TopicPublishInfo::default();
        let table = LatencyFaultTolerance::new();
        assert_eq!(sel.select_one(&empty, None, None), None);
        assert_eq!(
            sel.select_one(&empty, Some("a"), Some((&table, Instant::now()))),
            None
        );
    }

    #[test]
    fn selector_round_robin_in_order() {
        let info = info(&[2, 2]);
        let mut sel = QueueSelection::with_seed(3);
        let start = sel.index() as usize;
        for k in 1..=8 {
            let mq = sel.select_one(&info, None, None).unwrap();
            assert_eq!(mq, info.queues[(start + k) % 4]);
        }
    }

    #[test]
    fn selector_single_broker_falls_back_to_it() {
        let info = info(&[3]);
        let mut sel = QueueSelection::with_seed(9);
        let table = LatencyFaultTolerance::new();
        let now = Instant::now();
        assert_eq!(
            sel.select_one(&info, Some("b0"), None).unwrap().broker_name,
            "b0"
        );
        assert_eq!(
            sel.select_one(&info, Some("b0"), Some((&table, now)))
                .unwrap()
                .broker_name,
            "b0"
        );
    }

    #[test]
    fn selector_fault_passes() {
        let info = info(&[2, 2, 2]);
        let now = Instant::now();
        let mut table = LatencyFaultTolerance::new();
        // b1 isolated but reachable, b2 isolated and unreachable; last failure on b0.
        table.update("b1", Duration::from_secs(20), false, true, now);
        table.update("b2", Duration::from_millis(1), true, false, now);
        let mut sel = QueueSelection::with_seed(5);
        for _ in 0..20 {
            let mq = sel
                .select_one(&info, Some("b0"), Some((&table, now)))
                .unwrap();
            assert_eq!(mq.broker_name, "b1", "pass 2 takes the reachable broker");
        }
        // No last broker: pass 1 takes b0, the only available one.
        for _ in 0..20 {
            let mq = sel.select_one(&info, None, Some((&table, now))).unwrap();
            assert_eq!(mq.broker_name, "b0");
        }
        // Everything other than the last broker is isolated and unreachable: pass 3, any queue.
        table.update("b1", Duration::from_millis(1), true, false, now);
        let seen: HashSet<String> = (0..60)
            .filter_map(|_| sel.select_one(&info, Some("b0"), Some((&table, now))))
            .map(|mq| mq.broker_name)
            .collect();
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn selector_java_hashes() {
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("abc"), 96_354);
        // Overflowing and non-ASCII (UTF-16) keys, values from the JVM.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(java_string_hash("é"), 233);
        assert_eq!(java_string_hash("😀"), 1_772_899);
        assert_eq!(SelectorArg::Long(-1).java_hash_code(), Some(0));
        assert_eq!(SelectorArg::Long(1 << 32).java_hash_code(), Some(1));
        assert_eq!(SelectorArg::Int(-7).java_hash_code(), Some(-7));
    }

    #[test]
    fn selector_hash_like_java_for_negative_hashes() {
        let queues = info(&[3]).queues;
        let msg = Message::new("T", "x");
        // i32::MIN % 3 = -2 in Java; abs → 2.
        let min = SelectorArg::from("polygenelubricants");
        assert_eq!(
            SelectMessageQueueByHash.select(&queues, &msg, &min),
            Some(2)
        );
        assert_eq!(
            SelectMessageQueueByHash.select(&queues, &msg, &SelectorArg::Int(-7)),
            Some(1)
        );
        assert_eq!(
            SelectMessageQueueByHash.select(&[], &msg, &SelectorArg::Int(1)),
            None
        );
        assert_eq!(
            SelectMessageQueueByRandom.select(&[], &msg, &SelectorArg::None),
            None
        );
        let out_of_range = from_fn(|_: &[MessageQueue], _: &Message, _: &SelectorArg| Some(99));
        assert!(select_queue(&out_of_range, &queues, &msg, &SelectorArg::None).is_none());
        assert_eq!(SelectorArg::from(()).to_string(), "<none>");
    }

    fn brokers_strategy() -> impl Strategy<Value = Vec<i32>> {
        prop::collection::vec(1i32..6, 1..5)
    }

    proptest! {
        #[test]
        fn selector_prop_healthy_distribution_is_uniform(
            counts in brokers_strategy(),
            seed in any::<u64>(),
            rounds in 1usize..5,
            fault_on in any::<bool>(),
        ) {
            let info = info(&counts);
            let table = LatencyFaultTolerance::new();
            let now = Instant::now();
            let mut sel = QueueSelection::with_seed(seed);
            let mut hits: BTreeMap<MessageQueue, usize> = BTreeMap::new();
            for _ in 0..rounds * info.queues.len() {
                let fault = fault_on.then_some((&table, now));
                let mq = sel.select_one(&info, None, fault).unwrap();
                *hits.entry(mq).or_default() += 1;
            }
            prop_assert_eq!(hits.len(), info.queues.len());
            prop_assert!(hits.values().all(|n| *n == rounds));
        }

        #[test]
        fn selector_prop_retry_avoids_last_broker(
            counts in prop::collection::vec(1i32..6, 2..5),
            seed in any::<u64>(),
            last in 0usize..5,
            isolate_last in any::<bool>(),
            fault_on in any::<bool>(),
        ) {
            let info = info(&counts);
            let last = format!("b{}", last % counts.len());
            let now = Instant::now();
            let mut table = LatencyFaultTolerance::new();
            if isolate_last {
                table.update(&last, Duration::from_millis(1), true, false, now);
            }
            let mut sel = QueueSelection::with_seed(seed);
            for _ in 0..50 {
                let fault = fault_on.then_some((&table, now));
                let mq = sel.select_one(&info, Some(&last), fault).unwrap();
                prop_assert_ne!(&mq.broker_name, &last);
            }
        }

        #[test]
        fn selector_prop_isolated_broker_readmitted(
            latency_ms in 550u64..40_000,
            seed in any::<u64>(),
        ) {
            let info = info(&[2, 2]);
            let t0 = Instant::now();
            let mut table = LatencyFaultTolerance::new();
            table.update("b0", Duration::from_millis(latency_ms), false, true, t0);
            let window = crate::producer::fault::not_available_duration(Duration::from_millis(latency_ms));
            let mut sel = QueueSelection::with_seed(seed);
            let before = t0 + window - Duration::from_millis(1);
            for _ in 0..8 {
                let mq = sel.select_one(&info, None, Some((&table, before))).unwrap();
                prop_assert_eq!(mq.broker_name.as_str(), "b1");
            }
            let after = t0 + window;
            let seen: HashSet<String> = (0..8)
                .filter_map(|_| sel.select_one(&info, None, Some((&table, after))))
                .map(|mq| mq.broker_name)
                .collect();
            prop_assert!(seen.contains("b0"));
        }

        #[test]
        fn selector_prop_hash_is_stable(
            key in ".{0,40}",
            queue_count in 1i32..64,
            calls in 1usize..20,
            noise in prop::collection::vec(".{0,10}", 0..10),
        ) {
            let queues = info(&[queue_count]).queues;
            let msg = Message::new("T", "x");
            let arg = SelectorArg::from(key.as_str());
            let first = SelectMessageQueueByHash.select(&queues, &msg, &arg);
            prop_assert!(first.is_some_and(|i| i < queues.len()));
            for i in 0..calls {
                // Other keys in between must not disturb the mapping.
                if let Some(other) = noise.get(i % noise.len().max(1)) {
                    SelectMessageQueueByHash.select(&queues, &msg, &SelectorArg::from(other.as_str()));
                }
                prop_assert_eq!(SelectMessageQueueByHash.select(&queues, &msg, &arg), first);
            }
        }
    }
}
