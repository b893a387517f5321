//! actix-rocketmq: a RocketMQ producer client for actix services.
//!
//! It speaks the RocketMQ *remoting* protocol (RocketMQ 4.x / 5.x name servers
//! and brokers) and behaves like the Java `DefaultMQProducer`: it finds routes,
//! keeps connections and heartbeats, retries and steers around failing brokers.
//!
//! Start a producer, then send it messages:
//!
//! ```no_run
//! use actix_rocketmq::{Message, ProducerActor, ProducerConfig, ProducerExt, SendMessage};
//!
//! #[actix_rt::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = ProducerConfig::builder("my_producer_group")
//!         .namesrv_addr("127.0.0.1:9876")
//!         .build()?;
//!     let producer = ProducerActor::start(config).await?;
//!     let msg = Message::new("TopicTest", "Hello RocketMQ").with_tags("TagA").with_keys("order-1");
//!     // The actix way: the mailbox's Result, then the send's.
//!     let result = producer.send(SendMessage::new(msg)).await??;
//!     println!("{} stored at queue {} offset {}", result.msg_id, result.message_queue.queue_id, result.queue_offset);
//!     // Or through ProducerExt, one Result per call:
//!     let result = producer.send_message(Message::new("TopicTest", "again")).await?;
//!     println!("{result}");
//!     producer.shutdown().await?; // same as producer.send(actix_rocketmq::Shutdown).await
//!     Ok(())
//! }
//! ```
//!
//! Every send form (one-way, to a queue, by selector, batch, transactional,
//! request–reply, publish queues) is a message of [`producer::messages`] (and
//! [`producer::transaction`]) and a method of [`ProducerExt`].
//!
//! # Runtime
//!
//! The producer is an actix actor: [`ProducerActor::start`] must run inside an
//! actix System (`#[actix_rt::main]`, `#[actix_web::main]`,
//! `actix_rt::System::new().block_on(..)`, an actix-web worker or an
//! `Arbiter`) and runs the producer on that thread. On a plain tokio runtime
//! (`#[tokio::main]`) it returns an [`ErrorKind::Config`] error saying so. The
//! `Addr<ProducerActor>` it returns is `Send + Sync`, and its replies are
//! plain futures: code on any thread and any executor, a plain tokio runtime
//! included, can send through it as long as the System that started it runs
//! (see `examples/plain_system.rs`). [`actix`] is re-exported, so a service
//! can name the same actix version as this crate.
//!
//! # Cargo features
//!
//! * `testkit`: `actix_rocketmq::testkit`, an in-process fake name server and broker
//!   (`TestCluster`) for tests, yours and ours; no RocketMQ needed.
//! * `serde`: `producer::java_properties`, producer settings from a serde
//!   map under their Java property names (`sendMsgTimeout`, `namesrvAddr`, ..),
//!   with `ProducerConfig::from_java_properties` and
//!   `ProducerConfigBuilder::apply`.
//! * `metrics`: the client's counters, gauges and histograms through the
//!   [`metrics`](https://docs.rs/metrics) facade, for the exporter you install
//!   (Prometheus, StatsD, ..); [`metric_names`] lists them. Off, they compile to nothing.
//!
//! # Tracing
//!
//! Every send has a `tracing` span, `rocketmq.send` (level INFO, target
//! `actix_rocketmq::send`), opened when the send message is made (so the
//! mailbox wait is inside it, and the caller's current span is its parent) and
//! closed when its reply is delivered. Its fields use the OpenTelemetry
//! messaging names (`messaging.system`, `messaging.destination.name`,
//! `messaging.message.id`, `server.address`, ..) and it records the attempts,
//! the queue and offset, or `error.type` ([`ErrorKind::as_str`]). Each attempt
//! is a child span `rocketmq.send.attempt` (DEBUG); route look-ups, connects,
//! heartbeats (DEBUG) and transaction checks (INFO) have spans too. With no
//! subscriber interested, a span is disabled and costs a level check.
//!
//! # Errors
//!
//! Every fallible call returns the one [`Error`] type. [`Error::kind`] says
//! what failed ([`ErrorKind`]: validation, route, timeout, broker code,
//! connection, back-pressure, shut down, configuration, ..), and the accessors
//! answer the usual questions: [`Error::is_retriable`] (would sending again
//! later likely work), [`Error::is_timeout`], [`Error::response_code`] (the
//! broker's code), [`Error::client_error_code`] (the Java `ClientErrorCode`),
//! [`Error::attempts`] and [`Error::brokers_tried`]. `Display` says what to do
//! about it; [`std::error::Error::source`] walks to the wrapped cause
//! (connection, route, protocol, validation, instance errors), so `anyhow`
//! and `eyre` reports show the chain. A stopped producer's closed mailbox
//! ([`actix::MailboxError`]) converts into [`ErrorKind::ShutDown`].
//!
//! # Guarantees
//!
//! * **Exactly one reply** to every send, within its timeout. The send timeout
//!   (3 s by default) starts when the send message (e.g. [`SendMessage`]) is
//!   created: mailbox wait, route look-up and every retry count.
//! * **Acknowledged means stored**: `Ok(SendResult)` only after the broker
//!   answered SUCCESS (or FLUSH_DISK_TIMEOUT / FLUSH_SLAVE_TIMEOUT /
//!   SLAVE_NOT_AVAILABLE, reported in [`SendResult::status`]).
//! * **Retries like Java**: sync sends make up to 1 + `retry_times_when_send_failed`
//!   attempts on another broker, on connection errors, timeouts and the
//!   retriable broker codes (incl. SYSTEM_BUSY and GO_AWAY); each attempt gets
//!   only the time left. A retried message keeps its `UNIQ_KEY` (at-least-once:
//!   consumers should be idempotent) and its already-compressed body.
//! * **No head-of-line blocking**: the producer never awaits a round trip in
//!   its handler; requests are pipelined on one connection per broker.
//! * **Bounded memory**: `max_in_flight` and `max_in_flight_bytes`; beyond
//!   them a send waits within its timeout; a message that could never fit
//!   fails at once.
//! * **Survives broker failure**: a broken connection fails its waiting
//!   requests at once, the connection actor is restarted by its supervisor
//!   with backoff, and the next request reconnects. A name server that is
//!   down leaves cached routes in use.
//! * **Bad input is a typed error** ([`Error::kind`]), never a panic or a hang.
//!
//! # Examples
//!
//! Each runs with no setup (an in-process test broker starts inside it), or
//! against a cluster with `-- --namesrv HOST:PORT`:
//!
//! * `examples/quickstart.rs` (`cargo run --example quickstart`): start, send, print.
//! * `examples/plain_system.rs` (`cargo run --example plain_system`): the
//!   producer from a plain `fn main` with an `actix_rt::System`, and from a
//!   thread on a plain tokio runtime.
//! * `examples/actix_web.rs` (`cargo run --example actix_web`): an HTTP
//!   service that publishes request bodies, errors mapped to statuses.
//! * `examples/transaction.rs` (`cargo run --example transaction`): commit,
//!   rollback, and a transaction settled by the broker's check.
//! * `examples/benchmark/` (`cargo run --release --example benchmark -- --null-broker`): load tool.
//!
//! Layers, from the bottom: `protocol` (the wire format, no actors) and
//! `runtime` (connections, routes, heartbeats, the client instance), both
//! internal, and [`producer`] (the send pipeline). See `ARCHITECTURE.md`.
#![warn(missing_docs)]

