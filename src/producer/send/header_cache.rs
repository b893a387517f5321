//! The send header, encoded as little as possible: per topic (and flags) the
//! fields every message there shares, per queue the fields naming it, and one
//! arena the attempts' headers are split off. The only user of the send-header
//! encoders, so a send header is spelled out in one place.
use bytes::BytesMut;
// Hot-path tables keyed by topic names: Fx, not SipHash.
use rustc_hash::FxHashMap as HashMap;

use super::Job;
use crate::protocol::command::EncodedFields;
use crate::protocol::headers::SendMessageRequestHeader;
use crate::protocol::message::{encode_properties, property};
use crate::protocol::route::MessageQueue;
use crate::protocol::{RemotingCommand, SerializeType};

/// Queues whose header fields are kept encoded at most (a scan beats hashing the broker name).
pub(crate) const QUEUE_FIELDS: usize = 256;

/// Topics whose static header fields are kept encoded at most.
const STATIC_FIELDS_TOPICS: usize = 1024;

/// The header fields a producer keeps encoded, and what they are made of.
pub(crate) struct HeaderCache {
    /// The producer group as sent (namespaced).
    group: String,
    default_topic: String,
    default_topic_queue_nums: i32,
    ty: SerializeType,
    /// Per topic, per (sysFlag, flag): see [`HeaderCache::static_fields`].
    static_fields: HashMap<String, Vec<(i32, i32, EncodedFields)>>,
    /// Per topic, by WAIT flag: an auto-batch's fields (see [`HeaderCache::gathered_fields`]).
    gathered_fields: HashMap<String, [Option<EncodedFields>; 2]>,
    /// Per queue (id, broker name): the header fields naming it (see [`queue_fields`]).
    queue_fields: Vec<(i32, String, EncodedFields)>,
    /// Spare room the send headers are encoded in: many share one allocation.
    arena: BytesMut,
}

impl HeaderCache {
    pub(crate) fn new(
        group: String,
        default_topic: String,
        default_topic_queue_nums: i32,
        ty: SerializeType,
    ) -> Self {
        HeaderCache {
            group,
            default_topic,
            default_topic_queue_nums,
            ty,
            static_fields: HashMap::default(),
            gathered_fields: HashMap::default(),
            queue_fields: Vec::new(),
            arena: BytesMut::new(),
        }
    }

    /// The static fields kept for `topic` (as sent), by (sysFlag, flag): a
    /// topic found here passed validation before.
    #[inline]
    pub(crate) fn known_topic(&self, topic: &str) -> Option<&Vec<(i32, i32, EncodedFields)>> {
        self.static_fields.get(topic)
    }

    /// The header fields shared by every message of `topic` with these flags,
    /// encoded on first use (they are most of a send header).
    #[inline(never)]
    pub(crate) fn static_fields(&mut self, topic: &str, sys_flag: i32, flag: i32) -> EncodedFields {
        if let Some(f) = self
            .static_fields
            .get(topic)
            .and_then(|v| v.iter().find(|(s, f, _)| (*s, *f) == (sys_flag, flag)))
        {
            return f.2.clone();
        }
        if self.static_fields.len() >= STATIC_FIELDS_TOPICS {
            // Bounded: a producer cycling through many topics re-encodes instead.
            self.static_fields.clear();
        }
        let header = self.header(topic.to_owned(), sys_flag, flag, None, false);
        let encoded = header.encode_static_fields_v2(self.ty);
        self.static_fields
            .entry(header.topic)
            .or_default()
            .push((sys_flag, flag, encoded.clone()));
        encoded
    }

    /// A batch's fields kept across attempts (its properties included), and
    /// its topic back.
    pub(crate) fn batch_fields(
        &self,
        topic: String,
        properties: String,
    ) -> (EncodedFields, String) {
        let header = self.header(topic, 0, 0, Some(properties), true);
        (header.encode_fixed_fields_v2(self.ty), header.topic)
    }

    /// An auto-batch's fields kept across attempts, the same for every batch of
    /// `topic` (as sent) with this WAIT flag: encoded once, not per batch (an
    /// encoding allocates, and a batch's allocations are what batching saves).
    pub(crate) fn gathered_fields(&mut self, topic: &str, wait: bool) -> EncodedFields {
        if let Some(f) = self
            .gathered_fields
            .get(topic)
            .and_then(|by_wait| by_wait[wait as usize].as_ref())
        {
            return f.clone();
        }
        if self.gathered_fields.len() >= STATIC_FIELDS_TOPICS {
            // Bounded as the static fields are.
            self.gathered_fields.clear();
        }
        let (fields, topic) = self.batch_fields(topic.to_owned(), batch_wrapper_properties(wait));
        self.gathered_fields.entry(topic).or_default()[wait as usize] = Some(fields.clone());
        fields
    }

