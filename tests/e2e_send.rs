//! End-to-end suite against the REAL RocketMQ name server + brokers (the shared rig of
//! `scripts/test.sh`: a name server, `broker-a` and `broker-b`).
//!
//! Every test sends through the public API and then reads back from the broker itself
//! (VIEW_MESSAGE_BY_ID by the offset message id, PULL_MESSAGE per queue) and compares
//! topic, tags, keys, properties and body byte for byte: a send result alone proves
//! nothing about storage. Each test uses its own topic and group names, so the tests run
//! in parallel on the shared rig without interfering. Every wait is bounded.
//!
//! Ignored by a plain `cargo test`; run with `scripts/test.sh`, or by hand:
//! `RMQ_E2E=1 NAMESRV_ADDR=.. RMQ_RIG_DIR=.. cargo test --all-features --test e2e_send -- --include-ignored`.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/readback.rs"]
mod readback;
#[path = "support/rig.rs"]
mod rig;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_rocketmq::internals::protocol::SerializeType;
use actix_rocketmq::internals::protocol::message::property;
use actix_rocketmq::{
    ErrorKind, FetchPublishQueues, Message, MessageQueue, ProducerActor, ProducerConfig,
    SelectMessageQueueByHash, SendBatch, SendMessage, SendMessageInTransaction, SendOneway,
    SendRequest, SendResult, SendStatus, SendToQueue, SendWithSelector, Transaction,
    TransactionCheck, TransactionResolution,
};
use e2e::{
    QUEUES, STEP, binary_body, broker_addr, brokers, config, send, shutdown, start, text_body,
    topic_on_all_brokers, view_and_compare, within,
};
use readback::{
    ReadBack, assert_same_committed_message, assert_same_message, is_compressed, unique,
};
use rig::Rig;

// ---------------------------------------------------------------------------------------

/// Route look-up through the real name server: the topic's queues on both brokers, and
/// the producer group registered on every master by heartbeat.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn route_lookup_and_heartbeat() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_route").await;
    let group = unique("e2e_route_group");
    let cfg = config(&rig, &group);
    let client_id = cfg.client_id();
    let p = start(cfg).await;

    let queues = within(
        STEP,
        "FetchPublishQueues",
        p.send(FetchPublishQueues {
            topic: topic.clone(),
        }),
    )
    .await
    .expect("producer alive")
    .expect("route of the created topic");
    let bs = brokers(&rig, &rb).await;
    let mut per_broker: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
    for q in &queues {
        assert_eq!(q.topic, topic);
        per_broker
            .entry(q.broker_name.clone())
            .or_default()
            .insert(q.queue_id);
    }
    let want: BTreeMap<String, BTreeSet<i32>> = bs
        .iter()
        .map(|(n, _)| (n.clone(), (0..QUEUES).collect()))
        .collect();
    assert_eq!(per_broker, want, "publish queues of {topic}");

    // Heartbeat: every master lists this client under the group.
    for (name, addr) in &bs {
        rb.wait_producer_clients(addr, &group, STEP, &format!("heartbeat to {name}"), |c| {
            c.iter().any(|id| id == &client_id)
        })
        .await;
    }
    // A topic the name server does not know yet is routed through TBW102 and
    // auto-created on the broker that gets the first send.
    let fresh = unique("E2E_autocreate");
    let r = send(&p, Message::new(fresh.as_str(), "first")).await;
    assert_eq!(r.status, SendStatus::SendOk);
    let sent = Message::new(fresh.as_str(), "first");
    view_and_compare(&rb, &sent, &r, "auto-created topic").await;
    shutdown(&p).await;
}

/// Sync sends with tags, keys, user properties, a flag and binary bodies: read back by
/// id and by pulling every queue, each stored message is the one sent, byte for byte.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn sync_send_round_trips_tags_keys_properties_and_body() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_sync").await;
    let p = start(config(&rig, &unique("e2e_sync_group"))).await;

    let mut sent: Vec<(Message, SendResult)> = Vec::new();
    for i in 0..16u32 {
        let mut msg = Message::new(topic.as_str(), binary_body(100 + i as usize * 97, i as u8))
            .with_tags(format!("Tag{}", i % 3))
            .with_keys(vec![format!("order-{i}"), format!("user-{}", i * 7)])
            .with_property("seq", i.to_string())
            .with_property("unicode", "grüße 訂單 ✓ \"quoted\" = ; , ")
            .with_property("empty_next", "x")
            .with_flag(i as i32 * 3);
        if i % 2 == 0 {
            msg = msg.with_property("only_even", "yes");
        }
        let r = send(&p, msg.clone()).await;
        assert_eq!(r.status, SendStatus::SendOk, "send #{i}");
        assert_eq!(r.message_queue.topic, topic);
        sent.push((msg, r));
    }
    // Round robin over both brokers.
    let used: BTreeSet<&str> = sent
        .iter()
        .map(|(_, r)| r.message_queue.broker_name.as_str())
        .collect();
    assert_eq!(
        used.len(),
        brokers(&rig, &rb).await.len(),
        "brokers used: {used:?}"
    );

    for (i, (msg, r)) in sent.iter().enumerate() {
        view_and_compare(&rb, msg, r, &format!("view #{i}")).await;
    }

    // The same through PULL_MESSAGE: every queue holds exactly what was sent to it.
    let by_uniq: HashMap<&str, (&Message, &SendResult)> = sent
        .iter()
        .map(|(m, r)| (r.msg_id.as_str(), (m, r)))
        .collect();
    let mut seen = BTreeSet::new();
    for (name, addr) in brokers(&rig, &rb).await {
        let stored = within(STEP, "pull", rb.pull_topic(&addr, &topic, QUEUES)).await;
        for s in &stored {
            let id = s.uniq_key().expect("stored message has a UNIQ_KEY");
            let (m, r) = by_uniq
                .get(id)
                .unwrap_or_else(|| panic!("{name} holds a message that was not sent: {s:?}"));
            assert_eq!(r.message_queue.broker_name, name, "broker of {id}");
            assert_same_message(s, m, id, &format!("pull {id}"));
            assert_eq!(s.queue_id, r.message_queue.queue_id);
            assert_eq!(s.queue_offset, r.queue_offset);
            assert!(seen.insert(id.to_owned()), "{id} stored twice");
        }
    }
    assert_eq!(seen.len(), sent.len(), "messages found by pulling");
    shutdown(&p).await;
}

