//! Body compression by codec (Java 5.x `compressType`) against the test broker:
//! the sysFlag names the codec, the body inflates to what was sent, a retry
//! sends the same compressed bytes, and batches go uncompressed.
#[path = "support/producer.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
use actix_rocketmq::internals::protocol::compression::decompress;
use actix_rocketmq::internals::protocol::message::sys_flag;
use actix_rocketmq::testkit::Fault;
use actix_rocketmq::{CompressionType, Message, SendBatch, SendMessage, SendStatus};
use support::*;

const LIMIT: Duration = Duration::from_secs(5);
const CODECS: [CompressionType; 3] = [
    CompressionType::Zlib,
    CompressionType::Lz4,
    CompressionType::Zstd,
];

fn compressible_body(len: usize) -> String {
    "The quick brown fox jumps over the lazy dog. "
        .chars()
        .cycle()
        .take(len)
        .collect()
}

/// Each codec: the broker gets sysFlag COMPRESSED | its type bits and a smaller
/// body that inflates to the original; the caller's message and what hooks see keep it.
#[actix_rt::test]
async fn each_codec_reaches_the_broker_with_its_sys_flag() {
    for codec in CODECS {
        let cluster = one_broker().await;
        let seen = Arc::new(SeenBodies::default());
        let producer = start(
            config(&format!("codec_{codec}_group"), &cluster)
                .compress_type(codec)
                .send_hook(seen.clone()),
        )
        .await;
        let body = compressible_body(16 * 1024);
        let original = msg(body.clone());
        let r = within(
            LIMIT,
            "send",
            producer.send(SendMessage::new(original.clone())),
        )
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{codec} send: {e}"));
        assert_eq!(r.status, SendStatus::SendOk);
        let stored = cluster.broker("broker-a").messages(TOPIC);
        assert_eq!(stored.len(), 1);
        let s = &stored[0];
        assert_eq!(
            s.sys_flag & (sys_flag::COMPRESSED | sys_flag::COMPRESSION_TYPE_MASK),
            codec.sys_flag(),
            "{codec}: sysFlag {:#x}",
            s.sys_flag
        );
        assert!(
            s.body.len() < body.len() / 4,
            "{codec}: {} bytes",
            s.body.len()
        );
        assert_eq!(body_text(s), body, "{codec}");
        assert_eq!(&original.body[..], body.as_bytes());
        let seen = seen.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(
            &seen[0][..],
            body.as_bytes(),
            "{codec}: hooks see the plain body"
        );
    }
}

/// A small body stays plain whatever the codec; LZ4 ignores a zlib-illegal level.
#[actix_rt::test]
async fn under_the_threshold_nothing_is_compressed() {
    let cluster = one_broker().await;
    let producer = start(
        config("lz4_small_group", &cluster)
            .compress_type(CompressionType::Lz4)
            .compress_level(17),
    )
    .await;
    within(LIMIT, "send", producer.send(SendMessage::new(msg("tiny"))))
        .await
        .unwrap()
        .expect("send");
    let s = &cluster.broker("broker-a").messages(TOPIC)[0];
    assert_eq!(s.sys_flag, 0);
    assert_eq!(body_text(s), "tiny");
}

/// broker-a answers SYSTEM_BUSY once: the retry on broker-b carries the very bytes
/// of the first attempt (compressed once), which inflate to the original.
#[actix_rt::test]
async fn a_retry_sends_the_same_compressed_bytes() {
    for codec in [CompressionType::Lz4, CompressionType::Zstd] {
        let cluster = two_brokers().await;
        let a = cluster.broker("broker-a");
        a.inject(
            Fault::respond(response_code::SYSTEM_BUSY, "[REJECTREQUEST]system busy")
                .on_sends()
                .forever(),
        );
        let producer =
            start(config(&format!("retry_{codec}_group"), &cluster).compress_type(codec)).await;
        let body = compressible_body(32 * 1024);
        // Round robin over 8 queues: 6 sends cannot all miss broker-a.
        for _ in 0..6 {
            within(
                LIMIT,
                "send",
                producer.send(SendMessage::new(msg(body.clone()))),
            )
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{codec}: {e}"));
        }
        let tried_a = a.received_with_code(request_code::SEND_MESSAGE_V2);
        assert!(!tried_a.is_empty(), "some sends tried broker-a first");
        let on_b = cluster
            .broker("broker-b")
            .received_with_code(request_code::SEND_MESSAGE_V2);
        for first in &tried_a {
            let first_body = first.command.body.clone();
            assert!(
                on_b.iter().any(|r| r.command.body == first_body),
                "{codec}: the retry carries the first attempt's bytes"
            );
            let inflated = decompress(&first_body, codec.sys_flag(), 1 << 20).unwrap();
            assert_eq!(&inflated[..], body.as_bytes());
        }
        for s in cluster.broker("broker-b").messages(TOPIC) {
            assert_eq!(
                body_text(&s),
                body,
                "{codec}: inflates once to the original"
            );
        }
    }
}

/// Batch members are never compressed, as in Java, whatever the codec.
#[actix_rt::test]
async fn batches_are_not_compressed() {
    let cluster = one_broker().await;
    let producer =
        start(config("batch_zstd_group", &cluster).compress_type(CompressionType::Zstd)).await;
    let body = compressible_body(8 * 1024);
    let batch: Vec<Message> = (0..3).map(|_| msg(body.clone())).collect();
    within(LIMIT, "batch", producer.send(SendBatch::new(batch)))
        .await
        .unwrap()
        .expect("batch");
    let stored = cluster.broker("broker-a").messages(TOPIC);
    assert_eq!(stored.len(), 3);
    for s in &stored {
        assert_eq!(s.sys_flag & sys_flag::COMPRESSED, 0);
        assert_eq!(&s.body[..], body.as_bytes());
    }
}
