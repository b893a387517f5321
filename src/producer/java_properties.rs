//! Producer settings under their Java names (`DefaultMQProducer` /
//! `ClientConfig` properties), for configs shared with Java services or kept
//! in a `.properties`, TOML, YAML or JSON file. Needs the `serde` feature.
//!
//! Values may be numbers or booleans, or strings as in a Java `.properties`
//! file (`"3000"`, `"true"`); durations are in milliseconds, as in Java. An
//! unknown key, or a value that does not parse, is an
//! [`ErrorKind::Config`](crate::ErrorKind::Config) error naming the key.
//!
//! ```
//! use actix_rocketmq::ProducerConfig;
//! use actix_rocketmq::producer::java_properties::JavaProducerProperties;
//!
//! let props = [
//!     ("producerGroup", "orders"),
//!     ("namesrvAddr", "10.0.0.1:9876;10.0.0.2:9876"),
//!     ("sendMsgTimeout", "5000"),
//!     ("retryTimesWhenSendFailed", "4"),
//! ];
//! let config = ProducerConfig::from_java_properties(props)?.build()?;
//! assert_eq!(config.send_timeout().as_millis(), 5000);
//! assert_eq!(config.retry_times_when_send_failed(), 4);
//!
//! // Or as a section of your own serde config (here JSON; TOML or YAML alike):
//! let props: JavaProducerProperties = serde_json::from_str(r#"{"sendMsgTimeout": 800}"#)?;
//! let config = ProducerConfig::builder("orders").apply(props).build()?;
//! assert_eq!(config.send_timeout().as_millis(), 800);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::config::{ProducerConfig, ProducerConfigBuilder};
use crate::error::Error;
use crate::protocol::compression::CompressionType;

