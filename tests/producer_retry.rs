//! Retries, timeouts and failures of the send pipeline: another broker on a
//! retriable failure, the send budget across attempts (mailbox wait included),
//! the per-attempt cap, non-retriable codes, lost replies and broken connections.

#[path = "support/producer.rs"]
mod support;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
use actix_rocketmq::internals::protocol::message::{decode_properties, property};
use actix_rocketmq::testkit::{Fault, ReceivedRequest};
use actix_rocketmq::{ErrorKind, GetProducerStats, SendMessage};
use support::*;
use tokio::time::Instant;

const LIMIT: Duration = Duration::from_secs(5);

/// The UNIQ_KEY a captured V2 send request carries in its properties (`i`).
fn request_uniq_key(r: &ReceivedRequest) -> Option<String> {
    decode_properties(r.ext("i")?)
        .into_iter()
        .find(|(k, _)| k == property::UNIQ_KEY)
        .map(|(_, v)| v)
}

/// Sends `n` messages one after the other; every one must succeed on broker-b.
async fn send_all_land_on_b(
    cluster: &actix_rocketmq::testkit::TestCluster,
    producer: &actix::Addr<actix_rocketmq::ProducerActor>,
    n: usize,
) -> Vec<actix_rocketmq::SendResult> {
    let mut results = Vec::new();
    for i in 0..n {
        let r = within(
            LIMIT,
            "send",
            producer.send(SendMessage::new(msg(format!("m{i}")))),
        )
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("send {i} failed: {e}"));
        assert_eq!(r.message_queue.broker_name, "broker-b", "send {i}");
        results.push(r);
    }
    let on_b: Vec<_> = cluster
        .broker("broker-b")
        .messages(TOPIC)
        .iter()
        .map(|m| m.uniq_key().unwrap().to_owned())
        .collect();
    for r in &results {
        assert!(on_b.contains(&r.msg_id), "{} stored on broker-b", r.msg_id);
    }
    results
}

/// broker-a answers SYSTEM_BUSY: every send that tried it is retried on broker-b,
/// with the same UNIQ_KEY.
#[actix_rt::test]
async fn retry_moves_to_another_broker_on_system_busy() {
    let cluster = two_brokers().await;
    let a = cluster.broker("broker-a");
    a.inject(
        Fault::respond(response_code::SYSTEM_BUSY, "[REJECTREQUEST]system busy")
            .on_sends()
            .forever(),
    );
    let producer = start(config("retry_busy_group", &cluster)).await;
    // Round robin over 8 queues: 10 sends cannot all miss broker-a's 4 queues.
    let results = send_all_land_on_b(&cluster, &producer, 10).await;
    assert!(a.messages(TOPIC).is_empty());
    let tried_a = a.received_with_code(request_code::SEND_MESSAGE_V2);
    assert!(!tried_a.is_empty(), "some sends tried broker-a first");
    let ids: HashSet<_> = results.iter().map(|r| r.msg_id.clone()).collect();
    for r in &tried_a {
        let key = request_uniq_key(r).expect("UNIQ_KEY in the send properties");
        assert!(ids.contains(&key), "the retry of {key} kept its id");
    }
    let stats = producer.send(GetProducerStats).await.unwrap();
    assert_eq!(stats.sent_ok, 10);
    assert_eq!(stats.attempts, 10 + tried_a.len() as u64);
}

/// broker-a closes the connection on every send: the send is retried on broker-b at once.
#[actix_rt::test]
async fn retry_moves_to_another_broker_when_connection_closes() {
    let cluster = two_brokers().await;
    let a = cluster.broker("broker-a");
    a.inject(Fault::close().on_sends().forever());
    let producer = start(config("retry_close_group", &cluster)).await;
    let started = Instant::now();
    send_all_land_on_b(&cluster, &producer, 10).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed connections fail fast, no waiting for timeouts: {:?}",
        started.elapsed()
    );
    assert!(a.messages(TOPIC).is_empty());
    assert!(
        !a.received_with_code(request_code::SEND_MESSAGE_V2)
            .is_empty()
    );
}

