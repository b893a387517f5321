//! Typed headers and JSON bodies against real frames captured from rocketmq-client-rust
//! 1.0.0 and the RocketMQ-Rust 1.0.0 name server / broker (tests/data/README.md).
use std::collections::BTreeSet;

use actix_rocketmq::internals::protocol::command::ExtFields;
use actix_rocketmq::internals::protocol::headers::{
    CommandHeader, GetRouteInfoRequestHeader, SendMessageRequestHeader, SendMessageResponseHeader,
    UnregisterClientRequestHeader,
};
use actix_rocketmq::internals::protocol::heartbeat::HeartbeatData;
use actix_rocketmq::internals::protocol::route::{
    ClusterInfo, MessageQueue, TopicPublishInfo, TopicRouteData, clamp_default_route, perm,
};
use actix_rocketmq::testkit::headers::{PullMessageRequestHeader, PullMessageResponseHeader};
use proptest::prelude::*;
use serde_json::Value;

/// A golden frame cut by hand: (JSON header, body).
fn frame(name: &str) -> (Value, Vec<u8>) {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let len = u32::from_be_bytes(bytes[0..4].try_into().unwrap()) as usize;
    assert_eq!(len + 4, bytes.len(), "{name}: length prefix");
    let word = u32::from_be_bytes(bytes[4..8].try_into().unwrap());
    assert_eq!(word >> 24, 0, "{name}: expected a JSON header");
    let header_len = (word & 0x00ff_ffff) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    (header, bytes[8 + header_len..].to_vec())
}

fn ext_fields(header: &Value) -> ExtFields {
    match &header["extFields"] {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_owned()))
            .collect(),
        Value::Null => ExtFields::new(),
        other => panic!("extFields: {other}"),
    }
}

