//! Recall of timer messages (RECALL_MESSAGE) against the in-process test broker,
//! which answers as the Java 5.3 broker: a timer message's send result has a recall
//! handle; a recall before its time removes it and answers its id; a recall from its
//! time on is refused with ILLEGAL_OPERATION (604), an answer RocketMQ-Rust 1.0.0 does
//! not send (see tests/e2e_timer.rs for the real broker).

#[path = "support/producer.rs"]
mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_rocketmq::internals::protocol::codes::response_code;
use actix_rocketmq::internals::protocol::headers::RecallHandle;
use actix_rocketmq::internals::protocol::validation::ValidationError;
use actix_rocketmq::{ErrorKind, ProducerExt, RecallMessage, SendMessage};
use support::*;

const LIMIT: Duration = Duration::from_secs(5);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

fn response_code_of(e: &actix_rocketmq::Error) -> Option<i32> {
    match e.kind() {
        ErrorKind::Broker { code, .. } => Some(*code),
        _ => None,
    }
}

#[actix_rt::test]
async fn a_timer_message_is_recalled_before_its_time_and_not_after() {
    let cluster = one_broker().await;
    let producer = start(config("recall_group", &cluster)).await;

    // a plain message has no handle
    let plain = within(LIMIT, "send", producer.send_message(msg("plain")))
        .await
        .expect("sent");
    assert_eq!(plain.recall_handle, None);

    let later = within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(msg("later").with_delay_sec(60))),
    )
    .await
    .expect("producer alive")
    .expect("sent");
    let handle = later
        .recall_handle
        .clone()
        .expect("a timer message has a handle");
    let decoded = RecallHandle::decode(&handle).expect("the handle decodes");
    assert_eq!(decoded.broker_name, "broker-a");
    assert_eq!(decoded.topic, TOPIC);
    assert_eq!(decoded.message_id, later.msg_id);
    assert_eq!(cluster.broker("broker-a").messages(TOPIC).len(), 2);

    let id = within(
        LIMIT,
        "recall",
        producer.send(RecallMessage::new(TOPIC, handle.clone())),
    )
    .await
    .expect("producer alive")
    .expect("recalled before its time");
    assert_eq!(id, later.msg_id);
    let left = cluster.broker("broker-a").messages(TOPIC);
    assert_eq!(left.len(), 1, "the recalled message is gone");
    assert_eq!(body_text(&left[0]), "plain");

    // due in 100 ms: a recall after that is refused
    let soon = within(
        LIMIT,
        "send",
        producer.send_message(msg("soon").with_delivery_time_ms(now_ms() + 100)),
    )
    .await
    .expect("sent");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = within(
        LIMIT,
        "late recall",
        producer.recall_message(TOPIC, soon.recall_handle.expect("handle")),
    )
    .await
    .expect_err("too late");
    assert_eq!(
        response_code_of(&e),
        Some(response_code::ILLEGAL_OPERATION),
        "{e:?}"
    );
    assert_eq!(cluster.broker("broker-a").messages(TOPIC).len(), 2);

    // the topic must be the handle's
    let e = within(
        LIMIT,
        "recall on another topic",
        producer.recall_message("OtherTopic", handle),
    )
    .await
    .expect_err("topic mismatch");
    assert_eq!(
        response_code_of(&e),
        Some(response_code::ILLEGAL_OPERATION),
        "{e:?}"
    );

    // a handle that does not decode is refused before sending
    let e = within(
        LIMIT,
        "bad recall",
        producer.recall_message(TOPIC, "not a handle"),
    )
    .await
    .expect_err("invalid handle");
    assert!(
        matches!(
            e.kind(),
            ErrorKind::Validation(ValidationError::RecallHandleInvalid { .. })
        ),
        "{e:?}"
    );
}

/// A handle naming a broker the client knows nothing about fails without a request.
#[actix_rt::test]
async fn a_handle_of_an_unknown_broker_fails() {
    let cluster = one_broker().await;
    let producer = start(config("recall_unknown_group", &cluster)).await;
    let handle = RecallHandle {
        topic: TOPIC.into(),
        broker_name: "broker-z".into(),
        timestamp: (now_ms() + 60_000).to_string(),
        message_id: "ID".into(),
    }
    .encode();
    let e = within(LIMIT, "recall", producer.recall_message(TOPIC, handle))
        .await
        .expect_err("no such broker");
    assert!(
        matches!(e.kind(), ErrorKind::Connection(_)),
        "no address for broker-z: {e:?}"
    );
}
