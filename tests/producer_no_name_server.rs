//! Java `testSendMessage_NoNameSrv`, alone in its test binary: it clears
//! `NAMESRV_ADDR` (which the CI rig exports) and the address-server variables,
//! and changing the environment is only sound while no other thread reads it.
//!
//! Java starts such a producer and fails each send with "no name server"; here
//! the start itself fails, with a `Config` error naming the address server it
//! asked (the default `jmenv.tbsite.net`) and why, within its 3 s timeout.

#[path = "support/producer.rs"]
mod support;

use std::time::{Duration, Instant};

use actix_rocketmq::{ErrorKind, ProducerActor, ProducerConfig};
use support::*;

/// No name server configured, none in the environment, none from the default
/// address server → the start fails with a `Config` error, within ~4 s.
#[actix_rt::test]
async fn test_start_with_no_name_srv_fails_with_a_config_error() {
    // SAFETY: the only test of this binary, run before it starts a producer:
    // no other thread reads or writes the environment meanwhile.
    unsafe {
        std::env::remove_var("NAMESRV_ADDR");
        std::env::remove_var("NAMESRV_DOMAIN");
        std::env::remove_var("NAMESRV_DOMAIN_SUBGROUP");
    }
    let cfg = ProducerConfig::builder("no_namesrv_group").build().unwrap();
    let started = Instant::now();
    let err = within(Duration::from_secs(6), "start", ProducerActor::start(cfg))
        .await
        .expect_err("no name server at all");
    let took = started.elapsed();
    assert!(
        took <= Duration::from_millis(4_000),
        "start took {took:?}, past the 3 s fetch timeout"
    );
    assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("http://jmenv.tbsite.net:8080/rocketmq/nsaddr"),
        "{text}"
    );
    assert!(text.contains("NAMESRV_ADDR"), "{text}");
}
