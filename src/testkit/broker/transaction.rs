//! Transactions: END_TRANSACTION resolving a stored half message, and the
//! test's side: the END_TRANSACTIONs received and broker-initiated
//! CHECK_TRANSACTION_STATE requests.
use super::{BrokerCore, BrokerHandle, BrokerMessage, TransactionState, error, ok};
use crate::protocol::codes::{request_code, response_code};
use crate::protocol::command::RemotingCommand;
use crate::protocol::headers::{
    CheckTransactionStateRequestHeader, CommandHeader, EndTransactionRequestHeader,
    TransactionResolution,
};
use crate::protocol::message::property;
use crate::protocol::stored::encode_stored_message;
use crate::testkit::SERVER_VERSION;
use crate::testkit::TestkitError;
use crate::testkit::server::{ConnectionId, lock};

pub(super) fn end_transaction(b: &BrokerCore, req: &RemotingCommand) -> RemotingCommand {
    use response_code::SYSTEM_ERROR;
    let h = match EndTransactionRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return error(req, SYSTEM_ERROR, e.to_string()),
    };
    let mut st = lock(&b.store);
    let Some(m) = st
        .messages
        .iter_mut()
        .find(|m| m.commit_log_offset == h.commit_log_offset)
    else {
        return error(
            req,
            SYSTEM_ERROR,
            "Find prepared transaction message failed",
        );
    };
    // The checks of the Java EndTransactionProcessor.
    if m.transaction != TransactionState::Prepared {
        return error(
            req,
            SYSTEM_ERROR,
            "the message is not an unresolved half message",
        );
    }
    if m.property(property::PGROUP) != Some(h.producer_group.as_str()) {
        return error(req, SYSTEM_ERROR, "The producer group wrong");
    }
    if m.queue_offset != h.tran_state_table_offset {
        return error(
            req,
            SYSTEM_ERROR,
            "The transaction state table offset wrong",
        );
    }
    match h.commit_or_rollback {
        TransactionResolution::Commit => m.transaction = TransactionState::Committed,
        TransactionResolution::Rollback => m.transaction = TransactionState::RolledBack,
        TransactionResolution::Unknown => {}
    }
    ok(req, None)
}

impl BrokerHandle {
    /// END_TRANSACTION headers received (undecodable ones skipped).
    pub fn end_transactions(&self) -> Vec<EndTransactionRequestHeader> {
        self.received_with_code(request_code::END_TRANSACTION)
            .iter()
            .filter_map(|r| EndTransactionRequestHeader::from_command(&r.command).ok())
            .collect()
    }

    /// The newest open connection that heartbeated with producer group `group`.
    pub fn connection_for_group(&self, group: &str) -> Option<ConnectionId> {
        lock(&self.server.core.state)
            .conns
            .iter()
            .rev()
            .find(|(_, c)| c.groups.contains(group))
            .map(|(id, _)| *id)
    }

    /// Sends a oneway request to the connection of `group`, as the broker
    /// picks the channel for CHECK_TRANSACTION_STATE.
    pub fn send_to_group(
        &self,
        group: &str,
        cmd: RemotingCommand,
    ) -> Result<ConnectionId, TestkitError> {
        let conn = self
            .connection_for_group(group)
            .ok_or_else(|| TestkitError::NoConnectionForGroup(group.to_owned()))?;
        self.send_oneway(conn, cmd)?;
        Ok(conn)
    }

    /// Sends CHECK_TRANSACTION_STATE for a stored half message to a connection
    /// of its producer group (`PGROUP`), header and body as the real broker
    /// builds them. The client's END_TRANSACTION shows up in
    /// [`end_transactions`](Self::end_transactions).
    pub fn check_transaction(&self, msg: &BrokerMessage) -> Result<ConnectionId, TestkitError> {
        let group = msg
            .property(property::PGROUP)
            .unwrap_or(&msg.producer_group)
            .to_owned();
        let header = CheckTransactionStateRequestHeader {
            tran_state_table_offset: msg.queue_offset,
            commit_log_offset: msg.commit_log_offset,
            msg_id: msg.uniq_key().map(str::to_owned),
            transaction_id: msg.uniq_key().map(str::to_owned),
            offset_msg_id: Some(msg.msg_id.clone()),
            topic: Some(msg.topic.clone()),
            broker_name: Some(self.broker.name.clone()),
        };
        let body = encode_stored_message(&msg.to_stored())?;
        let mut cmd = RemotingCommand::request(
            request_code::CHECK_TRANSACTION_STATE,
            header.to_ext_fields(),
        )
        .with_body(body);
        cmd.version = SERVER_VERSION;
        self.send_to_group(&group, cmd)
    }
}
