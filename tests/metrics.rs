//! The client's metrics (feature `metrics`) through `metrics-util`'s debugging
//! recorder: counts and latencies after known sends, failures and retries, the
//! connection, route, heartbeat and in-flight series, and transaction checks.
//! One recorder serves the whole binary; each test has a topic (or group) of
//! its own and reads only the series labelled with it.
#![cfg(feature = "metrics")]

#[path = "support/producer.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
use actix_rocketmq::testkit::{Fault, TestCluster};
use actix_rocketmq::{
    Message, SendMessage, SendMessageInTransaction, TransactionCheck, TransactionResolution,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use support::*;

const LIMIT: Duration = Duration::from_secs(5);

/// What the recorder has seen so far, summed over snapshots (a snapshot drains it).
#[derive(Default)]
struct Seen {
    counters: HashMap<CompositeKey, u64>,
    gauges: HashMap<CompositeKey, f64>,
    histograms: HashMap<CompositeKey, Vec<f64>>,
}

fn recorder() -> &'static (Snapshotter, Mutex<Seen>) {
    static RECORDER: OnceLock<(Snapshotter, Mutex<Seen>)> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("the only recorder of this binary");
        (snapshotter, Mutex::new(Seen::default()))
    })
}

/// Takes what was recorded since the last call into the running sums.
fn seen() -> std::sync::MutexGuard<'static, Seen> {
    let (snapshotter, seen) = recorder();
    let mut seen = seen.lock().unwrap();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        match value {
            DebugValue::Counter(n) => *seen.counters.entry(key).or_default() += n,
            DebugValue::Gauge(v) => *seen.gauges.entry(key).or_default() += v.into_inner(),
            DebugValue::Histogram(vs) => seen
                .histograms
                .entry(key)
                .or_default()
                .extend(vs.into_iter().map(|v| v.into_inner())),
        }
    }
    seen
}

