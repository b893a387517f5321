//! Topic config on the broker: a send's topic (auto-created from TBW102 when
//! that allows it) and UPDATE_AND_CREATE_TOPIC.
use super::{BrokerCore, error, ok};
use crate::protocol::codes::response_code;
use crate::protocol::command::RemotingCommand;
use crate::protocol::headers::{CommandHeader, SendMessageRequestHeader};
use crate::protocol::route::perm;
use crate::testkit::headers::CreateTopicRequestHeader;
use crate::testkit::server::{ServerCore, lock};
use crate::testkit::{DEFAULT_TOPIC, TopicConfig};

/// The topic's config on this broker, auto-creating it from TBW102 when that allows it.
pub(super) fn topic_config(
    core: &ServerCore,
    b: &BrokerCore,
    h: &SendMessageRequestHeader,
) -> Result<TopicConfig, String> {
    let mut cl = lock(&core.cluster);
    if let Some(c) = cl.topics.get(&h.topic).and_then(|m| m.get(&b.name)) {
        return Ok(*c);
    }
    let template = cl
        .topics
        .get(DEFAULT_TOPIC)
        .and_then(|m| m.get(&b.name))
        .copied()
        .filter(|t| perm::is_inherited(t.perm));
    match template {
        Some(t) => {
            let n = h.default_topic_queue_nums.min(t.write_queues).max(1);
            let c = TopicConfig {
                read_queues: n,
                write_queues: n,
                perm: t.perm & !perm::INHERIT,
            };
            cl.topics
                .entry(h.topic.clone())
                .or_default()
                .insert(b.name.clone(), c);
            Ok(c)
        }
        None => Err(format!("topic[{}] not exist, apply first please!", h.topic)),
    }
}

pub(super) fn create_topic(
    core: &ServerCore,
    b: &BrokerCore,
    req: &RemotingCommand,
) -> RemotingCommand {
    let h = match CreateTopicRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return error(req, response_code::SYSTEM_ERROR, e.to_string()),
    };
    if h.topic.is_empty() || h.read_queue_nums < 0 || h.write_queue_nums < 0 {
        return error(
            req,
            response_code::INVALID_PARAMETER,
            "invalid topic or queue numbers",
        );
    }
    lock(&core.cluster)
        .topics
        .entry(h.topic)
        .or_default()
        .insert(
            b.name.clone(),
            TopicConfig {
                read_queues: h.read_queue_nums,
                write_queues: h.write_queue_nums,
                perm: h.perm,
            },
        );
    ok(req, None)
}
