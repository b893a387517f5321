//! The producer: the `ProducerActor` and its messages, plus the pure logic it
//! runs (configuration, queue selection, fault tolerance, hooks, send results).

pub mod actor;
pub mod config;
pub mod ext;
pub mod fault;
pub mod hooks;
#[cfg(feature = "serde")]
pub mod java_properties;
pub mod messages;
pub mod selector;
pub mod send_result;
pub mod transaction;

pub use actor::ProducerActor;
pub use ext::ProducerExt;
