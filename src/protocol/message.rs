//! A message to send, its well-known property keys, sysFlag bits and the
//! properties string codec (`name U+0001 value U+0002` per pair, PROTOCOL.md §6).
use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

use super::compression::decompress;
use super::error::ProtocolError;
use super::headers::ReplyMessageRequestHeader;

/// `MSG_TYPE` of a request–reply answer.
pub const REPLY_MESSAGE_TYPE: &str = "reply";
/// A cluster's reply topic is `<cluster>_REPLY_TOPIC` (Java `MixAll.getReplyTopic`).
pub const REPLY_TOPIC_SUFFIX: &str = "REPLY_TOPIC";

/// Separator between a property name and its value (Java `NAME_VALUE_SEPARATOR`).
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Terminator written after every pair, the last included (Java `PROPERTY_SEPARATOR`).
pub const PROPERTY_SEPARATOR: char = '\u{2}';
/// Separator between several business keys in `KEYS`.
pub const KEY_SEPARATOR: &str = " ";
/// The largest properties string the store accepts (2-byte length on disk).
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;

/// Exact property key strings (Java `MessageConst`).
pub mod property {
    /// Business keys for lookup (QUERY_MESSAGE), several separated by one space.
    pub const KEYS: &str = "KEYS";
    /// The message tag, used by consumers to filter.
    pub const TAGS: &str = "TAGS";
    /// waitStoreMsgOK; absent means true.
    pub const WAIT: &str = "WAIT";
    /// Delay level 1..N into the broker's `messageDelayLevel`.
    pub const DELAY: &str = "DELAY";
    /// Original topic of a message sent back for consumer retry.
    pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
    /// The real topic of a message parked in a system topic (delay, half message).
    pub const REAL_TOPIC: &str = "REAL_TOPIC";
    /// The real queue id of a message parked in a system topic.
    pub const REAL_QID: &str = "REAL_QID";
    /// `"true"` on a transactional half message.
    pub const TRAN_MSG: &str = "TRAN_MSG";
    /// Producer group of a half message (the broker finds the check channel by it).
    pub const PGROUP: &str = "PGROUP";
    /// The queue's min offset, added by the broker to pulled messages.
    pub const MIN_OFFSET: &str = "MIN_OFFSET";
    /// The queue's max offset, added by the broker to pulled messages.
    pub const MAX_OFFSET: &str = "MAX_OFFSET";
    /// Buyer id for unit routing (legacy).
    pub const BUYER_ID: &str = "BUYER_ID";
    /// Original message id of a message sent back for consumer retry.
    pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
    /// Legacy message-transfer flag (broker-internal).
    pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
    /// Legacy correction flag (broker-internal).
    pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
    /// Legacy MQ2 flag (broker-internal).
    pub const MQ2_FLAG: &str = "MQ2_FLAG";
    /// Redelivery count of a retried message (consumer side).
    pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
    /// Region of the storing broker (default `DefaultRegion`).
    pub const MSG_REGION: &str = "MSG_REGION";
    /// Whether message tracing is enabled, `"true"`/`"false"`.
    pub const TRACE_ON: &str = "TRACE_ON";
    /// Client message id (the dedup key, `SendResult.msgId`).
    pub const UNIQ_KEY: &str = "UNIQ_KEY";
    /// Extra uniqueness info (broker-internal).
    pub const EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
    /// Redeliveries allowed before the message goes to the DLQ.
    pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
    /// When a consumer started consuming it, epoch ms (consumer side).
    pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
    /// Number of messages in a 5.x inner batch (broker).
    pub const INNER_NUM: &str = "INNER_NUM";
    /// Base queue offset of a 5.x inner batch (broker).
    pub const INNER_BASE: &str = "INNER_BASE";
    /// Duplication marker (broker-internal).
    pub const DUP_INFO: &str = "DUP_INFO";
    /// First-check delay of a half message (a user property in Java, not reserved).
    pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
    /// Queue offset of the half message, set by the broker on commit/rollback.
    pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
    /// Set client-side on the local message after a half send.
    pub const TRANSACTION_ID: &str = "__transactionId__";
    /// How often the broker has checked a half message (broker-set).
    pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
    /// Namespace, set by Java when a namespace is configured.
    pub const INSTANCE_ID: &str = "INSTANCE_ID";
    /// Request–reply: correlation id (random UUID) pairing a reply with its request.
    pub const CORRELATION_ID: &str = "CORRELATION_ID";
    /// Request–reply: client id of the requester the reply is pushed to.
    pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
    /// Request–reply: request timeout in ms.
    pub const TTL: &str = "TTL";
    /// Request–reply: when the reply reached the requester, epoch ms.
    pub const ARRIVE_TIME: &str = "ARRIVE_TIME";
    /// Request–reply: when the broker pushed the reply, epoch ms.
    pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
    /// Cluster name of the storing broker (added to every stored message).
    pub const CLUSTER: &str = "CLUSTER";
    /// `reply` marks a request–reply answer (sent with SEND_REPLY_MESSAGE).
    pub const MSG_TYPE: &str = "MSG_TYPE";
    /// 5.x pop consumption: checkpoint (broker-internal).
    pub const POP_CK: &str = "POP_CK";
    /// 5.x pop consumption: checkpoint offset (broker-internal).
    pub const POP_CK_OFFSET: &str = "POP_CK_OFFSET";
    /// 5.x pop consumption: first pop time, `1ST_POP_TIME` (broker-internal).
    pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
    /// FIFO sharding key (5.x).
    pub const SHARDING_KEY: &str = "__SHARDINGKEY";
    /// Forwarded queue id (broker-internal).
    pub const FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
    /// Redirect marker (broker-internal).
    pub const REDIRECT: &str = "REDIRECT";
    /// LMQ dispatch list; must not contain a path separator.
    pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
    /// LMQ per-queue offsets of a multi-dispatched message (broker).
    pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
    /// 5.x trace context.
    pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
    /// 5.x timer: relative delay in seconds (wins over the other two).
    pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
    /// 5.x timer: relative delay in milliseconds.
    pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
    /// 5.x timer: absolute delivery time, epoch milliseconds.
    pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
    /// 5.x timer: when the message entered the timer wheel, epoch ms (broker).
    pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
    /// 5.x timer: when it left the timer wheel, epoch ms (broker).
    pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
    /// 5.x timer: times the message rolled over the wheel (broker).
    pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
    /// 5.x timer: computed delivery time, epoch ms (broker).
    pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
    /// 5.x timer: UNIQ_KEY of a timer message to cancel.
    pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
    /// 5.x timer: deletion time (broker).
    pub const TIMER_DEL_MS: &str = "TIMER_DEL_MS";
    /// 5.x timer: delay level handled by the timer wheel (broker).
    pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
    /// Producer address as seen by the broker (broker-internal).
    pub const BORN_HOST: &str = "__BORNHOST";
    /// Born timestamp copy (broker-internal).
    pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
    /// CRC32 of the body kept in properties (broker option).
    pub const CRC32: &str = "__CRC32#";
    /// Original topic of a dead-lettered message.
    pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
    /// Original message id of a dead-lettered message.
    pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";
    /// Names starting with this are never stored by the broker.
    pub const TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";

