//! Client-side checks of topics, groups and messages (Java `Validators`,
//! `TopicValidator`, `Message.putUserProperty`), each with its own error.
use thiserror::Error;

use super::message::{MAX_PROPERTIES_LEN, Message, property};

/// Default `maxMessageSize` of producer and broker: 4 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;
/// Longest topic name a client may use.
pub const TOPIC_MAX_LEN: usize = 127;
/// Longest group name (5.x; 4.x allowed 255).
pub const GROUP_MAX_LEN: usize = 120;
/// The Java default producer group, which a producer must not use.
pub const DEFAULT_PRODUCER_GROUP: &str = "DEFAULT_PRODUCER";
/// The Java client's internal producer group.
pub const CLIENT_INNER_PRODUCER_GROUP: &str = "CLIENT_INNER_PRODUCER";
/// Prefix of consumer retry topics, `%RETRY%<group>`.
pub const RETRY_TOPIC_PREFIX: &str = "%RETRY%";
/// Prefix of dead-letter topics, `%DLQ%<group>`.
pub const DLQ_TOPIC_PREFIX: &str = "%DLQ%";
/// Prefix of light message queue (LMQ) topics.
pub const LMQ_TOPIC_PREFIX: &str = "%LMQ%";
/// Topics no producer may send to (client error; broker NO_PERMISSION).
pub const NOT_ALLOWED_SEND_TOPICS: &[&str] = &[
    "SCHEDULE_TOPIC_XXXX",
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "SELF_TEST_TOPIC",
    "OFFSET_MOVED_EVENT",
];
/// Further system topics that a client cannot create.
pub const SYSTEM_TOPICS: &[&str] = &[
    "TBW102",
    "BenchmarkTest",
    "RMQ_SYS_TRACE_TOPIC",
    "CHECKPOINT_TOPIC",
];
/// Topics starting with this are system topics.
pub const SYSTEM_TOPIC_PREFIX: &str = "rmq_sys_";

