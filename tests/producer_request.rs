//! Request–reply against the test broker: a request answered by a replier's
//! reply (pushed by the broker to the requester), a request nobody answers,
//! a request that cannot be sent, and a reply for a requester that is gone.

#[path = "support/producer.rs"]
mod support;

use std::time::{Duration, Instant};

use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
use actix_rocketmq::internals::protocol::message::{REPLY_MESSAGE_TYPE, property};
use actix_rocketmq::testkit::{BrokerMessage, TestCluster};
use actix_rocketmq::{ErrorKind, Message, ProducerActor, SendMessage, SendRequest};
use support::*;

const LIMIT: Duration = Duration::from_secs(5);
const REPLY_TOPIC: &str = "DefaultCluster_REPLY_TOPIC";

async fn cluster() -> TestCluster {
    TestCluster::builder()
        .broker("broker-a")
        .topic(TOPIC, 4)
        .topic(REPLY_TOPIC, 1)
        .start()
        .await
        .expect("test cluster starts")
}

/// The reply a consumer of `request` would build. The test broker does not add
/// `CLUSTER` to stored messages as a real one does: the test adds it here.
fn reply_for(request: &BrokerMessage, body: &str) -> Message {
    let props = request
        .properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain([(property::CLUSTER, "DefaultCluster")]);
    Message::reply_to(props, body.to_owned()).expect("a request has what a reply needs")
}

#[actix_rt::test]
async fn a_request_gets_the_reply_the_broker_pushes() {
    let cluster = cluster().await;
    let requester_cfg = config("request_group", &cluster).build().unwrap();
    let requester_id = requester_cfg.client_id();
    let requester = ProducerActor::start(requester_cfg).await.unwrap();
    let replier = start(config("replier_group", &cluster)).await;

    let pending = requester.send(SendRequest::new(msg("ping")).with_timeout(LIMIT));
    let request = within(LIMIT, "the request is stored", async {
        loop {
            if let Some(m) = cluster.messages(TOPIC).into_iter().next() {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    // Both at once: the request's reply waits for the replier.
    let replier_side = async {
        let request = request.await;
        let reply = reply_for(&request, "pong");
        assert_eq!(reply.topic, REPLY_TOPIC);
        let sent = replier.send(SendMessage::new(reply)).await.unwrap();
        assert!(sent.is_ok(), "{sent:?}");
        request
    };
    let (reply, request) = within(LIMIT, "request and reply", async {
        tokio::join!(pending, replier_side)
    })
    .await;
    let reply = reply.expect("mailbox").expect("the reply");
    assert_eq!(reply.body, "pong");
    assert_eq!(reply.topic, REPLY_TOPIC);
    assert_eq!(reply.property(property::MSG_TYPE), Some(REPLY_MESSAGE_TYPE));
    assert_eq!(
        reply.property(property::CORRELATION_ID),
        request.property(property::CORRELATION_ID)
    );
    assert!(reply.property(property::ARRIVE_TIME).is_some());
    assert!(reply.property(property::PUSH_REPLY_TIME).is_some());
    // The request named this client and the timeout; the reply went with code 325.
    assert_eq!(
        request.property(property::REPLY_TO_CLIENT),
        Some(requester_id.as_str())
    );
    assert_eq!(request.property(property::TTL), Some("5000"));
    let broker = cluster.broker("broker-a");
    assert_eq!(
        broker
            .received_with_code(request_code::SEND_REPLY_MESSAGE_V2)
            .len(),
        1
    );
    // Ordinary sends of the replier still go as SEND_MESSAGE_V2.
    let ok = replier.send(SendMessage::new(msg("plain"))).await.unwrap();
    assert!(ok.is_ok());
    assert_eq!(
        broker
            .received_with_code(request_code::SEND_REPLY_MESSAGE_V2)
            .len(),
        1
    );
}

#[actix_rt::test]
async fn a_request_nobody_answers_times_out_at_its_deadline() {
    let cluster = cluster().await;
    let requester = start(config("lonely_request_group", &cluster)).await;
    let started = Instant::now();
    let timeout = Duration::from_millis(300);
    let err = within(
        LIMIT,
        "request",
        requester.send(SendRequest::new(msg("anyone?")).with_timeout(timeout)),
    )
    .await
    .unwrap()
    .expect_err("no reply");
    let waited = started.elapsed();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
    assert!(waited >= timeout, "answered after {waited:?}");
    assert!(waited < timeout + Duration::from_secs(1), "{waited:?}");
    // The request itself was stored.
    assert_eq!(cluster.messages(TOPIC).len(), 1);
}

#[actix_rt::test]
async fn a_request_that_cannot_be_sent_fails_at_once() {
    let cluster = cluster().await;
    let requester = start(config("no_route_request_group", &cluster)).await;
    let started = Instant::now();
    let err = within(
        LIMIT,
        "request",
        requester.send(SendRequest::new(Message::new("NoSuchTopic", "x")).with_timeout(LIMIT)),
    )
    .await
    .unwrap()
    .expect_err("no route");
    assert!(matches!(err.kind(), ErrorKind::Route(_)), "{err:?}");
    assert!(
        started.elapsed() < LIMIT / 2,
        "failed only after {:?}",
        started.elapsed()
    );
}

#[actix_rt::test]
async fn a_reply_for_a_requester_that_is_gone_is_refused() {
    let cluster = cluster().await;
    let replier = start(config("orphan_replier_group", &cluster)).await;
    let reply = Message::reply_to(
        [
            (property::CLUSTER, "DefaultCluster"),
            (property::CORRELATION_ID, "c-1"),
            (property::REPLY_TO_CLIENT, "127.0.0.1@gone"),
        ],
        "late",
    )
    .unwrap();
    let err = within(LIMIT, "reply", replier.send(SendMessage::new(reply)))
        .await
        .unwrap()
        .expect_err("no channel for that client");
    assert_eq!(err.response_code(), Some(response_code::SYSTEM_ERROR));
}

/// The request's timeout bounds its send, not the producer's send timeout: a
/// broker slower than the send timeout still stores a request whose own timeout
/// allows it (Java `request(msg, timeout)` sends within that timeout).
#[actix_rt::test]
async fn a_request_sends_within_its_own_timeout() {
    use actix_rocketmq::testkit::Fault;
    let cluster = cluster().await;
    cluster.broker("broker-a").inject(
        Fault::delay(Duration::from_millis(500))
            .on_sends()
            .forever(),
    );
    let requester = start(
        config("slow_broker_request_group", &cluster).send_timeout(Duration::from_millis(200)),
    )
    .await;
    let started = Instant::now();
    let err = within(
        LIMIT,
        "request",
        requester.send(SendRequest::new(msg("slow")).with_timeout(Duration::from_millis(1500))),
    )
    .await
    .unwrap()
    .expect_err("nobody replies");
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
    // Stored after 500 ms, then waited for a reply until its own deadline.
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(cluster.messages(TOPIC).len(), 1);
}
