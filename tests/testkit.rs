//! The in-process test servers, driven by a raw tokio client (no actors).
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use actix_rocketmq::internals::protocol::batch::encode_batch;
use actix_rocketmq::internals::protocol::codes::{SerializeType, request_code, response_code};
use actix_rocketmq::internals::protocol::command::{ExtFields, RemotingCommand};
use actix_rocketmq::internals::protocol::compression::{ZLIB_SYS_FLAG, compress_zlib};
use actix_rocketmq::internals::protocol::headers::{
    CheckTransactionStateRequestHeader, CommandHeader, EndTransactionRequestHeader,
    GetRouteInfoRequestHeader, SendMessageRequestHeader, SendMessageResponseHeader,
    TransactionResolution, UnregisterClientRequestHeader,
};
use actix_rocketmq::internals::protocol::heartbeat::HeartbeatData;
use actix_rocketmq::internals::protocol::message::{
    Message, encode_properties, property, sys_flag,
};
use actix_rocketmq::internals::protocol::message_id::{decode_offset_msg_id, encode_offset_msg_id};
use actix_rocketmq::internals::protocol::route::{ClusterInfo, TopicRouteData};
use actix_rocketmq::internals::protocol::stored::decode_stored_messages;
use actix_rocketmq::internals::protocol::{ProtocolError, RemotingCodec};
use actix_rocketmq::testkit::headers::{
    CreateTopicRequestHeader, GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader,
    ViewMessageRequestHeader,
};
use actix_rocketmq::testkit::{
    AcceptMode, Fault, RouteOverride, TestCluster, TestkitError, TransactionState, garbage,
};

const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(300);

/// A bare remoting client: one connection, requests matched by opaque.
struct Client {
    framed: Framed<TcpStream, RemotingCodec>,
    opaque: i32,
}

impl Client {
    async fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Client {
            framed: Framed::new(stream, RemotingCodec::default()),
            opaque: 0,
        }
    }

    async fn send(&mut self, mut cmd: RemotingCommand) -> i32 {
        self.opaque += 1;
        cmd.opaque = self.opaque;
        self.framed.send(cmd).await.expect("write");
        self.opaque
    }

    /// The next frame; `None` on EOF or timeout, `Some(Err)` for an undecodable frame.
    async fn next(&mut self, wait: Duration) -> Option<Result<RemotingCommand, ProtocolError>> {
        tokio::time::timeout(wait, self.framed.next())
            .await
            .ok()
            .flatten()
    }

    async fn call(&mut self, cmd: RemotingCommand) -> RemotingCommand {
        let opaque = self.send(cmd).await;
        loop {
            let frame = self.next(WAIT).await.expect("reply").expect("decodable");
            if frame.is_response() && frame.opaque == opaque {
                return frame;
            }
        }
    }

    /// True when the server closed the connection within `wait`.
    async fn closed(&mut self, wait: Duration) -> bool {
        matches!(
            tokio::time::timeout(wait, self.framed.next()).await,
            Ok(None) | Ok(Some(Err(_)))
        )
    }
}

fn send_header(topic: &str, queue_id: i32, props: &str) -> SendMessageRequestHeader {
    SendMessageRequestHeader {
        producer_group: "pg".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some(props.into()),
        reconsume_times: Some(0),
        unit_mode: false,
        max_reconsume_times: None,
        batch: false,
        broker_name: Some("broker-a".into()),
    }
}

fn send_v2(topic: &str, queue_id: i32, uniq: &str, body: &'static [u8]) -> RemotingCommand {
    let props = encode_properties([
        (property::TAGS, "TagA"),
        (property::WAIT, "true"),
        (property::UNIQ_KEY, uniq),
    ]);
    send_header(topic, queue_id, &props)
        .to_request(request_code::SEND_MESSAGE_V2)
        .with_body(body)
}

fn route_request(topic: &str) -> RemotingCommand {
    GetRouteInfoRequestHeader::new(topic).into_request()
}

async fn cluster_ab() -> TestCluster {
    TestCluster::builder()
        .broker("broker-a")
        .broker("broker-b")
        .topic("TopicTest", 4)
        .start()
        .await
        .expect("start")
}