/// A body over `compress_msg_body_over` is zlib-compressed once by the producer and
/// stored compressed (sysFlag COMPRESSED, record smaller than the body); read back and
/// inflated it is the body sent. A body just under the threshold is stored as is.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn compressed_bodies_are_stored_compressed_and_read_back_identical() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_zip").await;
    let p = start(config(&rig, &unique("e2e_zip_group"))).await;

    let big = Message::new(topic.as_str(), text_body(256 * 1024))
        .with_tags("zip")
        .with_keys("big")
        .with_property("kind", "compressed");
    let r = send(&p, big.clone()).await;
    let (stored, raw_len) = view_and_compare(&rb, &big, &r, "256 KiB text body").await;
    assert!(
        is_compressed(&stored),
        "a 256 KiB body was stored uncompressed (sysFlag {:#x})",
        stored.sys_flag
    );
    assert!(
        raw_len < big.body.len() / 4,
        "stored record is {raw_len} bytes for a compressible body of {}",
        big.body.len()
    );

    // A binary (but patterned) body over the threshold: compressed, identical.
    let patterned = Message::new(topic.as_str(), binary_body(8192, 7)).with_tags("zip");
    let r = send(&p, patterned.clone()).await;
    let (stored, _) = view_and_compare(&rb, &patterned, &r, "8 KiB binary body").await;
    assert!(is_compressed(&stored), "8 KiB body not compressed");

    let small = Message::new(topic.as_str(), text_body(4095)).with_tags("plain");
    let r = send(&p, small.clone()).await;
    let (stored, raw_len) = view_and_compare(&rb, &small, &r, "4095-byte body").await;
    assert!(
        !is_compressed(&stored),
        "a body under compress_msg_body_over (4096) was compressed"
    );
    assert!(raw_len > small.body.len());
    shutdown(&p).await;
}

/// One-way sends get no broker reply, yet every one of them is stored.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn oneway_sends_are_stored() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_oneway").await;
    let p = start(config(&rig, &unique("e2e_oneway_group"))).await;

    const N: usize = 40;
    let mut sent: HashMap<String, Message> = HashMap::new();
    for i in 0..N {
        let seq = format!("oneway-{i}");
        let msg = Message::new(topic.as_str(), format!("one-way body {i}"))
            .with_tags("ow")
            .with_keys(seq.as_str())
            .with_property("seq", seq.as_str());
        within(STEP, "oneway send", p.send(SendOneway::new(msg.clone())))
            .await
            .expect("producer alive")
            .unwrap_or_else(|e| panic!("oneway #{i}: {e}"));
        sent.insert(seq, msg);
    }

    // Poll both brokers until all N are there (bounded).
    let start_t = Instant::now();
    let mut found: HashMap<String, readback::StoredMessage> = HashMap::new();
    while found.len() < N {
        assert!(
            start_t.elapsed() < STEP,
            "only {} of {N} one-way messages stored after {STEP:?}",
            found.len()
        );
        found.clear();
        for (_, addr) in brokers(&rig, &rb).await {
            for s in rb.pull_topic(&addr, &topic, QUEUES).await {
                let seq = s.property("seq").expect("seq property").to_owned();
                assert!(found.insert(seq.clone(), s).is_none(), "{seq} stored twice");
            }
        }
        if found.len() < N {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for (seq, s) in &found {
        let m = sent
            .get(seq)
            .unwrap_or_else(|| panic!("stored {seq} was never sent"));
        let uniq = s.uniq_key().expect("UNIQ_KEY").to_owned();
        assert_eq!(m.uniq_key(), None, "the caller's message is not modified");
        assert_same_message(s, m, &uniq, seq);
    }
    shutdown(&p).await;
}

/// SendToQueue stores on exactly the queue asked for; SendWithSelector
/// (SelectMessageQueueByHash) sends every message of one key to one queue, in order.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn to_queue_and_selector_sends_land_on_the_chosen_queue() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_queue").await;
    let p = start(config(&rig, &unique("e2e_queue_group"))).await;
    let queues: Vec<MessageQueue> = within(
        STEP,
        "FetchPublishQueues",
        p.send(FetchPublishQueues {
            topic: topic.clone(),
        }),
    )
    .await
    .expect("producer alive")
    .expect("publish queues");
    assert_eq!(
        queues.len(),
        QUEUES as usize * brokers(&rig, &rb).await.len()
    );

    for (i, q) in queues.iter().enumerate() {
        let msg = Message::new(topic.as_str(), format!("to queue {i}"))
            .with_tags("q")
            .with_property("target", format!("{}/{}", q.broker_name, q.queue_id));
        let r = within(
            STEP,
            "SendToQueue",
            p.send(SendToQueue::new(msg.clone(), q.clone())),
        )
        .await
        .expect("producer alive")
        .unwrap_or_else(|e| panic!("SendToQueue {q:?}: {e}"));
        assert_eq!(&r.message_queue, q, "result queue");
        let (stored, _) = view_and_compare(&rb, &msg, &r, &format!("to {q:?}")).await;
        assert_eq!(stored.queue_id, q.queue_id);
        let addr = broker_addr(&rig, &rb, &q.broker_name).await;
        assert_eq!(
            stored.store_host.to_string(),
            addr,
            "stored on the broker asked for"
        );
    }

    // Selector: three order ids, five messages each, interleaved.
    let selector = Arc::new(SelectMessageQueueByHash);
    let mut per_order: BTreeMap<String, Vec<SendResult>> = BTreeMap::new();
    for step in 0..5 {
        for order in ["order-1001", "order-2002", "order-3003"] {
            let msg = Message::new(topic.as_str(), format!("{order} step {step}"))
                .with_keys(order)
                .with_property("step", step.to_string());
            let r = within(
                STEP,
                "SendWithSelector",
                p.send(SendWithSelector::new(msg.clone(), selector.clone(), order)),
            )
            .await
            .expect("producer alive")
            .unwrap_or_else(|e| panic!("SendWithSelector {order}: {e}"));
            view_and_compare(&rb, &msg, &r, &format!("{order} step {step}")).await;
            per_order.entry(order.to_owned()).or_default().push(r);
        }
    }
    for (order, results) in &per_order {
        let first = &results[0].message_queue;
        for r in results {
            assert_eq!(&r.message_queue, first, "{order}: all on one queue");
        }
        // in order within the queue
        let offsets: Vec<i64> = results.iter().map(|r| r.queue_offset).collect();
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "{order}: offsets {offsets:?}"
        );
        // the queue read back holds the steps in order
        let addr = broker_addr(&rig, &rb, &first.broker_name).await;
        let stored = rb.pull_queue(&addr, &topic, first.queue_id).await;
        let steps: Vec<String> = stored
            .iter()
            .filter(|s| s.keys() == Some(order.as_str()))
            .map(|s| s.property("step").unwrap_or("?").to_owned())
            .collect();
        assert_eq!(
            steps,
            ["0", "1", "2", "3", "4"],
            "{order}: steps in its queue"
        );
    }
    shutdown(&p).await;
}