/// Every broker refuses: the error after the last attempt names the brokers tried, in order.
#[actix_rt::test]
async fn retry_exhaustion_lists_brokers_tried() {
    let cluster = two_brokers().await;
    for b in ["broker-a", "broker-b"] {
        cluster.broker(b).inject(
            Fault::respond(response_code::SYSTEM_BUSY, "[REJECTREQUEST]system busy")
                .on_sends()
                .forever(),
        );
    }
    let producer = start(config("exhausted_group", &cluster)).await;
    let err = within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(msg("doomed"))),
    )
    .await
    .unwrap()
    .expect_err("every broker is busy");
    assert_eq!(err.response_code(), Some(response_code::SYSTEM_BUSY));
    assert_eq!(err.attempts(), 3, "1 + retry_times_when_send_failed (2)");
    let tried = err.brokers_tried();
    assert_eq!(tried.len(), 3, "{tried:?}");
    assert!(
        tried.windows(2).all(|w| w[0] != w[1]),
        "each retry avoids the broker that just failed: {tried:?}"
    );
    let distinct: BTreeSet<_> = tried.iter().map(String::as_str).collect();
    assert_eq!(distinct, BTreeSet::from(["broker-a", "broker-b"]));
    let text = err.to_string();
    assert!(
        text.contains("broker-a") && text.contains("broker-b"),
        "{text}"
    );
    let sends: usize = ["broker-a", "broker-b"]
        .iter()
        .map(|b| {
            cluster
                .broker(b)
                .received_with_code(request_code::SEND_MESSAGE_V2)
                .len()
        })
        .sum();
    assert_eq!(sends, 3);
}

/// Both brokers answer late: the whole send ends by its 500 ms budget with a timeout,
/// however many attempts it made.
#[actix_rt::test]
async fn timeout_budget_holds_across_retries() {
    let cluster = two_brokers().await;
    for b in ["broker-a", "broker-b"] {
        cluster
            .broker(b)
            .inject(Fault::delay(Duration::from_secs(2)).on_sends().forever());
    }
    let budget = Duration::from_millis(500);
    // Uncapped: the first attempt may use the whole budget.
    let producer = start(config("budget_group", &cluster).send_timeout(budget)).await;
    let started = Instant::now();
    let err = within(LIMIT, "send", producer.send(SendMessage::new(msg("slow"))))
        .await
        .unwrap()
        .expect_err("no broker answers in time");
    let took = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        took >= budget - Duration::from_millis(20) && took < budget + Duration::from_millis(300),
        "ended after {took:?}, budget {budget:?}"
    );
    assert_eq!(err.attempts(), 1, "{err:?}");

    // Capped at 150 ms per attempt: three attempts fit, the budget still holds.
    let producer = start(
        config("budget_capped_group", &cluster)
            .send_timeout(budget)
            .send_msg_max_timeout_per_request(Duration::from_millis(150)),
    )
    .await;
    let started = Instant::now();
    let err = within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(msg("slow again"))),
    )
    .await
    .unwrap()
    .expect_err("no broker answers in time");
    let took = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        took < budget + Duration::from_millis(300),
        "ended after {took:?}, budget {budget:?}"
    );
    assert_eq!(err.attempts(), 3, "{err:?}");
    assert_eq!(err.brokers_tried().len(), 3, "{err:?}");
}

