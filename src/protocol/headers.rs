//! Typed request and response headers, converted to and from `extFields`.
//!
//! Keys and required-ness follow the Java header classes (`@CFNotNull` = required):
//! a missing required key is [`ProtocolError::MissingField`], a value that does not
//! parse is [`ProtocolError::InvalidField`]; optional fields absent stay `None`.
use std::str::FromStr;

use bytes::BytesMut;

use super::codes::SerializeType;
use super::codes::request_code;
use super::command::{EncodedFields, ExtFields, RemotingCommand};
use super::error::ProtocolError;
use super::message::Message;
use super::serialize::FieldWriter;

/// A header that maps to and from the `extFields` of a [`RemotingCommand`].
pub trait CommandHeader: Sized {
    /// Encodes the header as extFields (Java field names; absent optional fields omitted).
    fn to_ext_fields(&self) -> ExtFields;
    /// Decodes the header from extFields, checking required keys and value syntax.
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError>;

    /// Decodes the header of `cmd`; a command without extFields is treated as empty.
    fn from_command(cmd: &RemotingCommand) -> Result<Self, ProtocolError> {
        match &cmd.ext_fields {
            Some(f) => Self::from_ext_fields(f),
            None => Self::from_ext_fields(&ExtFields::new()),
        }
    }
}

// ---------------------------------------------------------------------------
// Field helpers
// ---------------------------------------------------------------------------

fn req<'a>(f: &'a ExtFields, key: &'static str) -> Result<&'a str, ProtocolError> {
    f.get(key).ok_or(ProtocolError::MissingField(key))
}

fn parse<T: FromStr>(key: &'static str, v: &str) -> Result<T, ProtocolError> {
    v.parse().map_err(|_| ProtocolError::InvalidField {
        field: key,
        value: v.to_owned(),
    })
}

// Java's Boolean.parseBoolean ignores case; anything but true/false is rejected here.
fn parse_bool(key: &'static str, v: &str) -> Result<bool, ProtocolError> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ProtocolError::InvalidField {
            field: key,
            value: v.to_owned(),
        })
    }
}

fn req_str(f: &ExtFields, key: &'static str) -> Result<String, ProtocolError> {
    req(f, key).map(str::to_owned)
}

fn opt_str(f: &ExtFields, key: &'static str) -> Option<String> {
    f.get(key).map(str::to_owned)
}

fn required<'a>(key: &'static str, v: Option<&'a str>) -> Result<&'a str, ProtocolError> {
    v.ok_or(ProtocolError::MissingField(key))
}

fn req_num<T: FromStr>(f: &ExtFields, key: &'static str) -> Result<T, ProtocolError> {
    parse(key, req(f, key)?)
}

fn opt_num<T: FromStr>(f: &ExtFields, key: &'static str) -> Result<Option<T>, ProtocolError> {
    f.get(key).map(|v| parse(key, v)).transpose()
}

fn req_bool(f: &ExtFields, key: &'static str) -> Result<bool, ProtocolError> {
    parse_bool(key, req(f, key)?)
}

fn opt_bool(f: &ExtFields, key: &'static str) -> Result<Option<bool>, ProtocolError> {
    f.get(key).map(|v| parse_bool(key, v)).transpose()
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn push_opt_str(f: &mut ExtFields, key: &'static str, v: &Option<String>) {
    if let Some(v) = v {
        f.push(key, v.as_str());
    }
}

fn push_opt_num<T: ToString>(f: &mut ExtFields, key: &'static str, v: Option<T>) {
    if let Some(v) = v {
        f.push(key, v.to_string());
    }
}

fn push_opt_bool(f: &mut ExtFields, key: &'static str, v: Option<bool>) {
    if let Some(v) = v {
        f.push(key, bool_str(v));
    }
}

// ---------------------------------------------------------------------------
// GET_ROUTEINFO_BY_TOPIC (105)
// ---------------------------------------------------------------------------

/// Request header of GET_ROUTEINFO_BY_TOPIC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetRouteInfoRequestHeader {
    /// The topic whose route is wanted (`topic`, required).
    pub topic: String,
    /// 4.9.4+: ask for standard JSON (quoted map keys) in the reply.
    pub accept_standard_json_only: Option<bool>,
}

impl GetRouteInfoRequestHeader {
    /// A route request for `topic`, without `acceptStandardJsonOnly`.
    pub fn new(topic: impl Into<String>) -> Self {
        GetRouteInfoRequestHeader {
            topic: topic.into(),
            accept_standard_json_only: None,
        }
    }
    /// A GET_ROUTEINFO_BY_TOPIC (105) request for the name server.
    pub fn into_request(self) -> RemotingCommand {
        RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC, self.to_ext_fields())
    }
}

impl CommandHeader for GetRouteInfoRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(2);
        f.push("topic", self.topic.as_str());
        push_opt_bool(
            &mut f,
            "acceptStandardJsonOnly",
            self.accept_standard_json_only,
        );
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(GetRouteInfoRequestHeader {
            topic: req_str(f, "topic")?,
            accept_standard_json_only: opt_bool(f, "acceptStandardJsonOnly")?,
        })
    }
}

// ---------------------------------------------------------------------------
// SEND_MESSAGE (10) / SEND_MESSAGE_V2 (310) / SEND_BATCH_MESSAGE (320)
// ---------------------------------------------------------------------------

/// Key names of one send-header form; index i of both tables is the same field.
const SEND_V1_KEYS: [&str; 14] = [
    "producerGroup",
    "topic",
    "defaultTopic",
    "defaultTopicQueueNums",
    "queueId",
    "sysFlag",
    "bornTimestamp",
    "flag",
    "properties",
    "reconsumeTimes",
    "unitMode",
    "maxReconsumeTimes",
    "batch",
    "bname",
];
const SEND_V2_KEYS: [&str; 14] = [
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
];
/// The 5.x base-class broker-name key, carried by both forms.
const BNAME: &str = "bname";

/// Request header of a send (V1 long keys or V2 one-letter keys on the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendMessageRequestHeader {
    /// The sending producer group (`producerGroup` / `a`, required).
    pub producer_group: String,
    /// The target topic, namespaced if a namespace is used (`topic` / `b`, required).
    pub topic: String,
    /// Auto-create template topic, `TBW102`.
    pub default_topic: String,
    /// Queue count for an auto-created topic (`defaultTopicQueueNums` / `d`); Java sends 4.
    pub default_topic_queue_nums: i32,
    /// Negative: the broker picks a queue.
    pub queue_id: i32,
    /// Message sysFlag bits: compression and transaction type (`sysFlag` / `f`).
    pub sys_flag: i32,
    /// When this attempt was made, ms since the epoch (`bornTimestamp` / `g`).
    pub born_timestamp: i64,
    /// User `Message.flag`.
    pub flag: i32,
    /// The encoded properties string (`name\u{1}value\u{2}` pairs; `properties` / `i`).
    pub properties: Option<String>,
    /// Redelivery count, 0 for fresh messages (`reconsumeTimes` / `j`).
    pub reconsume_times: Option<i32>,
    /// Always sent, as 4.x Java clients (primitive field) do.
    pub unit_mode: bool,
    /// Redelivery limit, set only for retry topics (`maxReconsumeTimes` / `l`).
    pub max_reconsume_times: Option<i32>,
    /// Always sent: `true` is what makes the broker treat the body as a batch.
    pub batch: bool,
    /// Broker name: `bname` in V1; both `bname` and `n` in V2, as real 5.x clients send.
    pub broker_name: Option<String>,
}

