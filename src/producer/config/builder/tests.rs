use super::*;
use crate::error::ErrorKind;
use crate::protocol::compression::CompressionType;
use crate::protocol::validation::ValidationError;

#[test]
fn config_validation() {
    let err = |b: ProducerConfigBuilder| b.build().unwrap_err().into_kind();
    assert_eq!(
        err(ProducerConfig::builder("")),
        ErrorKind::Validation(ValidationError::GroupBlank)
    );
    assert!(matches!(
        err(ProducerConfig::builder("CLIENT_INNER_PRODUCER")),
        ErrorKind::Validation(ValidationError::GroupReserved { .. })
    ));
    // 118 chars + "ns%" is 121 once wrapped: too long, as in Java.
    assert!(ProducerConfig::builder("g".repeat(118)).build().is_ok());
    assert!(matches!(
        err(ProducerConfig::builder("g".repeat(118)).namespace("ns")),
        ErrorKind::Validation(ValidationError::GroupTooLong { len: 121, .. })
    ));
    let config_err = |b: ProducerConfigBuilder| matches!(err(b), ErrorKind::Config(_));
    assert!(config_err(
        ProducerConfig::builder("g").send_timeout(Duration::ZERO)
    ));
    assert!(config_err(
        ProducerConfig::builder("g").connect_timeout(Duration::ZERO)
    ));
    assert!(config_err(
        ProducerConfig::builder("g").send_msg_max_timeout_per_request(Duration::ZERO)
    ));
    assert!(config_err(ProducerConfig::builder("g").max_message_size(0)));
    assert!(config_err(ProducerConfig::builder("g").max_in_flight(0)));
    assert!(config_err(
        ProducerConfig::builder("g").max_in_flight_bytes(0)
    ));
    // Smaller than max_message_size is allowed: larger sends fail with back-pressure.
    assert!(
        ProducerConfig::builder("g")
            .max_in_flight_bytes(1024)
            .build()
            .is_ok()
    );
    assert!(config_err(
        ProducerConfig::builder("g").default_topic_queue_nums(0)
    ));
    assert!(config_err(ProducerConfig::builder("g").compress_level(10)));
    assert!(config_err(ProducerConfig::builder("g").instance_name(" ")));
    assert!(config_err(ProducerConfig::builder("g").namespace("a%b")));
    assert!(config_err(ProducerConfig::builder("g").namespace("a b")));
    assert!(config_err(
        ProducerConfig::builder("g").create_topic_key("")
    ));
    assert!(config_err(
        ProducerConfig::builder("g").namesrv_addr("a:1;b:notaport")
    ));
    assert!(config_err(ProducerConfig::builder("g").namesrv_addr(":1")));
}

#[test]
fn group_setters_match_the_java_named_setters() {
    let by_group = ProducerConfig::builder("g")
        .retry(RetryPolicy {
            retry_times_when_send_failed: 5,
            retry_times_when_send_async_failed: 1,
            retry_another_broker_when_not_store_ok: true,
            retry_response_codes: [2, 215].into(),
            send_msg_max_timeout_per_request: Some(Duration::from_millis(700)),
        })
        .limits(Limits {
            max_message_size: 1 << 20,
            max_in_flight: 7,
            max_in_flight_bytes: 1 << 21,
            compress_msg_body_over: 100,
            compress_level: 9,
            compress_type: CompressionType::Zstd,
        })
        .build()
        .unwrap();
    let by_name = ProducerConfig::builder("g")
        .retry_times_when_send_failed(5)
        .retry_times_when_send_async_failed(1)
        .retry_another_broker_when_not_store_ok(true)
        .retry_response_codes([2])
        .add_retry_response_code(215)
        .send_msg_max_timeout_per_request(Duration::from_millis(700))
        .max_message_size(1 << 20)
        .max_in_flight(7)
        .max_in_flight_bytes(1 << 21)
        .compress_msg_body_over(100)
        .compress_level(9)
        .compress_type(CompressionType::Zstd)
        .build()
        .unwrap();
    assert_eq!(by_group.retry(), by_name.retry());
    assert_eq!(by_group.limits(), by_name.limits());
    assert_eq!(by_name.max_in_flight(), 7);
    assert!(by_name.is_retry_response_code(215));
    // Group values are validated as the single settings are.
    let zero = Timers {
        heartbeat_broker_interval: Duration::ZERO,
        ..Timers::default()
    };
    assert!(ProducerConfig::builder("g").timers(zero).build().is_err());
    let level = Limits {
        compress_level: 10,
        ..Limits::default()
    };
    assert!(ProducerConfig::builder("g").limits(level).build().is_err());
}
