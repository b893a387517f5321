//! The outcome of a successful send (Java `SendResult`, `SendStatus`).
//!
//! ```
//! use actix_rocketmq::producer::send_result::{SendResult, SendStatus};
//! use actix_rocketmq::MessageQueue;
//!
//! let r = SendResult {
//!     status: SendStatus::SendOk,
//!     msg_id: "7F0000010F2C18B4AAC2178A08E50000".into(),
//!     offset_msg_id: "7F00000100002A9F0000000000000000".into(),
//!     message_queue: MessageQueue::new("T", "broker-a", 1),
//!     queue_offset: 0,
//!     transaction_id: None,
//!     region_id: Some("DefaultRegion".into()),
//!     trace_on: true,
//!     reply_defect: None,
//!     recall_handle: None,
//! };
//! println!("{}", serde_json::to_string(&r).unwrap());
//! ```
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::protocol::response_code as rc;
use crate::protocol::route::MessageQueue;

/// How the broker stored the message (Java `SendStatus`, from the send response code).
///
/// Every status means the message *is* stored; all but `SendOk` carry a
/// warning about durability or replication.
///
/// ```
/// use actix_rocketmq::producer::send_result::SendStatus;
/// assert_eq!(SendStatus::from_response_code(0), Some(SendStatus::SendOk));
/// assert_eq!(SendStatus::from_response_code(17), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SendStatus {
    /// Stored (response code 0).
    SendOk,
    /// Stored, but not flushed to disk in time (code 10, SYNC_FLUSH brokers).
    FlushDiskTimeout,
    /// Stored, but the slave did not confirm in time (code 12, SYNC_MASTER brokers).
    FlushSlaveTimeout,
    /// Stored, but no slave is available (code 11, SYNC_MASTER brokers).
    SlaveNotAvailable,
}

impl SendStatus {
    /// The status a send response code means; `None` for error codes.
    ///
    /// ```
    /// use actix_rocketmq::producer::send_result::SendStatus;
    /// assert_eq!(SendStatus::from_response_code(11), Some(SendStatus::SlaveNotAvailable));
    /// ```
    pub fn from_response_code(code: i32) -> Option<Self> {
        match code {
            rc::SUCCESS => Some(SendStatus::SendOk),
            rc::FLUSH_DISK_TIMEOUT => Some(SendStatus::FlushDiskTimeout),
            rc::FLUSH_SLAVE_TIMEOUT => Some(SendStatus::FlushSlaveTimeout),
            rc::SLAVE_NOT_AVAILABLE => Some(SendStatus::SlaveNotAvailable),
            _ => None,
        }
    }

    /// The response code of this status.
    ///
    /// ```
    /// use actix_rocketmq::producer::send_result::SendStatus;
    /// assert_eq!(SendStatus::FlushSlaveTimeout.response_code(), 12);
    /// ```
    pub fn response_code(self) -> i32 {
        match self {
            SendStatus::SendOk => rc::SUCCESS,
            SendStatus::FlushDiskTimeout => rc::FLUSH_DISK_TIMEOUT,
            SendStatus::FlushSlaveTimeout => rc::FLUSH_SLAVE_TIMEOUT,
            SendStatus::SlaveNotAvailable => rc::SLAVE_NOT_AVAILABLE,
        }
    }

    /// True for `SendOk` only.
    ///
    /// ```
    /// use actix_rocketmq::producer::send_result::SendStatus;
    /// assert!(SendStatus::SendOk.is_ok() && !SendStatus::FlushDiskTimeout.is_ok());
    /// ```
    pub fn is_ok(self) -> bool {
        self == SendStatus::SendOk
    }

    /// The Java name (`SEND_OK`, ...).
    ///
    /// ```
    /// use actix_rocketmq::producer::send_result::SendStatus;
    /// assert_eq!(SendStatus::SendOk.as_str(), "SEND_OK");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::SendOk => "SEND_OK",
            SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
            SendStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
            SendStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
        }
    }
}

