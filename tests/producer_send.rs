//! The producer's send paths against the test broker: the Java
//! `DefaultMQProducerTest` cases (by name), one-way, explicit queue, selector,
//! batch, publish queues, hooks and `SendMessage::notify`.

#[path = "support/producer.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_rocketmq::error::client_error_code;
use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
use actix_rocketmq::internals::protocol::message::{decode_properties, property, sys_flag};
use actix_rocketmq::internals::protocol::validation::ValidationError;
use actix_rocketmq::internals::runtime::RouteError;
use actix_rocketmq::producer::hooks::{SendContext, SendHook};
use actix_rocketmq::testkit::Fault;
use actix_rocketmq::{
    Error, ErrorKind, FetchPublishQueues, Message, MessageQueue, MessageQueueSelector,
    SelectMessageQueueByHash, SelectorArg, SendBatch, SendMessage, SendOneway, SendResult,
    SendStatus, SendToQueue, SendWithSelector,
};
use support::*;

const LIMIT: Duration = Duration::from_secs(5);

/// A compressible body of `len` bytes (well over the 4 KiB compression threshold when len is).
fn compressible_body(len: usize) -> String {
    "The quick brown fox jumps over the lazy dog. "
        .chars()
        .cycle()
        .take(len)
        .collect()
}

// ---------------------------------------------------------------------------
// DefaultMQProducerTest
// ---------------------------------------------------------------------------

/// Java `testSendMessage_ZeroMessage`: an empty body is refused before anything is sent.
#[actix_rt::test]
async fn test_send_message_zero_message() {
    let cluster = one_broker().await;
    let producer = start(config("zero_msg_group", &cluster)).await;
    let res = within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(Message::new(TOPIC, ""))),
    )
    .await
    .unwrap();
    let err = res.expect_err("an empty body must be refused");
    assert_eq!(
        err.kind(),
        &ErrorKind::Validation(ValidationError::BodyEmpty)
    );
    assert_eq!(err.attempts(), 0);
    // Nothing reached the broker, and the producer still works.
    assert!(
        cluster
            .broker("broker-a")
            .received_with_code(request_code::SEND_MESSAGE_V2)
            .is_empty()
    );
    let ok = producer.send(SendMessage::new(msg("after"))).await.unwrap();
    assert!(ok.is_ok(), "{ok:?}");
}

/// Java `testSendMessage_NoRoute`: the name server knows no route (and no TBW102) → NOT_FOUND_TOPIC.
#[actix_rt::test]
async fn test_send_message_no_route() {
    let cluster = one_broker().await;
    let producer = start(config("no_route_group", &cluster)).await;
    let err = within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(Message::new("NoSuchTopic", "x"))),
    )
    .await
    .unwrap()
    .expect_err("no route");
    assert!(
        matches!(err.kind(), ErrorKind::Route(RouteError::NoRoute { topic }) if topic == "NoSuchTopic"),
        "{err:?}"
    );
    assert_eq!(
        err.client_error_code(),
        Some(client_error_code::NOT_FOUND_TOPIC_EXCEPTION)
    );
    assert!(
        cluster
            .broker("broker-a")
            .received_with_code(request_code::SEND_MESSAGE_V2)
            .is_empty()
    );
}

