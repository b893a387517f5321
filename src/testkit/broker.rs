//! The fake broker: stores sends, answers like RocketMQ-Rust 1.0 (JSON headers,
//! Java response fields), and lets tests look at what it stored.
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::faults::SEND_CODES;
use super::null::{NullReply, NullSend, REGION, null_response, null_send_of};
use super::server::{
    ConnectionId, Outgoing, SERVER_VERSION, ServerCore, ServerHandle, lock, response,
};
use super::{DEFAULT_TOPIC, TestkitError, TopicConfig};
use crate::protocol::ProtocolError;
use crate::protocol::batch::decode_batch_for_topic;
use crate::protocol::codes::{request_code, response_code};
use crate::protocol::command::{ExtFields, RemotingCommand};
use crate::protocol::compression::decompress;
use crate::protocol::headers::{
    CheckTransactionStateRequestHeader, CommandHeader, CreateTopicRequestHeader,
    EndTransactionRequestHeader, GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader,
    ReplyMessageRequestHeader, SendMessageRequestHeader, SendMessageResponseHeader,
    TransactionResolution, UnregisterClientRequestHeader, ViewMessageRequestHeader,
};
use crate::protocol::heartbeat::HeartbeatData;
use crate::protocol::message::{decode_properties, encode_properties, property, sys_flag};
use crate::protocol::message_id::encode_offset_msg_id;
use crate::protocol::route::perm;
use crate::protocol::stored::{DEFAULT_MAX_INFLATED_BODY, encode_stored_message};
use crate::protocol::validation::{
    DEFAULT_MAX_MESSAGE_SIZE, RETRY_TOPIC_PREFIX, is_not_allowed_send_topic,
};

/// Queues of an auto-created topic are capped by TBW102's, 8 on the real servers.
pub(crate) const DEFAULT_TOPIC_QUEUES: i32 = 8;

/// Where a stored message stands in a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TransactionState {
    /// An ordinary message.
    #[default]
    NotTransactional,
    /// A half message (sysFlag PREPARED) not resolved yet.
    Prepared,
    /// Resolved by END_TRANSACTION commit (8).
    Committed,
    /// Resolved by END_TRANSACTION rollback (12).
    RolledBack,
}

/// A message as the test broker stored it.
///
/// Unlike a real broker it keeps half messages under their own topic, and
/// END_TRANSACTION only changes [`BrokerMessage::transaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerMessage {
    /// The broker that stored it.
    pub broker_name: String,
    /// The topic from the send header.
    pub topic: String,
    /// The queue it was stored in.
    pub queue_id: i32,
    /// Its offset in that queue, from 0.
    pub queue_offset: i64,
    /// Its commit-log offset on this broker (second half of `msg_id`).
    pub commit_log_offset: i64,
    /// Offset message id (store host + commit-log offset), as in the send reply.
    pub msg_id: String,
    /// The user `Message.flag`.
    pub flag: i32,
    /// sysFlag as sent (compression, transaction type).
    pub sys_flag: i32,
    /// Properties as received: the header's for a single send, the record's for a batch.
    pub properties: Vec<(String, String)>,
    /// Body as received: still compressed when `sys_flag` has COMPRESSED.
    pub body: Bytes,
    /// The header's `bornTimestamp`, epoch ms.
    pub born_timestamp: i64,
    /// When the test broker stored it, epoch ms.
    pub store_timestamp: i64,
    /// The client's address on the connection it came on.
    pub born_host: SocketAddr,
    /// This broker's address.
    pub store_host: SocketAddr,
    /// The header's `producerGroup`.
    pub producer_group: String,
    /// The header's `reconsumeTimes` (0 when absent).
    pub reconsume_times: i32,
    /// The request that carried it: 10, 310, 320, 324 or 325.
    pub request_code: i32,
    /// The connection the send came on.
    pub connection: ConnectionId,
    /// Its transaction state (END_TRANSACTION updates it).
    pub transaction: TransactionState,
}

