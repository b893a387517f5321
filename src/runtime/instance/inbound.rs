//! Requests the brokers initiate, and where they go: CHECK_TRANSACTION_STATE
//! to the transactional producer of the message's group, request–reply
//! answers (PUSH_REPLY_MESSAGE_TO_CLIENT) to every producer; anything else is
//! answered "not supported". [`InboundRoutes`] holds the producers to route to.
use std::collections::HashMap;

use actix::WeakRecipient;
use actix::prelude::*;

use super::ClientInstance;
use crate::protocol::RemotingCommand;
use crate::protocol::codes::{request_code, response_code};
use crate::protocol::headers::{
    CheckTransactionStateRequestHeader, CommandHeader, ReplyMessageRequestHeader,
};
use crate::protocol::message::{Message as MqMessage, property};
use crate::protocol::stored::{DEFAULT_MAX_INFLATED_BODY, StoredMessage, decode_stored_messages};
use crate::runtime::connection::{Connection, InboundRequest};

/// A request–reply answer a broker pushed to this client
/// (PUSH_REPLY_MESSAGE_TO_CLIENT).
pub struct RequestReply {
    /// Its `CORRELATION_ID`: the request it answers.
    pub correlation_id: String,
    /// The reply message.
    pub message: MqMessage,
}
impl Message for RequestReply {
    type Result = ();
}

/// A broker asks about a transaction it holds a half message of
/// (CHECK_TRANSACTION_STATE), routed to the producer of the message's group.
pub struct CheckTransaction {
    /// The request's header: offsets and ids to copy into END_TRANSACTION.
    pub header: CheckTransactionStateRequestHeader,
    /// The half message, as the broker stored it.
    pub message: StoredMessage,
    /// The connection the check came on: END_TRANSACTION goes back on it.
    pub connection: Connection,
}
impl Message for CheckTransaction {
    type Result = ();
}
/// Where broker-initiated requests go, per producer group. Weak: the instance
/// must not keep a producer its user dropped alive.
#[derive(Default)]
pub(super) struct InboundRoutes {
    /// Per transactional producer group, where its transaction checks go.
    checkers: HashMap<String, WeakRecipient<CheckTransaction>>,
    /// Per producer group, where request–reply answers go.
    repliers: HashMap<String, WeakRecipient<RequestReply>>,
}

impl InboundRoutes {
    /// Routes `group`'s transaction checks and request–reply answers, where given.
    pub(super) fn register(
        &mut self,
        group: &str,
        checks: Option<Recipient<CheckTransaction>>,
        replies: Option<Recipient<RequestReply>>,
    ) {
        if let Some(checks) = checks {
            self.checkers.insert(group.to_owned(), checks.downgrade());
        }
        if let Some(replies) = replies {
            self.repliers.insert(group.to_owned(), replies.downgrade());
        }
    }

    /// Forgets `group`.
    pub(super) fn remove(&mut self, group: &str) {
        self.checkers.remove(group);
        self.repliers.remove(group);
    }

    /// Forgets every group (shutdown).
    pub(super) fn clear(&mut self) {
        self.checkers.clear();
        self.repliers.clear();
    }

    /// PUSH_REPLY_MESSAGE_TO_CLIENT: to every producer, answered SUCCESS
    /// (SYSTEM_ERROR when unreadable), as the Java client does.
    fn reply_pushed(&self, req: InboundRequest) {
        let reply = ReplyMessageRequestHeader::from_command(&req.cmd).and_then(|h| {
            MqMessage::from_reply_push(&h, req.cmd.body.clone(), DEFAULT_MAX_INFLATED_BODY)
        });
        let code = match reply {
            Ok(message) => {
                let correlation_id = message
                    .property(property::CORRELATION_ID)
                    .unwrap_or_default()
                    .to_owned();
                for producer in self.repliers.values().filter_map(WeakRecipient::upgrade) {
                    // Broker-initiated and rare: do_send keeps the instance from waiting on a producer.
                    producer.do_send(RequestReply {
                        correlation_id: correlation_id.clone(),
                        message: message.clone(),
                    });
                }
                response_code::SUCCESS
            }
            Err(e) => {
                tracing::warn!(broker = %req.remote, error = %e, "unreadable reply message");
                response_code::SYSTEM_ERROR
            }
        };
        if !req.cmd.is_oneway() {
            let mut resp = RemotingCommand::response(code, req.cmd.opaque, None);
            resp.serialize_type = req.cmd.serialize_type;
            req.connection.respond(resp);
        }
    }

    /// CHECK_TRANSACTION_STATE: to the producer of the half message's group.
    fn check_transaction(&self, req: InboundRequest) {
        let remote = req.remote.clone();
        let header = match CheckTransactionStateRequestHeader::from_command(&req.cmd) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(broker = %remote, error = %e, "unreadable transaction check");
                return;
            }
        };
        let message = match decode_stored_messages(&req.cmd.body).map(|m| m.into_iter().next()) {
            Ok(Some(m)) => m,
            Ok(None) => {
                tracing::warn!(broker = %remote, "transaction check without a message");
                return;
            }
            Err(e) => {
                tracing::warn!(broker = %remote, error = %e, "unreadable transaction check message");
                return;
            }
        };
        let group = message
            .property(property::PGROUP)
            .unwrap_or_default()
            .to_owned();
        match self.checkers.get(&group).and_then(WeakRecipient::upgrade) {
            // Broker-initiated and rare: do_send keeps the instance from waiting on a producer.
            Some(producer) => producer.do_send(CheckTransaction {
                header,
                message,
                connection: req.connection,
            }),
            None => tracing::warn!(
                broker = %remote,
                %group,
                "transaction check for a group with no transactional producer here"
            ),
        }
    }
}

impl Handler<InboundRequest> for ClientInstance {
    type Result = ();
    fn handle(&mut self, req: InboundRequest, _: &mut Context<Self>) {
        match req.cmd.code {
            request_code::CHECK_TRANSACTION_STATE => self.inbound.check_transaction(req),
            request_code::PUSH_REPLY_MESSAGE_TO_CLIENT => self.inbound.reply_pushed(req),
            // A request this producer-only client does not serve (consumer notifications...).
            _ if !req.cmd.is_oneway() => req
                .connection
                .respond(RemotingCommand::not_supported(&req.cmd)),
            code => tracing::debug!(broker = %req.remote, code, "ignored a oneway request"),
        }
    }
}
