//! What failed: [`ErrorKind`], the kind of an [`Error`](super::Error) users match on,
//! and [`WaitingFor`], what a timed-out send was waiting for.
use std::time::Duration;

use crate::protocol::ProtocolError;
use crate::protocol::validation::ValidationError;
use crate::runtime::error::InstanceError;
use crate::runtime::{NetError, RouteError};

/// What went wrong, for matching on.
///
/// ```
/// use actix_rocketmq::error::{Error, ErrorKind};
///
/// fn describe(e: &Error) -> &'static str {
///     match e.kind() {
///         ErrorKind::Timeout { .. } => "slow",
///         ErrorKind::Broker { .. } => "refused",
///         _ => "other",
///     }
/// }
/// assert_eq!(describe(&Error::shut_down()), "other");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The message, topic or group was refused before anything was sent.
    Validation(ValidationError),
    /// No route for the topic, or the name servers could not be asked.
    Route(RouteError),
    /// The send's whole budget (`send_timeout`) ran out.
    Timeout {
        /// What the send was waiting for when its time ran out.
        waiting_for: WaitingFor,
        /// Time spent from receiving the send to giving up.
        elapsed: Duration,
        /// Attempts made (0 when the budget ran out before the first one).
        attempts: u32,
        /// Broker names tried, in order (a broker repeats if tried twice).
        brokers_tried: Vec<String>,
    },
    /// A broker answered with an error response code.
    Broker {
        /// The broker's response code (Java `ResponseCode`).
        code: i32,
        /// The broker's remark, verbatim.
        remark: String,
        /// The broker name (or its address when the name is unknown).
        broker: String,
    },
    /// A request could not be delivered or got no answer on the connection.
    Connection(NetError),
    /// A peer sent something this client cannot decode (a frame, or a success
    /// reply's fields): it is not speaking RocketMQ remoting correctly. A frame
    /// that does not decode also closes the connection.
    Protocol {
        /// The peer's address, when known.
        peer: Option<String>,
        /// What could not be decoded.
        error: ProtocolError,
    },
    /// Too many sends (or bytes) in flight, and no room freed in time.
    Backpressure {
        /// Sends in flight when this one was refused.
        in_flight: usize,
        /// Body bytes in flight when this one was refused.
        in_flight_bytes: usize,
        /// The configured `max_in_flight`.
        max_in_flight: usize,
        /// The configured `max_in_flight_bytes`.
        max_in_flight_bytes: usize,
    },
    /// A `CheckForbiddenHook` refused the send.
    Forbidden {
        /// The hook's name.
        hook: String,
        /// The hook's reason.
        reason: String,
    },
    /// A selector or the caller named no queue (or one that does not exist).
    NoQueueSelected {
        /// The topic being sent to.
        topic: String,
    },
    /// The send's `MessageQueueSelector` panicked; the send fails, the producer lives on.
    SelectorPanicked {
        /// The topic being sent to.
        topic: String,
        /// What the panic said.
        panic: String,
    },
    /// The client instance refused to start or register the producer.
    Instance(InstanceError),
    /// The producer (or its client instance) has been shut down.
    ShutDown,
    /// The configuration is invalid.
    Config(String),
}

impl ErrorKind {
    /// A stable, lower-case name of the kind, for metric labels and logs
    /// (`"timeout"`, `"broker"`, `"connection"`, ...): it never carries data.
    ///
    /// ```
    /// use actix_rocketmq::Error;
    /// assert_eq!(Error::broker(2, "busy", "b").kind().as_str(), "broker");
    /// assert_eq!(Error::shut_down().kind().as_str(), "shut_down");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::Validation(_) => "validation",
            ErrorKind::Route(_) => "route",
            ErrorKind::Timeout { .. } => "timeout",
            ErrorKind::Broker { .. } => "broker",
            ErrorKind::Connection(_) => "connection",
            ErrorKind::Protocol { .. } => "protocol",
            ErrorKind::Backpressure { .. } => "backpressure",
            ErrorKind::Forbidden { .. } => "forbidden",
            ErrorKind::NoQueueSelected { .. } => "no_queue_selected",
            ErrorKind::SelectorPanicked { .. } => "selector_panicked",
            ErrorKind::Instance(_) => "instance",
            ErrorKind::ShutDown => "shut_down",
            ErrorKind::Config(_) => "config",
        }
    }
}

/// What a send was waiting for when its time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitingFor {
    /// The topic's route from the name servers.
    Route,
    /// A connection to the broker (connecting, or backing off after failed connects).
    Connection,
    /// The broker's reply to a request written to it.
    Reply,
}