/// The budget starts when the `SendMessage` is created: time before the handler runs counts.
#[actix_rt::test]
async fn timeout_budget_includes_mailbox_wait() {
    let cluster = one_broker().await;
    let budget = Duration::from_millis(400);
    let producer = start(config("mailbox_wait_group", &cluster).send_timeout(budget)).await;
    // Warm up the route so only the budget matters below.
    producer
        .send(SendMessage::new(msg("warm-up")))
        .await
        .unwrap()
        .expect("warm-up send");

    // A send that waited longer than its budget fails at once, without an attempt.
    let stale = SendMessage::new(msg("stale"));
    tokio::time::sleep(budget + Duration::from_millis(100)).await;
    let started = Instant::now();
    let err = within(LIMIT, "send", producer.send(stale))
        .await
        .unwrap()
        .expect_err("budget already spent");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.attempts(), 0);
    assert!(started.elapsed() < Duration::from_millis(100));

    // A send that waited 250 ms of its 400 ms against a slow broker fails ~150 ms after dispatch.
    let a = cluster.broker("broker-a");
    a.inject(Fault::delay(Duration::from_secs(2)).on_sends().forever());
    let created = Instant::now();
    let late = SendMessage::new(msg("late"));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let err = within(LIMIT, "send", producer.send(late))
        .await
        .unwrap()
        .expect_err("slow broker");
    let took = created.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        took < budget + Duration::from_millis(200),
        "ended {took:?} after creation, budget {budget:?}"
    );
    assert_eq!(
        a.received_with_code(request_code::SEND_MESSAGE_V2).len(),
        2,
        "the warm-up and the late send reached the broker, the stale one did not"
    );
}

/// broker-a hangs (frozen): with a per-attempt cap the retry reaches broker-b in time.
#[actix_rt::test]
async fn per_attempt_cap_lets_retry_reach_healthy_broker() {
    let cluster = two_brokers().await;
    let cap = Duration::from_millis(300);
    let producer = start(
        config("cap_group", &cluster)
            .send_timeout(Duration::from_secs(3))
            .send_msg_max_timeout_per_request(cap),
    )
    .await;
    // Route and connections first, then the hang.
    producer
        .send(SendMessage::new(msg("warm-up")))
        .await
        .unwrap()
        .expect("warm-up send");
    let before = producer.send(GetProducerStats).await.unwrap();
    cluster.broker("broker-a").freeze();
    let mut slow = 0;
    for i in 0..6 {
        let started = Instant::now();
        let r = within(
            LIMIT,
            "send",
            producer.send(SendMessage::new(msg(format!("c{i}")))),
        )
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("send {i}: {e}"));
        let took = started.elapsed();
        assert_eq!(r.message_queue.broker_name, "broker-b");
        assert!(took < cap * 3, "send {i} took {took:?}");
        if took >= cap - Duration::from_millis(20) {
            slow += 1;
        }
    }
    let after = producer.send(GetProducerStats).await.unwrap();
    let retries = after.attempts - before.attempts - 6;
    assert!(
        retries >= 1,
        "6 sends over 8 queues hit broker-a at least once"
    );
    assert_eq!(slow, retries, "each retry waited one capped attempt");
    cluster.broker("broker-a").unfreeze();
}

/// MESSAGE_ILLEGAL is not retriable: one attempt, the broker's error at once.
#[actix_rt::test]
async fn non_retriable_broker_code_returns_after_one_attempt() {
    let cluster = two_brokers().await;
    for b in ["broker-a", "broker-b"] {
        cluster.broker(b).inject(
            Fault::respond(response_code::MESSAGE_ILLEGAL, "the message is illegal")
                .on_sends()
                .forever(),
        );
    }
    let producer = start(config("illegal_group", &cluster)).await;
    let started = Instant::now();
    let err = within(LIMIT, "send", producer.send(SendMessage::new(msg("bad"))))
        .await
        .unwrap()
        .expect_err("MESSAGE_ILLEGAL");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(
        matches!(err.kind(), ErrorKind::Broker { code, remark, .. }
            if *code == response_code::MESSAGE_ILLEGAL && remark == "the message is illegal"),
        "{err:?}"
    );
    assert!(!err.is_retriable());
    let sends: usize = ["broker-a", "broker-b"]
        .iter()
        .map(|b| {
            cluster
                .broker(b)
                .received_with_code(request_code::SEND_MESSAGE_V2)
                .len()
        })
        .sum();
    assert_eq!(sends, 1, "no retry");
    let stats = producer.send(GetProducerStats).await.unwrap();
    assert_eq!((stats.attempts, stats.failed), (1, 1));
}