impl BrokerMessage {
    /// The value of property `name`, if set.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// The client message id (`UNIQ_KEY`).
    pub fn uniq_key(&self) -> Option<&str> {
        self.property(property::UNIQ_KEY)
    }
    /// The `TAGS` property.
    pub fn tags(&self) -> Option<&str> {
        self.property(property::TAGS)
    }
    /// The `KEYS` property (several keys separated by a space).
    pub fn keys(&self) -> Option<&str> {
        self.property(property::KEYS)
    }
    /// `true` if the body arrived compressed (sysFlag COMPRESSED).
    pub fn is_compressed(&self) -> bool {
        self.sys_flag & sys_flag::COMPRESSED != 0
    }
    /// The body, inflated when it was sent compressed.
    pub fn decompressed_body(&self) -> Result<Bytes, ProtocolError> {
        if self.is_compressed() {
            decompress(&self.body, self.sys_flag, DEFAULT_MAX_INFLATED_BODY)
        } else {
            Ok(self.body.clone())
        }
    }

    /// The protocol's stored-message record (body inflated; a body that does
    /// not inflate is kept raw with the COMPRESSED bit cleared).
    pub fn to_stored(&self) -> crate::protocol::stored::StoredMessage {
        let (body, sys_flag) = match self.decompressed_body() {
            Ok(b) => (b, self.sys_flag),
            Err(_) => (
                self.body.clone(),
                self.sys_flag & !(sys_flag::COMPRESSED | sys_flag::COMPRESSION_TYPE_MASK),
            ),
        };
        crate::protocol::stored::StoredMessage {
            topic: self.topic.clone(),
            queue_id: self.queue_id,
            flag: self.flag,
            queue_offset: self.queue_offset,
            commit_log_offset: self.commit_log_offset,
            sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_timestamp: self.store_timestamp,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: 0,
            body,
            properties: self.properties.clone(),
        }
    }
}

#[derive(Default)]
pub(crate) struct BrokerStore {
    messages: Vec<BrokerMessage>,
    queue_offsets: HashMap<(String, i32), i64>,
    commit_offset: i64,
    heartbeats: usize,
    last_heartbeat: Option<HeartbeatData>,
    unregisters: Vec<UnregisterClientRequestHeader>,
}

pub(crate) struct BrokerCore {
    pub(crate) name: String,
    addr: SocketAddr,
    pub(crate) null_mode: bool,
    /// Precomputed reply of null mode; `None` falls back to building each reply.
    pub(crate) null: Option<Arc<NullReply>>,
    store: Mutex<BrokerStore>,
    sends: AtomicU64,
}

impl BrokerCore {
    pub(crate) fn new(name: String, addr: SocketAddr, null_mode: bool) -> Self {
        BrokerCore {
            name,
            addr,
            null_mode,
            null: if null_mode {
                NullReply::new(addr).map(Arc::new)
            } else {
                None
            },
            store: Mutex::new(BrokerStore::default()),
            sends: AtomicU64::new(0),
        }
    }

    pub(crate) fn is_null_send(&self, cmd: &RemotingCommand) -> bool {
        self.null_mode && SEND_CODES.contains(&cmd.code)
    }

    /// Counts a null-mode send and gives its reply (none for oneway).
    pub(crate) fn null_reply(&self, send: NullSend) -> Option<Outgoing> {
        self.sends.fetch_add(1, Ordering::Relaxed);
        if send.oneway {
            return None;
        }
        Some(match &self.null {
            Some(_) => Outgoing::NullOk(send),
            None => Outgoing::Cmd(null_response(self.addr, send)),
        })
    }
}

// ---------------------------------------------------------------------------
// Request handling
// ---------------------------------------------------------------------------

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn error(req: &RemotingCommand, code: i32, remark: impl Into<String>) -> RemotingCommand {
    response(req, code, Some(remark.into()))
}

fn ok(req: &RemotingCommand, ext: Option<ExtFields>) -> RemotingCommand {
    let mut r = response(req, response_code::SUCCESS, None);
    r.ext_fields = ext;
    r
}

