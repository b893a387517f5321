//! Adaptive auto-batching against the in-process test broker: batches form
//! only under load, each member gets its own reply, what cannot be batched
//! goes alone, and failures, deadlines, back-pressure and dying brokers
//! still answer every send exactly once.

#[path = "support/producer.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use actix_rocketmq::internals::protocol::batch::decode_batch;
use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
use actix_rocketmq::internals::protocol::message::property;
use actix_rocketmq::testkit::{Fault, FaultAction, TestCluster};
use actix_rocketmq::{
    AutoBatch, ErrorKind, GetProducerStats, MessageQueue, SelectMessageQueueByHash, SendMessage,
    SendResult, SendToQueue, SendWithSelector,
};
use futures::future::join_all;
use support::*;
use tokio::time::Instant;

const LIMIT: Duration = Duration::from_secs(10);

/// The members of every SEND_BATCH_MESSAGE a broker received.
fn batches(cluster: &TestCluster, broker: &str) -> Vec<Vec<actix_rocketmq::Message>> {
    cluster
        .broker(broker)
        .received_with_code(request_code::SEND_BATCH_MESSAGE)
        .iter()
        .map(|r| decode_batch(r.body()).expect("a batch body"))
        .collect()
}

fn singles(cluster: &TestCluster, broker: &str) -> usize {
    cluster
        .broker(broker)
        .received_with_code(request_code::SEND_MESSAGE_V2)
        .len()
}

/// Each result names its own stored message: UNIQ_KEY, queue, offset and offset id.
fn assert_results_match_store(cluster: &TestCluster, results: &[SendResult]) {
    let stored: HashMap<String, _> = cluster
        .brokers()
        .iter()
        .flat_map(|b| b.messages(TOPIC))
        .map(|m| (m.uniq_key().unwrap().to_owned(), m))
        .collect();
    let ids: HashSet<_> = results.iter().map(|r| r.msg_id.clone()).collect();
    assert_eq!(ids.len(), results.len(), "every result has its own id");
    for r in results {
        let m = stored
            .get(&r.msg_id)
            .unwrap_or_else(|| panic!("{} stored", r.msg_id));
        assert_eq!(m.broker_name, r.message_queue.broker_name, "{r}");
        assert_eq!(m.queue_id, r.message_queue.queue_id, "{r}");
        assert_eq!(m.queue_offset, r.queue_offset, "{r}");
        assert_eq!(m.msg_id, r.offset_msg_id, "{r}");
        assert_eq!(r.reply_defect, None, "{r}");
    }
}

/// `n` sends at once (bodies `m0..`), each awaited; the results in send order.
async fn send_many(
    producer: &actix::Addr<actix_rocketmq::ProducerActor>,
    n: usize,
) -> Vec<Result<SendResult, actix_rocketmq::Error>> {
    let sends = (0..n).map(|i| producer.send(SendMessage::new(msg(format!("m{i}")))));
    within(LIMIT, "sends", join_all(sends))
        .await
        .into_iter()
        .map(|r| r.expect("mailbox"))
        .collect()
}

fn slow_sends(cluster: &TestCluster, broker: &str, delay: Duration) {
    cluster
        .broker(broker)
        .inject(Fault::delay(delay).on_sends().forever());
}

/// Alone, a send is a plain SEND_MESSAGE_V2, as without auto-batching.
#[actix_rt::test]
async fn a_send_alone_is_a_plain_send() {
    let cluster = one_broker().await;
    let producer = start(config("ab_alone", &cluster).auto_batch(AutoBatch::new())).await;
    for i in 0..5 {
        let r = within(
            LIMIT,
            "send",
            producer.send(SendMessage::new(msg(format!("{i}")))),
        )
        .await
        .unwrap()
        .unwrap();
        assert_results_match_store(&cluster, std::slice::from_ref(&r));
    }
    assert_eq!(singles(&cluster, "broker-a"), 5);
    assert!(batches(&cluster, "broker-a").is_empty());
}

