//! The client's registration with a broker: HEART_BEAT (34) and UNREGISTER_CLIENT (35).
use super::CommandHeader;
use super::fields::{opt_str, push_opt_str, req_str};
use crate::protocol::codes::request_code;
use crate::protocol::command::{ExtFields, RemotingCommand};
use crate::protocol::error::ProtocolError;

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