/// Answers one broker request; `None` for oneway requests.
pub(crate) fn handle(
    core: &ServerCore,
    b: &BrokerCore,
    conn: ConnectionId,
    peer: SocketAddr,
    req: &RemotingCommand,
) -> Option<RemotingCommand> {
    use request_code::*;
    let reply = match req.code {
        SEND_MESSAGE
        | SEND_MESSAGE_V2
        | SEND_BATCH_MESSAGE
        | SEND_REPLY_MESSAGE
        | SEND_REPLY_MESSAGE_V2 => {
            b.sends.fetch_add(1, Ordering::Relaxed);
            if b.null_mode {
                // Reached only while fault rules are active; otherwise null_reply answered.
                null_response(core.addr, null_send_of(req))
            } else if matches!(req.code, SEND_REPLY_MESSAGE | SEND_REPLY_MESSAGE_V2) {
                reply(core, b, conn, peer, req)
            } else {
                send(core, b, conn, peer, req)
            }
        }
        HEART_BEAT => heartbeat(core, b, conn, req),
        UNREGISTER_CLIENT => unregister(core, b, req),
        END_TRANSACTION => end_transaction(b, req),
        GET_MAX_OFFSET => max_offset(b, req),
        VIEW_MESSAGE_BY_ID => view_message(b, req),
        UPDATE_AND_CREATE_TOPIC => create_topic(core, b, req),
        code => error(
            req,
            response_code::REQUEST_CODE_NOT_SUPPORTED,
            format!("request type {code} not supported"),
        ),
    };
    (!req.is_oneway()).then_some(reply)
}

/// The topic's config on this broker, auto-creating it from TBW102 when that allows it.
fn topic_config(
    core: &ServerCore,
    b: &BrokerCore,
    h: &SendMessageRequestHeader,
) -> Result<TopicConfig, String> {
    let mut cl = lock(&core.cluster);
    if let Some(c) = cl.topics.get(&h.topic).and_then(|m| m.get(&b.name)) {
        return Ok(*c);
    }
    let template = cl
        .topics
        .get(DEFAULT_TOPIC)
        .and_then(|m| m.get(&b.name))
        .copied()
        .filter(|t| perm::is_inherited(t.perm));
    match template {
        Some(t) => {
            let n = h.default_topic_queue_nums.min(t.write_queues).max(1);
            let c = TopicConfig {
                read_queues: n,
                write_queues: n,
                perm: t.perm & !perm::INHERIT,
            };
            cl.topics
                .entry(h.topic.clone())
                .or_default()
                .insert(b.name.clone(), c);
            Ok(c)
        }
        None => Err(format!("topic[{}] not exist, apply first please!", h.topic)),
    }
}

/// Size of the record a real commit log would write (IPv4 hosts), so offsets look real.
fn record_len(topic: &str, body: usize, props: &[(String, String)]) -> i64 {
    let props: usize = props.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    (4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + body + 1 + topic.len() + 2 + props)
        as i64
}

/// One message to store: flag, properties, body.
type Record = (i32, Vec<(String, String)>, Bytes);

