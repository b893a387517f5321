//! actix-rocketmq: a RocketMQ producer client for actix services.
//!
//! Start a producer, then send it messages:
//!
//! ```no_run
//! use actix_rocketmq::{Message, ProducerActor, ProducerConfig, SendMessage};
//!
//! #[actix_rt::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = ProducerConfig::builder("my_producer_group")
//!         .namesrv_addr("127.0.0.1:9876")
//!         .build()?;
//!     let producer = ProducerActor::start(config).await?;
//!     let msg = Message::new("TopicTest", "Hello RocketMQ").with_tags("TagA").with_keys("order-1");
//!     let result = producer.send(SendMessage::new(msg)).await??;
//!     println!("{} stored at queue {} offset {}", result.msg_id, result.message_queue.queue_id, result.queue_offset);
//!     producer.send(actix_rocketmq::Shutdown).await?;
//!     Ok(())
//! }
//! ```
//!
//! Layers, from the bottom: [`protocol`] (the wire format, no actors),
//! [`runtime`] (connections, routes, heartbeats, the client instance) and
//! [`producer`] (the send pipeline). See `ARCHITECTURE.md`.
#![warn(missing_docs)]

pub mod error;
pub mod producer;
pub mod protocol;
pub mod runtime;
#[cfg(feature = "testkit")]
pub mod testkit;

/// The actix this crate is built on, so a service can name actix types
/// (`actix_rocketmq::actix::Addr`, `Actor`, `Handler`) with no actix
/// dependency of its own that could drift. A service that does depend on
/// another actix minor version gets a compile error where its types meet this
/// crate's (rustc: "two different versions of crate `actix` are being used"),
/// not a second, separate actix at run time: use this re-export, or the same version.
pub use actix;
pub use error::{Error, ErrorKind};
pub use producer::config::{ProducerConfig, ProducerConfigBuilder};
pub use producer::messages::{
    FetchPublishQueues, GetProducerStats, ProducerStats, SendBatch, SendMessage, SendOneway,
    SendOutcome, SendRequest, SendToQueue, SendWithSelector, Shutdown,
};
pub use producer::selector::{
    MessageQueueSelector, SelectMessageQueueByHash, SelectMessageQueueByRandom, SelectorArg,
};
pub use producer::send_result::{SendResult, SendStatus};
pub use producer::transaction::{
    EndTransaction, SendMessageInTransaction, Transaction, TransactionCheck, TransactionChecker,
    TransactionResolution,
};
pub use producer::{ProducerActor, ProducerExt};
pub use protocol::acl::AclCredentials;
pub use protocol::message::Message;
pub use protocol::route::MessageQueue;
pub use runtime::TlsConfig;
