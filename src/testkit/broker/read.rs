//! Reading back what was stored: GET_MAX_OFFSET and VIEW_MESSAGE_BY_ID.
use super::{BrokerCore, BrokerMessage, error, ok};
use crate::protocol::codes::response_code;
use crate::protocol::command::RemotingCommand;
use crate::protocol::headers::CommandHeader;
use crate::protocol::stored::encode_stored_message;
use crate::testkit::headers::{
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, ViewMessageRequestHeader,
};
use crate::testkit::server::lock;

pub(super) fn max_offset(b: &BrokerCore, req: &RemotingCommand) -> RemotingCommand {
    match GetMaxOffsetRequestHeader::from_command(req) {
        Ok(h) => {
            let offset = lock(&b.store)
                .queue_offsets
                .get(&(h.topic, h.queue_id))
                .copied()
                .unwrap_or(0);
            ok(
                req,
                Some(GetMaxOffsetResponseHeader { offset }.to_ext_fields()),
            )
        }
        Err(e) => error(req, response_code::SYSTEM_ERROR, e.to_string()),
    }
}

pub(super) fn view_message(b: &BrokerCore, req: &RemotingCommand) -> RemotingCommand {
    use response_code::SYSTEM_ERROR;
    let h = match ViewMessageRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return error(req, SYSTEM_ERROR, e.to_string()),
    };
    let found = lock(&b.store)
        .messages
        .iter()
        .find(|m| m.commit_log_offset == h.offset)
        .map(BrokerMessage::to_stored);
    match found.map(|m| encode_stored_message(&m)) {
        Some(Ok(body)) => ok(req, None).with_body(body),
        Some(Err(e)) => error(req, SYSTEM_ERROR, e.to_string()),
        None => error(
            req,
            SYSTEM_ERROR,
            format!("can not find message by the offset, {}", h.offset),
        ),
    }
}