/// broker-a stores but its reply is lost: the retry on broker-b carries the same
/// UNIQ_KEY, so the duplicate shares the id the caller got.
#[actix_rt::test]
async fn lost_reply_retry_keeps_uniq_key() {
    let cluster = two_brokers().await;
    let a = cluster.broker("broker-a");
    a.inject(Fault::drop_reply().on_sends().forever());
    let producer = start(
        config("lost_reply_group", &cluster)
            .send_msg_max_timeout_per_request(Duration::from_millis(200)),
    )
    .await;
    let results = send_all_land_on_b(&cluster, &producer, 6).await;
    let on_a = a.messages(TOPIC);
    assert!(
        !on_a.is_empty(),
        "some sends reached broker-a and were stored"
    );
    let on_b = cluster.broker("broker-b").messages(TOPIC);
    for dup in &on_a {
        let key = dup.uniq_key().expect("UNIQ_KEY");
        let twin = on_b
            .iter()
            .find(|m| m.uniq_key() == Some(key))
            .unwrap_or_else(|| panic!("{key} retried on broker-b"));
        assert_eq!(twin.body, dup.body);
        assert!(results.iter().any(|r| r.msg_id == key));
    }
}

/// The connection breaks with sends in flight: every send gets exactly one reply
/// (retried over a new connection), none hangs.
#[actix_rt::test]
async fn connection_break_mid_stream_replies_once_each() {
    let cluster = one_broker().await;
    let a = cluster.broker("broker-a");
    let producer = start(config("break_group", &cluster)).await;
    producer
        .send(SendMessage::new(msg("warm-up")))
        .await
        .unwrap()
        .expect("warm-up send");
    let conns_before = a.connections_accepted();
    // The 50th send of the burst closes the connection under the others.
    a.inject(Fault::close().on_sends().after(49));
    let (recipient, outcomes) = collector();
    let n = 200u64;
    let pending: Vec<_> = (0..n)
        .map(|i| {
            producer.send(SendMessage::new(msg(format!("burst {i}"))).notify(recipient.clone(), i))
        })
        .collect();
    let results = within(LIMIT, "burst", futures::future::join_all(pending)).await;
    assert!(
        a.connections_accepted() > conns_before,
        "the connection was re-opened"
    );
    assert!(eventually(LIMIT, || outcomes.total() == n as usize).await);
    let counts = outcomes.counts();
    assert_eq!(counts.len(), n as usize);
    assert!(counts.values().all(|c| *c == 1), "one outcome per send");
    let stored: HashSet<String> = a
        .messages(TOPIC)
        .iter()
        .map(|m| m.uniq_key().unwrap().to_owned())
        .collect();
    let mut ok = 0;
    for (i, r) in results.into_iter().enumerate() {
        let r = r.expect("mailbox");
        assert_eq!(
            r.is_ok(),
            outcomes.get(i as u64)[0].is_ok(),
            "send {i}: reply and notify agree"
        );
        if let Ok(r) = r {
            assert!(stored.contains(&r.msg_id), "send {i} stored");
            ok += 1;
        }
    }
    assert_eq!(ok, n, "every send is retried on the new connection");
    let stats = producer.send(GetProducerStats).await.unwrap();
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.sent_ok + stats.failed, n + 1);
}

/// A name server that does not answer: the sends waiting for the route time out
/// within their budget (they are not told the producer shut down).
#[actix_rt::test]
async fn slow_name_server_is_a_timeout() {
    let cluster = one_broker().await;
    let budget = Duration::from_millis(500);
    let producer = start(config("slow_namesrv_group", &cluster).send_timeout(budget)).await;
    cluster.namesrv().freeze();
    let started = Instant::now();
    let pending: Vec<_> = (0..3)
        .map(|i| producer.send(SendMessage::new(msg(format!("r{i}")))))
        .collect();
    for r in within(LIMIT, "sends", futures::future::join_all(pending)).await {
        let err = r.unwrap().expect_err("no route in time");
        assert!(err.is_timeout(), "{err:?}");
        assert_eq!(err.attempts(), 0);
    }
    assert!(started.elapsed() < budget + Duration::from_millis(300));
    cluster.namesrv().unfreeze();
    // The producer is still alive and sends once the name server answers.
    let r = within(LIMIT, "send", producer.send(SendMessage::new(msg("after"))))
        .await
        .unwrap();
    assert!(r.is_ok(), "{r:?}");
}
