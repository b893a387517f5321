//! Transactions: END_TRANSACTION (37, client → broker) and
//! CHECK_TRANSACTION_STATE (39, broker → client), and the resolution codes.
use super::CommandHeader;
use super::fields::{
    BNAME, bool_str, opt_bool, opt_str, parse, push_opt_str, req, req_num, req_str,
};
use crate::protocol::codes::request_code;
use crate::protocol::command::{ExtFields, RemotingCommand};
use crate::protocol::error::ProtocolError;

/// `commitOrRollback` of END_TRANSACTION (Java `MessageSysFlag.TRANSACTION_*_TYPE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TransactionResolution {
    /// 8: make the half message visible.
    Commit,
    /// 12: drop the half message.
    Rollback,
    /// 0: not decided yet; the broker will check back later.
    #[default]
    Unknown,
}

impl TransactionResolution {
    /// `TRANSACTION_COMMIT_TYPE` (8).
    pub const COMMIT_TYPE: i32 = 8;
    /// `TRANSACTION_ROLLBACK_TYPE` (12).
    pub const ROLLBACK_TYPE: i32 = 12;
    /// `TRANSACTION_NOT_TYPE` (0): unknown, wait for the broker's check.
    pub const NOT_TYPE: i32 = 0;

    /// The `commitOrRollback` value: 8, 12 or 0.
    pub fn code(self) -> i32 {
        match self {
            TransactionResolution::Commit => Self::COMMIT_TYPE,
            TransactionResolution::Rollback => Self::ROLLBACK_TYPE,
            TransactionResolution::Unknown => Self::NOT_TYPE,
        }
    }
    /// Other values are rejected, as the broker does.
    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            Self::COMMIT_TYPE => Some(TransactionResolution::Commit),
            Self::ROLLBACK_TYPE => Some(TransactionResolution::Rollback),
            Self::NOT_TYPE => Some(TransactionResolution::Unknown),
            _ => None,
        }
    }
}

/// Request header of END_TRANSACTION (oneway).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndTransactionRequestHeader {
    /// The producer group of the half message (`producerGroup`, required; checked against `PGROUP`).
    pub producer_group: String,
    /// The half message's queue offset.
    pub tran_state_table_offset: i64,
    /// From the half message's offset message id.
    pub commit_log_offset: i64,
    /// Commit, rollback or unknown (`commitOrRollback`, required).
    pub commit_or_rollback: TransactionResolution,
    /// `true` when answering a CHECK_TRANSACTION_STATE (`fromTransactionCheck`, always sent).
    pub from_transaction_check: bool,
    /// The half message's UNIQ_KEY.
    pub msg_id: String,
    /// The transaction id (`transactionId`; the UNIQ_KEY unless the broker said otherwise).
    pub transaction_id: Option<String>,
    /// 5.x: the half message's topic (`topic`).
    pub topic: Option<String>,
    /// 5.x: the broker that stored the half message (`bname`).
    pub broker_name: Option<String>,
}

impl EndTransactionRequestHeader {
    /// An END_TRANSACTION request, marked oneway as the Java client sends it.
    pub fn into_request(self) -> RemotingCommand {
        let mut cmd = RemotingCommand::request(request_code::END_TRANSACTION, self.to_ext_fields());
        cmd.mark_oneway();
        cmd
    }
}

impl CommandHeader for EndTransactionRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(9);
        f.push("producerGroup", self.producer_group.as_str());
        f.push(
            "tranStateTableOffset",
            self.tran_state_table_offset.to_string(),
        );
        f.push("commitLogOffset", self.commit_log_offset.to_string());
        f.push(
            "commitOrRollback",
            self.commit_or_rollback.code().to_string(),
        );
        f.push(
            "fromTransactionCheck",
            bool_str(self.from_transaction_check),
        );
        f.push("msgId", self.msg_id.as_str());
        push_opt_str(&mut f, "transactionId", &self.transaction_id);
        push_opt_str(&mut f, "topic", &self.topic);
        push_opt_str(&mut f, BNAME, &self.broker_name);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        let raw = req(f, "commitOrRollback")?;
        let code: i32 = parse("commitOrRollback", raw)?;
        let commit_or_rollback =
            TransactionResolution::from_code(code).ok_or_else(|| ProtocolError::InvalidField {
                field: "commitOrRollback",
                value: raw.to_owned(),
            })?;
        Ok(EndTransactionRequestHeader {
            producer_group: req_str(f, "producerGroup")?,
            tran_state_table_offset: req_num(f, "tranStateTableOffset")?,
            commit_log_offset: req_num(f, "commitLogOffset")?,
            commit_or_rollback,
            from_transaction_check: opt_bool(f, "fromTransactionCheck")?.unwrap_or(false),
            msg_id: req_str(f, "msgId")?,
            transaction_id: opt_str(f, "transactionId"),
            topic: opt_str(f, "topic"),
            broker_name: opt_str(f, BNAME),
        })
    }
}

/// Request header of CHECK_TRANSACTION_STATE (broker → client, oneway).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckTransactionStateRequestHeader {
    /// The half message's queue offset (`tranStateTableOffset`, required); copied into END_TRANSACTION.
    pub tran_state_table_offset: i64,
    /// The half message's commit-log offset (`commitLogOffset`, required); copied into END_TRANSACTION.
    pub commit_log_offset: i64,
    /// UNIQ_KEY of the half message.
    pub msg_id: Option<String>,
    /// The transaction id (`transactionId`, equal to the msg id).
    pub transaction_id: Option<String>,
    /// The half message's offset message id (`offsetMsgId`).
    pub offset_msg_id: Option<String>,
    /// 5.x: the half message's topic (`topic`).
    pub topic: Option<String>,
    /// 5.x: the checking broker's name (`bname`); goes back in END_TRANSACTION.
    pub broker_name: Option<String>,
}

impl CommandHeader for CheckTransactionStateRequestHeader {
    fn to_ext_fields(&self) -> ExtFields {
        let mut f = ExtFields::with_capacity(7);
        f.push(
            "tranStateTableOffset",
            self.tran_state_table_offset.to_string(),
        );
        f.push("commitLogOffset", self.commit_log_offset.to_string());
        push_opt_str(&mut f, "msgId", &self.msg_id);
        push_opt_str(&mut f, "transactionId", &self.transaction_id);
        push_opt_str(&mut f, "offsetMsgId", &self.offset_msg_id);
        push_opt_str(&mut f, "topic", &self.topic);
        push_opt_str(&mut f, BNAME, &self.broker_name);
        f
    }
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError> {
        Ok(CheckTransactionStateRequestHeader {
            tran_state_table_offset: req_num(f, "tranStateTableOffset")?,
            commit_log_offset: req_num(f, "commitLogOffset")?,
            msg_id: opt_str(f, "msgId"),
            transaction_id: opt_str(f, "transactionId"),
            offset_msg_id: opt_str(f, "offsetMsgId"),
            topic: opt_str(f, "topic"),
            broker_name: opt_str(f, BNAME),
        })
    }
}
