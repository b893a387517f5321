//! Message trace against the in-process test broker: records reach the trace
//! topic in the Java format and match their sends; a trace broker that stops
//! answering never delays or fails a user send; a full buffer drops the oldest
//! records; a shutdown flushes what is pending.
#[path = "support/producer.rs"]
mod support;

use std::time::{Duration, Instant};

use actix_rocketmq::producer::trace::{DEFAULT_TRACE_TOPIC, PubTrace, decode_pub};
use actix_rocketmq::testkit::{TestCluster, TopicConfig};
use actix_rocketmq::{GetProducerStats, Message, SendMessage, SendResult, SendStatus, Shutdown};
use futures::future::join_all;
use support::{TOPIC, config, eventually, start, within};

/// Every Pub record stored in `topic` on the cluster, with the keys of its trace message.
fn stored_records(cluster: &TestCluster, topic: &str) -> Vec<(PubTrace, String)> {
    cluster
        .messages(topic)
        .iter()
        .flat_map(|m| {
            let body = m.decompressed_body().expect("trace body inflates");
            let text = std::str::from_utf8(&body)
                .expect("trace body is UTF-8")
                .to_owned();
            let keys = m.keys().unwrap_or_default().to_owned();
            decode_pub(&text)
                .expect("trace body decodes")
                .into_iter()
                .map(move |r| (r, keys.clone()))
        })
        .collect()
}

/// One broker serving the user topic and the trace topic.
async fn with_trace_topic() -> TestCluster {
    TestCluster::builder()
        .broker("broker-a")
        .topic(TOPIC, 4)
        .topic(DEFAULT_TRACE_TOPIC, 4)
        .start()
        .await
        .unwrap()
}

fn user_msg(i: usize) -> Message {
    Message::new(TOPIC, format!("body-{i}"))
        .with_tags(format!("tag{}", i % 3))
        .with_keys(format!("order-{i} user-{}", i % 5))
}