/// SendBatch stores every message of the batch, in order, each with its own properties
/// and exactly one UNIQ_KEY (the one in the result's comma-separated ids).
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn batch_send_stores_every_message() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_batch").await;
    let p = start(config(&rig, &unique("e2e_batch_group"))).await;

    let msgs: Vec<Message> = (0..12)
        .map(|i| {
            Message::new(topic.as_str(), binary_body(50 + i * 13, i as u8))
                .with_tags(format!("B{}", i % 2))
                .with_keys(format!("batch-key-{i}"))
                .with_property("idx", i.to_string())
        })
        .collect();
    let r = within(STEP, "SendBatch", p.send(SendBatch::new(msgs.clone())))
        .await
        .expect("producer alive")
        .unwrap_or_else(|e| panic!("SendBatch: {e}"));
    assert_eq!(r.status, SendStatus::SendOk);
    let ids: Vec<&str> = r.msg_id.split(',').collect();
    assert_eq!(ids.len(), msgs.len(), "ids in {:?}", r.msg_id);
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "batch ids not distinct"
    );

    let q = &r.message_queue;
    let addr = broker_addr(&rig, &rb, &q.broker_name).await;
    let mut stored = Vec::new();
    let mut offset = r.queue_offset;
    let t0 = Instant::now();
    while stored.len() < msgs.len() {
        assert!(t0.elapsed() < STEP, "batch not readable after {STEP:?}");
        let (got, next) = rb
            .pull_once(&addr, &topic, q.queue_id, offset, 32)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        offset = next.max(offset);
        stored.extend(got);
    }
    stored.truncate(msgs.len());
    for (i, (s, m)) in stored.iter().zip(&msgs).enumerate() {
        let uniq_count = s
            .properties
            .iter()
            .filter(|(k, _)| k == property::UNIQ_KEY)
            .count();
        assert_eq!(
            uniq_count, 1,
            "batch message #{i} carries {uniq_count} UNIQ_KEYs"
        );
        assert_same_message(s, m, ids[i], &format!("batch #{i}"));
        assert_eq!(s.queue_offset, r.queue_offset + i as i64);
    }

    // The offset ids of the result (comma-separated too) each view the right record.
    let offs: Vec<&str> = r.offset_msg_id.split(',').collect();
    assert_eq!(offs.len(), msgs.len(), "offset ids {:?}", r.offset_msg_id);
    for (i, off) in offs.iter().enumerate() {
        let (s, _) = rb.view(off).await.unwrap_or_else(|e| panic!("{e}"));
        assert_same_message(&s, &msgs[i], ids[i], &format!("view batch #{i}"));
    }
    shutdown(&p).await;
}