#[tokio::test]
async fn route_lookup_cluster_info_and_unknown_codes() {
    let cluster = cluster_ab().await;
    let mut ns = Client::connect(&cluster.namesrv_addr()).await;

    let reply = ns.call(route_request("TopicTest")).await;
    assert_eq!(reply.code, response_code::SUCCESS);
    assert_eq!(reply.serialize_type, SerializeType::Json);
    let route = TopicRouteData::decode(&reply.body).unwrap();
    assert_eq!(route.queue_datas.len(), 2);
    for q in &route.queue_datas {
        assert_eq!((q.read_queue_nums, q.write_queue_nums, q.perm), (4, 4, 6));
    }
    assert_eq!(
        route.master_addr("broker-b"),
        Some(cluster.broker_addr("broker-b").as_str())
    );
    assert_eq!(route.broker_datas[0].cluster, "DefaultCluster");

    let missing = ns.call(route_request("NoSuchTopic")).await;
    assert_eq!(missing.code, response_code::TOPIC_NOT_EXIST);
    assert!(missing.remark.unwrap().contains("NoSuchTopic"));
    assert!(missing.body.is_empty());
    // Without auto-create there is no TBW102 route either.
    assert_eq!(ns.call(route_request("TBW102")).await.code, 17);

    let info = ns
        .call(RemotingCommand::request(
            request_code::GET_BROKER_CLUSTER_INFO,
            ExtFields::new(),
        ))
        .await;
    let info = ClusterInfo::decode(&info.body).unwrap();
    assert_eq!(info.broker_addr_table.len(), 2);
    assert_eq!(info.cluster_addr_table["DefaultCluster"].len(), 2);

    let unknown = ns
        .call(RemotingCommand::request(9999, ExtFields::new()))
        .await;
    assert_eq!(unknown.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
    // A request in the binary serialization is answered too (in JSON).
    let mut binary = route_request("TopicTest");
    binary.serialize_type = SerializeType::RocketMq;
    let reply = ns.call(binary).await;
    assert_eq!(reply.code, 0);
    assert_eq!(reply.serialize_type, SerializeType::Json);

    assert_eq!(
        cluster
            .namesrv()
            .received_with_code(request_code::GET_ROUTEINFO_BY_TOPIC)
            .len(),
        4
    );
    assert_eq!(cluster.namesrv().open_connections(), 1);
}

#[tokio::test]
async fn send_v2_is_stored_and_answered_like_the_real_broker() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    let mut c = Client::connect(&broker.addr()).await;

    let reply = c.call(send_v2("TopicTest", 2, "UNIQ0001", b"hello")).await;
    assert_eq!(reply.code, response_code::SUCCESS, "{:?}", reply.remark);
    let h = SendMessageResponseHeader::from_command(&reply).unwrap();
    assert_eq!(h.queue_id, 2);
    assert_eq!(h.queue_offset, 0);
    assert_eq!(h.transaction_id.as_deref(), Some("UNIQ0001"));
    assert_eq!(h.region.as_deref(), Some("DefaultRegion"));
    assert_eq!(h.trace_on, Some(true));
    assert_eq!(h.msg_id, encode_offset_msg_id(broker.socket_addr(), 0));

    let second = c.call(send_v2("TopicTest", 2, "UNIQ0002", b"world")).await;
    let h2 = SendMessageResponseHeader::from_command(&second).unwrap();
    assert_eq!(h2.queue_offset, 1);
    let (host, commit_log_offset) = decode_offset_msg_id(&h2.msg_id).unwrap();
    assert_eq!(host, broker.socket_addr());
    assert!(commit_log_offset > 0);

    let stored = broker.messages("TopicTest");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].body, Bytes::from_static(b"hello"));
    assert_eq!(stored[0].tags(), Some("TagA"));
    assert_eq!(stored[0].uniq_key(), Some("UNIQ0001"));
    assert_eq!(stored[0].producer_group, "pg");
    assert_eq!(stored[0].request_code, request_code::SEND_MESSAGE_V2);
    assert_eq!(stored[1].commit_log_offset, commit_log_offset);
    assert!(cluster.broker("broker-b").messages("TopicTest").is_empty());
    assert_eq!(broker.send_requests(), 2);

    // V1 header (code 10) and a broker-picked queue (-1).
    let props = encode_properties([(property::UNIQ_KEY, "UNIQ0003")]);
    let v1 = send_header("TopicTest", -1, &props)
        .to_request(request_code::SEND_MESSAGE)
        .with_body(&b"v1"[..]);
    let reply = c.call(v1).await;
    let h3 = SendMessageResponseHeader::from_command(&reply).unwrap();
    assert!((0..4).contains(&h3.queue_id));

    // Read it back as the protocol's stored-message record.
    let view = ViewMessageRequestHeader {
        offset: commit_log_offset,
        topic: None,
    };
    let reply = c.call(view.into_request()).await;
    assert_eq!(reply.code, 0);
    let records = decode_stored_messages(&reply.body).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].body, Bytes::from_static(b"world"));
    assert_eq!(records[0].msg_id(), h2.msg_id);
    let missing = ViewMessageRequestHeader {
        offset: 999_999,
        topic: None,
    };
    assert_eq!(
        c.call(missing.into_request()).await.code,
        response_code::SYSTEM_ERROR
    );

    let max = GetMaxOffsetRequestHeader {
        topic: "TopicTest".into(),
        queue_id: 2,
        committed: None,
    };
    let reply = c.call(max.into_request()).await;
    // The V1 send above went to a random queue, maybe this one.
    let in_queue_2 = broker
        .messages("TopicTest")
        .iter()
        .filter(|m| m.queue_id == 2)
        .count() as i64;
    assert_eq!(
        GetMaxOffsetResponseHeader::from_command(&reply)
            .unwrap()
            .offset,
        in_queue_2
    );
    assert_eq!(broker.max_offset("TopicTest", 2), in_queue_2);
}

