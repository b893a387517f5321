//! Producer configuration with the Java `DefaultMQProducer`/`ClientConfig`
//! defaults, the client id, and the namespace rules (Java `NamespaceUtil`).
//!
//! ```
//! use std::time::Duration;
//! use actix_rocketmq::producer::config::ProducerConfig;
//!
//! let config = ProducerConfig::builder("my_group")
//!     .namesrv_addr("127.0.0.1:9876")
//!     .send_timeout(Duration::from_secs(5))
//!     .build()?;
//! assert_eq!(config.send_timeout(), Duration::from_secs(5));
//! assert_eq!(config.retry_times_when_send_failed(), 2);
//! # Ok::<(), actix_rocketmq::error::Error>(())
//! ```
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;
use crate::protocol::SerializeType;
use crate::protocol::response_code as rc;
use crate::protocol::validation::{
    self, CLIENT_INNER_PRODUCER_GROUP, DLQ_TOPIC_PREFIX, RETRY_TOPIC_PREFIX, is_legal_name,
    is_system_topic,
};
use crate::runtime::RouteError;

use super::hooks::{CheckForbiddenHook, SendHook, SendHooks};
use super::transaction::TransactionChecker;
use crate::protocol::acl::AclCredentials;
use crate::runtime::TlsConfig;

/// The Java default instance name, replaced by `pid#nanos` when a producer starts.
pub const DEFAULT_INSTANCE_NAME: &str = "DEFAULT";
/// Environment variable holding the name server list when none is configured.
pub const NAMESRV_ADDR_ENV: &str = "NAMESRV_ADDR";
/// Environment variable overriding the client IP (default: this host's outgoing address).
pub const CLIENT_IP_ENV: &str = "ROCKETMQ_CLIENT_IP";
/// The topic whose route is used for auto-created topics.
pub const DEFAULT_CREATE_TOPIC_KEY: &str = "TBW102";
/// Prefix of system consumer groups, which are never namespaced.
pub const SYSTEM_GROUP_PREFIX: &str = "CID_RMQ_SYS_";
/// Separator between a namespace and a resource name.
pub const NAMESPACE_SEPARATOR: char = '%';

/// Broker codes the Java sync producer (5.3.1+) retries on another broker.
///
/// ```
/// use actix_rocketmq::producer::config::DEFAULT_RETRY_RESPONSE_CODES;
/// assert!(DEFAULT_RETRY_RESPONSE_CODES.contains(&17)); // TOPIC_NOT_EXIST
/// ```
pub const DEFAULT_RETRY_RESPONSE_CODES: &[i32] = &[
    rc::TOPIC_NOT_EXIST,
    rc::SERVICE_NOT_AVAILABLE,
    rc::SYSTEM_ERROR,
    rc::NO_PERMISSION,
    rc::NO_BUYER_ID,
    rc::NOT_IN_CURRENT_UNIT,
    rc::SYSTEM_BUSY,
    rc::GO_AWAY,
];

/// A validated producer configuration. Build it with [`ProducerConfig::builder`].
///
/// Defaults follow the Java client: 3 s send timeout, 2 retries, compression
/// above 4 KiB at level 5, 4 MiB messages, fault tolerance off, VIP channel off,
/// 30 s route polling and heartbeats.
///
/// ```
/// use actix_rocketmq::producer::config::ProducerConfig;
/// let c = ProducerConfig::builder("orders").namesrv_addr("10.0.0.1:9876;10.0.0.2:9876").build()?;
/// assert_eq!(c.namesrv_addrs(), ["10.0.0.1:9876", "10.0.0.2:9876"]);
/// assert!(c.client_id().starts_with(&format!("{}@", c.client_ip())));
/// # Ok::<(), actix_rocketmq::error::Error>(())
/// ```
#[derive(Clone)]
pub struct ProducerConfig {
    producer_group: String,
    namesrv_addrs: Vec<String>,
    instance_name: String,
    unit_name: Option<String>,
    namespace: Option<String>,
    client_ip: IpAddr,
    send_timeout: Duration,
    compress_msg_body_over: usize,
    compress_level: u32,
    retry_times_when_send_failed: u32,
    retry_times_when_send_async_failed: u32,
    retry_another_broker_when_not_store_ok: bool,
    max_message_size: usize,
    default_topic_queue_nums: i32,
    create_topic_key: String,
    send_latency_fault_enable: bool,
    vip_channel_enabled: bool,
    max_in_flight: usize,
    max_in_flight_bytes: usize,
    send_msg_max_timeout_per_request: Option<Duration>,
    retry_response_codes: BTreeSet<i32>,
    serialize_type: SerializeType,
    poll_name_server_interval: Duration,
    heartbeat_broker_interval: Duration,
    mq_client_api_timeout: Duration,
    connect_timeout: Duration,
    connection_arbiter: bool,
    hooks: SendHooks,
    transaction_checker: Option<Arc<dyn TransactionChecker>>,
    acl_credentials: Option<AclCredentials>,
    tls: Option<TlsConfig>,
}

impl fmt::Debug for ProducerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProducerConfig")
            .field("producer_group", &self.producer_group)
            .field("namesrv_addrs", &self.namesrv_addrs)
            .field("instance_name", &self.instance_name)
            .field("unit_name", &self.unit_name)
            .field("namespace", &self.namespace)
            .field("client_ip", &self.client_ip)
            .field("send_timeout", &self.send_timeout)
            .field("compress_msg_body_over", &self.compress_msg_body_over)
            .field("compress_level", &self.compress_level)
            .field(
                "retry_times_when_send_failed",
                &self.retry_times_when_send_failed,
            )
            .field(
                "retry_times_when_send_async_failed",
                &self.retry_times_when_send_async_failed,
            )
            .field(
                "retry_another_broker_when_not_store_ok",
                &self.retry_another_broker_when_not_store_ok,
            )
            .field("max_message_size", &self.max_message_size)
            .field("default_topic_queue_nums", &self.default_topic_queue_nums)
            .field("create_topic_key", &self.create_topic_key)
            .field("send_latency_fault_enable", &self.send_latency_fault_enable)
            .field("vip_channel_enabled", &self.vip_channel_enabled)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_in_flight_bytes", &self.max_in_flight_bytes)
            .field(
                "send_msg_max_timeout_per_request",
                &self.send_msg_max_timeout_per_request,
            )
            .field("retry_response_codes", &self.retry_response_codes)
            .field("serialize_type", &self.serialize_type)
            .field("poll_name_server_interval", &self.poll_name_server_interval)
            .field("heartbeat_broker_interval", &self.heartbeat_broker_interval)
            .field("mq_client_api_timeout", &self.mq_client_api_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("connection_arbiter", &self.connection_arbiter)
            .field("hooks", &self.hooks)
            .field("transaction_checker", &self.transaction_checker.is_some())
            .field("acl_credentials", &self.acl_credentials)
            .field("tls", &self.tls)
            .finish()
    }
}