/// 200 sends in flight at once from one producer: all acknowledged, all stored once.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn concurrent_sends_are_all_stored_once() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_conc").await;
    let p = start(config(&rig, &unique("e2e_conc_group"))).await;

    const N: usize = 200;
    let futs: Vec<_> = (0..N)
        .map(|i| {
            let msg = Message::new(topic.as_str(), format!("concurrent {i}"))
                .with_property("n", i.to_string());
            p.send(SendMessage::new(msg))
        })
        .collect();
    let results = within(
        STEP,
        "200 concurrent sends",
        futures::future::join_all(futs),
    )
    .await;
    let mut ids = BTreeSet::new();
    for (i, r) in results.into_iter().enumerate() {
        let r = r
            .expect("producer alive")
            .unwrap_or_else(|e| panic!("send #{i}: {e}"));
        assert!(ids.insert(r.msg_id.clone()));
    }
    let mut stored_ns = BTreeSet::new();
    for (_, addr) in brokers(&rig, &rb).await {
        for s in rb.pull_topic(&addr, &topic, QUEUES).await {
            assert!(ids.contains(s.uniq_key().unwrap_or("")), "unknown message");
            let n: usize = s.property("n").expect("n").parse().expect("number");
            assert!(stored_ns.insert(n), "message {n} stored twice");
        }
    }
    assert_eq!(stored_ns.len(), N, "stored messages");
    shutdown(&p).await;
}

/// Shutdown sends UNREGISTER_CLIENT: with two producer groups in one client instance
/// (same client id, one connection per broker), shutting one down removes just that
/// group from every broker while the other stays registered on the same connection.
/// A send after Shutdown is refused.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn shutdown_unregisters_the_group_from_every_broker() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_unreg").await;
    let instance = unique("e2e_unreg_instance");
    let cfg = |group: &str| {
        ProducerConfig::builder(group)
            .namesrv_addr(rig.namesrv_addr())
            .instance_name(instance.as_str())
            .build()
            .expect("config")
    };
    let (g1, g2) = (unique("e2e_unreg_g1"), unique("e2e_unreg_g2"));
    let (c1, c2) = (cfg(&g1), cfg(&g2));
    assert_eq!(c1.client_id(), c2.client_id(), "one client instance");
    let client_id = c1.client_id();
    let p1 = start(c1).await;
    let p2 = start(c2).await;
    for p in [&p1, &p2] {
        // learn the route (so both brokers are known) and store something
        for i in 0..4 {
            send(
                p,
                Message::new(topic.as_str(), format!("before shutdown {i}")),
            )
            .await;
        }
    }
    let bs = brokers(&rig, &rb).await;
    for (_, addr) in &bs {
        for g in [&g1, &g2] {
            rb.wait_producer_clients(addr, g, STEP, "registered by heartbeat", |c| {
                c.contains(&client_id)
            })
            .await;
        }
    }

    shutdown(&p1).await;
    for (name, addr) in &bs {
        rb.wait_producer_clients(addr, &g1, Duration::from_secs(3), "after Shutdown", |c| {
            !c.contains(&client_id)
        })
        .await;
        let still = rb.producer_clients(addr, &g2).await;
        assert!(
            still.contains(&client_id),
            "{name}: group {g2} of the running producer was dropped too ({still:?})"
        );
    }
    // p2 still sends on the shared instance
    send(
        &p2,
        Message::new(topic.as_str(), "after the other shutdown"),
    )
    .await;
    // p1 refuses sends
    let refused = within(
        STEP,
        "send after Shutdown",
        p1.send(SendMessage::new(Message::new(topic.as_str(), "late"))),
    )
    .await;
    match refused {
        Err(_) => {} // actor stopped: also a refusal
        Ok(Err(e)) => assert!(
            matches!(e.kind(), ErrorKind::ShutDown),
            "send after Shutdown: {e}"
        ),
        Ok(Ok(r)) => panic!("send after Shutdown succeeded: {r}"),
    }

    shutdown(&p2).await;
    for (_, addr) in &bs {
        rb.wait_producer_clients(
            addr,
            &g2,
            Duration::from_secs(3),
            "after the last Shutdown",
            |c| !c.contains(&client_id),
        )
        .await;
    }
}

/// Producer settings that change what goes on the wire, each checked against the real
/// broker and read back: the VIP channel (sends to the broker's fast port, port - 2),
/// JSON request headers (the default is the ROCKETMQ binary form), and a namespace (the broker stores
/// `NS%topic`; the send result reports the plain topic).
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn vip_channel_json_headers_and_namespace() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_variants").await;
    // ROCKETMQ binary headers are the default (every other test uses them): JSON is the variant here.
    for name in ["vip", "json-header"] {
        let builder = ProducerConfig::builder(unique("e2e_variant_group"))
            .namesrv_addr(rig.namesrv_addr())
            .instance_name(unique("e2e"));
        let builder = match name {
            "vip" => builder.vip_channel_enabled(true),
            _ => builder.serialize_type(SerializeType::Json),
        };
        let cfg = builder.build().expect("config");
        let p = start(cfg).await;
        for i in 0..4 {
            let msg = Message::new(topic.as_str(), format!("{name} {i}"))
                .with_tags(name)
                .with_keys(format!("{name}-{i}"))
                .with_property("variant", name);
            let r = send(&p, msg.clone()).await;
            view_and_compare(&rb, &msg, &r, &format!("{name} #{i}")).await;
        }
        shutdown(&p).await;
    }

    // Namespace: the topic on the broker is `NS%topic`.
    let ns = unique("e2ens");
    let wrapped = format!("{ns}%{topic}");
    let bs = brokers(&rig, &rb).await;
    let addrs: Vec<&str> = bs.iter().map(|(_, a)| a.as_str()).collect();
    let names: Vec<&str> = bs.iter().map(|(n, _)| n.as_str()).collect();
    rb.create_topic(&addrs, &wrapped, QUEUES).await;
    rb.wait_route(rig.namesrv_addr(), &wrapped, &names, STEP)
        .await;
    let cfg = ProducerConfig::builder("e2e_ns_group")
        .namesrv_addr(rig.namesrv_addr())
        .instance_name(unique("e2e"))
        .namespace(ns.as_str())
        .build()
        .expect("config");
    let p = start(cfg).await;
    let msg = Message::new(topic.as_str(), "namespaced")
        .with_tags("ns")
        .with_keys("ns-key");
    let r = send(&p, msg.clone()).await;
    assert_eq!(
        r.message_queue.topic, topic,
        "result topic without namespace"
    );
    let (stored, _) = rb
        .view(&r.offset_msg_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut as_stored = msg.clone();
    as_stored.topic = wrapped.clone();
    // the producer marks namespaced messages with INSTANCE_ID, as the Java client does
    as_stored.set_property(property::INSTANCE_ID, ns.as_str());
    assert_same_message(&stored, &as_stored, &r.msg_id, "namespaced");
    shutdown(&p).await;
}

