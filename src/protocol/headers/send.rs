//! Sends: SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320)
//! and the reply sends (324, 325): the request header in its long-key (V1) and
//! one-letter (V2) forms, the V2 fields encoded ahead for the hot path, and the
//! response header.
use bytes::BytesMut;

use super::CommandHeader;
use super::fields::{
    BNAME, bool_str, opt_bool, opt_num, opt_str, parse, push_opt_bool, push_opt_num, push_opt_str,
    req_num, req_str, required,
};
use crate::protocol::codes::{SerializeType, request_code};
use crate::protocol::command::{EncodedFields, ExtFields, RemotingCommand};
use crate::protocol::error::ProtocolError;
use crate::protocol::message::Message;
use crate::protocol::serialize::FieldWriter;

// The V2 (`SendMessageRequestHeaderV2`) one-letter keys, one per field.
const KEY_PRODUCER_GROUP: &str = "a";
const KEY_TOPIC: &str = "b";
const KEY_DEFAULT_TOPIC: &str = "c";
const KEY_DEFAULT_TOPIC_QUEUE_NUMS: &str = "d";
const KEY_QUEUE_ID: &str = "e";
const KEY_SYS_FLAG: &str = "f";
const KEY_BORN_TIMESTAMP: &str = "g";
const KEY_FLAG: &str = "h";
const KEY_PROPERTIES: &str = "i";
const KEY_RECONSUME_TIMES: &str = "j";
const KEY_UNIT_MODE: &str = "k";
const KEY_MAX_RECONSUME_TIMES: &str = "l";
const KEY_BATCH: &str = "m";
const KEY_BROKER_NAME: &str = "n";

/// The key of every field in one form of the send header.
struct SendKeys {
    producer_group: &'static str,
    topic: &'static str,
    default_topic: &'static str,
    default_topic_queue_nums: &'static str,
    queue_id: &'static str,
    sys_flag: &'static str,
    born_timestamp: &'static str,
    flag: &'static str,
    properties: &'static str,
    reconsume_times: &'static str,
    unit_mode: &'static str,
    max_reconsume_times: &'static str,
    batch: &'static str,
    broker_name: &'static str,
}

/// The long keys of `SendMessageRequestHeader` (codes 10 and 324).
const V1_KEYS: SendKeys = SendKeys {
    producer_group: "producerGroup",
    topic: "topic",
    default_topic: "defaultTopic",
    default_topic_queue_nums: "defaultTopicQueueNums",
    queue_id: "queueId",
    sys_flag: "sysFlag",
    born_timestamp: "bornTimestamp",
    flag: "flag",
    properties: "properties",
    reconsume_times: "reconsumeTimes",
    unit_mode: "unitMode",
    max_reconsume_times: "maxReconsumeTimes",
    batch: "batch",
    broker_name: BNAME,
};