impl ProducerConfig {
    /// Starts a builder for producer group `group`, with every other setting at its default.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.producer_group(), "g");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn builder(group: impl Into<String>) -> ProducerConfigBuilder {
        ProducerConfigBuilder::new(group.into())
    }

    /// The producer group as configured (without namespace).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").namespace("ns").build()?;
    /// assert_eq!(c.producer_group(), "g");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn producer_group(&self) -> &str {
        &self.producer_group
    }

    /// The producer group as sent to brokers: `namespace%group` when a namespace is set.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").namespace("ns").build()?;
    /// assert_eq!(c.wrapped_group(), "ns%g");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn wrapped_group(&self) -> Cow<'_, str> {
        self.wrap(&self.producer_group)
    }

    /// Name server addresses as configured (`host:port` each); may be empty.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").namesrv_addr("a:1;b:2").build()?;
    /// assert_eq!(c.namesrv_addrs().len(), 2);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn namesrv_addrs(&self) -> &[String] {
        &self.namesrv_addrs
    }

    /// The name servers to use at start: the configured ones, else those of
    /// the `NAMESRV_ADDR` environment variable; none at all is
    /// [`RouteError::NoNameServer`] (Java client error 10004).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").namesrv_addr("a:1").build()?;
    /// assert_eq!(c.resolved_namesrv_addrs()?, ["a:1"]);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn resolved_namesrv_addrs(&self) -> Result<Vec<String>, Error> {
        resolve_namesrv_addrs(
            &self.namesrv_addrs,
            std::env::var(NAMESRV_ADDR_ENV).ok().as_deref(),
        )
    }

    /// The instance name; `DEFAULT` was replaced by `pid#nanos` when the config was built.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert!(c.instance_name().contains('#'));
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn instance_name(&self) -> &str {
        &self.instance_name
    }

    /// The unit name appended to the client id, if any.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").unit_name("u1").build()?;
    /// assert_eq!(c.unit_name(), Some("u1"));
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn unit_name(&self) -> Option<&str> {
        self.unit_name.as_deref()
    }

    /// The namespace prefixed to topics and the group, if any.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.namespace(), None);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The client IP: set on the builder, else `ROCKETMQ_CLIENT_IP`, else this
    /// host's outgoing address (see [`local_address`]), else 127.0.0.1.
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7));
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").client_ip(ip).build()?;
    /// assert_eq!(c.client_ip(), ip);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn client_ip(&self) -> IpAddr {
        self.client_ip
    }

    /// The client id, `ip@instanceName[@unitName]`, that keys the client instance and heartbeats.
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g")
    ///     .client_ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)))
    ///     .instance_name("app1")
    ///     .unit_name("u1")
    ///     .build()?;
    /// assert_eq!(c.client_id(), "10.0.0.7@app1@u1");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn client_id(&self) -> String {
        build_client_id(self.client_ip, &self.instance_name, self.unit_name())
    }

    /// The whole time budget of one send, retries included (Java `sendMsgTimeout`, 3 s).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.send_timeout(), std::time::Duration::from_secs(3));
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn send_timeout(&self) -> Duration {
        self.send_timeout
    }

    /// Bodies of at least this many bytes are compressed (4096); `usize::MAX` disables it.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.compress_msg_body_over(), 4096);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn compress_msg_body_over(&self) -> usize {
        self.compress_msg_body_over
    }

    /// Zlib level 0..=9 (5).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.compress_level(), 5);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn compress_level(&self) -> u32 {
        self.compress_level
    }

    /// Extra attempts of a sync send (2, so 3 attempts in all).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.retry_times_when_send_failed(), 2);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_times_when_send_failed(&self) -> u32 {
        self.retry_times_when_send_failed
    }

    /// Attempts a sync send may make: `1 + retry_times_when_send_failed`.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.sync_attempts(), 3);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn sync_attempts(&self) -> u32 {
        self.retry_times_when_send_failed.saturating_add(1)
    }

    /// Re-sends of an async send after a network failure or timeout (2): the
    /// Java setting, kept so configs carry over. Here an async send is the same
    /// `SendMessage` awaited later (or delivered with `notify`), so it follows
    /// the sync rules of [`Self::retry_times_when_send_failed`], which retry on
    /// more failures and on another broker; this value is not consulted.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.retry_times_when_send_async_failed(), 2);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_times_when_send_async_failed(&self) -> u32 {
        self.retry_times_when_send_async_failed
    }

    /// Whether a sync send that was stored with a warning (codes 10/11/12) is retried (false).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert!(!c.retry_another_broker_when_not_store_ok());
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_another_broker_when_not_store_ok(&self) -> bool {
        self.retry_another_broker_when_not_store_ok
    }

    /// Largest body accepted, in bytes (4 MiB).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.max_message_size(), 4 * 1024 * 1024);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Queues of an auto-created topic (4).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.default_topic_queue_nums(), 4);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn default_topic_queue_nums(&self) -> i32 {
        self.default_topic_queue_nums
    }

    /// The topic whose route serves auto-created topics (`TBW102`).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.create_topic_key(), "TBW102");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn create_topic_key(&self) -> &str {
        &self.create_topic_key
    }

    /// Whether the latency fault-tolerance table steers queue selection (false).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert!(!c.send_latency_fault_enable());
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn send_latency_fault_enable(&self) -> bool {
        self.send_latency_fault_enable
    }

    /// Whether sends go to the broker's VIP port (port − 2) (false).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert!(!c.vip_channel_enabled());
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn vip_channel_enabled(&self) -> bool {
        self.vip_channel_enabled
    }

    /// Most sends in flight at once (10 000).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.max_in_flight(), 10_000);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Most body bytes in flight at once (100 MiB, the Java
    /// `backPressureForAsyncSendSize` default).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.max_in_flight_bytes(), 100 * 1024 * 1024);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn max_in_flight_bytes(&self) -> usize {
        self.max_in_flight_bytes
    }

    /// Cap on one attempt's timeout while retries remain (Java 5.3.3
    /// `sendMsgMaxTimeoutPerRequest`); `None` (the Java default −1) means no
    /// cap: each attempt may use all the time left.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.send_msg_max_timeout_per_request(), None);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn send_msg_max_timeout_per_request(&self) -> Option<Duration> {
        self.send_msg_max_timeout_per_request
    }

    /// The timeout of one attempt: the time `remaining` in the budget, capped
    /// by `send_msg_max_timeout_per_request` unless this is the last attempt.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g")
    ///     .send_msg_max_timeout_per_request(Duration::from_millis(500))
    ///     .build()?;
    /// assert_eq!(c.attempt_timeout(Duration::from_secs(3), false), Duration::from_millis(500));
    /// assert_eq!(c.attempt_timeout(Duration::from_secs(3), true), Duration::from_secs(3));
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn attempt_timeout(&self, remaining: Duration, last_attempt: bool) -> Duration {
        match self.send_msg_max_timeout_per_request {
            Some(cap) if !last_attempt => remaining.min(cap),
            _ => remaining,
        }
    }

    /// Broker codes on which a sync send is retried on another broker.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.retry_response_codes().len(), 8);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_response_codes(&self) -> &BTreeSet<i32> {
        &self.retry_response_codes
    }

    /// Whether broker code `code` is retried by sync sends.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert!(c.is_retry_response_code(14) && !c.is_retry_response_code(13));
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn is_retry_response_code(&self, code: i32) -> bool {
        self.retry_response_codes.contains(&code)
    }

    /// Header serialization of requests: the compact ROCKETMQ binary form by
    /// default (`benches/codec.rs`: about 3x cheaper to encode than JSON; Java
    /// and RocketMQ-Rust servers accept both, and replies are decoded in either).
    ///
    /// ```
    /// use actix_rocketmq::protocol::SerializeType;
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.serialize_type(), SerializeType::RocketMq);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn serialize_type(&self) -> SerializeType {
        self.serialize_type
    }

    /// How often routes are re-fetched (30 s).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.poll_name_server_interval().as_secs(), 30);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn poll_name_server_interval(&self) -> Duration {
        self.poll_name_server_interval
    }

    /// How often brokers get a heartbeat (30 s).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.heartbeat_broker_interval().as_secs(), 30);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn heartbeat_broker_interval(&self) -> Duration {
        self.heartbeat_broker_interval
    }

    /// Timeout of route, heartbeat and unregister requests (3 s).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.mq_client_api_timeout().as_secs(), 3);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn mq_client_api_timeout(&self) -> Duration {
        self.mq_client_api_timeout
    }

    /// Timeout of opening a TCP connection (3 s).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.connect_timeout().as_secs(), 3);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Whether broker connections run on an arbiter (thread) of their own (default false).
    pub fn connection_arbiter(&self) -> bool {
        self.connection_arbiter
    }

    /// The send and forbidden-check hooks, in registration order.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert!(c.hooks().is_empty());
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn hooks(&self) -> &SendHooks {
        &self.hooks
    }

    /// How connections speak TLS, if they do.
    pub fn tls(&self) -> Option<&TlsConfig> {
        self.tls.as_ref()
    }

    /// The identity every request is signed with (ACL), if any.
    pub fn acl_credentials(&self) -> Option<&AclCredentials> {
        self.acl_credentials.as_ref()
    }

    /// What answers the brokers' transaction checks; transactional sends need one.
    pub fn transaction_checker(&self) -> Option<&Arc<dyn TransactionChecker>> {
        self.transaction_checker.as_ref()
    }

    /// `resource` with this config's namespace, by [`wrap_namespace`].
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").namespace("ns").build()?;
    /// assert_eq!(c.wrap("T"), "ns%T");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn wrap<'a>(&self, resource: &'a str) -> Cow<'a, str> {
        wrap_namespace(self.namespace().unwrap_or(""), resource)
    }

    /// `resource` without this config's namespace, by [`strip_namespace`].
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").namespace("ns").build()?;
    /// assert_eq!(c.strip("ns%T"), "T");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn strip<'a>(&self, resource: &'a str) -> Cow<'a, str> {
        strip_namespace(self.namespace().unwrap_or(""), resource)
    }
}