fn send(
    core: &ServerCore,
    b: &BrokerCore,
    conn: ConnectionId,
    peer: SocketAddr,
    req: &RemotingCommand,
) -> RemotingCommand {
    use response_code::*;
    let h = match SendMessageRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return error(req, SYSTEM_ERROR, e.to_string()),
    };
    let batch = req.code == request_code::SEND_BATCH_MESSAGE || h.batch;
    if is_not_allowed_send_topic(&h.topic) {
        return error(
            req,
            NO_PERMISSION,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        );
    }
    if req.body.len() > DEFAULT_MAX_MESSAGE_SIZE {
        return error(
            req,
            MESSAGE_ILLEGAL,
            format!(
                "message body size {} exceeds the configured maximum {DEFAULT_MAX_MESSAGE_SIZE}",
                req.body.len()
            ),
        );
    }
    let conf = match topic_config(core, b, &h) {
        Ok(c) => c,
        Err(remark) => return error(req, TOPIC_NOT_EXIST, remark),
    };
    if !perm::is_writeable(conf.perm) {
        return error(
            req,
            NO_PERMISSION,
            format!("the topic[{}] sending message is forbidden", h.topic),
        );
    }
    if conf.write_queues <= 0 {
        return error(
            req,
            SYSTEM_ERROR,
            format!("topic[{}] has no write queue", h.topic),
        );
    }
    let queue_id = if h.queue_id < 0 {
        (rand::random::<u32>() % conf.write_queues as u32) as i32
    } else {
        h.queue_id
    };
    if queue_id >= conf.write_queues {
        return error(
            req,
            SYSTEM_ERROR,
            format!(
                "request queueId[{queue_id}] is illegal, topic[{}] writeQueueNums {}",
                h.topic, conf.write_queues
            ),
        );
    }
    let header_props = h
        .properties
        .as_deref()
        .map(decode_properties)
        .unwrap_or_default();
    let tx_type = sys_flag::transaction_type(h.sys_flag);
    let records: Vec<Record> = if batch {
        if tx_type != sys_flag::TRANSACTION_NOT_TYPE {
            return error(
                req,
                MESSAGE_ILLEGAL,
                "batch message does not support transaction",
            );
        }
        if h.topic.starts_with(RETRY_TOPIC_PREFIX) {
            return error(
                req,
                MESSAGE_ILLEGAL,
                "batch request does not support retry group",
            );
        }
        match decode_batch_for_topic(&req.body, &h.topic) {
            Ok(msgs) if msgs.is_empty() => return error(req, MESSAGE_ILLEGAL, "empty batch"),
            Ok(msgs) => msgs
                .into_iter()
                .map(|m| (m.flag, m.properties_owned(), m.body))
                .collect(),
            Err(e) => return error(req, SYSTEM_ERROR, e.to_string()),
        }
    } else {
        vec![(h.flag, header_props.clone(), req.body.clone())]
    };
    let transaction = if tx_type == sys_flag::TRANSACTION_PREPARED_TYPE && !batch {
        TransactionState::Prepared
    } else {
        TransactionState::NotTransactional
    };
    let store_timestamp = now_ms();
    let mut ids = Vec::with_capacity(records.len());
    let mut first_offset = None;
    {
        let mut st = lock(&b.store);
        for (flag, properties, body) in records {
            let slot = st
                .queue_offsets
                .entry((h.topic.clone(), queue_id))
                .or_insert(0);
            let queue_offset = *slot;
            *slot += 1;
            let commit_log_offset = st.commit_offset;
            st.commit_offset += record_len(&h.topic, body.len(), &properties);
            let msg_id = encode_offset_msg_id(core.addr, commit_log_offset);
            first_offset.get_or_insert(queue_offset);
            ids.push(msg_id.clone());
            st.messages.push(BrokerMessage {
                broker_name: b.name.clone(),
                topic: h.topic.clone(),
                queue_id,
                queue_offset,
                commit_log_offset,
                msg_id,
                flag,
                sys_flag: h.sys_flag,
                properties,
                body,
                born_timestamp: h.born_timestamp,
                store_timestamp,
                born_host: peer,
                store_host: core.addr,
                producer_group: h.producer_group.clone(),
                reconsume_times: h.reconsume_times.unwrap_or(0),
                request_code: req.code,
                connection: conn,
                transaction,
            });
        }
    }
    let uniq_key = header_props
        .iter()
        .find(|(k, _)| k == property::UNIQ_KEY)
        .map(|(_, v)| v.clone());
    let header = SendMessageResponseHeader {
        msg_id: ids.join(","),
        queue_id,
        queue_offset: first_offset.unwrap_or(0),
        transaction_id: uniq_key,
        region: Some(REGION.to_owned()),
        trace_on: Some(true),
        ..Default::default()
    };
    ok(req, Some(header.to_ext_fields()))
}

