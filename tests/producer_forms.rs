//! Every send form (issue #15): per-send timeouts, panicking selectors, and the
//! oneway / notify / batch / request forms to a queue or through a selector.

#[path = "support/producer.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use actix_rocketmq::testkit::Fault;
use actix_rocketmq::{
    ErrorKind, Message, MessageQueue, MessageQueueSelector, SelectMessageQueueByHash, SelectorArg,
    SendBatch, SendMessage, SendMessageInTransaction, SendOneway, SendToQueue, SendWithSelector,
    TransactionCheck, TransactionResolution,
};
use support::*;
use tokio::time::Instant;

const LIMIT: Duration = Duration::from_secs(5);
const DELAY: Duration = Duration::from_millis(400);

/// A short per-send timeout times out on a slow broker although the
/// producer's send timeout would have waited, for every send form.
#[actix_rt::test]
async fn short_per_send_timeout_times_out() {
    let cluster = one_broker().await;
    let producer = start(
        config("short_timeout_group", &cluster)
            .send_timeout(Duration::from_secs(3))
            .transaction_checker(|_: TransactionCheck| async { TransactionResolution::Commit }),
    )
    .await;
    // Warm up the route so only the broker's delay matters below.
    producer
        .send(SendMessage::new(msg("warm-up")))
        .await
        .unwrap()
        .expect("warm-up send");
    cluster
        .broker("broker-a")
        .inject(Fault::delay(DELAY).on_sends().forever());
    let short = Duration::from_millis(150);
    let q = MessageQueue::new(TOPIC, "broker-a", 1);
    let started = Instant::now();
    let errs = vec![
        producer
            .send(SendMessage::new(msg("a")).with_timeout(short))
            .await
            .unwrap()
            .map(|_| ()),
        producer
            .send(SendToQueue::new(msg("b"), q).with_timeout(short))
            .await
            .unwrap()
            .map(|_| ()),
        producer
            .send(
                SendWithSelector::new(msg("c"), Arc::new(SelectMessageQueueByHash), "k")
                    .with_timeout(short),
            )
            .await
            .unwrap()
            .map(|_| ()),
        producer
            .send(SendBatch::new(vec![msg("d"), msg("e")]).with_timeout(short))
            .await
            .unwrap()
            .map(|_| ()),
        producer
            .send(SendMessageInTransaction::new(msg("f")).with_timeout(short))
            .await
            .unwrap()
            .map(|_| ()),
    ];
    for (i, e) in errs.into_iter().enumerate() {
        let err = e.expect_err("a short timeout on a slow broker");
        assert!(err.is_timeout(), "form {i}: {err:?}");
    }
    // Five sends, each bounded by its own 150 ms rather than by 3 s.
    assert!(started.elapsed() < Duration::from_millis(5 * 150 + 500));
}

/// A long per-send timeout succeeds where the producer's send timeout would
/// time out.
#[actix_rt::test]
async fn long_per_send_timeout_succeeds() {
    let cluster = one_broker().await;
    let producer = start(
        config("long_timeout_group", &cluster)
            .send_timeout(Duration::from_millis(200))
            .transaction_checker(|_: TransactionCheck| async { TransactionResolution::Commit }),
    )
    .await;
    producer
        .send(SendMessage::new(msg("warm-up")))
        .await
        .unwrap()
        .expect("warm-up send");
    cluster
        .broker("broker-a")
        .inject(Fault::delay(DELAY).on_sends().forever());
    let err = within(LIMIT, "default", producer.send(SendMessage::new(msg("x"))))
        .await
        .unwrap()
        .expect_err("the default timeout is too short");
    assert!(err.is_timeout(), "{err:?}");

    let long = Duration::from_secs(2);
    let q = MessageQueue::new(TOPIC, "broker-a", 1);
    within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(msg("a")).with_timeout(long)),
    )
    .await
    .unwrap()
    .expect("send with a long timeout");
    let r = within(
        LIMIT,
        "to queue",
        producer.send(SendToQueue::new(msg("b"), q).with_timeout(long)),
    )
    .await
    .unwrap()
    .expect("to queue with a long timeout");
    assert_eq!(r.message_queue.queue_id, 1);
    within(
        LIMIT,
        "selector",
        producer.send(
            SendWithSelector::new(msg("c"), Arc::new(SelectMessageQueueByHash), "k")
                .with_timeout(long),
        ),
    )
    .await
    .unwrap()
    .expect("selector with a long timeout");
    within(
        LIMIT,
        "batch",
        producer.send(SendBatch::new(vec![msg("d"), msg("e")]).with_timeout(long)),
    )
    .await
    .unwrap()
    .expect("batch with a long timeout");
    within(
        LIMIT,
        "transaction",
        producer.send(SendMessageInTransaction::new(msg("f")).with_timeout(long)),
    )
    .await
    .unwrap()
    .expect("transaction with a long timeout");
    within(
        LIMIT,
        "oneway",
        producer.send(SendOneway::new(msg("g")).with_timeout(long)),
    )
    .await
    .unwrap()
    .expect("oneway with a long timeout");
}

/// A selector that panics on the arg "boom" and else picks queue 2.
struct Touchy;

impl MessageQueueSelector for Touchy {
    fn select(&self, queues: &[MessageQueue], _: &Message, arg: &SelectorArg) -> Option<usize> {
        if matches!(arg, SelectorArg::Str(s) if s == "boom") {
            panic!("the selector blew up");
        }
        queues.iter().position(|q| q.queue_id == 2)
    }
}

/// A panicking selector fails its send with a typed error; the producer
/// lives on and the next send succeeds.
#[actix_rt::test]
async fn panicking_selector_is_caught() {
    let cluster = one_broker().await;
    let producer = start(config("touchy_group", &cluster)).await;
    let err = within(
        LIMIT,
        "panicking selector",
        producer.send(SendWithSelector::new(msg("a"), Arc::new(Touchy), "boom")),
    )
    .await
    .expect("the producer answers")
    .expect_err("the selector panicked");
    match err.kind() {
        ErrorKind::SelectorPanicked { topic, panic } => {
            assert_eq!(topic, TOPIC);
            assert!(panic.contains("blew up"), "{panic}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.is_retriable());
    let r = within(
        LIMIT,
        "second send",
        producer.send(SendWithSelector::new(msg("b"), Arc::new(Touchy), "calm")),
    )
    .await
    .expect("the producer lives on")
    .expect("the second send succeeds");
    assert_eq!(r.message_queue.queue_id, 2);
    within(
        LIMIT,
        "plain send",
        producer.send(SendMessage::new(msg("c"))),
    )
    .await
    .unwrap()
    .expect("a plain send succeeds");
    assert_eq!(cluster.messages(TOPIC).len(), 2);
}