/// Under load, sends leave as batches of several members; each gets its own
/// result (id, queue, offset, offset id), matching what is stored.
#[actix_rt::test]
async fn batches_form_under_load_and_each_member_gets_its_own_result() {
    let cluster = two_brokers().await;
    slow_sends(&cluster, "broker-a", Duration::from_millis(20));
    slow_sends(&cluster, "broker-b", Duration::from_millis(20));
    let producer =
        start(config("ab_load", &cluster).auto_batch(AutoBatch::new().max_in_flight_requests(2)))
            .await;
    let results: Vec<SendResult> = send_many(&producer, 400)
        .await
        .into_iter()
        .map(|r| r.expect("stored"))
        .collect();
    let all: Vec<_> = ["broker-a", "broker-b"]
        .iter()
        .flat_map(|b| batches(&cluster, b))
        .collect();
    assert!(
        all.iter().any(|b| b.len() > 1),
        "batches of several members: {:?}",
        all.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let members: usize = all.iter().map(Vec::len).sum();
    let alone = singles(&cluster, "broker-a") + singles(&cluster, "broker-b");
    assert_eq!(members + alone, 400, "each send went once");
    assert!(alone < 100, "most sends were batched: {alone} alone");
    assert_results_match_store(&cluster, &results);
    let stats = producer.send(GetProducerStats).await.unwrap();
    assert_eq!((stats.sent_ok, stats.failed, stats.in_flight), (400, 0, 0));
}

/// Delay-level, timer and request-reply sends, and one-way sends, never go
/// in a batch, even under load; plain ones around them do.
#[actix_rt::test]
async fn kinds_that_cannot_batch_go_alone() {
    let cluster = one_broker().await;
    slow_sends(&cluster, "broker-a", Duration::from_millis(20));
    let producer =
        start(config("ab_kinds", &cluster).auto_batch(AutoBatch::new().max_in_flight_requests(1)))
            .await;
    let mut sends = Vec::new();
    for i in 0..60 {
        let m = match i % 4 {
            0 => msg(format!("delay{i}")).with_delay_level(2),
            1 => msg(format!("timer{i}")).with_delay_ms(5_000),
            _ => msg(format!("plain{i}")),
        };
        sends.push(producer.send(SendMessage::new(m)));
    }
    let oneway = producer.send(actix_rocketmq::SendOneway::new(msg("oneway")));
    let results = within(LIMIT, "sends", join_all(sends)).await;
    within(LIMIT, "oneway", oneway).await.unwrap().unwrap();
    for r in results {
        r.unwrap().expect("stored");
    }
    let all = batches(&cluster, "broker-a");
    assert!(all.iter().any(|b| b.len() > 1), "plain sends were batched");
    for m in all.iter().flatten() {
        assert!(m.property(property::DELAY).is_none());
        assert!(m.property(property::TIMER_DELAY_MS).is_none());
        assert!(m.body.starts_with(b"plain"), "{:?}", m.body);
    }
}

/// Transactional half messages go alone, as single sends.
#[actix_rt::test]
async fn half_messages_go_alone() {
    use actix_rocketmq::{SendMessageInTransaction, TransactionResolution};
    let cluster = one_broker().await;
    slow_sends(&cluster, "broker-a", Duration::from_millis(20));
    let producer = start(
        config("ab_tx", &cluster)
            .auto_batch(AutoBatch::new().max_in_flight_requests(1))
            .transaction_checker(|_: actix_rocketmq::TransactionCheck| async {
                TransactionResolution::Commit
            }),
    )
    .await;
    let plain = (0..20).map(|i| producer.send(SendMessage::new(msg(format!("plain{i}")))));
    let plain = join_all(plain);
    let half = (0..5).map(|i| producer.send(SendMessageInTransaction::new(msg(format!("tx{i}")))));
    let half = join_all(half);
    let (plain, half) = within(LIMIT, "sends", futures::future::join(plain, half)).await;
    for r in plain {
        r.unwrap().expect("stored");
    }
    for r in half {
        let tx = r.unwrap().expect("half stored");
        tx.commit().await.expect("committed");
    }
    for m in batches(&cluster, "broker-a").iter().flatten() {
        assert!(m.body.starts_with(b"plain"));
        assert!(m.property(property::TRAN_MSG).is_none());
    }
}

/// Sends to a chosen queue (`SendToQueue`, `SendWithSelector`) are batched
/// per queue and stored in the order they were made, each queue with one
/// request in flight.
#[actix_rt::test]
async fn queue_sends_batch_per_queue_in_send_order() {
    let cluster = one_broker().await;
    slow_sends(&cluster, "broker-a", Duration::from_millis(10));
    let producer =
        start(config("ab_order", &cluster).auto_batch(AutoBatch::new().max_batch_messages(7)))
            .await;
    let q = MessageQueue::new(TOPIC, "broker-a", 1);
    let mut sends = Vec::new();
    for i in 0..100 {
        // Every tenth is large enough to be compressed: it goes alone, in its turn.
        let pad = if i % 10 == 5 {
            "-".repeat(5000)
        } else {
            String::new()
        };
        sends.push(producer.send(SendToQueue::new(msg(format!("q{i}{pad}")), q.clone())));
    }
    let by_key = (0..100).map(|i| {
        producer.send(SendWithSelector::new(
            msg(format!("k{}-{i}", i % 3)),
            std::sync::Arc::new(SelectMessageQueueByHash),
            (i % 3).to_string(),
        ))
    });
    let (to_queue, selected) = within(
        LIMIT,
        "sends",
        futures::future::join(join_all(sends), join_all(by_key)),
    )
    .await;
    let mut offsets = Vec::new();
    for r in to_queue {
        let r = r.unwrap().expect("stored");
        assert_eq!(r.message_queue.queue_id, 1);
        offsets.push(r.queue_offset);
    }
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    for r in selected {
        r.unwrap().expect("stored");
    }
    let stored = cluster.broker("broker-a").messages(TOPIC);
    for key in 0..3 {
        let prefix = format!("k{key}-");
        let mut queue_of = None;
        let order: Vec<usize> = stored
            .iter()
            .filter(|m| m.body.starts_with(prefix.as_bytes()))
            .map(|m| {
                assert_eq!(
                    *queue_of.get_or_insert(m.queue_id),
                    m.queue_id,
                    "one queue per key"
                );
                String::from_utf8_lossy(&m.body[prefix.len()..])
                    .parse()
                    .unwrap()
            })
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "key {key}: {order:?}"
        );
    }
    let q1: Vec<usize> = stored
        .iter()
        .filter(|m| m.queue_id == 1)
        .map(body_text)
        .filter(|b| b.starts_with('q'))
        .map(|b| b[1..].trim_end_matches('-').parse().unwrap())
        .collect();
    assert_eq!(q1, (0..100).collect::<Vec<_>>());
    assert!(batches(&cluster, "broker-a").iter().any(|b| b.len() > 1));
    assert!(
        stored.iter().any(|m| m.is_compressed()),
        "the large ones went alone"
    );
}