impl fmt::Display for SendStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the broker answered to a stored message.
///
/// Serializes as JSON with the Java field names (`sendStatus`, `msgId`,
/// `offsetMsgId`, `messageQueue`, `queueOffset`, ...); `Display` mirrors the
/// Java `toString`.
///
/// ```
/// use actix_rocketmq::producer::send_result::{SendResult, SendStatus};
/// use actix_rocketmq::MessageQueue;
/// let r = SendResult {
///     status: SendStatus::SendOk,
///     msg_id: "A".into(),
///     offset_msg_id: "B".into(),
///     message_queue: MessageQueue::new("T", "b", 3),
///     queue_offset: 42,
///     transaction_id: None,
///     region_id: None,
///     trace_on: false,
///     reply_defect: None,
///     recall_handle: None,
/// };
/// let json = serde_json::to_value(&r).unwrap();
/// assert_eq!(json["sendStatus"], "SEND_OK");
/// assert_eq!(json["messageQueue"]["queueId"], 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendResult {
    /// How the message was stored.
    #[serde(rename = "sendStatus")]
    pub status: SendStatus,
    /// The client message id (`UNIQ_KEY`); comma-separated ids for a batch.
    pub msg_id: String,
    /// The broker's offset message id (store host + commit-log offset).
    pub offset_msg_id: String,
    /// The queue the message went to (topic without namespace).
    pub message_queue: MessageQueue,
    /// The message's offset in its queue.
    pub queue_offset: i64,
    /// The transaction id of a half message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The broker's region (`MSG_REGION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_id: Option<String>,
    /// Whether the broker has tracing on (`TRACE_ON`).
    #[serde(default)]
    pub trace_on: bool,
    /// Set when the broker answered that it stored the message but its reply's
    /// fields did not decode (no `msgId`, a `queueOffset` that is not a number):
    /// what was wrong. The message *is* stored; `offset_msg_id` is then empty
    /// when absent and `queue_offset` is -1 when unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_defect: Option<String>,
    /// The handle that recalls this message before it is delivered
    /// ([`RecallMessage`](crate::RecallMessage)): set by 5.3.2+ brokers for
    /// timer and delay messages (`recallHandle` of the send response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall_handle: Option<String>,
}

impl fmt::Display for SendResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SendResult [sendStatus={}, msgId={}, offsetMsgId={}, messageQueue=MessageQueue \
             [topic={}, brokerName={}, queueId={}], queueOffset={}",
            self.status,
            self.msg_id,
            self.offset_msg_id,
            self.message_queue.topic,
            self.message_queue.broker_name,
            self.message_queue.queue_id,
            self.queue_offset
        )?;
        if let Some(id) = &self.transaction_id {
            write!(f, ", transactionId={id}")?;
        }
        if let Some(defect) = &self.reply_defect {
            write!(f, ", replyDefect={defect}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SendResult {
        SendResult {
            status: SendStatus::FlushDiskTimeout,
            msg_id: "ID1".into(),
            offset_msg_id: "OFF1".into(),
            message_queue: MessageQueue::new("T", "broker-a", 2),
            queue_offset: 99,
            transaction_id: Some("tx".into()),
            region_id: Some("R".into()),
            trace_on: true,
            reply_defect: None,
            recall_handle: None,
        }
    }

    #[test]
    fn send_status_codes() {
        for (code, status) in [
            (0, SendStatus::SendOk),
            (10, SendStatus::FlushDiskTimeout),
            (11, SendStatus::SlaveNotAvailable),
            (12, SendStatus::FlushSlaveTimeout),
        ] {
            assert_eq!(SendStatus::from_response_code(code), Some(status));
            assert_eq!(status.response_code(), code);
        }
        for code in [1, 2, 13, 14, 17, 215, -1] {
            assert_eq!(SendStatus::from_response_code(code), None);
        }
    }

    #[test]
    fn send_result_json_uses_java_names() {
        let json = serde_json::to_string(&sample()).expect("serializes");
        assert_eq!(
            json,
            r#"{"sendStatus":"FLUSH_DISK_TIMEOUT","msgId":"ID1","offsetMsgId":"OFF1","messageQueue":{"topic":"T","brokerName":"broker-a","queueId":2},"queueOffset":99,"transactionId":"tx","regionId":"R","traceOn":true}"#
        );
        let back: SendResult = serde_json::from_str(&json).expect("round-trips");
        assert_eq!(back, sample());
    }

    #[test]
    fn send_result_display_like_java() {
        let mut r = sample();
        assert_eq!(
            r.to_string(),
            "SendResult [sendStatus=FLUSH_DISK_TIMEOUT, msgId=ID1, offsetMsgId=OFF1, \
             messageQueue=MessageQueue [topic=T, brokerName=broker-a, queueId=2], queueOffset=99, \
             transactionId=tx]"
        );
        r.transaction_id = None;
        assert!(r.to_string().ends_with("queueOffset=99]"));
    }
}