/// Sends waiting for a slow route look-up are each answered by their own
/// deadline: one that joins the look-up with less time than the send that
/// started it times out at its deadline, not at the look-up's; and when the
/// look-up outlives the send that started it, a send with time left keeps
/// waiting and is stored once the route comes.
#[actix_rt::test]
async fn sends_waiting_for_a_route_keep_their_own_deadlines() {
    let cluster = one_broker().await;
    cluster.namesrv().inject(
        Fault::delay(Duration::from_millis(600))
            .on(request_code::GET_ROUTEINFO_BY_TOPIC)
            .on_topic(TOPIC),
    );
    let producer = start(config("route_wait_group", &cluster)).await;
    let t0 = tokio::time::Instant::now();
    let timed = |timeout: u64| {
        let send = producer.send(
            SendMessage::new(msg(format!("t{timeout}")))
                .with_timeout(Duration::from_millis(timeout)),
        );
        async move { (send.await.unwrap(), t0.elapsed()) }
    };
    // Started first, bounds the look-up at 300 ms; then one due sooner, one due later.
    let (first, short, long) = within(
        LIMIT,
        "sends",
        futures::future::join3(timed(300), timed(100), timed(3000)),
    )
    .await;
    for ((res, at), due) in [(first, 300), (short, 100)] {
        let err = res.expect_err("no route in time");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Timeout {
                    waiting_for: actix_rocketmq::WaitingFor::Route,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            at >= Duration::from_millis(due) && at < Duration::from_millis(due + 150),
            "due at {due} ms, answered after {at:?}"
        );
    }
    let (res, at) = long;
    res.expect("stored once the route came");
    assert!(at >= Duration::from_millis(500), "{at:?}");
    let stored = cluster.broker("broker-a").messages(TOPIC);
    assert_eq!(stored.len(), 1, "only the send with time left is written");
}

/// Java `testSendMessageSync_Success`: the result describes what the broker stored.
#[actix_rt::test]
async fn test_send_message_sync_success() {
    let cluster = two_brokers().await;
    let producer = start(config("sync_ok_group", &cluster)).await;
    let m = msg("hello sync").with_tags("TagA").with_keys("order-1");
    let r = within(LIMIT, "send", producer.send(SendMessage::new(m)))
        .await
        .unwrap()
        .expect("sync send succeeds");
    assert_eq!(r.status, SendStatus::SendOk);
    assert_eq!(r.message_queue.topic, TOPIC);
    assert_eq!(r.msg_id.len(), 32, "UNIQ_KEY is 32 hex chars for IPv4");

    let stored = cluster.messages(TOPIC);
    assert_eq!(stored.len(), 1);
    let s = &stored[0];
    assert_eq!(s.broker_name, r.message_queue.broker_name);
    assert_eq!(s.queue_id, r.message_queue.queue_id);
    assert_eq!(s.queue_offset, r.queue_offset);
    assert_eq!(s.msg_id, r.offset_msg_id);
    assert_eq!(s.uniq_key(), Some(r.msg_id.as_str()));
    assert_eq!(s.tags(), Some("TagA"));
    assert_eq!(s.keys(), Some("order-1"));
    assert_eq!(s.producer_group, "sync_ok_group");
    assert_eq!(s.request_code, request_code::SEND_MESSAGE_V2);
    assert_eq!(s.sys_flag, 0, "a small body is not compressed");
    assert_eq!(body_text(s), "hello sync");
}

/// Java `testSendMessageSync_WithBodyCompressed`: the broker gets the zlib body with
/// sysFlag 0x1|0x300, and the message as the caller (and hooks) see it keeps its body.
#[actix_rt::test]
async fn test_send_message_sync_with_body_compressed() {
    let cluster = one_broker().await;
    let seen = Arc::new(SeenBodies::default());
    let producer = start(config("compressed_group", &cluster).send_hook(seen.clone())).await;
    let body = compressible_body(16 * 1024);
    let original = msg(body.clone());
    let r = within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(original.clone())),
    )
    .await
    .unwrap()
    .expect("compressed send succeeds");
    assert_eq!(r.status, SendStatus::SendOk);

    let stored = cluster.broker("broker-a").messages(TOPIC);
    assert_eq!(stored.len(), 1);
    let s = &stored[0];
    assert_eq!(s.sys_flag & sys_flag::COMPRESSED, sys_flag::COMPRESSED);
    assert_eq!(
        s.sys_flag & sys_flag::COMPRESSION_TYPE_MASK,
        sys_flag::COMPRESSION_ZLIB
    );
    assert!(
        s.body.len() < body.len() / 4,
        "the broker receives the compressed body ({} bytes)",
        s.body.len()
    );
    assert_eq!(body_text(s), body, "the body inflates to the original");
    // The message as sent (what hooks see) still has its original body.
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(&seen[0][..], body.as_bytes());
    assert_eq!(&original.body[..], body.as_bytes());
}

