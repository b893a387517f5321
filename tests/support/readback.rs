//! Test-only admin calls to the REAL broker / name server: read back what a producer
//! stored (VIEW_MESSAGE_BY_ID by offset message id, PULL_MESSAGE per queue), create
//! topics on every broker (UPDATE_AND_CREATE_TOPIC), look up routes and the producer
//! connections a broker knows (GET_PRODUCER_CONNECTION_LIST).
//!
//! Include it with
//!
//! ```ignore
//! #[path = "support/readback.rs"]
//! mod readback;
//! ```
//!
//! Every call runs in the caller's actix `System` over this crate's own
//! `ConnectionActor` (one per address, cached) and is bounded by [`ADMIN_TIMEOUT`].
//! A send result alone proves nothing about storage: these helpers ask the broker.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
use actix_rocketmq::internals::protocol::command::{ExtFields, RemotingCommand};
use actix_rocketmq::internals::protocol::headers::{CommandHeader, GetRouteInfoRequestHeader};
use actix_rocketmq::internals::protocol::message::{property, sys_flag};
use actix_rocketmq::internals::protocol::message_id::decode_offset_msg_id;
use actix_rocketmq::internals::protocol::route::{ClusterInfo, TopicRouteData};
pub use actix_rocketmq::internals::protocol::stored::StoredMessage;
use actix_rocketmq::internals::protocol::stored::decode_stored_messages;
use actix_rocketmq::internals::runtime::{Connection, ConnectionActor, ConnectionConfig, NetError};
use actix_rocketmq::testkit::headers::{
    CreateTopicRequestHeader, GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader,
    PullMessageRequestHeader, PullMessageResponseHeader, ViewMessageRequestHeader,
};
use actix_rocketmq::{Message, SendResult};
use tokio::time::Instant;

/// Upper bound of one admin request.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(3);
/// GET_PRODUCER_CONNECTION_LIST (Java `RequestCode`), not in the crate's code table.
pub const GET_PRODUCER_CONNECTION_LIST: i32 = 204;
/// Consumer group of [`ReadBack::pull_once`] (the broker auto-creates it).
pub const READBACK_GROUP: &str = "e2e_readback_group";
/// PullSysFlag: the request carries its subscription expression.
const PULL_FLAG_SUBSCRIPTION: i32 = 0x4;

/// A unique topic (or group) name: `prefix` + pid + time + counter, `[A-Za-z0-9_]` only.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{:x}_{}",
        std::process::id(),
        nanos & 0xFFFF_FFFF,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Admin connections of one test (to brokers and name servers), cached per address.
#[derive(Default)]
pub struct ReadBack {
    conns: RefCell<HashMap<String, Connection>>,
    config: ConnectionConfig,
}

impl ReadBack {
    pub fn new() -> Self {
        ReadBack::default()
    }

    /// Admin connections made with `config` (ACL credentials, TLS).
    pub fn with_config(config: ConnectionConfig) -> Self {
        ReadBack {
            config,
            ..ReadBack::default()
        }
    }

    fn conn(&self, addr: &str) -> Connection {
        self.conns
            .borrow_mut()
            .entry(addr.to_owned())
            .or_insert_with(|| {
                ConnectionActor::start_supervised(addr.to_owned(), self.config.clone())
            })
            .clone()
    }

    /// One request to `addr`, answered within [`ADMIN_TIMEOUT`].
    pub async fn call(
        &self,
        addr: &str,
        cmd: RemotingCommand,
    ) -> Result<RemotingCommand, NetError> {
        let conn = self.conn(addr);
        conn.request(cmd, Instant::now() + ADMIN_TIMEOUT).await
    }

    /// Like [`ReadBack::call`], panicking on a network error.
    async fn call_ok(&self, addr: &str, cmd: RemotingCommand, what: &str) -> RemotingCommand {
        match self.call(addr, cmd).await {
            Ok(r) => r,
            Err(e) => panic!("{what} to {addr}: {e}"),
        }
    }

    // ------------------------------------------------------------------ topics and routes

    /// Creates `topic` with `queues` read/write queues on every broker in `broker_addrs`
    /// (the real broker auto-creates a topic only on the broker that got the first send).
    pub async fn create_topic(&self, broker_addrs: &[&str], topic: &str, queues: i32) {
        for addr in broker_addrs {
            let cmd = CreateTopicRequestHeader::new(topic, queues).into_request();
            let r = self.call_ok(addr, cmd, "UPDATE_AND_CREATE_TOPIC").await;
            assert_eq!(
                r.code,
                response_code::SUCCESS,
                "UPDATE_AND_CREATE_TOPIC {topic} on {addr}: code {} {:?}",
                r.code,
                r.remark
            );
        }
    }