/// Why a topic, group, message or batch is refused before it is sent.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationError {
    /// The topic is empty or whitespace.
    #[error("the topic is blank; give the message a topic name")]
    TopicBlank,
    /// The topic is longer than [`TOPIC_MAX_LEN`] (127) characters.
    #[error(
        "topic `{topic}` is {len} characters long, more than the maximum of {max}; use a shorter name"
    )]
    TopicTooLong {
        /// The rejected topic.
        topic: String,
        /// Its length in Java chars (UTF-16 units).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The topic has characters outside `^[%|a-zA-Z0-9_-]+$`.
    #[error(
        "topic `{topic}` contains illegal characters; use only ASCII letters, digits, `%`, `|`, `_` and `-`"
    )]
    TopicIllegalChars {
        /// The rejected topic.
        topic: String,
    },
    /// The topic is one of [`NOT_ALLOWED_SEND_TOPICS`] (the broker would answer NO_PERMISSION).
    #[error("topic `{topic}` is a system topic that producers may not send to; use another topic")]
    TopicNotAllowed {
        /// The rejected topic.
        topic: String,
    },
    /// The producer group is empty or whitespace.
    #[error("the producer group is blank; configure a group name")]
    GroupBlank,
    /// The producer group is longer than [`GROUP_MAX_LEN`] (120) characters.
    #[error(
        "group `{group}` is {len} characters long, more than the maximum of {max}; use a shorter name"
    )]
    GroupTooLong {
        /// The rejected group.
        group: String,
        /// Its length in Java chars (UTF-16 units).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The producer group has characters outside `^[%|a-zA-Z0-9_-]+$`.
    #[error(
        "group `{group}` contains illegal characters; use only ASCII letters, digits, `%`, `|`, `_` and `-`"
    )]
    GroupIllegalChars {
        /// The rejected group.
        group: String,
    },
    /// The producer group is `DEFAULT_PRODUCER` or `CLIENT_INNER_PRODUCER`.
    #[error("group `{group}` is reserved by RocketMQ; configure your own producer group")]
    GroupReserved {
        /// The rejected group.
        group: String,
    },
    /// The body is empty (Java: MESSAGE_ILLEGAL).
    #[error("the message body is empty; RocketMQ does not accept empty bodies")]
    BodyEmpty,
    /// The body exceeds `maxMessageSize` (default 4 MiB), checked before compression.
    #[error(
        "the message body is {size} bytes, more than the maximum of {max}; shrink or split it, or raise the size limit (the broker's maxMessageSize too)"
    )]
    BodyTooLarge {
        /// Body size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A user property uses a system name (Java `MessageConst.STRING_HASH_SET`).
    #[error(
        "property name `{name}` is reserved by RocketMQ; use the dedicated builder method or another name"
    )]
    ReservedPropertyName {
        /// The reserved name.
        name: String,
    },
    /// A recall handle that does not decode (Java: "recall handle is invalid").
    #[error(
        "the recall handle is invalid ({reason}); pass the recall_handle of the message's send result unchanged"
    )]
    RecallHandleInvalid {
        /// What is wrong with it.
        reason: String,
    },
    /// A user property has an empty or whitespace name.
    #[error("a user property has a blank name; give every property a name")]
    BlankPropertyName,
    /// A user property has an empty or whitespace value.
    #[error("user property `{name}` has a blank value; set a value or leave the property out")]
    BlankPropertyValue {
        /// The property's name.
        name: String,
    },
    /// A property name contains U+0001 or U+0002, or its value U+0002: the properties string would break.
    #[error(
        "property `{name}` contains the control character U+0001 or U+0002 that separates properties on the wire; remove it"
    )]
    PropertySeparatorInside {
        /// The property's name.
        name: String,
    },
    /// `INNER_MULTI_DISPATCH` contains a `/`.
    #[error("property INNER_MULTI_DISPATCH `{value}` must not contain `/`")]
    MultiDispatchPath {
        /// The rejected value.
        value: String,
    },
    /// The encoded properties exceed 32 767 bytes (2-byte length in the store).
    #[error(
        "the encoded properties are {len} bytes, more than the maximum of {max}; remove or shorten properties"
    )]
    PropertiesTooLong {
        /// Encoded length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A batch has no messages.
    #[error("a batch needs at least one message")]
    BatchEmpty,
    /// Batch messages have different topics.
    #[error(
        "all messages of a batch must have the same topic: `{expected}` and `{found}` differ; send them in separate batches"
    )]
    BatchMixedTopics {
        /// The first message's topic.
        expected: String,
        /// The differing topic.
        found: String,
    },
    /// Batch messages differ in `WAIT` (waitStoreMsgOK).
    #[error(
        "all messages of a batch must have the same WAIT (waitStoreMsgOK); message {index} differs"
    )]
    BatchMixedWait {
        /// Index of the first differing message.
        index: usize,
    },
    /// A batch message has a `DELAY` level.
    #[error(
        "message {index} of the batch has a delay level; delayed messages cannot be batched, send it alone"
    )]
    BatchDelayLevel {
        /// Index of the message.
        index: usize,
    },
    /// The batch targets a `%RETRY%` topic (broker: MESSAGE_ILLEGAL).
    #[error("topic `{topic}` is a retry topic; retry topics cannot receive batches")]
    BatchRetryTopic {
        /// The retry topic.
        topic: String,
    },
    /// A batch message is a transactional half message (broker: MESSAGE_ILLEGAL).
    #[error(
        "message {index} of the batch is a transactional half message; send it with the transactional producer instead"
    )]
    BatchTransaction {
        /// Index of the message.
        index: usize,
    },
    /// A batch message has no `UNIQ_KEY` when the batch is encoded.
    #[error(
        "message {index} of the batch has no UNIQ_KEY; stamp client ids before encoding the batch"
    )]
    BatchMissingUniqKey {
        /// Index of the message.
        index: usize,
    },
    /// The encoded batch body exceeds `maxMessageSize` (default 4 MiB).
    #[error(
        "the encoded batch is {size} bytes, more than the maximum of {max}; send fewer messages per batch"
    )]
    BatchTooLarge {
        /// Encoded body size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
}

/// Java `UtilAll.isBlank`: empty or only whitespace.
fn is_blank(s: &str) -> bool {
    s.chars().all(|c| c.is_whitespace() || c <= ' ')
}

/// Length in Java chars (UTF-16 units), as Java compares it to the limits.
fn java_len(s: &str) -> usize {
    // ASCII is the only legal case, so count UTF-16 units only when needed.
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

/// `^[%|a-zA-Z0-9_-]+$`, the charset of topics and groups.
pub fn is_legal_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
}