/// Java `testSendMessageAsync_Success`: `addr.send` enqueues at once; the result is awaited later.
#[actix_rt::test]
async fn test_send_message_async_success() {
    let cluster = one_broker().await;
    let producer = start(config("async_ok_group", &cluster)).await;
    let pending: Vec<_> = (0..10)
        .map(|i| producer.send(SendMessage::new(msg(format!("async {i}")))))
        .collect();
    // Not awaited yet, and the broker stores them anyway.
    let broker = cluster.broker("broker-a");
    assert!(
        eventually(LIMIT, || broker.messages(TOPIC).len() == 10).await,
        "sends progress without being awaited; stored {}",
        broker.messages(TOPIC).len()
    );
    let results = within(LIMIT, "await results", futures::future::join_all(pending)).await;
    let stored = broker.messages(TOPIC);
    for r in results {
        let r = r.unwrap().expect("async send succeeds");
        assert_eq!(r.status, SendStatus::SendOk);
        assert!(
            stored
                .iter()
                .any(|s| s.uniq_key() == Some(r.msg_id.as_str()))
        );
    }
}

/// Java `testSendMessageAsync_BodyCompressed`.
#[actix_rt::test]
async fn test_send_message_async_body_compressed() {
    let cluster = one_broker().await;
    let producer = start(config("async_compressed_group", &cluster)).await;
    let body = compressible_body(8 * 1024);
    let pending = producer.send(SendMessage::new(msg(body.clone())));
    let broker = cluster.broker("broker-a");
    assert!(eventually(LIMIT, || broker.messages(TOPIC).len() == 1).await);
    let r = within(LIMIT, "await result", pending)
        .await
        .unwrap()
        .expect("async compressed send succeeds");
    let s = &broker.messages(TOPIC)[0];
    assert_eq!(s.uniq_key(), Some(r.msg_id.as_str()));
    assert_eq!(
        s.sys_flag & (sys_flag::COMPRESSED | sys_flag::COMPRESSION_TYPE_MASK),
        sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB
    );
    assert!(s.body.len() < body.len());
    assert_eq!(body_text(s), body);
}

#[derive(Debug, Clone)]
struct HookCall {
    phase: &'static str,
    attempt: u32,
    queue: MessageQueue,
    broker_addr: String,
    uniq_key: Option<String>,
    result: Option<Result<SendResult, Error>>,
}

#[derive(Default)]
struct Recorder(Mutex<Vec<HookCall>>);
impl SendHook for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn before(&self, ctx: &SendContext<'_>) {
        self.0.lock().unwrap().push(HookCall {
            phase: "before",
            attempt: ctx.attempt,
            queue: ctx.queue.clone(),
            broker_addr: ctx.broker_addr.to_owned(),
            uniq_key: ctx.message.uniq_key().map(str::to_owned),
            result: None,
        });
    }
    fn after(&self, ctx: &SendContext<'_>, result: &Result<SendResult, Error>) {
        self.0.lock().unwrap().push(HookCall {
            phase: "after",
            attempt: ctx.attempt,
            queue: ctx.queue.clone(),
            broker_addr: ctx.broker_addr.to_owned(),
            uniq_key: ctx.message.uniq_key().map(str::to_owned),
            result: Some(result.clone()),
        });
    }
}

