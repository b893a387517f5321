use super::*;

#[test]
fn config_defaults_match_java() {
    let c = ProducerConfig::builder("g").build().unwrap();
    assert_eq!(c.producer_group(), "g");
    assert!(c.namesrv_addrs().is_empty());
    assert_eq!(c.send_timeout(), Duration::from_millis(3000));
    assert_eq!(c.compress_msg_body_over(), 4096);
    assert_eq!(c.compress_level(), 5);
    assert_eq!(c.retry_times_when_send_failed(), 2);
    assert_eq!(c.retry_times_when_send_async_failed(), 2);
    assert!(!c.retry_another_broker_when_not_store_ok());
    assert_eq!(c.max_message_size(), 4_194_304);
    assert_eq!(c.default_topic_queue_nums(), 4);
    assert_eq!(c.create_topic_key(), "TBW102");
    assert!(!c.send_latency_fault_enable());
    assert!(!c.vip_channel_enabled());
    assert_eq!(c.send_msg_max_timeout_per_request(), None);
    // Java backPressureForAsyncSendNum / backPressureForAsyncSendSize.
    assert_eq!(c.max_in_flight(), 10_000);
    assert_eq!(c.max_in_flight_bytes(), 100 * 1024 * 1024);
    assert_eq!(
        c.retry_response_codes().iter().copied().collect::<Vec<_>>(),
        vec![1, 2, 14, 16, 17, 204, 205, 1500]
    );
    assert_eq!(c.serialize_type(), SerializeType::RocketMq);
    assert_eq!(c.poll_name_server_interval(), Duration::from_secs(30));
    assert_eq!(c.heartbeat_broker_interval(), Duration::from_secs(30));
    assert_eq!(c.mq_client_api_timeout(), Duration::from_secs(3));
    assert_eq!(c.connect_timeout(), Duration::from_secs(3));
    assert_eq!(c.namespace(), None);
    assert_eq!(c.unit_name(), None);
    assert!(format!("{c:?}").contains("producer_group: \"g\""));
}

#[test]
fn groups_and_runtime_parts_carry_the_settings() {
    let timers = Timers {
        send_timeout: Duration::from_millis(1100),
        poll_name_server_interval: Duration::from_secs(11),
        heartbeat_broker_interval: Duration::from_secs(12),
        mq_client_api_timeout: Duration::from_millis(1300),
        connect_timeout: Duration::from_millis(1400),
    };
    let c = ProducerConfig::builder("g")
        .namesrv_addr("a:1")
        .instance_name("i")
        .client_ip("10.0.0.1".parse().unwrap())
        .timers(timers)
        .create_topic_key("AUTO")
        .default_topic_queue_nums(8)
        .connection_arbiter(true)
        .acl_credentials(AclCredentials::new("ak", "sk"))
        .build()
        .unwrap();
    assert_eq!(c.timers(), timers);
    let i = &c.instance;
    assert_eq!(i.client_id, "10.0.0.1@i");
    assert_eq!(i.route.namesrv_addrs, ["a:1"]);
    assert_eq!(i.route.poll_interval, Duration::from_secs(11));
    assert_eq!(i.route.default_topic, "AUTO");
    assert_eq!(i.route.default_topic_queue_nums, 8);
    assert_eq!(i.heartbeat_interval, Duration::from_secs(12));
    assert!(i.connection_arbiter);
    // The route manager's name-server requests use the instance's timeout and connection settings.
    for (api_timeout, conn) in [
        (i.api_timeout, &i.connection),
        (i.route.api_timeout, &i.route.connection),
    ] {
        assert_eq!(api_timeout, Duration::from_millis(1300));
        assert_eq!(conn.connect_timeout, Duration::from_millis(1400));
        assert_eq!(conn.acl.as_ref().map(|a| a.access_key()), Some("ak"));
    }
    // The settings the producer does not own keep the runtime's defaults.
    let d = crate::runtime::ConnectionConfig::default();
    assert_eq!(i.connection.max_frame_len, d.max_frame_len);
    assert_eq!(i.connection.dead_peer_timeout, d.dead_peer_timeout);

    let d = ProducerConfig::builder("g").build().unwrap();
    assert_eq!(d.retry(), &RetryPolicy::default());
    assert_eq!(d.limits(), Limits::default());
    assert_eq!(d.timers(), Timers::default());
    assert_eq!(d.instance.client_id, d.client_id());
}
