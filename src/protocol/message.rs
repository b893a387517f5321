//! A message to send: the [`Message`] type, its business keys and the
//! request–reply helpers. Its property names are in [`property`], its
//! sysFlag bits in [`sys_flag`] and the properties string codec in
//! [`super::properties`]; all are re-exported here.
use std::borrow::Cow;

use bytes::Bytes;

pub use super::properties::{
    MAX_PROPERTIES_LEN, NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR, decode_properties,
    decode_properties_bytes, encode_properties, encode_properties_into,
    encode_properties_into_bytes, encoded_properties_len,
};
pub use super::property::{self, is_system_property};
pub use super::sys_flag;

/// `MSG_TYPE` of a request–reply answer.
pub const REPLY_MESSAGE_TYPE: &str = "reply";
/// A cluster's reply topic is `<cluster>_REPLY_TOPIC` (Java `MixAll.getReplyTopic`).
pub const REPLY_TOPIC_SUFFIX: &str = "REPLY_TOPIC";
/// Separator between several business keys in `KEYS`.
pub const KEY_SEPARATOR: &str = " ";

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
        // From the end: UNIQ_KEY, removed once per send, is nearly always the last.
        let pos = self.properties.iter().rposition(|(k, _)| k == name)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
