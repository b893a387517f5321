//! Producer configuration with the Java `DefaultMQProducer`/`ClientConfig`
//! defaults: [`ProducerConfig`] and what it holds.
//!
//! The config holds the client instance's settings as the runtime takes them
//! (an `InstanceConfig` with its route and connection settings), so a
//! starting producer hands them over instead of copying setting by setting.
//!
//! | module | idea |
//! | --- | --- |
//! | `builder` | [`ProducerConfigBuilder`]: the Java names and defaults, `build()` |
//! | `auto_batch` | [`AutoBatch`]: adaptive auto-batching (group commit) |
//! | `groups` | [`RetryPolicy`], [`Limits`], [`Timers`]: settings set together |
//! | `namespace` | [`wrap_namespace`], [`strip_namespace`] (Java `NamespaceUtil`) |
//! | `client_id` | the client id, instance name and client IP ([`build_client_id`]) |
//! | `namesrv_addr` | name-server lists and `NAMESRV_ADDR` ([`parse_namesrv_addrs`]) |
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
/// The header encoding `serialize_type` takes and the language code clients announce.
pub use crate::protocol::codes::{LanguageCode, SerializeType};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::producer::hooks::SendHooks;
use crate::producer::transaction::{TransactionChecker, TransactionListener};
use crate::protocol::acl::AclCredentials;
use crate::runtime::TlsConfig;
use crate::runtime::instance::InstanceConfig;

mod auto_batch;
mod builder;
mod client_id;
mod compression;
mod connection;
mod groups;
mod namespace;
mod namesrv_addr;
mod trace;

/// Moved to [`protocol::codes`](crate::protocol::codes), next to the codes it lists; kept here for old paths.
pub use crate::protocol::codes::DEFAULT_RETRY_RESPONSE_CODES;
pub use auto_batch::{AutoBatch, BROKER_MAX_BATCH_BYTES};
pub use builder::ProducerConfigBuilder;
pub use client_id::{
    CLIENT_IP_ENV, DEFAULT_INSTANCE_NAME, build_client_id, instance_name_for_start, local_address,
};
pub use groups::{Limits, RetryPolicy, Timers};
pub use namespace::{NAMESPACE_SEPARATOR, SYSTEM_GROUP_PREFIX, strip_namespace, wrap_namespace};
pub use namesrv_addr::{NAMESRV_ADDR_ENV, parse_namesrv_addrs};
pub use trace::DEFAULT_TRACE_BUFFER;
pub(crate) use trace::TraceSettings;

use namesrv_addr::{NamesrvHttp, resolve_addr_server_env, resolve_namesrv_addrs};

/// The topic whose route is used for auto-created topics.
pub const DEFAULT_CREATE_TOPIC_KEY: &str = "TBW102";

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
    instance_name: String,
    unit_name: Option<String>,
    namespace: Option<String>,
    client_ip: IpAddr,
    send_timeout: Duration,
    retry: RetryPolicy,
    limits: Limits,
    send_latency_fault_enable: bool,
    latency_max: [u64; 7],
    not_available_duration: [u64; 7],
    vip_channel_enabled: bool,
    serialize_type: SerializeType,
    hooks: SendHooks,
    transaction_checker: Option<Arc<dyn TransactionChecker>>,
    // Where the name-server list is fetched when none is configured.
    namesrv_http: NamesrvHttp,
    transaction_listener: Option<Arc<dyn TransactionListener>>,
    // Message trace: on or off, its topic and buffer.
    trace: TraceSettings,
    // Adaptive auto-batching, when on.
    auto_batch: Option<AutoBatch>,
    // The client instance's part, ready to hand over: client id, name servers
    // (as configured), route polling, default topic, heartbeats, API timeout,
    // connections (connect timeout, ACL, TLS), connection arbiter.
    instance: InstanceConfig,
}