/// Builds a [`ProducerConfig`]; every setter is optional, [`build`](Self::build) validates.
///
/// ```
/// use std::time::Duration;
/// use actix_rocketmq::producer::config::ProducerConfig;
/// let c = ProducerConfig::builder("g")
///     .retry_times_when_send_failed(4)
///     .send_latency_fault_enable(true)
///     .max_in_flight(100)
///     .build()?;
/// assert_eq!(c.sync_attempts(), 5);
/// # Ok::<(), actix_rocketmq::error::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProducerConfigBuilder {
    config: ProducerConfig,
    client_ip: Option<IpAddr>,
    // Problems met by infallible setters, reported by build().
    errors: Vec<String>,
}

impl ProducerConfigBuilder {
    fn new(group: String) -> Self {
        ProducerConfigBuilder {
            config: ProducerConfig {
                producer_group: group,
                namesrv_addrs: Vec::new(),
                instance_name: DEFAULT_INSTANCE_NAME.to_owned(),
                unit_name: None,
                namespace: None,
                client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                send_timeout: Duration::from_secs(3),
                compress_msg_body_over: 4096,
                compress_level: 5,
                retry_times_when_send_failed: 2,
                retry_times_when_send_async_failed: 2,
                retry_another_broker_when_not_store_ok: false,
                max_message_size: validation::DEFAULT_MAX_MESSAGE_SIZE,
                default_topic_queue_nums: 4,
                create_topic_key: DEFAULT_CREATE_TOPIC_KEY.to_owned(),
                send_latency_fault_enable: false,
                vip_channel_enabled: false,
                max_in_flight: 10_000,
                max_in_flight_bytes: 100 * 1024 * 1024,
                send_msg_max_timeout_per_request: None,
                retry_response_codes: DEFAULT_RETRY_RESPONSE_CODES.iter().copied().collect(),
                serialize_type: SerializeType::RocketMq,
                poll_name_server_interval: Duration::from_secs(30),
                heartbeat_broker_interval: Duration::from_secs(30),
                mq_client_api_timeout: Duration::from_secs(3),
                connect_timeout: Duration::from_secs(3),
                connection_arbiter: false,
                hooks: SendHooks::default(),
                transaction_checker: None,
                acl_credentials: None,
                tls: None,
            },
            client_ip: None,
            errors: Vec::new(),
        }
    }

    /// Adds name servers from a `host:port;host:port` list (may be called repeatedly).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g")
    ///     .namesrv_addr("a:9876; b:9876")
    ///     .namesrv_addr("c:9876")
    ///     .build()?;
    /// assert_eq!(c.namesrv_addrs(), ["a:9876", "b:9876", "c:9876"]);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn namesrv_addr(mut self, addrs: &str) -> Self {
        match parse_namesrv_addrs(addrs) {
            Ok(list) => self.config.namesrv_addrs.extend(list),
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// Sets the instance name (default `DEFAULT`, which becomes `pid#nanos`).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").instance_name("x").build()?;
    /// assert_eq!(c.instance_name(), "x");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn instance_name(mut self, name: impl Into<String>) -> Self {
        self.config.instance_name = name.into();
        self
    }