/// Producer settings by Java property name; `None` leaves the builder's value.
///
/// | Java key | builder setting |
/// | --- | --- |
/// | `producerGroup` | the group |
/// | `namesrvAddr` | [`namesrv_addr`](ProducerConfigBuilder::namesrv_addr) (replaces the list) |
/// | `instanceName` | [`instance_name`](ProducerConfigBuilder::instance_name) |
/// | `unitName` | [`unit_name`](ProducerConfigBuilder::unit_name) |
/// | `namespace` | [`namespace`](ProducerConfigBuilder::namespace) |
/// | `clientIP` | [`client_ip`](ProducerConfigBuilder::client_ip) |
/// | `sendMsgTimeout` (ms) | [`send_timeout`](ProducerConfigBuilder::send_timeout) |
/// | `sendMsgMaxTimeoutPerRequest` (ms, negative: none) | [`send_msg_max_timeout_per_request`](ProducerConfigBuilder::send_msg_max_timeout_per_request) |
/// | `compressMsgBodyOverHowmuch` | [`compress_msg_body_over`](ProducerConfigBuilder::compress_msg_body_over) |
/// | `compressLevel` | [`compress_level`](ProducerConfigBuilder::compress_level) |
/// | `compressType` (`ZLIB`, `LZ4`, `ZSTD`) | [`compress_type`](ProducerConfigBuilder::compress_type) |
/// | `retryTimesWhenSendFailed` | [`retry_times_when_send_failed`](ProducerConfigBuilder::retry_times_when_send_failed) |
/// | `retryTimesWhenSendAsyncFailed` | [`retry_times_when_send_async_failed`](ProducerConfigBuilder::retry_times_when_send_async_failed) |
/// | `retryAnotherBrokerWhenNotStoreOK` | [`retry_another_broker_when_not_store_ok`](ProducerConfigBuilder::retry_another_broker_when_not_store_ok) |
/// | `maxMessageSize` | [`max_message_size`](ProducerConfigBuilder::max_message_size) |
/// | `defaultTopicQueueNums` | [`default_topic_queue_nums`](ProducerConfigBuilder::default_topic_queue_nums) |
/// | `createTopicKey` | [`create_topic_key`](ProducerConfigBuilder::create_topic_key) |
/// | `sendLatencyFaultEnable` | [`send_latency_fault_enable`](ProducerConfigBuilder::send_latency_fault_enable) |
/// | `vipChannelEnabled` | [`vip_channel_enabled`](ProducerConfigBuilder::vip_channel_enabled) |
/// | `pollNameServerInterval` (ms) | [`poll_name_server_interval`](ProducerConfigBuilder::poll_name_server_interval) |
/// | `heartbeatBrokerInterval` (ms) | [`heartbeat_broker_interval`](ProducerConfigBuilder::heartbeat_broker_interval) |
/// | `mqClientApiTimeout` (ms) | [`mq_client_api_timeout`](ProducerConfigBuilder::mq_client_api_timeout) |
/// | `backPressureForAsyncSendNum` | [`max_in_flight`](ProducerConfigBuilder::max_in_flight) |
/// | `backPressureForAsyncSendSize` | [`max_in_flight_bytes`](ProducerConfigBuilder::max_in_flight_bytes) |
/// | `enableTrace` | [`msg_trace`](ProducerConfigBuilder::msg_trace) |
/// | `traceTopic` | [`customized_trace_topic`](ProducerConfigBuilder::customized_trace_topic) |
///
/// Deserializes from any serde map (refusing unknown keys), or is built by
/// [`from_map`](Self::from_map). Range checks are left to
/// [`ProducerConfigBuilder::build`], as for the setters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JavaProducerProperties {
    /// `producerGroup`.
    pub producer_group: Option<String>,
    /// `namesrvAddr`: `host:port;host:port`.
    pub namesrv_addr: Option<String>,
    /// `instanceName`.
    pub instance_name: Option<String>,
    /// `unitName`.
    pub unit_name: Option<String>,
    /// `namespace`.
    pub namespace: Option<String>,
    /// `clientIP`.
    pub client_ip: Option<IpAddr>,
    /// `sendMsgTimeout`.
    pub send_msg_timeout: Option<Duration>,
    /// `sendMsgMaxTimeoutPerRequest`; `Some(None)` for a negative value (Java: no cap).
    pub send_msg_max_timeout_per_request: Option<Option<Duration>>,
    /// `compressMsgBodyOverHowmuch`.
    pub compress_msg_body_over_howmuch: Option<usize>,
    /// `compressLevel`.
    pub compress_level: Option<u32>,
    /// `compressType`.
    pub compress_type: Option<CompressionType>,
    /// `retryTimesWhenSendFailed`.
    pub retry_times_when_send_failed: Option<u32>,
    /// `retryTimesWhenSendAsyncFailed`.
    pub retry_times_when_send_async_failed: Option<u32>,
    /// `retryAnotherBrokerWhenNotStoreOK`.
    pub retry_another_broker_when_not_store_ok: Option<bool>,
    /// `maxMessageSize`.
    pub max_message_size: Option<usize>,
    /// `defaultTopicQueueNums`.
    pub default_topic_queue_nums: Option<i32>,
    /// `createTopicKey`.
    pub create_topic_key: Option<String>,
    /// `sendLatencyFaultEnable`.
    pub send_latency_fault_enable: Option<bool>,
    /// `vipChannelEnabled`.
    pub vip_channel_enabled: Option<bool>,
    /// `pollNameServerInterval`.
    pub poll_name_server_interval: Option<Duration>,
    /// `heartbeatBrokerInterval`.
    pub heartbeat_broker_interval: Option<Duration>,
    /// `mqClientApiTimeout`.
    pub mq_client_api_timeout: Option<Duration>,
    /// `backPressureForAsyncSendNum`.
    pub back_pressure_for_async_send_num: Option<usize>,
    /// `backPressureForAsyncSendSize`.
    pub back_pressure_for_async_send_size: Option<usize>,
    /// `enableTrace` (Java `ClientConfig`; the constructor's `enableMsgTrace`).
    pub enable_trace: Option<bool>,
    /// `traceTopic` (the constructor's `customizedTraceTopic`).
    pub trace_topic: Option<String>,
}

/// One value as a config format gives it: Java `.properties` files only have strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Str(String),
    // Kept so the error names the key rather than "no variant matched".
    Other(serde::de::IgnoredAny),
}

/// Parses a number (or a string, e.g. an address) as a `T` for `key`, with an error naming the key.
fn parse<T: FromStr>(key: &str, raw: &Raw, expected: &str) -> Result<T, String> {
    let text = match raw {
        Raw::Int(i) => i.to_string(),
        Raw::UInt(u) => u.to_string(),
        Raw::Str(s) => s.trim().to_owned(),
        // A boolean is not a number, even where Java would print one.
        Raw::Bool(_) | Raw::Other(_) => String::new(),
    };
    text.parse()
        .map_err(|_| format!("property `{key}` must be {expected}"))
}

