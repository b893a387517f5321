//! Real-broker tests of body compression by codec (Java 5.x `compressType`): ZLIB,
//! LZ4 and ZSTD bodies are stored compressed with the codec's sysFlag bits, and read
//! back (VIEW_MESSAGE_BY_ID, and PULL_MESSAGE as a consumer does) they inflate by that
//! sysFlag to the very bytes sent. A batch is stored uncompressed whatever the codec.
//!
//! Ignored by a plain `cargo test`; run with `scripts/test.sh`, or by hand:
//! `RMQ_E2E=1 NAMESRV_ADDR=.. RMQ_RIG_DIR=.. cargo test --all-features --test e2e_compression -- --include-ignored`.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/readback.rs"]
mod readback;
#[path = "support/rig.rs"]
mod rig;

use actix::prelude::*;
use actix_rocketmq::internals::protocol::message::sys_flag;
use actix_rocketmq::{CompressionType, Message, ProducerActor, SendBatch, Shutdown};
use e2e::{QUEUES, STEP, within};
use readback::{ReadBack, assert_at_result, assert_same_message, unique};
use rig::Rig;

/// The topic (on every broker) and the brokers as (name, address), to pull from.
async fn topic_and_brokers(
    rig: &Rig,
    rb: &ReadBack,
    prefix: &str,
) -> (String, Vec<(String, String)>) {
    let topic = e2e::topic_on_all_brokers(rig, rb, prefix).await;
    (topic, e2e::brokers(rig, rb).await)
}

async fn start(rig: &Rig, group: &str, codec: CompressionType) -> Addr<ProducerActor> {
    let cfg = e2e::builder(rig, group)
        .compress_type(codec)
        .build()
        .expect("valid producer config");
    e2e::start(cfg).await
}

/// Patterned binary bytes (every byte value occurs): compressible, but no text.
fn binary_body(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i % 251) as u8) ^ ((i / 997) as u8))
        .collect()
}

/// For each codec: a 256 KiB text body and a 64 KiB binary one are stored with sysFlag
/// COMPRESSED | the codec's type bits, the record far smaller than the body; viewed
/// and pulled back they inflate to the bytes sent, with tags, keys and properties.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn each_codec_is_stored_with_its_sys_flag_and_reads_back_identical() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    for codec in [
        CompressionType::Lz4,
        CompressionType::Zstd,
        CompressionType::Zlib,
    ] {
        let (topic, brokers) = topic_and_brokers(&rig, &rb, &format!("E2E_{codec}")).await;
        let p = start(&rig, &unique(&format!("e2e_{codec}_group")), codec).await;
        let mut sent = Vec::new();
        for (i, body) in [e2e::text_body(256 * 1024), binary_body(64 * 1024)]
            .into_iter()
            .enumerate()
        {
            let m = Message::new(topic.as_str(), body)
                .with_tags(codec.as_str())
                .with_keys(format!("k{i}"))
                .with_property("codec", codec.as_str());
            let r = e2e::send(&p, m.clone()).await;
            let ctx = format!("{codec} body {i}");
            let (stored, raw_len) = within(STEP, "VIEW_MESSAGE_BY_ID", rb.view(&r.offset_msg_id))
                .await
                .unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(
                stored.sys_flag & (sys_flag::COMPRESSED | sys_flag::COMPRESSION_TYPE_MASK),
                codec.sys_flag(),
                "{ctx}: stored sysFlag {:#x}",
                stored.sys_flag
            );
            assert!(
                raw_len < m.body.len() / 3,
                "{ctx}: the record is {raw_len} bytes for a body of {}",
                m.body.len()
            );
            assert_same_message(&stored, &m, &r.msg_id, &ctx);
            assert_at_result(&stored, &r, &ctx);
            println!(
                "{codec}: body {} bytes -> record {raw_len} bytes, sysFlag {:#x}",
                m.body.len(),
                stored.sys_flag
            );
            sent.push((m, r));
        }
        // As a consumer reads them: PULL_MESSAGE of each broker, inflated by sysFlag.
        let mut pulled = Vec::new();
        for (_, addr) in &brokers {
            pulled.extend(within(STEP, "pull", rb.pull_topic(addr, &topic, QUEUES)).await);
        }
        assert_eq!(pulled.len(), sent.len(), "{codec}: pulled {}", pulled.len());
        for (m, r) in &sent {
            let stored = pulled
                .iter()
                .find(|s| s.uniq_key() == Some(r.msg_id.as_str()))
                .unwrap_or_else(|| panic!("{codec}: {} not pulled", r.msg_id));
            assert_eq!(
                stored.sys_flag & sys_flag::COMPRESSION_TYPE_MASK,
                codec.sys_flag_bits()
            );
            assert_same_message(stored, m, &r.msg_id, &format!("{codec} pulled"));
        }
        within(STEP, "Shutdown", p.send(Shutdown))
            .await
            .expect("alive");
    }
}

/// A batch goes uncompressed even with a codec set (as in Java): every member is
/// stored with no COMPRESSED bit and its own bytes.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn batch_members_are_stored_uncompressed() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let (topic, brokers) = topic_and_brokers(&rig, &rb, "E2E_zbatch").await;
    let p = start(&rig, &unique("e2e_zbatch_group"), CompressionType::Zstd).await;
    let batch: Vec<Message> = (0..3)
        .map(|i| Message::new(topic.as_str(), e2e::text_body(8192 + i)))
        .collect();
    let r = within(STEP, "batch", p.send(SendBatch::new(batch.clone())))
        .await
        .expect("alive")
        .unwrap_or_else(|e| panic!("batch: {e}"));
    let mut pulled = Vec::new();
    for (_, addr) in &brokers {
        pulled.extend(within(STEP, "pull", rb.pull_topic(addr, &topic, QUEUES)).await);
    }
    assert_eq!(
        pulled.len(),
        3,
        "batch {}: pulled {}",
        r.msg_id,
        pulled.len()
    );
    for s in &pulled {
        assert_eq!(
            s.sys_flag & sys_flag::COMPRESSED,
            0,
            "sysFlag {:#x}",
            s.sys_flag
        );
        assert!(batch.iter().any(|m| m.body == s.body));
    }
    within(STEP, "Shutdown", p.send(Shutdown))
        .await
        .expect("alive");
}
