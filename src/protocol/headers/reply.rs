//! PUSH_REPLY_MESSAGE_TO_CLIENT (326): the broker hands a request–reply answer
//! to the requester, and the [`Message`] it carries.
use bytes::Bytes;

use super::CommandHeader;
use super::fields::{
    bool_str, opt_bool, opt_num, opt_str, push_opt_num, push_opt_str, req_num, req_str,
};
use crate::protocol::command::ExtFields;
use crate::protocol::compression::decompress;
use crate::protocol::error::ProtocolError;
use crate::protocol::message::Message;
use crate::protocol::properties::decode_properties;
use crate::protocol::sys_flag;

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
// Here rather than in `message`: the reply header is this module's idea, and
// `message` then needs no header (headers already need `Message`).
impl Message {
    /// The message a PUSH_REPLY_MESSAGE_TO_CLIENT carries: topic, flag and
    /// properties from its header, the body inflated when `sysFlag` says so
    /// (at most `max_body` bytes).
    pub fn from_reply_push(
        header: &ReplyMessageRequestHeader,
        body: Bytes,
        max_body: usize,
    ) -> Result<Message, ProtocolError> {
        let body = if header.sys_flag & sys_flag::COMPRESSED != 0 {
            decompress(&body, header.sys_flag, max_body)?
        } else {
            body
        };
        // Exactly the header's properties (no default `WAIT`); names are unique once decoded.
        let properties = decode_properties(header.properties.as_deref().unwrap_or_default());
        Ok(Message::from_parts(
            header.topic.as_str(),
            header.flag,
            properties,
            body,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::property;

    #[test]
    fn a_pushed_reply_becomes_a_message() {
        let reply = Message::reply_to(
            [
                ("CLUSTER", "C"),
                ("CORRELATION_ID", "c-1"),
                ("REPLY_TO_CLIENT", "me"),
                ("TTL", "3000"),
                ("KEYS", "not copied"),
            ],
            "pong",
        )
        .unwrap();
        assert_eq!(reply.topic, "C_REPLY_TOPIC");
        assert_eq!(reply.property(property::CORRELATION_ID), Some("c-1"));
        assert_eq!(reply.property(property::TTL), Some("3000"));
        assert_eq!(reply.keys(), None);
        assert!(Message::reply_to([("CORRELATION_ID", "c-1")], "x").is_none());

        let mut header = ReplyMessageRequestHeader {
            topic: reply.topic.clone(),
            flag: 7,
            properties: Some(reply.encode_properties()),
            ..Default::default()
        };
        let back = Message::from_reply_push(&header, Bytes::from_static(b"pong"), 1 << 20).unwrap();
        assert_eq!(back.topic, "C_REPLY_TOPIC");
        assert_eq!(back.flag, 7);
        assert_eq!(back.body, "pong");
        assert!(back.is_reply());
        assert_eq!(
            back.property(property::WAIT),
            reply.property(property::WAIT)
        );
        let packed = crate::protocol::compression::compress_zlib(b"pong pong pong", 5).unwrap();
        header.sys_flag = sys_flag::COMPRESSED;
        let back = Message::from_reply_push(&header, packed, 1 << 20).unwrap();
        assert_eq!(back.body, "pong pong pong");
    }
}