/// SEND_REPLY_MESSAGE(_V2), as the Java `ReplyMessageProcessor`: stores the
/// reply, then pushes it (PUSH_REPLY_MESSAGE_TO_CLIENT) to the connection that
/// heartbeated as its `REPLY_TO_CLIENT`; SYSTEM_ERROR when there is none.
fn reply(
    core: &ServerCore,
    b: &BrokerCore,
    conn: ConnectionId,
    peer: SocketAddr,
    req: &RemotingCommand,
) -> RemotingCommand {
    let stored = send(core, b, conn, peer, req);
    if stored.code != response_code::SUCCESS {
        return stored;
    }
    let Ok(h) = SendMessageRequestHeader::from_command(req) else {
        return stored;
    };
    let mut properties = decode_properties(h.properties.as_deref().unwrap_or_default());
    let client = properties
        .iter()
        .find(|(k, _)| k == property::REPLY_TO_CLIENT)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    properties.push((property::PUSH_REPLY_TIME.into(), now_ms().to_string()));
    let push = ReplyMessageRequestHeader {
        producer_group: h.producer_group,
        topic: h.topic,
        default_topic: h.default_topic,
        default_topic_queue_nums: h.default_topic_queue_nums,
        queue_id: h.queue_id,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        flag: h.flag,
        properties: Some(encode_properties(
            properties.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )),
        reconsume_times: h.reconsume_times,
        unit_mode: h.unit_mode,
        born_host: peer.to_string(),
        store_host: core.addr.to_string(),
        store_timestamp: now_ms(),
    };
    let mut cmd = RemotingCommand::request(
        request_code::PUSH_REPLY_MESSAGE_TO_CLIENT,
        push.to_ext_fields(),
    )
    .with_body(req.body.clone());
    cmd.version = SERVER_VERSION;
    if core.request_client(&client, cmd) {
        stored
    } else {
        error(
            req,
            response_code::SYSTEM_ERROR,
            format!("push reply message fail, channel of <{client}> not found."),
        )
    }
}

fn heartbeat(
    core: &ServerCore,
    b: &BrokerCore,
    conn: ConnectionId,
    req: &RemotingCommand,
) -> RemotingCommand {
    let hb = match HeartbeatData::decode(&req.body) {
        Ok(hb) => hb,
        // What RocketMQ-Rust 1.0 answers for a body it cannot read.
        Err(e) => {
            return error(
                req,
                response_code::SYSTEM_ERROR,
                format!("Serialization failed: {e}"),
            );
        }
    };
    if let Some(c) = lock(&core.state).conns.get_mut(&conn) {
        c.client_id = Some(hb.client_id.clone());
        c.groups = hb
            .producer_data_set
            .iter()
            .map(|p| p.group_name.clone())
            .collect();
    }
    {
        let mut st = lock(&b.store);
        st.heartbeats += 1;
        st.last_heartbeat = Some(hb);
    }
    let mut ext = ExtFields::with_capacity(2);
    ext.push("IS_SUPPORT_HEART_BEAT_V2", "true");
    ext.push("IS_SUB_CHANGE", "false");
    ok(req, Some(ext))
}

fn unregister(core: &ServerCore, b: &BrokerCore, req: &RemotingCommand) -> RemotingCommand {
    let h = match UnregisterClientRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return error(req, response_code::SYSTEM_ERROR, e.to_string()),
    };
    if let Some(group) = &h.producer_group {
        for c in lock(&core.state).conns.values_mut() {
            if c.client_id.as_deref() == Some(h.client_id.as_str()) {
                c.groups.remove(group);
            }
        }
    }
    lock(&b.store).unregisters.push(h);
    ok(req, None)
}