/// Java `testSendMessageSync_SuccessWithHook`: the hook sees the attempt before and its result after.
#[actix_rt::test]
async fn test_send_message_sync_success_with_hook() {
    let cluster = one_broker().await;
    let hook = Arc::new(Recorder::default());
    let producer = start(config("hook_group", &cluster).send_hook(hook.clone())).await;
    let r = within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(msg("hooked"))),
    )
    .await
    .unwrap()
    .expect("send succeeds");
    let calls = hook.0.lock().unwrap().clone();
    assert_eq!(
        calls.iter().map(|c| c.phase).collect::<Vec<_>>(),
        ["before", "after"],
        "{calls:?}"
    );
    let broker_addr = cluster.broker_addr("broker-a");
    for c in &calls {
        assert_eq!(c.attempt, 1);
        assert_eq!(c.uniq_key.as_deref(), Some(r.msg_id.as_str()));
        assert_eq!(
            c.broker_addr, broker_addr,
            "{} hook: broker address",
            c.phase
        );
        assert_eq!(c.queue.broker_name, "broker-a");
        assert_eq!(
            c.queue.queue_id, r.message_queue.queue_id,
            "{} hook: queue",
            c.phase
        );
    }
    match &calls[1].result {
        Some(Ok(seen)) => assert_eq!(seen, &r),
        other => panic!("after hook saw {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Statuses, one-way, explicit queue, selector
// ---------------------------------------------------------------------------

/// FLUSH_DISK_TIMEOUT, SLAVE_NOT_AVAILABLE and FLUSH_SLAVE_TIMEOUT mean the
/// message is stored: Ok with that status and the broker's header, no retry.
#[actix_rt::test]
async fn stored_but_not_flushed_is_ok_with_that_status() {
    let cluster = one_broker().await;
    let broker = cluster.broker("broker-a");
    let producer = start(config("flush_timeout_group", &cluster)).await;
    for (code, status) in [
        (
            response_code::FLUSH_DISK_TIMEOUT,
            SendStatus::FlushDiskTimeout,
        ),
        (
            response_code::SLAVE_NOT_AVAILABLE,
            SendStatus::SlaveNotAvailable,
        ),
        (
            response_code::FLUSH_SLAVE_TIMEOUT,
            SendStatus::FlushSlaveTimeout,
        ),
    ] {
        broker.clear_received();
        broker.inject(Fault::respond(code, "flush fell short").on_sends());
        let body = format!("stored, status {code}");
        let r = within(LIMIT, "send", producer.send(SendMessage::new(msg(&body))))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("code {code} is not an error: {e}"));
        assert_eq!(r.status, status);
        assert_eq!(r.message_queue.broker_name, "broker-a");
        let stored = broker.messages(TOPIC);
        let m = stored
            .iter()
            .find(|m| m.uniq_key() == Some(r.msg_id.as_str()))
            .expect("the message is stored");
        assert_eq!(&m.body[..], body.as_bytes());
        assert_eq!(m.queue_offset, r.queue_offset);
        assert_eq!(
            broker
                .received_with_code(request_code::SEND_MESSAGE_V2)
                .len(),
            1,
            "no retry on a stored message"
        );
    }
}

/// `SendOneway` writes the frame and replies without waiting for the broker; the message lands.
#[actix_rt::test]
async fn oneway_send_lands() {
    let cluster = one_broker().await;
    let producer = start(config("oneway_group", &cluster)).await;
    within(
        LIMIT,
        "oneway",
        producer.send(SendOneway::new(msg("fire and forget").with_tags("ow"))),
    )
    .await
    .unwrap()
    .expect("one-way send is written");
    let broker = cluster.broker("broker-a");
    assert!(eventually(LIMIT, || broker.messages(TOPIC).len() == 1).await);
    let s = &broker.messages(TOPIC)[0];
    assert_eq!(body_text(s), "fire and forget");
    assert_eq!(s.tags(), Some("ow"));
    assert!(s.uniq_key().is_some());
    let req = &broker.received_with_code(request_code::SEND_MESSAGE_V2)[0];
    assert!(
        req.command.is_oneway(),
        "the frame carries the one-way flag"
    );
}

/// `SendToQueue` lands on exactly that broker and queue.
#[actix_rt::test]
async fn send_to_queue_lands_on_that_queue() {
    let cluster = two_brokers().await;
    let producer = start(config("to_queue_group", &cluster)).await;
    for (broker, qid) in [("broker-b", 3), ("broker-a", 2), ("broker-b", 0)] {
        let q = MessageQueue::new(TOPIC, broker, qid);
        let r = within(
            LIMIT,
            "send to queue",
            producer.send(SendToQueue::new(msg(format!("{broker}/{qid}")), q.clone())),
        )
        .await
        .unwrap()
        .expect("send to queue succeeds");
        assert_eq!(r.message_queue, q);
    }
    let a = cluster.broker("broker-a").messages(TOPIC);
    let b = cluster.broker("broker-b").messages(TOPIC);
    assert_eq!(
        a.iter()
            .map(|m| (m.queue_id, body_text(m)))
            .collect::<Vec<_>>(),
        [(2, "broker-a/2".to_owned())]
    );
    assert_eq!(
        b.iter()
            .map(|m| (m.queue_id, body_text(m)))
            .collect::<Vec<_>>(),
        [(3, "broker-b/3".to_owned()), (0, "broker-b/0".to_owned())]
    );
}

/// `SelectMessageQueueByHash`: every message of a key goes to one queue, in send order.
#[actix_rt::test]
async fn selector_keeps_each_key_on_one_queue_in_order() {
    let cluster = two_brokers().await;
    let producer = start(config("selector_group", &cluster)).await;
    let queues = within(
        LIMIT,
        "fetch",
        producer.send(FetchPublishQueues {
            topic: TOPIC.into(),
        }),
    )
    .await
    .unwrap()
    .expect("queues");
    let keys = [
        "order-1",
        "order-22",
        "order-333",
        "order-4444",
        "order-55555",
    ];
    let selector: Arc<dyn MessageQueueSelector> = Arc::new(SelectMessageQueueByHash);
    for i in 0..20 {
        for key in keys {
            let m = msg(format!("{key}:{i}")).with_keys(key);
            let r = producer
                .send(SendWithSelector::new(m.clone(), selector.clone(), key))
                .await
                .unwrap()
                .expect("selector send succeeds");
            let expected = SelectMessageQueueByHash
                .select(&queues, &m, &SelectorArg::from(key))
                .map(|i| queues[i].clone());
            assert_eq!(Some(r.message_queue), expected, "key {key}");
        }
    }
    let stored = cluster.messages(TOPIC);
    assert_eq!(stored.len(), 100);
    for key in keys {
        let of_key: Vec<_> = stored.iter().filter(|m| m.keys() == Some(key)).collect();
        let places: std::collections::BTreeSet<_> = of_key
            .iter()
            .map(|m| (m.broker_name.clone(), m.queue_id))
            .collect();
        assert_eq!(places.len(), 1, "key {key} spread over {places:?}");
        let bodies: Vec<String> = of_key.iter().map(|m| body_text(m)).collect();
        let expected: Vec<String> = (0..20).map(|i| format!("{key}:{i}")).collect();
        assert_eq!(bodies, expected, "key {key}: queue order");
        let offsets: Vec<i64> = of_key.iter().map(|m| m.queue_offset).collect();
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    }
}

// ---------------------------------------------------------------------------
// Batch, publish queues, notify
// ---------------------------------------------------------------------------

/// A batch is stored message by message, each with its own UNIQ_KEY; the header
/// carries no UNIQ_KEY; the result's msg_id joins the messages' ids.
#[actix_rt::test]
async fn batch_send_stores_each_message_with_its_own_id() {
    let cluster = one_broker().await;
    let producer = start(config("batch_group", &cluster)).await;
    let batch: Vec<Message> = (0..3)
        .map(|i| msg(format!("batch {i}")).with_tags(format!("t{i}")))
        .collect();
    let r = within(LIMIT, "batch", producer.send(SendBatch::new(batch)))
        .await
        .unwrap()
        .expect("batch succeeds");
    assert_eq!(r.status, SendStatus::SendOk);
    let broker = cluster.broker("broker-a");
    let stored = broker.messages(TOPIC);
    assert_eq!(stored.len(), 3);
    let keys: Vec<&str> = stored
        .iter()
        .map(|m| m.uniq_key().expect("UNIQ_KEY"))
        .collect();
    let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
    assert_eq!(distinct.len(), 3, "each message has its own id: {keys:?}");
    assert_eq!(r.msg_id, keys.join(","));
    for (i, m) in stored.iter().enumerate() {
        assert_eq!(body_text(m), format!("batch {i}"));
        assert_eq!(m.tags(), Some(format!("t{i}").as_str()));
        assert_eq!(m.request_code, request_code::SEND_BATCH_MESSAGE);
        assert_eq!(m.queue_id, r.message_queue.queue_id);
    }
    assert_eq!(r.queue_offset, stored[0].queue_offset);
    let req = &broker.received_with_code(request_code::SEND_BATCH_MESSAGE)[0];
    let header_props = decode_properties(req.ext("i").expect("batch header properties"));
    assert!(
        !header_props.iter().any(|(k, _)| k == property::UNIQ_KEY),
        "no UNIQ_KEY in the batch header: {header_props:?}"
    );
    assert_eq!(req.ext("m"), Some("true"));
}

/// Batch rules are checked before sending: one topic, no delay level, not empty.
#[actix_rt::test]
async fn batch_validation_errors() {
    let cluster = one_broker().await;
    let producer = start(config("batch_invalid_group", &cluster)).await;
    let mixed = vec![msg("a"), Message::new("OtherTopic", "b")];
    let err = producer
        .send(SendBatch::new(mixed))
        .await
        .unwrap()
        .expect_err("mixed topics");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Validation(ValidationError::BatchMixedTopics { .. })
        ),
        "{err:?}"
    );
    let delayed = vec![msg("a"), msg("b").with_delay_level(3)];
    let err = producer
        .send(SendBatch::new(delayed))
        .await
        .unwrap()
        .expect_err("delay level");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Validation(ValidationError::BatchDelayLevel { index: 1 })
        ),
        "{err:?}"
    );
    let err = producer
        .send(SendBatch::new(Vec::new()))
        .await
        .unwrap()
        .expect_err("empty batch");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Validation(ValidationError::BatchEmpty)
        ),
        "{err:?}"
    );
    assert!(
        cluster
            .broker("broker-a")
            .received_with_code(request_code::SEND_BATCH_MESSAGE)
            .is_empty()
    );
}