/// The broker's limits: bodies of exactly 4 MiB (the default `max_message_size`) are
/// stored, compressible ones compressed, random ones as they are (zlib would make them
/// larger than the broker's 4 MiB limit); one byte more is refused by the producer.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn four_mib_body_round_trips_and_one_byte_more_is_refused() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_limit").await;
    let p = start(config(&rig, &unique("e2e_limit_group"))).await;
    let max = 4 * 1024 * 1024;
    let msg = Message::new(topic.as_str(), text_body(max)).with_tags("max");
    let r = send(&p, msg.clone()).await;
    let (stored, raw_len) = view_and_compare(&rb, &msg, &r, "4 MiB body").await;
    assert!(is_compressed(&stored) && raw_len < max / 4);

    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let random: Vec<u8> = (0..max)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let msg = Message::new(topic.as_str(), random).with_tags("random");
    let r = send(&p, msg.clone()).await;
    let (stored, raw_len) = view_and_compare(&rb, &msg, &r, "4 MiB random body").await;
    assert!(
        !is_compressed(&stored) && raw_len > max,
        "random body: compressed={} record {raw_len} bytes",
        is_compressed(&stored)
    );

    let over = Message::new(topic.as_str(), text_body(max + 1));
    let err = within(STEP, "oversize send", p.send(SendMessage::new(over)))
        .await
        .expect("producer alive")
        .expect_err("a body over max_message_size must be refused");
    assert!(
        matches!(err.kind(), ErrorKind::Validation(_)),
        "oversize body: expected a validation error, got {err}"
    );
    shutdown(&p).await;
}

// ---------------------------------------------------------------------------------------
// the comparisons themselves (no broker needed)

/// The read-back comparisons catch every kind of difference they claim to check, so a
/// broker (or producer) that mangles a message fails the suite.
#[test]
fn readback_comparisons_catch_differences() {
    use actix_rocketmq::internals::protocol::stored::StoredMessage;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    let host = "127.0.0.1:10911".parse().expect("addr");
    let sent = Message::new("T", vec![0u8, 1, 2, 255])
        .with_tags("TagA")
        .with_keys(["k1", "k2"])
        .with_property("p", "v")
        .with_flag(7);
    let mut good = StoredMessage::from_message(&sent, host, host);
    good.properties
        .push((property::UNIQ_KEY.to_owned(), "ID1".to_owned()));
    assert_same_message(&good, &sent, "ID1", "identical");

    let fails = |what: &str, f: &dyn Fn(&mut StoredMessage)| {
        let mut bad = good.clone();
        f(&mut bad);
        let r = catch_unwind(AssertUnwindSafe(|| {
            assert_same_message(&bad, &sent, "ID1", what)
        }));
        assert!(
            r.is_err(),
            "a stored message with {what} passed the comparison"
        );
    };
    fails("another topic", &|m| m.topic = "U".into());
    fails("another flag", &|m| m.flag = 8);
    fails("one body byte changed", &|m| {
        m.body = vec![0u8, 1, 2, 254].into()
    });
    fails("a truncated body", &|m| m.body = vec![0u8, 1, 2].into());
    fails("other tags", &|m| set_prop(m, property::TAGS, "TagB"));
    fails("other keys", &|m| set_prop(m, property::KEYS, "k1"));
    fails("a changed property", &|m| set_prop(m, "p", "w"));
    fails("a missing property", &|m| {
        m.properties.retain(|(k, _)| k != "p")
    });
    fails("an extra property", &|m| {
        m.properties.push(("extra".into(), "x".into()))
    });
    fails("another UNIQ_KEY", &|m| {
        set_prop(m, property::UNIQ_KEY, "ID2")
    });
    fails("no UNIQ_KEY", &|m| {
        m.properties.retain(|(k, _)| k != property::UNIQ_KEY)
    });
}

fn set_prop(m: &mut actix_rocketmq::internals::protocol::stored::StoredMessage, k: &str, v: &str) {
    for (name, value) in m.properties.iter_mut() {
        if name == k {
            *value = v.to_owned();
        }
    }
}

// ---------------------------------------------------------------------------------------
// quickstart example against the real broker

