//! GET_ROUTEINFO_BY_TOPIC (105): a topic's route from the name server.
use super::CommandHeader;
use super::fields::{opt_bool, push_opt_bool, req_str};
use crate::protocol::codes::request_code;
use crate::protocol::command::{ExtFields, RemotingCommand};
use crate::protocol::error::ProtocolError;

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