#[tokio::test]
async fn bad_sends_get_the_java_codes() {
    let cluster = cluster_ab().await;
    let mut c = Client::connect(&cluster.broker_addr("broker-a")).await;
    let unknown = c.call(send_v2("Nope", 0, "U", b"x")).await;
    assert_eq!(unknown.code, response_code::TOPIC_NOT_EXIST);
    assert!(unknown.remark.unwrap().contains("Nope"));
    let bad_queue = c.call(send_v2("TopicTest", 4, "U", b"x")).await;
    assert_eq!(bad_queue.code, response_code::SYSTEM_ERROR);
    let mut missing = send_v2("TopicTest", 0, "U", b"x");
    missing.ext_fields.as_mut().unwrap().remove("a");
    assert_eq!(c.call(missing).await.code, response_code::SYSTEM_ERROR);
    let forbidden = c.call(send_v2("SCHEDULE_TOPIC_XXXX", 0, "U", b"x")).await;
    assert_eq!(forbidden.code, response_code::NO_PERMISSION);
    assert!(cluster.messages("TopicTest").is_empty());
    let unsupported = c
        .call(RemotingCommand::request(12345, ExtFields::new()))
        .await;
    assert_eq!(unsupported.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
}

#[tokio::test]
async fn compressed_body_is_stored_as_received() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    let mut c = Client::connect(&broker.addr()).await;
    let plain = vec![b'x'; 8192];
    let packed = compress_zlib(&plain, 5).unwrap();
    let mut h = send_header("TopicTest", 0, "UNIQ_KEY\u{1}Z\u{2}");
    h.sys_flag = ZLIB_SYS_FLAG;
    let reply = c
        .call(
            h.to_request(request_code::SEND_MESSAGE_V2)
                .with_body(packed.clone()),
        )
        .await;
    assert_eq!(reply.code, 0);
    let m = &broker.messages("TopicTest")[0];
    assert_eq!(m.body, packed);
    assert!(m.is_compressed());
    assert_eq!(m.decompressed_body().unwrap(), Bytes::from(plain.clone()));
    // VIEW_MESSAGE_BY_ID hands out a record a consumer can inflate.
    let view = ViewMessageRequestHeader {
        offset: m.commit_log_offset,
        topic: None,
    };
    let records = decode_stored_messages(&c.call(view.into_request()).await.body).unwrap();
    assert_eq!(records[0].body, Bytes::from(plain));
}

#[tokio::test]
async fn batch_is_decoded_into_records() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-b");
    let mut c = Client::connect(&broker.addr()).await;
    let msgs: Vec<Message> = (0..3)
        .map(|i| {
            let mut m = Message::new("TopicTest", format!("body-{i}")).with_flag(i);
            m.set_property(property::UNIQ_KEY, format!("ID{i}"));
            m
        })
        .collect();
    let body = encode_batch(&msgs).unwrap();
    let wrapper = encode_properties([(property::UNIQ_KEY, "WRAPPER"), (property::WAIT, "true")]);
    let mut h = send_header("TopicTest", 1, &wrapper);
    h.batch = true;
    h.broker_name = Some("broker-b".into());
    c.call(send_v2("TopicTest", 1, "FIRST", b"single")).await;
    let reply = c
        .call(
            h.to_request(request_code::SEND_BATCH_MESSAGE)
                .with_body(body),
        )
        .await;
    assert_eq!(reply.code, 0, "{:?}", reply.remark);
    let rh = SendMessageResponseHeader::from_command(&reply).unwrap();
    assert_eq!(rh.msg_id.split(',').count(), 3);
    assert_eq!(rh.queue_offset, 1);
    assert_eq!(rh.transaction_id.as_deref(), Some("WRAPPER"));

    let stored = broker.messages("TopicTest");
    assert_eq!(stored.len(), 4);
    for (i, m) in stored[1..].iter().enumerate() {
        assert_eq!(m.body, Bytes::from(format!("body-{i}")));
        assert_eq!(m.flag, i as i32);
        assert_eq!(m.uniq_key(), Some(format!("ID{i}").as_str()));
        assert_eq!(m.queue_offset, 1 + i as i64);
        assert_eq!(m.queue_id, 1);
        assert_eq!(Some(m.msg_id.as_str()), rh.msg_id.split(',').nth(i));
    }

    let mut broken = h.to_request(request_code::SEND_BATCH_MESSAGE);
    broken.body = Bytes::from_static(&[0, 0, 0, 99, 1, 2]);
    assert_eq!(c.call(broken).await.code, response_code::SYSTEM_ERROR);
    assert_eq!(broker.messages("TopicTest").len(), 4);
}