/// Builds an example (a no-op when it is up to date: `cargo test` builds examples
/// only in test mode, so the plain binary may be missing or stale) and returns its
/// path (`target/<profile>/examples/<name>`).
async fn build_example(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let what = format!("cargo build --example {name}");
    let out = within(
        Duration::from_secs(300),
        &what,
        tokio::process::Command::new(cargo)
            .current_dir(root)
            .args(["build", "--all-features", "--example", name])
            .args(["--message-format", "json-render-diagnostics"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("cargo runs");
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The executable path from cargo's JSON artifact messages.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == name)
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo reported no {name} executable"))
}

/// `quickstart --namesrv .. --topic T --count N` sends N messages to the real broker;
/// they are read back with the tag, keys, property and body the example documents.
/// The example is built with `cargo build --example quickstart` first (seconds when the
/// library is built already).
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn quickstart_example_against_the_real_broker() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_quickstart").await;
    let bin = build_example("quickstart").await;

    const COUNT: usize = 7;
    let group = unique("e2e_quickstart_group");
    let out = within(
        Duration::from_secs(60),
        "quickstart example",
        tokio::process::Command::new(&bin)
            .args(["--namesrv", rig.namesrv_addr(), "--topic", &topic])
            .args([
                "--count",
                &COUNT.to_string(),
                "--tag",
                "QS",
                "--group",
                &group,
            ])
            .args(["--body-size", "6000", "--property", "origin=quickstart"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("quickstart runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "quickstart failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout.lines().last().unwrap_or("");
    assert_eq!(
        summary,
        format!("{{\"sent\":{COUNT},\"ok\":{COUNT},\"failed\":0}}"),
        "quickstart summary line"
    );

    let mut bodies = BTreeMap::new();
    for (_, addr) in brokers(&rig, &rb).await {
        for s in rb.pull_topic(&addr, &topic, QUEUES).await {
            let key = s.keys().expect("KEYS").to_owned();
            let i: usize = key.strip_prefix("KEY").expect("KEY{i}").parse().expect("i");
            let expected = Message::new(
                topic.as_str(),
                format!("Hello RocketMQ {i}")
                    .bytes()
                    .cycle()
                    .take(6000)
                    .collect::<Vec<u8>>(),
            )
            .with_tags("QS")
            .with_keys(key.as_str())
            .with_property("origin", "quickstart");
            let uniq = s.uniq_key().expect("UNIQ_KEY").to_owned();
            assert_same_message(&s, &expected, &uniq, &key);
            assert!(is_compressed(&s), "6000-byte body stored uncompressed");
            assert!(bodies.insert(i, uniq).is_none(), "KEY{i} stored twice");
        }
    }
    assert_eq!(
        bodies.keys().copied().collect::<Vec<_>>(),
        (0..COUNT).collect::<Vec<_>>(),
        "messages the quickstart stored"
    );
}

/// `quickstart --namesrv-domain 127.0.0.1:PORT` alone (no `--namesrv`, no
/// `NAMESRV_ADDR`): the list comes from an in-process address server serving the
/// rig's name servers, and the messages are stored.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn quickstart_example_with_name_servers_over_http() {
    use actix_web::{App, HttpResponse, HttpServer, web};

    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_nsaddr").await;
    let bin = build_example("quickstart").await;

    let list = rig.namesrv_addr().to_owned();
    let server = HttpServer::new(move || {
        let list = list.clone();
        App::new().route(
            "/rocketmq/{subgroup}",
            web::get().to(move || {
                let list = list.clone();
                async move { HttpResponse::Ok().body(format!("{list}\n")) }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind the address server");
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);

    const COUNT: usize = 3;
    let group = unique("e2e_nsaddr_group");
    let out = within(
        Duration::from_secs(60),
        "quickstart example",
        tokio::process::Command::new(&bin)
            .env_remove("NAMESRV_ADDR")
            .args(["--namesrv-domain", &format!("127.0.0.1:{port}")])
            .args(["--topic", &topic, "--count", &COUNT.to_string()])
            .args(["--tag", "NS", "--group", &group])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("quickstart runs");
    handle.stop(false).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "quickstart failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains("in-process test broker"),
        "the quickstart used its own broker:\n{stdout}"
    );
    assert_eq!(
        stdout.lines().last().unwrap_or(""),
        format!("{{\"sent\":{COUNT},\"ok\":{COUNT},\"failed\":0}}"),
        "quickstart summary line"
    );
    let mut keys = BTreeSet::new();
    for (_, addr) in brokers(&rig, &rb).await {
        for s in rb.pull_topic(&addr, &topic, QUEUES).await {
            assert_eq!(s.tags(), Some("NS"));
            let key = s.keys().expect("KEYS").to_owned();
            let body = String::from_utf8_lossy(&s.body).into_owned();
            assert_eq!(body, format!("Hello RocketMQ {}", &key[3..]));
            assert!(keys.insert(key), "stored twice");
        }
    }
    assert_eq!(keys.len(), COUNT, "messages the quickstart stored");
}

// ---------------------------------------------------------------------------------------
// Transactions. `scripts/test.sh` starts the shared rig's brokers with a 1 s transaction
// timeout and check interval, so an unresolved half message is checked ~1-2 s after it
// is stored (the defaults are 6 s and 30 s).

/// The committed messages of `topic` on every broker, by UNIQ_KEY.
async fn committed(
    rig: &Rig,
    rb: &ReadBack,
    topic: &str,
) -> HashMap<String, readback::StoredMessage> {
    let mut out = HashMap::new();
    for (_, addr) in brokers(rig, rb).await {
        for s in rb.pull_topic(&addr, topic, QUEUES).await {
            out.insert(s.uniq_key().expect("UNIQ_KEY").to_owned(), s);
        }
    }
    out
}

/// Polls the topic until `cond` holds for its committed messages (or `limit` passes).
async fn wait_committed(
    rig: &Rig,
    rb: &ReadBack,
    topic: &str,
    limit: Duration,
    cond: impl Fn(&HashMap<String, readback::StoredMessage>) -> bool,
) -> HashMap<String, readback::StoredMessage> {
    let deadline = Instant::now() + limit;
    loop {
        let now = committed(rig, rb, topic).await;
        if cond(&now) || Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A transactional producer whose checker records each check's transaction id and
/// answers what `outcomes` holds for it (`Unknown` for an id it does not hold).
fn tx_config(
    rig: &Rig,
    group: &str,
    checks: Arc<std::sync::Mutex<Vec<String>>>,
    outcomes: Arc<std::sync::Mutex<HashMap<String, TransactionResolution>>>,
) -> ProducerConfig {
    ProducerConfig::builder(group)
        .namesrv_addr(rig.namesrv_addr())
        .instance_name(unique("e2e"))
        .transaction_checker(move |check: TransactionCheck| {
            let answer = outcomes
                .lock()
                .unwrap()
                .get(&check.transaction_id)
                .copied()
                .unwrap_or_default();
            checks.lock().unwrap().push(check.transaction_id);
            async move { answer }
        })
        .build()
        .expect("valid producer config")
}

async fn half_send(p: &Addr<ProducerActor>, msg: Message) -> Transaction {
    within(
        STEP,
        "half send",
        p.send(SendMessageInTransaction::new(msg)),
    )
    .await
    .expect("producer alive")
    .unwrap_or_else(|e| panic!("half send failed: {e}"))
}

/// Commit makes the message readable in its topic, byte for byte; rollback leaves
/// nothing there, even after the broker's check interval has passed several times.
/// (The broker records ended transactions in batches, every `transactionOpBatchInterval`,
/// so a check can still reach one that just ended; the checker answers with the real
/// outcome, as an application's would, and the broker stores a commit answered by a
/// check as another copy: at least once. Only such a check may add a copy.)
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn transaction_commit_is_stored_and_rollback_is_not() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_tx").await;
    let checks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let outcomes = Arc::new(std::sync::Mutex::new(HashMap::new()));
    let group = unique("e2e_tx_group");
    let p = start(tx_config(&rig, &group, checks.clone(), outcomes.clone())).await;

    let kept = Message::new(topic.as_str(), text_body(300))
        .with_tags("TX")
        .with_keys("order-commit")
        .with_property("origin", "e2e");
    let tx = half_send(&p, kept.clone()).await;
    assert_eq!(tx.send_result().status, SendStatus::SendOk);
    let kept_id = tx.transaction_id().to_owned();
    outcomes
        .lock()
        .unwrap()
        .insert(kept_id.clone(), TransactionResolution::Commit);
    within(STEP, "commit", tx.commit())
        .await
        .expect("commit written");

    let dropped = Message::new(topic.as_str(), "never visible").with_keys("order-rollback");
    let tx = half_send(&p, dropped).await;
    let dropped_id = tx.transaction_id().to_owned();
    outcomes
        .lock()
        .unwrap()
        .insert(dropped_id.clone(), TransactionResolution::Rollback);
    within(STEP, "rollback", tx.rollback())
        .await
        .expect("rollback written");

    let seen = wait_committed(&rig, &rb, &topic, STEP, |m| m.contains_key(&kept_id)).await;
    let stored = seen
        .get(&kept_id)
        .unwrap_or_else(|| panic!("the committed message is not in {topic}"));
    assert_same_committed_message(stored, &kept, &kept_id, &group, "committed transaction");
    // Several check intervals: neither a second copy nor the rolled-back message appears.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut stored_ids = Vec::new();
    for (_, addr) in brokers(&rig, &rb).await {
        for s in rb.pull_topic(&addr, &topic, QUEUES).await {
            stored_ids.push(s.uniq_key().expect("UNIQ_KEY").to_owned());
        }
    }
    let asked = checks.lock().unwrap().clone();
    assert!(
        asked.iter().all(|c| *c == kept_id || *c == dropped_id),
        "checks of unknown transactions: {asked:?}"
    );
    let kept_checks = asked.iter().filter(|c| **c == kept_id).count();
    assert!(
        !stored_ids.is_empty()
            && stored_ids.len() <= 1 + kept_checks
            && stored_ids.iter().all(|id| *id == kept_id),
        "stored in {topic}: {stored_ids:?}, after checks {asked:?}"
    );
    shutdown(&p).await;
}

/// RESEARCH theme 17 against the real broker: a transaction left unknown is checked by
/// the broker on the producer group's connection, and the checker's commit makes it
/// visible.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn transaction_left_unknown_is_settled_by_the_checker() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_txcheck").await;
    let checks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let outcomes = Arc::new(std::sync::Mutex::new(HashMap::new()));
    let group = unique("e2e_txcheck_group");
    let p = start(tx_config(&rig, &group, checks.clone(), outcomes.clone())).await;
    let msg = Message::new(topic.as_str(), "settled by the check").with_keys("order-check");
    let tx = half_send(&p, msg.clone()).await;
    let id = tx.transaction_id().to_owned();
    // Decided after the END_TRANSACTION said Unknown: only a check can tell the broker.
    outcomes
        .lock()
        .unwrap()
        .insert(id.clone(), TransactionResolution::Commit);
    within(STEP, "end unknown", tx.end(TransactionResolution::Unknown))
        .await
        .expect("END_TRANSACTION written");

    let seen = wait_committed(&rig, &rb, &topic, Duration::from_secs(30), |m| {
        m.contains_key(&id)
    })
    .await;
    let stored = seen.get(&id).unwrap_or_else(|| {
        panic!(
            "not committed after 30 s; checks so far: {:?}",
            checks.lock().unwrap()
        )
    });
    assert_same_committed_message(stored, &msg, &id, &group, "transaction settled by a check");
    let asked = checks.lock().unwrap().clone();
    assert!(
        !asked.is_empty() && asked.iter().all(|c| *c == id),
        "checks: {asked:?}"
    );
    shutdown(&p).await;
}

/// Request-reply through the real broker: the request is stored with the broker's
/// `CLUSTER`, a reply built from it (as a consumer would) goes with
/// SEND_REPLY_MESSAGE_V2, and the broker pushes it to the requester's connection.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn request_gets_the_reply_pushed_by_the_broker() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_request").await;
    // The reply topic of the rig's cluster, on every broker (as auto-creation would).
    let bs = brokers(&rig, &rb).await;
    let addrs: Vec<&str> = bs.iter().map(|(_, a)| a.as_str()).collect();
    let names: Vec<&str> = bs.iter().map(|(n, _)| n.as_str()).collect();
    let reply_topic = "DefaultCluster_REPLY_TOPIC";
    within(
        STEP,
        "create reply topic",
        rb.create_topic(&addrs, reply_topic, 1),
    )
    .await;
    rb.wait_route(rig.namesrv_addr(), reply_topic, &names, STEP)
        .await;

    let requester_cfg = config(&rig, &unique("e2e_requester"));
    let requester_id = requester_cfg.client_id();
    let requester = start(requester_cfg).await;
    let replier = start(config(&rig, &unique("e2e_replier"))).await;

    let request = Message::new(topic.as_str(), "ping").with_keys("request-1");
    let pending = requester.send(SendRequest::new(request).with_timeout(Duration::from_secs(8)));
    let replier_side = async {
        let deadline = Instant::now() + STEP;
        let stored = loop {
            let mut found = None;
            for (_, addr) in brokers(&rig, &rb).await {
                found = found.or(rb
                    .pull_topic(&addr, &topic, QUEUES)
                    .await
                    .into_iter()
                    .next());
            }
            if let Some(s) = found {
                break s;
            }
            assert!(Instant::now() < deadline, "the request was not stored");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(
            stored.property(property::REPLY_TO_CLIENT),
            Some(requester_id.as_str())
        );
        let props = stored
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        let reply = Message::reply_to(props, "pong").expect("the broker added CLUSTER");
        assert_eq!(reply.topic, reply_topic);
        send(&replier, reply).await;
        stored
    };
    let (reply, stored) = within(STEP, "request and reply", async {
        tokio::join!(pending, replier_side)
    })
    .await;
    let reply = reply
        .expect("producer alive")
        .unwrap_or_else(|e| panic!("request failed: {e}"));
    assert_eq!(reply.body, "pong");
    assert_eq!(
        reply.property(property::CORRELATION_ID),
        stored.property(property::CORRELATION_ID)
    );
    shutdown(&requester).await;
    shutdown(&replier).await;
}

/// `transaction --namesrv ..` against the real broker: order 1 committed and order 3
/// (left Unknown, settled by the broker's check and the example's checker) are in
/// the topic; order 2, rolled back, is not.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn transaction_example_against_the_real_broker() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_txexample").await;
    let exe = build_example("transaction").await;
    let out = within(
        Duration::from_secs(120),
        "transaction example",
        tokio::process::Command::new(&exe)
            .args(["--namesrv", rig.namesrv_addr(), "--topic", topic.as_str()])
            .args(["--check-wait", "60"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "transaction example failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("JSON summary line");
    let id = |k: &str| summary[k][0].as_str().expect("an id").to_owned();
    let (committed, rolled_back, checked) = (id("committed"), id("rolled_back"), id("checked"));
    let seen = wait_committed(&rig, &rb, &topic, STEP, |m| {
        m.contains_key(&committed) && m.contains_key(&checked)
    })
    .await;
    assert!(seen.contains_key(&committed), "order 1 not in {topic}");
    assert!(seen.contains_key(&checked), "order 3 not in {topic}");
    assert!(!seen.contains_key(&rolled_back), "order 2 was rolled back");
    assert_eq!(
        seen[&committed].keys(),
        Some("order-1"),
        "order 1 stored with its keys"
    );
}

/// With no arguments the examples run against the in-process test broker and
/// succeed: a new user sees them work before installing anything.
#[actix_rt::test]
#[ignore = "builds the examples: run scripts/test.sh"]
async fn examples_run_with_no_setup() {
    for name in ["quickstart", "transaction"] {
        let exe = build_example(name).await;
        let out = within(
            Duration::from_secs(60),
            name,
            tokio::process::Command::new(&exe)
                // The examples fall back to NAMESRV_ADDR (scripts/test.sh sets it): no setup means none.
                .env_remove("NAMESRV_ADDR")
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("the example runs");
        assert!(
            out.status.success(),
            "{name} with no arguments failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
