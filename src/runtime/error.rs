//! Errors of the actor runtime: connections, requests, routes.
use thiserror::Error;

use crate::protocol::ProtocolError;

/// Why a request to a remote (name server or broker) got no response.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetError {
    /// The TCP connection could not be opened (refused, unreachable, connect timeout).
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// The remote `ip:port`.
        addr: String,
        /// The socket error's text.
        reason: String,
    },
    /// The connection broke (reset, closed, dead peer) while the request waited.
    #[error("connection to {addr} closed: {reason}")]
    Closed {
        /// The remote `ip:port`.
        addr: String,
        /// Why it closed.
        reason: String,
    },
    /// No response before the request's deadline.
    #[error("no response from {addr} within the timeout")]
    Timeout {
        /// The remote `ip:port`.
        addr: String,
    },
    /// The peer sent bytes that are not RocketMQ remoting (an undecodable frame,
    /// an oversized length, a broken header); the connection was closed.
    #[error("{addr} sent a frame this client cannot decode: {source}")]
    Protocol {
        /// The remote `ip:port`.
        addr: String,
        /// What could not be decoded.
        source: ProtocolError,
    },
    /// A frame could not be encoded.
    #[error("cannot encode the request for {addr}: {source}")]
    Encode {
        /// The remote `ip:port`.
        addr: String,
        /// The encoding error.
        source: ProtocolError,
    },
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
            | NetError::Protocol { addr, .. }
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
    NoRoute {
        /// The topic.
        topic: String,
    },
    /// No name server could be reached (none answered at all).
    #[error("no name server reachable for topic `{topic}`: {last}")]
    NameServerUnreachable {
        /// The topic.
        topic: String,
        /// The error from the last name server tried.
        #[source]
        last: NetError,
    },
    /// A name server answered the look-up with an error code.
    #[error("name server {namesrv} answered code {code} for topic `{topic}`: {remark}")]
    Rejected {
        /// The topic.
        topic: String,
        /// The name server that answered.
        namesrv: String,
        /// The name server's response code.
        code: i32,
        /// The name server's remark (cut to 512 bytes).
        remark: String,
    },
    /// A name server answered with a body that is not a route.
    #[error(
        "name server {namesrv} answered a body for topic `{topic}` that is not a route: {source}"
    )]
    Malformed {
        /// The topic.
        topic: String,
        /// The name server that answered.
        namesrv: String,
        /// The parse error.
        source: ProtocolError,
    },
    /// A name server answered a route with nothing to send to.
    #[error(
        "name server {namesrv} answered an unusable route for topic `{topic}`: {reason}; check the topic's queues and permissions, and that its brokers are registered"
    )]
    Unusable {
        /// The topic.
        topic: String,
        /// The name server that answered.
        namesrv: String,
        /// Why no queue can be written (no master, no writable queue, ...).
        reason: String,
    },
    /// The client instance has been shut down.
    #[error("the client has been shut down")]
    Shutdown,
}

/// Why the `ClientInstance` refused a request.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstanceError {
    /// `StartInstance` was sent to an instance that is running (or failed to start).
    #[error("the client instance is already started")]
    AlreadyStarted,
    /// The instance has been shut down (Java `SHUTDOWN_ALREADY`).
    #[error("the client instance has been shut down; start a new producer")]
    ShutDown,
    /// Starting failed, for the reason given (Java `START_FAILED`).
    #[error("the client instance failed to start: {0}")]
    StartFailed(String),
    /// This producer group is already registered in the instance (one producer per group per instance).
    #[error(
        "producer group `{0}` is already registered in this client instance; use another group name or instance name"
    )]
    DuplicateGroup(String),
}
