//! The settings groups: retries, limits and timers, each a plain struct with
//! public fields and the Java defaults, set whole with
//! [`ProducerConfigBuilder::retry`](super::ProducerConfigBuilder::retry),
//! [`limits`](super::ProducerConfigBuilder::limits) and
//! [`timers`](super::ProducerConfigBuilder::timers) (as the `fred` client
//! groups its config), or one by one with the Java-named setters.
//!
//! ```
//! use std::time::Duration;
//! use actix_rocketmq::producer::config::{Limits, ProducerConfig, RetryPolicy, Timers};
//!
//! let config = ProducerConfig::builder("g")
//!     .retry(RetryPolicy { retry_times_when_send_failed: 4, ..RetryPolicy::default() })
//!     .limits(Limits { max_in_flight: 500, ..Limits::default() })
//!     .timers(Timers { send_timeout: Duration::from_secs(5), ..Timers::default() })
//!     .build()?;
//! assert_eq!(config.retry().retry_times_when_send_failed, 4);
//! assert_eq!(config.limits().max_in_flight, 500);
//! assert_eq!(config.timers().send_timeout, Duration::from_secs(5));
//! # Ok::<(), actix_rocketmq::error::Error>(())
//! ```
use std::collections::BTreeSet;
use std::time::Duration;

use crate::error::Error;
use crate::protocol::codes::DEFAULT_RETRY_RESPONSE_CODES;
use crate::protocol::compression::CompressionType;
use crate::protocol::validation::DEFAULT_MAX_MESSAGE_SIZE;

/// When and how a send is tried again.
///
/// | field | Java name | default |
/// | --- | --- | --- |
/// | `retry_times_when_send_failed` | `retryTimesWhenSendFailed` | 2 (3 attempts in all) |
/// | `retry_times_when_send_async_failed` | `retryTimesWhenSendAsyncFailed` | 2 (sends with `notify`) |
/// | `retry_another_broker_when_not_store_ok` | `retryAnotherBrokerWhenNotStoreOK` | false |
/// | `retry_response_codes` | `retryResponseCodes` | [`DEFAULT_RETRY_RESPONSE_CODES`] |
/// | `send_msg_max_timeout_per_request` | `sendMsgMaxTimeoutPerRequest` | `None` (Java −1: no cap) |
///
/// ```
/// use actix_rocketmq::producer::config::RetryPolicy;
/// let p = RetryPolicy::default();
/// assert_eq!(p.retry_times_when_send_failed, 2);
/// assert!(p.retry_response_codes.contains(&17)); // TOPIC_NOT_EXIST
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Extra attempts of a send, on another broker when there is one.
    pub retry_times_when_send_failed: u32,
    /// Extra attempts of a send whose result is delivered to a recipient
    /// (`notify`, the Java callback send); a send only awaited follows
    /// `retry_times_when_send_failed`.
    pub retry_times_when_send_async_failed: u32,
    /// Whether a send stored with a warning (codes 10/11/12) is retried.
    pub retry_another_broker_when_not_store_ok: bool,
    /// Broker codes on which a send is retried on another broker.
    pub retry_response_codes: BTreeSet<i32>,
    /// Cap on one attempt's timeout while retries remain (Java 5.3.3); `None`:
    /// each attempt may use all the time left of the send timeout.
    pub send_msg_max_timeout_per_request: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retry_times_when_send_failed: 2,
            retry_times_when_send_async_failed: 2,
            retry_another_broker_when_not_store_ok: false,
            retry_response_codes: DEFAULT_RETRY_RESPONSE_CODES.iter().copied().collect(),
            send_msg_max_timeout_per_request: None,
        }
    }
}

impl RetryPolicy {
    /// The range checks of [`ProducerConfigBuilder::build`](super::ProducerConfigBuilder::build).
    pub(super) fn check(&self) -> Result<(), Error> {
        if self.send_msg_max_timeout_per_request == Some(Duration::ZERO) {
            return Err(Error::config(
                "send_msg_max_timeout_per_request must be greater than zero",
            ));
        }
        Ok(())
    }
}

