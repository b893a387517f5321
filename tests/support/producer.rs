//! Shared helpers of the producer integration tests (`tests/producer_*.rs`).
//! Each test file includes this with `#[path = "support/producer.rs"] mod support;`
//! and uses a part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use actix_rocketmq::testkit::{BrokerMessage, Fault, TestCluster};
use actix_rocketmq::{
    AutoBatch, Error, Message as MqMessage, ProducerActor, ProducerConfig, ProducerConfigBuilder,
    SendMessage, SendOutcome, SendResult,
};

/// The topic every helper cluster serves, with 4 queues on each broker.
pub const TOPIC: &str = "TopicTest";

/// A test cluster with `broker-a` and `broker-b`, both serving [`TOPIC`].
pub async fn two_brokers() -> TestCluster {
    TestCluster::builder()
        .broker("broker-a")
        .broker("broker-b")
        .topic(TOPIC, 4)
        .start()
        .await
        .expect("test cluster starts")
}

/// A test cluster of `brokers`, each serving `topic` with 4 queues.
pub async fn cluster_with(topic: &str, brokers: &[&str]) -> TestCluster {
    let mut b = TestCluster::builder();
    for broker in brokers {
        b = b.broker(*broker);
    }
    b.topic(topic, 4)
        .start()
        .await
        .expect("test cluster starts")
}

/// A test cluster with `broker-a` only, serving [`TOPIC`].
pub async fn one_broker() -> TestCluster {
    TestCluster::builder()
        .broker("broker-a")
        .topic(TOPIC, 4)
        .start()
        .await
        .expect("test cluster starts")
}

/// A config builder for `group` pointed at the cluster's name server.
pub fn config(group: &str, cluster: &TestCluster) -> ProducerConfigBuilder {
    ProducerConfig::builder(group).namesrv_addr(&cluster.namesrv_addr())
}

/// Builds and starts a producer.
pub async fn start(builder: ProducerConfigBuilder) -> Addr<ProducerActor> {
    let cfg = builder.build().expect("valid producer config");
    ProducerActor::start(cfg).await.expect("producer starts")
}

/// A producer that gathers: `broker-a` alone serves `topic` and answers each
/// send 20 ms late, so with one request in flight the next sends wait in a batch.
pub async fn slow_batching(topic: &str, group: &str) -> (TestCluster, Addr<ProducerActor>) {
    let cluster = cluster_with(topic, &["broker-a"]).await;
    cluster
        .broker("broker-a")
        .inject(Fault::delay(Duration::from_millis(20)).on_sends().forever());
    let producer =
        start(config(group, &cluster).auto_batch(AutoBatch::new().max_in_flight_requests(1))).await;
    (cluster, producer)
}

/// `n` sends of `topic` at once (bodies `m0`, `m1`, ...), every one stored, in order.
pub async fn send_all(producer: &Addr<ProducerActor>, topic: &str, n: usize) -> Vec<SendResult> {
    let sends =
        (0..n).map(|i| producer.send(SendMessage::new(MqMessage::new(topic, format!("m{i}")))));
    within(
        Duration::from_secs(10),
        "sends",
        futures::future::join_all(sends),
    )
    .await
    .into_iter()
    .map(|r| r.expect("mailbox").expect("stored"))
    .collect()
}

/// A message of [`TOPIC`] with body `body`.
pub fn msg(body: impl Into<String>) -> MqMessage {
    MqMessage::new(TOPIC, body.into())
}

/// Runs `fut`, failing the test if it takes longer than `limit` (no test may hang).
pub async fn within<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Body as UTF-8 (the tests send text bodies).
pub fn body_text(m: &BrokerMessage) -> String {
    String::from_utf8(m.decompressed_body().expect("body inflates").to_vec()).expect("utf-8 body")
}

/// Collects the `SendOutcome`s delivered by `SendMessage::notify`, keyed by correlation.
#[derive(Default, Clone)]
pub struct Outcomes(pub Arc<Mutex<OutcomeTable>>);

/// Outcomes per correlation id, in delivery order.
pub type OutcomeTable = HashMap<u64, Vec<Result<SendResult, Error>>>;

impl Outcomes {
    /// Deliveries per correlation id.
    pub fn counts(&self) -> HashMap<u64, usize> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (*k, v.len()))
            .collect()
    }
    pub fn total(&self) -> usize {
        self.0.lock().unwrap().values().map(Vec::len).sum()
    }
    pub fn get(&self, correlation: u64) -> Vec<Result<SendResult, Error>> {
        self.0
            .lock()
            .unwrap()
            .get(&correlation)
            .cloned()
            .unwrap_or_default()
    }
}

/// The actor that receives `SendOutcome`s into an [`Outcomes`].
pub struct Collector(pub Outcomes);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<SendOutcome> for Collector {
    type Result = ();
    fn handle(&mut self, msg: SendOutcome, _: &mut Context<Self>) {
        self.0
            .0
            .lock()
            .unwrap()
            .entry(msg.correlation)
            .or_default()
            .push(msg.result);
    }
}

/// Starts a collector; returns its recipient and the shared outcome table.
pub fn collector() -> (Recipient<SendOutcome>, Outcomes) {
    let outcomes = Outcomes::default();
    let addr = Collector(outcomes.clone()).start();
    (addr.recipient(), outcomes)
}

/// A send hook that records the body each send's `before` hook saw.
#[derive(Default)]
pub struct SeenBodies(pub Mutex<Vec<bytes::Bytes>>);
impl actix_rocketmq::producer::hooks::SendHook for SeenBodies {
    fn before(&self, ctx: &actix_rocketmq::producer::hooks::SendContext<'_>) {
        self.0.lock().unwrap().push(ctx.message.body.clone());
    }
}