/// A batch refused with a retriable code is retried on the other broker;
/// every member ends stored there, once.
#[actix_rt::test]
async fn a_failed_batch_is_retried_on_another_broker() {
    let cluster = two_brokers().await;
    cluster.broker("broker-a").inject(
        Fault::respond(response_code::SYSTEM_BUSY, "[REJECTREQUEST]system busy")
            .on_sends()
            .forever(),
    );
    slow_sends(&cluster, "broker-b", Duration::from_millis(20));
    let producer =
        start(config("ab_retry", &cluster).auto_batch(AutoBatch::new().max_in_flight_requests(1)))
            .await;
    // The queue rotation starts anywhere: waves until a batch has met broker-a.
    let mut results: Vec<SendResult> = Vec::new();
    for _ in 0..20 {
        results.extend(
            send_many(&producer, 100)
                .await
                .into_iter()
                .map(|r| r.expect("stored on broker-b")),
        );
        if !batches(&cluster, "broker-a").is_empty() {
            break;
        }
        // Each wave is one request (its sends leave together at the end of
        // the producer's turn); two more sends alone shift the rotation by 3
        // per round, against any period of two brokers' queues.
        for _ in 0..2 {
            results.push(send_many(&producer, 1).await.remove(0).expect("stored"));
        }
    }
    let refused = batches(&cluster, "broker-a");
    assert!(!refused.is_empty(), "some batches tried broker-a first");
    assert!(refused.iter().any(|b| b.len() > 1));
    assert!(
        results
            .iter()
            .all(|r| r.message_queue.broker_name == "broker-b")
    );
    assert_eq!(
        cluster.broker("broker-b").messages(TOPIC).len(),
        results.len()
    );
    assert_results_match_store(&cluster, &results);
}