impl SendMessageRequestHeader {
    /// The V2 fields a message keeps across attempts, encoded once in `ty`: all
    /// but the queue id (`e`), born timestamp (`g`) and broker name (`n`, `bname`),
    /// which [`Self::attempt_fields_v2`] adds per attempt. Written straight from
    /// the struct: no per-field strings.
    pub fn encode_fixed_fields_v2(&self, ty: SerializeType) -> EncodedFields {
        let static_fields = self.encode_static_fields_v2(ty);
        let extra = self.properties.as_ref().map_or(0, |p| p.len() * 6 + 16);
        let mut arena = BytesMut::new();
        let mut w = FieldWriter::after_in(&mut arena, &static_fields, extra);
        if let Some(p) = &self.properties {
            w.str(SEND_V2_KEYS[8], p);
        }
        w.finish_in(&mut arena)
    }

    /// The fixed V2 fields but the properties (`i`): what depends only on the
    /// producer, the topic and the flags, so a producer encodes it once per topic.
    pub fn encode_static_fields_v2(&self, ty: SerializeType) -> EncodedFields {
        let k = &SEND_V2_KEYS;
        let mut w = FieldWriter::new(ty, 96 + self.topic.len() + self.producer_group.len());
        w.str(k[0], &self.producer_group);
        w.str(k[1], &self.topic);
        w.str(k[2], &self.default_topic);
        w.int(k[3], self.default_topic_queue_nums as i64);
        w.int(k[5], self.sys_flag as i64);
        w.int(k[7], self.flag as i64);
        if let Some(r) = self.reconsume_times {
            w.int(k[9], r as i64);
        }
        w.str(k[10], bool_str(self.unit_mode));
        if let Some(m) = self.max_reconsume_times {
            w.int(k[11], m as i64);
        }
        w.str(k[12], bool_str(self.batch));
        w.finish()
    }

    /// The V2 fields that depend only on the queue an attempt goes to: its id
    /// (`e`) and its broker's name (`n`, `bname`). A producer encodes them once
    /// per queue and adds them to every attempt there.
    pub fn encode_queue_fields_v2(
        ty: SerializeType,
        queue_id: i32,
        broker_name: &str,
    ) -> EncodedFields {
        let mut w = FieldWriter::new(ty, 48 + 12 * broker_name.len());
        w.int(SEND_V2_KEYS[4], queue_id as i64);
        w.str(SEND_V2_KEYS[13], broker_name);
        w.str(BNAME, broker_name);
        w.finish()
    }

    /// A V2 attempt's fields when they are encoded once for many attempts
    /// (`fixed`, see [`Self::encode_fixed_fields_v2`]): those plus this
    /// attempt's born timestamp and its queue's fields (see
    /// [`Self::encode_queue_fields_v2`]), in one buffer.
    pub fn attempt_fields_v2(
        arena: &mut BytesMut,
        fixed: &EncodedFields,
        queue_fields: &EncodedFields,
        born_timestamp: i64,
    ) -> ExtFields {
        let mut w = FieldWriter::after_in(arena, fixed, 32 + queue_fields.bytes.len());
        Self::put_attempt_v2(&mut w, queue_fields, born_timestamp);
        ExtFields::with_encoded(w.finish_in(arena), 0)
    }

    /// A V2 attempt's fields for one message, all in one buffer: `static_fields`
    /// (see [`Self::encode_static_fields_v2`]), the message's properties, then
    /// this attempt's born timestamp and its queue's fields. Encoded in
    /// `arena`'s spare room and split off, so many headers share one
    /// allocation; the shared fields are copied once, not kept per message.
    pub fn message_attempt_fields_v2(
        arena: &mut BytesMut,
        static_fields: &EncodedFields,
        message: &Message,
        queue_fields: &EncodedFields,
        born_timestamp: i64,
    ) -> ExtFields {
        let len = message.encoded_properties_len();
        // JSON escapes the separators (6 bytes each): reserve for the worst case there.
        let extra = 48
            + queue_fields.bytes.len()
            + match static_fields.ty {
                SerializeType::Json => 6 * len,
                SerializeType::RocketMq => len,
            };
        let mut w = FieldWriter::after_in(arena, static_fields, extra);
        w.properties(SEND_V2_KEYS[8], message.properties(), len);
        Self::put_attempt_v2(&mut w, queue_fields, born_timestamp);
        ExtFields::with_encoded(w.finish_in(arena), 0)
    }

    fn put_attempt_v2(w: &mut FieldWriter, queue_fields: &EncodedFields, born_timestamp: i64) {
        w.int(SEND_V2_KEYS[6], born_timestamp);
        w.encoded(queue_fields);
    }

    /// The long-key form used by SEND_MESSAGE (10) and SEND_REPLY_MESSAGE (324).
    pub fn to_ext_fields_v1(&self) -> ExtFields {
        self.write(&SEND_V1_KEYS, false)
    }

    /// The one-letter form used by codes 310, 320 and 325.
    ///
    /// The broker name goes out as both `n` (V2 field) and `bname` (5.x base-class
    /// field), exactly like the captured rocketmq-client-rust frames.
    pub fn to_ext_fields_v2(&self) -> ExtFields {
        self.write(&SEND_V2_KEYS, true)
    }

