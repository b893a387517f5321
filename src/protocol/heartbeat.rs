//! `HeartbeatData`, the JSON body of HEART_BEAT (34).
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::command::RemotingCommand;
use super::error::ProtocolError;
use super::headers::HeartbeatRequestHeader;

/// One producer group announced in a heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProducerData {
    /// The producer group name (`groupName`).
    pub group_name: String,
}

/// Body of HEART_BEAT.
///
/// Every key is always written: the RocketMQ-Rust 1.0 broker rejects bodies missing
/// any of them (rig README, known broker limitations 1–2). Field order matches the
/// captured rocketmq-client-rust body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatData {
    /// The client id, `ip@instanceName` (`clientID`); the broker binds it to this channel.
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// The producer groups of this client (`producerDataSet`).
    #[serde(default)]
    pub producer_data_set: Vec<ProducerData>,
    /// Consumer entries, kept opaque; always empty for a producer.
    #[serde(default)]
    pub consumer_data_set: Vec<serde_json::Value>,
    /// 5.x: non-zero switches the broker to heartbeat-v2 logic, so a producer sends 0.
    #[serde(default)]
    pub heartbeat_fingerprint: i32,
    /// 5.x.
    #[serde(default)]
    pub without_sub: bool,
}

impl HeartbeatData {
    /// A pure producer's heartbeat for `groups`.
    pub fn producer<I, S>(client_id: impl Into<String>, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        HeartbeatData {
            client_id: client_id.into(),
            producer_data_set: groups
                .into_iter()
                .map(|g| ProducerData {
                    group_name: g.into(),
                })
                .collect(),
            consumer_data_set: Vec::new(),
            heartbeat_fingerprint: 0,
            without_sub: false,
        }
    }

    /// The JSON body of a HEART_BEAT request.
    pub fn encode(&self) -> Bytes {
        // Strings, numbers, bools and JSON values always serialize.
        serde_json::to_vec(self)
            .map(Bytes::from)
            .unwrap_or_default()
    }

    /// Accepts 4.x bodies too (no `heartbeatFingerprint` / `withoutSub`).
    pub fn decode(body: &[u8]) -> Result<Self, ProtocolError> {
        serde_json::from_slice(body).map_err(|e| ProtocolError::MalformedBody {
            kind: "HeartbeatData",
            reason: e.to_string(),
        })
    }

    /// A HEART_BEAT request carrying this body.
    pub fn to_request(&self) -> RemotingCommand {
        HeartbeatRequestHeader
            .into_request()
            .with_body(self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codes::request_code;

    #[test]
    fn producer_heartbeat_json() {
        let hb = HeartbeatData::producer("10.0.0.9@4711#1", ["my_group"]);
        let json = String::from_utf8(hb.encode().to_vec()).unwrap();
        assert_eq!(
            json,
            r#"{"clientID":"10.0.0.9@4711#1","producerDataSet":[{"groupName":"my_group"}],"consumerDataSet":[],"heartbeatFingerprint":0,"withoutSub":false}"#
        );
        assert_eq!(HeartbeatData::decode(json.as_bytes()).unwrap(), hb);
        let req = hb.to_request();
        assert_eq!(req.code, request_code::HEART_BEAT);
        assert_eq!(req.body, hb.encode());
    }

    #[test]
    fn decodes_4x_and_rejects_garbage() {
        let hb =
            HeartbeatData::decode(br#"{"clientID":"c","producerDataSet":[],"consumerDataSet":[]}"#)
                .unwrap();
        assert_eq!(hb.client_id, "c");
        assert_eq!(hb.heartbeat_fingerprint, 0);
        assert!(matches!(
            HeartbeatData::decode(b"{\"producerDataSet\":[]}"),
            Err(ProtocolError::MalformedBody {
                kind: "HeartbeatData",
                ..
            })
        ));
        assert!(HeartbeatData::decode(b"\x00").is_err());
    }
}