#[tokio::test]
async fn heartbeat_and_unregister_are_counted() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    let mut c = Client::connect(&broker.addr()).await;
    let hb = HeartbeatData::producer("10.0.0.9@1#2", ["pg", "other"]);
    let reply = c.call(hb.to_request()).await;
    assert_eq!(reply.code, 0);
    assert_eq!(broker.heartbeats(), 1);
    assert_eq!(cluster.heartbeats(), 1);
    assert_eq!(broker.last_heartbeat(), Some(hb));
    let conns = broker.connections();
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].client_id.as_deref(), Some("10.0.0.9@1#2"));
    assert!(conns[0].producer_groups.contains("pg"));
    assert_eq!(broker.connection_for_group("pg"), Some(conns[0].id));

    let bad = c
        .call(
            RemotingCommand::request(request_code::HEART_BEAT, ExtFields::new())
                .with_body(&b"{"[..]),
        )
        .await;
    assert_eq!(bad.code, response_code::SYSTEM_ERROR);
    assert_eq!(broker.heartbeats(), 1);

    let un = UnregisterClientRequestHeader::producer("10.0.0.9@1#2", "pg");
    assert_eq!(c.call(un.clone().into_request()).await.code, 0);
    assert_eq!(broker.unregisters(), vec![un]);
    assert_eq!(broker.connection_for_group("pg"), None);
    assert!(broker.connection_for_group("other").is_some());
}

#[tokio::test]
async fn auto_create_creates_on_first_send_and_routes_it() {
    let cluster = TestCluster::builder()
        .broker("broker-a")
        .broker("broker-b")
        .auto_create(true)
        .start()
        .await
        .unwrap();
    let mut ns = Client::connect(&cluster.namesrv_addr()).await;
    let tbw = ns.call(route_request("TBW102")).await;
    let route = TopicRouteData::decode(&tbw.body).unwrap();
    assert_eq!(route.queue_datas.len(), 2);
    assert!(
        route
            .queue_datas
            .iter()
            .all(|q| q.perm == 7 && q.write_queue_nums == 8)
    );
    assert_eq!(ns.call(route_request("Fresh")).await.code, 17);

    let mut b = Client::connect(&cluster.broker_addr("broker-b")).await;
    assert_eq!(b.call(send_v2("Fresh", 3, "U", b"x")).await.code, 0);
    let route = TopicRouteData::decode(&ns.call(route_request("Fresh")).await.body).unwrap();
    assert_eq!(route.queue_datas.len(), 1);
    assert_eq!(route.queue_datas[0].broker_name, "broker-b");
    assert_eq!(route.queue_datas[0].write_queue_nums, 4);
    assert_eq!(route.queue_datas[0].perm, 6);

    // UPDATE_AND_CREATE_TOPIC puts it on broker-a too.
    let mut a = Client::connect(&cluster.broker_addr("broker-a")).await;
    let create = CreateTopicRequestHeader::new("Fresh", 2).into_request();
    assert_eq!(a.call(create).await.code, 0);
    assert_eq!(cluster.route("Fresh").unwrap().queue_datas.len(), 2);

    cluster.set_auto_create(false);
    assert_eq!(a.call(send_v2("Other", 0, "U", b"x")).await.code, 17);
}

#[tokio::test]
async fn fault_respond_code_is_not_stored_and_used_up() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    broker.inject(
        Fault::respond(response_code::SYSTEM_BUSY, "[REJECTREQUEST]system busy")
            .on_sends()
            .times(2),
    );
    let mut c = Client::connect(&broker.addr()).await;
    // Heartbeats do not match the rule.
    let hb = HeartbeatData::producer("c", ["pg"]);
    assert_eq!(c.call(hb.to_request()).await.code, 0);
    for _ in 0..2 {
        let r = c.call(send_v2("TopicTest", 0, "U", b"x")).await;
        assert_eq!(r.code, response_code::SYSTEM_BUSY);
        assert_eq!(r.remark.as_deref(), Some("[REJECTREQUEST]system busy"));
    }
    assert_eq!(broker.active_faults(), 0);
    assert_eq!(c.call(send_v2("TopicTest", 0, "U", b"x")).await.code, 0);
    assert_eq!(broker.messages("TopicTest").len(), 1);
    // Both captured, faulted or not.
    assert_eq!(
        broker
            .received_with_code(request_code::SEND_MESSAGE_V2)
            .len(),
        3
    );

    // Topic filter and forever.
    let id = broker.inject(
        Fault::respond(response_code::FLUSH_DISK_TIMEOUT, "flush")
            .on_topic("Other")
            .forever(),
    );
    assert_eq!(c.call(send_v2("TopicTest", 0, "U", b"x")).await.code, 0);
    assert!(broker.remove_fault(id));
    assert!(!broker.remove_fault(id));
}