/// Whether `key` is `name` and carries every label of `labels`.
fn matches(key: &CompositeKey, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> bool {
    key.kind() == kind
        && key.key().name() == name
        && labels
            .iter()
            .all(|(k, v)| key.key().labels().any(|l| l.key() == *k && l.value() == *v))
}

/// The sum of the counters `name` with `labels`.
fn counter(name: &str, labels: &[(&str, &str)]) -> u64 {
    let seen = seen();
    seen.counters
        .iter()
        .filter(|(k, _)| matches(k, MetricKind::Counter, name, labels))
        .map(|(_, n)| n)
        .sum()
}

/// The sum of the gauges `name` with `labels`.
fn gauge(name: &str, labels: &[(&str, &str)]) -> f64 {
    let seen = seen();
    seen.gauges
        .iter()
        .filter(|(k, _)| matches(k, MetricKind::Gauge, name, labels))
        .map(|(_, v)| v)
        .sum()
}

/// The values recorded in the histograms `name` with `labels`.
fn histogram(name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    let seen = seen();
    seen.histograms
        .iter()
        .filter(|(k, _)| matches(k, MetricKind::Histogram, name, labels))
        .flat_map(|(_, v)| v.iter().copied())
        .collect()
}

/// A test cluster (`support::cluster_with`), the recorder installed first.
async fn cluster_with(topic: &str, brokers: &[&str]) -> TestCluster {
    recorder();
    support::cluster_with(topic, brokers).await
}

/// Five stored sends: five successes with their latency, labelled by topic and client id.
#[actix_rt::test]
async fn stored_sends_are_counted_with_their_latency() {
    const T: &str = "MetricsStored";
    let cluster = cluster_with(T, &["broker-a"]).await;
    let cfg = config("metrics_stored_group", &cluster).build().unwrap();
    let client_id = cfg.client_id();
    let producer = actix_rocketmq::ProducerActor::start(cfg).await.unwrap();
    for i in 0..5 {
        within(
            LIMIT,
            "send",
            producer.send(SendMessage::new(Message::new(T, format!("m{i}")))),
        )
        .await
        .unwrap()
        .expect("stored");
    }
    let ok = [
        ("topic", T),
        ("outcome", "send_ok"),
        ("client_id", client_id.as_str()),
    ];
    assert_eq!(counter("rocketmq_send_total", &ok), 5);
    assert_eq!(
        counter(
            "rocketmq_send_total",
            &[("topic", T), ("outcome", "failure")]
        ),
        0
    );
    assert_eq!(counter("rocketmq_send_failure_total", &[("topic", T)]), 0);
    assert_eq!(counter("rocketmq_send_retry_total", &[("topic", T)]), 0);
    let latencies = histogram(
        "rocketmq_send_cost_time",
        &[
            ("topic", T),
            ("invocation_status", "success"),
            ("client_id", client_id.as_str()),
        ],
    );
    assert_eq!(latencies.len(), 5, "{latencies:?}");
    assert!(
        latencies.iter().all(|ms| *ms >= 0.0 && *ms < 5000.0),
        "{latencies:?}"
    );
    // Nothing in flight once every reply is in.
    let group = [("producer_group", "metrics_stored_group")];
    assert_eq!(gauge("rocketmq_producer_in_flight", &group), 0.0);
    assert_eq!(gauge("rocketmq_producer_in_flight_bytes", &group), 0.0);
    // The route came from the name server; the broker's connection opened and stays open.
    assert!(
        counter(
            "rocketmq_route_lookups_total",
            &[("topic", T), ("result", "ok")]
        ) >= 1
    );
    let broker = cluster.broker("broker-a").addr();
    assert!(counter("rocketmq_connects_total", &[("remote", broker.as_str())]) >= 1);
    assert!(gauge("rocketmq_connections_open", &[("remote", broker.as_str())]) >= 1.0);
    // Registering the group beats every master at once.
    assert!(
        eventually(LIMIT, || counter(
            "rocketmq_heartbeats_total",
            &[("broker", broker.as_str()), ("result", "ok")]
        ) >= 1)
        .await
    );
    producer.send(actix_rocketmq::Shutdown).await.unwrap();
}

/// A broker that refuses every send (a code Java does not retry): each send is
/// one failure of kind `broker`; an invalid message is one of kind `validation`.
#[actix_rt::test]
async fn failures_are_counted_by_error_kind() {
    const T: &str = "MetricsFailed";
    let cluster = cluster_with(T, &["broker-a"]).await;
    cluster.broker("broker-a").inject(
        Fault::respond(response_code::MESSAGE_ILLEGAL, "refused by the test")
            .on_sends()
            .forever(),
    );
    let producer = start(config("metrics_failed_group", &cluster)).await;
    for i in 0..3 {
        let err = within(
            LIMIT,
            "send",
            producer.send(SendMessage::new(Message::new(T, format!("m{i}")))),
        )
        .await
        .unwrap()
        .expect_err("refused");
        assert_eq!(err.kind().as_str(), "broker");
    }
    let err = within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(Message::new(T, ""))),
    )
    .await
    .unwrap()
    .expect_err("an empty body is invalid");
    assert_eq!(err.kind().as_str(), "validation");

    let failures = |kind| {
        counter(
            "rocketmq_send_failure_total",
            &[("topic", T), ("error_kind", kind)],
        )
    };
    assert_eq!(failures("broker"), 3);
    assert_eq!(failures("validation"), 1);
    assert_eq!(
        counter(
            "rocketmq_send_total",
            &[("topic", T), ("outcome", "failure")]
        ),
        4
    );
    assert_eq!(
        counter(
            "rocketmq_send_total",
            &[("topic", T), ("outcome", "send_ok")]
        ),
        0
    );
    assert_eq!(
        histogram(
            "rocketmq_send_cost_time",
            &[("topic", T), ("invocation_status", "failure")]
        )
        .len(),
        4
    );
    assert_eq!(
        counter("rocketmq_send_retry_total", &[("topic", T)]),
        0,
        "not a retried code"
    );
    producer.send(actix_rocketmq::Shutdown).await.unwrap();
}

/// broker-a is busy: every send that tried it is retried once on broker-b, and
/// each retry is counted; every send still ends stored.
#[actix_rt::test]
async fn retries_are_counted() {
    const T: &str = "MetricsRetried";
    let cluster = cluster_with(T, &["broker-a", "broker-b"]).await;
    let a = cluster.broker("broker-a");
    a.inject(
        Fault::respond(response_code::SYSTEM_BUSY, "[REJECTREQUEST]system busy")
            .on_sends()
            .forever(),
    );
    let producer = start(config("metrics_retried_group", &cluster)).await;
    for i in 0..10 {
        let r = within(
            LIMIT,
            "send",
            producer.send(SendMessage::new(Message::new(T, format!("m{i}")))),
        )
        .await
        .unwrap()
        .expect("stored on broker-b");
        assert_eq!(r.message_queue.broker_name, "broker-b");
    }
    let tried_a = a.received_with_code(request_code::SEND_MESSAGE_V2).len() as u64;
    assert!(tried_a >= 1, "round robin over 8 queues tried broker-a");
    assert_eq!(
        counter("rocketmq_send_retry_total", &[("topic", T)]),
        tried_a
    );
    assert_eq!(
        counter(
            "rocketmq_send_total",
            &[("topic", T), ("outcome", "send_ok")]
        ),
        10
    );
    assert_eq!(counter("rocketmq_send_failure_total", &[("topic", T)]), 0);
    producer.send(actix_rocketmq::Shutdown).await.unwrap();
}

