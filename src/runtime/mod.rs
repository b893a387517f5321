//! The actors that keep a client alive: connections, routes, heartbeats and
//! the `ClientInstance` that supervises them. They know protocol types, never
//! byte layouts.

pub mod connection;
pub(crate) mod deadline_queue;
pub mod error;
mod failed_lookups;
pub mod heartbeat;
pub mod instance;
pub mod live;
pub(crate) mod metrics;
pub mod namesrv_http;
pub mod reconnect;
pub mod route_manager;
pub(crate) mod supervise;
pub mod tls;

pub use connection::{Connection, ConnectionActor, ConnectionConfig};
pub use error::{NetError, RouteError};
pub use reconnect::ReconnectPolicy;
pub use tls::TlsConfig;

/// Test hook: stops a supervised runtime actor (`RouteManager`, `HeartbeatActor`)
/// as a fault would, outside an orderly shutdown; its supervisor restarts it.
#[doc(hidden)]
pub struct StopUnexpectedly;

impl actix::Message for StopUnexpectedly {
    type Result = ();
}