pub mod error;
pub mod producer;
pub(crate) mod protocol;
pub(crate) mod runtime;
#[cfg(feature = "testkit")]
pub mod testkit;

/// The names of the client's metrics (feature `metrics`); README lists each
/// one's type and labels.
#[cfg(feature = "metrics")]
pub mod metric_names {
    pub use crate::producer::observe_metrics::*;
    pub use crate::runtime::metrics::*;
    /// The `rocketmq_send_cost_time` buckets (ms) of the RocketMQ 5.x clients,
    /// for exporters that take explicit buckets.
    pub const SEND_COST_TIME_BUCKETS_MS: [f64; 7] = [1.0, 5.0, 10.0, 20.0, 50.0, 200.0, 500.0];
}

/// The remoting protocol and the actor runtime, for this crate's own
/// integration tests and benches: not API, no semver promise.
#[doc(hidden)]
pub mod internals {
    /// The RocketMQ remoting protocol (no actors, no sockets).
    pub mod protocol {
        pub use crate::protocol::*;
    }
    /// The actors that keep a client alive.
    pub mod runtime {
        pub use crate::runtime::*;
    }
}

/// The actix this crate is built on, so a service can name actix types
/// (`actix_rocketmq::actix::Addr`, `Actor`, `Handler`) with no actix
/// dependency of its own that could drift. A service that does depend on
/// another actix minor version gets a compile error where its types meet this
/// crate's (rustc: "two different versions of crate `actix` are being used"),
/// not a second, separate actix at run time: use this re-export, or the same version.
pub use actix;
pub use error::{Error, ErrorKind, WaitingFor};
pub use producer::config::{AutoBatch, ProducerConfig, ProducerConfigBuilder};
pub use producer::messages::{
    FetchPublishQueues, GetProducerStats, ProducerStats, RecallMessage, SendBatch, SendMessage,
    SendOneway, SendOutcome, SendRequest, SendToQueue, SendWithSelector, Shutdown,
};
pub use producer::selector::{
    MessageQueueSelector, SelectMessageQueueByHash, SelectMessageQueueByRandom, SelectorArg,
};
pub use producer::send_result::{SendResult, SendStatus};
pub use producer::trace::TraceStats;
pub use producer::transaction::{
    EndTransaction, ExecuteTransaction, SendMessageInTransaction, Transaction, TransactionCheck,
    TransactionChecker, TransactionListener, TransactionResolution, TransactionSendResult,
};
pub use producer::{ProducerActor, ProducerExt};
pub use protocol::acl::AclCredentials;
pub use protocol::compression::CompressionType;
pub use protocol::message::Message;
pub use protocol::route::MessageQueue;
pub use runtime::{ReconnectPolicy, TlsConfig};