fn end_transaction(b: &BrokerCore, req: &RemotingCommand) -> RemotingCommand {
    use response_code::SYSTEM_ERROR;
    let h = match EndTransactionRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return error(req, SYSTEM_ERROR, e.to_string()),
    };
    let mut st = lock(&b.store);
    let Some(m) = st
        .messages
        .iter_mut()
        .find(|m| m.commit_log_offset == h.commit_log_offset)
    else {
        return error(
            req,
            SYSTEM_ERROR,
            "Find prepared transaction message failed",
        );
    };
    // The checks of the Java EndTransactionProcessor.
    if m.transaction != TransactionState::Prepared {
        return error(
            req,
            SYSTEM_ERROR,
            "the message is not an unresolved half message",
        );
    }
    if m.property(property::PGROUP) != Some(h.producer_group.as_str()) {
        return error(req, SYSTEM_ERROR, "The producer group wrong");
    }
    if m.queue_offset != h.tran_state_table_offset {
        return error(
            req,
            SYSTEM_ERROR,
            "The transaction state table offset wrong",
        );
    }
    match h.commit_or_rollback {
        TransactionResolution::Commit => m.transaction = TransactionState::Committed,
        TransactionResolution::Rollback => m.transaction = TransactionState::RolledBack,
        TransactionResolution::Unknown => {}
    }
    ok(req, None)
}

fn max_offset(b: &BrokerCore, req: &RemotingCommand) -> RemotingCommand {
    match GetMaxOffsetRequestHeader::from_command(req) {
        Ok(h) => {
            let offset = lock(&b.store)
                .queue_offsets
                .get(&(h.topic, h.queue_id))
                .copied()
                .unwrap_or(0);
            ok(
                req,
                Some(GetMaxOffsetResponseHeader { offset }.to_ext_fields()),
            )
        }
        Err(e) => error(req, response_code::SYSTEM_ERROR, e.to_string()),
    }
}

fn view_message(b: &BrokerCore, req: &RemotingCommand) -> RemotingCommand {
    use response_code::SYSTEM_ERROR;
    let h = match ViewMessageRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return error(req, SYSTEM_ERROR, e.to_string()),
    };
    let found = lock(&b.store)
        .messages
        .iter()
        .find(|m| m.commit_log_offset == h.offset)
        .map(BrokerMessage::to_stored);
    match found.map(|m| encode_stored_message(&m)) {
        Some(Ok(body)) => ok(req, None).with_body(body),
        Some(Err(e)) => error(req, SYSTEM_ERROR, e.to_string()),
        None => error(
            req,
            SYSTEM_ERROR,
            format!("can not find message by the offset, {}", h.offset),
        ),
    }
}

fn create_topic(core: &ServerCore, b: &BrokerCore, req: &RemotingCommand) -> RemotingCommand {
    let h = match CreateTopicRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return error(req, response_code::SYSTEM_ERROR, e.to_string()),
    };
    if h.topic.is_empty() || h.read_queue_nums < 0 || h.write_queue_nums < 0 {
        return error(
            req,
            response_code::INVALID_PARAMETER,
            "invalid topic or queue numbers",
        );
    }
    lock(&core.cluster)
        .topics
        .entry(h.topic)
        .or_default()
        .insert(
            b.name.clone(),
            TopicConfig {
                read_queues: h.read_queue_nums,
                write_queues: h.write_queue_nums,
                perm: h.perm,
            },
        );
    ok(req, None)
}

// ---------------------------------------------------------------------------
// Public handle
// ---------------------------------------------------------------------------

/// Controls and observes one test broker; derefs to its [`ServerHandle`]
/// (faults, freeze, stop/start, captured frames, server-initiated requests).
#[derive(Clone)]
pub struct BrokerHandle {
    pub(crate) server: ServerHandle,
    pub(crate) broker: Arc<BrokerCore>,
}

impl fmt::Debug for BrokerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerHandle")
            .field("name", &self.broker.name)
            .field("addr", &self.server.socket_addr())
            .finish_non_exhaustive()
    }
}

impl Deref for BrokerHandle {
    type Target = ServerHandle;
    fn deref(&self) -> &ServerHandle {
        &self.server
    }
}

impl BrokerHandle {
    /// The broker name, as in routes.
    pub fn name(&self) -> &str {
        &self.broker.name
    }

    /// Messages stored for `topic`, in store order.
    pub fn messages(&self, topic: &str) -> Vec<BrokerMessage> {
        lock(&self.broker.store)
            .messages
            .iter()
            .filter(|m| m.topic == topic)
            .cloned()
            .collect()
    }

