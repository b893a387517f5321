//! TLS against the test cluster speaking TLS only (certificates made by
//! `rcgen` per test): a TLS producer is served by the name server and the
//! broker alike; a certificate for another name is refused unless the client
//! checks that name; a plain client gets a clear error, not a hang.

#[path = "support/producer.rs"]
mod support;
#[path = "support/tls.rs"]
mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_rocketmq::internals::runtime::tls::rustls::ServerConfig;
use actix_rocketmq::testkit::TestCluster;
use actix_rocketmq::{ErrorKind, SendMessage, TlsConfig};
use support::*;
use tls::{server, trusting};

const LIMIT: Duration = Duration::from_secs(5);

async fn tls_cluster(config: Arc<ServerConfig>) -> TestCluster {
    TestCluster::builder()
        .broker("broker-a")
        .topic(TOPIC, 4)
        .tls(config)
        .start()
        .await
        .expect("test cluster starts")
}

#[actix_rt::test]
async fn a_tls_producer_is_served_by_a_tls_cluster() {
    let (cert, config) = server(&["127.0.0.1"]);
    let cluster = tls_cluster(config).await;
    let producer = start(config_tls("tls_group", &cluster, trusting(&cert))).await;
    for i in 0..20 {
        let res = within(
            LIMIT,
            "send",
            producer.send(SendMessage::new(msg(format!("tls {i}")))),
        )
        .await
        .unwrap();
        assert!(res.is_ok(), "{res:?}");
    }
    assert_eq!(cluster.messages(TOPIC).len(), 20);
    assert!(
        eventually(LIMIT, || cluster.broker("broker-a").heartbeats() > 0).await,
        "heartbeats go over TLS too"
    );
}

#[actix_rt::test]
async fn a_certificate_is_checked_against_the_name_the_client_expects() {
    let (cert, config) = server(&["broker.test"]);
    let cluster = tls_cluster(config).await;
    // The address is 127.0.0.1, the certificate names broker.test: refused.
    let wrong = start(config_tls(
        "tls_wrong_name_group",
        &cluster,
        trusting(&cert),
    ))
    .await;
    let started = Instant::now();
    let err = within(LIMIT, "send", wrong.send(SendMessage::new(msg("x"))))
        .await
        .unwrap()
        .expect_err("the certificate does not name 127.0.0.1");
    assert!(matches!(err.kind(), ErrorKind::Route(_)), "{err:?}");
    assert!(
        err.to_string().contains("TLS"),
        "the error says what failed: {err}"
    );
    assert!(started.elapsed() < LIMIT);
    // Checking the name the certificate carries: served.
    let named = trusting(&cert).server_name("broker.test").unwrap();
    let right = start(config_tls("tls_named_group", &cluster, named)).await;
    let res = within(LIMIT, "send", right.send(SendMessage::new(msg("y"))))
        .await
        .unwrap();
    assert!(res.is_ok(), "{res:?}");
}

#[actix_rt::test]
async fn a_plain_client_gets_a_clear_error_from_a_tls_cluster() {
    let (_, server_config) = server(&["127.0.0.1"]);
    let cluster = tls_cluster(server_config).await;
    let plain = start(config("plain_vs_tls_group", &cluster)).await;
    let err = within(LIMIT, "send", plain.send(SendMessage::new(msg("x"))))
        .await
        .unwrap()
        .expect_err("the servers speak TLS only");
    assert!(matches!(err.kind(), ErrorKind::Route(_)), "{err:?}");
}

fn config_tls(
    group: &str,
    cluster: &TestCluster,
    tls: TlsConfig,
) -> actix_rocketmq::ProducerConfigBuilder {
    config(group, cluster).tls(tls)
}
