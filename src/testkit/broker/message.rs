//! What the test broker stores: [`BrokerMessage`] and its [`TransactionState`].
use std::net::SocketAddr;

use bytes::Bytes;

use super::super::server::ConnectionId;
use crate::protocol::ProtocolError;
use crate::protocol::compression::decompress;
use crate::protocol::message::{property, sys_flag};
use crate::protocol::stored::DEFAULT_MAX_INFLATED_BODY;

/// Where a stored message stands in a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TransactionState {
    /// An ordinary message.
    #[default]
    NotTransactional,
    /// A half message (sysFlag PREPARED) not resolved yet.
    Prepared,
    /// Resolved by END_TRANSACTION commit (8).
    Committed,
    /// Resolved by END_TRANSACTION rollback (12).
    RolledBack,
}

/// A message as the test broker stored it.
///
/// Unlike a real broker it keeps half messages under their own topic, and
/// END_TRANSACTION only changes [`BrokerMessage::transaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerMessage {
    /// The broker that stored it.
    pub broker_name: String,
    /// The topic from the send header.
    pub topic: String,
    /// The queue it was stored in.
    pub queue_id: i32,
    /// Its offset in that queue, from 0.
    pub queue_offset: i64,
    /// Its commit-log offset on this broker (second half of `msg_id`).
    pub commit_log_offset: i64,
    /// Offset message id (store host + commit-log offset), as in the send reply.
    pub msg_id: String,
    /// The user `Message.flag`.
    pub flag: i32,
    /// sysFlag as sent (compression, transaction type).
    pub sys_flag: i32,
    /// Properties as received: the header's for a single send, the record's for a batch.
    pub properties: Vec<(String, String)>,
    /// Body as received: still compressed when `sys_flag` has COMPRESSED.
    pub body: Bytes,
    /// The header's `bornTimestamp`, epoch ms.
    pub born_timestamp: i64,
    /// When the test broker stored it, epoch ms.
    pub store_timestamp: i64,
    /// The client's address on the connection it came on.
    pub born_host: SocketAddr,
    /// This broker's address.
    pub store_host: SocketAddr,
    /// The header's `producerGroup`.
    pub producer_group: String,
    /// The header's `reconsumeTimes` (0 when absent).
    pub reconsume_times: i32,
    /// The request that carried it: 10, 310, 320, 324 or 325.
    pub request_code: i32,
    /// The connection the send came on.
    pub connection: ConnectionId,
    /// Its transaction state (END_TRANSACTION updates it).
    pub transaction: TransactionState,
}

impl BrokerMessage {
    /// The value of property `name`, if set.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// The client message id (`UNIQ_KEY`).
    pub fn uniq_key(&self) -> Option<&str> {
        self.property(property::UNIQ_KEY)
    }
    /// The `TAGS` property.
    pub fn tags(&self) -> Option<&str> {
        self.property(property::TAGS)
    }
    /// The `KEYS` property (several keys separated by a space).
    pub fn keys(&self) -> Option<&str> {
        self.property(property::KEYS)
    }
    /// `true` if the body arrived compressed (sysFlag COMPRESSED).
    pub fn is_compressed(&self) -> bool {
        self.sys_flag & sys_flag::COMPRESSED != 0
    }
    /// The body, inflated when it was sent compressed.
    pub fn decompressed_body(&self) -> Result<Bytes, ProtocolError> {
        if self.is_compressed() {
            decompress(&self.body, self.sys_flag, DEFAULT_MAX_INFLATED_BODY)
        } else {
            Ok(self.body.clone())
        }
    }

    /// The protocol's stored-message record (body inflated; a body that does
    /// not inflate is kept raw with the COMPRESSED bit cleared).
    pub fn to_stored(&self) -> crate::protocol::stored::StoredMessage {
        let (body, sys_flag) = match self.decompressed_body() {
            Ok(b) => (b, self.sys_flag),
            Err(_) => (
                self.body.clone(),
                self.sys_flag & !(sys_flag::COMPRESSED | sys_flag::COMPRESSION_TYPE_MASK),
            ),
        };
        crate::protocol::stored::StoredMessage {
            topic: self.topic.clone(),
            queue_id: self.queue_id,
            flag: self.flag,
            queue_offset: self.queue_offset,
            commit_log_offset: self.commit_log_offset,
            sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_timestamp: self.store_timestamp,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: 0,
            body,
            properties: self.properties.clone(),
        }
    }
}
