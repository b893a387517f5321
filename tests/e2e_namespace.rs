//! A namespaced producer (`.namespace("ns1")`, Java `NamespaceUtil`) against the
//! REAL broker: the message is stored under `ns1%<topic>`, the send result names
//! the user's topic, and the producer group reaches the broker as `ns1%<group>`,
//! checked on the wire: the broker listens on 127.0.0.2 and advertises 127.0.0.1,
//! where a byte-copying proxy records what the client sends; the HEART_BEAT body
//! and the SEND_MESSAGE header are decoded from those bytes.
//!
//! Ignored by a plain `cargo test`; `scripts/test.sh` runs it, or by hand:
//! `RMQ_E2E=1 cargo test --all-features --test e2e_namespace -- --include-ignored`.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/readback.rs"]
mod readback;
#[path = "support/rig.rs"]
mod rig;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_rocketmq::internals::protocol::RemotingCommand;
use actix_rocketmq::internals::protocol::codes::request_code;
use actix_rocketmq::internals::protocol::frame::decode_frame;
use actix_rocketmq::internals::protocol::message::property;
use actix_rocketmq::{Message, ProducerActor, ProducerConfig, SendMessage, SendStatus, Shutdown};
use bytes::Bytes;
use e2e::within;
use readback::{ReadBack, assert_at_result, assert_same_message, unique};
use rig::Rig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const STEP: Duration = Duration::from_secs(20);

/// What clients sent through the proxy, one byte stream per connection.
type Recorded = Arc<Mutex<Vec<Arc<Mutex<Vec<u8>>>>>>;