    /// Sets the unit name (blank means none).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").unit_name(" ").build()?;
    /// assert_eq!(c.unit_name(), None);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn unit_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.config.unit_name = (!name.trim().is_empty()).then_some(name);
        self
    }

    /// Sets the namespace (empty means none); letters, digits, `_`, `-`, `|` only.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").namespace("MQ_INST_1").build()?;
    /// assert_eq!(c.namespace(), Some("MQ_INST_1"));
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        let ns = namespace.into();
        self.config.namespace = (!ns.is_empty()).then_some(ns);
        self
    }

    /// Replaces the producer group (for Java properties naming one).
    #[cfg(feature = "serde")]
    pub(crate) fn producer_group(mut self, group: String) -> Self {
        self.config.producer_group = group;
        self
    }

    /// Forgets the name servers added so far (Java's `setNamesrvAddr` replaces the list).
    #[cfg(feature = "serde")]
    pub(crate) fn clear_namesrv_addrs(mut self) -> Self {
        self.config.namesrv_addrs.clear();
        self
    }

    /// Sets or removes the per-attempt cap (Java's −1 removes it).
    #[cfg(feature = "serde")]
    pub(crate) fn send_msg_max_timeout_per_request_opt(mut self, cap: Option<Duration>) -> Self {
        self.config.send_msg_max_timeout_per_request = cap;
        self
    }

    /// Sets the client IP, part of the client id brokers list this client by.
    ///
    /// Default: `ROCKETMQ_CLIENT_IP`, else this host's outgoing address as
    /// [`local_address`] finds it, else 127.0.0.1. The Java client
    /// (`NetworkUtil.getLocalAddress`) walks the network interfaces for the
    /// first non-loopback IPv4 address not in 192.168/16 (else the last IPv4,
    /// else the first IPv6, else localhost). The standard library cannot list
    /// interfaces, so this asks the routing table instead: on a host with one
    /// network interface both give the same address; on a multi-homed host
    /// set it here.
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv6Addr};
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g")
    ///     .client_ip(IpAddr::V6(Ipv6Addr::LOCALHOST))
    ///     .instance_name("i")
    ///     .build()?;
    /// assert_eq!(c.client_id(), "::1@i");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn client_ip(mut self, ip: IpAddr) -> Self {
        self.client_ip = Some(ip);
        self
    }

    /// Sets the whole budget of one send (> 0).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").send_timeout(Duration::from_millis(800)).build()?;
    /// assert_eq!(c.send_timeout().as_millis(), 800);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.config.send_timeout = timeout;
        self
    }

    /// Sets the compression threshold in bytes.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").compress_msg_body_over(1024).build()?;
    /// assert_eq!(c.compress_msg_body_over(), 1024);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn compress_msg_body_over(mut self, bytes: usize) -> Self {
        self.config.compress_msg_body_over = bytes;
        self
    }

    /// Sets the zlib level (0..=9).
    ///
    /// ```
    /// let r = actix_rocketmq::producer::config::ProducerConfig::builder("g").compress_level(10).build();
    /// assert!(r.is_err());
    /// ```
    pub fn compress_level(mut self, level: u32) -> Self {
        self.config.compress_level = level;
        self
    }

    /// Sets the extra attempts of sync sends.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").retry_times_when_send_failed(0).build()?;
    /// assert_eq!(c.sync_attempts(), 1);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_times_when_send_failed(mut self, times: u32) -> Self {
        self.config.retry_times_when_send_failed = times;
        self
    }

    /// Sets the re-sends of async sends (kept for Java parity; see the getter).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").retry_times_when_send_async_failed(1).build()?;
    /// assert_eq!(c.retry_times_when_send_async_failed(), 1);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_times_when_send_async_failed(mut self, times: u32) -> Self {
        self.config.retry_times_when_send_async_failed = times;
        self
    }

    /// Retries sync sends stored with a warning (codes 10/11/12) on another broker.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").retry_another_broker_when_not_store_ok(true).build()?;
    /// assert!(c.retry_another_broker_when_not_store_ok());
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_another_broker_when_not_store_ok(mut self, enable: bool) -> Self {
        self.config.retry_another_broker_when_not_store_ok = enable;
        self
    }

    /// Sets the largest body accepted (> 0).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").max_message_size(1 << 20).build()?;
    /// assert_eq!(c.max_message_size(), 1 << 20);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.config.max_message_size = bytes;
        self
    }

    /// Sets the queue count of auto-created topics (> 0).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").default_topic_queue_nums(8).build()?;
    /// assert_eq!(c.default_topic_queue_nums(), 8);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn default_topic_queue_nums(mut self, nums: i32) -> Self {
        self.config.default_topic_queue_nums = nums;
        self
    }

    /// Sets the auto-create template topic (default `TBW102`).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").create_topic_key("AUTO").build()?;
    /// assert_eq!(c.create_topic_key(), "AUTO");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn create_topic_key(mut self, topic: impl Into<String>) -> Self {
        self.config.create_topic_key = topic.into();
        self
    }

    /// Enables latency fault tolerance in queue selection.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").send_latency_fault_enable(true).build()?;
    /// assert!(c.send_latency_fault_enable());
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn send_latency_fault_enable(mut self, enable: bool) -> Self {
        self.config.send_latency_fault_enable = enable;
        self
    }

    /// Sends through the broker's VIP port (port − 2).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").vip_channel_enabled(true).build()?;
    /// assert!(c.vip_channel_enabled());
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn vip_channel_enabled(mut self, enable: bool) -> Self {
        self.config.vip_channel_enabled = enable;
        self
    }

    /// Sets the most sends in flight (> 0).
    ///
    /// ```
    /// assert!(actix_rocketmq::producer::config::ProducerConfig::builder("g").max_in_flight(0).build().is_err());
    /// ```
    pub fn max_in_flight(mut self, count: usize) -> Self {
        self.config.max_in_flight = count;
        self
    }

    /// Sets the most body bytes in flight (> 0). A send whose (compressed) body
    /// alone is larger could never fit: it fails at once with
    /// [`ErrorKind::Backpressure`](crate::error::ErrorKind::Backpressure).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").max_in_flight_bytes(64 << 20).build()?;
    /// assert_eq!(c.max_in_flight_bytes(), 64 << 20);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn max_in_flight_bytes(mut self, bytes: usize) -> Self {
        self.config.max_in_flight_bytes = bytes;
        self
    }

    /// Caps each non-final attempt's timeout (> 0).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g")
    ///     .send_msg_max_timeout_per_request(Duration::from_secs(1))
    ///     .build()?;
    /// assert_eq!(c.send_msg_max_timeout_per_request(), Some(Duration::from_secs(1)));
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn send_msg_max_timeout_per_request(mut self, cap: Duration) -> Self {
        self.config.send_msg_max_timeout_per_request = Some(cap);
        self
    }

    /// Replaces the set of broker codes that sync sends retry.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").retry_response_codes([2]).build()?;
    /// assert!(c.is_retry_response_code(2) && !c.is_retry_response_code(17));
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_response_codes(mut self, codes: impl IntoIterator<Item = i32>) -> Self {
        self.config.retry_response_codes = codes.into_iter().collect();
        self
    }

    /// Adds one broker code to the retry set (Java `addRetryResponseCode`).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").add_retry_response_code(215).build()?;
    /// assert!(c.is_retry_response_code(215));
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn add_retry_response_code(mut self, code: i32) -> Self {
        self.config.retry_response_codes.insert(code);
        self
    }

    /// Sets the request header serialization.
    ///
    /// ```
    /// use actix_rocketmq::protocol::SerializeType;
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").serialize_type(SerializeType::RocketMq).build()?;
    /// assert_eq!(c.serialize_type(), SerializeType::RocketMq);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn serialize_type(mut self, serialize_type: SerializeType) -> Self {
        self.config.serialize_type = serialize_type;
        self
    }

    /// Sets the route polling interval (> 0).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").poll_name_server_interval(Duration::from_secs(5)).build()?;
    /// assert_eq!(c.poll_name_server_interval().as_secs(), 5);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn poll_name_server_interval(mut self, interval: Duration) -> Self {
        self.config.poll_name_server_interval = interval;
        self
    }

    /// Sets the heartbeat interval (> 0).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").heartbeat_broker_interval(Duration::from_secs(10)).build()?;
    /// assert_eq!(c.heartbeat_broker_interval().as_secs(), 10);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn heartbeat_broker_interval(mut self, interval: Duration) -> Self {
        self.config.heartbeat_broker_interval = interval;
        self
    }

    /// Sets the timeout of route/heartbeat/unregister requests (> 0).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").mq_client_api_timeout(Duration::from_secs(1)).build()?;
    /// assert_eq!(c.mq_client_api_timeout().as_secs(), 1);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn mq_client_api_timeout(mut self, timeout: Duration) -> Self {
        self.config.mq_client_api_timeout = timeout;
        self
    }

    /// Sets the TCP connect timeout (> 0).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").connect_timeout(Duration::from_secs(1)).build()?;
    /// assert_eq!(c.connect_timeout().as_secs(), 1);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Runs the broker connections (socket reads, writes, framing) on an arbiter
    /// of their own, a second thread, instead of the producer's. Producers that
    /// share a client instance share that arbiter. See the `send` benchmark for
    /// the trade-off on a 2-core machine.
    pub fn connection_arbiter(mut self, enable: bool) -> Self {
        self.config.connection_arbiter = enable;
        self
    }

    /// Registers a send hook (Java `registerSendMessageHook`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_rocketmq::producer::hooks::SendHook;
    /// struct Log;
    /// impl SendHook for Log {}
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").send_hook(Arc::new(Log)).build()?;
    /// assert_eq!(c.hooks().send_hooks().len(), 1);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn send_hook(mut self, hook: Arc<dyn SendHook>) -> Self {
        self.config.hooks.add_send_hook(hook);
        self
    }

    /// Registers a forbidden-check hook (Java `registerCheckForbiddenHook`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_rocketmq::producer::hooks::SendContext;
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g")
    ///     .check_forbidden_hook(Arc::new(|_: &SendContext<'_>| Ok(())))
    ///     .build()?;
    /// assert_eq!(c.hooks().check_forbidden_hooks().len(), 1);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn check_forbidden_hook(mut self, hook: Arc<dyn CheckForbiddenHook>) -> Self {
        self.config.hooks.add_check_forbidden_hook(hook);
        self
    }

    /// Makes this a transactional producer: `checker` answers the brokers'
    /// checks of transactions whose outcome they do not know (Java
    /// `TransactionMQProducer.setTransactionListener`, its check half; see
    /// [`transaction`](crate::producer::transaction)).
    ///
    /// ```
    /// use actix_rocketmq::{TransactionCheck, TransactionResolution};
    /// let c = actix_rocketmq::ProducerConfig::builder("g")
    ///     .transaction_checker(|_: TransactionCheck| async { TransactionResolution::Rollback })
    ///     .build()?;
    /// assert!(c.transaction_checker().is_some());
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn transaction_checker(mut self, checker: impl TransactionChecker) -> Self {
        self.config.transaction_checker = Some(Arc::new(checker));
        self
    }

    /// Signs every request with these credentials (Java `AclClientRPCHook`):
    /// for brokers and name servers that require authentication. Producers with
    /// different access keys never share a client instance.
    ///
    /// ```
    /// use actix_rocketmq::AclCredentials;
    /// let c = actix_rocketmq::ProducerConfig::builder("g")
    ///     .acl_credentials(AclCredentials::new("rocketmq", "12345678"))
    ///     .build()?;
    /// assert_eq!(c.acl_credentials().unwrap().access_key(), "rocketmq");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn acl_credentials(mut self, credentials: AclCredentials) -> Self {
        self.config.acl_credentials = Some(credentials);
        self
    }

    /// Speaks TLS on every connection, to name servers and brokers (Java
    /// `useTLS`); see [`TlsConfig`] for how certificates are checked. Producers
    /// with and without TLS never share a client instance.
    ///
    /// ```
    /// use actix_rocketmq::TlsConfig;
    /// use actix_rocketmq::runtime::tls::rustls::RootCertStore;
    /// let roots = RootCertStore::empty(); // add your CA certificates
    /// let c = actix_rocketmq::ProducerConfig::builder("g")
    ///     .tls(TlsConfig::with_roots(roots).server_name("broker.example.com")?)
    ///     .build()?;
    /// assert!(c.tls().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.config.tls = Some(tls);
        self
    }

    /// Validates and returns the configuration.
    ///
    /// Fails with [`ErrorKind::Validation`](crate::error::ErrorKind::Validation)
    /// for a bad group (checked with the namespace applied, as Java does) and
    /// [`ErrorKind::Config`](crate::error::ErrorKind::Config) for anything
    /// else. Resolves the client IP (`ROCKETMQ_CLIENT_IP`) and replaces the
    /// instance name `DEFAULT` by `pid#nanos`, so the client id is fixed from here on.
    ///
    /// ```
    /// use std::time::Duration;
    /// use actix_rocketmq::producer::config::ProducerConfig;
    /// assert!(ProducerConfig::builder("DEFAULT_PRODUCER").build().is_err());
    /// assert!(ProducerConfig::builder("g").send_timeout(Duration::ZERO).build().is_err());
    /// assert!(ProducerConfig::builder("g").namesrv_addr("no-port").build().is_err());
    /// ```
    pub fn build(self) -> Result<ProducerConfig, Error> {
        let mut c = self.config;
        if let Some(e) = self.errors.into_iter().next() {
            return Err(Error::config(e));
        }
        if let Some(ns) = c.namespace.as_deref() {
            if !is_legal_name(ns) || ns.contains(NAMESPACE_SEPARATOR) {
                return Err(Error::config(format!(
                    "namespace `{ns}` may contain only ASCII letters, digits, `_`, `-` and `|`"
                )));
            }
        }
        // Java validates the group after wrapping it with the namespace.
        validation::validate_group(&wrap_namespace(
            c.namespace.as_deref().unwrap_or(""),
            &c.producer_group,
        ))?;
        if c.instance_name.trim().is_empty() {
            return Err(Error::config("instance_name must not be blank"));
        }
        for (name, d) in [
            ("send_timeout", c.send_timeout),
            ("poll_name_server_interval", c.poll_name_server_interval),
            ("heartbeat_broker_interval", c.heartbeat_broker_interval),
            ("mq_client_api_timeout", c.mq_client_api_timeout),
            ("connect_timeout", c.connect_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::config(format!("{name} must be greater than zero")));
            }
        }
        if c.send_msg_max_timeout_per_request == Some(Duration::ZERO) {
            return Err(Error::config(
                "send_msg_max_timeout_per_request must be greater than zero",
            ));
        }
        if c.compress_level > 9 {
            return Err(Error::config(format!(
                "compress_level {} is out of range; use 0 to 9",
                c.compress_level
            )));
        }
        for (name, v) in [
            ("max_message_size", c.max_message_size),
            ("max_in_flight", c.max_in_flight),
            ("max_in_flight_bytes", c.max_in_flight_bytes),
        ] {
            if v == 0 {
                return Err(Error::config(format!("{name} must be greater than zero")));
            }
        }
        if c.default_topic_queue_nums <= 0 {
            return Err(Error::config(
                "default_topic_queue_nums must be greater than zero",
            ));
        }
        if !is_legal_name(&c.create_topic_key) {
            return Err(Error::config(format!(
                "create_topic_key `{}` is not a legal topic name",
                c.create_topic_key
            )));
        }
        c.client_ip = self.client_ip.unwrap_or_else(|| {
            resolve_client_ip(std::env::var(CLIENT_IP_ENV).ok().as_deref(), local_address)
        });
        c.instance_name = instance_name_for_start(&c.instance_name, &c.producer_group);
        Ok(c)
    }
}