    /// The name server's route of `topic`, `None` when it answers TOPIC_NOT_EXIST.
    pub async fn route(
        &self,
        namesrv: &str,
        topic: &str,
    ) -> Result<Option<TopicRouteData>, String> {
        let cmd = GetRouteInfoRequestHeader::new(topic).into_request();
        let r = self
            .call(namesrv, cmd)
            .await
            .map_err(|e| format!("GET_ROUTEINFO_BY_TOPIC {topic}: {e}"))?;
        match r.code {
            response_code::SUCCESS => TopicRouteData::decode(&r.body)
                .map(Some)
                .map_err(|e| format!("route of {topic} does not parse: {e}")),
            response_code::TOPIC_NOT_EXIST => Ok(None),
            c => Err(format!(
                "GET_ROUTEINFO_BY_TOPIC {topic}: code {c} {:?}",
                r.remark
            )),
        }
    }

    /// Waits (bounded by `limit`) until the name server's route of `topic` has writable
    /// queues on exactly the brokers `brokers` (by name).
    pub async fn wait_route(&self, namesrv: &str, topic: &str, brokers: &[&str], limit: Duration) {
        let mut want: Vec<String> = brokers.iter().map(|b| b.to_string()).collect();
        want.sort();
        let start = Instant::now();
        let mut last;
        loop {
            match self.route(namesrv, topic).await {
                Ok(Some(route)) => {
                    let mut have: Vec<String> = route
                        .queue_datas
                        .iter()
                        .filter(|q| q.write_queue_nums > 0)
                        .map(|q| q.broker_name.clone())
                        .collect();
                    have.sort();
                    have.dedup();
                    if have == want {
                        return;
                    }
                    last = format!("route has brokers {have:?}");
                }
                Ok(None) => last = "topic not found".into(),
                Err(e) => last = e,
            }
            assert!(
                start.elapsed() < limit,
                "route of {topic} did not reach brokers {want:?} within {limit:?} (last: {last})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The master brokers the name server knows, as (name, address), sorted by name.
    pub async fn cluster_brokers(&self, namesrv: &str) -> Vec<(String, String)> {
        let cmd = RemotingCommand::request(request_code::GET_BROKER_CLUSTER_INFO, ExtFields::new());
        let r = self.call_ok(namesrv, cmd, "GET_BROKER_CLUSTER_INFO").await;
        assert_eq!(
            r.code,
            response_code::SUCCESS,
            "GET_BROKER_CLUSTER_INFO at {namesrv}: code {} {:?}",
            r.code,
            r.remark
        );
        let info = ClusterInfo::decode(&r.body)
            .unwrap_or_else(|e| panic!("cluster info does not parse: {e}"));
        info.broker_addr_table
            .values()
            .filter_map(|b| {
                b.master_addr()
                    .map(|a| (b.broker_name.clone(), a.to_owned()))
            })
            .collect()
    }

    // ------------------------------------------------------------------ reading back

    /// VIEW_MESSAGE_BY_ID to the store host encoded in `offset_msg_id`. Returns the
    /// message (body inflated) and the length of the raw stored record.
    pub async fn view(&self, offset_msg_id: &str) -> Result<(StoredMessage, usize), String> {
        let (host, offset) = decode_offset_msg_id(offset_msg_id)
            .map_err(|e| format!("offset msg id {offset_msg_id:?}: {e}"))?;
        let addr = host.to_string();
        let cmd = ViewMessageRequestHeader {
            offset,
            topic: None,
        }
        .into_request();
        let r = self
            .call(&addr, cmd)
            .await
            .map_err(|e| format!("VIEW_MESSAGE_BY_ID {offset_msg_id} at {addr}: {e}"))?;
        if r.code != response_code::SUCCESS {
            return Err(format!(
                "VIEW_MESSAGE_BY_ID {offset_msg_id} at {addr}: code {} {:?}",
                r.code, r.remark
            ));
        }
        let raw_len = r.body.len();
        let mut msgs = decode_stored_messages(&r.body).map_err(|e| {
            format!("VIEW_MESSAGE_BY_ID {offset_msg_id}: record does not decode: {e}")
        })?;
        if msgs.len() != 1 {
            return Err(format!(
                "VIEW_MESSAGE_BY_ID {offset_msg_id}: {} records in the reply",
                msgs.len()
            ));
        }
        let m = msgs.remove(0);
        if m.commit_log_offset != offset {
            return Err(format!(
                "VIEW_MESSAGE_BY_ID {offset_msg_id}: asked offset {offset}, got the record at {}",
                m.commit_log_offset
            ));
        }
        Ok((m, raw_len))
    }

    /// The next offset to be written in a queue (GET_MAX_OFFSET).
    pub async fn max_offset(&self, broker_addr: &str, topic: &str, queue_id: i32) -> i64 {
        let cmd = GetMaxOffsetRequestHeader {
            topic: topic.to_owned(),
            queue_id,
            committed: Some(true),
        }
        .into_request();
        let r = self.call_ok(broker_addr, cmd, "GET_MAX_OFFSET").await;
        assert_eq!(
            r.code,
            response_code::SUCCESS,
            "GET_MAX_OFFSET {topic}/{queue_id} at {broker_addr}: code {} {:?}",
            r.code,
            r.remark
        );
        GetMaxOffsetResponseHeader::from_command(&r)
            .unwrap_or_else(|e| panic!("GET_MAX_OFFSET response header: {e}"))
            .offset
    }

    /// One PULL_MESSAGE of up to `max` messages from `offset`: the messages and the next
    /// offset (an empty result when there is nothing at `offset`).
    pub async fn pull_once(
        &self,
        broker_addr: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max: i32,
    ) -> Result<(Vec<StoredMessage>, i64), String> {
        let cmd = PullMessageRequestHeader {
            consumer_group: READBACK_GROUP.to_owned(),
            topic: topic.to_owned(),
            queue_id,
            queue_offset: offset,
            max_msg_nums: max,
            sys_flag: PULL_FLAG_SUBSCRIPTION,
            commit_offset: 0,
            suspend_timeout_millis: 0,
            subscription: Some("*".to_owned()),
            sub_version: 0,
            expression_type: Some("TAG".to_owned()),
        }
        .into_request();
        let r = self.call(broker_addr, cmd).await.map_err(|e| {
            format!("PULL_MESSAGE {topic}/{queue_id}@{offset} at {broker_addr}: {e}")
        })?;
        let header = PullMessageResponseHeader::from_command(&r).ok();
        match r.code {
            response_code::SUCCESS => {
                let msgs = decode_stored_messages(&r.body)
                    .map_err(|e| format!("PULL_MESSAGE {topic}/{queue_id}: bad records: {e}"))?;
                let next = header
                    .map(|h| h.next_begin_offset)
                    .unwrap_or(offset + msgs.len() as i64);
                Ok((msgs, next))
            }
            response_code::PULL_NOT_FOUND | response_code::PULL_RETRY_IMMEDIATELY => Ok((
                Vec::new(),
                header.map(|h| h.next_begin_offset).unwrap_or(offset),
            )),
            c => Err(format!(
                "PULL_MESSAGE {topic}/{queue_id}@{offset} at {broker_addr}: code {c} {:?}",
                r.remark
            )),
        }
    }

    /// Every message of one queue from offset 0 up to its current max offset.
    pub async fn pull_queue(
        &self,
        broker_addr: &str,
        topic: &str,
        queue_id: i32,
    ) -> Vec<StoredMessage> {
        let max = self.max_offset(broker_addr, topic, queue_id).await;
        let mut out = Vec::new();
        let mut offset = 0;
        // bounded: each round either advances or stops
        for _ in 0..10_000 {
            if offset >= max {
                break;
            }
            let (msgs, next) = self
                .pull_once(broker_addr, topic, queue_id, offset, 32)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            if msgs.is_empty() && next <= offset {
                panic!(
                    "PULL_MESSAGE {topic}/{queue_id} at {broker_addr}: nothing at offset {offset} \
                     although the max offset is {max}"
                );
            }
            offset = next.max(offset + msgs.len() as i64);
            out.extend(msgs);
        }
        out
    }

    /// Every message of `topic` on one broker (all `queues` queues).
    pub async fn pull_topic(
        &self,
        broker_addr: &str,
        topic: &str,
        queues: i32,
    ) -> Vec<StoredMessage> {
        let mut out = Vec::new();
        for q in 0..queues {
            out.extend(self.pull_queue(broker_addr, topic, q).await);
        }
        out
    }

    // ------------------------------------------------------------------ producer connections

    /// The client ids a broker lists for a producer group (GET_PRODUCER_CONNECTION_LIST);
    /// empty when the broker does not know the group.
    pub async fn producer_clients(&self, broker_addr: &str, group: &str) -> Vec<String> {
        let mut f = ExtFields::new();
        f.push("producerGroup", group);
        let cmd = RemotingCommand::request(GET_PRODUCER_CONNECTION_LIST, f);
        let r = self
            .call_ok(broker_addr, cmd, "GET_PRODUCER_CONNECTION_LIST")
            .await;
        if r.code != response_code::SUCCESS {
            // "the producer group[X] not exist" (code 1)
            return Vec::new();
        }
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
            panic!(
                "GET_PRODUCER_CONNECTION_LIST body does not parse: {e}: {}",
                String::from_utf8_lossy(&r.body)
            )
        });
        v.get("connectionSet")
            .and_then(|s| s.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.get("clientId").and_then(|s| s.as_str()))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits (bounded by `limit`) until `cond(clients of group)` holds on `broker_addr`.
    pub async fn wait_producer_clients(
        &self,
        broker_addr: &str,
        group: &str,
        limit: Duration,
        what: &str,
        cond: impl Fn(&[String]) -> bool,
    ) {
        let start = Instant::now();
        loop {
            let clients = self.producer_clients(broker_addr, group).await;
            if cond(&clients) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "{what}: broker {broker_addr} lists producer group {group} with clients \
                 {clients:?} after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

// ---------------------------------------------------------------------- comparisons

/// Properties the broker or the client adds to a stored message; everything else in a
/// stored message must be a property the test set.
const SYSTEM_ADDED: &[&str] = &[
    property::UNIQ_KEY,
    property::WAIT,
    property::CLUSTER,
    property::MIN_OFFSET,
    property::MAX_OFFSET,
    property::TRACE_ON,
    property::MSG_REGION,
    property::CONSUME_START_TIME,
    "INNER_NUM",
];

/// Asserts that `stored` is `sent`, byte for byte where it matters: topic, flag, body,
/// tags, keys and every property of `sent` (none of them missing or changed, and no
/// user property added), and the producer's id (`UNIQ_KEY`).
pub fn assert_same_message(stored: &StoredMessage, sent: &Message, uniq_key: &str, ctx: &str) {
    assert_same_message_with(stored, sent, uniq_key, &[], ctx)
}

/// [`assert_same_message`] for a committed transactional message: sent with `PGROUP`
/// (`group`); the broker adds the transaction id (the UNIQ_KEY) and, when it checked
/// the transaction, the check count; the prepared mark (`TRAN_MSG`) is gone.
pub fn assert_same_committed_message(
    stored: &StoredMessage,
    sent: &Message,
    uniq_key: &str,
    group: &str,
    ctx: &str,
) {
    let mut expected = sent.clone();
    expected.set_property(property::PGROUP, group);
    assert_same_message_with(
        stored,
        &expected,
        uniq_key,
        &[property::TRANSACTION_ID, property::TRANSACTION_CHECK_TIMES],
        ctx,
    );
    assert_eq!(stored.property(property::TRAN_MSG), None, "{ctx}: TRAN_MSG");
    if let Some(id) = stored.property(property::TRANSACTION_ID) {
        assert_eq!(id, uniq_key, "{ctx}: transaction id");
    }
}

fn assert_same_message_with(
    stored: &StoredMessage,
    sent: &Message,
    uniq_key: &str,
    also_added: &[&str],
    ctx: &str,
) {
    assert_eq!(stored.topic, sent.topic, "{ctx}: topic");
    assert_eq!(stored.flag, sent.flag, "{ctx}: flag");
    assert!(
        stored.body[..] == sent.body[..],
        "{ctx}: body differs: stored {} bytes, sent {} bytes (first difference at {:?})",
        stored.body.len(),
        sent.body.len(),
        stored
            .body
            .iter()
            .zip(sent.body.iter())
            .position(|(a, b)| a != b)
    );
    assert_eq!(stored.tags(), sent.tags(), "{ctx}: tags");
    assert_eq!(stored.keys(), sent.keys(), "{ctx}: keys");
    assert_eq!(stored.uniq_key(), Some(uniq_key), "{ctx}: UNIQ_KEY");
    for (k, v) in sent.properties() {
        if k == property::UNIQ_KEY {
            continue;
        }
        assert_eq!(
            stored.property(k),
            Some(v),
            "{ctx}: property {k:?} (stored properties {:?})",
            stored.properties
        );
    }
    for (k, _) in &stored.properties {
        let known = sent.property(k).is_some()
            || SYSTEM_ADDED.contains(&k.as_str())
            || also_added.contains(&k.as_str());
        assert!(
            known,
            "{ctx}: stored message has a property {k:?} that was not sent (all: {:?})",
            stored.properties
        );
    }
}

/// Asserts that the stored record is where the send result says: queue id, queue offset,
/// store host + commit-log offset (the offset message id).
pub fn assert_at_result(stored: &StoredMessage, result: &SendResult, ctx: &str) {
    assert_eq!(
        stored.queue_id, result.message_queue.queue_id,
        "{ctx}: queue id of the stored record vs the send result"
    );
    assert_eq!(
        stored.queue_offset, result.queue_offset,
        "{ctx}: queue offset of the stored record vs the send result"
    );
    assert_eq!(
        stored.msg_id(),
        result.offset_msg_id,
        "{ctx}: offset msg id of the stored record vs the send result"
    );
}

/// Whether the stored record's body was compressed on the wire / in the store.
pub fn is_compressed(stored: &StoredMessage) -> bool {
    stored.sys_flag & sys_flag::COMPRESSED != 0
}