/// `FetchPublishQueues` lists the writable queues of every broker; an unknown topic has none.
#[actix_rt::test]
async fn fetch_publish_queues() {
    let cluster = two_brokers().await;
    let producer = start(config("fetch_group", &cluster)).await;
    let queues = within(
        LIMIT,
        "fetch",
        producer.send(FetchPublishQueues {
            topic: TOPIC.into(),
        }),
    )
    .await
    .unwrap()
    .expect("queues");
    let expected: Vec<MessageQueue> = ["broker-a", "broker-b"]
        .iter()
        .flat_map(|b| (0..4).map(move |q| MessageQueue::new(TOPIC, *b, q)))
        .collect();
    assert_eq!(queues, expected);
    let err = producer
        .send(FetchPublishQueues {
            topic: "NoSuchTopic".into(),
        })
        .await
        .unwrap()
        .expect_err("no route");
    assert!(
        matches!(err.kind(), ErrorKind::Route(RouteError::NoRoute { .. })),
        "{err:?}"
    );
}

/// `SendMessage::notify` delivers the outcome (success or failure) to an actor, tagged.
#[actix_rt::test]
async fn notify_delivers_outcome_to_recipient() {
    let cluster = one_broker().await;
    let producer = start(config("notify_group", &cluster)).await;
    let (recipient, outcomes) = collector();
    // Fire and forget: the outcome arrives at the recipient without anyone awaiting the send.
    producer.do_send(SendMessage::new(msg("notified")).notify(recipient.clone(), 7));
    producer.do_send(SendMessage::new(msg("")).notify(recipient, 8));
    assert!(
        eventually(LIMIT, || outcomes.total() == 2).await,
        "outcomes: {:?}",
        outcomes.counts()
    );
    let ok = outcomes.get(7);
    assert_eq!(ok.len(), 1);
    let r = ok[0].as_ref().expect("correlation 7 succeeded");
    let stored = cluster.broker("broker-a").messages(TOPIC);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].uniq_key(), Some(r.msg_id.as_str()));
    let failed = outcomes.get(8);
    assert_eq!(failed.len(), 1);
    assert!(matches!(
        failed[0].as_ref().unwrap_err().kind(),
        ErrorKind::Validation(ValidationError::BodyEmpty)
    ));
}