    /// The names reserved for the system (Java `MessageConst.STRING_HASH_SET`);
    /// a user property must not use one of them.
    pub const SYSTEM_PROPERTIES: &[&str] = &[
        TRACE_ON,
        MSG_REGION,
        KEYS,
        TAGS,
        WAIT,
        DELAY,
        RETRY_TOPIC,
        REAL_TOPIC,
        REAL_QID,
        TRAN_MSG,
        PGROUP,
        MIN_OFFSET,
        MAX_OFFSET,
        BUYER_ID,
        ORIGIN_MESSAGE_ID,
        TRANSFER_FLAG,
        CORRECTION_FLAG,
        MQ2_FLAG,
        RECONSUME_TIME,
        UNIQ_KEY,
        MAX_RECONSUME_TIMES,
        CONSUME_START_TIME,
        POP_CK,
        POP_CK_OFFSET,
        FIRST_POP_TIME,
        TRAN_PREPARED_QUEUE_OFFSET,
        DUP_INFO,
        EXTEND_UNIQ_INFO,
        INSTANCE_ID,
        CORRELATION_ID,
        REPLY_TO_CLIENT,
        TTL,
        ARRIVE_TIME,
        PUSH_REPLY_TIME,
        CLUSTER,
        MSG_TYPE,
        INNER_MULTI_QUEUE_OFFSET,
        TIMER_DELAY_MS,
        TIMER_DELAY_SEC,
        TIMER_DELIVER_MS,
        TIMER_ENQUEUE_MS,
        TIMER_DEQUEUE_MS,
        TIMER_ROLL_TIMES,
        TIMER_OUT_MS,
        TIMER_DEL_UNIQKEY,
        TIMER_DEL_MS,
        TIMER_DELAY_LEVEL,
        BORN_HOST,
        BORN_TIMESTAMP,
        DLQ_ORIGIN_TOPIC,
        DLQ_ORIGIN_MESSAGE_ID,
        CRC32,
    ];

