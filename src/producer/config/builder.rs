//! The builder users know from Java: `ProducerConfig::builder(group)`, one
//! setter per `DefaultMQProducer`/`ClientConfig` property (same names, same
//! defaults), a setter per settings group, and `build()`, which validates and
//! fixes the client id.
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use super::client_id::{
    DEFAULT_INSTANCE_NAME, build_client_id, client_ip_from_env, instance_name_for_start,
};
use super::groups::{Limits, RetryPolicy, Timers};
use super::namespace::{validate_namespace, wrap_namespace};
use super::namesrv_addr::NamesrvHttp;
use super::{DEFAULT_CREATE_TOPIC_KEY, ProducerConfig};
use crate::error::Error;
use crate::producer::hooks::{CheckForbiddenHook, SendHook, SendHooks};
use crate::producer::transaction::{TransactionChecker, TransactionListener};
use crate::protocol::SerializeType;
use crate::protocol::validation::{self, is_legal_name};
use crate::runtime::connection::ConnectionConfig;
use crate::runtime::instance::InstanceConfig;
use crate::runtime::route_manager::RouteConfig;

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
/// assert_eq!(c.retry_times_when_send_failed(), 4);
/// # Ok::<(), actix_rocketmq::error::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProducerConfigBuilder {
    pub(super) config: ProducerConfig,
    client_ip: Option<IpAddr>,
    // Problems met by infallible setters, reported by build().
    pub(super) errors: Vec<String>,
}

impl ProducerConfigBuilder {
    pub(super) fn new(group: String) -> Self {
        let timers = Timers::default();
        let connection = ConnectionConfig {
            connect_timeout: timers.connect_timeout,
            ..ConnectionConfig::default()
        };
        ProducerConfigBuilder {
            config: ProducerConfig {
                producer_group: group,
                instance_name: DEFAULT_INSTANCE_NAME.to_owned(),
                unit_name: None,
                namespace: None,
                client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                send_timeout: timers.send_timeout,
                retry: RetryPolicy::default(),
                limits: Limits::default(),
                send_latency_fault_enable: false,
                latency_max: crate::producer::fault::LATENCY_MAX_MS,
                not_available_duration: crate::producer::fault::NOT_AVAILABLE_DURATION_MS,
                vip_channel_enabled: false,
                serialize_type: SerializeType::RocketMq,
                hooks: SendHooks::default(),
                transaction_checker: None,
                namesrv_http: NamesrvHttp::default(),
                transaction_listener: None,
                trace: super::TraceSettings::default(),
                auto_batch: None,
                instance: InstanceConfig {
                    // Fixed by build(), once the IP and instance name are.
                    client_id: String::new(),
                    route: RouteConfig {
                        namesrv_addrs: Vec::new(),
                        api_timeout: timers.mq_client_api_timeout,
                        poll_interval: timers.poll_name_server_interval,
                        default_topic: DEFAULT_CREATE_TOPIC_KEY.to_owned(),
                        default_topic_queue_nums: 4,
                        connection: connection.clone(),
                    },
                    heartbeat_interval: timers.heartbeat_broker_interval,
                    api_timeout: timers.mq_client_api_timeout,
                    connection,
                    connection_arbiter: false,
                    addr_server: None,
                },
            },
            client_ip: None,
            errors: Vec::new(),
        }
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
        self.config.instance.route.namesrv_addrs.clear();
        self
    }

    /// Sets or removes the per-attempt cap (Java's −1 removes it).
    #[cfg(feature = "serde")]
    pub(crate) fn send_msg_max_timeout_per_request_opt(mut self, cap: Option<Duration>) -> Self {
        self.config.retry.send_msg_max_timeout_per_request = cap;
        self
    }

    /// Sets the client IP, part of the client id brokers list this client by.
    ///
    /// Default: `ROCKETMQ_CLIENT_IP`, else this host's outgoing address as
    /// [`local_address`](super::local_address) finds it, else 127.0.0.1. The Java client
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

