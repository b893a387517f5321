//! `TraceHook`: the send hook that turns each attempt's outcome into a Pub
//! record (Java `SendMessageTraceHookImpl`) and leaves it in the shared
//! buffer; it never waits and never fails the send.
use std::sync::{Arc, Mutex};

use actix::Addr;

use super::buffer::{Pushed, TraceBuffer};
use super::dispatcher::{TraceDispatcher, Wake};
use crate::error::Error;
use crate::producer::config::strip_namespace;
use crate::producer::hooks::{SendContext, SendHook};
use crate::producer::send_result::{SendResult, SendStatus};
use crate::protocol::message::{Message, property};
use crate::protocol::message_id::now_ms;
use crate::protocol::trace_data::{MessageType, PubTrace};

/// The region written when the broker named none (the Java broker's default).
const DEFAULT_REGION: &str = "DefaultRegion";

/// Java's `__STARTDELIVERTIME`, which marks a delay message as `DELAY` does.
const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";

pub(crate) struct TraceHook {
    pub(crate) buffer: Arc<Mutex<TraceBuffer>>,
    pub(crate) dispatcher: Addr<TraceDispatcher>,
    pub(crate) trace_topic: String,
    pub(crate) client_host: String,
}

/// The Java `MessageType` of a message as the send hook sees it.
fn msg_type(m: &Message) -> MessageType {
    if m.is_transaction_prepared() {
        MessageType::TransHalf
    } else if [
        property::DELAY,
        START_DELIVER_TIME,
        property::TIMER_DELIVER_MS,
        property::TIMER_DELAY_SEC,
        property::TIMER_DELAY_MS,
    ]
    .iter()
    .any(|p| m.property(p).is_some())
    {
        MessageType::Delay
    } else {
        MessageType::Normal
    }
}

impl TraceHook {
    /// The Pub record of one attempt; `None` when the broker turned trace off
    /// for the message (`TRACE_ON` false in its reply), as Java skips it.
    pub(crate) fn record(
        &self,
        ctx: &SendContext<'_>,
        result: &Result<SendResult, Error>,
    ) -> Option<PubTrace> {
        let ns = ctx.namespace.unwrap_or("");
        let m = ctx.message;
        let cost = ctx.elapsed.unwrap_or_default();
        let (msg_id, offset_msg_id, region, success) = match result {
            Ok(r) if !r.trace_on => return None,
            Ok(r) => (
                r.msg_id.clone(),
                r.offset_msg_id.clone(),
                r.region_id.clone(),
                r.status == SendStatus::SendOk,
            ),
            Err(_) => (
                m.uniq_key().unwrap_or_default().to_owned(),
                String::new(),
                None,
                false,
            ),
        };
        Some(PubTrace {
            timestamp_ms: now_ms() - cost.as_millis() as i64,
            region_id: region.unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            group: strip_namespace(ns, ctx.producer_group).into_owned(),
            topic: strip_namespace(ns, &m.topic).into_owned(),
            msg_id,
            tags: m.tags().map(str::to_owned),
            keys: m.keys().map(str::to_owned),
            store_host: ctx.broker_addr.to_owned(),
            body_length: m.body.len(),
            cost_ms: cost.as_millis() as i64,
            msg_type: msg_type(m),
            offset_msg_id,
            success,
            client_host: Some(self.client_host.clone()),
        })
    }
}

impl SendHook for TraceHook {
    fn name(&self) -> &str {
        "SendMessageTraceHook"
    }

    fn after(&self, ctx: &SendContext<'_>, result: &Result<SendResult, Error>) {
        // Trace messages are not traced themselves (Java checks the topic too).
        if ctx.message.topic.starts_with(&self.trace_topic) {
            return;
        }
        let Some(rec) = self.record(ctx, result) else {
            return;
        };
        // A poisoned lock means a panic elsewhere: the record is lost, the send is not.
        let pushed = match self.buffer.lock() {
            Ok(mut b) => b.push(rec),
            Err(_) => return,
        };
        if pushed != Pushed::Queued {
            self.dispatcher.do_send(Wake(pushed));
        }
    }
}
