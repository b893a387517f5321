//! The one public error type of the crate: [`Error`], classified by [`ErrorKind`].
//!
//! Every failure a user can see (a refused message, a missing route, a timeout,
//! a broker error code, a broken connection, back-pressure, a stopped producer)
//! is an [`Error`]; [`Error::kind`] says which, and the accessors answer the
//! questions a caller usually has: is it a timeout, is a retry worth it, which
//! brokers were tried, which code did the broker answer.
//!
//! ```
//! use actix_rocketmq::error::{Error, ErrorKind};
//!
//! let err = Error::broker(17, "topic[T] not exist", "broker-a");
//! assert_eq!(err.response_code(), Some(17));
//! assert!(err.is_retriable());
//! assert!(matches!(err.kind(), ErrorKind::Broker { code: 17, .. }));
//! println!("{err}");
//! ```
use std::fmt;
use std::time::Duration;

use crate::protocol::codes::DEFAULT_RETRY_RESPONSE_CODES;
use crate::protocol::peer_text::bounded_owned;
use crate::protocol::response_code as rc;

mod display;
mod kind;

/// The layer errors [`ErrorKind`] wraps, nameable for matching.
pub use crate::protocol::ProtocolError;
/// The broker response codes of [`ErrorKind::Broker`] (Java `ResponseCode`).
pub use crate::protocol::codes::response_code;
pub use crate::protocol::validation::ValidationError;
pub use crate::runtime::error::{InstanceError, NetError, RouteError};
pub use display::ERROR_TEXT_MAX;
pub use kind::{ErrorKind, WaitingFor};

/// The Java client's `ClientErrorCode` values, as returned by [`Error::client_error_code`].
///
/// ```
/// use actix_rocketmq::error::client_error_code;
/// assert_eq!(client_error_code::ACCESS_BROKER_TIMEOUT, 10002);
/// ```
pub mod client_error_code {
    /// The broker could not be connected to (or the connection broke).
    pub const CONNECT_BROKER_EXCEPTION: i32 = 10001;
    /// The broker did not answer in time.
    pub const ACCESS_BROKER_TIMEOUT: i32 = 10002;
    /// Any other client-side failure of a send (Java: `MQClientException` in the retry loop).
    pub const BROKER_NOT_EXIST_EXCEPTION: i32 = 10003;
    /// No name server address is configured.
    pub const NO_NAME_SERVER_EXCEPTION: i32 = 10004;
    /// The topic has no route.
    pub const NOT_FOUND_TOPIC_EXCEPTION: i32 = 10005;
    /// A request–reply call got no reply in time.
    pub const REQUEST_TIMEOUT_EXCEPTION: i32 = 10006;
    /// A reply message could not be created.
    pub const CREATE_REPLY_MESSAGE_EXCEPTION: i32 = 10007;
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    // Retry context of non-timeout failures; a Timeout carries its own in the kind.
    attempts: u32,
    brokers_tried: Vec<String>,
}

/// The error of every fallible call of this crate.
///
/// Cheap to move (one pointer) and `Clone`, so one failure can be reported to
/// several waiters. `Display` says what failed and what to do about it, the
/// wrapped error's text included. [`std::error::Error::source`] returns the
/// wrapped error of the kinds that have one (`Connection`, `Route`,
/// `Protocol`, `Validation`, `Instance`), and that error its own cause, so an
/// `anyhow`/`eyre` report walks the whole chain; match on [`Error::kind`] to
/// handle a case.
///
/// ```
/// use actix_rocketmq::error::Error;
/// use actix_rocketmq::error::NetError;
///
/// let err: Error = NetError::Timeout { addr: "10.0.0.1:10911".into() }.into();
/// assert!(err.is_timeout());
/// assert_eq!(err.client_error_code(), Some(10002));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    inner: Box<Inner>,
}