/// A boolean, or its text in any case (Java `Boolean.parseBoolean`, but strict).
fn boolean(key: &str, raw: &Raw) -> Result<bool, String> {
    match raw {
        Raw::Bool(b) => Ok(*b),
        Raw::Str(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Raw::Str(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(format!("property `{key}` must be true or false")),
    }
}

const COUNT: &str = "a non-negative integer";
const MILLIS: &str = "a duration in milliseconds (a non-negative integer)";
const TEXT: &str = "a string";

fn millis(key: &str, raw: &Raw) -> Result<Duration, String> {
    parse::<u64>(key, raw, MILLIS).map(Duration::from_millis)
}

fn text(key: &str, raw: &Raw) -> Result<String, String> {
    match raw {
        Raw::Str(s) => Ok(s.clone()),
        _ => Err(format!("property `{key}` must be {TEXT}")),
    }
}

impl JavaProducerProperties {
    /// Reads `(key, value)` pairs, e.g. a `HashMap<String, String>` of a
    /// `.properties` file or a `serde_json::Map`.
    ///
    /// ```
    /// use actix_rocketmq::producer::java_properties::JavaProducerProperties;
    /// let p = JavaProducerProperties::from_map([("sendMsgTimeout", serde_json::json!(800))])?;
    /// assert_eq!(p.send_msg_timeout, Some(std::time::Duration::from_millis(800)));
    /// let err = JavaProducerProperties::from_map([("sendMsgTimeOut", "800")]).unwrap_err();
    /// assert!(err.to_string().contains("sendMsgTimeOut"));
    /// # Ok::<(), actix_rocketmq::Error>(())
    /// ```
    pub fn from_map<K, V>(map: impl IntoIterator<Item = (K, V)>) -> Result<Self, Error>
    where
        K: Into<String>,
        V: Into<serde_json::Value>,
    {
        let object: serde_json::Map<String, serde_json::Value> =
            map.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let raw = BTreeMap::<String, Raw>::deserialize(serde_json::Value::Object(object))
            .map_err(|e| Error::config(e.to_string()))?;
        Self::from_raw(raw).map_err(Error::config)
    }

    fn from_raw(raw: BTreeMap<String, Raw>) -> Result<Self, String> {
        let mut p = JavaProducerProperties::default();
        for (key, v) in &raw {
            let k = key.as_str();
            match k {
                "producerGroup" => p.producer_group = Some(text(k, v)?),
                "namesrvAddr" => p.namesrv_addr = Some(text(k, v)?),
                "instanceName" => p.instance_name = Some(text(k, v)?),
                "unitName" => p.unit_name = Some(text(k, v)?),
                "namespace" => p.namespace = Some(text(k, v)?),
                "clientIP" => p.client_ip = Some(parse(k, v, "an IP address")?),
                "sendMsgTimeout" => p.send_msg_timeout = Some(millis(k, v)?),
                "sendMsgMaxTimeoutPerRequest" => {
                    let ms: i64 = parse(k, v, "a duration in milliseconds")?;
                    // Java's default -1: no cap.
                    p.send_msg_max_timeout_per_request =
                        Some(u64::try_from(ms).ok().map(Duration::from_millis));
                }
                "compressMsgBodyOverHowmuch" => {
                    p.compress_msg_body_over_howmuch = Some(parse(k, v, COUNT)?)
                }
                "compressLevel" => p.compress_level = Some(parse(k, v, COUNT)?),
                "compressType" => p.compress_type = Some(parse(k, v, "ZLIB, LZ4 or ZSTD")?),
                "retryTimesWhenSendFailed" => {
                    p.retry_times_when_send_failed = Some(parse(k, v, COUNT)?)
                }
                "retryTimesWhenSendAsyncFailed" => {
                    p.retry_times_when_send_async_failed = Some(parse(k, v, COUNT)?)
                }
                "retryAnotherBrokerWhenNotStoreOK" => {
                    p.retry_another_broker_when_not_store_ok = Some(boolean(k, v)?)
                }
                "maxMessageSize" => p.max_message_size = Some(parse(k, v, COUNT)?),
                "defaultTopicQueueNums" => {
                    p.default_topic_queue_nums = Some(parse(k, v, "an integer")?)
                }
                "createTopicKey" => p.create_topic_key = Some(text(k, v)?),
                "sendLatencyFaultEnable" => p.send_latency_fault_enable = Some(boolean(k, v)?),
                "vipChannelEnabled" => p.vip_channel_enabled = Some(boolean(k, v)?),
                "pollNameServerInterval" => p.poll_name_server_interval = Some(millis(k, v)?),
                "heartbeatBrokerInterval" => p.heartbeat_broker_interval = Some(millis(k, v)?),
                "mqClientApiTimeout" => p.mq_client_api_timeout = Some(millis(k, v)?),
                "backPressureForAsyncSendNum" => {
                    p.back_pressure_for_async_send_num = Some(parse(k, v, COUNT)?)
                }
                "backPressureForAsyncSendSize" => {
                    p.back_pressure_for_async_send_size = Some(parse(k, v, COUNT)?)
                }
                "enableTrace" => p.enable_trace = Some(boolean(k, v)?),
                "traceTopic" => p.trace_topic = Some(text(k, v)?),
                _ => {
                    return Err(format!(
                        "unknown property `{key}`; known: {}",
                        KNOWN_KEYS.join(", ")
                    ));
                }
            }
        }
        Ok(p)
    }
}

/// Every key [`JavaProducerProperties`] reads.
pub const KNOWN_KEYS: &[&str] = &[
    "producerGroup",
    "namesrvAddr",
    "instanceName",
    "unitName",
    "namespace",
    "clientIP",
    "sendMsgTimeout",
    "sendMsgMaxTimeoutPerRequest",
    "compressMsgBodyOverHowmuch",
    "compressLevel",
    "compressType",
    "retryTimesWhenSendFailed",
    "retryTimesWhenSendAsyncFailed",
    "retryAnotherBrokerWhenNotStoreOK",
    "maxMessageSize",
    "defaultTopicQueueNums",
    "createTopicKey",
    "sendLatencyFaultEnable",
    "vipChannelEnabled",
    "pollNameServerInterval",
    "heartbeatBrokerInterval",
    "mqClientApiTimeout",
    "backPressureForAsyncSendNum",
    "backPressureForAsyncSendSize",
    "enableTrace",
    "traceTopic",
];

impl<'de> Deserialize<'de> for JavaProducerProperties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, Raw>::deserialize(d)?;
        Self::from_raw(raw).map_err(serde::de::Error::custom)
    }
}

