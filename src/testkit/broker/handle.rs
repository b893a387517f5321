//! [`BrokerHandle`]: the test's side of one broker: what it stored and counted.
//! Transaction checks are in `transaction`.
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{BrokerCore, BrokerMessage};
use crate::protocol::headers::UnregisterClientRequestHeader;
use crate::protocol::heartbeat::HeartbeatData;
use crate::testkit::server::{ServerHandle, lock};

/// Controls and observes one test broker; derefs to its [`ServerHandle`]
/// (faults, freeze, stop/start, captured frames, server-initiated requests).
#[derive(Clone)]
pub struct BrokerHandle {
    pub(crate) server: ServerHandle,
    pub(crate) broker: Arc<BrokerCore>,
}

impl fmt::Debug for BrokerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerHandle")
            .field("name", &self.broker.name)
            .field("addr", &self.server.socket_addr())
            .finish_non_exhaustive()
    }
}

impl Deref for BrokerHandle {
    type Target = ServerHandle;
    fn deref(&self) -> &ServerHandle {
        &self.server
    }
}

impl BrokerHandle {
    /// The broker name, as in routes.
    pub fn name(&self) -> &str {
        &self.broker.name
    }

    /// Messages stored for `topic`, in store order.
    pub fn messages(&self, topic: &str) -> Vec<BrokerMessage> {
        lock(&self.broker.store)
            .messages
            .iter()
            .filter(|m| m.topic == topic)
            .cloned()
            .collect()
    }

    /// Every stored message, all topics, in store order.
    pub fn all_messages(&self) -> Vec<BrokerMessage> {
        lock(&self.broker.store).messages.clone()
    }

    /// The message stored at this commit-log offset (the second half of an offset msg id).
    pub fn message_at(&self, commit_log_offset: i64) -> Option<BrokerMessage> {
        lock(&self.broker.store)
            .messages
            .iter()
            .find(|m| m.commit_log_offset == commit_log_offset)
            .cloned()
    }

    /// Send requests answered (in null mode too, where nothing is stored).
    pub fn send_requests(&self) -> u64 {
        self.broker.sends.load(Ordering::Relaxed)
    }

    /// Heartbeats with a readable body.
    pub fn heartbeats(&self) -> usize {
        lock(&self.broker.store).heartbeats
    }

    /// The body of the last readable heartbeat, if any.
    pub fn last_heartbeat(&self) -> Option<HeartbeatData> {
        lock(&self.broker.store).last_heartbeat.clone()
    }

    /// UNREGISTER_CLIENT headers received, in order.
    pub fn unregisters(&self) -> Vec<UnregisterClientRequestHeader> {
        lock(&self.broker.store).unregisters.clone()
    }

    /// Next offset of a queue (what GET_MAX_OFFSET answers).
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        lock(&self.broker.store)
            .queue_offsets
            .get(&(topic.to_owned(), queue_id))
            .copied()
            .unwrap_or(0)
    }
}