impl Error {
    /// An error of the given kind, with no retry context.
    ///
    /// ```
    /// use actix_rocketmq::error::{Error, ErrorKind};
    /// let e = Error::new(ErrorKind::ShutDown);
    /// assert_eq!(e.kind(), &ErrorKind::ShutDown);
    /// ```
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                attempts: 0,
                brokers_tried: Vec::new(),
            }),
        }
    }

    /// A broker answered `code` with `remark`.
    ///
    /// ```
    /// let e = actix_rocketmq::error::Error::broker(2, "[REJECTREQUEST]", "broker-a");
    /// assert_eq!(e.response_code(), Some(2));
    /// ```
    pub fn broker(code: i32, remark: impl Into<String>, broker: impl Into<String>) -> Self {
        Error::new(ErrorKind::Broker {
            code,
            remark: bounded_owned(remark.into()),
            broker: broker.into(),
        })
    }

    /// The send's budget ran out after `attempts` attempts on `brokers_tried`,
    /// waiting for the broker's reply (see [`Error::waiting_for`] for the rest).
    ///
    /// ```
    /// use std::time::Duration;
    /// let e = actix_rocketmq::error::Error::timeout(Duration::from_secs(3), 2, vec!["a".into(), "b".into()]);
    /// assert_eq!(e.brokers_tried(), ["a", "b"]);
    /// ```
    pub fn timeout(elapsed: Duration, attempts: u32, brokers_tried: Vec<String>) -> Self {
        Error::new(ErrorKind::Timeout {
            waiting_for: WaitingFor::Reply,
            elapsed,
            attempts,
            brokers_tried,
        })
    }

    /// A timeout that ran out waiting for `what` (other errors are unchanged).
    ///
    /// ```
    /// use actix_rocketmq::error::{Error, WaitingFor};
    /// let e = Error::timeout(Default::default(), 0, vec![]).waiting_for(WaitingFor::Route);
    /// assert!(e.to_string().contains("waiting for the topic's route"));
    /// ```
    pub fn waiting_for(mut self, what: WaitingFor) -> Self {
        if let ErrorKind::Timeout { waiting_for, .. } = &mut self.inner.kind {
            *waiting_for = what;
        }
        self
    }

    /// Too much in flight.
    ///
    /// ```
    /// let e = actix_rocketmq::error::Error::backpressure(10, 1024, 10, 4096);
    /// assert!(e.is_retriable());
    /// ```
    pub fn backpressure(
        in_flight: usize,
        in_flight_bytes: usize,
        max_in_flight: usize,
        max_in_flight_bytes: usize,
    ) -> Self {
        Error::new(ErrorKind::Backpressure {
            in_flight,
            in_flight_bytes,
            max_in_flight,
            max_in_flight_bytes,
        })
    }

    /// A forbidden-check hook named `hook` refused the send.
    ///
    /// ```
    /// let e = actix_rocketmq::error::Error::forbidden("acl", "topic T is read-only");
    /// assert!(e.to_string().contains("topic T is read-only"));
    /// ```
    pub fn forbidden(hook: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Forbidden {
            hook: hook.into(),
            reason: reason.into(),
        })
    }

    /// No queue was selected for `topic`.
    ///
    /// ```
    /// let e = actix_rocketmq::error::Error::no_queue_selected("T");
    /// assert!(!e.is_retriable());
    /// ```
    pub fn no_queue_selected(topic: impl Into<String>) -> Self {
        Error::new(ErrorKind::NoQueueSelected {
            topic: topic.into(),
        })
    }

    /// The selector of a send to `topic` panicked, saying `panic`.
    ///
    /// ```
    /// let e = actix_rocketmq::error::Error::selector_panicked("T", "boom");
    /// assert!(!e.is_retriable());
    /// assert!(e.to_string().contains("boom"));
    /// ```
    pub fn selector_panicked(topic: impl Into<String>, panic: impl Into<String>) -> Self {
        Error::new(ErrorKind::SelectorPanicked {
            topic: topic.into(),
            panic: panic.into(),
        })
    }

    /// The producer has been shut down.
    ///
    /// ```
    /// assert!(!actix_rocketmq::error::Error::shut_down().is_retriable());
    /// ```
    pub fn shut_down() -> Self {
        Error::new(ErrorKind::ShutDown)
    }

    /// The configuration is invalid, for the reason given.
    ///
    /// ```
    /// let e = actix_rocketmq::error::Error::config("send_timeout must be > 0");
    /// assert!(e.to_string().contains("send_timeout"));
    /// ```
    pub fn config(reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config(reason.into()))
    }

    /// Records that this is the final error after `attempts` attempts on
    /// `brokers_tried` (for a timeout, replaces the kind's own record).
    ///
    /// ```
    /// let e = actix_rocketmq::error::Error::broker(1, "oops", "b")
    ///     .after_attempts(3, vec!["a".into(), "b".into(), "a".into()]);
    /// assert_eq!(e.attempts(), 3);
    /// assert_eq!(e.brokers_tried().len(), 3);
    /// ```
    pub fn after_attempts(mut self, attempts: u32, brokers_tried: Vec<String>) -> Self {
        match &mut self.inner.kind {
            ErrorKind::Timeout {
                attempts: a,
                brokers_tried: b,
                ..
            } => {
                *a = attempts;
                *b = brokers_tried;
            }
            _ => {
                self.inner.attempts = attempts;
                self.inner.brokers_tried = brokers_tried;
            }
        }
        self
    }

    /// What went wrong.
    ///
    /// ```
    /// use actix_rocketmq::error::{Error, ErrorKind};
    /// assert_eq!(Error::shut_down().kind(), &ErrorKind::ShutDown);
    /// ```
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// Consumes the error, returning its kind.
    ///
    /// ```
    /// use actix_rocketmq::error::{Error, ErrorKind};
    /// assert_eq!(Error::shut_down().into_kind(), ErrorKind::ShutDown);
    /// ```
    pub fn into_kind(self) -> ErrorKind {
        self.inner.kind
    }

    /// True when the send ran out of time: the whole budget, or one request's deadline.
    ///
    /// ```
    /// assert!(actix_rocketmq::error::Error::timeout(Default::default(), 1, vec![]).is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Timeout { .. } | ErrorKind::Connection(NetError::Timeout { .. })
        )
    }

    /// True when sending the same message again later may well succeed.
    ///
    /// That is: timeouts, broken or refused connections, back-pressure, an
    /// unreachable name server, a malformed response, and broker codes of the
    /// Java default retry set (`DefaultMQProducer` `retryResponseCodes`) plus FLOW_CONTROL. Refused
    /// input, missing routes, forbidden sends, configuration errors and a
    /// stopped producer are not retriable. (The producer's own retry loop uses
    /// its configured `retry_response_codes` instead.)
    ///
    /// ```
    /// use actix_rocketmq::error::Error;
    /// assert!(Error::broker(2, "busy", "b").is_retriable());
    /// assert!(!Error::broker(13, "illegal", "b").is_retriable());
    /// ```
    pub fn is_retriable(&self) -> bool {
        match self.kind() {
            ErrorKind::Timeout { .. } | ErrorKind::Backpressure { .. } => true,
            ErrorKind::Protocol { .. } => true,
            ErrorKind::Connection(e) => matches!(
                e,
                NetError::Connect { .. } | NetError::Closed { .. } | NetError::Timeout { .. }
            ),
            ErrorKind::Broker { code, .. } => {
                DEFAULT_RETRY_RESPONSE_CODES.contains(code) || *code == rc::FLOW_CONTROL
            }
            ErrorKind::Route(e) => matches!(e, RouteError::NameServerUnreachable { .. }),
            _ => false,
        }
    }

    /// Attempts made before this error (0 when none was recorded).
    ///
    /// ```
    /// assert_eq!(actix_rocketmq::error::Error::shut_down().attempts(), 0);
    /// ```
    pub fn attempts(&self) -> u32 {
        match self.kind() {
            ErrorKind::Timeout { attempts, .. } => *attempts,
            _ => self.inner.attempts,
        }
    }

    /// Broker names tried, in order (empty when none was recorded).
    ///
    /// ```
    /// let e = actix_rocketmq::error::Error::timeout(Default::default(), 1, vec!["broker-a".into()]);
    /// assert_eq!(e.brokers_tried(), ["broker-a"]);
    /// ```
    pub fn brokers_tried(&self) -> &[String] {
        match self.kind() {
            ErrorKind::Timeout { brokers_tried, .. } => brokers_tried,
            _ => &self.inner.brokers_tried,
        }
    }

    /// The response code a broker (or name server) answered with, if that is what failed.
    ///
    /// ```
    /// assert_eq!(actix_rocketmq::error::Error::broker(16, "no perm", "b").response_code(), Some(16));
    /// assert_eq!(actix_rocketmq::error::Error::shut_down().response_code(), None);
    /// ```
    pub fn response_code(&self) -> Option<i32> {
        match self.kind() {
            ErrorKind::Broker { code, .. } => Some(*code),
            ErrorKind::Route(RouteError::Rejected { code, .. }) => Some(*code),
            _ => None,
        }
    }

    /// The Java `ClientErrorCode` a Java producer would report for this failure.
    ///
    /// 10001 connection failed, 10002 broker timeout, 10003 other client error
    /// during a send, 10004 no name server, 10005 no route. `None` for broker
    /// error codes (see [`Error::response_code`]) and for failures that Java
    /// reports without a client code (refused input, configuration, state).
    ///
    /// ```
    /// use actix_rocketmq::error::Error;
    /// use actix_rocketmq::error::RouteError;
    /// assert_eq!(Error::from(RouteError::NoNameServer).client_error_code(), Some(10004));
    /// ```
    pub fn client_error_code(&self) -> Option<i32> {
        use client_error_code::*;
        match self.kind() {
            ErrorKind::Timeout { .. } => Some(ACCESS_BROKER_TIMEOUT),
            ErrorKind::Connection(e) => Some(match e {
                NetError::Connect { .. } | NetError::Closed { .. } => CONNECT_BROKER_EXCEPTION,
                NetError::Timeout { .. } => ACCESS_BROKER_TIMEOUT,
                _ => BROKER_NOT_EXIST_EXCEPTION,
            }),
            ErrorKind::Route(RouteError::NoNameServer) => Some(NO_NAME_SERVER_EXCEPTION),
            ErrorKind::Route(RouteError::Shutdown) => None,
            ErrorKind::Route(_) => Some(NOT_FOUND_TOPIC_EXCEPTION),
            ErrorKind::Protocol { .. }
            | ErrorKind::Backpressure { .. }
            | ErrorKind::Forbidden { .. }
            | ErrorKind::NoQueueSelected { .. }
            | ErrorKind::SelectorPanicked { .. } => Some(BROKER_NOT_EXIST_EXCEPTION),
            _ => None,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        Error::new(ErrorKind::Validation(e))
    }
}