impl ProducerConfig {
    /// A builder from Java property names (see [`JavaProducerProperties`]);
    /// `producerGroup` is required. Add hooks, a checker or TLS, then `build()`.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use actix_rocketmq::{ErrorKind, ProducerConfig};
    /// let props: HashMap<String, String> = [
    ///     ("producerGroup".to_owned(), "orders".to_owned()),
    ///     ("backPressureForAsyncSendNum".to_owned(), "500".to_owned()),
    /// ].into();
    /// let config = ProducerConfig::from_java_properties(props)?.build()?;
    /// assert_eq!(config.max_in_flight(), 500);
    /// let err = ProducerConfig::from_java_properties([("namesrvAddr", "a:1")]).unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::Config(m) if m.contains("producerGroup")));
    /// # Ok::<(), actix_rocketmq::Error>(())
    /// ```
    pub fn from_java_properties<K, V>(
        map: impl IntoIterator<Item = (K, V)>,
    ) -> Result<ProducerConfigBuilder, Error>
    where
        K: Into<String>,
        V: Into<serde_json::Value>,
    {
        let props = JavaProducerProperties::from_map(map)?;
        let group = props
            .producer_group
            .clone()
            .ok_or_else(|| Error::config("property `producerGroup` is required"))?;
        Ok(ProducerConfig::builder(group).apply(props))
    }
}

