//! Errors of the actor runtime: connections, requests, routes.
use thiserror::Error;

use crate::protocol::ProtocolError;

/// Why a request to a remote (name server or broker) got no response.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetError {
    /// The TCP connection could not be opened (refused, unreachable, connect timeout).
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    /// The connection broke (reset, closed, dead peer) while the request waited.
    #[error("connection to {addr} closed: {reason}")]
    Closed { addr: String, reason: String },
    /// No response before the request's deadline.
    #[error("no response from {addr} within the timeout")]
    Timeout { addr: String },
    /// A frame could not be encoded.
    #[error("cannot encode the request for {addr}: {source}")]
    Encode { addr: String, source: ProtocolError },
    /// The client instance (or connection) has been shut down.
    #[error("the client has been shut down")]
    Shutdown,
}

impl NetError {
    /// The remote address the error concerns, if any.
    pub fn addr(&self) -> Option<&str> {
        match self {
            NetError::Connect { addr, .. }
            | NetError::Closed { addr, .. }
            | NetError::Timeout { addr }
            | NetError::Encode { addr, .. } => Some(addr),
            NetError::Shutdown => None,
        }
    }
}

/// Why no publish route could be found for a topic.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// No name server address was configured and `NAMESRV_ADDR` is unset.
    #[error("no name server address: set it in the producer config or NAMESRV_ADDR")]
    NoNameServer,
    /// Every name server answered, and none (nor TBW102 auto-creation) knows the topic.
    #[error(
        "no route info of topic `{topic}`: create the topic or enable auto-creation on the broker"
    )]
    NoRoute { topic: String },
    /// No name server could be reached.
    #[error("no name server reachable for topic `{topic}`: {last}")]
    NameServerUnreachable { topic: String, last: NetError },
    /// A name server answered with something unexpected.
    #[error("name server answered code {code} for topic `{topic}`: {remark}")]
    Rejected {
        topic: String,
        code: i32,
        remark: String,
    },
    /// The route body did not parse.
    #[error("malformed route for topic `{topic}`: {source}")]
    Malformed {
        topic: String,
        source: ProtocolError,
    },
    #[error("the client has been shut down")]
    Shutdown,
}

/// Why the `ClientInstance` refused a request.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstanceError {
    #[error("the client instance is already started")]
    AlreadyStarted,
    #[error("the client instance has been shut down; start a new producer")]
    ShutDown,
    #[error("the client instance failed to start: {0}")]
    StartFailed(String),
    #[error("producer group `{0}` is already registered in this client instance; use another group name or instance name")]
    DuplicateGroup(String),
}