/// The one-letter keys of `SendMessageRequestHeaderV2` (codes 310, 320 and 325).
const V2_KEYS: SendKeys = SendKeys {
    producer_group: KEY_PRODUCER_GROUP,
    topic: KEY_TOPIC,
    default_topic: KEY_DEFAULT_TOPIC,
    default_topic_queue_nums: KEY_DEFAULT_TOPIC_QUEUE_NUMS,
    queue_id: KEY_QUEUE_ID,
    sys_flag: KEY_SYS_FLAG,
    born_timestamp: KEY_BORN_TIMESTAMP,
    flag: KEY_FLAG,
    properties: KEY_PROPERTIES,
    reconsume_times: KEY_RECONSUME_TIMES,
    unit_mode: KEY_UNIT_MODE,
    max_reconsume_times: KEY_MAX_RECONSUME_TIMES,
    batch: KEY_BATCH,
    broker_name: KEY_BROKER_NAME,
};

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
            w.str(KEY_PROPERTIES, p);
        }
        w.finish_in(&mut arena)
    }

    /// The fixed V2 fields but the properties (`i`): what depends only on the
    /// producer, the topic and the flags, so a producer encodes it once per topic.
    pub fn encode_static_fields_v2(&self, ty: SerializeType) -> EncodedFields {
        let mut w = FieldWriter::new(ty, 96 + self.topic.len() + self.producer_group.len());
        w.str(KEY_PRODUCER_GROUP, &self.producer_group);
        w.str(KEY_TOPIC, &self.topic);
        w.str(KEY_DEFAULT_TOPIC, &self.default_topic);
        w.int(
            KEY_DEFAULT_TOPIC_QUEUE_NUMS,
            self.default_topic_queue_nums as i64,
        );
        w.int(KEY_SYS_FLAG, self.sys_flag as i64);
        w.int(KEY_FLAG, self.flag as i64);
        if let Some(r) = self.reconsume_times {
            w.int(KEY_RECONSUME_TIMES, r as i64);
        }
        w.str(KEY_UNIT_MODE, bool_str(self.unit_mode));
        if let Some(m) = self.max_reconsume_times {
            w.int(KEY_MAX_RECONSUME_TIMES, m as i64);
        }
        w.str(KEY_BATCH, bool_str(self.batch));
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
        w.int(KEY_QUEUE_ID, queue_id as i64);
        w.str(KEY_BROKER_NAME, broker_name);
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
        w.properties(KEY_PROPERTIES, message.properties(), len);
        Self::put_attempt_v2(&mut w, queue_fields, born_timestamp);
        ExtFields::with_encoded(w.finish_in(arena), 0)
    }

    fn put_attempt_v2(w: &mut FieldWriter, queue_fields: &EncodedFields, born_timestamp: i64) {
        w.int(KEY_BORN_TIMESTAMP, born_timestamp);
        w.encoded(queue_fields);
    }

    /// The long-key form used by SEND_MESSAGE (10) and SEND_REPLY_MESSAGE (324).
    pub fn to_ext_fields_v1(&self) -> ExtFields {
        self.write(&V1_KEYS, false)
    }

    /// The one-letter form used by codes 310, 320 and 325.
    ///
    /// The broker name goes out as both `n` (V2 field) and `bname` (5.x base-class
    /// field), exactly like the captured rocketmq-client-rust frames.
    pub fn to_ext_fields_v2(&self) -> ExtFields {
        self.write(&V2_KEYS, true)
    }

    fn write(&self, keys: &SendKeys, both_bname: bool) -> ExtFields {
        let mut f = ExtFields::with_capacity(15);
        f.push(keys.producer_group, self.producer_group.as_str());
        f.push(keys.topic, self.topic.as_str());
        f.push(keys.default_topic, self.default_topic.as_str());
        f.push(
            keys.default_topic_queue_nums,
            self.default_topic_queue_nums.to_string(),
        );
        f.push(keys.queue_id, self.queue_id.to_string());
        f.push(keys.sys_flag, self.sys_flag.to_string());
        f.push(keys.born_timestamp, self.born_timestamp.to_string());
        f.push(keys.flag, self.flag.to_string());
        push_opt_str(&mut f, keys.properties, &self.properties);
        push_opt_num(&mut f, keys.reconsume_times, self.reconsume_times);
        f.push(keys.unit_mode, bool_str(self.unit_mode));
        push_opt_num(&mut f, keys.max_reconsume_times, self.max_reconsume_times);
        f.push(keys.batch, bool_str(self.batch));
        if let Some(b) = &self.broker_name {
            f.push(keys.broker_name, b.as_str());
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

    fn read(f: &ExtFields, keys: &SendKeys) -> Result<Self, ProtocolError> {
        let broker_name = opt_str(f, keys.broker_name).or_else(|| opt_str(f, BNAME));
        Ok(SendMessageRequestHeader {
            producer_group: req_str(f, keys.producer_group)?,
            topic: req_str(f, keys.topic)?,
            default_topic: req_str(f, keys.default_topic)?,
            default_topic_queue_nums: req_num(f, keys.default_topic_queue_nums)?,
            queue_id: req_num(f, keys.queue_id)?,
            sys_flag: req_num(f, keys.sys_flag)?,
            born_timestamp: req_num(f, keys.born_timestamp)?,
            flag: req_num(f, keys.flag)?,
            properties: opt_str(f, keys.properties),
            reconsume_times: opt_num(f, keys.reconsume_times)?,
            unit_mode: opt_bool(f, keys.unit_mode)?.unwrap_or(false),
            max_reconsume_times: opt_num(f, keys.max_reconsume_times)?,
            batch: opt_bool(f, keys.batch)?.unwrap_or(false),
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
        let v1 = f.get(V1_KEYS.producer_group).is_some() || f.get(V1_KEYS.topic).is_some();
        let v2 = f.get(KEY_PRODUCER_GROUP).is_some() || f.get(KEY_TOPIC).is_some();
        if v2 && !v1 {
            Self::read(f, &V2_KEYS)
        } else {
            Self::read(f, &V1_KEYS)
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
        Self::read(f, String::new())
    }
}

impl SendMessageResponseHeader {
    /// Decodes `f`, the `msgId` written into `ids` (cleared first).
    fn read(f: &ExtFields, mut ids: String) -> Result<Self, ProtocolError> {
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
            msg_id: {
                ids.clear();
                ids.push_str(msg_id.ok_or(ProtocolError::MissingField("msgId"))?);
                ids
            },
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

    /// The header of a reply whose code says the message is stored, decoded as
    /// far as it goes: a missing `msgId` is empty, an unreadable `queueId` is
    /// `queue_id` (the queue it was sent to) and an unreadable `queueOffset` -1.
    /// The error says what did not decode (`None` when everything did).
    ///
    /// `msgId` is written into `ids` (cleared first): a batch's list of ~4 KiB
    /// can be reused, not allocated, per reply (an allocation that size makes
    /// glibc consolidate its fast bins).
    pub fn from_stored_reply(
        cmd: &RemotingCommand,
        queue_id: i32,
        ids: String,
    ) -> (Self, Option<ProtocolError>) {
        let empty = ExtFields::new();
        match Self::read(cmd.ext_fields.as_ref().unwrap_or(&empty), ids) {
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
