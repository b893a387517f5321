//! Message trace records in the Java client's wire format (`TraceDataEncoder`):
//! the body of a message in the trace topic (`RMQ_SYS_TRACE_TOPIC`), which the
//! RocketMQ dashboard reads. One record per send attempt; fields separated by
//! 0x01 (`CONTENT_SPLITOR`), each record ended by 0x02 (`FIELD_SPLITOR`).
//!
//! A Pub record is, in order: `Pub`, timestamp (ms), region id, group, topic,
//! msgId, tags, keys, store host, body length, cost (ms), message type
//! (ordinal), offsetMsgId, success, then optionally the client host (a 15th
//! field the Java decoder reads; its encoder stops at 14).
//!
//! ```
//! use actix_rocketmq::internals::protocol::trace_data::{decode_pub, MessageType, PubTrace};
//! let rec = PubTrace {
//!     timestamp_ms: 1_700_000_000_000, region_id: "DefaultRegion".into(), group: "g".into(),
//!     topic: "T".into(), msg_id: "ID".into(), tags: Some("a".into()), keys: None,
//!     store_host: "127.0.0.1:10911".into(), body_length: 5, cost_ms: 2,
//!     msg_type: MessageType::Normal, offset_msg_id: "OFF".into(), success: true, client_host: None,
//! };
//! let mut body = String::new();
//! rec.encode(&mut body);
//! assert_eq!(decode_pub(&body)?, vec![rec]);
//! # Ok::<(), actix_rocketmq::internals::protocol::ProtocolError>(())
//! ```
use std::fmt::Write as _;

use super::error::ProtocolError;
use super::message::KEY_SEPARATOR;

/// Between the fields of one record (Java `TraceConstants.CONTENT_SPLITOR`).
pub const CONTENT_SPLITOR: char = '\u{1}';
/// After each record (Java `TraceConstants.FIELD_SPLITOR`).
pub const FIELD_SPLITOR: char = '\u{2}';
/// The default trace topic (Java `TopicValidator.RMQ_SYS_TRACE_TOPIC`).
pub const DEFAULT_TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";
/// Prefix of the trace producer's group (Java `TraceConstants.GROUP_NAME_PREFIX`).
pub const TRACE_GROUP_PREFIX: &str = "_INNER_TRACE_PRODUCER";
/// The first field of a Pub record (Java `TraceType.Pub`).
pub const PUB: &str = "Pub";

/// The message type of a trace record (Java `MessageType`, written as its ordinal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageType {
    /// `Normal_Msg` (0).
    #[default]
    Normal,
    /// `Trans_Msg_Half` (1): a transaction's half message.
    TransHalf,
    /// `Trans_msg_Commit` (2).
    TransCommit,
    /// `Delay_Msg` (3): delay level or delivery time set.
    Delay,
    /// `Order_Msg` (4).
    Order,
}

impl MessageType {
    /// The Java ordinal, as written in a record.
    pub fn ordinal(self) -> u8 {
        match self {
            MessageType::Normal => 0,
            MessageType::TransHalf => 1,
            MessageType::TransCommit => 2,
            MessageType::Delay => 3,
            MessageType::Order => 4,
        }
    }

    /// The type of an ordinal, if Java has one.
    pub fn from_ordinal(n: u8) -> Option<Self> {
        Some(match n {
            0 => MessageType::Normal,
            1 => MessageType::TransHalf,
            2 => MessageType::TransCommit,
            3 => MessageType::Delay,
            4 => MessageType::Order,
            _ => return None,
        })
    }
}

/// One Pub record: what a send attempt did (Java `TraceContext` + its `TraceBean`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubTrace {
    /// When the attempt began, epoch ms.
    pub timestamp_ms: i64,
    /// The broker's region (`MSG_REGION` of its reply).
    pub region_id: String,
    /// The producer group, without namespace.
    pub group: String,
    /// The topic, without namespace.
    pub topic: String,
    /// The message id (`UNIQ_KEY`).
    pub msg_id: String,
    /// Tags; `None` is written `null`, as Java writes a message without tags.
    pub tags: Option<String>,
    /// Keys, space-separated; `None` is written `null`.
    pub keys: Option<String>,
    /// The broker address the attempt went to.
    pub store_host: String,
    /// The body length as sent.
    pub body_length: usize,
    /// The attempt's time, ms.
    pub cost_ms: i64,
    /// The message type.
    pub msg_type: MessageType,
    /// The broker's offset message id (empty when nothing was stored).
    pub offset_msg_id: String,
    /// Whether the broker answered SEND_OK.
    pub success: bool,
    /// The sending client's address, a 15th field; `None` writes exactly Java's 14.
    pub client_host: Option<String>,
}

