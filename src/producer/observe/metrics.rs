//! The producer's metrics (feature `metrics`), through the `metrics` facade.
//! Names follow the RocketMQ 5.x clients where one exists; README lists them all.
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, SharedString, counter, gauge, histogram};
use rustc_hash::FxHashMap;
use tokio::time::Instant;

use crate::error::Error;
use crate::producer::send_result::SendResult;

/// Send latency (ms), as the RocketMQ 5.x clients name it.
pub const SEND_COST_TIME: &str = "rocketmq_send_cost_time";
/// Sends ended, by topic and outcome.
pub const SEND_TOTAL: &str = "rocketmq_send_total";
/// Failed sends, by topic and error kind.
pub const SEND_FAILURE_TOTAL: &str = "rocketmq_send_failure_total";
/// Attempts retried.
pub const SEND_RETRY_TOTAL: &str = "rocketmq_send_retry_total";
/// Sends in flight.
pub const IN_FLIGHT: &str = "rocketmq_producer_in_flight";
/// The bytes of the sends in flight.
pub const IN_FLIGHT_BYTES: &str = "rocketmq_producer_in_flight_bytes";
/// Sends that waited for room in the in-flight bounds.
pub const BACKPRESSURE_WAITS: &str = "rocketmq_producer_backpressure_waits_total";
/// Transaction checks answered, by resolution.
pub const TRANSACTION_CHECKS: &str = "rocketmq_transaction_checks_total";

/// A producer's metric handles, registered once (so install the recorder
/// before starting the producer): a send records through handles, never
/// building a key or a label.
pub(crate) struct ProducerLabels {
    client_id: SharedString,
    /// The in-flight count and bytes last reported: the gauges move by the
    /// difference, so producers of one group add up.
    reported: Cell<(usize, usize)>,
    in_flight: Gauge,
    in_flight_bytes: Gauge,
    backpressure_waits: Counter,
    /// Each topic's handles, made at its first send.
    topics: RefCell<FxHashMap<String, Rc<TopicMetrics>>>,
}

/// One topic's handles.
pub(crate) struct TopicMetrics {
    topic: SharedString,
    cost_success: Histogram,
    cost_failure: Histogram,
    /// By outcome: send_ok, flush_disk_timeout, flush_slave_timeout, slave_not_available, oneway, failure.
    outcomes: [Counter; 6],
    retries: Counter,
}

const OUTCOMES: [&str; 6] = [
    "send_ok",
    "flush_disk_timeout",
    "flush_slave_timeout",
    "slave_not_available",
    "oneway",
    "failure",
];

impl ProducerLabels {
    pub(crate) fn new(group: &str, client_id: &str) -> Self {
        let group = SharedString::from(Arc::<str>::from(group));
        ProducerLabels {
            client_id: SharedString::from(Arc::<str>::from(client_id)),
            reported: Cell::new((0, 0)),
            in_flight: gauge!(IN_FLIGHT, "producer_group" => group.clone()),
            in_flight_bytes: gauge!(IN_FLIGHT_BYTES, "producer_group" => group.clone()),
            backpressure_waits: counter!(BACKPRESSURE_WAITS, "producer_group" => group.clone()),
            topics: RefCell::default(),
        }
    }

    /// The handles of `topic`, registered at its first send.
    fn topic(&self, topic: &str) -> Rc<TopicMetrics> {
        if let Some(t) = self.topics.borrow().get(topic) {
            return t.clone();
        }
        let label = SharedString::from(Arc::<str>::from(topic));
        let id = self.client_id.clone();
        let cost = |status: &'static str| histogram!(SEND_COST_TIME, "topic" => label.clone(), "client_id" => id.clone(), "invocation_status" => status);
        let t = Rc::new(TopicMetrics {
            cost_success: cost("success"),
            cost_failure: cost("failure"),
            outcomes: OUTCOMES.map(|o| {
                counter!(SEND_TOTAL, "topic" => label.clone(), "client_id" => id.clone(), "outcome" => o)
            }),
            retries: counter!(SEND_RETRY_TOTAL, "topic" => label.clone(), "client_id" => id.clone()),
            topic: label,
        });
        self.topics.borrow_mut().insert(topic.to_owned(), t.clone());
        t
    }

    pub(crate) fn send(&self, topic: &str, received: Instant) -> SendMetrics {
        SendMetrics {
            topic: self.topic(topic),
            client_id: self.client_id.clone(),
            received,
        }
    }

    pub(crate) fn in_flight(&self, count: usize, bytes: usize) {
        let (was_count, was_bytes) = self.reported.replace((count, bytes));
        if count != was_count {
            self.in_flight.increment(count as f64 - was_count as f64);
        }
        if bytes != was_bytes {
            self.in_flight_bytes
                .increment(bytes as f64 - was_bytes as f64);
        }
    }

    pub(crate) fn backpressure_wait(&self) {
        self.backpressure_waits.increment(1);
    }

    pub(crate) fn retry(&self, topic: &str) {
        self.topic(topic).retries.increment(1);
    }
}

/// A transaction check of `group` answered with `resolution`.
pub(crate) fn transaction_check(group: &str, resolution: &'static str) {
    counter!(TRANSACTION_CHECKS, "producer_group" => group.to_owned(), "resolution" => resolution)
        .increment(1);
}

/// One send's handles and start, recorded when its reply is delivered.
pub(crate) struct SendMetrics {
    topic: Rc<TopicMetrics>,
    client_id: SharedString,
    received: Instant,
}

impl SendMetrics {
    pub(crate) fn ended(self, res: &Result<Option<SendResult>, Error>) {
        let ms = self.received.elapsed().as_secs_f64() * 1000.0;
        let t = &self.topic;
        let outcome = match res {
            Ok(Some(r)) => send_status(r),
            Ok(None) => 4,
            Err(_) => 5,
        };
        t.outcomes[outcome].increment(1);
        match res {
            Ok(_) => t.cost_success.record(ms),
            Err(e) => {
                t.cost_failure.record(ms);
                // The failure path only: a key of its own, by kind.
                counter!(SEND_FAILURE_TOTAL, "topic" => t.topic.clone(), "client_id" => self.client_id, "error_kind" => e.kind().as_str())
                    .increment(1);
            }
        }
    }
}

/// The index in [`OUTCOMES`] of a stored send's status.
fn send_status(r: &SendResult) -> usize {
    use crate::producer::send_result::SendStatus;
    match r.status {
        SendStatus::SendOk => 0,
        SendStatus::FlushDiskTimeout => 1,
        SendStatus::FlushSlaveTimeout => 2,
        SendStatus::SlaveNotAvailable => 3,
    }
}