/// Listens on `listen` and relays every connection to `upstream`, recording the
/// bytes each client sends (the answers are relayed, not recorded).
async fn recording_proxy(listen: SocketAddr, upstream: SocketAddr) -> Recorded {
    let listener = TcpListener::bind(listen).await.expect("proxy binds");
    let recorded: Recorded = Arc::default();
    let all = recorded.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let sent = Arc::new(Mutex::new(Vec::new()));
            all.lock().unwrap().push(sent.clone());
            tokio::spawn(async move {
                let _ = client.set_nodelay(true);
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = server.set_nodelay(true);
                let (mut client_rd, mut client_wr) = client.into_split();
                let (mut server_rd, mut server_wr) = server.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match client_rd.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                sent.lock().unwrap().extend_from_slice(&buf[..n]);
                                if server_wr.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = server_wr.shutdown().await;
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut server_rd, &mut client_wr).await;
                    let _ = client_wr.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    recorded
}

/// Every complete frame the clients sent so far, decoded.
fn requests(recorded: &Recorded) -> Vec<RemotingCommand> {
    let mut out = Vec::new();
    for conn in recorded.lock().unwrap().iter() {
        let bytes = conn.lock().unwrap().clone();
        let mut at = 0;
        while bytes.len() >= at + 4 {
            let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            if bytes.len() < at + 4 + len {
                break;
            }
            let frame = Bytes::copy_from_slice(&bytes[at..at + 4 + len]);
            out.push(decode_frame(frame).expect("the client sent a valid frame"));
            at += 4 + len;
        }
    }
    out
}

#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn a_namespaced_producer_stores_under_the_namespace_and_sends_its_group_namespaced() {
    let rig = tokio::task::spawn_blocking(|| {
        Rig::start_private_with(1, |_| vec![("RMQ_RIG_BROKER_BIND", "127.0.0.2".into())])
    })
    .await
    .expect("rig start task");
    let advertised: SocketAddr = rig.broker_addr("broker-a").parse().unwrap();
    let bound = SocketAddr::from(([127, 0, 0, 2], advertised.port()));
    let recorded = recording_proxy(advertised, bound).await;

    let topic = unique("E2E_ns");
    let group = unique("e2e_ns_group");
    let ns_topic = format!("ns1%{topic}");
    let ns_group = format!("ns1%{group}");
    // The topic is made under its namespaced name, over an admin connection
    // straight to the broker (not recorded).
    let rb = ReadBack::new();
    within(
        STEP,
        "create topic",
        rb.create_topic(&[&bound.to_string()], &ns_topic, 4),
    )
    .await;
    rb.wait_route(rig.namesrv_addr(), &ns_topic, &["broker-a"], STEP)
        .await;

    let cfg = ProducerConfig::builder(group.as_str())
        .namesrv_addr(rig.namesrv_addr())
        .namespace("ns1")
        .instance_name(unique("e2e_ns"))
        .send_timeout(Duration::from_secs(5))
        .build()
        .expect("valid producer config");
    let client_id = cfg.client_id();
    let producer = within(STEP, "start", ProducerActor::start(cfg))
        .await
        .expect("producer starts");

    let msg = Message::new(topic.as_str(), "namespaced").with_keys("ns-key");
    let result = within(STEP, "send", producer.send(SendMessage::new(msg.clone())))
        .await
        .expect("producer alive")
        .unwrap_or_else(|e| panic!("namespaced send failed: {e}"));
    assert_eq!(result.status, SendStatus::SendOk);
    // The result names the user's topic, without the namespace (Java strips it).
    assert_eq!(result.message_queue.topic, topic, "{result:?}");

    // Stored under the namespaced topic: read back by id and by pulling the queue.
    let (stored, _) = within(STEP, "view", rb.view(&result.offset_msg_id))
        .await
        .expect("read back");
    assert_eq!(stored.topic, ns_topic);
    // As Java does, the client marks the message with its namespace (`INSTANCE_ID`).
    let stored_as = Message::new(ns_topic.as_str(), "namespaced")
        .with_keys("ns-key")
        .with_property(property::INSTANCE_ID, "ns1");
    assert_same_message(&stored, &stored_as, &result.msg_id, "namespaced send");
    let mut at_result = result.clone();
    at_result.message_queue.topic = ns_topic.clone();
    assert_at_result(&stored, &at_result, "namespaced send");
    let pulled = within(
        STEP,
        "pull",
        rb.pull_queue(&bound.to_string(), &ns_topic, result.message_queue.queue_id),
    )
    .await;
    assert!(
        pulled.iter().any(|m| m.body.as_ref() == b"namespaced"),
        "{ns_topic} queue {} holds {pulled:?}",
        result.message_queue.queue_id
    );

    // The broker knows this client under the namespaced group, not the plain one.
    rb.wait_producer_clients(&bound.to_string(), &ns_group, STEP, "heartbeat", |c| {
        c.iter().any(|id| id == &client_id)
    })
    .await;
    assert!(
        !rb.producer_clients(&bound.to_string(), &group)
            .await
            .contains(&client_id),
        "the broker lists the client under the plain group {group}"
    );

    // On the wire: the HEART_BEAT body names `ns1%<group>`, and the send's header
    // (SEND_MESSAGE_V2 `a`/`b`, or SEND_MESSAGE `producerGroup`/`topic`) too.
    let sent = requests(&recorded);
    let heartbeats: Vec<&RemotingCommand> = sent
        .iter()
        .filter(|c| c.code == request_code::HEART_BEAT)
        .collect();
    assert!(
        !heartbeats.is_empty(),
        "no HEART_BEAT went through the proxy"
    );
    for hb in &heartbeats {
        let body: serde_json::Value =
            serde_json::from_slice(&hb.body).expect("HEART_BEAT body is JSON");
        let groups: Vec<&str> = body["producerDataSet"]
            .as_array()
            .expect("producerDataSet")
            .iter()
            .filter_map(|p| p["groupName"].as_str())
            .collect();
        assert!(groups.contains(&ns_group.as_str()), "{body}");
        assert!(!groups.contains(&group.as_str()), "{body}");
        assert_eq!(
            body["clientID"].as_str(),
            Some(client_id.as_str()),
            "{body}"
        );
    }
    let sends: Vec<&RemotingCommand> = sent
        .iter()
        .filter(|c| c.code == request_code::SEND_MESSAGE_V2 || c.code == request_code::SEND_MESSAGE)
        .collect();
    assert_eq!(sends.len(), 1, "one send went through the proxy");
    let fields = sends[0].ext_fields.as_ref().expect("send header");
    let (group_field, topic_field) = if sends[0].code == request_code::SEND_MESSAGE_V2 {
        ("a", "b")
    } else {
        ("producerGroup", "topic")
    };
    assert_eq!(fields.get(group_field), Some(ns_group.as_str()));
    assert_eq!(fields.get(topic_field), Some(ns_topic.as_str()));

    let _ = within(STEP, "shutdown", producer.send(Shutdown)).await;
}