    /// The one send header of this producer: what differs between sends is given.
    fn header(
        &self,
        topic: String,
        sys_flag: i32,
        flag: i32,
        properties: Option<String>,
        batch: bool,
    ) -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: self.group.clone(),
            topic,
            default_topic: self.default_topic.clone(),
            default_topic_queue_nums: self.default_topic_queue_nums,
            queue_id: 0,
            sys_flag,
            born_timestamp: 0,
            flag,
            properties,
            reconsume_times: Some(0),
            unit_mode: false,
            max_reconsume_times: None,
            batch,
            broker_name: None,
        }
    }

    /// One attempt's request to `queue`: the fields kept across attempts were
    /// encoded once; only the queue's and the born timestamp change.
    #[inline]
    pub(crate) fn attempt(
        &mut self,
        job: &Job,
        queue: &MessageQueue,
        born: i64,
    ) -> RemotingCommand {
        let queue_fields = queue_fields(&mut self.queue_fields, self.ty, queue);
        let ext = if job.message_properties {
            SendMessageRequestHeader::message_attempt_fields_v2(
                &mut self.arena,
                &job.fixed,
                &job.message,
                queue_fields,
                born,
            )
        } else {
            SendMessageRequestHeader::attempt_fields_v2(
                &mut self.arena,
                &job.fixed,
                queue_fields,
                born,
            )
        };
        let mut cmd = RemotingCommand::request(job.code, ext);
        cmd.body = job.body.as_ref().unwrap_or(&job.message.body).clone();
        cmd.serialize_type = self.ty;
        cmd
    }
}

/// The header fields that name `queue` (queue id, broker name), encoded on
/// first use: every attempt to that queue copies them instead of writing them.
pub(crate) fn queue_fields<'a>(
    cache: &'a mut Vec<(i32, String, EncodedFields)>,
    ty: SerializeType,
    queue: &MessageQueue,
) -> &'a EncodedFields {
    let found = cache
        .iter()
        .position(|(id, broker, _)| *id == queue.queue_id && *broker == queue.broker_name);
    let i = match found {
        Some(i) => i,
        None => {
            if cache.len() >= QUEUE_FIELDS {
                // Bounded: a producer cycling through more queues re-encodes instead.
                cache.clear();
            }
            let fields = SendMessageRequestHeader::encode_queue_fields_v2(
                ty,
                queue.queue_id,
                &queue.broker_name,
            );
            cache.push((queue.queue_id, queue.broker_name.clone(), fields));
            cache.len() - 1
        }
    };
    &cache[i].2
}

/// A batch wrapper's own properties: its WAIT flag only. No UNIQ_KEY on the
/// wrapper: brokers copy it onto every message of the batch.
pub(crate) fn batch_wrapper_properties(wait: bool) -> String {
    encode_properties([(property::WAIT, if wait { "true" } else { "false" })])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(broker: &str, id: i32) -> MessageQueue {
        MessageQueue {
            topic: "t".into(),
            broker_name: broker.into(),
            queue_id: id,
        }
    }

    /// A queue is known by its id and its broker: the same id on another broker
    /// gets fields of its own, and a queue seen before gets the same fields.
    #[test]
    fn queue_fields_are_kept_per_queue_id_and_broker() {
        let ty = SerializeType::RocketMq;
        let mut cache = Vec::new();
        let a1 = queue_fields(&mut cache, ty, &mq("broker-a", 1)).clone();
        let b1 = queue_fields(&mut cache, ty, &mq("broker-b", 1)).clone();
        let a2 = queue_fields(&mut cache, ty, &mq("broker-a", 2)).clone();
        assert_eq!(
            a1,
            SendMessageRequestHeader::encode_queue_fields_v2(ty, 1, "broker-a")
        );
        assert_eq!(
            b1,
            SendMessageRequestHeader::encode_queue_fields_v2(ty, 1, "broker-b")
        );
        assert_ne!(a1, a2);
        assert_eq!(queue_fields(&mut cache, ty, &mq("broker-a", 1)), &a1);
        assert_eq!(cache.len(), 3, "a queue seen before is not encoded again");
        for id in 0..QUEUE_FIELDS as i32 + 5 {
            queue_fields(&mut cache, ty, &mq("broker-c", id));
        }
        assert!(cache.len() <= QUEUE_FIELDS, "bounded: {}", cache.len());
    }
}