/// A member whose own deadline passes while its batch waits for a reply gets
/// its timeout then; the batch is retried without it and the others succeed.
#[actix_rt::test]
async fn a_member_times_out_at_its_own_deadline_inside_a_retried_batch() {
    let cluster = one_broker().await;
    let a = cluster.broker("broker-a");
    // The first send holds the key's one slot for a while, so the next three gather.
    a.inject(
        Fault::delay(Duration::from_millis(100))
            .on(request_code::SEND_MESSAGE_V2)
            .times(1),
    );
    // The first batch's reply is lost: the attempt ends at its cap and is retried.
    a.inject(
        Fault::new(FaultAction::DropReply)
            .on(request_code::SEND_BATCH_MESSAGE)
            .times(1),
    );
    let producer = start(
        config("ab_deadline", &cluster)
            .send_msg_max_timeout_per_request(Duration::from_millis(400))
            .auto_batch(AutoBatch::new().max_in_flight_requests(1)),
    )
    .await;
    let first = producer.send(SendMessage::new(msg("first")));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t0 = Instant::now();
    let long1 = producer.send(SendMessage::new(msg("long1")));
    let short =
        producer.send(SendMessage::new(msg("short")).with_timeout(Duration::from_millis(250)));
    let long2 = producer.send(SendMessage::new(msg("long2")));
    let short = async {
        let r = short.await.unwrap();
        (r, t0.elapsed())
    };
    let (first, long1, (short, short_at), long2) = within(
        LIMIT,
        "sends",
        futures::future::join4(first, long1, short, long2),
    )
    .await;
    first.unwrap().expect("stored");
    let err = short.expect_err("the short member times out");
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err}");
    // Its deadline, not the batch's attempt (~500 ms in) or the retry.
    assert!(
        short_at < Duration::from_millis(400),
        "answered after {short_at:?}"
    );
    let results = [
        long1.unwrap().expect("stored"),
        long2.unwrap().expect("stored"),
    ];
    let sent = batches(&cluster, "broker-a");
    let sizes: Vec<usize> = sent.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        vec![3, 2],
        "retried without the member that timed out"
    );
    assert!(sent[1].iter().all(|m| !m.body.starts_with(b"short")));
    // The lost reply's batch was stored too: match the retry's copies.
    let stored = a.messages(TOPIC);
    for r in &results {
        assert!(stored.iter().any(|m| m.msg_id == r.offset_msg_id
            && m.queue_offset == r.queue_offset
            && m.uniq_key() == Some(r.msg_id.as_str())));
    }
}

/// A send whose time ran out before its batch left (here: waiting for the
/// topic's route, which a slow name server answers after its deadline) is
/// answered with its timeout and never written; the batch leaves without it.
#[actix_rt::test]
async fn a_member_past_its_deadline_is_not_sent() {
    let cluster = one_broker().await;
    cluster.namesrv().inject(
        Fault::delay(Duration::from_millis(400))
            .on(request_code::GET_ROUTEINFO_BY_TOPIC)
            .on_topic(TOPIC),
    );
    let producer = start(
        config("ab_expired", &cluster).auto_batch(AutoBatch::new().max_in_flight_requests(1)),
    )
    .await;
    let sends = [
        producer.send(SendMessage::new(msg("long1"))),
        producer.send(SendMessage::new(msg("short")).with_timeout(Duration::from_millis(150))),
        producer.send(SendMessage::new(msg("long2"))),
    ];
    let [long1, short, long2] = within(LIMIT, "sends", join_all(sends))
        .await
        .try_into()
        .expect("three replies");
    let err = short.unwrap().expect_err("the short send times out");
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err}");
    long1.unwrap().expect("stored");
    long2.unwrap().expect("stored");
    let a = cluster.broker("broker-a");
    let written: Vec<_> = batches(&cluster, "broker-a")
        .into_iter()
        .flatten()
        .map(|m| m.body)
        .chain(
            a.received_with_code(request_code::SEND_MESSAGE_V2)
                .iter()
                .map(|r| r.body().clone()),
        )
        .collect();
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(
        written.iter().all(|b| !b.starts_with(b"short")),
        "{written:?}"
    );
}