/// Whether producers are forbidden to send to `topic`.
pub fn is_not_allowed_send_topic(topic: &str) -> bool {
    NOT_ALLOWED_SEND_TOPICS.contains(&topic)
}

/// Whether `topic` is a system topic (cannot be created by a client).
pub fn is_system_topic(topic: &str) -> bool {
    is_not_allowed_send_topic(topic)
        || SYSTEM_TOPICS.contains(&topic)
        || topic.starts_with(SYSTEM_TOPIC_PREFIX)
}

/// A topic a producer may send to: non-blank, ≤ 127 chars, legal charset, not a system topic.
pub fn validate_topic(topic: &str) -> Result<(), ValidationError> {
    if is_blank(topic) {
        return Err(ValidationError::TopicBlank);
    }
    let len = java_len(topic);
    if len > TOPIC_MAX_LEN {
        return Err(ValidationError::TopicTooLong {
            topic: topic.to_owned(),
            len,
            max: TOPIC_MAX_LEN,
        });
    }
    if !is_legal_name(topic) {
        return Err(ValidationError::TopicIllegalChars {
            topic: topic.to_owned(),
        });
    }
    if is_not_allowed_send_topic(topic) {
        return Err(ValidationError::TopicNotAllowed {
            topic: topic.to_owned(),
        });
    }
    Ok(())
}

/// A producer group: non-blank, ≤ 120 chars, legal charset, not a reserved group.
pub fn validate_group(group: &str) -> Result<(), ValidationError> {
    if is_blank(group) {
        return Err(ValidationError::GroupBlank);
    }
    let len = java_len(group);
    if len > GROUP_MAX_LEN {
        return Err(ValidationError::GroupTooLong {
            group: group.to_owned(),
            len,
            max: GROUP_MAX_LEN,
        });
    }
    if !is_legal_name(group) {
        return Err(ValidationError::GroupIllegalChars {
            group: group.to_owned(),
        });
    }
    if group == DEFAULT_PRODUCER_GROUP || group == CLIENT_INNER_PRODUCER_GROUP {
        return Err(ValidationError::GroupReserved {
            group: group.to_owned(),
        });
    }
    Ok(())
}

/// A message about to be sent: topic, body (non-empty, ≤ `max_size`), user
/// properties (not reserved, non-blank), separators, properties ≤ 32 767 bytes.
///
/// The length check counts the properties present now; check after stamping
/// `UNIQ_KEY` to count it too.
pub fn validate_message(msg: &Message, max_size: usize) -> Result<(), ValidationError> {
    validate_topic(&msg.topic)?;
    validate_message_content(msg, max_size)
}

