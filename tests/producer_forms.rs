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

/// Waits until `n` messages of [`TOPIC`] are stored; returns them.
async fn stored(
    cluster: &actix_rocketmq::testkit::TestCluster,
    n: usize,
) -> Vec<actix_rocketmq::testkit::BrokerMessage> {
    assert!(
        eventually(LIMIT, || cluster.messages(TOPIC).len() >= n).await,
        "{n} messages stored"
    );
    cluster.messages(TOPIC)
}

/// Oneway to a queue and through a selector: each lands in the chosen queue.
#[actix_rt::test]
async fn oneway_to_queue_and_through_selector() {
    let cluster = one_broker().await;
    let producer = start(config("oneway_forms_group", &cluster)).await;
    let q = MessageQueue::new(TOPIC, "broker-a", 3);
    within(
        LIMIT,
        "oneway to queue",
        producer.send(SendToQueue::new(msg("to-q3"), q).oneway()),
    )
    .await
    .unwrap()
    .expect("oneway to a queue");
    within(
        LIMIT,
        "oneway through selector",
        producer.send(SendWithSelector::new(msg("to-q2"), Arc::new(Touchy), "calm").oneway()),
    )
    .await
    .unwrap()
    .expect("oneway through a selector");
    let got = stored(&cluster, 2).await;
    for m in &got {
        let want = if body_text(m) == "to-q3" { 3 } else { 2 };
        assert_eq!(m.queue_id, want, "{}", body_text(m));
    }
    // A panicking selector fails a oneway send too, and nothing is written.
    let err = within(
        LIMIT,
        "oneway, panicking selector",
        producer.send(SendWithSelector::new(msg("x"), Arc::new(Touchy), "boom").oneway()),
    )
    .await
    .unwrap()
    .expect_err("the selector panicked");
    assert!(matches!(err.kind(), ErrorKind::SelectorPanicked { .. }));
}

/// What the client writes for oneway sends to a queue and through a selector: every
/// frame has the oneway flag bit, no reply is awaited, the header names the chosen
/// queue, and the frames reach the broker in the order sent (the test broker stores
/// them in arrival order, one at a time).
#[actix_rt::test]
async fn oneway_queue_frames_carry_the_flag_and_queue_in_send_order() {
    let cluster = one_broker().await;
    let producer = start(config("oneway_wire_group", &cluster)).await;
    let q = MessageQueue::new(TOPIC, "broker-a", 3);
    for i in 0..50 {
        let to_q = SendToQueue::new(msg(format!("q{i:02}")), q.clone()).oneway();
        let sel = SendWithSelector::new(msg(format!("s{i:02}")), Arc::new(Touchy), "calm").oneway();
        for send in [to_q, sel] {
            within(LIMIT, "oneway", producer.send(send))
                .await
                .unwrap()
                .expect("oneway send");
        }
    }
    let got = stored(&cluster, 100).await;
    let frames = cluster.broker("broker-a").received_with_code(
        actix_rocketmq::internals::protocol::codes::request_code::SEND_MESSAGE_V2,
    );
    assert_eq!(frames.len(), 100);
    assert!(
        frames.iter().all(|f| f.command.is_oneway()),
        "oneway flag bit"
    );
    for (want, prefix) in [(3, "q"), (2, "s")] {
        let bodies: Vec<String> = got
            .iter()
            .filter(|m| m.queue_id == want)
            .map(body_text)
            .collect();
        let expected: Vec<String> = (0..50).map(|i| format!("{prefix}{i:02}")).collect();
        assert_eq!(bodies, expected, "queue {want}: stored in the order sent");
    }
}

/// Notify forms of queue, selector and batch sends deliver the result to
/// the recipient as well as to the awaited reply.
#[actix_rt::test]
async fn notify_forms_deliver_the_outcome() {
    let cluster = one_broker().await;
    let producer = start(config("notify_forms_group", &cluster)).await;
    let (recipient, outcomes) = collector();
    let q = MessageQueue::new(TOPIC, "broker-a", 1);
    let a = producer
        .send(SendToQueue::new(msg("a"), q.clone()).notify(recipient.clone(), 1))
        .await
        .unwrap()
        .expect("to queue");
    let b = producer
        .send(
            SendWithSelector::new(msg("b"), Arc::new(Touchy), "calm").notify(recipient.clone(), 2),
        )
        .await
        .unwrap()
        .expect("selector");
    let c = producer
        .send(
            SendBatch::new(vec![msg("c1"), msg("c2")])
                .to_queue(q)
                .notify(recipient, 3),
        )
        .await
        .unwrap()
        .expect("batch to queue");
    assert_eq!(
        (
            a.message_queue.queue_id,
            b.message_queue.queue_id,
            c.message_queue.queue_id
        ),
        (1, 2, 1)
    );
    assert!(eventually(LIMIT, || outcomes.total() == 3).await);
    for (id, sent) in [(1, &a), (2, &b), (3, &c)] {
        let got = outcomes.get(id);
        assert_eq!(got.len(), 1, "correlation {id}");
        assert_eq!(got[0].as_ref().unwrap().msg_id, sent.msg_id);
    }
    let got = stored(&cluster, 4).await;
    for m in &got {
        let want = if body_text(m) == "b" { 2 } else { 1 };
        assert_eq!(m.queue_id, want, "{}", body_text(m));
    }
}