    /// Whether `name` is reserved for the system (not usable as a user property).
    pub fn is_system_property(name: &str) -> bool {
        SYSTEM_PROPERTIES.contains(&name)
    }
}

pub use property::is_system_property;

/// Message `sysFlag` bits (Java `MessageSysFlag`).
pub mod sys_flag {
    /// The body is compressed (type in bits 8-10).
    pub const COMPRESSED: i32 = 0x1;
    /// Set by the broker for MULTI_TAG topics.
    pub const MULTI_TAGS: i32 = 0x2;
    /// Not transactional (or: END_TRANSACTION "unknown").
    pub const TRANSACTION_NOT_TYPE: i32 = 0;
    /// A transactional half message (set when `TRAN_MSG=true`).
    pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
    /// Transaction committed.
    pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
    /// Transaction rolled back.
    pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
    /// Mask of the transaction type bits 2-3.
    pub const TRANSACTION_TYPE_MASK: i32 = 0xC;
    /// The born host in a stored record is IPv6 (16 bytes).
    pub const BORNHOST_V6: i32 = 0x10;
    /// The store host in a stored record is IPv6 (16 bytes).
    pub const STOREHOST_V6: i32 = 0x20;
    /// The record is an inner batch that must be unwrapped (broker-set).
    pub const NEED_UNWRAP: i32 = 0x40;
    /// The record is a 5.x inner batch (broker-set).
    pub const INNER_BATCH: i32 = 0x80;
    /// Compression type LZ4.
    pub const COMPRESSION_LZ4: i32 = 0x100;
    /// Compression type Zstandard.
    pub const COMPRESSION_ZSTD: i32 = 0x200;
    /// Zlib; a compression type of 0 also means zlib (pre-4.9.4 senders).
    pub const COMPRESSION_ZLIB: i32 = 0x300;
    /// Mask of the compression type bits 8-10.
    pub const COMPRESSION_TYPE_MASK: i32 = 0x700;

    /// The transaction type bits of `flag`.
    pub fn transaction_type(flag: i32) -> i32 {
        flag & TRANSACTION_TYPE_MASK
    }
}

/// Business keys accepted by [`Message::with_keys`]: one key or several.
pub trait IntoKeys {
    /// Appends the keys to `out`, separated by one space.
    fn append_keys(self, out: &mut String);
}

fn push_key(out: &mut String, key: &str) {
    // Empty keys would produce double spaces that index nothing.
    if key.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push_str(KEY_SEPARATOR);
    }
    out.push_str(key);
}

impl IntoKeys for &str {
    fn append_keys(self, out: &mut String) {
        push_key(out, self);
    }
}
impl IntoKeys for String {
    fn append_keys(self, out: &mut String) {
        push_key(out, &self);
    }
}
impl IntoKeys for &String {
    fn append_keys(self, out: &mut String) {
        push_key(out, self);
    }
}
impl<T: AsRef<str>> IntoKeys for Vec<T> {
    fn append_keys(self, out: &mut String) {
        self.iter().for_each(|k| push_key(out, k.as_ref()));
    }
}
impl<T: AsRef<str>> IntoKeys for &[T] {
    fn append_keys(self, out: &mut String) {
        self.iter().for_each(|k| push_key(out, k.as_ref()));
    }
}
impl<T: AsRef<str>> IntoKeys for &Vec<T> {
    fn append_keys(self, out: &mut String) {
        self.iter().for_each(|k| push_key(out, k.as_ref()));
    }
}
impl<T: AsRef<str>, const N: usize> IntoKeys for &[T; N] {
    fn append_keys(self, out: &mut String) {
        self.iter().for_each(|k| push_key(out, k.as_ref()));
    }
}
impl<T: AsRef<str>, const N: usize> IntoKeys for [T; N] {
    fn append_keys(self, out: &mut String) {
        self.iter().for_each(|k| push_key(out, k.as_ref()));
    }
}

