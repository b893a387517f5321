//! Message trace against the REAL RocketMQ name server and brokers: the Pub
//! records of 50 sends are read back from `RMQ_SYS_TRACE_TOPIC` and each is
//! matched to its send; with the trace topic's only broker killed, user sends
//! still succeed, at a latency printed next to a trace-off producer's.
//!
//! Ignored by a plain `cargo test`; run with `scripts/test.sh`, or by hand:
//! `RMQ_E2E=1 NAMESRV_ADDR=.. RMQ_RIG_DIR=.. cargo test --all-features --test e2e_trace -- --include-ignored`.

#[path = "support/readback.rs"]
mod readback;
#[path = "support/rig.rs"]
mod rig;

use std::future::Future;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_rocketmq::producer::trace::{DEFAULT_TRACE_TOPIC, PubTrace, decode_pub};
use actix_rocketmq::{
    GetProducerStats, Message, ProducerActor, ProducerConfig, ProducerConfigBuilder, SendMessage,
    SendResult, SendStatus, Shutdown,
};
use readback::{ReadBack, StoredMessage, unique};
use rig::Rig;

const STEP: Duration = Duration::from_secs(10);
const QUEUES: i32 = 4;

async fn within<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

fn builder(rig: &Rig, group: &str) -> ProducerConfigBuilder {
    ProducerConfig::builder(group)
        .namesrv_addr(rig.namesrv_addr())
        .instance_name(unique("e2e"))
}

async fn start(b: ProducerConfigBuilder) -> Addr<ProducerActor> {
    let cfg = b.build().expect("valid producer config");
    within(STEP, "ProducerActor::start", ProducerActor::start(cfg))
        .await
        .expect("producer starts")
}

/// Every message of `topic` the name server routes, pulled from each broker that hosts it.
async fn pull_all(rb: &ReadBack, rig: &Rig, topic: &str) -> Vec<StoredMessage> {
    let Ok(Some(route)) = rb.route(rig.namesrv_addr(), topic).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for q in &route.queue_datas {
        let Some(addr) = route.master_addr(&q.broker_name) else {
            continue;
        };
        let addr = addr.to_owned();
        out.extend(rb.pull_topic(&addr, topic, q.read_queue_nums).await);
    }
    out
}

/// The Pub records of `group` in the trace topic, with their trace message's keys.
async fn trace_records(rb: &ReadBack, rig: &Rig, group: &str) -> Vec<(PubTrace, String)> {
    pull_all(rb, rig, DEFAULT_TRACE_TOPIC)
        .await
        .into_iter()
        .flat_map(|m| {
            let text = String::from_utf8(m.body.to_vec()).expect("trace body is UTF-8");
            let keys = m
                .properties
                .iter()
                .find(|(k, _)| k == "KEYS")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            decode_pub(&text)
                .expect("every trace record decodes")
                .into_iter()
                .map(move |r| (r, keys.clone()))
        })
        .filter(|(r, _)| r.group == group)
        .collect()
}