/// A batch to a queue lands there whole.
#[actix_rt::test]
async fn batch_to_queue_lands_in_the_queue() {
    let cluster = two_brokers().await;
    let producer = start(config("batch_queue_group", &cluster)).await;
    let q = MessageQueue::new(TOPIC, "broker-b", 3);
    let r = within(
        LIMIT,
        "batch to queue",
        producer
            .send(SendBatch::new(vec![msg("one"), msg("two"), msg("three")]).to_queue(q.clone())),
    )
    .await
    .unwrap()
    .expect("batch to queue");
    assert_eq!(r.message_queue, q);
    let got = cluster.broker("broker-b").messages(TOPIC);
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|m| m.queue_id == 3));
    assert!(cluster.broker("broker-a").messages(TOPIC).is_empty());
}

/// Requests to a queue and through a selector go to the chosen queue (the
/// reply is not awaited here: a short timeout ends them).
#[actix_rt::test]
async fn request_to_queue_and_through_selector() {
    let cluster = one_broker().await;
    let producer = start(config("request_forms_group", &cluster)).await;
    let short = Duration::from_millis(300);
    let q = MessageQueue::new(TOPIC, "broker-a", 3);
    let to_queue = producer.send(
        actix_rocketmq::SendRequest::new(msg("req-q3"))
            .to_queue(q)
            .with_timeout(short),
    );
    let by_selector = producer.send(
        actix_rocketmq::SendRequest::new(msg("req-q2"))
            .with_selector(Arc::new(Touchy), "calm")
            .with_timeout(short),
    );
    let (a, b) = within(LIMIT, "requests", async {
        tokio::join!(to_queue, by_selector)
    })
    .await;
    // Nobody replies: both time out, after being stored.
    assert!(a.unwrap().expect_err("no reply").is_timeout());
    assert!(b.unwrap().expect_err("no reply").is_timeout());
    let got = stored(&cluster, 2).await;
    for m in &got {
        let want = if body_text(m) == "req-q3" { 3 } else { 2 };
        assert_eq!(m.queue_id, want, "{}", body_text(m));
    }
}

/// `retry_times_when_send_async_failed` governs sends with `notify` (the Java
/// callback send); awaited sends keep `retry_times_when_send_failed`.
#[actix_rt::test]
async fn notify_sends_retry_async_times() {
    use actix_rocketmq::internals::protocol::codes::response_code;
    let cluster = one_broker().await;
    let producer = start(
        config("async_retry_group", &cluster)
            .retry_times_when_send_failed(0)
            .retry_times_when_send_async_failed(3),
    )
    .await;
    producer
        .send(SendMessage::new(msg("warm-up")))
        .await
        .unwrap()
        .expect("warm-up send");
    let broker = cluster.broker("broker-a");
    let busy = || Fault::respond(response_code::SYSTEM_BUSY, "busy").on_sends();

    // Three busy answers: a notify send succeeds on its fourth attempt.
    broker.inject(busy().times(3));
    let (recipient, outcomes) = collector();
    let r = within(
        LIMIT,
        "notify send",
        producer.send(SendMessage::new(msg("a")).notify(recipient.clone(), 1)),
    )
    .await
    .unwrap()
    .expect("retried past three busy answers");
    assert!(eventually(LIMIT, || outcomes.total() == 1).await);
    assert_eq!(outcomes.get(1)[0].as_ref().unwrap().msg_id, r.msg_id);

    // The same for an awaited send: no retry, the busy answer is the error.
    broker.inject(busy().times(3));
    let err = within(
        LIMIT,
        "plain send",
        producer.send(SendMessage::new(msg("b"))),
    )
    .await
    .unwrap()
    .expect_err("no retries for an awaited send");
    assert_eq!(err.attempts(), 1, "{err:?}");

    // Four busy answers outlast a notify send's four attempts.
    broker.clear_faults();
    broker.inject(busy().times(4));
    let err = within(
        LIMIT,
        "notify send",
        producer.send(SendMessage::new(msg("c")).notify(recipient, 2)),
    )
    .await
    .unwrap()
    .expect_err("four busy answers");
    assert_eq!(err.attempts(), 4, "{err:?}");
    assert!(eventually(LIMIT, || outcomes.total() == 2).await);
    assert!(outcomes.get(2)[0].is_err());
}