/// A message to send: topic, flag, properties and body.
///
/// Properties keep their insertion order so a decoded message re-encodes
/// byte for byte; setting an existing name replaces its value in place.
///
/// ```
/// use actix_rocketmq::Message;
///
/// let msg = Message::new("TopicTest", "Hello RocketMQ")
///     .with_tags("TagA")
///     .with_keys(["order-1", "order-2"])
///     .with_property("source", "checkout");
/// assert_eq!(msg.tags(), Some("TagA"));
/// assert_eq!(msg.keys(), Some("order-1 order-2"));
/// assert_eq!(msg.property("source"), Some("checkout"));
/// assert!(msg.wait_store_msg_ok()); // `WAIT=true` by default
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The target topic.
    pub topic: String,
    /// Application flag, carried untouched by the broker.
    pub flag: i32,
    /// Cow: the properties every message carries (`WAIT`, `UNIQ_KEY`'s name) cost no allocation.
    properties: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    /// The payload; must be non-empty and at most `maxMessageSize` (4 MiB by default).
    pub body: Bytes,
    /// Set after a transactional half send (the half message's UNIQ_KEY).
    pub transaction_id: Option<String>,
    /// Reserved names passed to `with_property`, reported by validation.
    reserved_user_names: Vec<String>,
}

impl Message {
    /// A message with `WAIT=true`, as Java's message constructors set it.
    pub fn new(topic: impl Into<String>, body: impl Into<Bytes>) -> Self {
        let mut properties = Vec::with_capacity(4);
        properties.push((Cow::Borrowed(property::WAIT), Cow::Borrowed("true")));
        Message {
            topic: topic.into(),
            flag: 0,
            properties,
            body: body.into(),
            transaction_id: None,
            reserved_user_names: Vec::new(),
        }
    }

    /// A message with exactly these properties (e.g. decoded from the wire).
    pub fn from_parts(
        topic: impl Into<String>,
        flag: i32,
        properties: Vec<(String, String)>,
        body: impl Into<Bytes>,
    ) -> Self {
        Message {
            topic: topic.into(),
            flag,
            properties: properties
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
                .collect(),
            body: body.into(),
            transaction_id: None,
            reserved_user_names: Vec::new(),
        }
    }

    /// Sets the tag (`TAGS`), which consumers filter on.
    pub fn with_tags(mut self, tags: impl Into<String>) -> Self {
        self.set_property_cow(Cow::Borrowed(property::TAGS), Cow::Owned(tags.into()));
        self
    }

    /// Business keys: one `&str`/`String`, or a `Vec`/array/slice of them, joined with one space.
    pub fn with_keys(mut self, keys: impl IntoKeys) -> Self {
        let mut joined = String::new();
        keys.append_keys(&mut joined);
        self.set_property(property::KEYS, joined);
        self
    }

    /// Business keys from any iterator (a set, a mapped iterator, ...), joined with one space.
    pub fn with_keys_iter<I>(mut self, keys: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut joined = String::new();
        keys.into_iter()
            .for_each(|k| push_key(&mut joined, k.as_ref()));
        self.set_property(property::KEYS, joined);
        self
    }

    /// Delay level 1..N (broker `messageDelayLevel`); `<= 0` removes it (Java treats it as none).
    pub fn with_delay_level(mut self, level: i32) -> Self {
        if level > 0 {
            self.set_property(property::DELAY, level.to_string());
        } else {
            self.remove_property(property::DELAY);
        }
        self
    }

    /// 5.x timer message: deliver at this epoch time in milliseconds (`TIMER_DELIVER_MS`).
    pub fn with_delivery_time_ms(mut self, epoch_ms: u64) -> Self {
        self.set_property(property::TIMER_DELIVER_MS, epoch_ms.to_string());
        self
    }

    /// 5.x timer message: deliver after this many seconds (`TIMER_DELAY_SEC`).
    pub fn with_delay_sec(mut self, secs: u64) -> Self {
        self.set_property(property::TIMER_DELAY_SEC, secs.to_string());
        self
    }

    /// 5.x timer message: deliver after this many milliseconds (`TIMER_DELAY_MS`).
    pub fn with_delay_ms(mut self, ms: u64) -> Self {
        self.set_property(property::TIMER_DELAY_MS, ms.to_string());
        self
    }