impl ProducerConfigBuilder {
    /// Sets every property that `props` has; the others keep their values.
    ///
    /// ```
    /// use actix_rocketmq::ProducerConfig;
    /// use actix_rocketmq::producer::java_properties::JavaProducerProperties;
    /// let mut props = JavaProducerProperties::default();
    /// props.vip_channel_enabled = Some(true);
    /// let c = ProducerConfig::builder("g").apply(props).build()?;
    /// assert!(c.vip_channel_enabled() && c.send_timeout().as_secs() == 3);
    /// # Ok::<(), actix_rocketmq::Error>(())
    /// ```
    pub fn apply(mut self, props: JavaProducerProperties) -> Self {
        let p = props;
        if let Some(v) = p.producer_group {
            self = self.producer_group(v);
        }
        if let Some(v) = p.namesrv_addr {
            // Java's setNamesrvAddr replaces the list.
            self = self.clear_namesrv_addrs().namesrv_addr(&v);
        }
        if let Some(v) = p.instance_name {
            self = self.instance_name(v);
        }
        if let Some(v) = p.unit_name {
            self = self.unit_name(v);
        }
        if let Some(v) = p.namespace {
            self = self.namespace(v);
        }
        if let Some(v) = p.client_ip {
            self = self.client_ip(v);
        }
        if let Some(v) = p.send_msg_timeout {
            self = self.send_timeout(v);
        }
        if let Some(v) = p.send_msg_max_timeout_per_request {
            self = self.send_msg_max_timeout_per_request_opt(v);
        }
        if let Some(v) = p.compress_msg_body_over_howmuch {
            self = self.compress_msg_body_over(v);
        }
        if let Some(v) = p.compress_level {
            self = self.compress_level(v);
        }
        if let Some(v) = p.compress_type {
            self = self.compress_type(v);
        }
        if let Some(v) = p.retry_times_when_send_failed {
            self = self.retry_times_when_send_failed(v);
        }
        if let Some(v) = p.retry_times_when_send_async_failed {
            self = self.retry_times_when_send_async_failed(v);
        }
        if let Some(v) = p.retry_another_broker_when_not_store_ok {
            self = self.retry_another_broker_when_not_store_ok(v);
        }
        if let Some(v) = p.max_message_size {
            self = self.max_message_size(v);
        }
        if let Some(v) = p.default_topic_queue_nums {
            self = self.default_topic_queue_nums(v);
        }
        if let Some(v) = p.create_topic_key {
            self = self.create_topic_key(v);
        }
        if let Some(v) = p.send_latency_fault_enable {
            self = self.send_latency_fault_enable(v);
        }
        if let Some(v) = p.vip_channel_enabled {
            self = self.vip_channel_enabled(v);
        }
        if let Some(v) = p.poll_name_server_interval {
            self = self.poll_name_server_interval(v);
        }
        if let Some(v) = p.heartbeat_broker_interval {
            self = self.heartbeat_broker_interval(v);
        }
        if let Some(v) = p.mq_client_api_timeout {
            self = self.mq_client_api_timeout(v);
        }
        if let Some(v) = p.back_pressure_for_async_send_num {
            self = self.max_in_flight(v);
        }
        if let Some(v) = p.back_pressure_for_async_send_size {
            self = self.max_in_flight_bytes(v);
        }
        if let Some(v) = p.enable_trace {
            self = self.msg_trace(v);
        }
        if let Some(v) = p.trace_topic {
            self = self.customized_trace_topic(v);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    fn config_error(e: Error) -> String {
        match e.into_kind() {
            ErrorKind::Config(m) => m,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn every_java_key_reaches_its_setting() {
        let map = json!({
            "producerGroup": "orders",
            "namesrvAddr": "10.0.0.1:9876;10.0.0.2:9876",
            "instanceName": "app1",
            "unitName": "u1",
            "namespace": "ns1",
            "clientIP": "10.0.0.7",
            "sendMsgTimeout": 5000,
            "sendMsgMaxTimeoutPerRequest": 1500,
            "compressMsgBodyOverHowmuch": 8192,
            "compressLevel": 9,
            "compressType": "zstd",
            "retryTimesWhenSendFailed": 4,
            "retryTimesWhenSendAsyncFailed": 1,
            "retryAnotherBrokerWhenNotStoreOK": true,
            "maxMessageSize": 1048576,
            "defaultTopicQueueNums": 8,
            "createTopicKey": "AUTO",
            "sendLatencyFaultEnable": true,
            "vipChannelEnabled": true,
            "pollNameServerInterval": 10000,
            "heartbeatBrokerInterval": 20000,
            "mqClientApiTimeout": 2500,
            "backPressureForAsyncSendNum": 500,
            "backPressureForAsyncSendSize": 1048576,
            "enableTrace": true,
            "traceTopic": "MyTrace"
        });
        let serde_json::Value::Object(map) = map else {
            unreachable!()
        };
        assert_eq!(map.len(), KNOWN_KEYS.len(), "the test covers every key");
        let c = ProducerConfig::from_java_properties(map)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(c.producer_group(), "orders");
        assert_eq!(c.namesrv_addrs(), ["10.0.0.1:9876", "10.0.0.2:9876"]);
        assert_eq!(c.instance_name(), "app1");
        assert_eq!(c.unit_name(), Some("u1"));
        assert_eq!(c.namespace(), Some("ns1"));
        assert_eq!(c.client_id(), "10.0.0.7@app1@u1");
        assert_eq!(c.send_timeout(), Duration::from_millis(5000));
        assert_eq!(
            c.send_msg_max_timeout_per_request(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(c.compress_msg_body_over(), 8192);
        assert_eq!(c.compress_level(), 9);
        assert_eq!(c.compress_type(), CompressionType::Zstd);
        assert_eq!(c.retry_times_when_send_failed(), 4);
        assert_eq!(c.retry_times_when_send_async_failed(), 1);
        assert!(c.retry_another_broker_when_not_store_ok());
        assert_eq!(c.max_message_size(), 1 << 20);
        assert_eq!(c.default_topic_queue_nums(), 8);
        assert_eq!(c.create_topic_key(), "AUTO");
        assert!(c.send_latency_fault_enable());
        assert!(c.vip_channel_enabled());
        assert_eq!(c.poll_name_server_interval(), Duration::from_secs(10));
        assert_eq!(c.heartbeat_broker_interval(), Duration::from_secs(20));
        assert_eq!(c.mq_client_api_timeout(), Duration::from_millis(2500));
        assert_eq!(c.max_in_flight(), 500);
        assert_eq!(c.max_in_flight_bytes(), 1 << 20);
        assert!(c.msg_trace_enabled());
        assert_eq!(c.trace_topic(), "MyTrace");
    }

    #[test]
    fn strings_as_in_a_properties_file_work() {
        let props = [
            ("producerGroup", "orders"),
            ("sendMsgTimeout", " 800 "),
            ("vipChannelEnabled", "TRUE"),
            ("sendMsgMaxTimeoutPerRequest", "-1"),
            ("backPressureForAsyncSendSize", "4096"),
        ];
        let c = ProducerConfig::from_java_properties(props)
            .unwrap()
            .send_msg_max_timeout_per_request(Duration::from_secs(1))
            .build()
            .unwrap();
        assert_eq!(c.send_timeout(), Duration::from_millis(800));
        assert!(c.vip_channel_enabled());
        assert_eq!(c.max_in_flight_bytes(), 4096);
        // The setter after the properties wins over Java's -1 (no cap).
        assert_eq!(
            c.send_msg_max_timeout_per_request(),
            Some(Duration::from_secs(1))
        );
        let p = JavaProducerProperties::from_map([("sendMsgMaxTimeoutPerRequest", "-1")]).unwrap();
        assert_eq!(p.send_msg_max_timeout_per_request, Some(None));
        let c = ProducerConfig::builder("g")
            .send_msg_max_timeout_per_request(Duration::from_secs(1))
            .apply(p)
            .build()
            .unwrap();
        assert_eq!(c.send_msg_max_timeout_per_request(), None);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let m = config_error(
            ProducerConfig::from_java_properties([("producerGroup", "g"), ("sendMsgTimeOut", "1")])
                .unwrap_err(),
        );
        assert!(m.contains("`sendMsgTimeOut`"), "{m}");
        for (key, value) in [
            ("sendMsgTimeout", json!("3s")),
            ("sendMsgTimeout", json!(-5)),
            ("sendMsgTimeout", json!(1.5)),
            ("vipChannelEnabled", json!("yes")),
            ("vipChannelEnabled", json!(1)),
            ("retryTimesWhenSendFailed", json!(true)),
            ("namesrvAddr", json!(9876)),
            ("clientIP", json!("host.example")),
            ("compressLevel", json!([1])),
            ("compressType", json!("snappy")),
            ("compressType", json!(3)),
        ] {
            let m =
                config_error(JavaProducerProperties::from_map([(key, value.clone())]).unwrap_err());
            assert!(m.contains(&format!("`{key}`")), "{key}={value}: {m}");
        }
        // Range checks stay with build(), as for the setters.
        let b =
            ProducerConfig::from_java_properties([("producerGroup", "g"), ("compressLevel", "10")])
                .unwrap();
        assert!(matches!(
            b.build().unwrap_err().kind(),
            ErrorKind::Config(_)
        ));
    }

    #[test]
    fn deserializes_as_part_of_a_bigger_config() {
        #[derive(Deserialize)]
        struct App {
            rocketmq: JavaProducerProperties,
        }
        let app: App = serde_json::from_str(
            r#"{"rocketmq": {"producerGroup": "g", "retryTimesWhenSendFailed": "0"}}"#,
        )
        .unwrap();
        assert_eq!(app.rocketmq.retry_times_when_send_failed, Some(0));
        let err = serde_json::from_str::<App>(r#"{"rocketmq": {"bogusKey": 1}}"#)
            .err()
            .unwrap();
        assert!(err.to_string().contains("`bogusKey`"), "{err}");
    }
}
