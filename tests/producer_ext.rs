//! `ProducerExt` against the test broker: every send form through the trait,
//! with one `?` per call, and a stopped producer reported as `ErrorKind::ShutDown`.

#[path = "support/producer.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use actix_rocketmq::internals::protocol::message::property;
use actix_rocketmq::internals::protocol::validation::ValidationError;
use actix_rocketmq::testkit::{TestCluster, TransactionState};
use actix_rocketmq::{
    ErrorKind, Message, MessageQueue, ProducerExt, SelectMessageQueueByHash, SendMessage,
    SendRequest, SendToQueue, TransactionCheck, TransactionResolution,
};
use support::*;

const LIMIT: Duration = Duration::from_secs(5);
const REPLY_TOPIC: &str = "DefaultCluster_REPLY_TOPIC";

/// The bodies stored for `TOPIC`, sorted.
fn stored_bodies(cluster: &TestCluster) -> Vec<String> {
    let mut bodies: Vec<String> = cluster.messages(TOPIC).iter().map(body_text).collect();
    bodies.sort();
    bodies
}

#[actix_rt::test]
async fn send_message_takes_a_message_or_a_built_send() -> Result<(), actix_rocketmq::Error> {
    let cluster = one_broker().await;
    let producer = start(config("ext_send_group", &cluster)).await;
    // The future is Send (checked at compile time): it may be awaited in a spawned task.
    fn assert_send<T: Send>(t: T) -> T {
        t
    }
    let first = within(
        LIMIT,
        "send",
        assert_send(producer.send_message(msg("plain"))),
    )
    .await?;
    let second = within(
        LIMIT,
        "send",
        producer.send_message(SendMessage::new(msg("built"))),
    )
    .await?;
    assert_ne!(first.msg_id, second.msg_id);
    assert_eq!(stored_bodies(&cluster), ["built", "plain"]);
    // A refused message is the same Error, reached with the same single `?`.
    let err = within(
        LIMIT,
        "send",
        producer.send_message(Message::new(TOPIC, "")),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::Validation(ValidationError::BodyEmpty)
    );
    Ok(())
}

#[actix_rt::test]
async fn oneway_queue_selector_and_batch_sends() -> Result<(), actix_rocketmq::Error> {
    let cluster = one_broker().await;
    let producer = start(config("ext_forms_group", &cluster)).await;

    within(LIMIT, "oneway", producer.send_oneway(msg("oneway"))).await?;
    assert!(
        eventually(LIMIT, || stored_bodies(&cluster) == ["oneway"]).await,
        "the oneway message is stored"
    );

    let queue = MessageQueue::new(TOPIC, "broker-a", 2);
    let to_queue = within(
        LIMIT,
        "to queue",
        producer.send_to_queue(msg("queued"), queue.clone()),
    )
    .await?;
    assert_eq!(to_queue.message_queue, queue);

    let by_order = Arc::new(SelectMessageQueueByHash);
    let a = producer.send_with_selector(msg("created"), by_order.clone(), "order-42");
    let b = producer.send_with_selector(msg("paid"), by_order, "order-42");
    let (a, b) = within(LIMIT, "selector sends", async { tokio::join!(a, b) }).await;
    assert_eq!(a?.message_queue, b?.message_queue);

    let batch = within(
        LIMIT,
        "batch",
        producer.send_batch(vec![msg("one"), msg("two")]),
    )
    .await?;
    assert_eq!(batch.msg_id.split(',').count(), 2);

    // A send built beforehand goes through `call`.
    let built = SendToQueue::new(msg("called"), MessageQueue::new(TOPIC, "broker-a", 1));
    let called = within(LIMIT, "call", producer.call(built)).await?;
    assert_eq!(called.message_queue.queue_id, 1);

    assert_eq!(
        stored_bodies(&cluster),
        [
            "called", "created", "one", "oneway", "paid", "queued", "two"
        ]
    );
    Ok(())
}

#[actix_rt::test]
async fn fetch_publish_queues_lists_the_topic_queues() -> Result<(), actix_rocketmq::Error> {
    let cluster = two_brokers().await;
    let producer = start(config("ext_queues_group", &cluster)).await;
    let mut queues = within(LIMIT, "fetch", producer.fetch_publish_queues(TOPIC)).await?;
    queues.sort_by(|a, b| (&a.broker_name, a.queue_id).cmp(&(&b.broker_name, b.queue_id)));
    let expected: Vec<MessageQueue> = ["broker-a", "broker-b"]
        .into_iter()
        .flat_map(|b| (0..4).map(move |q| MessageQueue::new(TOPIC, b, q)))
        .collect();
    assert_eq!(queues, expected);
    let err = within(LIMIT, "fetch", producer.fetch_publish_queues("NoSuchTopic"))
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Route(_)), "{err:?}");
    Ok(())
}