    /// Sets the extra attempts of sync sends.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").retry_times_when_send_failed(0).build()?;
    /// assert_eq!(c.retry_times_when_send_failed(), 0);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_times_when_send_failed(mut self, times: u32) -> Self {
        self.config.retry.retry_times_when_send_failed = times;
        self
    }

    /// Sets the extra attempts of callback sends (`notify`; see the getter).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").retry_times_when_send_async_failed(1).build()?;
    /// assert_eq!(c.retry_times_when_send_async_failed(), 1);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry_times_when_send_async_failed(mut self, times: u32) -> Self {
        self.config.retry.retry_times_when_send_async_failed = times;
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
        self.config.retry.retry_another_broker_when_not_store_ok = enable;
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
        self.config.limits.max_message_size = bytes;
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
        self.config.instance.route.default_topic_queue_nums = nums;
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
        self.config.instance.route.default_topic = topic.into();
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

    /// Sets the latency thresholds of the fault-tolerance table, in ms (Java
    /// `setLatencyMax`; see [`ProducerConfig::latency_max`]). Used with
    /// `send_latency_fault_enable`.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g")
    ///     .latency_max([50, 100, 550, 1000, 2000, 3000, 15000])
    ///     .build()?;
    /// assert_eq!(c.latency_max()[3], 1000);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn latency_max(mut self, ms: [u64; 7]) -> Self {
        self.config.latency_max = ms;
        self
    }

    /// Sets the isolation each latency threshold earns, in ms (Java
    /// `setNotAvailableDuration`; see [`ProducerConfig::not_available_duration`]).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g")
    ///     .not_available_duration([0, 0, 30000, 60000, 120000, 180000, 600000])
    ///     .build()?;
    /// assert_eq!(c.not_available_duration()[2], 30000);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn not_available_duration(mut self, ms: [u64; 7]) -> Self {
        self.config.not_available_duration = ms;
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
        self.config.limits.max_in_flight = count;
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
        self.config.limits.max_in_flight_bytes = bytes;
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
        self.config.retry.send_msg_max_timeout_per_request = Some(cap);
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
        self.config.retry.retry_response_codes = codes.into_iter().collect();
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
        self.config.retry.retry_response_codes.insert(code);
        self
    }

    /// Sets the request header serialization.
    ///
    /// ```
    /// use actix_rocketmq::internals::protocol::SerializeType;
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
        self.config.instance.route.poll_interval = interval;
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
        self.config.instance.heartbeat_interval = interval;
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
        self.config.instance.api_timeout = timeout;
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

    /// Makes this a transactional producer with a Java-style
    /// [`TransactionListener`] (Java `TransactionMQProducer.setTransactionListener`):
    /// it runs the local transactions of
    /// [`ExecuteTransaction`](crate::ExecuteTransaction) sends and, as the
    /// producer's [`TransactionChecker`], answers the brokers' checks
    /// (replacing any checker set before).
    pub fn transaction_listener(mut self, listener: impl TransactionListener) -> Self {
        let listener: Arc<dyn TransactionListener> = Arc::new(listener);
        self.config.transaction_checker = Some(Arc::new(
            crate::producer::transaction::ListenerChecker(listener.clone()),
        ));
        self.config.transaction_listener = Some(listener);
        self
    }

    /// Sets every retry setting at once (see [`RetryPolicy`] for the Java names and defaults).
    ///
    /// ```
    /// use actix_rocketmq::producer::config::{ProducerConfig, RetryPolicy};
    /// let retry = RetryPolicy { retry_times_when_send_failed: 0, ..RetryPolicy::default() };
    /// let c = ProducerConfig::builder("g").retry(retry.clone()).build()?;
    /// assert_eq!(c.retry(), &retry);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.config.retry = retry;
        self
    }

    /// Sets every size limit at once (see [`Limits`] for the Java names and defaults).
    ///
    /// ```
    /// use actix_rocketmq::producer::config::{Limits, ProducerConfig};
    /// let limits = Limits { compress_msg_body_over: usize::MAX, ..Limits::default() };
    /// let c = ProducerConfig::builder("g").limits(limits).build()?;
    /// assert_eq!(c.limits(), limits);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Sets every timeout and interval at once (see [`Timers`] for the Java names and defaults).
    ///
    /// ```
    /// use std::time::Duration;
    /// use actix_rocketmq::producer::config::{ProducerConfig, Timers};
    /// let timers = Timers { connect_timeout: Duration::from_secs(1), ..Timers::default() };
    /// let c = ProducerConfig::builder("g").timers(timers).build()?;
    /// assert_eq!(c.timers(), timers);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn timers(self, timers: Timers) -> Self {
        // Destructured so a new timer cannot be forgotten here.
        let Timers {
            send_timeout,
            poll_name_server_interval,
            heartbeat_broker_interval,
            mq_client_api_timeout,
            connect_timeout,
        } = timers;
        self.send_timeout(send_timeout)
            .poll_name_server_interval(poll_name_server_interval)
            .heartbeat_broker_interval(heartbeat_broker_interval)
            .mq_client_api_timeout(mq_client_api_timeout)
            .connect_timeout(connect_timeout)
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
            validate_namespace(ns)?;
        }
        // Java validates the group after wrapping it with the namespace.
        validation::validate_group(&wrap_namespace(
            c.namespace.as_deref().unwrap_or(""),
            &c.producer_group,
        ))?;
        if c.instance_name.trim().is_empty() {
            return Err(Error::config("instance_name must not be blank"));
        }
        c.timers().check()?;
        c.trace.check().map_err(Error::config)?;
        c.retry.check()?;
        c.limits.check()?;
        if let Some(a) = &c.auto_batch {
            a.check(c.limits.max_message_size)?;
        }
        let route = &mut c.instance.route;
        if route.default_topic_queue_nums <= 0 {
            return Err(Error::config(
                "default_topic_queue_nums must be greater than zero",
            ));
        }
        if !is_legal_name(&route.default_topic) {
            return Err(Error::config(format!(
                "create_topic_key `{}` is not a legal topic name",
                route.default_topic
            )));
        }
        // The setters write the instance's timeout and connection; the route
        // manager gets the same ones, for its name-server requests.
        route.api_timeout = c.instance.api_timeout;
        route.connection = c.instance.connection.clone();
        c.client_ip = self.client_ip.unwrap_or_else(client_ip_from_env);
        c.instance_name = instance_name_for_start(&c.instance_name, &c.producer_group);
        c.instance.client_id = build_client_id(c.client_ip, &c.instance_name, c.unit_name());
        Ok(c)
    }
}

#[cfg(test)]
mod tests;