    /// Every stored message, all topics, in store order.
    pub fn all_messages(&self) -> Vec<BrokerMessage> {
        lock(&self.broker.store).messages.clone()
    }

    /// The message stored at this commit-log offset (the second half of an offset msg id).
    pub fn message_at(&self, commit_log_offset: i64) -> Option<BrokerMessage> {
        lock(&self.broker.store)
            .messages
            .iter()
            .find(|m| m.commit_log_offset == commit_log_offset)
            .cloned()
    }

    /// Send requests answered (in null mode too, where nothing is stored).
    pub fn send_requests(&self) -> u64 {
        self.broker.sends.load(Ordering::Relaxed)
    }

    /// Heartbeats with a readable body.
    pub fn heartbeats(&self) -> usize {
        lock(&self.broker.store).heartbeats
    }

    /// The body of the last readable heartbeat, if any.
    pub fn last_heartbeat(&self) -> Option<HeartbeatData> {
        lock(&self.broker.store).last_heartbeat.clone()
    }

    /// UNREGISTER_CLIENT headers received, in order.
    pub fn unregisters(&self) -> Vec<UnregisterClientRequestHeader> {
        lock(&self.broker.store).unregisters.clone()
    }

    /// END_TRANSACTION headers received (undecodable ones skipped).
    pub fn end_transactions(&self) -> Vec<EndTransactionRequestHeader> {
        self.received_with_code(request_code::END_TRANSACTION)
            .iter()
            .filter_map(|r| EndTransactionRequestHeader::from_command(&r.command).ok())
            .collect()
    }

    /// Next offset of a queue (what GET_MAX_OFFSET answers).
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        lock(&self.broker.store)
            .queue_offsets
            .get(&(topic.to_owned(), queue_id))
            .copied()
            .unwrap_or(0)
    }

    /// The newest open connection that heartbeated with producer group `group`.
    pub fn connection_for_group(&self, group: &str) -> Option<ConnectionId> {
        lock(&self.server.core.state)
            .conns
            .iter()
            .rev()
            .find(|(_, c)| c.groups.contains(group))
            .map(|(id, _)| *id)
    }

    /// Sends a oneway request to the connection of `group`, as the broker
    /// picks the channel for CHECK_TRANSACTION_STATE.
    pub fn send_to_group(
        &self,
        group: &str,
        cmd: RemotingCommand,
    ) -> Result<ConnectionId, TestkitError> {
        let conn = self
            .connection_for_group(group)
            .ok_or_else(|| TestkitError::NoConnectionForGroup(group.to_owned()))?;
        self.send_oneway(conn, cmd)?;
        Ok(conn)
    }

    /// Sends CHECK_TRANSACTION_STATE for a stored half message to a connection
    /// of its producer group (`PGROUP`), header and body as the real broker
    /// builds them. The client's END_TRANSACTION shows up in
    /// [`end_transactions`](Self::end_transactions).
    pub fn check_transaction(&self, msg: &BrokerMessage) -> Result<ConnectionId, TestkitError> {
        let group = msg
            .property(property::PGROUP)
            .unwrap_or(&msg.producer_group)
            .to_owned();
        let header = CheckTransactionStateRequestHeader {
            tran_state_table_offset: msg.queue_offset,
            commit_log_offset: msg.commit_log_offset,
            msg_id: msg.uniq_key().map(str::to_owned),
            transaction_id: msg.uniq_key().map(str::to_owned),
            offset_msg_id: Some(msg.msg_id.clone()),
            topic: Some(msg.topic.clone()),
            broker_name: Some(self.broker.name.clone()),
        };
        let body = encode_stored_message(&msg.to_stored())?;
        let mut cmd = RemotingCommand::request(
            request_code::CHECK_TRANSACTION_STATE,
            header.to_ext_fields(),
        )
        .with_body(body);
        cmd.version = SERVER_VERSION;
        self.send_to_group(&group, cmd)
    }
}