/// Gathered sends count against the in-flight bounds one by one: the producer
/// never holds more than `max_in_flight`, and the rest wait their turn.
#[actix_rt::test]
async fn gathered_sends_are_bounded_by_max_in_flight() {
    let cluster = one_broker().await;
    slow_sends(&cluster, "broker-a", Duration::from_millis(30));
    let producer = start(
        config("ab_bp", &cluster)
            .max_in_flight(10)
            .auto_batch(AutoBatch::new().max_in_flight_requests(1)),
    )
    .await;
    let sends = send_many(&producer, 60);
    let watch = async {
        let mut peak = 0;
        let mut waited = 0;
        for _ in 0..20 {
            let s = producer.send(GetProducerStats).await.unwrap();
            peak = peak.max(s.in_flight);
            waited = waited.max(s.waiting_for_capacity);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (peak, waited)
    };
    let (results, (peak, waited)) = futures::future::join(sends, watch).await;
    assert!(peak <= 10, "in flight {peak}");
    assert!(waited > 0, "sends waited for room");
    assert!(results.into_iter().all(|r| r.is_ok()));
    // Tight deadlines while full: back-pressure, each answered once.
    cluster.broker("broker-a").clear_faults();
    slow_sends(&cluster, "broker-a", Duration::from_millis(300));
    let sends = (0..40).map(|i| {
        producer
            .send(SendMessage::new(msg(format!("bp{i}"))).with_timeout(Duration::from_millis(100)))
    });
    let results = within(LIMIT, "sends", join_all(sends)).await;
    let kinds: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap().map(|_| ()).map_err(|e| e.kind().clone()))
        .collect();
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, Err(ErrorKind::Backpressure { .. }))),
        "{kinds:?}"
    );
    assert!(eventually(LIMIT, || true).await);
}

/// A broker that dies with batches in flight: every send is answered exactly
/// once (stored or an error), none hangs.
#[actix_rt::test]
async fn a_broker_dying_with_batches_in_flight_answers_every_member_once() {
    let cluster = one_broker().await;
    slow_sends(&cluster, "broker-a", Duration::from_millis(200));
    let producer =
        start(config("ab_die", &cluster).auto_batch(AutoBatch::new().max_in_flight_requests(1)))
            .await;
    let (recipient, outcomes) = collector();
    let sends: Vec<_> = (0..200u64)
        .map(|i| producer.send(SendMessage::new(msg(format!("d{i}"))).notify(recipient.clone(), i)))
        .collect();
    let kill = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cluster.broker("broker-a").stop().await.unwrap();
    };
    let (results, ()) = within(LIMIT, "sends", futures::future::join(join_all(sends), kill)).await;
    assert_eq!(results.len(), 200);
    let failed = results
        .iter()
        .filter(|r| r.as_ref().unwrap().is_err())
        .count();
    assert!(failed > 0, "the batches in flight failed");
    assert!(eventually(LIMIT, || outcomes.total() == 200).await);
    assert!(outcomes.counts().values().all(|&n| n == 1), "exactly once");
    let stats = producer.send(GetProducerStats).await.unwrap();
    assert_eq!(stats.in_flight, 0);
}

/// Batches stay within the broker's 4 MiB limit: with 1 MiB messages a batch
/// holds three at most.
#[actix_rt::test]
async fn batches_never_pass_four_mib() {
    let cluster = one_broker().await;
    slow_sends(&cluster, "broker-a", Duration::from_millis(30));
    let producer = start(
        config("ab_4mib", &cluster)
            .compress_msg_body_over(usize::MAX)
            .auto_batch(
                AutoBatch::new()
                    .max_in_flight_requests(1)
                    .max_batch_bytes(4 * 1024 * 1024),
            ),
    )
    .await;
    let body = "x".repeat(1024 * 1024);
    let sends = (0..12).map(|_| producer.send(SendMessage::new(msg(body.clone()))));
    for r in within(LIMIT, "sends", join_all(sends)).await {
        r.unwrap().expect("stored");
    }
    let received = cluster
        .broker("broker-a")
        .received_with_code(request_code::SEND_BATCH_MESSAGE);
    assert!(!received.is_empty());
    for r in &received {
        assert!(r.body().len() <= 4 * 1024 * 1024, "{}", r.body().len());
        assert!(decode_batch(r.body()).unwrap().len() <= 3);
    }
}

