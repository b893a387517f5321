use super::*;

fn qd(name: &str, n: i32, perm: i32) -> QueueData {
    QueueData {
        broker_name: name.into(),
        read_queue_nums: n,
        write_queue_nums: n,
        perm,
        topic_sys_flag: 0,
    }
}

fn bd(name: &str, addrs: &[(u64, &str)]) -> BrokerData {
    BrokerData {
        cluster: "C".into(),
        broker_name: name.into(),
        broker_addrs: addrs.iter().map(|(i, a)| (*i, a.to_string())).collect(),
        zone_name: None,
        enable_acting_master: None,
    }
}

fn q(s: &str) -> String {
    String::from_utf8(quote_integer_keys(s.as_bytes()).into_owned()).unwrap()
}

#[test]
fn quotes_bare_integer_keys_only() {
    assert_eq!(
        q(r#"{"brokerAddrs":{0:"1.2.3.4:10911"}}"#),
        r#"{"brokerAddrs":{"0":"1.2.3.4:10911"}}"#
    );
    assert_eq!(
        q("{\"a\":{ 0 : \"x\",\n 12\t:\"y\",-1:\"z\"}}"),
        "{\"a\":{ \"0\" : \"x\",\n \"12\"\t:\"y\",\"-1\":\"z\"}}"
    );
    // Digits inside strings (including ones followed by ':') and values stay untouched.
    let s = r#"{"k":"10.0.0.5:10911","m":"{0:1,2:3}","n":[1,2],"o":5,"p":"\"7:"}"#;
    assert!(matches!(quote_integer_keys(s.as_bytes()), Cow::Borrowed(_)));
    // Already quoted keys are left alone.
    let s = r#"{"brokerAddrs":{"0":"a","1":"b"}}"#;
    assert!(matches!(quote_integer_keys(s.as_bytes()), Cow::Borrowed(_)));
    // Garbage does not panic.
    for s in [
        "{", "{0", "{0 ", "{-", "{-:", ",9", "\"", "\"\\", "{0:", "{12",
    ] {
        let _ = quote_integer_keys(s.as_bytes());
    }
    assert_eq!(q("{0:1"), "{\"0\":1");
    assert_eq!(q("{-:1}"), "{-:1}");
}

#[test]
fn decodes_unquoted_route_and_cluster_info() {
    let body = br#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.5:10911",1:"10.0.0.6:10911"},"brokerName":"broker-b","cluster":"DefaultCluster"},{"brokerAddrs":{0:"10.0.0.7:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","zoneName":"z","enableActingMaster":true,"extra":{1:2}}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-b","perm":6,"readQueueNums":4,"topicSynFlag":3,"writeQueueNums":4},{"brokerName":"broker-a","perm":6,"readQueueNums":2,"writeQueueNums":2}]}"#;
    let r = TopicRouteData::decode(body).unwrap();
    assert_eq!(r.broker_datas[0].broker_name, "broker-a");
    assert_eq!(r.broker_datas[0].zone_name.as_deref(), Some("z"));
    assert_eq!(r.broker_datas[0].enable_acting_master, Some(true));
    assert_eq!(r.queue_datas[1].topic_sys_flag, 3);
    assert_eq!(r.queue_datas[0].topic_sys_flag, 0);
    assert_eq!(r.master_addr("broker-b"), Some("10.0.0.5:10911"));
    assert_eq!(
        r.broker_datas[1].broker_addrs.get(&1).map(String::as_str),
        Some("10.0.0.6:10911")
    );
    // encode gives standard JSON that decodes to the same route.
    let again = TopicRouteData::decode(&r.encode()).unwrap();
    assert_eq!(again, r);
    let std: serde_json::Value = serde_json::from_slice(&r.encode()).unwrap();
    assert_eq!(std["brokerDatas"][0]["brokerAddrs"]["0"], "10.0.0.7:10911");

    let ci = br#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}"#;
    let c = ClusterInfo::decode(ci).unwrap();
    assert_eq!(
        c.broker_addr_table["broker-a"].master_addr(),
        Some("127.0.0.1:10911")
    );
    assert!(c.cluster_addr_table["DefaultCluster"].contains("broker-a"));
    assert_eq!(ClusterInfo::decode(&c.encode()).unwrap(), c);
}

#[test]
fn both_sys_flag_spellings_and_nulls() {
    let body = br#"{"orderTopicConf":null,"queueDatas":[{"brokerName":"b","perm":6,"readQueueNums":1,"writeQueueNums":1,"topicSysFlag":5,"topicSynFlag":5}],"brokerDatas":null,"filterServerTable":null,"topicQueueMappingInfo":null}"#;
    let r = TopicRouteData::decode(body).unwrap();
    assert_eq!(r.queue_datas[0].topic_sys_flag, 5);
    assert!(r.broker_datas.is_empty());
}

#[test]
fn malformed_bodies_are_errors() {
    for b in [
        &b""[..],
        b"{",
        b"[]",
        b"{\"queueDatas\":[{}]}",
        b"\xff\xfe",
        b"{0:}",
    ] {
        assert!(matches!(
            TopicRouteData::decode(b),
            Err(ProtocolError::MalformedBody {
                kind: "TopicRouteData",
                ..
            })
        ));
    }
    assert!(ClusterInfo::decode(b"{\"brokerAddrTable\":{\"a\":1}}").is_err());
}

#[test]
fn equality_ignores_order() {
    let a = TopicRouteData {
        queue_datas: vec![qd("a", 4, 6), qd("b", 4, 6)],
        broker_datas: vec![bd("a", &[(0, "x")]), bd("b", &[(0, "y")])],
        ..Default::default()
    };
    let mut b = a.clone();
    b.queue_datas.reverse();
    b.broker_datas.reverse();
    assert_eq!(a, b);
    b.queue_datas[0].write_queue_nums = 2;
    assert_ne!(a, b);
    let mut c = a.clone();
    c.broker_datas[1].broker_addrs.insert(0, "z".into());
    assert_ne!(a, c);
}

#[test]
fn publish_info_filters_perm_and_masterless() {
    let route = TopicRouteData {
        queue_datas: vec![
            qd("c", 2, perm::READ | perm::WRITE),
            qd("a", 2, perm::READ | perm::WRITE),
            qd("ro", 3, perm::READ),
            qd("slave-only", 3, perm::READ | perm::WRITE),
            qd("unknown", 3, perm::READ | perm::WRITE),
        ],
        broker_datas: vec![
            bd("a", &[(0, "a:1"), (1, "a:2")]),
            bd("c", &[(0, "c:1")]),
            bd("ro", &[(0, "ro:1")]),
            bd("slave-only", &[(1, "s:1")]),
        ],
        ..Default::default()
    };
    let info = TopicPublishInfo::from_route("T", &route);
    assert!(!info.order_topic);
    assert!(info.ok());
    assert_eq!(
        info.queues,
        vec![
            MessageQueue::new("T", "a", 0),
            MessageQueue::new("T", "a", 1),
            MessageQueue::new("T", "c", 0),
            MessageQueue::new("T", "c", 1),
        ]
    );
    assert_eq!(info.route, route);
    assert_eq!(route.master_addr("a"), Some("a:1"));
    assert_eq!(route.master_addr("slave-only"), None);
    assert_eq!(route.master_addr("nope"), None);

    let none = TopicPublishInfo::from_route("T", &TopicRouteData::default());
    assert!(!none.ok());
}

#[test]
fn order_topic_conf_lists_queues_in_order() {
    let route = TopicRouteData {
        order_topic_conf: Some("brokerB:2;brokerA:3;bad;x:y;:4;".into()),
        // Order topics ignore queue data and master checks.
        queue_datas: vec![qd("brokerA", 8, perm::READ)],
        ..Default::default()
    };
    let info = TopicPublishInfo::from_route("T", &route);
    assert!(info.order_topic);
    let got: Vec<(&str, i32)> = info
        .queues
        .iter()
        .map(|q| (q.broker_name.as_str(), q.queue_id))
        .collect();
    assert_eq!(
        got,
        vec![
            ("brokerB", 0),
            ("brokerB", 1),
            ("brokerA", 0),
            ("brokerA", 1),
            ("brokerA", 2)
        ]
    );
    let empty = TopicRouteData {
        order_topic_conf: Some(String::new()),
        ..Default::default()
    };
    assert!(!TopicPublishInfo::from_route("T", &empty).order_topic);
}

#[test]
fn huge_queue_counts_are_capped() {
    let route = TopicRouteData {
        order_topic_conf: Some(format!("b:{}", i32::MAX)),
        ..Default::default()
    };
    assert_eq!(
        TopicPublishInfo::from_route("T", &route).queues.len(),
        MAX_QUEUES_PER_BROKER as usize
    );
    let route = TopicRouteData {
        queue_datas: vec![qd("b", -5, 6)],
        broker_datas: vec![bd("b", &[(0, "x")])],
        ..Default::default()
    };
    assert!(TopicPublishInfo::from_route("T", &route).queues.is_empty());
}

#[test]
fn tbw102_clamp() {
    let route = TopicRouteData {
        queue_datas: vec![qd("a", 8, 7), {
            let mut q = qd("b", 2, 7);
            q.write_queue_nums = 8;
            q
        }],
        broker_datas: vec![bd("a", &[(0, "x")]), bd("b", &[(0, "y")])],
        ..Default::default()
    };
    let r = clamp_default_route(route, 4);
    assert_eq!(
        (
            r.queue_datas[0].read_queue_nums,
            r.queue_datas[0].write_queue_nums
        ),
        (4, 4)
    );
    assert_eq!(
        (
            r.queue_datas[1].read_queue_nums,
            r.queue_datas[1].write_queue_nums
        ),
        (2, 2)
    );
    assert_eq!(TopicPublishInfo::from_route("New", &r).queues.len(), 6);
}