impl From<NetError> for Error {
    fn from(e: NetError) -> Self {
        match e {
            // A stopped connection means a stopped client: one kind for the user to match.
            NetError::Shutdown => Error::shut_down(),
            // The peer's bytes, not the connection, are at fault: one kind for both ways to find out.
            NetError::Protocol { addr, source } => Error::new(ErrorKind::Protocol {
                peer: Some(addr),
                error: source,
            }),
            e => Error::new(ErrorKind::Connection(e)),
        }
    }
}

impl From<RouteError> for Error {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::Shutdown => Error::shut_down(),
            e => Error::new(ErrorKind::Route(e)),
        }
    }
}

impl From<InstanceError> for Error {
    fn from(e: InstanceError) -> Self {
        match e {
            InstanceError::ShutDown => Error::shut_down(),
            e => Error::new(ErrorKind::Instance(e)),
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::new(ErrorKind::Protocol {
            peer: None,
            error: e,
        })
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if self.inner.attempts > 0 {
            d.field("attempts", &self.inner.attempts)
                .field("brokers_tried", &self.inner.brokers_tried);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self.kind() {
            ErrorKind::Connection(e) => Some(e),
            ErrorKind::Route(e) => Some(e),
            ErrorKind::Protocol { error, .. } => Some(error),
            ErrorKind::Validation(e) => Some(e),
            ErrorKind::Instance(e) => Some(e),
            _ => None,
        }
    }
}

/// A send whose producer has stopped: its mailbox is closed, or the producer
/// stopped before replying. So `addr.send(msg).await??` (and
/// [`ProducerExt`](crate::ProducerExt)) report one [`ErrorKind::ShutDown`].
///
/// `MailboxError::Timeout` only comes from `addr.send(msg).timeout(d)`: it
/// becomes an [`ErrorKind::Timeout`] with zero attempts (its `elapsed` is
/// unknown and reported as zero), not a shutdown, since the producer lives on.
///
/// ```
/// use actix_rocketmq::{Error, ErrorKind};
/// let e = Error::from(actix::MailboxError::Closed);
/// assert_eq!(e.kind(), &ErrorKind::ShutDown);
/// assert!(Error::from(actix::MailboxError::Timeout).is_timeout());
/// ```
impl From<actix::MailboxError> for Error {
    fn from(e: actix::MailboxError) -> Self {
        match e {
            actix::MailboxError::Closed => Error::shut_down(),
            actix::MailboxError::Timeout => Error::timeout(Duration::ZERO, 0, Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests;
