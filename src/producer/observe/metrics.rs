//! The producer's metrics (feature `metrics`), through the `metrics` facade.
//! Names follow the RocketMQ 5.x clients where one exists; README lists them all.
use metrics::{SharedString, counter, gauge, histogram};
use std::cell::Cell;
use std::sync::Arc;
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

/// The labels a producer's metrics share.
pub(crate) struct ProducerLabels {
    group: SharedString,
    client_id: SharedString,
    /// The in-flight count and bytes last reported: the gauges move by the
    /// difference, so producers of one group add up.
    reported: Cell<(usize, usize)>,
}

impl ProducerLabels {
    pub(crate) fn new(group: &str, client_id: &str) -> Self {
        ProducerLabels {
            group: SharedString::from(Arc::<str>::from(group)),
            client_id: SharedString::from(Arc::<str>::from(client_id)),
            reported: Cell::new((0, 0)),
        }
    }

    pub(crate) fn send(&self, topic: &str, received: Instant) -> SendMetrics {
        SendMetrics {
            topic: SharedString::from(topic.to_owned()),
            client_id: self.client_id.clone(),
            received,
        }
    }

    pub(crate) fn in_flight(&self, count: usize, bytes: usize) {
        let (was_count, was_bytes) = self.reported.replace((count, bytes));
        if count != was_count {
            gauge!(IN_FLIGHT, "producer_group" => self.group.clone())
                .increment(count as f64 - was_count as f64);
        }
        if bytes != was_bytes {
            gauge!(IN_FLIGHT_BYTES, "producer_group" => self.group.clone())
                .increment(bytes as f64 - was_bytes as f64);
        }
    }

    pub(crate) fn backpressure_wait(&self) {
        counter!(BACKPRESSURE_WAITS, "producer_group" => self.group.clone()).increment(1);
    }

    pub(crate) fn retry(&self, topic: &str) {
        counter!(SEND_RETRY_TOTAL, "topic" => topic.to_owned(), "client_id" => self.client_id.clone())
            .increment(1);
    }
}

/// A transaction check of `group` answered with `resolution`.
pub(crate) fn transaction_check(group: &str, resolution: &'static str) {
    counter!(TRANSACTION_CHECKS, "producer_group" => group.to_owned(), "resolution" => resolution)
        .increment(1);
}

/// One send's labels and start, recorded when its reply is delivered.
pub(crate) struct SendMetrics {
    topic: SharedString,
    client_id: SharedString,
    received: Instant,
}

impl SendMetrics {
    pub(crate) fn ended(self, res: &Result<Option<SendResult>, Error>) {
        let ms = self.received.elapsed().as_secs_f64() * 1000.0;
        let (status, outcome) = match res {
            Ok(Some(r)) => ("success", send_status(r)),
            Ok(None) => ("success", "oneway"),
            Err(_) => ("failure", "failure"),
        };
        histogram!(SEND_COST_TIME, "topic" => self.topic.clone(), "client_id" => self.client_id.clone(), "invocation_status" => status)
            .record(ms);
        counter!(SEND_TOTAL, "topic" => self.topic.clone(), "client_id" => self.client_id.clone(), "outcome" => outcome)
            .increment(1);
        if let Err(e) = res {
            counter!(SEND_FAILURE_TOTAL, "topic" => self.topic, "client_id" => self.client_id, "error_kind" => e.kind().as_str())
                .increment(1);
        }
    }
}

/// The `outcome` label of a stored send: its status, in lower case.
fn send_status(r: &SendResult) -> &'static str {
    use crate::producer::send_result::SendStatus;
    match r.status {
        SendStatus::SendOk => "send_ok",
        SendStatus::FlushDiskTimeout => "flush_disk_timeout",
        SendStatus::FlushSlaveTimeout => "flush_slave_timeout",
        SendStatus::SlaveNotAvailable => "slave_not_available",
    }
}