impl fmt::Debug for ProducerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProducerConfig")
            .field("producer_group", &self.producer_group)
            .field("instance_name", &self.instance_name)
            .field("unit_name", &self.unit_name)
            .field("namespace", &self.namespace)
            .field("client_ip", &self.client_ip)
            .field("send_timeout", &self.send_timeout)
            .field("retry", &self.retry)
            .field("limits", &self.limits)
            .field("send_latency_fault_enable", &self.send_latency_fault_enable)
            .field("latency_max", &self.latency_max)
            .field("not_available_duration", &self.not_available_duration)
            .field("vip_channel_enabled", &self.vip_channel_enabled)
            .field("serialize_type", &self.serialize_type)
            .field("hooks", &self.hooks)
            .field("transaction_checker", &self.transaction_checker.is_some())
            .field("namesrv_http", &self.namesrv_http)
            .field("transaction_listener", &self.transaction_listener.is_some())
            .field("trace", &self.trace)
            .field("auto_batch", &self.auto_batch)
            .field("instance", &self.instance)
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
        &self.instance.route.namesrv_addrs
    }

    /// The name servers to use at start: the configured ones, else those of
    /// the `NAMESRV_ADDR` environment variable; none at all is
    /// [`RouteError::NoNameServer`](crate::runtime::RouteError::NoNameServer) (Java client error 10004).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").namesrv_addr("a:1").build()?;
    /// assert_eq!(c.resolved_namesrv_addrs()?, ["a:1"]);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn resolved_namesrv_addrs(&self) -> Result<Vec<String>, Error> {
        resolve_namesrv_addrs(
            &self.instance.route.namesrv_addrs,
            std::env::var(NAMESRV_ADDR_ENV).ok().as_deref(),
        )
    }

    /// The address server asked for the name-server list when none is configured
    /// (neither on the builder nor in `NAMESRV_ADDR`), and whether it was asked
    /// for (a setter, `NAMESRV_DOMAIN` or `NAMESRV_DOMAIN_SUBGROUP`) rather than
    /// the Java default `http://jmenv.tbsite.net:8080/rocketmq/nsaddr`.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g")
    ///     .namesrv_domain("127.0.0.1:18080")
    ///     .namesrv_domain_subgroup("unit1")
    ///     .build()?;
    /// assert_eq!(c.namesrv_http_endpoint().0, "http://127.0.0.1:18080/rocketmq/unit1");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn namesrv_http_endpoint(&self) -> (String, bool) {
        let (server, explicit) = resolve_addr_server_env(&self.namesrv_http);
        (server.url, explicit)
    }

    pub(crate) fn addr_server(&self) -> (crate::runtime::namesrv_http::AddrServerConfig, bool) {
        resolve_addr_server_env(&self.namesrv_http)
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
        self.instance.client_id.clone()
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

    /// Extra attempts of a sync send (2, so 3 attempts in all).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.retry_times_when_send_failed(), 2);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_times_when_send_failed(&self) -> u32 {
        self.retry.retry_times_when_send_failed
    }

    /// Extra attempts (2) of a send whose result is delivered to a recipient
    /// with `notify` (`SendMessage::notify`, `SendBatch::notify`: the Java
    /// callback send, which Java retries `retryTimesWhenSendAsyncFailed`
    /// times). They retry on the same failures and brokers as
    /// [`Self::retry_times_when_send_failed`], which governs sends that are
    /// only awaited (an awaited send is sync or async as the caller awaits it).
    /// Sends to a queue or through a selector are not retried either way.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.retry_times_when_send_async_failed(), 2);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_times_when_send_async_failed(&self) -> u32 {
        self.retry.retry_times_when_send_async_failed
    }

    /// Whether a sync send that was stored with a warning (codes 10/11/12) is retried (false).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert!(!c.retry_another_broker_when_not_store_ok());
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_another_broker_when_not_store_ok(&self) -> bool {
        self.retry.retry_another_broker_when_not_store_ok
    }

    /// Largest body accepted, in bytes (4 MiB).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.max_message_size(), 4 * 1024 * 1024);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn max_message_size(&self) -> usize {
        self.limits.max_message_size
    }

    /// Queues of an auto-created topic (4).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.default_topic_queue_nums(), 4);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn default_topic_queue_nums(&self) -> i32 {
        self.instance.route.default_topic_queue_nums
    }

    /// The topic whose route serves auto-created topics (`TBW102`).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.create_topic_key(), "TBW102");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn create_topic_key(&self) -> &str {
        &self.instance.route.default_topic
    }

    /// The latency thresholds, in ms, of the fault-tolerance table (Java
    /// `latencyMax`; default [`LATENCY_MAX_MS`](crate::producer::fault::LATENCY_MAX_MS),
    /// the Java 5.2+ values): an attempt at least `latency_max[i]` slow (the
    /// largest such `i`) isolates its broker for `not_available_duration[i]`.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.latency_max(), actix_rocketmq::producer::fault::LATENCY_MAX_MS);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn latency_max(&self) -> [u64; 7] {
        self.latency_max
    }

    /// The isolation, in ms, each latency threshold of
    /// [`Self::latency_max`] earns a broker (Java `notAvailableDuration`;
    /// default [`NOT_AVAILABLE_DURATION_MS`](crate::producer::fault::NOT_AVAILABLE_DURATION_MS)).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.not_available_duration(), actix_rocketmq::producer::fault::NOT_AVAILABLE_DURATION_MS);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn not_available_duration(&self) -> [u64; 7] {
        self.not_available_duration
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
        self.limits.max_in_flight
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
        self.limits.max_in_flight_bytes
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
        self.retry.send_msg_max_timeout_per_request
    }

    /// Broker codes on which a sync send is retried on another broker.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.retry_response_codes().len(), 8);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_response_codes(&self) -> &BTreeSet<i32> {
        &self.retry.retry_response_codes
    }

    /// Whether broker code `code` is retried by sync sends.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert!(c.is_retry_response_code(14) && !c.is_retry_response_code(13));
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn is_retry_response_code(&self, code: i32) -> bool {
        self.retry.retry_response_codes.contains(&code)
    }

    /// Header serialization of requests: the compact ROCKETMQ binary form by
    /// default (`benches/codec.rs`: about 3x cheaper to encode than JSON; Java
    /// and RocketMQ-Rust servers accept both, and replies are decoded in either).
    ///
    /// ```
    /// use actix_rocketmq::internals::protocol::SerializeType;
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
        self.instance.route.poll_interval
    }

    /// How often brokers get a heartbeat (30 s).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.heartbeat_broker_interval().as_secs(), 30);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn heartbeat_broker_interval(&self) -> Duration {
        self.instance.heartbeat_interval
    }

    /// Timeout of route, heartbeat and unregister requests (3 s).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.mq_client_api_timeout().as_secs(), 3);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn mq_client_api_timeout(&self) -> Duration {
        self.instance.api_timeout
    }

    /// Timeout of opening a TCP connection (3 s).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.connect_timeout().as_secs(), 3);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn connect_timeout(&self) -> Duration {
        self.instance.connection.connect_timeout
    }

    /// Whether broker connections run on an arbiter (thread) of their own (default false).
    pub fn connection_arbiter(&self) -> bool {
        self.instance.connection_arbiter
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

    /// The hooks, to add the producer's own (the trace hook) at start.
    pub(crate) fn hooks_mut(&mut self) -> &mut SendHooks {
        &mut self.hooks
    }

    /// How connections speak TLS, if they do.
    pub fn tls(&self) -> Option<&TlsConfig> {
        self.instance.connection.tls.as_ref()
    }

    /// The identity every request is signed with (ACL), if any.
    pub fn acl_credentials(&self) -> Option<&AclCredentials> {
        self.instance.connection.acl.as_ref()
    }

    /// What answers the brokers' transaction checks; transactional sends need one.
    pub fn transaction_checker(&self) -> Option<&Arc<dyn TransactionChecker>> {
        self.transaction_checker.as_ref()
    }

    /// The transaction listener, if one is set (it is then the checker too).
    pub fn transaction_listener(&self) -> Option<&Arc<dyn TransactionListener>> {
        self.transaction_listener.as_ref()
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

    /// Adaptive auto-batching, when on (see [`AutoBatch`]).
    pub fn auto_batch(&self) -> Option<&AutoBatch> {
        self.auto_batch.as_ref()
    }

    /// The retry settings (see [`RetryPolicy`]).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.retry().retry_times_when_send_failed, 2);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The size limits (see [`Limits`]).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.limits().compress_level, 5);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The timeouts and intervals (see [`Timers`]).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.timers().heartbeat_broker_interval.as_secs(), 30);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn timers(&self) -> Timers {
        // Assembled: all but the send timeout live in the runtime's settings.
        Timers {
            send_timeout: self.send_timeout,
            poll_name_server_interval: self.instance.route.poll_interval,
            heartbeat_broker_interval: self.instance.heartbeat_interval,
            mq_client_api_timeout: self.instance.api_timeout,
            connect_timeout: self.instance.connection.connect_timeout,
        }
    }

    /// The client instance's settings with the name servers resolved at start:
    /// the producer's config already holds the runtime's, nothing is copied field by field.
    pub(crate) fn instance_with(
        &self,
        namesrv_addrs: Vec<String>,
        addr_server: Option<crate::runtime::namesrv_http::AddrServerConfig>,
    ) -> InstanceConfig {
        let mut instance = self.instance.clone();
        instance.route.namesrv_addrs = namesrv_addrs;
        instance.addr_server = addr_server;
        instance
    }
}

#[cfg(test)]
mod tests;
