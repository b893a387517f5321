//! One send's journey, in parts that own their state and return decisions:
//! [`prepare`] makes a [`Job`], [`admission`] bounds what is in flight,
//! [`header_cache`] encodes each attempt, [`in_flight`] tracks it until its
//! reply, [`outcome`] decides done / retry / fail and [`reply`] answers the
//! caller. Only the actor spawns futures and arms timers.
use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;

use super::hooks::CommunicationMode;
use super::selector::{MessageQueueSelector, SelectorArg};
use crate::protocol::command::EncodedFields;
use crate::protocol::message::{Message, property};
use crate::protocol::route::MessageQueue;

pub(crate) mod admission;
pub(crate) mod gather;
pub(crate) mod handlers;
pub(crate) mod header_cache;
pub(crate) mod in_flight;
pub(crate) mod members;
pub(crate) mod outcome;
pub(crate) mod prepare;
pub(crate) mod reply;
pub(crate) mod spares;

use reply::ReplyTo;

/// How a job picks its queue and whether it may retry.
pub(crate) enum Route {
    /// Round robin avoiding the last failed broker; retries allowed.
    Any,
    /// The rotation, one attempt (a oneway send).
    Oneway,
    Queue(MessageQueue),
    Selector(Arc<dyn MessageQueueSelector>, SelectorArg),
}

/// One send in flight: everything needed for another attempt, encoded once.
pub(crate) struct Job {
    pub(crate) route: Route,
    pub(crate) code: i32,
    /// The namespaced topic, when it differs from the message's (else none: no copy).
    pub(crate) wrapped_topic: Option<String>,
    /// The message as sent (with its UNIQ_KEY), for hooks and selectors.
    pub(crate) message: Message,
    /// The header fields kept across attempts, encoded once: a single message's
    /// topic-wide fields (its properties follow per attempt), or a batch's all.
    pub(crate) fixed: EncodedFields,
    /// Whether each attempt writes the message's properties after `fixed`.
    pub(crate) message_properties: bool,
    /// The body as sent when it is not the message's own: compressed (so a
    /// retry never compresses twice) or a batch's encoding.
    pub(crate) body: Option<Bytes>,
    /// A batch's comma-joined ids; a single message's id is its UNIQ_KEY,
    /// moved out of it when the send ends (see [`Job::msg_id`]).
    pub(crate) batch_msg_id: Option<String>,
    /// When the job was prepared (epoch ms): the first attempt's born timestamp.
    pub(crate) born_ms: i64,
    pub(crate) size: usize,
    pub(crate) received: Instant,
    pub(crate) deadline: Instant,
    pub(crate) attempts: u32,
    pub(crate) max_attempts: u32,
    /// Brokers of the failed attempts so far, in order (the last is avoided next).
    pub(crate) brokers_tried: Vec<String>,
    pub(crate) reply: ReplyTo,
    /// Its auto-batching key's request slot, once it holds one (see [`gather`]).
    pub(crate) gather: Option<gather::Slot>,
}

impl Job {
    /// The topic as sent (namespaced).
    #[inline]
    pub(crate) fn topic(&self) -> &str {
        self.wrapped_topic.as_deref().unwrap_or(&self.message.topic)
    }

    /// The id for a `SendResult`: moved out when the job ends with it (`keep`
    /// false), which saves a copy per send; copied when the job goes on.
    pub(crate) fn msg_id(&mut self, keep: bool) -> String {
        match (&mut self.batch_msg_id, keep) {
            (Some(ids), true) => ids.clone(),
            (Some(ids), false) => std::mem::take(ids),
            (None, true) => self.message.uniq_key().unwrap_or_default().to_owned(),
            (None, false) => self
                .message
                .remove_property(property::UNIQ_KEY)
                .unwrap_or_default(),
        }
    }

    /// Records a failed attempt's broker (successful sends never allocate this list).
    pub(crate) fn tried(&mut self, broker: &str) {
        self.brokers_tried.push(broker.to_owned());
    }

    pub(crate) fn mode(&self) -> CommunicationMode {
        if self.oneway() {
            CommunicationMode::Oneway
        } else {
            CommunicationMode::Sync
        }
    }

    /// Whether no reply is awaited (and no retry made): a oneway send, to
    /// whichever queue its route picks.
    #[inline]
    pub(crate) fn oneway(&self) -> bool {
        matches!(self.reply.inner(), ReplyTo::Oneway(_))
    }
}
