//! The texts of errors: what failed and what to do about it (the names and
//! advice per broker code and per wait), bounded to [`ERROR_TEXT_MAX`] bytes.
use std::fmt;

use super::{Error, ErrorKind, WaitingFor};
use crate::protocol::response_code as rc;

impl WaitingFor {
    fn describe(self) -> &'static str {
        match self {
            WaitingFor::Route => "the topic's route from the name servers",
            WaitingFor::Connection => "a connection to the broker",
            WaitingFor::Reply => "the broker's reply",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            WaitingFor::Route => "check that the name servers are up and answer for this topic",
            WaitingFor::Connection => "check that the brokers are up and reachable",
            WaitingFor::Reply => "raise send_timeout or check the brokers' health",
        }
    }
}

/// The Java name of a response code, for messages.
fn response_code_name(code: i32) -> &'static str {
    match code {
        rc::SUCCESS => "SUCCESS",
        rc::SYSTEM_ERROR => "SYSTEM_ERROR",
        rc::SYSTEM_BUSY => "SYSTEM_BUSY",
        rc::REQUEST_CODE_NOT_SUPPORTED => "REQUEST_CODE_NOT_SUPPORTED",
        rc::TRANSACTION_FAILED => "TRANSACTION_FAILED",
        rc::FLUSH_DISK_TIMEOUT => "FLUSH_DISK_TIMEOUT",
        rc::SLAVE_NOT_AVAILABLE => "SLAVE_NOT_AVAILABLE",
        rc::FLUSH_SLAVE_TIMEOUT => "FLUSH_SLAVE_TIMEOUT",
        rc::MESSAGE_ILLEGAL => "MESSAGE_ILLEGAL",
        rc::SERVICE_NOT_AVAILABLE => "SERVICE_NOT_AVAILABLE",
        rc::VERSION_NOT_SUPPORTED => "VERSION_NOT_SUPPORTED",
        rc::NO_PERMISSION => "NO_PERMISSION",
        rc::TOPIC_NOT_EXIST => "TOPIC_NOT_EXIST",
        rc::TOPIC_EXIST_ALREADY => "TOPIC_EXIST_ALREADY",
        rc::INVALID_PARAMETER => "INVALID_PARAMETER",
        rc::NO_BUYER_ID => "NO_BUYER_ID",
        rc::NOT_IN_CURRENT_UNIT => "NOT_IN_CURRENT_UNIT",
        rc::FLOW_CONTROL => "FLOW_CONTROL",
        rc::ILLEGAL_OPERATION => "ILLEGAL_OPERATION",
        rc::GO_AWAY => "GO_AWAY",
        _ => "UNKNOWN",
    }
}

/// What the user can do about a broker error code.
fn broker_advice(code: i32) -> &'static str {
    match code {
        rc::TOPIC_NOT_EXIST => "create the topic on this broker, or enable autoCreateTopicEnable",
        rc::NO_PERMISSION => "check the topic's write permission on this broker and the ACL",
        rc::SYSTEM_BUSY | rc::FLOW_CONTROL => "the broker is overloaded: slow down and retry",
        rc::SERVICE_NOT_AVAILABLE => {
            "the broker does not accept writes now (slave, disk full or shutting down): retry later or on another broker"
        }
        rc::GO_AWAY => "the broker is shutting down: retry on another broker",
        rc::MESSAGE_ILLEGAL | rc::INVALID_PARAMETER => {
            "check the topic name, message size and properties against the broker's limits"
        }
        rc::VERSION_NOT_SUPPORTED | rc::REQUEST_CODE_NOT_SUPPORTED => {
            "the broker does not support this request: check the broker version"
        }
        _ => "see the broker's remark and log",
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Validation(e) => write!(f, "message refused before sending: {e}"),
            ErrorKind::Route(e) => write!(f, "{e}"),
            ErrorKind::Timeout {
                waiting_for,
                elapsed,
                attempts,
                brokers_tried,
            } => write!(
                f,
                "send timed out after {elapsed:?} waiting for {} ({attempts} attempt(s), brokers \
                 tried: [{}]); {}",
                waiting_for.describe(),
                brokers_tried.join(", "),
                waiting_for.advice()
            ),
            ErrorKind::Broker {
                code,
                remark,
                broker,
            } => write!(
                f,
                "broker `{broker}` answered {code} ({}): {remark}; {}",
                response_code_name(*code),
                broker_advice(*code)
            ),
            ErrorKind::Connection(e) => {
                write!(f, "{e}; check that the broker is up and reachable")
            }
            ErrorKind::Protocol { peer, error } => write!(
                f,
                "{} sent something this client cannot decode: {error}; it is not speaking \
                 RocketMQ remoting correctly (check that the address is a RocketMQ broker or \
                 name server of a supported version)",
                peer.as_deref().unwrap_or("the broker")
            ),
            ErrorKind::Backpressure {
                in_flight,
                in_flight_bytes,
                max_in_flight,
                max_in_flight_bytes,
            } => write!(
                f,
                "too much in flight: {in_flight} sends / {in_flight_bytes} bytes, limits \
                 {max_in_flight} sends / {max_in_flight_bytes} bytes; slow down, or raise \
                 max_in_flight / max_in_flight_bytes"
            ),
            ErrorKind::Forbidden { hook, reason } => {
                write!(f, "send forbidden by hook `{hook}`: {reason}")
            }
            ErrorKind::NoQueueSelected { topic } => write!(
                f,
                "no message queue selected for topic `{topic}`; make the selector return a queue of the list"
            ),
            ErrorKind::SelectorPanicked { topic, panic } => write!(
                f,
                "the message queue selector panicked for topic `{topic}`: {panic}; fix the selector"
            ),
            ErrorKind::Instance(e) => write!(f, "{e}"),
            ErrorKind::ShutDown => write!(
                f,
                "the producer has been shut down; create and start a new producer"
            ),
            ErrorKind::Config(reason) => write!(f, "invalid producer configuration: {reason}"),
        }
    }
}

/// The most bytes an error's text takes: peer texts inside are cut already,
/// this bounds the rest (a long list of brokers tried, nested texts).
pub const ERROR_TEXT_MAX: usize = 4096;

/// Writes through to `out` until [`ERROR_TEXT_MAX`] bytes, then marks the cut.
struct Bounded<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    written: usize,
    cut: bool,
}

impl fmt::Write for Bounded<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.cut {
            return Ok(());
        }
        let room = ERROR_TEXT_MAX - self.written;
        if s.len() <= room {
            self.written += s.len();
            return self.out.write_str(s);
        }
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.cut = true;
        self.written = ERROR_TEXT_MAX;
        self.out.write_str(&s[..end])?;
        self.out.write_str("… (cut)")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        let f = &mut Bounded {
            out,
            written: 0,
            cut: false,
        };
        write!(f, "{}", self.inner.kind)?;
        // A timeout already names its attempts; others get them appended when there were retries.
        if !matches!(self.inner.kind, ErrorKind::Timeout { .. }) && self.inner.attempts > 0 {
            write!(
                f,
                " (after {} attempt(s), brokers tried: [{}])",
                self.inner.attempts,
                self.inner.brokers_tried.join(", ")
            )?;
        }
        Ok(())
    }
}