#[tokio::test]
async fn fault_delay_holds_the_reply() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    broker.inject(Fault::delay(Duration::from_millis(300)).on(request_code::SEND_MESSAGE_V2));
    let mut c = Client::connect(&broker.addr()).await;
    let start = Instant::now();
    let first = c.send(send_v2("TopicTest", 0, "SLOW", b"x")).await;
    let second = c.send(send_v2("TopicTest", 0, "FAST", b"y")).await;
    // The undelayed reply overtakes the delayed one.
    let r1 = c.next(WAIT).await.unwrap().unwrap();
    assert_eq!(r1.opaque, second);
    let r2 = c.next(WAIT).await.unwrap().unwrap();
    assert_eq!(r2.opaque, first);
    assert!(start.elapsed() >= Duration::from_millis(300));
    // Processed at once, though: both stored before the delayed reply.
    assert_eq!(broker.messages("TopicTest").len(), 2);
}

#[tokio::test]
async fn fault_drop_reply_stores_but_never_answers() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    broker.inject(Fault::drop_reply().on_sends());
    let mut c = Client::connect(&broker.addr()).await;
    c.send(send_v2("TopicTest", 0, "LOST", b"x")).await;
    assert!(c.next(QUIET).await.is_none());
    assert_eq!(broker.messages("TopicTest")[0].uniq_key(), Some("LOST"));
    // The connection still works.
    assert_eq!(c.call(send_v2("TopicTest", 0, "OK", b"x")).await.code, 0);
}

#[tokio::test]
async fn fault_close_and_process_then_close() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    broker.inject(Fault::close().on_sends());
    let mut c = Client::connect(&broker.addr()).await;
    c.send(send_v2("TopicTest", 0, "A", b"x")).await;
    assert!(c.closed(WAIT).await);
    assert!(broker.messages("TopicTest").is_empty());

    broker.inject(Fault::process_then_close().on_sends());
    let mut c = Client::connect(&broker.addr()).await;
    c.send(send_v2("TopicTest", 0, "B", b"x")).await;
    assert!(c.closed(WAIT).await);
    assert_eq!(broker.messages("TopicTest").len(), 1);

    // Close after two frames: the first two are answered.
    broker.inject(Fault::close().after(2));
    let mut c = Client::connect(&broker.addr()).await;
    assert_eq!(c.call(send_v2("TopicTest", 0, "C", b"x")).await.code, 0);
    assert_eq!(c.call(send_v2("TopicTest", 0, "D", b"x")).await.code, 0);
    c.send(send_v2("TopicTest", 0, "E", b"x")).await;
    assert!(c.closed(WAIT).await);
    assert_eq!(broker.messages("TopicTest").len(), 3);
    assert_eq!(broker.connections_accepted(), 3);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(broker.open_connections(), 0);
}

#[tokio::test]
async fn fault_garbage_reply_breaks_the_client_codec() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    for bytes in [
        garbage::header_overrun(),
        garbage::bad_json_header(),
        garbage::oversized(),
        garbage::unknown_serialize_type(),
    ] {
        broker.inject(Fault::garbage(bytes).on_sends());
        let mut c = Client::connect(&broker.addr()).await;
        c.send(send_v2("TopicTest", 0, "G", b"x")).await;
        assert!(matches!(c.next(WAIT).await, Some(Err(_))));
    }
    // Processed before the garbage went out.
    assert_eq!(broker.messages("TopicTest").len(), 4);
}

#[tokio::test]
async fn freeze_is_a_black_hole_until_unfrozen() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    let mut c = Client::connect(&broker.addr()).await;
    assert_eq!(c.call(send_v2("TopicTest", 0, "A", b"x")).await.code, 0);
    broker.freeze();
    assert!(broker.is_frozen());
    let opaque = c.send(send_v2("TopicTest", 0, "B", b"x")).await;
    assert!(c.next(QUIET).await.is_none(), "no answer, no close");
    assert_eq!(broker.messages("TopicTest").len(), 1);
    // New connections are accepted but frozen too.
    let mut c2 = Client::connect(&broker.addr()).await;
    let o2 = c2.send(send_v2("TopicTest", 0, "C", b"x")).await;
    assert!(c2.next(QUIET).await.is_none());
    broker.unfreeze();
    assert_eq!(c.next(WAIT).await.unwrap().unwrap().opaque, opaque);
    assert_eq!(c2.next(WAIT).await.unwrap().unwrap().opaque, o2);
    assert_eq!(broker.messages("TopicTest").len(), 3);

    // Freeze triggered by a request.
    broker.inject(Fault::freeze().on_sends().after(1));
    assert_eq!(c.call(send_v2("TopicTest", 0, "D", b"x")).await.code, 0);
    c.send(send_v2("TopicTest", 0, "E", b"x")).await;
    assert!(c.next(QUIET).await.is_none());
    assert!(broker.is_frozen());
    broker.unfreeze();
    assert_eq!(
        broker.messages("TopicTest").len(),
        4,
        "the freezing request is not processed"
    );
}

