//! Send handling: SEND_MESSAGE and its V2, batch and reply forms, checked and
//! stored as a broker does; a reply is then pushed to its requester.
use std::net::SocketAddr;

use bytes::Bytes;

use super::topic::topic_config;
use super::{BrokerCore, BrokerMessage, TransactionState, error, now_ms, ok};
use crate::protocol::batch::decode_batch_for_topic;
use crate::protocol::codes::{request_code, response_code};
use crate::protocol::command::RemotingCommand;
use crate::protocol::headers::{
    CommandHeader, ReplyMessageRequestHeader, SendMessageRequestHeader, SendMessageResponseHeader,
};
use crate::protocol::message::{decode_properties, encode_properties, property, sys_flag};
use crate::protocol::message_id::encode_offset_msg_id;
use crate::protocol::route::perm;
use crate::protocol::validation::{
    DEFAULT_MAX_MESSAGE_SIZE, RETRY_TOPIC_PREFIX, is_not_allowed_send_topic,
};
use crate::testkit::SERVER_VERSION;
use crate::testkit::null::REGION;
use crate::testkit::server::{ConnectionId, ServerCore, lock};

/// Size of the record a real commit log would write (IPv4 hosts), so offsets look real.
fn record_len(topic: &str, body: usize, props: &[(String, String)]) -> i64 {
    let props: usize = props.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    (4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + body + 1 + topic.len() + 2 + props)
        as i64
}

/// One message to store: flag, properties, body.
type Record = (i32, Vec<(String, String)>, Bytes);

pub(super) fn send(
    core: &ServerCore,
    b: &BrokerCore,
    conn: ConnectionId,
    peer: SocketAddr,
    req: &RemotingCommand,
) -> RemotingCommand {
    use response_code::*;
    let h = match SendMessageRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return error(req, SYSTEM_ERROR, e.to_string()),
    };
    let batch = req.code == request_code::SEND_BATCH_MESSAGE || h.batch;
    if is_not_allowed_send_topic(&h.topic) {
        return error(
            req,
            NO_PERMISSION,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        );
    }
    if req.body.len() > DEFAULT_MAX_MESSAGE_SIZE {
        return error(
            req,
            MESSAGE_ILLEGAL,
            format!(
                "message body size {} exceeds the configured maximum {DEFAULT_MAX_MESSAGE_SIZE}",
                req.body.len()
            ),
        );
    }
    let conf = match topic_config(core, b, &h) {
        Ok(c) => c,
        Err(remark) => return error(req, TOPIC_NOT_EXIST, remark),
    };
    if !perm::is_writeable(conf.perm) {
        return error(
            req,
            NO_PERMISSION,
            format!("the topic[{}] sending message is forbidden", h.topic),
        );
    }
    if conf.write_queues <= 0 {
        return error(
            req,
            SYSTEM_ERROR,
            format!("topic[{}] has no write queue", h.topic),
        );
    }
    let queue_id = if h.queue_id < 0 {
        (rand::random::<u32>() % conf.write_queues as u32) as i32
    } else {
        h.queue_id
    };
    if queue_id >= conf.write_queues {
        return error(
            req,
            SYSTEM_ERROR,
            format!(
                "request queueId[{queue_id}] is illegal, topic[{}] writeQueueNums {}",
                h.topic, conf.write_queues
            ),
        );
    }
    let header_props = h
        .properties
        .as_deref()
        .map(decode_properties)
        .unwrap_or_default();
    let tx_type = sys_flag::transaction_type(h.sys_flag);
    let records: Vec<Record> = if batch {
        if tx_type != sys_flag::TRANSACTION_NOT_TYPE {
            return error(
                req,
                MESSAGE_ILLEGAL,
                "batch message does not support transaction",
            );
        }
        if h.topic.starts_with(RETRY_TOPIC_PREFIX) {
            return error(
                req,
                MESSAGE_ILLEGAL,
                "batch request does not support retry group",
            );
        }
        match decode_batch_for_topic(&req.body, &h.topic) {
            Ok(msgs) if msgs.is_empty() => return error(req, MESSAGE_ILLEGAL, "empty batch"),
            Ok(msgs) => msgs
                .into_iter()
                .map(|m| (m.flag, m.properties_owned(), m.body))
                .collect(),
            Err(e) => return error(req, SYSTEM_ERROR, e.to_string()),
        }
    } else {
        vec![(h.flag, header_props.clone(), req.body.clone())]
    };
    let transaction = if tx_type == sys_flag::TRANSACTION_PREPARED_TYPE && !batch {
        TransactionState::Prepared
    } else {
        TransactionState::NotTransactional
    };
    let store_timestamp = now_ms();
    let mut ids = Vec::with_capacity(records.len());
    let mut first_offset = None;
    {
        let mut st = lock(&b.store);
        for (flag, properties, body) in records {
            let slot = st
                .queue_offsets
                .entry((h.topic.clone(), queue_id))
                .or_insert(0);
            let queue_offset = *slot;
            *slot += 1;
            let commit_log_offset = st.commit_offset;
            st.commit_offset += record_len(&h.topic, body.len(), &properties);
            let msg_id = encode_offset_msg_id(core.addr, commit_log_offset);
            first_offset.get_or_insert(queue_offset);
            ids.push(msg_id.clone());
            st.messages.push(BrokerMessage {
                broker_name: b.name.clone(),
                topic: h.topic.clone(),
                queue_id,
                queue_offset,
                commit_log_offset,
                msg_id,
                flag,
                sys_flag: h.sys_flag,
                properties,
                body,
                born_timestamp: h.born_timestamp,
                store_timestamp,
                born_host: peer,
                store_host: core.addr,
                producer_group: h.producer_group.clone(),
                reconsume_times: h.reconsume_times.unwrap_or(0),
                request_code: req.code,
                connection: conn,
                transaction,
            });
        }
    }
    let uniq_key = header_props
        .iter()
        .find(|(k, _)| k == property::UNIQ_KEY)
        .map(|(_, v)| v.clone());
    let recall_handle = (!batch && transaction == TransactionState::NotTransactional)
        .then(|| {
            super::recall::recall_handle(
                &b.name,
                &h.topic,
                &header_props,
                uniq_key.as_deref(),
                store_timestamp,
            )
        })
        .flatten();
    let header = SendMessageResponseHeader {
        msg_id: ids.join(","),
        recall_handle,
        queue_id,
        queue_offset: first_offset.unwrap_or(0),
        transaction_id: uniq_key,
        region: Some(REGION.to_owned()),
        trace_on: Some(true),
        ..Default::default()
    };
    ok(req, Some(header.to_ext_fields()))
}

