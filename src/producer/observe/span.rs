//! The spans of a send, with the OpenTelemetry messaging field names.
use tracing::Span;
use tracing::field::Empty;

use crate::error::Error;
use crate::producer::send_result::SendResult;
use crate::protocol::message::Message;
use crate::protocol::route::MessageQueue;

/// A send's span (level INFO, target `actix_rocketmq::send`), the caller's current span its
/// parent; `None` when no subscriber wants INFO.
#[inline]
pub(crate) fn send_span(message: &Message) -> Option<Span> {
    // One load of the global max level: below it, not even `tracing`'s `log`
    // fallback (a dependency turns its feature on) looks at the fields, and
    // there is no `Span` to drop.
    if tracing::level_enabled!(tracing::Level::INFO) {
        Some(new_send_span(message)).filter(|s| !s.is_disabled())
    } else {
        None
    }
}

#[inline(never)]
fn new_send_span(message: &Message) -> Span {
    tracing::info_span!(
        target: "actix_rocketmq::send",
        "rocketmq.send",
        otel.kind = "producer",
        messaging.system = "rocketmq",
        messaging.operation = "publish",
        messaging.destination.name = message.topic.as_str(),
        messaging.rocketmq.client_group = Empty,
        messaging.rocketmq.message.tag = message.tags(),
        messaging.rocketmq.message.keys = message.keys(),
        messaging.message.id = Empty,
        messaging.rocketmq.attempts = Empty,
        server.address = Empty,
        messaging.rocketmq.broker = Empty,
        messaging.destination.partition.id = Empty,
        messaging.rocketmq.queue_offset = Empty,
        messaging.rocketmq.send_status = Empty,
        error.type = Empty,
        otel.status_code = Empty,
    )
}

/// One attempt's child span (level DEBUG): the broker, its address and the queue.
pub(crate) fn attempt_span(parent: &Span, queue: &MessageQueue, addr: &str, attempt: u32) -> Span {
    parent.record("server.address", addr);
    tracing::debug_span!(
        target: "actix_rocketmq::send",
        parent: parent,
        "rocketmq.send.attempt",
        attempt,
        server.address = addr,
        messaging.rocketmq.broker = queue.broker_name.as_str(),
        messaging.destination.partition.id = queue.queue_id,
    )
}

/// Records the outcome on the send's span: where it was stored, or the error's kind.
pub(crate) fn ended(span: &Span, res: &Result<Option<SendResult>, Error>) {
    match res {
        Ok(Some(r)) => {
            span.record("messaging.message.id", r.msg_id.as_str());
            span.record(
                "messaging.rocketmq.broker",
                r.message_queue.broker_name.as_str(),
            );
            span.record(
                "messaging.destination.partition.id",
                r.message_queue.queue_id,
            );
            span.record("messaging.rocketmq.queue_offset", r.queue_offset);
            span.record("messaging.rocketmq.send_status", r.status.as_str());
            span.record("otel.status_code", "OK");
        }
        Ok(None) => {
            span.record("otel.status_code", "OK");
        }
        Err(e) => {
            span.record("error.type", e.kind().as_str());
            span.record("otel.status_code", "ERROR");
            tracing::debug!(target: "actix_rocketmq::send", parent: span, error = %e, "send failed");
        }
    }
}

/// A batch send's span: the topic of its first message and the batch size.
#[inline]
pub(crate) fn batch_span(messages: &[Message]) -> Option<Span> {
    if tracing::level_enabled!(tracing::Level::INFO) {
        Some(new_batch_span(messages)).filter(|s| !s.is_disabled())
    } else {
        None
    }
}

#[inline(never)]
fn new_batch_span(messages: &[Message]) -> Span {
    tracing::info_span!(
        target: "actix_rocketmq::send",
        "rocketmq.send",
        otel.kind = "producer",
        messaging.system = "rocketmq",
        messaging.operation = "publish",
        messaging.destination.name = messages.first().map(|m| m.topic.as_str()),
        messaging.batch.message_count = messages.len(),
        messaging.rocketmq.client_group = Empty,
        messaging.message.id = Empty,
        messaging.rocketmq.attempts = Empty,
        server.address = Empty,
        messaging.rocketmq.broker = Empty,
        messaging.destination.partition.id = Empty,
        messaging.rocketmq.queue_offset = Empty,
        messaging.rocketmq.send_status = Empty,
        error.type = Empty,
        otel.status_code = Empty,
    )
}
