//! End-to-end: timer and delay messages, and recall (5.x), against the REAL broker.
//!
//! A private rig of one broker with `timerPrecisionMs = 100` (the default 1000 would let
//! the broker deliver up to a second early: it files a timer message under the start of
//! its time slot), started once for this file. Every test polls the topic's queues
//! (PULL_MESSAGE) from the send on: the message must not be readable before its time
//! and must be readable shortly after it. A recalled message must never be readable.
//!
//! Ignored by a plain `cargo test`; run with `scripts/test.sh`, or by hand:
//! `RMQ_E2E=1 cargo test --all-features --test e2e_timer -- --include-ignored`
//! (the rig is started by the test itself from `scripts/rig.sh`).

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/readback.rs"]
mod readback;
#[path = "support/rig.rs"]
mod rig;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use actix_rocketmq::{ErrorKind, Message, ProducerActor, ProducerConfig, RecallMessage};
use e2e::{send, shutdown, within};
use readback::{ReadBack, StoredMessage, unique};
use rig::Rig;

/// Upper bound of any single step (a send, a look-up, a recall).
const STEP: Duration = Duration::from_secs(10);
/// Queues of the topics these tests create.
const QUEUES: i32 = 2;
/// The rig's `timerPrecisionMs`: how early the broker may deliver.
const PRECISION: Duration = Duration::from_millis(100);
/// How late a message may show up after its time and still count as on time.
const LATE: Duration = Duration::from_secs(3);
/// How often the topic is read while waiting.
const POLL: Duration = Duration::from_millis(50);