/// Garbage where a batch's reply should be: every member gets one typed
/// answer; a reply that says stored but names no ids is stored with a defect.
#[actix_rt::test]
async fn garbage_batch_replies_answer_every_member_once() {
    let cluster = one_broker().await;
    let a = cluster.broker("broker-a");
    // Single sends are slow, so the others gather behind them.
    let slow_singles = || {
        Fault::delay(Duration::from_millis(20))
            .on(request_code::SEND_MESSAGE_V2)
            .forever()
    };
    a.inject(slow_singles());
    a.inject(
        Fault::new(FaultAction::Garbage(bytes::Bytes::from_static(
            b"\x00\x00\x00\x08garbage!",
        )))
        .on(request_code::SEND_BATCH_MESSAGE)
        .times(1),
    );
    let producer = start(
        config("ab_garbage", &cluster)
            .retry_times_when_send_failed(0)
            .auto_batch(AutoBatch::new().max_in_flight_requests(1)),
    )
    .await;
    let (recipient, outcomes) = collector();
    let sends = (0..100u64).map(|i| {
        producer.send(SendMessage::new(msg(format!("g{i}"))).notify(recipient.clone(), i))
    });
    let results = within(LIMIT, "sends", join_all(sends)).await;
    let mut errors = 0;
    for r in results {
        match r.unwrap() {
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                assert!(
                    matches!(
                        e.kind(),
                        ErrorKind::Connection(_) | ErrorKind::Protocol { .. }
                    ),
                    "{e}"
                );
            }
        }
    }
    assert!(errors > 1, "the members of the garbled batch failed");
    assert!(eventually(LIMIT, || outcomes.total() == 100).await);
    assert!(outcomes.counts().values().all(|&n| n == 1));
    // SUCCESS with no send header: stored, says the code; each member says what was wrong.
    a.clear_faults();
    // The undecodable reply opened the connection's backoff window: let it pass.
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.inject(slow_singles());
    a.inject(
        Fault::respond_body(response_code::SUCCESS, bytes::Bytes::new())
            .on(request_code::SEND_BATCH_MESSAGE)
            .forever(),
    );
    let results = send_many(&producer, 50).await;
    let defects = results
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.reply_defect.is_some()))
        .count();
    assert!(
        defects > 1,
        "batch members with a reply defect: {results:?}"
    );
    assert!(results.iter().all(Result::is_ok));
}

/// Send hooks see each batched message on its own: `before` and `after` once
/// per message with its own result; a forbidden message fails alone.
#[actix_rt::test]
async fn hooks_run_per_member() {
    use actix_rocketmq::producer::hooks::{SendContext, SendHook};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Seen {
        before: Mutex<Vec<String>>,
        after: Mutex<Vec<(String, Option<String>)>>,
    }
    struct Hook(Arc<Seen>);
    impl SendHook for Hook {
        fn before(&self, ctx: &SendContext<'_>) {
            let body = String::from_utf8_lossy(&ctx.message.body).into_owned();
            self.0.before.lock().unwrap().push(body);
        }
        fn after(&self, ctx: &SendContext<'_>, r: &Result<SendResult, actix_rocketmq::Error>) {
            let body = String::from_utf8_lossy(&ctx.message.body).into_owned();
            let id = r.as_ref().ok().map(|r| r.msg_id.clone());
            self.0.after.lock().unwrap().push((body, id));
        }
    }
    let cluster = one_broker().await;
    slow_sends(&cluster, "broker-a", Duration::from_millis(20));
    let seen = Arc::new(Seen::default());
    let producer = start(
        config("ab_hooks", &cluster)
            .send_hook(Arc::new(Hook(seen.clone())))
            .check_forbidden_hook(Arc::new(|ctx: &SendContext<'_>| {
                if ctx.message.body.as_ref() == b"m7" {
                    Err("not m7".to_owned())
                } else {
                    Ok(())
                }
            }))
            .auto_batch(AutoBatch::new().max_in_flight_requests(1)),
    )
    .await;
    let results = send_many(&producer, 30).await;
    assert!(batches(&cluster, "broker-a").iter().any(|b| b.len() > 1));
    let before = seen.before.lock().unwrap().clone();
    let after = seen.after.lock().unwrap().clone();
    for (i, r) in results.iter().enumerate() {
        let body = format!("m{i}");
        if i == 7 {
            assert!(matches!(
                r.as_ref().unwrap_err().kind(),
                ErrorKind::Forbidden { .. }
            ));
            assert!(!before.contains(&body) && after.iter().all(|(b, _)| *b != body));
            continue;
        }
        let r = r.as_ref().expect("stored");
        assert_eq!(before.iter().filter(|b| **b == body).count(), 1, "{body}");
        let own: Vec<_> = after.iter().filter(|(b, _)| *b == body).collect();
        assert_eq!(own.len(), 1, "{body}");
        assert_eq!(
            own[0].1.as_deref(),
            Some(r.msg_id.as_str()),
            "its own result"
        );
    }
    assert_eq!(cluster.broker("broker-a").messages(TOPIC).len(), 29);
}