    fn write(&self, keys: &[&'static str; 14], both_bname: bool) -> ExtFields {
        let mut f = ExtFields::with_capacity(15);
        f.push(keys[0], self.producer_group.as_str());
        f.push(keys[1], self.topic.as_str());
        f.push(keys[2], self.default_topic.as_str());
        f.push(keys[3], self.default_topic_queue_nums.to_string());
        f.push(keys[4], self.queue_id.to_string());
        f.push(keys[5], self.sys_flag.to_string());
        f.push(keys[6], self.born_timestamp.to_string());
        f.push(keys[7], self.flag.to_string());
        push_opt_str(&mut f, keys[8], &self.properties);
        push_opt_num(&mut f, keys[9], self.reconsume_times);
        f.push(keys[10], bool_str(self.unit_mode));
        push_opt_num(&mut f, keys[11], self.max_reconsume_times);
        f.push(keys[12], bool_str(self.batch));
        if let Some(b) = &self.broker_name {
            f.push(keys[13], b.as_str());
            if both_bname {
                f.push(BNAME, b.as_str());
            }
        }
        f
    }

    /// True when the one-letter (V2) form should be used for `code`.
    pub fn uses_v2(code: i32) -> bool {
        !matches!(
            code,
            request_code::SEND_MESSAGE | request_code::SEND_REPLY_MESSAGE
        )
    }

    /// A send request for `code`, in the header form that code requires; the caller adds the body.
    pub fn to_request(&self, code: i32) -> RemotingCommand {
        let f = if Self::uses_v2(code) {
            self.to_ext_fields_v2()
        } else {
            self.to_ext_fields_v1()
        };
        RemotingCommand::request(code, f)
    }

    fn read(f: &ExtFields, keys: &[&'static str; 14]) -> Result<Self, ProtocolError> {
        let broker_name = opt_str(f, keys[13]).or_else(|| opt_str(f, BNAME));
        Ok(SendMessageRequestHeader {
            producer_group: req_str(f, keys[0])?,
            topic: req_str(f, keys[1])?,
            default_topic: req_str(f, keys[2])?,
            default_topic_queue_nums: req_num(f, keys[3])?,
            queue_id: req_num(f, keys[4])?,
            sys_flag: req_num(f, keys[5])?,
            born_timestamp: req_num(f, keys[6])?,
            flag: req_num(f, keys[7])?,
            properties: opt_str(f, keys[8]),
            reconsume_times: opt_num(f, keys[9])?,
            unit_mode: opt_bool(f, keys[10])?.unwrap_or(false),
            max_reconsume_times: opt_num(f, keys[11])?,
            batch: opt_bool(f, keys[12])?.unwrap_or(false),
            broker_name,
        })
    }
}

impl CommandHeader for SendMessageRequestHeader {
    /// The V1 (long-key) form; see [`SendMessageRequestHeader::to_ext_fields_v2`].
    fn to_ext_fields(&self) -> ExtFields {
        self.to_ext_fields_v1()
    }

    /// Accepts either form: one-letter keys when `a`/`b` are present without `producerGroup`/`topic`.
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        let v1 = f.get("producerGroup").is_some() || f.get("topic").is_some();
        let v2 = f.get("a").is_some() || f.get("b").is_some();
        if v2 && !v1 {
            Self::read(f, &SEND_V2_KEYS)
        } else {
            Self::read(f, &SEND_V1_KEYS)
        }
    }
}

/// Response header of a send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendMessageResponseHeader {
    /// Broker offset message id; comma-separated list for a batch.
    pub msg_id: String,
    /// The queue the message was stored in (`queueId`, required).
    pub queue_id: i32,
    /// First message's offset for a batch.
    pub queue_offset: i64,
    /// The message's UNIQ_KEY.
    pub transaction_id: Option<String>,
    /// 5.0+: the batch wrapper's UNIQ_KEY, set only for inner-batch topics (`batchUniqId`).
    pub batch_uniq_id: Option<String>,
    /// 5.3.2+: handle for RECALL_MESSAGE of a timer message (`recallHandle`).
    pub recall_handle: Option<String>,
    /// Broker-added `MSG_REGION` (Java `SendResult.regionId`).
    pub region: Option<String>,
    /// Broker-added `TRACE_ON` (Java `SendResult.traceOn`).
    pub trace_on: Option<bool>,
}

impl CommandHeader for SendMessageResponseHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(8);
        push_opt_str(&mut f, "MSG_REGION", &self.region);
        push_opt_bool(&mut f, "TRACE_ON", self.trace_on);
        f.push("msgId", self.msg_id.as_str());
        f.push("queueId", self.queue_id.to_string());
        f.push("queueOffset", self.queue_offset.to_string());
        push_opt_str(&mut f, "transactionId", &self.transaction_id);
        push_opt_str(&mut f, "batchUniqId", &self.batch_uniq_id);
        push_opt_str(&mut f, "recallHandle", &self.recall_handle);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        // One pass (the reply path runs once per send); the first of a repeated key wins, as in `get`.
        let mut v: [Option<&str>; 8] = [None; 8];
        for (key, value) in f.iter() {
            let i = match key {
                "msgId" => 0,
                "queueId" => 1,
                "queueOffset" => 2,
                "transactionId" => 3,
                "batchUniqId" => 4,
                "recallHandle" => 5,
                "MSG_REGION" => 6,
                "TRACE_ON" => 7,
                _ => continue,
            };
            v[i].get_or_insert(value);
        }
        let [
            msg_id,
            queue_id,
            queue_offset,
            transaction_id,
            batch_uniq_id,
            recall_handle,
            region,
            trace_on,
        ] = v;
        Ok(SendMessageResponseHeader {
            msg_id: msg_id
                .ok_or(ProtocolError::MissingField("msgId"))?
                .to_owned(),
            queue_id: parse("queueId", required("queueId", queue_id)?)?,
            queue_offset: parse("queueOffset", required("queueOffset", queue_offset)?)?,
            transaction_id: transaction_id.map(str::to_owned),
            batch_uniq_id: batch_uniq_id.map(str::to_owned),
            recall_handle: recall_handle.map(str::to_owned),
            region: region.map(str::to_owned),
            // Lenient like Java's Boolean.parseBoolean: it only decorates the result.
            trace_on: trace_on.map(|v| v.eq_ignore_ascii_case("true")),
        })
    }
}

impl SendMessageResponseHeader {
    /// The header of a reply whose code says the message is stored, decoded as
    /// far as it goes: a missing `msgId` is empty, an unreadable `queueId` is
    /// `queue_id` (the queue it was sent to) and an unreadable `queueOffset` -1.
    /// The error says what did not decode (`None` when everything did).
    pub fn from_stored_reply(
        cmd: &RemotingCommand,
        queue_id: i32,
    ) -> (Self, Option<ProtocolError>) {
        match Self::from_command(cmd) {
            Ok(h) => (h, None),
            Err(e) => {
                let num = |k| cmd.ext(k).and_then(|v: &str| v.trim().parse().ok());
                let header = SendMessageResponseHeader {
                    msg_id: cmd.ext("msgId").unwrap_or_default().to_owned(),
                    queue_id: num("queueId").map_or(queue_id, |v: i64| v as i32),
                    queue_offset: num("queueOffset").unwrap_or(-1),
                    transaction_id: cmd.ext("transactionId").map(str::to_owned),
                    batch_uniq_id: cmd.ext("batchUniqId").map(str::to_owned),
                    recall_handle: cmd.ext("recallHandle").map(str::to_owned),
                    region: cmd.ext("MSG_REGION").map(str::to_owned),
                    trace_on: cmd.ext("TRACE_ON").map(|v| v.eq_ignore_ascii_case("true")),
                };
                (header, Some(e))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// HEART_BEAT (34) / UNREGISTER_CLIENT (35)
// ---------------------------------------------------------------------------

/// Request header of HEART_BEAT: no fields of its own (the data is the body).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeartbeatRequestHeader;

impl HeartbeatRequestHeader {
    /// A HEART_BEAT request with `{}` extFields, as real clients send; the caller adds the body.
    pub fn into_request(self) -> RemotingCommand {
        RemotingCommand::request(request_code::HEART_BEAT, self.to_ext_fields())
    }
}

impl CommandHeader for HeartbeatRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        ExtFields::new()
    }
    fn from_ext_fields(_f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(HeartbeatRequestHeader)
    }
}

/// Request header of UNREGISTER_CLIENT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnregisterClientRequestHeader {
    /// The client id sent in heartbeats (`clientID`, required).
    pub client_id: String,
    /// The producer group to unregister (`producerGroup`).
    pub producer_group: Option<String>,
    /// The consumer group to unregister (`consumerGroup`); `None` for a producer.
    pub consumer_group: Option<String>,
}

impl UnregisterClientRequestHeader {
    /// The header a producer sends at shutdown: client id plus its group.
    pub fn producer(client_id: impl Into<String>, producer_group: impl Into<String>) -> Self {
        UnregisterClientRequestHeader {
            client_id: client_id.into(),
            producer_group: Some(producer_group.into()),
            consumer_group: None,
        }
    }
    /// An UNREGISTER_CLIENT (35) request.
    pub fn into_request(self) -> RemotingCommand {
        RemotingCommand::request(request_code::UNREGISTER_CLIENT, self.to_ext_fields())
    }
}

impl CommandHeader for UnregisterClientRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(3);
        f.push("clientID", self.client_id.as_str());
        push_opt_str(&mut f, "producerGroup", &self.producer_group);
        push_opt_str(&mut f, "consumerGroup", &self.consumer_group);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(UnregisterClientRequestHeader {
            client_id: req_str(f, "clientID")?,
            producer_group: opt_str(f, "producerGroup"),
            consumer_group: opt_str(f, "consumerGroup"),
        })
    }
}