/// [`validate_message`] without the topic check, for a topic already known valid.
pub fn validate_message_content(msg: &Message, max_size: usize) -> Result<(), ValidationError> {
    if msg.body.is_empty() {
        return Err(ValidationError::BodyEmpty);
    }
    if msg.body.len() > max_size {
        return Err(ValidationError::BodyTooLarge {
            size: msg.body.len(),
            max: max_size,
        });
    }
    if let Some(name) = msg.reserved_user_property_names().first() {
        return Err(ValidationError::ReservedPropertyName { name: name.clone() });
    }
    for (name, value) in msg.properties() {
        // Bytes, not chars: 1 and 2 never occur inside a UTF-8 sequence, and this runs per send.
        if name.bytes().any(|b| b == 1 || b == 2) || value.bytes().any(|b| b == 2) {
            return Err(ValidationError::PropertySeparatorInside {
                name: name.to_owned(),
            });
        }
        if property::is_system_property(name) {
            continue;
        }
        if is_blank(name) {
            return Err(ValidationError::BlankPropertyName);
        }
        if is_blank(value) {
            return Err(ValidationError::BlankPropertyValue {
                name: name.to_owned(),
            });
        }
    }
    if let Some(path) = msg.property(property::INNER_MULTI_DISPATCH) {
        if path.contains('/') {
            return Err(ValidationError::MultiDispatchPath {
                value: path.to_owned(),
            });
        }
    }
    let len = msg.encoded_properties_len();
    if len > MAX_PROPERTIES_LEN {
        return Err(ValidationError::PropertiesTooLong {
            len,
            max: MAX_PROPERTIES_LEN,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics() {
        assert_eq!(validate_topic(" "), Err(ValidationError::TopicBlank));
        assert_eq!(validate_topic(""), Err(ValidationError::TopicBlank));
        assert!(validate_topic(&"a".repeat(127)).is_ok());
        assert!(matches!(
            validate_topic(&"a".repeat(128)),
            Err(ValidationError::TopicTooLong {
                len: 128,
                max: 127,
                ..
            })
        ));
        assert!(matches!(
            validate_topic("a b"),
            Err(ValidationError::TopicIllegalChars { .. })
        ));
        assert!(matches!(
            validate_topic("tøpic"),
            Err(ValidationError::TopicIllegalChars { .. })
        ));
        assert!(validate_topic("%RETRY%g|x_y-Z9").is_ok());
        for t in NOT_ALLOWED_SEND_TOPICS {
            assert!(matches!(
                validate_topic(t),
                Err(ValidationError::TopicNotAllowed { .. })
            ));
        }
        assert!(validate_topic("TBW102").is_ok());
        assert!(is_system_topic("TBW102") && is_system_topic("rmq_sys_x"));
    }

    #[test]
    fn groups() {
        assert_eq!(validate_group("\t"), Err(ValidationError::GroupBlank));
        assert!(validate_group(&"g".repeat(120)).is_ok());
        assert!(matches!(
            validate_group(&"g".repeat(121)),
            Err(ValidationError::GroupTooLong { len: 121, .. })
        ));
        assert!(matches!(
            validate_group("g/1"),
            Err(ValidationError::GroupIllegalChars { .. })
        ));
        assert!(matches!(
            validate_group("DEFAULT_PRODUCER"),
            Err(ValidationError::GroupReserved { .. })
        ));
        assert!(matches!(
            validate_group("CLIENT_INNER_PRODUCER"),
            Err(ValidationError::GroupReserved { .. })
        ));
        assert!(validate_group("my_group").is_ok());
    }

    #[test]
    fn messages() {
        let max = DEFAULT_MAX_MESSAGE_SIZE;
        let ok = Message::new("T", "x")
            .with_tags("a")
            .with_property("k", "v");
        assert_eq!(validate_message(&ok, max), Ok(()));
        assert_eq!(
            validate_message(&Message::new("T", ""), max),
            Err(ValidationError::BodyEmpty)
        );
        assert_eq!(
            validate_message(&Message::new("T", vec![0u8; 11]), 10),
            Err(ValidationError::BodyTooLarge { size: 11, max: 10 })
        );
        assert!(validate_message(&Message::new("T", vec![0u8; max]), max).is_ok());
        assert_eq!(
            validate_message(&Message::new("T", "x").with_property("KEYS", "k"), max),
            Err(ValidationError::ReservedPropertyName {
                name: "KEYS".into()
            })
        );
        assert_eq!(
            validate_message(&Message::new("T", "x").with_property(" ", "v"), max),
            Err(ValidationError::BlankPropertyName)
        );
        assert_eq!(
            validate_message(&Message::new("T", "x").with_property("k", " "), max),
            Err(ValidationError::BlankPropertyValue { name: "k".into() })
        );
        assert_eq!(
            validate_message(&Message::new("T", "x").with_tags("a\u{2}b"), max),
            Err(ValidationError::PropertySeparatorInside {
                name: "TAGS".into()
            })
        );
        assert!(matches!(
            validate_message(
                &Message::new("T", "x").with_property("INNER_MULTI_DISPATCH", "a/b"),
                max
            ),
            Err(ValidationError::MultiDispatchPath { .. })
        ));
        let big = Message::new("T", "x").with_property("k", "v".repeat(32_767));
        assert!(matches!(
            validate_message(&big, max),
            Err(ValidationError::PropertiesTooLong { max: 32_767, .. })
        ));
        assert!(matches!(
            validate_message(&Message::new("SCHEDULE_TOPIC_XXXX", "x"), max),
            Err(ValidationError::TopicNotAllowed { .. })
        ));
    }

    #[test]
    fn messages_read_as_instructions() {
        let e = ValidationError::BodyTooLarge { size: 5, max: 4 };
        assert_eq!(
            e.to_string(),
            "the message body is 5 bytes, more than the maximum of 4; shrink or split it, or raise the size limit (the broker's maxMessageSize too)"
        );
    }
}