fn pairs(f: &ExtFields) -> BTreeSet<(String, String)> {
    f.iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn route_response_decodes() {
    let (header, body) = frame("namesrv-get-route-response.bin");
    assert_eq!(header["code"], 0);
    let route = TopicRouteData::decode(&body).unwrap();
    assert_eq!(route.order_topic_conf, None);
    assert_eq!(route.queue_datas.len(), 1);
    let q = &route.queue_datas[0];
    assert_eq!(q.broker_name, "broker-a");
    assert_eq!((q.read_queue_nums, q.write_queue_nums), (4, 4));
    assert_eq!(q.perm, perm::READ | perm::WRITE);
    assert_eq!(q.topic_sys_flag, 0);
    assert_eq!(route.broker_datas.len(), 1);
    let b = &route.broker_datas[0];
    assert_eq!(b.cluster, "DefaultCluster");
    assert_eq!(b.zone_name, None);
    assert_eq!(b.enable_acting_master, Some(false));
    assert_eq!(route.master_addr("broker-a"), Some("127.0.0.1:32645"));

    let info = TopicPublishInfo::from_route("WireSync", &route);
    assert!(!info.order_topic);
    assert_eq!(
        info.queues,
        (0..4)
            .map(|i| MessageQueue::new("WireSync", "broker-a", i))
            .collect::<Vec<_>>()
    );

    // Our standard-JSON encoding decodes to an equal route.
    assert_eq!(TopicRouteData::decode(&route.encode()).unwrap(), route);
}

#[test]
fn route_request_decodes_and_reencodes() {
    let (header, _) = frame("mx-get-route-request.bin");
    let f = ext_fields(&header);
    let h = GetRouteInfoRequestHeader::from_ext_fields(&f).unwrap();
    assert_eq!(h, GetRouteInfoRequestHeader::new("WireSync"));
    assert_eq!(pairs(&h.to_ext_fields()), pairs(&f));
    assert_eq!(
        h.into_request().code,
        header["code"].as_i64().unwrap() as i32
    );
}

#[test]
fn tbw102_route_clamps_to_four_queues() {
    let (_, body) = frame("namesrv-route-tbw102-response.bin");
    let route = TopicRouteData::decode(&body).unwrap();
    assert_eq!(route.queue_datas[0].perm, 7);
    assert_eq!(route.queue_datas[0].write_queue_nums, 8);
    let clamped = clamp_default_route(route.clone(), 4);
    assert_eq!(clamped.queue_datas[0].read_queue_nums, 4);
    assert_eq!(clamped.queue_datas[0].write_queue_nums, 4);
    assert_ne!(clamped, route);
    assert_eq!(
        TopicPublishInfo::from_route("NewTopic", &clamped)
            .queues
            .len(),
        4
    );
}

#[test]
fn cluster_info_decodes_real_and_unquoted_forms() {
    let (_, body) = frame("namesrv-cluster-info-response.bin");
    let ci = ClusterInfo::decode(&body).unwrap();
    assert_eq!(
        ci.broker_addr_table["broker-a"].master_addr(),
        Some("127.0.0.1:32645")
    );
    assert!(ci.cluster_addr_table["DefaultCluster"].contains("broker-a"));

    // The Java name server's fastjson form of the same body: unquoted broker ids.
    let text = String::from_utf8(body).unwrap();
    let unquoted = text.replace(r#"{"0":"#, "{0:");
    assert_ne!(unquoted, text);
    assert_eq!(ClusterInfo::decode(unquoted.as_bytes()).unwrap(), ci);
}

#[test]
fn send_v2_request_decodes_and_reencodes() {
    let (header, body) = frame("mx-send-v2-request-1k.bin");
    assert_eq!(header["code"], 310);
    assert_eq!(body.len(), 1024);
    let f = ext_fields(&header);
    let h = SendMessageRequestHeader::from_ext_fields(&f).unwrap();
    assert_eq!(h.producer_group, "rmq_client_test_group");
    assert_eq!(h.topic, "WireSync");
    assert_eq!(h.default_topic, "TBW102");
    assert_eq!(h.default_topic_queue_nums, 4);
    assert_eq!(h.queue_id, 0);
    assert_eq!(h.sys_flag, 0);
    assert_eq!(h.born_timestamp, 1_795_307_842_838);
    assert_eq!(h.flag, 0);
    assert_eq!(h.reconsume_times, Some(0));
    assert!(!h.unit_mode);
    assert!(!h.batch);
    assert_eq!(h.max_reconsume_times, None);
    assert_eq!(h.broker_name.as_deref(), Some("broker-a"));
    let props = h.properties.as_deref().unwrap();
    assert!(props.contains("UNIQ_KEY\u{1}C00002022434AC4C820C6C47C5160000\u{2}"));
    // Same key/value pairs, `bname` and `n` included.
    assert_eq!(pairs(&h.to_ext_fields_v2()), pairs(&f));
}

#[test]
fn send_v1_request_decodes_and_reencodes() {
    let (header, _) = frame("mx-send-request-1k.bin");
    assert_eq!(header["code"], 10);
    let f = ext_fields(&header);
    let h = SendMessageRequestHeader::from_ext_fields(&f).unwrap();
    assert_eq!(h.producer_group, "rmq_client_test_group");
    assert_eq!(h.topic, "WireSync");
    assert_eq!(h.queue_id, 3);
    assert_eq!(h.born_timestamp, 1_795_307_821_617);
    assert_eq!(h.broker_name.as_deref(), Some("broker-a"));
    assert!(!h.batch);
    assert_eq!(pairs(&h.to_ext_fields_v1()), pairs(&f));
    assert_eq!(pairs(&h.to_ext_fields()), pairs(&f));
}

#[test]
fn batch_and_ali_ons_send_headers() {
    let (header, _) = frame("mx-send-batch-request.bin");
    let f = ext_fields(&header);
    let h = SendMessageRequestHeader::from_ext_fields(&f).unwrap();
    assert!(h.batch);
    assert_eq!(h.queue_id, 2);
    assert_eq!(pairs(&h.to_ext_fields_v2()), pairs(&f));

    // ali-ons sends a..k only: optional V2 fields are absent, not errors.
    let (header, _) = frame("alions-send-v2-request-patched.bin");
    let h = SendMessageRequestHeader::from_ext_fields(&ext_fields(&header)).unwrap();
    assert_eq!(h.producer_group, "ALIONS_VERIFY_PRODUCER");
    assert_eq!(h.topic, "WireAlions");
    assert_eq!(h.queue_id, 3);
    assert_eq!(h.broker_name, None);
    assert!(!h.batch);
}

#[test]
fn send_responses_decode() {
    let (header, _) = frame("broker-send-v2-response.bin");
    let h = SendMessageResponseHeader::from_ext_fields(&ext_fields(&header)).unwrap();
    assert_eq!(h.msg_id, "7F00000100007F8500000000000009DE");
    assert_eq!(h.queue_id, 0);
    assert_eq!(h.queue_offset, 0);
    assert_eq!(
        h.transaction_id.as_deref(),
        Some("C00002022434AC4C820C6C47C5160000")
    );
    assert_eq!(h.batch_uniq_id, None);
    assert_eq!(h.recall_handle, None);
    assert_eq!(h.region.as_deref(), Some("DefaultRegion"));
    assert_eq!(h.trace_on, Some(true));
    assert_eq!(pairs(&h.to_ext_fields()), pairs(&ext_fields(&header)));

    let (header, _) = frame("broker-send-batch-response.bin");
    let h = SendMessageResponseHeader::from_ext_fields(&ext_fields(&header)).unwrap();
    assert_eq!(h.msg_id.split(',').count(), 4);
    assert_eq!((h.queue_id, h.queue_offset), (2, 2));
}

#[test]
fn unregister_request_decodes_and_reencodes() {
    let (header, _) = frame("mx-unregister-request.bin");
    assert_eq!(header["code"], 35);
    let f = ext_fields(&header);
    let h = UnregisterClientRequestHeader::from_ext_fields(&f).unwrap();
    assert_eq!(h.client_id, "192.0.2.2@9059#1795307821612423727");
    assert_eq!(h.producer_group.as_deref(), Some("rmq_client_test_group"));
    assert_eq!(h.consumer_group, None);
    assert_eq!(pairs(&h.to_ext_fields()), pairs(&f));
    let cmd = h.into_request();
    assert_eq!(cmd.code, 35);
}

#[test]
fn pull_headers_decode() {
    let (header, _) = frame("alions-pull-request-patched.bin");
    let f = ext_fields(&header);
    let h = PullMessageRequestHeader::from_ext_fields(&f).unwrap();
    assert_eq!(h.consumer_group, "WIRE_ALIONS_G");
    assert_eq!(h.topic, "WireAlions");
    assert_eq!((h.queue_id, h.queue_offset, h.max_msg_nums), (0, 0, 32));
    assert_eq!(h.sys_flag, 2);
    assert_eq!(h.suspend_timeout_millis, 2000);
    assert_eq!(h.subscription, None);
    assert_eq!(h.sub_version, 1_795_307_887_569);
    assert_eq!(h.expression_type.as_deref(), Some("TAG"));
    assert_eq!(pairs(&h.to_ext_fields()), pairs(&f));

    let (header, _) = frame("broker-pull-found-response.bin");
    let f = ext_fields(&header);
    let h = PullMessageResponseHeader::from_ext_fields(&f).unwrap();
    assert_eq!(h.suggest_which_broker_id, 0);
    assert_eq!((h.next_begin_offset, h.min_offset, h.max_offset), (2, 0, 2));
    assert_eq!(pairs(&h.to_ext_fields()), pairs(&f));
}

#[test]
fn heartbeat_body_matches_real_client() {
    let (header, body) = frame("mx-heartbeat-request.bin");
    assert_eq!(header["code"], 34);
    assert_eq!(header["extFields"], serde_json::json!({}));
    let hb = HeartbeatData::decode(&body).unwrap();
    assert_eq!(hb.client_id, "192.0.2.2@9059#1795307821612423727");
    let groups: Vec<&str> = hb
        .producer_data_set
        .iter()
        .map(|p| p.group_name.as_str())
        .collect();
    assert_eq!(groups, ["rmq_client_test_group", "CLIENT_INNER_PRODUCER"]);
    assert!(hb.consumer_data_set.is_empty());
    assert_eq!(hb.heartbeat_fingerprint, 0);
    assert!(!hb.without_sub);

    // Re-encoding the same data gives the same JSON value, hence the same keys.
    let real: Value = serde_json::from_slice(&body).unwrap();
    let ours: Value = serde_json::from_slice(&hb.encode()).unwrap();
    assert_eq!(ours, real);

    // A producer-only heartbeat we build has every key the broker requires.
    let built = HeartbeatData::producer("192.0.2.2@1#2", ["g"]);
    let built: Value = serde_json::from_slice(&built.encode()).unwrap();
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&built), keys(&real));
    assert_eq!(
        keys(&built["producerDataSet"][0]),
        keys(&real["producerDataSet"][0])
    );
    let req = HeartbeatData::decode(&body).unwrap().to_request();
    assert_eq!(req.ext_fields, Some(ExtFields::new()));
}