// ---------------------------------------------------------------------------
// PUSH_REPLY_MESSAGE_TO_CLIENT (326)
// ---------------------------------------------------------------------------

/// Header of PUSH_REPLY_MESSAGE_TO_CLIENT: the broker hands a request–reply
/// answer to the requester (Java `ReplyMessageRequestHeader`, long keys); the
/// body is the reply's body (zlib when `sys_flag` says so).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyMessageRequestHeader {
    /// The replier's producer group (`producerGroup`).
    pub producer_group: String,
    /// The reply topic, `<cluster>_REPLY_TOPIC` (`topic`).
    pub topic: String,
    /// `defaultTopic`.
    pub default_topic: String,
    /// `defaultTopicQueueNums`.
    pub default_topic_queue_nums: i32,
    /// `queueId`.
    pub queue_id: i32,
    /// The reply's sysFlag (`sysFlag`; compression).
    pub sys_flag: i32,
    /// When the replier sent it (`bornTimestamp`, epoch ms).
    pub born_timestamp: i64,
    /// The reply's user flag (`flag`).
    pub flag: i32,
    /// The reply's properties, encoded (`properties`): CORRELATION_ID, ...
    pub properties: Option<String>,
    /// `reconsumeTimes`.
    pub reconsume_times: Option<i32>,
    /// `unitMode`.
    pub unit_mode: bool,
    /// The replier's address, `ip:port` (`bornHost`).
    pub born_host: String,
    /// The broker's address, `ip:port` (`storeHost`).
    pub store_host: String,
    /// When the broker took it (`storeTimestamp`, epoch ms).
    pub store_timestamp: i64,
}

impl CommandHeader for ReplyMessageRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(14);
        f.push("producerGroup", self.producer_group.as_str());
        f.push("topic", self.topic.as_str());
        f.push("defaultTopic", self.default_topic.as_str());
        f.push(
            "defaultTopicQueueNums",
            self.default_topic_queue_nums.to_string(),
        );
        f.push("queueId", self.queue_id.to_string());
        f.push("sysFlag", self.sys_flag.to_string());
        f.push("bornTimestamp", self.born_timestamp.to_string());
        f.push("flag", self.flag.to_string());
        push_opt_str(&mut f, "properties", &self.properties);
        push_opt_num(&mut f, "reconsumeTimes", self.reconsume_times);
        f.push("unitMode", bool_str(self.unit_mode));
        f.push("bornHost", self.born_host.as_str());
        f.push("storeHost", self.store_host.as_str());
        f.push("storeTimestamp", self.store_timestamp.to_string());
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(ReplyMessageRequestHeader {
            producer_group: req_str(f, "producerGroup")?,
            topic: req_str(f, "topic")?,
            default_topic: req_str(f, "defaultTopic")?,
            default_topic_queue_nums: req_num(f, "defaultTopicQueueNums")?,
            queue_id: req_num(f, "queueId")?,
            sys_flag: req_num(f, "sysFlag")?,
            born_timestamp: req_num(f, "bornTimestamp")?,
            flag: req_num(f, "flag")?,
            properties: opt_str(f, "properties"),
            reconsume_times: opt_num(f, "reconsumeTimes")?,
            unit_mode: opt_bool(f, "unitMode")?.unwrap_or(false),
            born_host: req_str(f, "bornHost")?,
            store_host: req_str(f, "storeHost")?,
            store_timestamp: req_num(f, "storeTimestamp")?,
        })
    }
}

// ---------------------------------------------------------------------------
// END_TRANSACTION (37) / CHECK_TRANSACTION_STATE (39)
// ---------------------------------------------------------------------------

/// `commitOrRollback` of END_TRANSACTION (Java `MessageSysFlag.TRANSACTION_*_TYPE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TransactionResolution {
    /// 8: make the half message visible.
    Commit,
    /// 12: drop the half message.
    Rollback,
    /// 0: not decided yet; the broker will check back later.
    #[default]
    Unknown,
}

impl TransactionResolution {
    /// `TRANSACTION_COMMIT_TYPE` (8).
    pub const COMMIT_TYPE: i32 = 8;
    /// `TRANSACTION_ROLLBACK_TYPE` (12).
    pub const ROLLBACK_TYPE: i32 = 12;
    /// `TRANSACTION_NOT_TYPE` (0): unknown, wait for the broker's check.
    pub const NOT_TYPE: i32 = 0;

    /// The `commitOrRollback` value: 8, 12 or 0.
    pub fn code(self) -> i32 {
        match self {
            TransactionResolution::Commit => Self::COMMIT_TYPE,
            TransactionResolution::Rollback => Self::ROLLBACK_TYPE,
            TransactionResolution::Unknown => Self::NOT_TYPE,
        }
    }
    /// Other values are rejected, as the broker does.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            Self::COMMIT_TYPE => Some(TransactionResolution::Commit),
            Self::ROLLBACK_TYPE => Some(TransactionResolution::Rollback),
            Self::NOT_TYPE => Some(TransactionResolution::Unknown),
            _ => None,
        }
    }
}

/// Request header of END_TRANSACTION (oneway).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndTransactionRequestHeader {
    /// The producer group of the half message (`producerGroup`, required; checked against `PGROUP`).
    pub producer_group: String,
    /// The half message's queue offset.
    pub tran_state_table_offset: i64,
    /// From the half message's offset message id.
    pub commit_log_offset: i64,
    /// Commit, rollback or unknown (`commitOrRollback`, required).
    pub commit_or_rollback: TransactionResolution,
    /// `true` when answering a CHECK_TRANSACTION_STATE (`fromTransactionCheck`, always sent).
    pub from_transaction_check: bool,
    /// The half message's UNIQ_KEY.
    pub msg_id: String,
    /// The transaction id (`transactionId`; the UNIQ_KEY unless the broker said otherwise).
    pub transaction_id: Option<String>,
    /// 5.x: the half message's topic (`topic`).
    pub topic: Option<String>,
    /// 5.x: the broker that stored the half message (`bname`).
    pub broker_name: Option<String>,
}

impl EndTransactionRequestHeader {
    /// An END_TRANSACTION request, marked oneway as the Java client sends it.
    pub fn into_request(self) -> RemotingCommand {
        let mut cmd = RemotingCommand::request(request_code::END_TRANSACTION, self.to_ext_fields());
        cmd.mark_oneway();
        cmd
    }
}