#[actix_rt::test]
async fn send_in_transaction_returns_the_transaction_to_end() -> Result<(), actix_rocketmq::Error> {
    let cluster = one_broker().await;
    let producer = start(
        config("ext_tx_group", &cluster)
            .transaction_checker(|_: TransactionCheck| async { TransactionResolution::Unknown }),
    )
    .await;
    let tx = within(
        LIMIT,
        "half send",
        producer.send_in_transaction(msg("order-1")),
    )
    .await?;
    let state = || cluster.messages(TOPIC)[0].transaction;
    assert_eq!(state(), TransactionState::Prepared);
    tx.commit().await?;
    assert!(eventually(LIMIT, || state() == TransactionState::Committed).await);

    // Without a checker the trait reports the producer's Config error, flattened.
    let plain = start(config("ext_tx_plain_group", &cluster)).await;
    let err = within(
        LIMIT,
        "half send",
        plain.send_in_transaction(msg("order-2")),
    )
    .await
    .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
    Ok(())
}

#[actix_rt::test]
async fn request_gets_the_reply_or_times_out() -> Result<(), actix_rocketmq::Error> {
    let cluster = TestCluster::builder()
        .broker("broker-a")
        .topic(TOPIC, 4)
        .topic(REPLY_TOPIC, 1)
        .start()
        .await
        .expect("test cluster starts");
    let requester = start(config("ext_request_group", &cluster)).await;
    let replier = start(config("ext_replier_group", &cluster)).await;

    let pending = requester.request(msg("ping"), LIMIT);
    let replier_side = async {
        assert!(eventually(LIMIT, || !cluster.messages(TOPIC).is_empty()).await);
        let request = cluster.messages(TOPIC).remove(0);
        // The test broker does not add CLUSTER to stored messages as a real one does.
        let props = request
            .properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain([(property::CLUSTER, "DefaultCluster")]);
        let reply = Message::reply_to(props, "pong".to_owned()).expect("a request has a reply");
        replier.send_message(reply).await
    };
    let (reply, sent) = within(LIMIT, "request and reply", async {
        tokio::join!(pending, replier_side)
    })
    .await;
    sent?;
    assert_eq!(reply?.body, "pong");

    let err = within(
        LIMIT,
        "request",
        requester.request(msg("anyone?"), Duration::from_millis(200)),
    )
    .await
    .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
    // A request built beforehand, with the producer's send timeout, goes through `call`.
    let err = within(
        LIMIT,
        "request",
        requester.call(SendRequest::new(Message::new(TOPIC, ""))),
    )
    .await
    .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Validation(_)), "{err:?}");
    Ok(())
}

#[actix_rt::test]
async fn after_shutdown_every_method_reports_shut_down() -> Result<(), actix_rocketmq::Error> {
    let cluster = one_broker().await;
    let producer = start(config("ext_shutdown_group", &cluster)).await;
    within(LIMIT, "send", producer.send_message(msg("before"))).await?;
    within(LIMIT, "shutdown", producer.shutdown()).await?;
    // Once stopped, the mailbox is closed: the actix MailboxError becomes ShutDown.
    assert!(
        eventually(LIMIT, || !producer.connected()).await,
        "the producer stops after Shutdown"
    );
    let queue = MessageQueue::new(TOPIC, "broker-a", 0);
    let selector = Arc::new(SelectMessageQueueByHash);
    let errors = vec![
        producer.send_message(msg("after")).await.unwrap_err(),
        producer.send_oneway(msg("after")).await.unwrap_err(),
        producer
            .send_to_queue(msg("after"), queue)
            .await
            .unwrap_err(),
        producer
            .send_with_selector(msg("after"), selector, 1)
            .await
            .unwrap_err(),
        producer.send_batch(vec![msg("after")]).await.unwrap_err(),
        producer
            .send_in_transaction(msg("after"))
            .await
            .unwrap_err(),
        producer
            .request(msg("after"), Duration::from_secs(1))
            .await
            .unwrap_err(),
        producer.fetch_publish_queues(TOPIC).await.unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), &ErrorKind::ShutDown, "{err:?}");
    }
    // Shutting a stopped producer down again is fine.
    within(LIMIT, "shutdown", producer.shutdown()).await?;
    assert_eq!(stored_bodies(&cluster), ["before"]);
    Ok(())
}

/// A plain tokio runtime has no actix System: start says so instead of panicking.
#[tokio::test]
async fn start_outside_an_actix_system_is_a_config_error() {
    assert!(actix_rt::System::try_current().is_none());
    let config = actix_rocketmq::ProducerConfig::builder("ext_no_system_group")
        .namesrv_addr("127.0.0.1:9876")
        .build()
        .unwrap();
    let err = actix_rocketmq::ProducerActor::start(config)
        .await
        .expect_err("no actix System runs here");
    assert!(
        matches!(err.kind(), ErrorKind::Config(m) if m.contains("actix System")),
        "{err:?}"
    );
}
