//! RECALL_MESSAGE (370, 5.3.1+): take back a timer / delay message before it is
//! delivered, by the `recallHandle` its send response carried.
//!
//! The handle is the broker's (Java `RecallMessageHandle.HandleV1`): URL-safe
//! base64 (with `=` padding) of `v1 <topic> <brokerName> <timestamp> <uniqKey>`,
//! separated by single spaces, where `timestamp` is the delivery time in epoch
//! milliseconds. The client only reads the broker name out of it, to send the
//! recall to that broker's master, and passes the handle back unchanged.
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

use super::CommandHeader;
use super::fields::{BNAME, opt_str, push_opt_str, req_str};
use crate::protocol::codes::request_code;
use crate::protocol::command::{ExtFields, RemotingCommand};
use crate::protocol::error::ProtocolError;

/// A decoded recall handle (Java `RecallMessageHandle.HandleV1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallHandle {
    /// The topic the message was sent to (namespaced, as stored).
    pub topic: String,
    /// The broker that holds the timer message.
    pub broker_name: String,
    /// The delivery time in epoch milliseconds, as the broker wrote it.
    pub timestamp: String,
    /// The message's UNIQ_KEY.
    pub message_id: String,
}

impl RecallHandle {
    /// Decodes `handle` as Java's `decodeHandle` does; accepts base64 with or
    /// without padding. `Err` says what is wrong with it.
    pub fn decode(handle: &str) -> Result<Self, String> {
        if handle.trim().is_empty() {
            return Err("the handle is empty".into());
        }
        let raw = URL_SAFE
            .decode(handle)
            .or_else(|_| URL_SAFE_NO_PAD.decode(handle))
            .map_err(|e| format!("not URL-safe base64 ({e})"))?;
        let text = String::from_utf8(raw).map_err(|_| "not UTF-8 inside".to_owned())?;
        let parts: Vec<&str> = text.split(' ').collect();
        if parts.len() < 5 {
            return Err(format!("{} fields instead of 5", parts.len()));
        }
        if parts[0] != "v1" {
            return Err(format!("version {:?} instead of v1", parts[0]));
        }
        Ok(RecallHandle {
            topic: parts[1].to_owned(),
            broker_name: parts[2].to_owned(),
            timestamp: parts[3].to_owned(),
            message_id: parts[4].to_owned(),
        })
    }

    /// Encodes the handle as the broker does (Java `buildHandle`, padded).
    pub fn encode(&self) -> String {
        let raw = format!(
            "v1 {} {} {} {}",
            self.topic, self.broker_name, self.timestamp, self.message_id
        );
        URL_SAFE.encode(raw.as_bytes())
    }
}

/// Request header of RECALL_MESSAGE (Java `RecallMessageRequestHeader`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecallMessageRequestHeader {
    /// The producer group (`producerGroup`, optional).
    pub producer_group: Option<String>,
    /// The topic the message was sent to, namespaced (`topic`, required); must match the handle's.
    pub topic: String,
    /// The handle of the send response (`recallHandle`, required).
    pub recall_handle: String,
    /// The broker named in the handle (`bname`, Java `RpcRequestHeader.brokerName`).
    pub broker_name: Option<String>,
}

impl RecallMessageRequestHeader {
    /// A RECALL_MESSAGE (370) request.
    pub fn into_request(self) -> RemotingCommand {
        RemotingCommand::request(request_code::RECALL_MESSAGE, self.to_ext_fields())
    }
}

impl CommandHeader for RecallMessageRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(4);
        push_opt_str(&mut f, "producerGroup", &self.producer_group);
        f.push("topic", self.topic.as_str());
        f.push("recallHandle", self.recall_handle.as_str());
        push_opt_str(&mut f, BNAME, &self.broker_name);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(RecallMessageRequestHeader {
            producer_group: opt_str(f, "producerGroup"),
            topic: req_str(f, "topic")?,
            recall_handle: req_str(f, "recallHandle")?,
            broker_name: opt_str(f, BNAME),
        })
    }
}

/// Response header of RECALL_MESSAGE: the recalled message's UNIQ_KEY (`msgId`, required).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecallMessageResponseHeader {
    /// The UNIQ_KEY of the recalled message.
    pub msg_id: String,
}

impl CommandHeader for RecallMessageResponseHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(1);
        f.push("msgId", self.msg_id.as_str());
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(RecallMessageResponseHeader {
            msg_id: req_str(f, "msgId")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_round_trips_as_java_builds_it() {
        let h = RecallHandle {
            topic: "T".into(),
            broker_name: "broker-a".into(),
            timestamp: "1700000000000".into(),
            message_id: "7F0000010F2C18B4AAC2178A08E50000".into(),
        };
        let enc = h.encode();
        // Java: Base64.getUrlEncoder().encodeToString("v1 T broker-a 1700000000000 7F00...".getBytes(UTF_8))
        assert_eq!(
            enc,
            "djEgVCBicm9rZXItYSAxNzAwMDAwMDAwMDAwIDdGMDAwMDAxMEYyQzE4QjRBQUMyMTc4QTA4RTUwMDAw"
        );
        assert_eq!(RecallHandle::decode(&enc), Ok(h.clone()));
        // unpadded handles of other clients decode too
        let short = RecallHandle {
            topic: "T1".into(),
            ..h
        };
        let enc = short.encode();
        assert!(enc.ends_with('='), "{enc}");
        assert_eq!(RecallHandle::decode(enc.trim_end_matches('=')), Ok(short));
    }

    #[test]
    fn bad_handles_say_why() {
        assert!(RecallHandle::decode("").is_err());
        assert!(RecallHandle::decode("!!!").unwrap_err().contains("base64"));
        let v2 = URL_SAFE.encode("v2 T b 1 id");
        assert!(RecallHandle::decode(&v2).unwrap_err().contains("v2"));
        let few = URL_SAFE.encode("v1 T b");
        assert!(RecallHandle::decode(&few).unwrap_err().contains("3 fields"));
    }

    #[test]
    fn request_header_round_trips() {
        let h = RecallMessageRequestHeader {
            producer_group: Some("g".into()),
            topic: "T".into(),
            recall_handle: "aGFuZGxl".into(),
            broker_name: Some("broker-a".into()),
        };
        let cmd = h.clone().into_request();
        assert_eq!(cmd.code, request_code::RECALL_MESSAGE);
        assert_eq!(RecallMessageRequestHeader::from_command(&cmd), Ok(h));
        let empty = ExtFields::new();
        assert!(RecallMessageRequestHeader::from_ext_fields(&empty).is_err());
        assert!(RecallMessageResponseHeader::from_ext_fields(&empty).is_err());
    }
}