/// SEND_REPLY_MESSAGE(_V2), as the Java `ReplyMessageProcessor`: stores the
/// reply, then pushes it (PUSH_REPLY_MESSAGE_TO_CLIENT) to the connection that
/// heartbeated as its `REPLY_TO_CLIENT`; SYSTEM_ERROR when there is none.
pub(super) fn reply(
    core: &ServerCore,
    b: &BrokerCore,
    conn: ConnectionId,
    peer: SocketAddr,
    req: &RemotingCommand,
) -> RemotingCommand {
    let stored = send(core, b, conn, peer, req);
    if stored.code != response_code::SUCCESS {
        return stored;
    }
    let Ok(h) = SendMessageRequestHeader::from_command(req) else {
        return stored;
    };
    let mut properties = decode_properties(h.properties.as_deref().unwrap_or_default());
    let client = properties
        .iter()
        .find(|(k, _)| k == property::REPLY_TO_CLIENT)
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    properties.push((property::PUSH_REPLY_TIME.into(), now_ms().to_string()));
    let push = ReplyMessageRequestHeader {
        producer_group: h.producer_group,
        topic: h.topic,
        default_topic: h.default_topic,
        default_topic_queue_nums: h.default_topic_queue_nums,
        queue_id: h.queue_id,
        sys_flag: h.sys_flag,
        born_timestamp: h.born_timestamp,
        flag: h.flag,
        properties: Some(encode_properties(
            properties.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )),
        reconsume_times: h.reconsume_times,
        unit_mode: h.unit_mode,
        born_host: peer.to_string(),
        store_host: core.addr.to_string(),
        store_timestamp: now_ms(),
    };
    let mut cmd = RemotingCommand::request(
        request_code::PUSH_REPLY_MESSAGE_TO_CLIENT,
        push.to_ext_fields(),
    )
    .with_body(req.body.clone());
    cmd.version = SERVER_VERSION;
    if core.request_client(&client, cmd) {
        stored
    } else {
        error(
            req,
            response_code::SYSTEM_ERROR,
            format!("push reply message fail, channel of <{client}> not found."),
        )
    }
}