#[actix_rt::test]
async fn trace_records_reach_the_trace_topic_and_match_their_sends() {
    let cluster = with_trace_topic().await;
    let producer = start(config("trace_match", &cluster).enable_msg_trace()).await;
    let mut results: Vec<(usize, SendResult)> = Vec::new();
    for i in 0..30 {
        let r = producer
            .send(SendMessage::new(user_msg(i)))
            .await
            .unwrap()
            .unwrap();
        results.push((i, r));
    }
    assert!(
        within(Duration::from_secs(5), "trace records", async {
            eventually(Duration::from_secs(4), || {
                stored_records(&cluster, DEFAULT_TRACE_TOPIC).len() >= 30
            })
            .await
        })
        .await,
        "30 trace records within 4 s"
    );
    let records = stored_records(&cluster, DEFAULT_TRACE_TOPIC);
    assert_eq!(records.len(), 30, "one record per send, no more");
    let broker_addr = cluster.broker_addr("broker-a");
    for (i, res) in &results {
        let (rec, keys) = records
            .iter()
            .find(|(r, _)| r.msg_id == res.msg_id)
            .unwrap_or_else(|| panic!("no trace record for send {i} ({})", res.msg_id));
        assert_eq!(rec.topic, TOPIC);
        assert_eq!(rec.group, "trace_match");
        assert_eq!(rec.tags.as_deref(), Some(format!("tag{}", i % 3).as_str()));
        assert_eq!(
            rec.keys.as_deref(),
            Some(format!("order-{i} user-{}", i % 5).as_str())
        );
        assert_eq!(rec.offset_msg_id, res.offset_msg_id);
        assert_eq!(rec.store_host, broker_addr);
        assert_eq!(rec.body_length, format!("body-{i}").len());
        assert!(rec.success);
        assert_eq!(res.status, SendStatus::SendOk);
        assert!(rec.client_host.is_some());
        // The dashboard finds a trace message by the msgId or a business key.
        let key_list: Vec<&str> = keys.split(' ').collect();
        assert!(key_list.contains(&res.msg_id.as_str()), "keys {keys}");
        assert!(
            key_list.contains(&format!("order-{i}").as_str()),
            "keys {keys}"
        );
    }
    // The broker stored the batch; its reply reaches the dispatcher a moment later.
    let deadline = Instant::now() + Duration::from_secs(3);
    let stats = loop {
        let s = producer.send(GetProducerStats).await.unwrap();
        if s.trace.sent == 30 || Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!((stats.trace.recorded, stats.trace.sent), (30, 30));
    assert_eq!((stats.trace.dropped, stats.trace.failed), (0, 0));
    // The trace producer is a group of its own, announced in heartbeats.
    let beat = cluster
        .broker("broker-a")
        .last_heartbeat()
        .expect("a heartbeat");
    let groups: Vec<String> = beat
        .producer_data_set
        .iter()
        .map(|p| p.group_name.clone())
        .collect();
    assert!(
        groups
            .iter()
            .any(|g| g.starts_with("_INNER_TRACE_PRODUCER-trace_match-PRODUCE-")),
        "{groups:?}"
    );
    within(Duration::from_secs(10), "shutdown", producer.send(Shutdown))
        .await
        .unwrap();
}

#[actix_rt::test]
async fn trace_broker_frozen_never_delays_or_fails_user_sends() {
    let cluster = TestCluster::builder()
        .broker("broker-a")
        .broker("broker-b")
        .topic_on(TOPIC, "broker-a", TopicConfig::new(4))
        .topic_on(DEFAULT_TRACE_TOPIC, "broker-b", TopicConfig::new(4))
        .start()
        .await
        .unwrap();
    let producer = start(config("trace_frozen", &cluster).enable_msg_trace()).await;
    // Warm the route and connections, then stop the trace broker answering.
    producer
        .send(SendMessage::new(user_msg(0)))
        .await
        .unwrap()
        .unwrap();
    cluster.broker("broker-b").freeze();
    let mut slowest = Duration::ZERO;
    for round in 0..5 {
        let started = Instant::now();
        let sends = (0..100).map(|i| producer.send(SendMessage::new(user_msg(round * 100 + i))));
        for r in join_all(sends).await {
            assert!(
                r.unwrap().is_ok(),
                "user sends succeed with the trace broker frozen"
            );
        }
        slowest = slowest.max(started.elapsed());
        // Let the trace dispatcher's batches go out (and hang) between rounds.
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    // A trace send waits 5 s on the frozen broker: a user round that waited
    // for one would take seconds, not the milliseconds the broker needs.
    assert!(
        slowest < Duration::from_secs(2),
        "slowest round of 100 sends: {slowest:?}"
    );
    let stats = producer.send(GetProducerStats).await.unwrap();
    assert_eq!(stats.failed, 0);
    assert_eq!(stats.trace.recorded, 501);
    eprintln!("slowest round {slowest:?}, trace {:?}", stats.trace);
    // Shutdown gives the flush a bounded time, even with the trace broker frozen.
    let t = Instant::now();
    within(Duration::from_secs(20), "shutdown", producer.send(Shutdown))
        .await
        .unwrap();
    eprintln!("shutdown with a frozen trace broker took {:?}", t.elapsed());
    cluster.broker("broker-b").unfreeze();
}

#[actix_rt::test]
async fn trace_buffer_full_drops_the_oldest_records() {
    let cluster = with_trace_topic().await;
    let producer = start(
        config("trace_full", &cluster)
            .enable_msg_trace()
            .msg_trace_buffer(5),
    )
    .await;
    // Fifty at once: they normally all end before the first batch is due (500 ms).
    let started = Instant::now();
    let sends = (0..50).map(|i| producer.send(SendMessage::new(user_msg(i))));
    let results: Vec<SendResult> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let took = started.elapsed();
    let stats = producer.send(GetProducerStats).await.unwrap();
    assert_eq!(stats.trace.recorded, 50);
    assert!(stats.trace.pending <= 5, "{:?}", stats.trace);
    within(Duration::from_secs(10), "shutdown", producer.send(Shutdown))
        .await
        .unwrap();
    let stored: Vec<String> = stored_records(&cluster, DEFAULT_TRACE_TOPIC)
        .into_iter()
        .map(|(r, _)| r.msg_id)
        .collect();
    // Every record is accounted for: stored, or dropped and counted.
    assert_eq!(
        stored.len() as u64 + stats.trace.dropped,
        50,
        "{:?}",
        stats.trace
    );
    if took > Duration::from_millis(400) {
        // A machine too slow to end 50 sends before the first batch: the
        // timer took some records out early, and the order checks below do not hold.
        eprintln!("50 sends took {took:?}: drop-oldest order not checked");
        return;
    }
    assert_eq!(stats.trace.dropped, 45, "{:?}", stats.trace);
    // Replies come in send order here (one connection): the newest five records survive.
    for r in &results[45..] {
        assert!(
            stored.contains(&r.msg_id),
            "newest record {} kept: {stored:?}",
            r.msg_id
        );
    }
    assert!(
        !stored.contains(&results[0].msg_id),
        "oldest record dropped"
    );
}

#[actix_rt::test]
async fn trace_shutdown_flushes_pending_records() {
    let cluster = with_trace_topic().await;
    let producer = start(config("trace_flush", &cluster).enable_msg_trace()).await;
    for i in 0..10 {
        producer
            .send(SendMessage::new(user_msg(i)))
            .await
            .unwrap()
            .unwrap();
    }
    // At once, before the 500 ms batch delay: Java would lose these ten.
    within(Duration::from_secs(10), "shutdown", producer.send(Shutdown))
        .await
        .unwrap();
    assert_eq!(stored_records(&cluster, DEFAULT_TRACE_TOPIC).len(), 10);
}

#[actix_rt::test]
async fn trace_dispatcher_restarts_after_an_unexpected_stop() {
    use actix_rocketmq::internals::runtime::StopUnexpectedly;
    use actix_rocketmq::producer::trace::GetTraceDispatcher;
    let cluster = with_trace_topic().await;
    let producer = start(config("trace_restart", &cluster).enable_msg_trace()).await;
    let dispatcher = producer
        .send(GetTraceDispatcher)
        .await
        .unwrap()
        .expect("trace is on");
    for i in 0..5 {
        producer
            .send(SendMessage::new(user_msg(i)))
            .await
            .unwrap()
            .unwrap();
    }
    dispatcher.send(StopUnexpectedly).await.unwrap();
    for i in 5..10 {
        producer
            .send(SendMessage::new(user_msg(i)))
            .await
            .unwrap()
            .unwrap();
    }
    // Records waiting when it stopped and those made after are all sent by the restarted one.
    assert!(
        eventually(Duration::from_secs(4), || {
            stored_records(&cluster, DEFAULT_TRACE_TOPIC).len() == 10
        })
        .await,
        "10 records after a restart, got {}",
        stored_records(&cluster, DEFAULT_TRACE_TOPIC).len()
    );
    within(Duration::from_secs(10), "shutdown", producer.send(Shutdown))
        .await
        .unwrap();
    // Without trace there is no dispatcher.
    let plain = start(config("trace_none", &cluster)).await;
    assert!(plain.send(GetTraceDispatcher).await.unwrap().is_none());
    plain.send(Shutdown).await.unwrap();
}
