//! Headers only the test broker and the tests use (the producer never sends
//! them): VIEW_MESSAGE_BY_ID, UPDATE_AND_CREATE_TOPIC, GET_MAX_OFFSET and
//! PULL_MESSAGE, to read back and set up what a test needs.
use crate::protocol::codes::request_code;
use crate::protocol::command::{ExtFields, RemotingCommand};
use crate::protocol::error::ProtocolError;
use crate::protocol::headers::CommandHeader;
use crate::protocol::headers::fields::{
    bool_str, opt_bool, opt_num, opt_str, push_opt_bool, push_opt_num, push_opt_str, req_bool,
    req_num, req_str,
};
use crate::protocol::route::perm;

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
            perm: perm::READ | perm::WRITE,
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

    #[test]
    fn missing_required_field_is_named() {
        assert_eq!(
            PullMessageResponseHeader::from_ext_fields(&fields(&[("suggestWhichBrokerId", "0")])),
            Err(ProtocolError::MissingField("nextBeginOffset"))
        );
    }

    #[test]
    fn test_broker_headers_round_trip() {
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
    }

    #[test]
    fn from_command_without_ext_fields() {
        let cmd = RemotingCommand::response(0, 1, None);
        assert_eq!(
            GetMaxOffsetResponseHeader::from_command(&cmd),
            Err(ProtocolError::MissingField("offset"))
        );
    }
}
