//! TLS against the REAL broker. The rig's broker speaks plain TCP only, so this
//! puts a TLS-terminating proxy in front of it, as a TLS deployment would: the
//! broker listens on 127.0.0.2 and advertises 127.0.0.1, where the proxy takes
//! TLS on the same port; a second proxy fronts the name server. A TLS producer
//! sends through them and the messages are read back (over TLS too); a plain
//! producer pointed at them gets a clear error.
//!
//! Ignored by a plain `cargo test`; `scripts/test.sh` runs it.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/readback.rs"]
mod readback;
#[path = "support/rig.rs"]
mod rig;
#[path = "support/tls.rs"]
mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use actix_rocketmq::internals::runtime::ConnectionConfig;
use actix_rocketmq::{ErrorKind, Message, ProducerActor, ProducerConfig, SendMessage, Shutdown};
use e2e::within;
use readback::{ReadBack, assert_at_result, assert_same_message, unique};
use rig::Rig;

const STEP: Duration = Duration::from_secs(20);

#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn tls_sends_through_a_proxy_reach_the_real_broker() {
    let rig = tokio::task::spawn_blocking(|| {
        Rig::start_private_with(1, |_| vec![("RMQ_RIG_BROKER_BIND", "127.0.0.2".into())])
    })
    .await
    .expect("rig start task");
    let advertised: SocketAddr = rig.broker_addr("broker-a").parse().unwrap();
    let bound = SocketAddr::from(([127, 0, 0, 2], advertised.port()));
    let namesrv: SocketAddr = rig.namesrv_addr().parse().unwrap();
    let (cert, server) = tls::server(&["127.0.0.1"]);
    tls::tls_proxy(advertised, bound, server.clone()).await;
    let namesrv_tls = tls::tls_proxy("127.0.0.1:0".parse().unwrap(), namesrv, server).await;

    // The topic, made and looked up over plain admin connections (behind the proxies).
    let plain = ReadBack::new();
    let topic = unique("E2E_tls");
    within(
        STEP,
        "create topic",
        plain.create_topic(&[&bound.to_string()], &topic, 4),
    )
    .await;
    plain
        .wait_route(rig.namesrv_addr(), &topic, &["broker-a"], STEP)
        .await;

    let config = |tls: bool| {
        let mut b = ProducerConfig::builder(unique("e2e_tls_group"))
            .namesrv_addr(&namesrv_tls.to_string())
            .instance_name(unique("e2e_tls"))
            .send_timeout(Duration::from_secs(5));
        if tls {
            b = b.tls(tls::trusting(&cert));
        }
        b.build().unwrap()
    };
    let producer = within(STEP, "start", ProducerActor::start(config(true)))
        .await
        .unwrap();
    let over_tls = ReadBack::with_config(ConnectionConfig {
        tls: Some(tls::trusting(&cert)),
        ..ConnectionConfig::default()
    });
    for i in 0..5 {
        let msg =
            Message::new(topic.as_str(), format!("over TLS {i}")).with_keys(format!("tls-{i}"));
        let result = within(STEP, "send", producer.send(SendMessage::new(msg.clone())))
            .await
            .expect("producer alive")
            .unwrap_or_else(|e| panic!("send over TLS failed: {e}"));
        // The offset id names the advertised address: the read goes through the proxy.
        let (stored, _) = within(STEP, "view", over_tls.view(&result.offset_msg_id))
            .await
            .expect("read back over TLS");
        assert_same_message(&stored, &msg, &result.msg_id, "sent over TLS");
        assert_at_result(&stored, &result, "sent over TLS");
    }
    let _ = within(STEP, "shutdown", producer.send(Shutdown)).await;

    let plain_producer = within(STEP, "start", ProducerActor::start(config(false)))
        .await
        .unwrap();
    let err = within(
        STEP,
        "plain send",
        plain_producer.send(SendMessage::new(Message::new(topic.as_str(), "plain"))),
    )
    .await
    .expect("producer alive")
    .expect_err("the proxies speak TLS only");
    assert!(matches!(err.kind(), ErrorKind::Route(_)), "{err:?}");
    let _ = within(STEP, "shutdown", plain_producer.send(Shutdown)).await;
}