/// Writes `v` without the two separators, which would break the record apart.
fn field(out: &mut String, v: &str) {
    if v.contains([CONTENT_SPLITOR, FIELD_SPLITOR]) {
        out.extend(
            v.chars()
                .filter(|c| *c != CONTENT_SPLITOR && *c != FIELD_SPLITOR),
        );
    } else {
        out.push_str(v);
    }
    out.push(CONTENT_SPLITOR);
}

impl PubTrace {
    /// Appends this record to `out`, ending with [`FIELD_SPLITOR`].
    pub fn encode(&self, out: &mut String) {
        out.push_str(PUB);
        out.push(CONTENT_SPLITOR);
        // Writing to a String never fails.
        let _ = write!(out, "{}{CONTENT_SPLITOR}", self.timestamp_ms);
        field(out, &self.region_id);
        field(out, &self.group);
        field(out, &self.topic);
        field(out, &self.msg_id);
        field(out, self.tags.as_deref().unwrap_or("null"));
        field(out, self.keys.as_deref().unwrap_or("null"));
        field(out, &self.store_host);
        let _ = write!(
            out,
            "{}{CONTENT_SPLITOR}{}{CONTENT_SPLITOR}{}{CONTENT_SPLITOR}",
            self.body_length,
            self.cost_ms,
            self.msg_type.ordinal()
        );
        field(out, &self.offset_msg_id);
        out.push_str(if self.success { "true" } else { "false" });
        if let Some(host) = &self.client_host {
            out.push(CONTENT_SPLITOR);
            out.push_str(host);
        }
        out.push(FIELD_SPLITOR);
    }

    /// The keys a trace message carries for this record (Java `TraceTransferBean`
    /// keys): the msgId, then each business key, so the dashboard finds it by either.
    pub fn trace_keys(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.msg_id.as_str()).chain(
            self.keys
                .as_deref()
                .unwrap_or("")
                .split(KEY_SEPARATOR)
                .filter(|k| !k.is_empty()),
        )
    }

    /// About how many bytes [`encode`](Self::encode) writes (for batching).
    pub fn encoded_len_hint(&self) -> usize {
        64 + self.region_id.len()
            + self.group.len()
            + self.topic.len()
            + self.msg_id.len()
            + self.tags.as_ref().map_or(4, String::len)
            + self.keys.as_ref().map_or(4, String::len)
            + self.store_host.len()
            + self.offset_msg_id.len()
            + self.client_host.as_ref().map_or(0, String::len)
    }
}

fn bad(field: &'static str, value: &str) -> ProtocolError {
    ProtocolError::InvalidField {
        field,
        value: super::peer_text::bounded_owned(value.to_owned()),
    }
}

fn opt(v: &str) -> Option<String> {
    (v != "null").then(|| v.to_owned())
}

/// Decodes one Pub record's fields (without its [`FIELD_SPLITOR`]).
fn decode_one(line: &[&str]) -> Result<PubTrace, ProtocolError> {
    if line.len() < 13 {
        return Err(ProtocolError::MalformedBody {
            kind: "trace Pub record",
            reason: format!("{} fields, at least 13 expected", line.len()),
        });
    }
    let num = |i: usize, name: &'static str| -> Result<i64, ProtocolError> {
        line[i].parse::<i64>().map_err(|_| bad(name, line[i]))
    };
    let msg_type = line[11]
        .parse::<u8>()
        .ok()
        .and_then(MessageType::from_ordinal)
        .ok_or_else(|| bad("msgType", line[11]))?;
    // 13 fields: no offsetMsgId (old clients); 15 or more: the client host follows.
    let (offset_msg_id, success) = if line.len() == 13 {
        ("", line[12])
    } else {
        (line[12], line[13])
    };
    Ok(PubTrace {
        timestamp_ms: num(1, "timeStamp")?,
        region_id: line[2].to_owned(),
        group: line[3].to_owned(),
        topic: line[4].to_owned(),
        msg_id: line[5].to_owned(),
        tags: opt(line[6]),
        keys: opt(line[7]),
        store_host: line[8].to_owned(),
        body_length: usize::try_from(num(9, "bodyLength")?)
            .map_err(|_| bad("bodyLength", line[9]))?,
        cost_ms: num(10, "costTime")?,
        msg_type,
        offset_msg_id: offset_msg_id.to_owned(),
        // Java's Boolean.parseBoolean: "true" in any case, anything else false.
        success: success.eq_ignore_ascii_case("true"),
        client_host: line.get(14).map(|h| (*h).to_owned()),
    })
}