impl CommandHeader for EndTransactionRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(9);
        f.push("producerGroup", self.producer_group.as_str());
        f.push(
            "tranStateTableOffset",
            self.tran_state_table_offset.to_string(),
        );
        f.push("commitLogOffset", self.commit_log_offset.to_string());
        f.push(
            "commitOrRollback",
            self.commit_or_rollback.code().to_string(),
        );
        f.push(
            "fromTransactionCheck",
            bool_str(self.from_transaction_check),
        );
        f.push("msgId", self.msg_id.as_str());
        push_opt_str(&mut f, "transactionId", &self.transaction_id);
        push_opt_str(&mut f, "topic", &self.topic);
        push_opt_str(&mut f, BNAME, &self.broker_name);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        let raw = req(f, "commitOrRollback")?;
        let code: i32 = parse("commitOrRollback", raw)?;
        let commit_or_rollback =
            TransactionResolution::from_code(code).ok_or_else(|| ProtocolError::InvalidField {
                field: "commitOrRollback",
                value: raw.to_owned(),
            })?;
        Ok(EndTransactionRequestHeader {
            producer_group: req_str(f, "producerGroup")?,
            tran_state_table_offset: req_num(f, "tranStateTableOffset")?,
            commit_log_offset: req_num(f, "commitLogOffset")?,
            commit_or_rollback,
            from_transaction_check: opt_bool(f, "fromTransactionCheck")?.unwrap_or(false),
            msg_id: req_str(f, "msgId")?,
            transaction_id: opt_str(f, "transactionId"),
            topic: opt_str(f, "topic"),
            broker_name: opt_str(f, BNAME),
        })
    }
}

/// Request header of CHECK_TRANSACTION_STATE (broker → client, oneway).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckTransactionStateRequestHeader {
    /// The half message's queue offset (`tranStateTableOffset`, required); copied into END_TRANSACTION.
    pub tran_state_table_offset: i64,
    /// The half message's commit-log offset (`commitLogOffset`, required); copied into END_TRANSACTION.
    pub commit_log_offset: i64,
    /// UNIQ_KEY of the half message.
    pub msg_id: Option<String>,
    /// The transaction id (`transactionId`, equal to the msg id).
    pub transaction_id: Option<String>,
    /// The half message's offset message id (`offsetMsgId`).
    pub offset_msg_id: Option<String>,
    /// 5.x: the half message's topic (`topic`).
    pub topic: Option<String>,
    /// 5.x: the checking broker's name (`bname`); goes back in END_TRANSACTION.
    pub broker_name: Option<String>,
}

impl CommandHeader for CheckTransactionStateRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(7);
        f.push(
            "tranStateTableOffset",
            self.tran_state_table_offset.to_string(),
        );
        f.push("commitLogOffset", self.commit_log_offset.to_string());
        push_opt_str(&mut f, "msgId", &self.msg_id);
        push_opt_str(&mut f, "transactionId", &self.transaction_id);
        push_opt_str(&mut f, "offsetMsgId", &self.offset_msg_id);
        push_opt_str(&mut f, "topic", &self.topic);
        push_opt_str(&mut f, BNAME, &self.broker_name);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(CheckTransactionStateRequestHeader {
            tran_state_table_offset: req_num(f, "tranStateTableOffset")?,
            commit_log_offset: req_num(f, "commitLogOffset")?,
            msg_id: opt_str(f, "msgId"),
            transaction_id: opt_str(f, "transactionId"),
            offset_msg_id: opt_str(f, "offsetMsgId"),
            topic: opt_str(f, "topic"),
            broker_name: opt_str(f, BNAME),
        })
    }
}

// ---------------------------------------------------------------------------
// VIEW_MESSAGE_BY_ID (33)
// ---------------------------------------------------------------------------

/// Request header of VIEW_MESSAGE_BY_ID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewMessageRequestHeader {
    /// Commit-log offset (from the offset message id).
    pub offset: i64,
    /// The message's topic (`topic`, optional).
    pub topic: Option<String>,
}

impl ViewMessageRequestHeader {
    /// A VIEW_MESSAGE_BY_ID (33) request; send it to the store host of the offset message id.
    pub fn into_request(self) -> RemotingCommand {
        RemotingCommand::request(request_code::VIEW_MESSAGE_BY_ID, self.to_ext_fields())
    }
}

impl CommandHeader for ViewMessageRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(2);
        f.push("offset", self.offset.to_string());
        push_opt_str(&mut f, "topic", &self.topic);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(ViewMessageRequestHeader {
            offset: req_num(f, "offset")?,
            topic: opt_str(f, "topic"),
        })
    }
}

// ---------------------------------------------------------------------------
// UPDATE_AND_CREATE_TOPIC (17)
// ---------------------------------------------------------------------------

/// Request header of UPDATE_AND_CREATE_TOPIC (sent to each master broker).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateTopicRequestHeader {
    /// The topic to create (`topic`).
    pub topic: String,
    /// Template topic (`defaultTopic`); `TBW102` from [`CreateTopicRequestHeader::new`].
    pub default_topic: String,
    /// Number of read queues (`readQueueNums`).
    pub read_queue_nums: i32,
    /// Number of write queues (`writeQueueNums`).
    pub write_queue_nums: i32,
    /// Permission bits, see [`crate::protocol::route::perm`] (`perm`; 6 = read + write).
    pub perm: i32,
    /// `SINGLE_TAG` or `MULTI_TAG`.
    pub topic_filter_type: String,
    /// Topic sysFlag (`topicSysFlag`, optional).
    pub topic_sys_flag: Option<i32>,
    /// Whether the topic is ordered (`order`).
    pub order: bool,
    /// 5.x topic attributes, e.g. `+message.type=NORMAL` (`attributes`, optional).
    pub attributes: Option<String>,
    /// 5.x: override attribute checks (`force`, optional).
    pub force: Option<bool>,
}

impl CreateTopicRequestHeader {
    /// A read-write, unordered, single-tag topic with `queue_nums` read and write queues.
    pub fn new(topic: impl Into<String>, queue_nums: i32) -> Self {
        CreateTopicRequestHeader {
            topic: topic.into(),
            default_topic: "TBW102".to_owned(),
            read_queue_nums: queue_nums,
            write_queue_nums: queue_nums,
            perm: super::route::perm::READ | super::route::perm::WRITE,
            topic_filter_type: "SINGLE_TAG".to_owned(),
            topic_sys_flag: Some(0),
            order: false,
            attributes: None,
            force: None,
        }
    }
    /// An UPDATE_AND_CREATE_TOPIC (17) request; send it to each master broker.
    pub fn into_request(self) -> RemotingCommand {
        RemotingCommand::request(request_code::UPDATE_AND_CREATE_TOPIC, self.to_ext_fields())
    }
}