#[tokio::test]
async fn accept_modes_refuse_and_accept_and_close() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    let mut open = Client::connect(&broker.addr()).await;
    broker.set_accept_mode(AcceptMode::Refuse).await.unwrap();
    assert!(TcpStream::connect(broker.addr()).await.is_err());
    // Open connections are not touched.
    assert_eq!(open.call(send_v2("TopicTest", 0, "A", b"x")).await.code, 0);

    broker
        .set_accept_mode(AcceptMode::AcceptAndClose)
        .await
        .unwrap();
    let mut c = Client::connect(&broker.addr()).await;
    assert!(c.closed(WAIT).await);
    assert_eq!(broker.connections_rejected(), 1);

    broker.set_accept_mode(AcceptMode::Accept).await.unwrap();
    let mut c = Client::connect(&broker.addr()).await;
    assert_eq!(c.call(send_v2("TopicTest", 0, "B", b"x")).await.code, 0);
    assert_eq!(broker.connections_accepted(), 2);
}

#[tokio::test]
async fn stop_and_restart_on_the_same_port() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    let addr = broker.addr();
    let mut c = Client::connect(&addr).await;
    assert_eq!(c.call(send_v2("TopicTest", 0, "A", b"x")).await.code, 0);
    broker.stop().await.unwrap();
    assert!(c.closed(WAIT).await);
    assert_eq!(broker.open_connections(), 0);
    assert!(TcpStream::connect(&addr).await.is_err());
    // Still routed: the name server does not notice a crash.
    assert!(
        cluster
            .route("TopicTest")
            .unwrap()
            .master_addr("broker-a")
            .is_some()
    );

    broker.start().await.unwrap();
    assert_eq!(broker.addr(), addr);
    let mut c = Client::connect(&addr).await;
    let r = c.call(send_v2("TopicTest", 0, "B", b"x")).await;
    assert_eq!(
        SendMessageResponseHeader::from_command(&r)
            .unwrap()
            .queue_offset,
        1
    );
    assert_eq!(broker.messages("TopicTest").len(), 2);
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let cluster = TestCluster::builder()
        .topic("TopicTest", 4)
        .idle_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let broker = cluster.broker("broker-a");
    let mut c = Client::connect(&broker.addr()).await;
    // Activity keeps it open past the timeout.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(c.call(send_v2("TopicTest", 0, "A", b"x")).await.code, 0);
    }
    let start = Instant::now();
    assert!(c.closed(WAIT).await);
    assert!(start.elapsed() >= Duration::from_millis(150));
    broker.set_idle_timeout(None);
    let mut c = Client::connect(&broker.addr()).await;
    assert!(c.next(Duration::from_millis(400)).await.is_none());
    assert_eq!(broker.open_connections(), 1);
}

#[tokio::test]
async fn route_changes_at_the_name_server() {
    let cluster = cluster_ab().await;
    let mut ns = Client::connect(&cluster.namesrv_addr()).await;
    cluster.override_route("TopicTest", RouteOverride::NotExist);
    assert_eq!(ns.call(route_request("TopicTest")).await.code, 17);
    cluster.clear_route_override("TopicTest");
    assert_eq!(ns.call(route_request("TopicTest")).await.code, 0);

    // Move all queues to broker-b.
    cluster.set_topic("TopicTest", "broker-a", 0).unwrap();
    cluster.set_topic("TopicTest", "broker-b", 8).unwrap();
    let route = TopicRouteData::decode(&ns.call(route_request("TopicTest")).await.body).unwrap();
    assert_eq!(route.queue_datas.len(), 1);
    assert_eq!(route.queue_datas[0].write_queue_nums, 8);
    let mut a = Client::connect(&cluster.broker_addr("broker-a")).await;
    assert_eq!(a.call(send_v2("TopicTest", 0, "A", b"x")).await.code, 17);

    // The name server forgets broker-b.
    cluster.unregister_broker("broker-b").unwrap();
    assert_eq!(ns.call(route_request("TopicTest")).await.code, 17);
    cluster.register_broker("broker-b").unwrap();

    // A hand-written route.
    let mut custom = cluster.route("TopicTest").unwrap();
    custom.queue_datas[0].perm = 4;
    cluster.override_route("TopicTest", RouteOverride::Route(custom.clone()));
    let got = TopicRouteData::decode(&ns.call(route_request("TopicTest")).await.body).unwrap();
    assert_eq!(got, custom);
    assert!(matches!(
        cluster.set_topic("T", "broker-z", 1),
        Err(TestkitError::UnknownBroker(_))
    ));

    // The name server takes faults like a broker.
    let namesrv = cluster.namesrv();
    namesrv.inject(
        Fault::respond(response_code::SYSTEM_ERROR, "down")
            .on(request_code::GET_ROUTEINFO_BY_TOPIC),
    );
    assert_eq!(ns.call(route_request("TopicTest")).await.code, 1);
    namesrv.inject(Fault::close());
    ns.send(route_request("TopicTest")).await;
    assert!(ns.closed(WAIT).await);
}