/// A connection refused: connect failures by remote address, and the sends fail.
#[actix_rt::test]
async fn connect_failures_are_counted_by_remote() {
    const T: &str = "MetricsConnect";
    let cluster = cluster_with(T, &["broker-a"]).await;
    let broker = cluster.broker("broker-a");
    let addr = broker.addr();
    broker.stop().await.expect("the broker stops");
    let producer =
        start(config("metrics_connect_group", &cluster).send_timeout(Duration::from_millis(800)))
            .await;
    let err = within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(Message::new(T, "x"))),
    )
    .await
    .unwrap()
    .expect_err("the broker does not accept");
    assert!(
        counter(
            "rocketmq_connect_failures_total",
            &[("remote", addr.as_str())]
        ) >= 1,
        "{err}"
    );
    assert_eq!(
        counter(
            "rocketmq_send_total",
            &[("topic", T), ("outcome", "failure")]
        ),
        1
    );
    producer.send(actix_rocketmq::Shutdown).await.unwrap();
}

/// A broker's transaction check answered by the checker: one count of its resolution.
#[actix_rt::test]
async fn transaction_checks_are_counted_by_resolution() {
    const T: &str = "MetricsTx";
    let cluster = cluster_with(T, &["broker-a"]).await;
    let builder = config("metrics_tx_group", &cluster)
        .transaction_checker(|_: TransactionCheck| async { TransactionResolution::Rollback });
    let producer = start(builder).await;
    let tx = within(
        LIMIT,
        "half",
        producer.send(SendMessageInTransaction::new(Message::new(T, "h"))),
    )
    .await
    .unwrap()
    .expect("half stored");
    within(LIMIT, "end", tx.end(TransactionResolution::Unknown))
        .await
        .unwrap();
    let broker = cluster.broker("broker-a");
    assert!(eventually(LIMIT, || broker.end_transactions().len() == 1).await);
    let half = cluster
        .messages(T)
        .into_iter()
        .next()
        .expect("the half message");
    broker
        .check_transaction(&half)
        .expect("a connection of the group");
    let checks = |r| {
        counter(
            "rocketmq_transaction_checks_total",
            &[("producer_group", "metrics_tx_group"), ("resolution", r)],
        )
    };
    assert!(eventually(LIMIT, || checks("rollback") == 1).await);
    assert_eq!(checks("commit"), 0);
    // The half message's send is a send like any other.
    assert_eq!(
        counter(
            "rocketmq_send_total",
            &[("topic", T), ("outcome", "send_ok")]
        ),
        1
    );
    producer.send(actix_rocketmq::Shutdown).await.unwrap();
}

/// One send at a time allowed: the others wait, and each wait is counted.
#[actix_rt::test]
async fn backpressure_waits_are_counted() {
    const T: &str = "MetricsWaits";
    let cluster = cluster_with(T, &["broker-a"]).await;
    cluster
        .broker("broker-a")
        .inject(Fault::delay(Duration::from_millis(50)).on_sends().times(3));
    let producer = start(config("metrics_waits_group", &cluster).max_in_flight(1)).await;
    let sends: Vec<_> = (0..4)
        .map(|i| producer.send(SendMessage::new(Message::new(T, format!("m{i}")))))
        .collect();
    for r in within(LIMIT, "sends", futures::future::join_all(sends)).await {
        r.unwrap().expect("stored once room frees up");
    }
    let waits = counter(
        "rocketmq_producer_backpressure_waits_total",
        &[("producer_group", "metrics_waits_group")],
    );
    assert_eq!(waits, 3, "all but the first waited");
    assert_eq!(
        gauge(
            "rocketmq_producer_in_flight",
            &[("producer_group", "metrics_waits_group")]
        ),
        0.0
    );
    producer.send(actix_rocketmq::Shutdown).await.unwrap();
}

/// With auto-batching, sends answered as batch members free their in-flight
/// share in the gauges too: nothing is left in flight once every reply is in.
#[actix_rt::test]
async fn batched_sends_leave_nothing_in_flight() {
    let (cluster, producer) = slow_batching("MetricsBatched", "metrics_batched_group").await;
    send_all(&producer, "MetricsBatched", 40).await;
    assert!(
        !cluster
            .broker("broker-a")
            .received_with_code(request_code::SEND_BATCH_MESSAGE)
            .is_empty(),
        "sends were gathered into batches"
    );
    let group = [("producer_group", "metrics_batched_group")];
    assert_eq!(gauge("rocketmq_producer_in_flight", &group), 0.0);
    assert_eq!(gauge("rocketmq_producer_in_flight_bytes", &group), 0.0);
    producer.send(actix_rocketmq::Shutdown).await.unwrap();
}
