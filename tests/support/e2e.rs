//! Shared steps of the real-broker tests (`tests/e2e_*.rs`): the rig's brokers, a topic
//! on all of them, starting and stopping a producer, reading a send back and waiting for
//! a queue to fill, each step bounded by [`STEP`].
//!
//! Include it after the modules it builds on, with these names:
//!
//! ```ignore
//! #[path = "support/readback.rs"]
//! mod readback;
//! #[path = "support/rig.rs"]
//! mod rig;
//! #[path = "support/e2e.rs"]
//! mod e2e;
//! ```
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use actix::Addr;
use actix_rocketmq::{
    FetchPublishQueues, Message, MessageQueue, ProducerActor, ProducerConfig,
    ProducerConfigBuilder, SendMessage, SendResult, Shutdown,
};

use crate::readback::{ReadBack, StoredMessage, assert_at_result, assert_same_message, unique};
use crate::rig::Rig;

/// Upper bound of any single step of these tests (a send, a look-up, a read-back wait).
pub const STEP: Duration = Duration::from_secs(10);
/// Queues per broker of the topics these tests create.
pub const QUEUES: i32 = 4;

/// Runs `fut`, failing the test if it takes longer than `limit`: nothing may hang.
pub async fn within<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}

/// The rig's brokers as (name, address): from the rig's env file, or (for a name server
/// given by `NAMESRV_ADDR` alone) from the name server's cluster info.
pub async fn brokers(rig: &Rig, rb: &ReadBack) -> Vec<(String, String)> {
    let names = rig.broker_names();
    let list: Vec<(String, String)> = if names.is_empty() {
        within(STEP, "cluster info", rb.cluster_brokers(rig.namesrv_addr())).await
    } else {
        names
            .into_iter()
            .map(|n| {
                let a = rig.broker_addr(&n).to_owned();
                (n, a)
            })
            .collect()
    };
    assert!(
        !list.is_empty(),
        "no broker is registered with the name server {}",
        rig.namesrv_addr()
    );
    list
}

/// The address of the broker named `name`.
pub async fn broker_addr(rig: &Rig, rb: &ReadBack, name: &str) -> String {
    brokers(rig, rb)
        .await
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, a)| a)
        .unwrap_or_else(|| panic!("no broker {name:?} in the rig"))
}

/// A topic with [`QUEUES`] queues on every broker of the rig, routable through the name
/// server before this returns.
pub async fn topic_on_all_brokers(rig: &Rig, rb: &ReadBack, prefix: &str) -> String {
    let topic = unique(prefix);
    let bs = brokers(rig, rb).await;
    let addrs: Vec<&str> = bs.iter().map(|(_, a)| a.as_str()).collect();
    let names: Vec<&str> = bs.iter().map(|(n, _)| n.as_str()).collect();
    within(
        STEP,
        "create topic",
        rb.create_topic(&addrs, &topic, QUEUES),
    )
    .await;
    rb.wait_route(rig.namesrv_addr(), &topic, &names, STEP)
        .await;
    topic
}

/// A config builder for `group` at the rig's name server, in a client instance of its own.
pub fn builder(rig: &Rig, group: &str) -> ProducerConfigBuilder {
    ProducerConfig::builder(group)
        .namesrv_addr(rig.namesrv_addr())
        .instance_name(unique("e2e"))
}

/// [`builder`], built.
pub fn config(rig: &Rig, group: &str) -> ProducerConfig {
    builder(rig, group).build().expect("valid producer config")
}

pub async fn start(cfg: ProducerConfig) -> Addr<ProducerActor> {
    within(STEP, "ProducerActor::start", ProducerActor::start(cfg))
        .await
        .expect("producer starts")
}

/// One sync send, which must succeed within [`STEP`].
pub async fn send(p: &Addr<ProducerActor>, msg: Message) -> SendResult {
    let what = format!("sync send to {}", msg.topic);
    within(STEP, &what, p.send(SendMessage::new(msg)))
        .await
        .expect("producer alive")
        .unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

pub async fn shutdown(p: &Addr<ProducerActor>) {
    within(STEP, "Shutdown", p.send(Shutdown))
        .await
        .expect("producer alive");
}

/// The topic's publish queues as the producer sees them (every broker's).
pub async fn publish_queues(p: &Addr<ProducerActor>, topic: &str) -> Vec<MessageQueue> {
    within(
        STEP,
        "FetchPublishQueues",
        p.send(FetchPublishQueues {
            topic: topic.to_owned(),
        }),
    )
    .await
    .expect("producer alive")
    .expect("publish queues")
}

/// `broker/queue_id`, the name these tests give a queue.
pub fn queue_name(q: &MessageQueue) -> String {
    format!("{}/{}", q.broker_name, q.queue_id)
}

/// Reads the message of `result` back by its offset message id and compares it with
/// `sent`; returns the stored record and the raw record's length.
pub async fn view_and_compare(
    rb: &ReadBack,
    sent: &Message,
    result: &SendResult,
    ctx: &str,
) -> (StoredMessage, usize) {
    let (stored, raw_len) = within(STEP, "VIEW_MESSAGE_BY_ID", rb.view(&result.offset_msg_id))
        .await
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_same_message(&stored, sent, &result.msg_id, ctx);
    assert_at_result(&stored, result, ctx);
    (stored, raw_len)
}

/// Polls the queue `q` of `topic` until it holds `n` messages (bounded by [`STEP`]);
/// returns them.
pub async fn wait_queue(
    rig: &Rig,
    rb: &ReadBack,
    topic: &str,
    q: &MessageQueue,
    n: usize,
) -> Vec<StoredMessage> {
    let addr = broker_addr(rig, rb, &q.broker_name).await;
    let t0 = Instant::now();
    loop {
        let got = within(STEP, "pull queue", rb.pull_queue(&addr, topic, q.queue_id)).await;
        if got.len() >= n {
            return got;
        }
        assert!(
            t0.elapsed() < STEP,
            "only {} of {n} messages in {} after {STEP:?}",
            got.len(),
            queue_name(q)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every message of `topic` on every broker, with the queue (`broker/queue_id`) it is
/// stored in; each broker's pull bounded by `limit`.
pub async fn all_stored(
    rig: &Rig,
    rb: &ReadBack,
    topic: &str,
    limit: Duration,
) -> Vec<(String, StoredMessage)> {
    let mut out = Vec::new();
    for (broker, addr) in brokers(rig, rb).await {
        for s in within(limit, "pull topic", rb.pull_topic(&addr, topic, QUEUES)).await {
            out.push((format!("{broker}/{}", s.queue_id), s));
        }
    }
    out
}

/// Every byte value, then a pattern: a body no text codec would pass through unharmed.
pub fn binary_body(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

/// Compressible but not trivial: words with a counter, `len` bytes.
pub fn text_body(len: usize) -> Vec<u8> {
    let mut s = String::with_capacity(len + 32);
    let mut i = 0u64;
    while s.len() < len {
        s.push_str(&format!(
            "order-{i} status=created amount={} ",
            i * 37 % 1000
        ));
        i += 1;
    }
    s.truncate(len);
    s.into_bytes()
}