/// `not_available_duration` is tunable: with an isolation for 100 ms answers
/// (none by default), a slow broker-a is avoided after its first answer.
#[actix_rt::test]
async fn tuned_not_available_duration_isolates_a_slow_broker() {
    async fn on_a(tuned: bool) -> usize {
        let cluster = two_brokers().await;
        let mut builder = config("tuned_fault_group", &cluster).send_latency_fault_enable(true);
        if tuned {
            builder = builder
                .latency_max([50, 100, 550, 1000, 2000, 3000, 15000])
                .not_available_duration([0, 60_000, 60_000, 60_000, 120_000, 180_000, 600_000]);
        }
        let producer = start(builder).await;
        cluster.broker("broker-a").inject(
            Fault::delay(Duration::from_millis(120))
                .on_sends()
                .forever(),
        );
        for i in 0..8 {
            within(
                LIMIT,
                "send",
                producer.send(SendMessage::new(msg(format!("m{i}")))),
            )
            .await
            .unwrap()
            .expect("send");
        }
        cluster.broker("broker-a").messages(TOPIC).len()
    }
    assert!(on_a(false).await >= 2, "by default 120 ms isolates nobody");
    assert_eq!(
        on_a(true).await,
        1,
        "tuned: broker-a isolated after one answer"
    );
}

/// The fault table forgets a broker once no route names it.
#[actix_rt::test]
async fn fault_entries_of_brokers_gone_from_the_route_are_pruned() {
    use actix_rocketmq::GetProducerStats;
    use actix_rocketmq::testkit::RouteOverride;
    let cluster = two_brokers().await;
    let producer = start(
        config("prune_fault_group", &cluster)
            .send_latency_fault_enable(true)
            .poll_name_server_interval(Duration::from_secs(1)),
    )
    .await;
    for i in 0..8 {
        let q = MessageQueue::new(TOPIC, if i % 2 == 0 { "broker-a" } else { "broker-b" }, 0);
        producer
            .send(SendToQueue::new(msg(format!("m{i}")), q))
            .await
            .unwrap()
            .expect("send");
    }
    let stats = producer.send(GetProducerStats).await.unwrap();
    assert_eq!(stats.fault_brokers, 2);
    // The name server now routes the topic to broker-a alone.
    let mut route = cluster.route(TOPIC).expect("a route");
    route.broker_datas.retain(|b| b.broker_name == "broker-a");
    route.queue_datas.retain(|q| q.broker_name == "broker-a");
    cluster.override_route(TOPIC, RouteOverride::Route(route));
    let mut pruned = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if producer.send(GetProducerStats).await.unwrap().fault_brokers == 1 {
            pruned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pruned, "broker-b's entry dropped after the route change");
}

/// Records the topics of the queues and message it is shown; picks queue 2.
#[derive(Default)]
struct Seen(std::sync::Mutex<Vec<String>>);

impl MessageQueueSelector for Seen {
    fn select(&self, queues: &[MessageQueue], msg: &Message, _: &SelectorArg) -> Option<usize> {
        let mut seen = self.0.lock().unwrap();
        seen.extend(queues.iter().map(|q| q.topic.clone()));
        seen.push(msg.topic.clone());
        queues.iter().position(|q| q.queue_id == 2)
    }
}

/// A namespaced producer's selector sees queues (and the message) without the
/// namespace, as the `MessageQueueSelector` doc says; the message is stored in
/// the chosen queue of the namespaced topic.
#[actix_rt::test]
async fn selectors_see_queues_without_the_namespace() {
    let wrapped = format!("ns1%{TOPIC}");
    let cluster = actix_rocketmq::testkit::TestCluster::builder()
        .broker("broker-a")
        .topic(&wrapped, 4)
        .start()
        .await
        .expect("test cluster starts");
    let producer = start(config("ns_selector_group", &cluster).namespace("ns1")).await;
    let seen = Arc::new(Seen::default());
    let r = within(
        LIMIT,
        "selector send",
        producer.send(SendWithSelector::new(msg("x"), seen.clone(), "k")),
    )
    .await
    .unwrap()
    .expect("namespaced selector send");
    assert_eq!(r.message_queue.queue_id, 2);
    assert_eq!(r.message_queue.topic, TOPIC);
    let topics = seen.0.lock().unwrap().clone();
    assert_eq!(topics.len(), 5, "{topics:?}");
    assert!(topics.iter().all(|t| t == TOPIC), "{topics:?}");
    let stored = cluster.messages(&wrapped);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].queue_id, 2);
}