#[tokio::test]
async fn transaction_check_goes_to_the_group_connection() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    let mut c = Client::connect(&broker.addr()).await;
    assert_eq!(
        c.call(HeartbeatData::producer("cid", ["txg"]).to_request())
            .await
            .code,
        0
    );
    let props = encode_properties([
        (property::UNIQ_KEY, "HALF1"),
        (property::TRAN_MSG, "true"),
        (property::PGROUP, "txg"),
    ]);
    let mut h = send_header("TopicTest", 1, &props);
    h.producer_group = "txg".into();
    h.sys_flag = sys_flag::TRANSACTION_PREPARED_TYPE;
    let reply = c
        .call(
            h.to_request(request_code::SEND_MESSAGE_V2)
                .with_body(&b"half"[..]),
        )
        .await;
    let rh = SendMessageResponseHeader::from_command(&reply).unwrap();
    let half = broker.messages("TopicTest").remove(0);
    assert_eq!(half.transaction, TransactionState::Prepared);

    let conn = broker.check_transaction(&half).unwrap();
    let check = c.next(WAIT).await.unwrap().unwrap();
    assert_eq!(check.code, request_code::CHECK_TRANSACTION_STATE);
    assert!(check.is_oneway() && !check.is_response());
    let ch = CheckTransactionStateRequestHeader::from_command(&check).unwrap();
    assert_eq!(ch.offset_msg_id.as_deref(), Some(rh.msg_id.as_str()));
    assert_eq!(ch.msg_id.as_deref(), Some("HALF1"));
    assert_eq!(ch.broker_name.as_deref(), Some("broker-a"));
    let body = decode_stored_messages(&check.body).unwrap();
    assert_eq!(body[0].body, Bytes::from_static(b"half"));

    // The client answers with a oneway END_TRANSACTION.
    let end = EndTransactionRequestHeader {
        producer_group: "txg".into(),
        tran_state_table_offset: ch.tran_state_table_offset,
        commit_log_offset: ch.commit_log_offset,
        commit_or_rollback: TransactionResolution::Commit,
        from_transaction_check: true,
        msg_id: "HALF1".into(),
        transaction_id: ch.transaction_id.clone(),
        topic: ch.topic.clone(),
        broker_name: ch.broker_name.clone(),
    };
    c.send(end.clone().into_request()).await;
    let got = broker
        .wait_for_code(request_code::END_TRANSACTION, WAIT)
        .await
        .unwrap();
    assert_eq!(got.connection, conn);
    assert_eq!(broker.end_transactions(), vec![end]);
    assert_eq!(
        broker.messages("TopicTest")[0].transaction,
        TransactionState::Committed
    );
    assert!(matches!(
        broker.check_transaction(&{
            let mut m = half.clone();
            m.properties.retain(|(k, _)| k != property::PGROUP);
            m.producer_group = "nobody".into();
            m
        }),
        Err(TestkitError::NoConnectionForGroup(_))
    ));
}

#[tokio::test]
async fn server_initiated_request_waits_for_the_client_response() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    let mut c = Client::connect(&broker.addr()).await;
    c.call(HeartbeatData::producer("cid", ["g"]).to_request())
        .await;
    let conn = broker.connection_for_group("g").unwrap();
    let b2 = broker.clone();
    let waiter = tokio::spawn(async move {
        let req =
            RemotingCommand::request(request_code::PUSH_REPLY_MESSAGE_TO_CLIENT, ExtFields::new());
        b2.request(conn, req, WAIT).await
    });
    let push = c.next(WAIT).await.unwrap().unwrap();
    assert_eq!(push.code, request_code::PUSH_REPLY_MESSAGE_TO_CLIENT);
    assert!(!push.is_oneway());
    let mut answer = RemotingCommand::response(0, push.opaque, Some("thanks".into()));
    answer.opaque = push.opaque;
    c.framed.send(answer).await.unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(got.remark.as_deref(), Some("thanks"));
    assert!(broker.received().iter().any(|r| r.is_response()));

    // No answer: timeout; a closed connection: an error at once.
    let req =
        RemotingCommand::request(request_code::PUSH_REPLY_MESSAGE_TO_CLIENT, ExtFields::new());
    assert!(matches!(
        broker
            .request(conn, req.clone(), Duration::from_millis(100))
            .await,
        Err(TestkitError::Timeout)
    ));
    drop(c);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(matches!(
        broker.request(conn, req, WAIT).await,
        Err(TestkitError::NoSuchConnection(_))
    ));
}

#[tokio::test]
async fn raw_bytes_and_malformed_client_frames() {
    let cluster = cluster_ab().await;
    let broker = cluster.broker("broker-a");
    let mut bad = Client::connect(&broker.addr()).await;
    let mut good = Client::connect(&broker.addr()).await;
    // A client sending garbage loses its own connection only.
    use tokio::io::AsyncWriteExt;
    bad.framed
        .get_mut()
        .write_all(&garbage::header_overrun())
        .await
        .unwrap();
    assert!(bad.closed(WAIT).await);
    assert_eq!(good.call(send_v2("TopicTest", 0, "A", b"x")).await.code, 0);
    assert_eq!(broker.malformed_frames(), 1);

    // The broker can write garbage on demand.
    let conn = broker.connections()[0].id;
    broker.send_raw(conn, garbage::bad_json_header()).unwrap();
    assert!(matches!(good.next(WAIT).await, Some(Err(_))));
    assert_eq!(broker.close_connections(), 1);
}