/// A body zlib cannot shrink goes uncompressed (sysFlag 0), so a body of exactly
/// `max_message_size` is never inflated past the limits it was checked against.
#[actix_rt::test]
async fn incompressible_body_is_sent_as_is() {
    use rand::RngCore;
    let cluster = one_broker().await;
    let size = 64 * 1024;
    let producer = start(
        config("incompressible_group", &cluster)
            .max_message_size(size)
            .max_in_flight_bytes(size),
    )
    .await;
    let mut body = vec![0u8; size];
    rand::thread_rng().fill_bytes(&mut body);
    let r = within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(Message::new(TOPIC, body.clone()))),
    )
    .await
    .unwrap();
    assert!(r.is_ok(), "{r:?}");
    let stored = cluster.broker("broker-a").messages(TOPIC);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].sys_flag, 0, "not compressed");
    assert_eq!(&stored[0].body[..], &body[..]);
}

/// A signed request carries `AccessKey` and a `Signature` the receiver can
/// recompute: HMAC-SHA1 over the other fields' values in key order, then the body.
fn signature_is_valid(
    cmd: &actix_rocketmq::internals::protocol::RemotingCommand,
    secret: &str,
) -> bool {
    use actix_rocketmq::internals::protocol::acl::{SIGNATURE, signature};
    let Some(ext) = cmd.ext_fields.as_ref() else {
        return false;
    };
    let mut fields: Vec<(&str, &str)> = ext.iter().filter(|(k, _)| *k != SIGNATURE).collect();
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let expected = signature(secret, fields.iter().map(|(_, v)| *v), &cmd.body);
    ext.get(SIGNATURE) == Some(expected.as_str())
}

