//! TLS against the test cluster speaking TLS only (certificates made by
//! `rcgen` per test): a TLS producer is served by the name server and the
//! broker alike; a certificate for another name is refused unless the client
//! checks that name; a plain client gets a clear error, not a hang.

#[path = "support/producer.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_rocketmq::runtime::tls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer,
};
use actix_rocketmq::runtime::tls::rustls::{RootCertStore, ServerConfig, crypto};
use actix_rocketmq::testkit::TestCluster;
use actix_rocketmq::{ErrorKind, SendMessage, TlsConfig};
use support::*;

const LIMIT: Duration = Duration::from_secs(5);

/// A self-signed certificate for `names` and the server config that presents it.
fn server(names: &[&str]) -> (CertificateDer<'static>, Arc<ServerConfig>) {
    let certified =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("certificate");
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server config");
    (cert, Arc::new(config))
}

fn trusting(cert: &CertificateDer<'static>) -> TlsConfig {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    TlsConfig::with_roots(roots)
}

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
