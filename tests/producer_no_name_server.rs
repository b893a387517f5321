//! Java `testSendMessage_NoNameSrv`, alone in its test binary: it clears
//! `NAMESRV_ADDR` (which the CI rig exports), and changing the environment is
//! only sound while no other thread reads it.

#[path = "support/producer.rs"]
mod support;

use std::time::Duration;

use actix_rocketmq::error::client_error_code;
use actix_rocketmq::internals::runtime::RouteError;
use actix_rocketmq::{ErrorKind, SendMessage};
use support::*;

/// No name server configured, none in the environment → NO_NAME_SERVER_EXCEPTION.
#[actix_rt::test]
async fn test_send_message_no_name_srv() {
    // SAFETY: the only test of this binary, run before it starts a producer:
    // no other thread reads or writes the environment meanwhile.
    unsafe { std::env::remove_var("NAMESRV_ADDR") };
    let producer = start(actix_rocketmq::ProducerConfig::builder("no_namesrv_group")).await;
    let err = within(
        Duration::from_secs(5),
        "send",
        producer.send(SendMessage::new(msg("x"))),
    )
    .await
    .unwrap()
    .expect_err("no name server");
    assert_eq!(err.kind(), &ErrorKind::Route(RouteError::NoNameServer));
    assert_eq!(
        err.client_error_code(),
        Some(client_error_code::NO_NAME_SERVER_EXCEPTION)
    );
}