/// Parses a `host:port;host:port` name server list; blanks between `;` are skipped.
///
/// ```
/// use actix_rocketmq::producer::config::parse_namesrv_addrs;
/// assert_eq!(parse_namesrv_addrs("a:1; b:2;").unwrap(), ["a:1", "b:2"]);
/// assert!(parse_namesrv_addrs("a").is_err());
/// ```
pub fn parse_namesrv_addrs(list: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for entry in list.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let valid = entry
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(format!(
                "name server address `{entry}` is not `host:port`; use e.g. `127.0.0.1:9876`"
            ));
        }
        out.push(entry.to_owned());
    }
    Ok(out)
}

/// The configured name servers, else those of `env` (the `NAMESRV_ADDR` value).
fn resolve_namesrv_addrs(configured: &[String], env: Option<&str>) -> Result<Vec<String>, Error> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    let list = match env {
        Some(v) => {
            parse_namesrv_addrs(v).map_err(|e| Error::config(format!("{NAMESRV_ADDR_ENV}: {e}")))?
        }
        None => Vec::new(),
    };
    if list.is_empty() {
        return Err(RouteError::NoNameServer.into());
    }
    Ok(list)
}

/// The client IP from the `ROCKETMQ_CLIENT_IP` value, else `probe()`, else 127.0.0.1.
fn resolve_client_ip(env: Option<&str>, probe: impl FnOnce() -> Option<IpAddr>) -> IpAddr {
    env.and_then(|v| v.trim().parse().ok())
        .or_else(probe)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// This host's outgoing address: the source address the routing table picks
/// for a packet to a documentation address (IPv4 `192.0.2.1`, else IPv6
/// `2001:db8::1`), or `None` when there is no route (no network, a sandbox).
///
/// A UDP socket is connected and its local address read; connecting a UDP
/// socket only chooses the route, so nothing is sent and no DNS is asked.
/// Loopback and unspecified addresses count as none.
///
/// ```
/// use actix_rocketmq::producer::config::local_address;
/// if let Some(ip) = local_address() {
///     assert!(!ip.is_loopback() && !ip.is_unspecified());
/// }
/// ```
pub fn local_address() -> Option<IpAddr> {
    let probes: [(SocketAddr, SocketAddr); 2] = [
        (
            (Ipv4Addr::UNSPECIFIED, 0).into(),
            (Ipv4Addr::new(192, 0, 2, 1), 9).into(),
        ),
        (
            (Ipv6Addr::UNSPECIFIED, 0).into(),
            (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9).into(),
        ),
    ];
    probes.into_iter().find_map(|(bind, target)| {
        let socket = UdpSocket::bind(bind).ok()?;
        socket.connect(target).ok()?;
        let ip = socket.local_addr().ok()?.ip();
        (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
    })
}

/// Java `changeInstanceNameToPID` (4.9+): `DEFAULT` becomes `pid#nanos` unless the group is
/// the Java client's inner producer group.
///
/// ```
/// use actix_rocketmq::producer::config::instance_name_for_start;
/// assert_eq!(instance_name_for_start("mine", "g"), "mine");
/// assert_eq!(instance_name_for_start("DEFAULT", "CLIENT_INNER_PRODUCER"), "DEFAULT");
/// let fixed = instance_name_for_start("DEFAULT", "g");
/// assert!(fixed.starts_with(&format!("{}#", std::process::id())));
/// ```
pub fn instance_name_for_start(instance_name: &str, group: &str) -> String {
    if instance_name != DEFAULT_INSTANCE_NAME || group == CLIENT_INNER_PRODUCER_GROUP {
        return instance_name.to_owned();
    }
    format!("{}#{}", std::process::id(), unique_nanos())
}

/// Wall-clock nanoseconds, strictly increasing within the process so two producers never share a name.
fn unique_nanos() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// `ip@instanceName[@unitName]`, Java `ClientConfig.buildMQClientId` (blank unit omitted).
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use actix_rocketmq::producer::config::build_client_id;
/// let ip = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2));
/// assert_eq!(build_client_id(ip, "1234#99", None), "192.168.1.2@1234#99");
/// assert_eq!(build_client_id(ip, "i", Some("u")), "192.168.1.2@i@u");
/// ```
pub fn build_client_id(ip: IpAddr, instance_name: &str, unit_name: Option<&str>) -> String {
    match unit_name.filter(|u| !u.trim().is_empty()) {
        Some(unit) => format!("{ip}@{instance_name}@{unit}"),
        None => format!("{ip}@{instance_name}"),
    }
}

/// Java `NamespaceUtil.isSystemResource`: system topics and `CID_RMQ_SYS_` groups.
fn is_system_resource(resource: &str) -> bool {
    !resource.is_empty() && (is_system_topic(resource) || resource.starts_with(SYSTEM_GROUP_PREFIX))
}

/// Splits a `%RETRY%`/`%DLQ%` prefix off (Java checks "not blank" first).
fn split_retry_dlq(resource: &str) -> (&str, &str) {
    if resource.trim().is_empty() {
        return ("", resource);
    }
    for prefix in [RETRY_TOPIC_PREFIX, DLQ_TOPIC_PREFIX] {
        if let Some(rest) = resource.strip_prefix(prefix) {
            return (prefix, rest);
        }
    }
    ("", resource)
}

/// Whether `rest` starts with `namespace%`.
fn starts_with_namespace(rest: &str, namespace: &str) -> bool {
    rest.strip_prefix(namespace)
        .is_some_and(|r| r.starts_with(NAMESPACE_SEPARATOR))
}

/// Java `NamespaceUtil.wrapNamespace`: `ns%name`, keeping a `%RETRY%`/`%DLQ%` prefix in
/// front (`%RETRY%ns%group`); system resources, already-wrapped names and an empty
/// namespace leave `resource` unchanged.
///
/// ```
/// use actix_rocketmq::producer::config::wrap_namespace;
/// assert_eq!(wrap_namespace("ns", "T"), "ns%T");
/// assert_eq!(wrap_namespace("ns", "%RETRY%G"), "%RETRY%ns%G");
/// assert_eq!(wrap_namespace("ns", "ns%T"), "ns%T");
/// assert_eq!(wrap_namespace("ns", "TBW102"), "TBW102");
/// assert_eq!(wrap_namespace("", "T"), "T");
/// ```
pub fn wrap_namespace<'a>(namespace: &str, resource: &'a str) -> Cow<'a, str> {
    if namespace.is_empty() || resource.is_empty() || is_system_resource(resource) {
        return Cow::Borrowed(resource);
    }
    let (prefix, rest) = split_retry_dlq(resource);
    if starts_with_namespace(rest, namespace) {
        return Cow::Borrowed(resource);
    }
    Cow::Owned(format!("{prefix}{namespace}{NAMESPACE_SEPARATOR}{rest}"))
}