/// With ACL credentials every request is signed: sends (whose header fields are
/// partly encoded ahead of time), heartbeats and route look-ups; without, none is.
#[actix_rt::test]
async fn acl_credentials_sign_every_request() {
    use actix_rocketmq::AclCredentials;
    let cluster = one_broker().await;
    let producer = start(
        config("acl_group", &cluster).acl_credentials(AclCredentials::new("rocketmq", "12345678")),
    )
    .await;
    for i in 0..3 {
        let res = producer
            .send(SendMessage::new(msg(format!("signed {i}"))))
            .await
            .unwrap();
        assert!(res.is_ok(), "{res:?}");
    }
    let broker = cluster.broker("broker-a");
    let sends = broker.received_with_code(request_code::SEND_MESSAGE_V2);
    let beats = broker.received_with_code(request_code::HEART_BEAT);
    let routes = cluster
        .namesrv()
        .received_with_code(request_code::GET_ROUTEINFO_BY_TOPIC);
    assert_eq!(sends.len(), 3);
    assert!(!beats.is_empty() && !routes.is_empty());
    for r in sends.iter().chain(&beats).chain(&routes) {
        assert_eq!(r.command.ext("AccessKey"), Some("rocketmq"));
        assert!(
            signature_is_valid(&r.command, "12345678"),
            "request {} badly signed",
            r.command.code
        );
        assert!(!signature_is_valid(&r.command, "wrong"));
    }

    let plain = start(config("no_acl_group", &cluster)).await;
    let before = broker
        .received_with_code(request_code::SEND_MESSAGE_V2)
        .len();
    let res = plain.send(SendMessage::new(msg("unsigned"))).await.unwrap();
    assert!(res.is_ok(), "{res:?}");
    let last = &broker.received_with_code(request_code::SEND_MESSAGE_V2)[before];
    assert_eq!(last.command.ext("AccessKey"), None);
    assert_eq!(last.command.ext("Signature"), None);
}
