//! The producer: the `ProducerActor` and its messages, plus the pure logic it
//! runs (configuration, queue selection, fault tolerance, hooks, send results).
//! The actor orchestrates; the send path's parts (`send/`), the route cache
//! (`routes`), request–reply and transactions each own their state.

mod actor;
mod batching;
pub mod config;
pub mod ext;
pub mod fault;
pub mod hooks;
#[cfg(feature = "serde")]
pub mod java_properties;
pub mod messages;
mod observe;
#[cfg(feature = "metrics")]
pub(crate) use observe::metrics as observe_metrics;
mod recall;
mod request_reply;
mod routes;
pub mod selector;
mod send;
pub mod send_result;
pub mod trace;
pub mod transaction;

pub use actor::ProducerActor;
pub use ext::ProducerExt;
