//! Timer messages and RECALL_MESSAGE, as the Java 5.3 broker answers them
//! (`SendMessageProcessor#attachRecallHandle`, `RecallMessageProcessor`).
//!
//! The test broker has no timer wheel: it stores a timer message at once, with
//! the handle of its delivery time. A recall before that time removes it (Java
//! writes a delete marker into the timer wheel, so the message is never
//! delivered) and answers its id; from that time on, ILLEGAL_OPERATION.
use super::{BrokerCore, error, now_ms, ok};
use crate::protocol::codes::response_code::{ILLEGAL_OPERATION, SYSTEM_ERROR};
use crate::protocol::command::RemotingCommand;
use crate::protocol::headers::{
    CommandHeader, RecallHandle, RecallMessageRequestHeader, RecallMessageResponseHeader,
};
use crate::protocol::message::property;
use crate::testkit::server::lock;

/// The delivery time (epoch ms) of a timer message (`TIMER_DELIVER_MS`,
/// `TIMER_DELAY_MS` or `TIMER_DELAY_SEC`, as Java reads them), sent at `now`.
fn deliver_ms(props: &[(String, String)], now: i64) -> Option<i64> {
    let get = |name: &str| {
        props
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<i64>().ok())
    };
    get(property::TIMER_DELIVER_MS)
        .or_else(|| get(property::TIMER_DELAY_MS).map(|ms| now + ms))
        .or_else(|| get(property::TIMER_DELAY_SEC).map(|s| now + s * 1000))
}

/// The recall handle of a message stored by `broker` in `topic` at `now`: set
/// for timer messages with a UNIQ_KEY only.
pub(super) fn recall_handle(
    broker: &str,
    topic: &str,
    props: &[(String, String)],
    uniq_key: Option<&str>,
    now: i64,
) -> Option<String> {
    let at = deliver_ms(props, now)?;
    Some(
        RecallHandle {
            topic: topic.to_owned(),
            broker_name: broker.to_owned(),
            timestamp: at.to_string(),
            message_id: uniq_key?.to_owned(),
        }
        .encode(),
    )
}

/// RECALL_MESSAGE: the checks and answers of Java's `RecallMessageProcessor`.
pub(super) fn recall(b: &BrokerCore, req: &RemotingCommand) -> RemotingCommand {
    let h = match RecallMessageRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return error(req, SYSTEM_ERROR, e.to_string()),
    };
    let handle = match RecallHandle::decode(&h.recall_handle) {
        Ok(handle) => handle,
        Err(e) => return error(req, ILLEGAL_OPERATION, format!("recall failed, {e}")),
    };
    if h.topic != handle.topic {
        return error(req, ILLEGAL_OPERATION, "recall failed, topic not match");
    }
    if handle.broker_name != b.name {
        return error(
            req,
            ILLEGAL_OPERATION,
            "recall failed, broker service not available",
        );
    }
    let left = handle.timestamp.parse::<i64>().unwrap_or(-1) - now_ms();
    if left <= 0 {
        return error(req, ILLEGAL_OPERATION, "recall failed, timestamp invalid");
    }
    lock(&b.store).messages.retain(|m| {
        m.topic != handle.topic
            || !m
                .properties
                .iter()
                .any(|(k, v)| k == property::UNIQ_KEY && *v == handle.message_id)
    });
    let header = RecallMessageResponseHeader {
        msg_id: handle.message_id,
    };
    ok(req, Some(header.to_ext_fields()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_timer_messages_get_a_handle() {
        let p = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        let h = recall_handle(
            "b",
            "T",
            &p(property::TIMER_DELAY_MS, "500"),
            Some("ID"),
            1000,
        )
        .expect("a timer message has a handle");
        let d = RecallHandle::decode(&h).expect("decodes");
        assert_eq!(
            (d.timestamp.as_str(), d.broker_name.as_str()),
            ("1500", "b")
        );
        assert_eq!(
            deliver_ms(&p(property::TIMER_DELAY_SEC, "2"), 1000),
            Some(3000)
        );
        assert_eq!(
            deliver_ms(&p(property::TIMER_DELIVER_MS, "7"), 1000),
            Some(7)
        );
        assert_eq!(
            recall_handle("b", "T", &p("DELAY", "2"), Some("ID"), 1),
            None
        );
        assert_eq!(
            recall_handle("b", "T", &p(property::TIMER_DELAY_MS, "5"), None, 1),
            None
        );
    }
}