/// How much a producer accepts and holds at once, and when bodies are compressed.
///
/// | field | Java name | default |
/// | --- | --- | --- |
/// | `max_message_size` | `maxMessageSize` | 4 MiB |
/// | `max_in_flight` | `backPressureForAsyncSendNum` | 10 000 |
/// | `max_in_flight_bytes` | `backPressureForAsyncSendSize` | 100 MiB |
/// | `compress_msg_body_over` | `compressMsgBodyOverHowmuch` | 4096 |
/// | `compress_level` | `compressLevel` | 5 |
/// | `compress_type` | `compressType` | [`CompressionType::Zlib`] |
///
/// ```
/// use actix_rocketmq::producer::config::Limits;
/// assert_eq!(Limits::default().max_message_size, 4 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted, in bytes (> 0).
    pub max_message_size: usize,
    /// Most sends in flight at once (> 0).
    pub max_in_flight: usize,
    /// Most body bytes in flight at once (> 0); a send whose body alone is
    /// larger fails at once with
    /// [`ErrorKind::Backpressure`](crate::error::ErrorKind::Backpressure).
    pub max_in_flight_bytes: usize,
    /// Bodies of at least this many bytes are compressed; `usize::MAX` disables it.
    pub compress_msg_body_over: usize,
    /// The codec's level: zlib 0..=9, zstd 0..=22, ignored by LZ4 (as in Java).
    pub compress_level: u32,
    /// The codec of compressed single-message bodies (Java `compressType`).
    pub compress_type: CompressionType,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_in_flight: 10_000,
            max_in_flight_bytes: 100 * 1024 * 1024,
            compress_msg_body_over: 4096,
            compress_level: 5,
            compress_type: CompressionType::Zlib,
        }
    }
}

impl Limits {
    /// The range checks of [`ProducerConfigBuilder::build`](super::ProducerConfigBuilder::build).
    pub(super) fn check(&self) -> Result<(), Error> {
        self.compress_type
            .check_level(self.compress_level)
            .map_err(Error::config)?;
        for (name, v) in [
            ("max_message_size", self.max_message_size),
            ("max_in_flight", self.max_in_flight),
            ("max_in_flight_bytes", self.max_in_flight_bytes),
        ] {
            if v == 0 {
                return Err(Error::config(format!("{name} must be greater than zero")));
            }
        }
        Ok(())
    }
}

/// How long things may take and how often they recur; each must be > 0.
///
/// | field | Java name | default |
/// | --- | --- | --- |
/// | `send_timeout` | `sendMsgTimeout` | 3 s, the whole send, retries included |
/// | `poll_name_server_interval` | `pollNameServerInterval` | 30 s |
/// | `heartbeat_broker_interval` | `heartbeatBrokerInterval` | 30 s |
/// | `mq_client_api_timeout` | `mqClientApiTimeout` | 3 s, route, heartbeat and unregister requests |
/// | `connect_timeout` | `connectTimeoutMillis` (Netty client config) | 3 s |
///
/// ```
/// use std::time::Duration;
/// use actix_rocketmq::producer::config::Timers;
/// assert_eq!(Timers::default().poll_name_server_interval, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// The whole time budget of one send, retries included.
    pub send_timeout: Duration,
    /// How often routes are fetched again.
    pub poll_name_server_interval: Duration,
    /// How often brokers get a heartbeat.
    pub heartbeat_broker_interval: Duration,
    /// Timeout of route, heartbeat and unregister requests.
    pub mq_client_api_timeout: Duration,
    /// Timeout of opening a TCP connection.
    pub connect_timeout: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            send_timeout: Duration::from_secs(3),
            poll_name_server_interval: Duration::from_secs(30),
            heartbeat_broker_interval: Duration::from_secs(30),
            mq_client_api_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

impl Timers {
    /// The range checks of [`ProducerConfigBuilder::build`](super::ProducerConfigBuilder::build).
    pub(super) fn check(&self) -> Result<(), Error> {
        for (name, d) in [
            ("send_timeout", self.send_timeout),
            ("poll_name_server_interval", self.poll_name_server_interval),
            ("heartbeat_broker_interval", self.heartbeat_broker_interval),
            ("mq_client_api_timeout", self.mq_client_api_timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if d.is_zero() {
                return Err(Error::config(format!("{name} must be greater than zero")));
            }
        }
        Ok(())
    }
}