impl CommandHeader for CreateTopicRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(10);
        f.push("topic", self.topic.as_str());
        f.push("defaultTopic", self.default_topic.as_str());
        f.push("readQueueNums", self.read_queue_nums.to_string());
        f.push("writeQueueNums", self.write_queue_nums.to_string());
        f.push("perm", self.perm.to_string());
        f.push("topicFilterType", self.topic_filter_type.as_str());
        push_opt_num(&mut f, "topicSysFlag", self.topic_sys_flag);
        f.push("order", bool_str(self.order));
        push_opt_str(&mut f, "attributes", &self.attributes);
        push_opt_bool(&mut f, "force", self.force);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(CreateTopicRequestHeader {
            topic: req_str(f, "topic")?,
            default_topic: req_str(f, "defaultTopic")?,
            read_queue_nums: req_num(f, "readQueueNums")?,
            write_queue_nums: req_num(f, "writeQueueNums")?,
            perm: req_num(f, "perm")?,
            topic_filter_type: req_str(f, "topicFilterType")?,
            topic_sys_flag: opt_num(f, "topicSysFlag")?,
            order: req_bool(f, "order")?,
            attributes: opt_str(f, "attributes"),
            force: opt_bool(f, "force")?,
        })
    }
}

// ---------------------------------------------------------------------------
// GET_MAX_OFFSET (30)
// ---------------------------------------------------------------------------

/// Request header of GET_MAX_OFFSET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetMaxOffsetRequestHeader {
    /// The topic (`topic`, required).
    pub topic: String,
    /// The queue id (`queueId`, required).
    pub queue_id: i32,
    /// 5.x: only count committed messages (broker default true).
    pub committed: Option<bool>,
}

impl GetMaxOffsetRequestHeader {
    /// A GET_MAX_OFFSET (30) request.
    pub fn into_request(self) -> RemotingCommand {
        RemotingCommand::request(request_code::GET_MAX_OFFSET, self.to_ext_fields())
    }
}

impl CommandHeader for GetMaxOffsetRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(3);
        f.push("topic", self.topic.as_str());
        f.push("queueId", self.queue_id.to_string());
        push_opt_bool(&mut f, "committed", self.committed);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(GetMaxOffsetRequestHeader {
            topic: req_str(f, "topic")?,
            queue_id: req_num(f, "queueId")?,
            committed: opt_bool(f, "committed")?,
        })
    }
}

/// Response header of GET_MAX_OFFSET.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GetMaxOffsetResponseHeader {
    /// The queue's max offset: one past the last message (`offset`).
    pub offset: i64,
}

impl CommandHeader for GetMaxOffsetResponseHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(1);
        f.push("offset", self.offset.to_string());
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(GetMaxOffsetResponseHeader {
            offset: req_num(f, "offset")?,
        })
    }
}

// ---------------------------------------------------------------------------
// PULL_MESSAGE (11), for tests that read messages back
// ---------------------------------------------------------------------------

/// Request header of PULL_MESSAGE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullMessageRequestHeader {
    /// The consumer group pulling (`consumerGroup`).
    pub consumer_group: String,
    /// The topic (`topic`).
    pub topic: String,
    /// The queue id (`queueId`).
    pub queue_id: i32,
    /// Offset of the first message to pull (`queueOffset`).
    pub queue_offset: i64,
    /// At most this many messages (`maxMsgNums`).
    pub max_msg_nums: i32,
    /// PullSysFlag bits: 1 commit offset, 2 suspend, 4 subscription, 8 class filter.
    pub sys_flag: i32,
    /// Consumer offset to commit along with the pull (`commitOffset`).
    pub commit_offset: i64,
    /// How long the broker may hold a long-poll pull, in ms (`suspendTimeoutMillis`).
    pub suspend_timeout_millis: i64,
    /// Subscription expression, e.g. a tag filter (`subscription`).
    pub subscription: Option<String>,
    /// Subscription version (`subVersion`).
    pub sub_version: i64,
    /// `TAG` or `SQL92`.
    pub expression_type: Option<String>,
}

impl PullMessageRequestHeader {
    /// A PULL_MESSAGE (11) request.
    pub fn into_request(self) -> RemotingCommand {
        RemotingCommand::request(request_code::PULL_MESSAGE, self.to_ext_fields())
    }
}

impl CommandHeader for PullMessageRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(11);
        f.push("consumerGroup", self.consumer_group.as_str());
        f.push("topic", self.topic.as_str());
        f.push("queueId", self.queue_id.to_string());
        f.push("queueOffset", self.queue_offset.to_string());
        f.push("maxMsgNums", self.max_msg_nums.to_string());
        f.push("sysFlag", self.sys_flag.to_string());
        f.push("commitOffset", self.commit_offset.to_string());
        f.push(
            "suspendTimeoutMillis",
            self.suspend_timeout_millis.to_string(),
        );
        push_opt_str(&mut f, "subscription", &self.subscription);
        f.push("subVersion", self.sub_version.to_string());
        push_opt_str(&mut f, "expressionType", &self.expression_type);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(PullMessageRequestHeader {
            consumer_group: req_str(f, "consumerGroup")?,
            topic: req_str(f, "topic")?,
            queue_id: req_num(f, "queueId")?,
            queue_offset: req_num(f, "queueOffset")?,
            max_msg_nums: req_num(f, "maxMsgNums")?,
            sys_flag: req_num(f, "sysFlag")?,
            commit_offset: req_num(f, "commitOffset")?,
            suspend_timeout_millis: req_num(f, "suspendTimeoutMillis")?,
            subscription: opt_str(f, "subscription"),
            sub_version: req_num(f, "subVersion")?,
            expression_type: opt_str(f, "expressionType"),
        })
    }
}

/// Response header of PULL_MESSAGE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullMessageResponseHeader {
    /// Broker id (0 master) to pull from next (`suggestWhichBrokerId`).
    pub suggest_which_broker_id: i64,
    /// Queue offset to start the next pull at (`nextBeginOffset`).
    pub next_begin_offset: i64,
    /// The queue's min offset (`minOffset`).
    pub min_offset: i64,
    /// The queue's max offset (`maxOffset`).
    pub max_offset: i64,
    /// Topic sysFlag (`topicSysFlag`).
    pub topic_sys_flag: Option<i32>,
    /// Consumer-group sysFlag (`groupSysFlag`).
    pub group_sys_flag: Option<i32>,
}

