//! What a send shows a `tracing` subscriber and (feature `metrics`) a metrics
//! recorder: its span, opened with the send message so the mailbox wait is
//! inside it, and its counts and latency, both ended where its own reply is
//! delivered (so a send gathered into a batch still ends its own).
//!
//! With no subscriber interested and the feature off, a send carries no span
//! and nothing else: [`Observer::watch`] returns `None` and the reply is
//! not wrapped.
use tokio::time::Instant;
use tracing::Span;

use super::send::reply::ReplyTo;
use super::send_result::SendResult;
use crate::error::Error;
use crate::protocol::headers::TransactionResolution;
use crate::protocol::route::MessageQueue;

#[cfg(feature = "metrics")]
pub(crate) mod metrics;
mod span;

pub(crate) use span::{batch_span, send_span};

/// A producer's part in what its sends show: the labels they share.
pub(crate) struct Observer {
    group: String,
    #[cfg(feature = "metrics")]
    labels: metrics::ProducerLabels,
}

impl Observer {
    pub(crate) fn new(group: &str, client_id: &str) -> Self {
        let _ = client_id;
        Observer {
            group: group.to_owned(),
            #[cfg(feature = "metrics")]
            labels: metrics::ProducerLabels::new(group, client_id),
        }
    }

    /// What one send (of `topic`, made at `received`) records until its reply,
    /// or `None` when nothing listens.
    #[inline]
    pub(crate) fn watch(
        &self,
        span: Option<Span>,
        topic: &str,
        received: Instant,
    ) -> Option<Watched> {
        #[cfg(not(feature = "metrics"))]
        let span = span?;
        #[cfg(feature = "metrics")]
        let span = span.unwrap_or_else(Span::none);
        span.record("messaging.rocketmq.client_group", self.group.as_str());
        let _ = (topic, received);
        Some(Watched {
            span,
            attempt: Span::none(),
            #[cfg(feature = "metrics")]
            metrics: self.labels.send(topic, received),
        })
    }

    /// The in-flight count and bytes after a change (feature `metrics`).
    #[inline]
    pub(crate) fn in_flight(&self, (count, bytes): (usize, usize)) {
        let _ = (count, bytes);
        #[cfg(feature = "metrics")]
        self.labels.in_flight(count, bytes);
    }

    /// A send parked until the in-flight bounds have room (feature `metrics`).
    #[inline]
    pub(crate) fn backpressure_wait(&self) {
        #[cfg(feature = "metrics")]
        self.labels.backpressure_wait();
    }

    /// An attempt that failed (or was not stored) and is retried (feature `metrics`).
    #[inline]
    pub(crate) fn retry(&self, topic: &str) {
        let _ = topic;
        #[cfg(feature = "metrics")]
        self.labels.retry(topic);
    }
}

/// A broker's transaction check: its span (level INFO), the check's fields recorded as known.
pub(crate) fn transaction_check_span(broker: &str, transaction_id: &str) -> Span {
    tracing::info_span!(
        target: "actix_rocketmq::transaction",
        "rocketmq.transaction_check",
        messaging.system = "rocketmq",
        server.address = broker,
        messaging.rocketmq.transaction_id = transaction_id,
        messaging.rocketmq.resolution = tracing::field::Empty,
    )
}

/// A transaction check answered with `resolution` (span field; feature `metrics`: a count).
pub(crate) fn transaction_checked(span: &Span, group: &str, resolution: TransactionResolution) {
    let label = match resolution {
        TransactionResolution::Commit => "commit",
        TransactionResolution::Rollback => "rollback",
        TransactionResolution::Unknown => "unknown",
    };
    span.record("messaging.rocketmq.resolution", label);
    let _ = group;
    #[cfg(feature = "metrics")]
    metrics::transaction_check(group, label);
}

/// One send's span and measurements, carried with its reply.
pub(crate) struct Watched {
    span: Span,
    /// The current attempt's child span, ended by the next attempt or the reply.
    attempt: Span,
    #[cfg(feature = "metrics")]
    metrics: metrics::SendMetrics,
}

/// A reply that ends its send's span and measurements when delivered.
pub(crate) struct Observed {
    pub(crate) to: ReplyTo,
    watched: Watched,
}

/// `to`, wrapped to end `watched` when it is delivered (unchanged when nothing watches).
#[inline]
pub(crate) fn wrap(to: ReplyTo, watched: Option<Watched>) -> ReplyTo {
    match watched {
        None => to,
        Some(watched) => ReplyTo::Observed(Box::new(Observed { to, watched })),
    }
}

impl Observed {
    /// An attempt begins on `queue` of the broker at `addr`.
    pub(crate) fn attempt(&mut self, queue: &MessageQueue, addr: &str, attempt: u32) {
        let w = &mut self.watched;
        if w.span.is_disabled() {
            return;
        }
        w.span.record("messaging.rocketmq.attempts", attempt);
        w.attempt = span::attempt_span(&w.span, queue, addr, attempt);
    }

    /// Records how the send ended, then delivers its reply.
    pub(crate) fn deliver(self, res: Result<Option<SendResult>, Error>) {
        let Observed { to, watched } = self;
        let Watched {
            span,
            attempt,
            #[cfg(feature = "metrics")]
            metrics,
        } = watched;
        #[cfg(feature = "metrics")]
        metrics.ended(&res);
        drop(attempt);
        span::ended(&span, &res);
        to.deliver(res);
    }
}