/// Java `NamespaceUtil.withoutNamespace(resource, namespace)`: removes `namespace%`
/// (after any `%RETRY%`/`%DLQ%` prefix, which stays); a resource of another namespace,
/// or an empty namespace, leaves `resource` unchanged.
///
/// ```
/// use actix_rocketmq::producer::config::strip_namespace;
/// assert_eq!(strip_namespace("ns", "ns%T"), "T");
/// assert_eq!(strip_namespace("ns", "%RETRY%ns%G"), "%RETRY%G");
/// assert_eq!(strip_namespace("ns", "other%T"), "other%T");
/// assert_eq!(strip_namespace("", "ns%T"), "ns%T");
/// ```
pub fn strip_namespace<'a>(namespace: &str, resource: &'a str) -> Cow<'a, str> {
    if namespace.is_empty() || resource.is_empty() {
        return Cow::Borrowed(resource);
    }
    let (prefix, rest) = split_retry_dlq(resource);
    if !starts_with_namespace(rest, namespace) || is_system_resource(resource) {
        return Cow::Borrowed(resource);
    }
    // Java cuts at the first separator after the prefix, not at the namespace length.
    match rest.find(NAMESPACE_SEPARATOR) {
        Some(i) if i > 0 => {
            let tail = &rest[i + NAMESPACE_SEPARATOR.len_utf8()..];
            if prefix.is_empty() {
                Cow::Borrowed(tail)
            } else {
                Cow::Owned(format!("{prefix}{tail}"))
            }
        }
        _ => Cow::Borrowed(resource),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::protocol::validation::ValidationError;

    #[test]
    fn config_defaults_match_java() {
        let c = ProducerConfig::builder("g").build().unwrap();
        assert_eq!(c.producer_group(), "g");
        assert!(c.namesrv_addrs().is_empty());
        assert_eq!(c.send_timeout(), Duration::from_millis(3000));
        assert_eq!(c.compress_msg_body_over(), 4096);
        assert_eq!(c.compress_level(), 5);
        assert_eq!(c.retry_times_when_send_failed(), 2);
        assert_eq!(c.retry_times_when_send_async_failed(), 2);
        assert!(!c.retry_another_broker_when_not_store_ok());
        assert_eq!(c.max_message_size(), 4_194_304);
        assert_eq!(c.default_topic_queue_nums(), 4);
        assert_eq!(c.create_topic_key(), "TBW102");
        assert!(!c.send_latency_fault_enable());
        assert!(!c.vip_channel_enabled());
        assert_eq!(c.send_msg_max_timeout_per_request(), None);
        // Java backPressureForAsyncSendNum / backPressureForAsyncSendSize.
        assert_eq!(c.max_in_flight(), 10_000);
        assert_eq!(c.max_in_flight_bytes(), 100 * 1024 * 1024);
        assert_eq!(
            c.retry_response_codes().iter().copied().collect::<Vec<_>>(),
            vec![1, 2, 14, 16, 17, 204, 205, 1500]
        );
        assert_eq!(c.serialize_type(), SerializeType::RocketMq);
        assert_eq!(c.poll_name_server_interval(), Duration::from_secs(30));
        assert_eq!(c.heartbeat_broker_interval(), Duration::from_secs(30));
        assert_eq!(c.mq_client_api_timeout(), Duration::from_secs(3));
        assert_eq!(c.connect_timeout(), Duration::from_secs(3));
        assert_eq!(c.namespace(), None);
        assert_eq!(c.unit_name(), None);
        assert!(format!("{c:?}").contains("producer_group: \"g\""));
    }

    #[test]
    fn config_validation() {
        let err = |b: ProducerConfigBuilder| b.build().unwrap_err().into_kind();
        assert_eq!(
            err(ProducerConfig::builder("")),
            ErrorKind::Validation(ValidationError::GroupBlank)
        );
        assert!(matches!(
            err(ProducerConfig::builder("CLIENT_INNER_PRODUCER")),
            ErrorKind::Validation(ValidationError::GroupReserved { .. })
        ));
        // 118 chars + "ns%" is 121 once wrapped: too long, as in Java.
        assert!(ProducerConfig::builder("g".repeat(118)).build().is_ok());
        assert!(matches!(
            err(ProducerConfig::builder("g".repeat(118)).namespace("ns")),
            ErrorKind::Validation(ValidationError::GroupTooLong { len: 121, .. })
        ));
        let config_err = |b: ProducerConfigBuilder| matches!(err(b), ErrorKind::Config(_));
        assert!(config_err(
            ProducerConfig::builder("g").send_timeout(Duration::ZERO)
        ));
        assert!(config_err(
            ProducerConfig::builder("g").connect_timeout(Duration::ZERO)
        ));
        assert!(config_err(
            ProducerConfig::builder("g").send_msg_max_timeout_per_request(Duration::ZERO)
        ));
        assert!(config_err(ProducerConfig::builder("g").max_message_size(0)));
        assert!(config_err(ProducerConfig::builder("g").max_in_flight(0)));
        assert!(config_err(
            ProducerConfig::builder("g").max_in_flight_bytes(0)
        ));
        // Smaller than max_message_size is allowed: larger sends fail with back-pressure.
        assert!(
            ProducerConfig::builder("g")
                .max_in_flight_bytes(1024)
                .build()
                .is_ok()
        );
        assert!(config_err(
            ProducerConfig::builder("g").default_topic_queue_nums(0)
        ));
        assert!(config_err(ProducerConfig::builder("g").compress_level(10)));
        assert!(config_err(ProducerConfig::builder("g").instance_name(" ")));
        assert!(config_err(ProducerConfig::builder("g").namespace("a%b")));
        assert!(config_err(ProducerConfig::builder("g").namespace("a b")));
        assert!(config_err(
            ProducerConfig::builder("g").create_topic_key("")
        ));
        assert!(config_err(
            ProducerConfig::builder("g").namesrv_addr("a:1;b:notaport")
        ));
        assert!(config_err(ProducerConfig::builder("g").namesrv_addr(":1")));
    }

    #[test]
    fn config_namesrv_parsing_and_env_fallback() {
        assert_eq!(
            parse_namesrv_addrs(" a:1 ;;b:2; [::1]:9876").unwrap(),
            ["a:1", "b:2", "[::1]:9876"]
        );
        assert_eq!(parse_namesrv_addrs("").unwrap(), Vec::<String>::new());
        assert!(parse_namesrv_addrs("a:99999").is_err());

        let configured = vec!["x:1".to_owned()];
        assert_eq!(
            resolve_namesrv_addrs(&configured, Some("y:2")).unwrap(),
            ["x:1"]
        );
        assert_eq!(
            resolve_namesrv_addrs(&[], Some("y:2;z:3")).unwrap(),
            ["y:2", "z:3"]
        );
        let none = resolve_namesrv_addrs(&[], None).unwrap_err();
        assert_eq!(none.kind(), &ErrorKind::Route(RouteError::NoNameServer));
        assert_eq!(none.client_error_code(), Some(10004));
        assert!(resolve_namesrv_addrs(&[], Some(" ; ")).is_err());
        assert!(matches!(
            resolve_namesrv_addrs(&[], Some("bad")).unwrap_err().kind(),
            ErrorKind::Config(_)
        ));
    }

    #[test]
    fn config_client_ip_and_id() {
        let probed = IpAddr::V4(Ipv4Addr::new(172, 16, 0, 5));
        let no_route = || None;
        assert_eq!(
            resolve_client_ip(None, no_route),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(resolve_client_ip(None, || Some(probed)), probed);
        // The environment wins over the probe; a bad value falls through to it.
        assert_eq!(
            resolve_client_ip(Some(" 10.1.2.3 "), || Some(probed)),
            IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))
        );
        assert_eq!(
            resolve_client_ip(Some("not-an-ip"), || Some(probed)),
            probed
        );
        assert_eq!(
            resolve_client_ip(Some("not-an-ip"), no_route),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        // Whatever this machine's network, building never fails and the probe
        // never yields a loopback or unspecified address.
        if let Some(ip) = local_address() {
            assert!(!ip.is_loopback() && !ip.is_unspecified(), "{ip}");
        }
        if std::env::var(CLIENT_IP_ENV).is_err() {
            let c = ProducerConfig::builder("g").build().unwrap();
            let expected = local_address().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert_eq!(c.client_ip(), expected);
        }
        let c = ProducerConfig::builder("g")
            .client_ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)))
            .build()
            .unwrap();
        let pid = std::process::id();
        let id = c.client_id();
        assert!(id.starts_with(&format!("10.0.0.9@{pid}#")), "{id}");
        // The id is fixed at build time, not regenerated per call.
        assert_eq!(id, c.client_id());
        let other = ProducerConfig::builder("g").build().unwrap();
        assert_ne!(c.instance_name(), other.instance_name());
        assert_eq!(build_client_id(c.client_ip(), "i", Some(" ")), "10.0.0.9@i");
    }

    #[test]
    fn config_attempt_timeouts() {
        let c = ProducerConfig::builder("g").build().unwrap();
        let rem = Duration::from_millis(1200);
        assert_eq!(c.attempt_timeout(rem, false), rem);
        let c = ProducerConfig::builder("g")
            .send_msg_max_timeout_per_request(Duration::from_millis(400))
            .build()
            .unwrap();
        assert_eq!(c.attempt_timeout(rem, false), Duration::from_millis(400));
        assert_eq!(c.attempt_timeout(rem, true), rem);
        assert_eq!(
            c.attempt_timeout(Duration::from_millis(100), false),
            Duration::from_millis(100)
        );
        let c = ProducerConfig::builder("g")
            .retry_times_when_send_failed(u32::MAX)
            .build()
            .unwrap();
        assert_eq!(c.sync_attempts(), u32::MAX);
    }

    #[test]
    fn namespace_wrap_follows_java() {
        assert_eq!(wrap_namespace("ns", "T"), "ns%T");
        assert_eq!(wrap_namespace("ns", "%RETRY%G"), "%RETRY%ns%G");
        assert_eq!(wrap_namespace("ns", "%DLQ%G"), "%DLQ%ns%G");
        assert_eq!(wrap_namespace("ns", "%RETRY%ns%G"), "%RETRY%ns%G");
        assert_eq!(wrap_namespace("ns", "ns%T"), "ns%T");
        // A different namespace's resource is wrapped again, as Java does.
        assert_eq!(wrap_namespace("ns", "nsx%T"), "ns%nsx%T");
        for sys in [
            "TBW102",
            "SCHEDULE_TOPIC_XXXX",
            "rmq_sys_foo",
            "CID_RMQ_SYS_X",
        ] {
            assert_eq!(wrap_namespace("ns", sys), sys);
        }
        assert_eq!(wrap_namespace("", "T"), "T");
        assert_eq!(wrap_namespace("ns", ""), "");
        assert!(matches!(wrap_namespace("", "T"), Cow::Borrowed(_)));
    }

    #[test]
    fn namespace_strip_follows_java() {
        assert_eq!(strip_namespace("ns", "ns%T"), "T");
        assert_eq!(strip_namespace("ns", "%RETRY%ns%G"), "%RETRY%G");
        assert_eq!(strip_namespace("ns", "%DLQ%ns%G"), "%DLQ%G");
        assert_eq!(strip_namespace("ns", "other%T"), "other%T");
        assert_eq!(strip_namespace("ns", "%RETRY%other%G"), "%RETRY%other%G");
        assert_eq!(strip_namespace("ns", "T"), "T");
        assert_eq!(strip_namespace("ns", "nsT"), "nsT");
        assert_eq!(strip_namespace("", "ns%T"), "ns%T");
        assert_eq!(strip_namespace("ns", "ns%a%b"), "a%b");
        for r in ["T", "%RETRY%G", "%DLQ%G", "a%b"] {
            assert_eq!(strip_namespace("ns", &wrap_namespace("ns", r)), r);
        }
        let c = ProducerConfig::builder("g")
            .namespace("ns")
            .build()
            .unwrap();
        assert_eq!(c.wrapped_group(), "ns%g");
        assert_eq!(c.wrap("%RETRY%g"), "%RETRY%ns%g");
        assert_eq!(c.strip("ns%T"), "T");
    }
}