#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn e2e_trace_records_of_50_sends_match_their_sends() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = unique("e2e_trace");
    let group = unique("e2e_trace_g");
    let producer = start(builder(&rig, &group).enable_msg_trace()).await;
    let mut sent: Vec<(usize, SendResult)> = Vec::new();
    for i in 0..50 {
        let msg = Message::new(topic.as_str(), format!("trace body {i}"))
            .with_tags(format!("tag{}", i % 4))
            .with_keys(format!("order-{i} batch-{}", i / 10));
        let r = within(STEP, "send", producer.send(SendMessage::new(msg)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.status, SendStatus::SendOk);
        sent.push((i, r));
    }
    // Shutdown flushes the pending records (Java's client would lose them).
    within(Duration::from_secs(20), "shutdown", producer.send(Shutdown))
        .await
        .unwrap();
    // The broker indexes what it stored asynchronously: read until all 50 are there.
    let deadline = Instant::now() + Duration::from_secs(15);
    let records = loop {
        let recs = trace_records(&rb, &rig, &group).await;
        if recs.len() >= 50 || Instant::now() > deadline {
            break recs;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        records.len(),
        50,
        "one record per send in {DEFAULT_TRACE_TOPIC}"
    );
    for (i, res) in &sent {
        let (rec, keys) = records
            .iter()
            .find(|(r, _)| r.msg_id == res.msg_id)
            .unwrap_or_else(|| panic!("no trace record of send {i} ({})", res.msg_id));
        assert_eq!(rec.topic, topic);
        assert_eq!(rec.tags.as_deref(), Some(format!("tag{}", i % 4).as_str()));
        assert_eq!(
            rec.keys.as_deref(),
            Some(format!("order-{i} batch-{}", i / 10).as_str())
        );
        assert!(rec.success, "send {i} traced as failed");
        assert_eq!(rec.offset_msg_id, res.offset_msg_id);
        assert_eq!(rec.body_length, format!("trace body {i}").len());
        assert!(!rec.region_id.is_empty());
        assert!(
            keys.split(' ').any(|k| k == res.msg_id),
            "trace message keys {keys} lack {}",
            res.msg_id
        );
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// 50 sequential sends; their latencies, sorted.
async fn timed_sends(p: &Addr<ProducerActor>, topic: &str) -> Vec<Duration> {
    let mut lat = Vec::new();
    for i in 0..50 {
        let t = Instant::now();
        let r = within(
            STEP,
            "send",
            p.send(SendMessage::new(Message::new(topic, format!("m{i}")))),
        )
        .await
        .unwrap();
        assert!(r.is_ok(), "user send {i} failed: {r:?}");
        lat.push(t.elapsed());
    }
    lat.sort();
    lat
}

#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn e2e_trace_broker_killed_user_sends_still_succeed() {
    let rig = Rig::start_private(2);
    let rb = ReadBack::new();
    let (a, b) = (
        rig.broker_addr("broker-a").to_owned(),
        rig.broker_addr("broker-b").to_owned(),
    );
    let topic = unique("e2e_trace_user");
    let trace_topic = unique("e2e_trace_topic");
    // The user topic lives on broker-a, the (customized) trace topic on broker-b only.
    within(STEP, "create topic", rb.create_topic(&[&a], &topic, QUEUES)).await;
    within(
        STEP,
        "create topic",
        rb.create_topic(&[&b], &trace_topic, QUEUES),
    )
    .await;
    rb.wait_route(rig.namesrv_addr(), &topic, &["broker-a"], STEP)
        .await;
    rb.wait_route(rig.namesrv_addr(), &trace_topic, &["broker-b"], STEP)
        .await;

    let plain = start(builder(&rig, &unique("e2e_plain"))).await;
    let traced = start(
        builder(&rig, &unique("e2e_traced"))
            .enable_msg_trace()
            .customized_trace_topic(trace_topic.as_str()),
    )
    .await;
    // Warm both (route, connection), and check trace reaches broker-b while it lives.
    timed_sends(&plain, &topic).await;
    timed_sends(&traced, &topic).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = traced.send(GetProducerStats).await.unwrap();
        if s.trace.sent >= 50 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "trace never reached broker-b: {:?}",
            s.trace
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    rig.kill_broker("broker-b");
    let off = timed_sends(&plain, &topic).await;
    let on = timed_sends(&traced, &topic).await;
    // Once more after the trace batches (500 ms) have had time to fail.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let on_later = timed_sends(&traced, &topic).await;
    eprintln!(
        "broker-b (trace topic) killed; 50 sequential sends each: trace off p50 {:?} p99 {:?} max {:?}; \
         trace on p50 {:?} p99 {:?} max {:?}; trace on, later p50 {:?} max {:?}",
        percentile(&off, 0.5),
        percentile(&off, 0.99),
        off[49],
        percentile(&on, 0.5),
        percentile(&on, 0.99),
        on[49],
        percentile(&on_later, 0.5),
        on_later[49],
    );
    // Loose bound, not a timing claim: a send that waited for a trace send
    // (5 s timeout on a dead broker) would take seconds.
    assert!(on[49] < Duration::from_secs(1) && on_later[49] < Duration::from_secs(1));
    let stats = traced.send(GetProducerStats).await.unwrap();
    assert_eq!(stats.failed, 0, "no user send failed");
    let t = Instant::now();
    within(Duration::from_secs(20), "shutdown", traced.send(Shutdown))
        .await
        .unwrap();
    let stats_after = stats.trace;
    eprintln!(
        "trace stats {stats_after:?}; shutdown took {:?}",
        t.elapsed()
    );
    within(STEP, "shutdown", plain.send(Shutdown))
        .await
        .unwrap();
}