impl CommandHeader for PullMessageResponseHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(6);
        f.push(
            "suggestWhichBrokerId",
            self.suggest_which_broker_id.to_string(),
        );
        f.push("nextBeginOffset", self.next_begin_offset.to_string());
        f.push("minOffset", self.min_offset.to_string());
        f.push("maxOffset", self.max_offset.to_string());
        push_opt_num(&mut f, "topicSysFlag", self.topic_sys_flag);
        push_opt_num(&mut f, "groupSysFlag", self.group_sys_flag);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(PullMessageResponseHeader {
            suggest_which_broker_id: req_num(f, "suggestWhichBrokerId")?,
            next_begin_offset: req_num(f, "nextBeginOffset")?,
            min_offset: req_num(f, "minOffset")?,
            max_offset: req_num(f, "maxOffset")?,
            topic_sys_flag: opt_num(f, "topicSysFlag")?,
            group_sys_flag: opt_num(f, "groupSysFlag")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&'static str, &str)]) -> ExtFields {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    fn sample_send() -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: "g".into(),
            topic: "t".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 3,
            sys_flag: 0,
            born_timestamp: 1_795_307_821_617,
            flag: 0,
            properties: Some("UNIQ_KEY\u{1}X\u{2}".into()),
            reconsume_times: Some(0),
            unit_mode: false,
            max_reconsume_times: None,
            batch: true,
            broker_name: Some("broker-a".into()),
        }
    }

    /// The fields `ext` carries once encoded in `ty` and decoded, sorted.
    fn wire_fields(ext: ExtFields, ty: SerializeType) -> Vec<(String, String)> {
        use crate::protocol::frame::{decode_frame, encode_frame};
        let mut cmd = RemotingCommand::request(310, ext);
        cmd.serialize_type = ty;
        let back = decode_frame(encode_frame(&cmd).unwrap()).unwrap();
        let mut got: Vec<(String, String)> = back
            .ext_fields
            .unwrap()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        got.sort();
        got
    }

    fn v2_header(h: &SendMessageRequestHeader) -> Vec<(String, String)> {
        let mut want: Vec<(String, String)> = h
            .to_ext_fields_v2()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        want
    }

    /// Fixed fields encoded once plus the per-attempt ones carry exactly the V2 header.
    #[test]
    fn encoded_fixed_plus_attempt_fields_equal_the_v2_header() {
        let h = sample_send();
        for ty in [SerializeType::Json, SerializeType::RocketMq] {
            let fixed = h.encode_fixed_fields_v2(ty);
            let queue =
                SendMessageRequestHeader::encode_queue_fields_v2(ty, h.queue_id, "broker-a");
            let ext = SendMessageRequestHeader::attempt_fields_v2(
                &mut BytesMut::new(),
                &fixed,
                &queue,
                h.born_timestamp,
            );
            assert_eq!(wire_fields(ext, ty), v2_header(&h), "{ty:?}");
        }
    }

    /// Static fields, a message's properties and the per-attempt fields, written
    /// in one shared arena, carry exactly the V2 header of that message.
    #[test]
    fn static_plus_message_attempt_fields_equal_the_v2_header() {
        let mut m = Message::new("t", "body").with_keys("k1 k2");
        m.set_property("UNIQ_KEY", "C0A8000100002A9F0000000000000001");
        let mut h = sample_send();
        h.properties = Some(m.encode_properties());
        let mut arena = BytesMut::new();
        for ty in [SerializeType::Json, SerializeType::RocketMq] {
            let static_fields = h.encode_static_fields_v2(ty);
            let queue =
                SendMessageRequestHeader::encode_queue_fields_v2(ty, h.queue_id, "broker-a");
            let ext = SendMessageRequestHeader::message_attempt_fields_v2(
                &mut arena,
                &static_fields,
                &m,
                &queue,
                h.born_timestamp,
            );
            assert_eq!(wire_fields(ext, ty), v2_header(&h), "{ty:?}");
        }
    }

    #[test]
    fn send_response_reads_every_field_and_needs_msg_id() {
        let h = SendMessageResponseHeader {
            msg_id: "7F00000100007F850000000000001C91".into(),
            queue_id: 1,
            queue_offset: 7,
            transaction_id: Some("C0A8".into()),
            batch_uniq_id: Some("B1".into()),
            recall_handle: Some("R1".into()),
            region: Some("DefaultRegion".into()),
            trace_on: Some(true),
        };
        let mut cmd = RemotingCommand::response(0, 1, None);
        cmd.ext_fields = Some(h.to_ext_fields());
        assert_eq!(SendMessageResponseHeader::from_command(&cmd).unwrap(), h);
        let missing = RemotingCommand::response(0, 1, None);
        assert!(SendMessageResponseHeader::from_command(&missing).is_err());
        let mut no_offset = ExtFields::new();
        no_offset.push("msgId", "X");
        no_offset.push("queueId", "1");
        let mut cmd = RemotingCommand::response(0, 1, None);
        cmd.ext_fields = Some(no_offset);
        assert_eq!(
            SendMessageResponseHeader::from_command(&cmd),
            Err(ProtocolError::MissingField("queueOffset"))
        );
    }

    #[test]
    fn send_header_v1_and_v2_round_trip() {
        let h = sample_send();
        let v1 = h.to_ext_fields_v1();
        assert_eq!(v1.get("batch"), Some("true"));
        assert_eq!(v1.get("bname"), Some("broker-a"));
        assert_eq!(v1.get("maxReconsumeTimes"), None);
        assert_eq!(SendMessageRequestHeader::from_ext_fields(&v1).unwrap(), h);
        let v2 = h.to_ext_fields_v2();
        assert_eq!(v2.get("m"), Some("true"));
        assert_eq!(v2.get("n"), Some("broker-a"));
        assert_eq!(v2.get("bname"), Some("broker-a"));
        assert_eq!(v2.get("g"), Some("1795307821617"));
        assert_eq!(SendMessageRequestHeader::from_ext_fields(&v2).unwrap(), h);
    }

    #[test]
    fn send_header_v2_accepts_bname_without_n() {
        let mut v2 = sample_send().to_ext_fields_v2();
        v2.remove("n");
        let h = SendMessageRequestHeader::from_ext_fields(&v2).unwrap();
        assert_eq!(h.broker_name.as_deref(), Some("broker-a"));
    }

    #[test]
    fn send_request_form_follows_code() {
        let h = sample_send();
        assert!(
            h.to_request(request_code::SEND_MESSAGE)
                .ext("producerGroup")
                .is_some()
        );
        assert!(
            h.to_request(request_code::SEND_MESSAGE_V2)
                .ext("a")
                .is_some()
        );
        assert!(
            h.to_request(request_code::SEND_BATCH_MESSAGE)
                .ext("a")
                .is_some()
        );
        assert!(
            h.to_request(request_code::SEND_REPLY_MESSAGE)
                .ext("topic")
                .is_some()
        );
        assert!(
            h.to_request(request_code::SEND_REPLY_MESSAGE_V2)
                .ext("b")
                .is_some()
        );
    }

    #[test]
    fn reply_push_header_round_trips() {
        let h = ReplyMessageRequestHeader {
            producer_group: "replier".into(),
            topic: "DefaultCluster_REPLY_TOPIC".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 1,
            sys_flag: 0,
            born_timestamp: 1_795_307_821_617,
            flag: 0,
            properties: Some("CORRELATION_ID\u{1}c-1\u{2}".into()),
            reconsume_times: Some(0),
            unit_mode: false,
            born_host: "127.0.0.1:50000".into(),
            store_host: "127.0.0.1:10911".into(),
            store_timestamp: 1_795_307_821_620,
        };
        let back = ReplyMessageRequestHeader::from_ext_fields(&h.to_ext_fields()).unwrap();
        assert_eq!(back, h);
        let mut f = h.to_ext_fields();
        f.remove("storeHost");
        assert!(ReplyMessageRequestHeader::from_ext_fields(&f).is_err());
    }

    #[test]
    fn missing_required_field_is_named() {
        let mut v1 = sample_send().to_ext_fields_v1();
        v1.remove("bornTimestamp");
        assert_eq!(
            SendMessageRequestHeader::from_ext_fields(&v1),
            Err(ProtocolError::MissingField("bornTimestamp"))
        );
        let mut v2 = sample_send().to_ext_fields_v2();
        v2.remove("d");
        assert_eq!(
            SendMessageRequestHeader::from_ext_fields(&v2),
            Err(ProtocolError::MissingField("d"))
        );
        assert_eq!(
            SendMessageRequestHeader::from_ext_fields(&ExtFields::new()),
            Err(ProtocolError::MissingField("producerGroup"))
        );
        assert_eq!(
            SendMessageResponseHeader::from_ext_fields(&fields(&[
                ("msgId", "x"),
                ("queueId", "1")
            ])),
            Err(ProtocolError::MissingField("queueOffset"))
        );
        assert_eq!(
            UnregisterClientRequestHeader::from_ext_fields(&fields(&[("producerGroup", "g")])),
            Err(ProtocolError::MissingField("clientID"))
        );
        assert_eq!(
            GetRouteInfoRequestHeader::from_ext_fields(&ExtFields::new()),
            Err(ProtocolError::MissingField("topic"))
        );
        assert_eq!(
            CheckTransactionStateRequestHeader::from_ext_fields(&fields(&[(
                "tranStateTableOffset",
                "1"
            )])),
            Err(ProtocolError::MissingField("commitLogOffset"))
        );
        assert_eq!(
            PullMessageResponseHeader::from_ext_fields(&fields(&[("suggestWhichBrokerId", "0")])),
            Err(ProtocolError::MissingField("nextBeginOffset"))
        );
    }

    #[test]
    fn invalid_numbers_and_bools_are_rejected() {
        let mut v1 = sample_send().to_ext_fields_v1();
        v1.insert("queueId", "three");
        assert_eq!(
            SendMessageRequestHeader::from_ext_fields(&v1),
            Err(ProtocolError::InvalidField {
                field: "queueId",
                value: "three".into()
            })
        );
        let mut v2 = sample_send().to_ext_fields_v2();
        v2.insert("m", "yes");
        assert_eq!(
            SendMessageRequestHeader::from_ext_fields(&v2),
            Err(ProtocolError::InvalidField {
                field: "m",
                value: "yes".into()
            })
        );
        // Out of i32 range is invalid too, not truncated.
        let mut v1 = sample_send().to_ext_fields_v1();
        v1.insert("flag", "4294967296");
        assert!(matches!(
            SendMessageRequestHeader::from_ext_fields(&v1),
            Err(ProtocolError::InvalidField { field: "flag", .. })
        ));
        assert!(matches!(
            GetRouteInfoRequestHeader::from_ext_fields(&fields(&[
                ("topic", "t"),
                ("acceptStandardJsonOnly", "1")
            ])),
            Err(ProtocolError::InvalidField {
                field: "acceptStandardJsonOnly",
                ..
            })
        ));
    }

    #[test]
    fn end_transaction_codes() {
        let h = EndTransactionRequestHeader {
            producer_group: "g".into(),
            tran_state_table_offset: 7,
            commit_log_offset: 1234,
            commit_or_rollback: TransactionResolution::Rollback,
            from_transaction_check: true,
            msg_id: "U".into(),
            transaction_id: Some("U".into()),
            topic: None,
            broker_name: Some("broker-a".into()),
        };
        let f = h.to_ext_fields();
        assert_eq!(f.get("commitOrRollback"), Some("12"));
        assert_eq!(f.get("fromTransactionCheck"), Some("true"));
        assert_eq!(EndTransactionRequestHeader::from_ext_fields(&f).unwrap(), h);
        let req = h.clone().into_request();
        assert!(req.is_oneway());
        assert_eq!(req.code, request_code::END_TRANSACTION);
        let mut bad = f.clone();
        bad.insert("commitOrRollback", "1");
        assert!(matches!(
            EndTransactionRequestHeader::from_ext_fields(&bad),
            Err(ProtocolError::InvalidField {
                field: "commitOrRollback",
                ..
            })
        ));
        assert_eq!(TransactionResolution::Commit.code(), 8);
        assert_eq!(
            TransactionResolution::from_code(0),
            Some(TransactionResolution::Unknown)
        );
        assert_eq!(TransactionResolution::from_code(4), None);
    }

    #[test]
    fn other_headers_round_trip() {
        let c = CheckTransactionStateRequestHeader {
            tran_state_table_offset: 1,
            commit_log_offset: 2,
            msg_id: Some("m".into()),
            transaction_id: Some("m".into()),
            offset_msg_id: Some("o".into()),
            topic: Some("t".into()),
            broker_name: Some("b".into()),
        };
        assert_eq!(
            CheckTransactionStateRequestHeader::from_ext_fields(&c.to_ext_fields()).unwrap(),
            c
        );
        let v = ViewMessageRequestHeader {
            offset: 99,
            topic: None,
        };
        assert_eq!(
            ViewMessageRequestHeader::from_ext_fields(&v.to_ext_fields()).unwrap(),
            v
        );
        let t = CreateTopicRequestHeader::new("T", 4);
        let tf = t.to_ext_fields();
        assert_eq!(tf.get("perm"), Some("6"));
        assert_eq!(tf.get("order"), Some("false"));
        assert_eq!(CreateTopicRequestHeader::from_ext_fields(&tf).unwrap(), t);
        let m = GetMaxOffsetRequestHeader {
            topic: "T".into(),
            queue_id: 2,
            committed: Some(true),
        };
        assert_eq!(
            GetMaxOffsetRequestHeader::from_ext_fields(&m.to_ext_fields()).unwrap(),
            m
        );
        let mr = GetMaxOffsetResponseHeader { offset: -1 };
        assert_eq!(
            GetMaxOffsetResponseHeader::from_ext_fields(&mr.to_ext_fields()).unwrap(),
            mr
        );
        let p = PullMessageRequestHeader {
            consumer_group: "cg".into(),
            topic: "T".into(),
            queue_id: 0,
            queue_offset: 0,
            max_msg_nums: 32,
            sys_flag: 2,
            commit_offset: 0,
            suspend_timeout_millis: 2000,
            subscription: Some("*".into()),
            sub_version: 5,
            expression_type: Some("TAG".into()),
        };
        assert_eq!(
            PullMessageRequestHeader::from_ext_fields(&p.to_ext_fields()).unwrap(),
            p
        );
        let u = UnregisterClientRequestHeader::producer("c", "g");
        let uf = u.to_ext_fields();
        assert_eq!(uf.len(), 2);
        assert_eq!(
            UnregisterClientRequestHeader::from_ext_fields(&uf).unwrap(),
            u
        );
        let hb = HeartbeatRequestHeader.into_request();
        assert_eq!(hb.ext_fields, Some(ExtFields::new()));
        let r = GetRouteInfoRequestHeader::new("T").into_request();
        assert_eq!(r.code, request_code::GET_ROUTEINFO_BY_TOPIC);
        assert_eq!(r.ext("topic"), Some("T"));
    }

    #[test]
    fn from_command_without_ext_fields() {
        let cmd = RemotingCommand::response(0, 1, None);
        assert_eq!(
            HeartbeatRequestHeader::from_command(&cmd),
            Ok(HeartbeatRequestHeader)
        );
        assert_eq!(
            GetMaxOffsetResponseHeader::from_command(&cmd),
            Err(ProtocolError::MissingField("offset"))
        );
    }
}