/// The Pub records of a trace message body; records of other types
/// (`SubBefore`, `SubAfter`, `EndTransaction`) are skipped.
pub fn decode_pub(data: &str) -> Result<Vec<PubTrace>, ProtocolError> {
    let mut out = Vec::new();
    for record in data.split(FIELD_SPLITOR).filter(|r| !r.is_empty()) {
        let line: Vec<&str> = record.split(CONTENT_SPLITOR).collect();
        if line[0] == PUB {
            out.push(decode_one(&line)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PubTrace {
        PubTrace {
            timestamp_ms: 1_733_500_000_123,
            region_id: "DefaultRegion".into(),
            group: "orders".into(),
            topic: "TopicTest".into(),
            msg_id: "7F0000010001000000000000000A0001".into(),
            tags: Some("TagA".into()),
            keys: Some("k1 k2".into()),
            store_host: "127.0.0.1:10911".into(),
            body_length: 11,
            cost_ms: 3,
            msg_type: MessageType::Normal,
            offset_msg_id: "7F00000100002A9F0000000000000042".into(),
            success: true,
            client_host: None,
        }
    }

    /// The bytes Java's `TraceDataEncoder.encoderFromContextBean` writes for
    /// `sample()`, field by field in its order.
    fn java_bytes() -> Vec<u8> {
        let fields: [&[u8]; 14] = [
            b"Pub",
            b"1733500000123",
            b"DefaultRegion",
            b"orders",
            b"TopicTest",
            b"7F0000010001000000000000000A0001",
            b"TagA",
            b"k1 k2",
            b"127.0.0.1:10911",
            b"11",
            b"3",
            b"0",
            b"7F00000100002A9F0000000000000042",
            b"true",
        ];
        let mut v = fields.join(&0x01u8);
        v.push(0x02);
        v
    }

    #[test]
    fn trace_pub_record_is_what_the_java_encoder_writes() {
        let mut out = String::new();
        sample().encode(&mut out);
        assert_eq!(out.as_bytes(), java_bytes().as_slice());
        assert_eq!(decode_pub(&out).unwrap(), vec![sample()]);
    }

    #[test]
    fn trace_pub_record_with_client_host_adds_a_15th_field() {
        let rec = PubTrace {
            client_host: Some("10.0.0.7".into()),
            ..sample()
        };
        let mut out = String::new();
        rec.encode(&mut out);
        let mut expected = java_bytes();
        expected.pop();
        expected.extend_from_slice(b"\x0110.0.0.7\x02");
        assert_eq!(out.as_bytes(), expected.as_slice());
        assert_eq!(decode_pub(&out).unwrap(), vec![rec]);
    }

    #[test]
    fn trace_missing_tags_and_keys_are_java_nulls_and_records_concatenate() {
        let a = PubTrace {
            tags: None,
            keys: None,
            success: false,
            offset_msg_id: String::new(),
            msg_type: MessageType::Delay,
            ..sample()
        };
        let mut out = String::new();
        a.encode(&mut out);
        assert!(out.contains("\x01null\x01null\x01"));
        assert!(out.ends_with("\x013\x01\x01false\x02"));
        sample().encode(&mut out);
        assert_eq!(decode_pub(&out).unwrap(), vec![a, sample()]);
        assert_eq!(
            sample().trace_keys().collect::<Vec<_>>(),
            ["7F0000010001000000000000000A0001", "k1", "k2"]
        );
    }

    #[test]
    fn trace_decoder_reads_old_records_skips_other_types_and_refuses_garbage() {
        // 13 fields: a client before offsetMsgId was written.
        let old = "Pub\x011\x01R\x01g\x01T\x01ID\x01null\x01null\x01h:1\x010\x015\x010\x01true\x02";
        let recs = decode_pub(old).unwrap();
        assert_eq!(
            (recs[0].offset_msg_id.as_str(), recs[0].success),
            ("", true)
        );
        let sub = "SubAfter\x01req\x01ID\x013\x01true\x01k\x010\x011\x01g\x02";
        assert!(decode_pub(sub).unwrap().is_empty());
        assert!(decode_pub("Pub\x01x\x02").is_err());
        let bad_num = old.replace("\x011\x01R", "\x01one\x01R");
        assert!(matches!(
            decode_pub(&bad_num),
            Err(ProtocolError::InvalidField {
                field: "timeStamp",
                ..
            })
        ));
        let bad_type = old.replace("\x010\x01true", "\x019\x01true");
        assert!(decode_pub(&bad_type).is_err());
    }

    #[test]
    fn trace_separators_inside_values_are_dropped() {
        let rec = PubTrace {
            tags: Some("a\x01b\x02c".into()),
            ..sample()
        };
        let mut out = String::new();
        rec.encode(&mut out);
        let back = decode_pub(&out).unwrap();
        assert_eq!(back[0].tags.as_deref(), Some("abc"));
        assert!(rec.encoded_len_hint() >= out.len() - 20);
    }
}