    /// A user property. Nothing is rejected here; [`validate_message`] reports
    /// reserved or blank names and blank values.
    ///
    /// [`validate_message`]: super::validation::validate_message
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        if is_system_property(&name) {
            self.reserved_user_names.push(name.clone());
        }
        self.set_property(name, value);
        self
    }

    /// `WAIT`: whether the broker answers only after the store (and slave) succeeded.
    pub fn with_wait_store_msg_ok(mut self, wait: bool) -> Self {
        let value = if wait { "true" } else { "false" };
        self.set_property_cow(Cow::Borrowed(property::WAIT), Cow::Borrowed(value));
        self
    }

    /// Sets the application flag (`Message.flag`).
    pub fn with_flag(mut self, flag: i32) -> Self {
        self.flag = flag;
        self
    }

    /// Sets a property (any name, system ones included), replacing an earlier value.
    pub fn set_property(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.set_property_cow(Cow::Owned(name.into()), Cow::Owned(value.into()));
    }

    fn set_property_cow(&mut self, name: Cow<'static, str>, value: Cow<'static, str>) {
        match self.properties.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.properties.push((name, value)),
        }
    }

    /// Removes a property and returns its value, if it was set.
    pub fn remove_property(&mut self, name: &str) -> Option<String> {
        let pos = self.properties.iter().position(|(k, _)| k == name)?;
        Some(self.properties.remove(pos).1.into_owned())
    }

    /// The value of property `name`, if set.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    /// All properties in insertion order, as owned pairs.
    pub fn properties_owned(&self) -> Vec<(String, String)> {
        self.properties()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// All properties in insertion order.
    pub fn properties(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + Clone {
        self.properties
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// Names reserved for the system that were passed to [`Message::with_property`].
    pub fn reserved_user_property_names(&self) -> &[String] {
        &self.reserved_user_names
    }

    /// The tag (`TAGS`), if set.
    pub fn tags(&self) -> Option<&str> {
        self.property(property::TAGS)
    }

    /// The raw `KEYS` value (several keys separated by spaces).
    pub fn keys(&self) -> Option<&str> {
        self.property(property::KEYS)
    }

    /// The individual business keys.
    pub fn key_list(&self) -> impl Iterator<Item = &str> {
        self.keys()
            .unwrap_or("")
            .split(KEY_SEPARATOR)
            .filter(|k| !k.is_empty())
    }

    /// The delay level, 0 when absent or unparsable (like Java's `getDelayTimeLevel`).
    pub fn delay_level(&self) -> i32 {
        self.property(property::DELAY)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// 5.x timer delivery time (`TIMER_DELIVER_MS`, epoch ms), if set and numeric.
    pub fn delivery_time_ms(&self) -> Option<u64> {
        self.property(property::TIMER_DELIVER_MS)
            .and_then(|v| v.parse().ok())
    }

    /// 5.x timer delay in seconds (`TIMER_DELAY_SEC`), if set and numeric.
    pub fn delay_sec(&self) -> Option<u64> {
        self.property(property::TIMER_DELAY_SEC)
            .and_then(|v| v.parse().ok())
    }

    /// 5.x timer delay in milliseconds (`TIMER_DELAY_MS`), if set and numeric.
    pub fn delay_ms(&self) -> Option<u64> {
        self.property(property::TIMER_DELAY_MS)
            .and_then(|v| v.parse().ok())
    }

    /// `WAIT`; absent means true, otherwise Java's `Boolean.parseBoolean`.
    pub fn wait_store_msg_ok(&self) -> bool {
        self.property(property::WAIT)
            .is_none_or(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The client message id (`UNIQ_KEY`), once stamped.
    pub fn uniq_key(&self) -> Option<&str> {
        self.property(property::UNIQ_KEY)
    }

    /// Sets `UNIQ_KEY` unless present: an id is set once and kept across retries.
    pub fn ensure_uniq_key(&mut self, make: impl FnOnce() -> String) -> &str {
        let pos = match self
            .properties
            .iter()
            .position(|(k, _)| k == property::UNIQ_KEY)
        {
            Some(pos) => pos,
            None => {
                self.properties
                    .push((Cow::Borrowed(property::UNIQ_KEY), Cow::Owned(make())));
                self.properties.len() - 1
            }
        };
        self.properties
            .get(pos)
            .map(|(_, v)| v.as_ref())
            .unwrap_or_default()
    }

    /// The reply to a request–reply request whose properties are `request`
    /// (Java `MessageUtil.createReplyMessage`): to `<CLUSTER>_REPLY_TOPIC`,
    /// marked `MSG_TYPE=reply`, with the request's `CORRELATION_ID`,
    /// `REPLY_TO_CLIENT` and `TTL`. A producer sends it with
    /// SEND_REPLY_MESSAGE_V2 and the broker pushes it to the requester. `None`
    /// when `request` is not a stored request (no `CLUSTER`, which the broker
    /// adds, or no correlation id or requester).
    ///
    /// ```
    /// use actix_rocketmq::Message;
    /// let request = [("CLUSTER", "DefaultCluster"), ("CORRELATION_ID", "c-1"),
    ///                ("REPLY_TO_CLIENT", "10.0.0.9@4711"), ("TTL", "3000")];
    /// let reply = Message::reply_to(request, "pong").unwrap();
    /// assert_eq!(reply.topic, "DefaultCluster_REPLY_TOPIC");
    /// assert!(reply.is_reply());
    /// ```
    pub fn reply_to<'a>(
        request: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: impl Into<Bytes>,
    ) -> Option<Message> {
        let (mut cluster, mut correlation, mut client, mut ttl) = (None, None, None, None);
        for (k, v) in request {
            match k {
                property::CLUSTER => cluster = Some(v),
                property::CORRELATION_ID => correlation = Some(v),
                property::REPLY_TO_CLIENT => client = Some(v),
                property::TTL => ttl = Some(v),
                _ => {}
            }
        }
        let mut reply = Message::new(format!("{}_{REPLY_TOPIC_SUFFIX}", cluster?), body);
        reply.set_property(property::MSG_TYPE, REPLY_MESSAGE_TYPE);
        reply.set_property(property::CORRELATION_ID, correlation?);
        reply.set_property(property::REPLY_TO_CLIENT, client?);
        if let Some(ttl) = ttl {
            reply.set_property(property::TTL, ttl);
        }
        Some(reply)
    }

    /// Whether this is a request–reply answer (`MSG_TYPE=reply`).
    pub fn is_reply(&self) -> bool {
        self.property(property::MSG_TYPE) == Some(REPLY_MESSAGE_TYPE)
    }

    /// The message a PUSH_REPLY_MESSAGE_TO_CLIENT carries: topic, flag and
    /// properties from its header, the body inflated when `sysFlag` says so
    /// (at most `max_body` bytes).
    pub fn from_reply_push(
        header: &ReplyMessageRequestHeader,
        body: Bytes,
        max_body: usize,
    ) -> Result<Message, ProtocolError> {
        let body = if header.sys_flag & sys_flag::COMPRESSED != 0 {
            decompress(&body, header.sys_flag, max_body)?
        } else {
            body
        };
        let mut m = Message::new(header.topic.as_str(), body).with_flag(header.flag);
        m.properties.clear();
        for (k, v) in decode_properties(header.properties.as_deref().unwrap_or_default()) {
            m.set_property(k, v);
        }
        Ok(m)
    }

    /// Whether `TRAN_MSG` marks this as a transactional half message.
    pub fn is_transaction_prepared(&self) -> bool {
        self.property(property::TRAN_MSG)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// Byte length of [`Message::encode_properties`].
    pub fn encoded_properties_len(&self) -> usize {
        encoded_properties_len(self.properties())
    }

    /// The properties string of this message, allocated once at its exact size.
    pub fn encode_properties(&self) -> String {
        let mut out = String::with_capacity(self.encoded_properties_len());
        encode_properties_into(self.properties(), &mut out);
        out
    }
}

/// Byte length of the properties string `pairs` encode to (empty values skipped).
pub fn encoded_properties_len<I, K, V>(pairs: I) -> usize
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    pairs
        .into_iter()
        .map(|(k, v)| {
            let v = v.as_ref();
            if v.is_empty() {
                0
            } else {
                k.as_ref().len() + v.len() + 2
            }
        })
        .sum()
}

/// Encodes `pairs` as a properties string: `name U+0001 value U+0002` for every
/// pair (the last too); empty values are skipped (the parser would drop them).
pub fn encode_properties<I, K, V>(pairs: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut out = String::new();
    encode_properties_into(pairs, &mut out);
    out
}

/// Appends the properties string of `pairs` to `out` (no allocation if it has room).
pub fn encode_properties_into<I, K, V>(pairs: I, out: &mut String)
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    for (k, v) in pairs {
        let v = v.as_ref();
        if v.is_empty() {
            continue;
        }
        out.push_str(k.as_ref());
        out.push(NAME_VALUE_SEPARATOR);
        out.push_str(v);
        out.push(PROPERTY_SEPARATOR);
    }
}

/// Appends the properties string of `pairs` to a byte buffer (e.g. a body being built).
pub fn encode_properties_into_bytes<I, K, V>(pairs: I, out: &mut BytesMut)
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    // A short pair is gathered on the stack and appended with one write.
    const SMALL: usize = 64;
    for (k, v) in pairs {
        let (k, v) = (k.as_ref().as_bytes(), v.as_ref().as_bytes());
        if v.is_empty() {
            continue;
        }
        let n = k.len() + v.len() + 2;
        if n <= SMALL {
            let mut pair = [0u8; SMALL];
            pair[..k.len()].copy_from_slice(k);
            pair[k.len()] = NAME_VALUE_SEPARATOR as u8;
            pair[k.len() + 1..n - 1].copy_from_slice(v);
            pair[n - 1] = PROPERTY_SEPARATOR as u8;
            out.put_slice(&pair[..n]);
        } else {
            out.put_slice(k);
            out.put_u8(NAME_VALUE_SEPARATOR as u8);
            out.put_slice(v);
            out.put_u8(PROPERTY_SEPARATOR as u8);
        }
    }
}

/// Parses a properties string like Java's `string2messageProperties`: split on
/// U+0002; keep a segment when it has U+0001 after a non-empty name and before
/// a non-empty value (the value may itself hold U+0001); a repeated name
/// replaces the earlier value; anything else is skipped, never an error.
pub fn decode_properties(s: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for segment in s.split(PROPERTY_SEPARATOR) {
        let Some(sep) = segment.find(NAME_VALUE_SEPARATOR) else {
            continue;
        };
        // Separators are ASCII, so these byte slices are on char boundaries.
        let (name, value) = (&segment[..sep], &segment[sep + 1..]);
        if name.is_empty() || value.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => value.clone_into(&mut slot.1),
            None => out.push((name.to_owned(), value.to_owned())),
        }
    }
    out
}

/// [`decode_properties`] on raw bytes, which must be UTF-8.
pub fn decode_properties_bytes(raw: &[u8]) -> Result<Vec<(String, String)>, ProtocolError> {
    let s = std::str::from_utf8(raw).map_err(|e| ProtocolError::MalformedBody {
        kind: "message properties",
        reason: format!("not UTF-8: {e}"),
    })?;
    Ok(decode_properties(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_pushed_reply_becomes_a_message() {
        let reply = Message::reply_to(
            [
                ("CLUSTER", "C"),
                ("CORRELATION_ID", "c-1"),
                ("REPLY_TO_CLIENT", "me"),
                ("TTL", "3000"),
                ("KEYS", "not copied"),
            ],
            "pong",
        )
        .unwrap();
        assert_eq!(reply.topic, "C_REPLY_TOPIC");
        assert_eq!(reply.property(property::CORRELATION_ID), Some("c-1"));
        assert_eq!(reply.property(property::TTL), Some("3000"));
        assert_eq!(reply.keys(), None);
        assert!(Message::reply_to([("CORRELATION_ID", "c-1")], "x").is_none());

        let mut header = ReplyMessageRequestHeader {
            topic: reply.topic.clone(),
            flag: 7,
            properties: Some(reply.encode_properties()),
            ..Default::default()
        };
        let back = Message::from_reply_push(&header, Bytes::from_static(b"pong"), 1 << 20).unwrap();
        assert_eq!(back.topic, "C_REPLY_TOPIC");
        assert_eq!(back.flag, 7);
        assert_eq!(back.body, "pong");
        assert!(back.is_reply());
        assert_eq!(
            back.property(property::WAIT),
            reply.property(property::WAIT)
        );
        let packed = crate::protocol::compression::compress_zlib(b"pong pong pong", 5).unwrap();
        header.sys_flag = sys_flag::COMPRESSED;
        let back = Message::from_reply_push(&header, packed, 1 << 20).unwrap();
        assert_eq!(back.body, "pong pong pong");
    }

    #[test]
    fn encodes_spec_example_exactly() {
        let s = encode_properties([
            ("TAGS", "TagA"),
            ("KEYS", "order-1 order-2"),
            ("WAIT", "true"),
            ("UNIQ_KEY", "0A00000930391B6D35860A1B2C3D0001"),
        ]);
        assert_eq!(
            s,
            "TAGS\u{1}TagA\u{2}KEYS\u{1}order-1 order-2\u{2}WAIT\u{1}true\u{2}\
             UNIQ_KEY\u{1}0A00000930391B6D35860A1B2C3D0001\u{2}"
        );
        assert_eq!(encoded_properties_len([("TAGS", "TagA")]), 10);
    }

    #[test]
    fn empty_values_are_skipped_and_every_pair_terminated() {
        assert_eq!(encode_properties([("A", ""), ("B", "1")]), "B\u{1}1\u{2}");
        assert_eq!(encode_properties(Vec::<(&str, &str)>::new()), "");
        let mut buf = BytesMut::new();
        encode_properties_into_bytes([("A", "x"), ("B", "")], &mut buf);
        assert_eq!(&buf[..], b"A\x01x\x02");
    }

    #[test]
    fn decoder_follows_java_rules() {
        let got = decode_properties("A\u{1}1\u{2}\u{1}x\u{2}B\u{1}\u{2}C\u{1}v\u{1}w\u{2}A\u{1}2");
        assert_eq!(
            got,
            vec![
                ("A".to_owned(), "2".to_owned()),
                ("C".to_owned(), "v\u{1}w".to_owned())
            ]
        );
        assert!(decode_properties("").is_empty());
        assert!(decode_properties("\u{2}\u{2}ab\u{2}").is_empty());
        assert!(decode_properties_bytes(&[0xff, 1, 2]).is_err());
    }

    #[test]
    fn builder_sets_expected_properties() {
        let m = Message::new("T", "body")
            .with_tags("TagA")
            .with_keys(["order-1", "", "order-2"])
            .with_delay_level(3)
            .with_property("biz", "v")
            .with_flag(7);
        assert_eq!(m.tags(), Some("TagA"));
        assert_eq!(m.keys(), Some("order-1 order-2"));
        assert_eq!(m.key_list().collect::<Vec<_>>(), ["order-1", "order-2"]);
        assert_eq!(m.delay_level(), 3);
        assert_eq!(m.property("biz"), Some("v"));
        assert!(m.wait_store_msg_ok());
        assert_eq!(m.flag, 7);
        assert_eq!(
            m.encode_properties(),
            "WAIT\u{1}true\u{2}TAGS\u{1}TagA\u{2}KEYS\u{1}order-1 order-2\u{2}DELAY\u{1}3\u{2}biz\u{1}v\u{2}"
        );
        let m = m
            .with_keys("single")
            .with_delay_level(0)
            .with_wait_store_msg_ok(false);
        assert_eq!(m.keys(), Some("single"));
        let keys = vec!["a".to_owned(), "b".to_owned()];
        let m = m.with_keys(&keys);
        assert_eq!(m.keys(), Some("a b"));
        let m = m.with_keys(&keys[..1]);
        assert_eq!(m.keys(), Some(keys[0].as_str()));
        let m = m.with_keys_iter((1..=3).map(|i| format!("k{i}")));
        assert_eq!(m.keys(), Some("k1 k2 k3"));
        assert_eq!(m.delay_level(), 0);
        assert!(!m.wait_store_msg_ok());
        assert!(m.reserved_user_property_names().is_empty());
    }

    #[test]
    fn timers_and_reserved_names() {
        let m = Message::new("T", "b")
            .with_delivery_time_ms(1_700_000_000_000)
            .with_delay_sec(5)
            .with_delay_ms(250)
            .with_property("TAGS", "x");
        assert_eq!(m.property("TIMER_DELIVER_MS"), Some("1700000000000"));
        assert_eq!(m.delay_sec(), Some(5));
        assert_eq!(m.delay_ms(), Some(250));
        assert_eq!(m.reserved_user_property_names(), ["TAGS"]);
        assert!(is_system_property("UNIQ_KEY"));
        assert!(!is_system_property("CHECK_IMMUNITY_TIME_IN_SECONDS"));
        assert!(Message::default().wait_store_msg_ok());
    }

    #[test]
    fn uniq_key_is_set_once() {
        let mut m = Message::new("T", "b");
        assert_eq!(m.ensure_uniq_key(|| "A".into()), "A");
        assert_eq!(m.ensure_uniq_key(|| "B".into()), "A");
        assert_eq!(m.uniq_key(), Some("A"));
    }

    fn props() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::btree_map("[^\u{1}\u{2}]{1,12}", "[^\u{1}\u{2}]{1,24}", 0..8)
            .prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #[test]
        fn properties_round_trip(p in props()) {
            let s = encode_properties(p.iter().map(|(k, v)| (k, v)));
            prop_assert_eq!(s.len(), encoded_properties_len(p.iter().map(|(k, v)| (k, v))));
            prop_assert_eq!(decode_properties(&s), p);
        }

        #[test]
        fn decode_never_panics(s in "[\u{1}\u{2}a-cé]{0,40}") {
            let _ = decode_properties(&s);
        }
    }
}