#[tokio::test]
async fn null_brokers_answer_without_storing() {
    let cluster = TestCluster::builder()
        .topic("TopicTest", 4)
        .null_brokers(true)
        .start()
        .await
        .unwrap();
    let broker = cluster.broker("broker-a");
    let mut c = Client::connect(&broker.addr()).await;
    assert_eq!(
        c.call(HeartbeatData::producer("c", ["g"]).to_request())
            .await
            .code,
        0
    );
    // Pipelined sends, even to unknown topics, all SUCCESS.
    let mut opaques = Vec::new();
    for i in 0..100 {
        opaques.push(c.send(send_v2("Anything", i % 4, "U", b"x")).await);
    }
    for (i, opaque) in opaques.into_iter().enumerate() {
        let r = c.next(WAIT).await.unwrap().unwrap();
        assert_eq!((r.code, r.opaque), (0, opaque));
        let h = SendMessageResponseHeader::from_command(&r).unwrap();
        assert_eq!(h.queue_id, (i % 4) as i32);
    }
    let msgs: Vec<Message> = (0..5)
        .map(|i| Message::new("TopicTest", "b").with_property("i", i.to_string()))
        .map(|mut m| {
            m.set_property(property::UNIQ_KEY, "X");
            m
        })
        .collect();
    let mut h = send_header("TopicTest", 0, "");
    h.batch = true;
    let r = c
        .call(
            h.to_request(request_code::SEND_BATCH_MESSAGE)
                .with_body(encode_batch(&msgs).unwrap()),
        )
        .await;
    assert_eq!(
        SendMessageResponseHeader::from_command(&r)
            .unwrap()
            .msg_id
            .split(',')
            .count(),
        5
    );
    assert!(broker.all_messages().is_empty());
    assert_eq!(broker.send_requests(), 101);
    assert_eq!(broker.received().len(), 1, "only the heartbeat is captured");

    // Faults still apply in null mode.
    broker.inject(Fault::respond(response_code::SYSTEM_BUSY, "busy").on_sends());
    assert_eq!(c.call(send_v2("TopicTest", 0, "U", b"x")).await.code, 2);
    assert_eq!(c.call(send_v2("TopicTest", 3, "U", b"x")).await.code, 0);
}

#[tokio::test]
async fn shutdown_and_drop_close_everything() {
    let cluster = cluster_ab().await;
    let ns_addr = cluster.namesrv_addr();
    let broker = cluster.broker("broker-a");
    let mut c = Client::connect(&broker.addr()).await;
    let mut n = Client::connect(&ns_addr).await;
    cluster.shutdown().await;
    assert!(c.closed(WAIT).await);
    assert!(n.closed(WAIT).await);
    assert!(TcpStream::connect(&ns_addr).await.is_err());
    assert!(matches!(broker.stop().await, Err(TestkitError::ShutDown)));
    assert_eq!(broker.open_connections(), 0);

    let cluster = cluster_ab().await;
    let mut c = Client::connect(&cluster.broker_addr("broker-b")).await;
    drop(cluster);
    assert!(c.closed(WAIT).await);
}

#[test]
fn works_inside_an_actix_system() {
    actix_rt::System::new().block_on(async {
        let cluster = cluster_ab().await;
        let mut c = Client::connect(&cluster.namesrv_addr()).await;
        assert_eq!(c.call(route_request("TopicTest")).await.code, 0);
        let mut b = Client::connect(&cluster.broker_addr("broker-a")).await;
        assert_eq!(b.call(send_v2("TopicTest", 0, "A", b"x")).await.code, 0);
        cluster.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_on_a_multi_thread_runtime() {
    let cluster = cluster_ab().await;
    let addr = cluster.broker_addr("broker-a");
    let mut tasks = Vec::new();
    for t in 0..8 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(&addr).await;
            for i in 0..25 {
                let uniq = format!("T{t}-{i}");
                let props = encode_properties([(property::UNIQ_KEY, uniq.as_str())]);
                let req = send_header("TopicTest", t % 4, &props)
                    .to_request(request_code::SEND_MESSAGE_V2)
                    .with_body(&b"x"[..]);
                assert_eq!(c.call(req).await.code, 0);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let msgs = cluster.messages("TopicTest");
    assert_eq!(msgs.len(), 200);
    // Queue offsets are dense per queue.
    for q in 0..4 {
        let mut offs: Vec<i64> = msgs
            .iter()
            .filter(|m| m.queue_id == q)
            .map(|m| m.queue_offset)
            .collect();
        offs.sort_unstable();
        assert_eq!(offs, (0..offs.len() as i64).collect::<Vec<_>>());
    }
}