/// The private rig of this file, started once (stopped by `scripts/rig.sh` itself when
/// the test process ends).
fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(|| {
        Rig::start_private_with(1, |_| {
            vec![("RMQ_RIG_STORE_EXTRA", "timerPrecisionMs = 100".to_owned())]
        })
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// A new topic on the rig's broker, routable before this returns; and a producer.
async fn setup(prefix: &str) -> (ReadBack, String, String, Addr<ProducerActor>) {
    let rig = rig();
    let rb = ReadBack::new();
    let broker = rig.broker_addr("broker-a").to_owned();
    let topic = unique(prefix);
    within(
        STEP,
        "create topic",
        rb.create_topic(&[&broker], &topic, QUEUES),
    )
    .await;
    rb.wait_route(rig.namesrv_addr(), &topic, &["broker-a"], STEP)
        .await;
    let cfg = ProducerConfig::builder(unique("timer_group"))
        .namesrv_addr(rig.namesrv_addr())
        .instance_name(unique("e2e"))
        .build()
        .expect("valid producer config");
    let producer = within(STEP, "ProducerActor::start", ProducerActor::start(cfg))
        .await
        .expect("producer starts");
    (rb, broker, topic, producer)
}

/// Everything readable in `topic` now.
async fn read_all(rb: &ReadBack, broker: &str, topic: &str) -> Vec<StoredMessage> {
    within(STEP, "PULL_MESSAGE", rb.pull_topic(broker, topic, QUEUES)).await
}

/// Reads `topic` every [`POLL`] until the message `uniq_key` shows up or `until_ms`
/// (epoch ms) passes: the epoch ms by which it was readable (the end of the read that
/// found it), and the message.
async fn first_seen(
    rb: &ReadBack,
    broker: &str,
    topic: &str,
    uniq_key: &str,
    until_ms: u64,
) -> Option<(u64, StoredMessage)> {
    loop {
        let msgs = read_all(rb, broker, topic).await;
        // readable at the latest when this read ended
        let read_ms = now_ms();
        if let Some(m) = msgs.into_iter().find(|m| m.uniq_key() == Some(uniq_key)) {
            return Some((read_ms, m));
        }
        if now_ms() > until_ms {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Sends `msg` (due `delay` after the send), then checks that it is not readable before
/// it is due (less [`PRECISION`]) and is readable within [`LATE`] after it.
/// `make` builds it from the topic and the send time (epoch ms).
async fn delivered_on_time(prefix: &str, delay: Duration, make: impl FnOnce(&str, u64) -> Message) {
    let (rb, broker, topic, producer) = setup(prefix).await;
    let sent_ms = now_ms();
    let result = send(&producer, make(&topic, sent_ms).with_tags("timer")).await;
    let due_ms = sent_ms + delay.as_millis() as u64;
    let deadline = due_ms + LATE.as_millis() as u64;
    let (seen_ms, stored) = first_seen(&rb, &broker, &topic, &result.msg_id, deadline)
        .await
        .unwrap_or_else(|| {
            panic!(
                "{prefix}: the message {} was not readable within {LATE:?} after its time",
                result.msg_id
            )
        });
    let earliest = due_ms - PRECISION.as_millis() as u64;
    assert!(
        seen_ms >= earliest,
        "{prefix}: readable {} ms before its time",
        due_ms - seen_ms
    );
    assert_eq!(stored.topic, topic, "{prefix}");
    assert_eq!(stored.tags(), Some("timer"), "{prefix}");
    assert_eq!(&stored.body[..], b"due later", "{prefix}");
    shutdown(&producer).await;
}

// ---------------------------------------------------------------------------------------

#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn a_delay_ms_message_is_delivered_on_time() {
    let delay = Duration::from_millis(2500);
    delivered_on_time("timer_ms", delay, |t, _| {
        Message::new(t, "due later").with_delay_ms(delay.as_millis() as u64)
    })
    .await;
}

#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn a_delay_sec_message_is_delivered_on_time() {
    delivered_on_time("timer_sec", Duration::from_secs(2), |t, _| {
        Message::new(t, "due later").with_delay_sec(2)
    })
    .await;
}

#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn a_delivery_time_message_is_delivered_on_time() {
    delivered_on_time("timer_at", Duration::from_millis(2500), |t, now| {
        Message::new(t, "due later").with_delivery_time_ms(now + 2500)
    })
    .await;
}

#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn a_delay_level_message_is_delivered_on_time() {
    // level 2 of the default messageDelayLevel "1s 5s 10s ...": 5 s
    delivered_on_time("timer_level", Duration::from_secs(5), |t, _| {
        Message::new(t, "due later").with_delay_level(2)
    })
    .await;
}

/// A timer message recalled before its time is never delivered; its recall answers its
/// id. A recall after the delivery, and a recall of a handle that is not one, fail.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn a_recalled_timer_message_is_never_delivered() {
    let (rb, broker, topic, producer) = setup("timer_recall").await;
    let delay = Duration::from_secs(2);
    let kept_msg = Message::new(&topic, "kept").with_delay_ms(delay.as_millis() as u64);
    let recalled_msg = Message::new(&topic, "recalled").with_delay_ms(delay.as_millis() as u64);
    let sent_ms = now_ms();
    let kept = send(&producer, kept_msg).await;
    let recalled = send(&producer, recalled_msg).await;
    let handle = recalled
        .recall_handle
        .clone()
        .expect("a timer message's send result has a recall handle");
    let id = within(
        STEP,
        "RecallMessage",
        producer.send(RecallMessage::new(&topic, handle)),
    )
    .await
    .expect("producer alive")
    .unwrap_or_else(|e| panic!("recall failed: {e}"));
    assert_eq!(id, recalled.msg_id, "the recall answers the message's id");

    // the kept one arrives; the recalled one never (read until well after its time)
    let until = sent_ms + (delay + LATE).as_millis() as u64;
    assert!(
        first_seen(&rb, &broker, &topic, &kept.msg_id, until)
            .await
            .is_some(),
        "the message that was not recalled was not delivered"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = read_all(&rb, &broker, &topic).await;
    assert!(
        all.iter()
            .all(|m| m.uniq_key() != Some(recalled.msg_id.as_str())),
        "the recalled message was delivered: {all:?}"
    );
    assert_eq!(all.len(), 1, "only the kept message: {all:?}");

    // after its delivery, the kept message can no longer be recalled
    let late = within(
        STEP,
        "late RecallMessage",
        producer.send(RecallMessage::new(
            &topic,
            kept.recall_handle.expect("recall handle"),
        )),
    )
    .await
    .expect("producer alive");
    let e = late.expect_err("a recall after the delivery fails");
    // Java answers ILLEGAL_OPERATION (604, "recall failed, timestamp invalid").
    // RocketMQ-Rust 1.0.0 refuses it too, but sends no answer at all (its refusal's
    // response header lacks the required msgId): the recall times out. Either way
    // the message is not recalled (it was read above).
    assert!(
        matches!(e.kind(), ErrorKind::Broker { code: 604, .. }) || e.is_timeout(),
        "a refusal (604) or, from RocketMQ-Rust 1.0.0, no answer: {e:?}"
    );

    // a handle that is not one fails before anything is sent
    let bad = within(
        STEP,
        "bad RecallMessage",
        producer.send(RecallMessage::new(&topic, "not-a-handle")),
    )
    .await
    .expect("producer alive");
    assert!(
        matches!(
            bad.as_ref().map_err(|e| e.kind()),
            Err(ErrorKind::Validation(_))
        ),
        "{bad:?}"
    );
    shutdown(&producer).await;
}

/// A plain message has no recall handle.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn a_plain_message_has_no_recall_handle() {
    let (_rb, _broker, topic, producer) = setup("timer_plain").await;
    let r = send(&producer, Message::new(&topic, "now")).await;
    assert_eq!(r.recall_handle, None, "{r:?}");
    shutdown(&producer).await;
}