fn arb_send_header() -> impl Strategy<Value = SendMessageRequestHeader> {
    let text = ".{0,24}";
    (
        (text, text, text, any::<i32>(), any::<i32>(), any::<i32>()),
        (
            any::<i64>(),
            any::<i32>(),
            proptest::option::of(".{0,64}"),
            proptest::option::of(any::<i32>()),
            any::<bool>(),
        ),
        (
            proptest::option::of(any::<i32>()),
            any::<bool>(),
            proptest::option::of(text),
        ),
    )
        .prop_map(
            |(
                (
                    producer_group,
                    topic,
                    default_topic,
                    default_topic_queue_nums,
                    queue_id,
                    sys_flag,
                ),
                (born_timestamp, flag, properties, reconsume_times, unit_mode),
                (max_reconsume_times, batch, broker_name),
            )| SendMessageRequestHeader {
                producer_group,
                topic,
                default_topic,
                default_topic_queue_nums,
                queue_id,
                sys_flag,
                born_timestamp,
                flag,
                properties,
                reconsume_times,
                unit_mode,
                max_reconsume_times,
                batch,
                broker_name,
            },
        )
}

proptest! {
    #[test]
    fn send_header_v1_round_trip(h in arb_send_header()) {
        let back = SendMessageRequestHeader::from_ext_fields(&h.to_ext_fields_v1()).unwrap();
        prop_assert_eq!(back, h);
    }

    #[test]
    fn send_header_v2_round_trip(h in arb_send_header()) {
        let back = SendMessageRequestHeader::from_ext_fields(&h.to_ext_fields_v2()).unwrap();
        prop_assert_eq!(back, h);
    }

    #[test]
    fn route_decode_never_panics(s in r#"[{}\[\]:,"0-9 \\a-]{0,80}|.{0,80}"#) {
        let _ = TopicRouteData::decode(s.as_bytes());
        let _ = ClusterInfo::decode(s.as_bytes());
        let _ = HeartbeatData::decode(s.as_bytes());
    }
}
