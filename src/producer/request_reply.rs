//! Request–reply (RocketMQ 4.6+): a request goes the send path stamped with a
//! correlation id, then waits here for the reply message the broker pushes
//! (or for its deadline), apart from sends, which end at the broker's answer.
use actix::prelude::*;
// Keyed by correlation ids: Fx, not SipHash.
use rustc_hash::FxHashMap as HashMap;
use tokio::time::Instant;

use super::ProducerActor;
use super::messages::SendRequest;
use super::observe;
use super::send::reply::{ReplySlot, ReplyTo, SendReply};
use crate::error::Error;
use crate::protocol::message::{Message, property};
use crate::protocol::message_id::now_ms;
use crate::runtime::instance::RequestReply;

/// A request whose reply has not come yet.
pub(crate) struct PendingRequest {
    /// Shared with the request's job (which answers it if the send fails).
    slot: ReplySlot<Result<Message, Error>>,
    /// Answers it with a timeout at its deadline.
    timer: SpawnHandle,
    received: Instant,
}

/// Requests waiting for their reply, by correlation id.
#[derive(Default)]
pub(crate) struct Requests(HashMap<String, PendingRequest>);

impl Requests {
    fn wait(
        &mut self,
        correlation_id: String,
        slot: ReplySlot<Result<Message, Error>>,
        timer: SpawnHandle,
        received: Instant,
    ) {
        let pending = PendingRequest {
            slot,
            timer,
            received,
        };
        self.0.insert(correlation_id, pending);
    }

    /// The reply came: the request's timer to cancel (`None`: not ours, or too late).
    fn answer(&mut self, correlation_id: &str, mut message: Message) -> Option<SpawnHandle> {
        let request = self.0.remove(correlation_id)?;
        message.set_property(property::ARRIVE_TIME, now_ms().to_string());
        request.slot.complete(Ok(message));
        Some(request.timer)
    }

    fn timed_out(&mut self, correlation_id: &str) {
        if let Some(request) = self.0.remove(correlation_id) {
            let err = Error::timeout(request.received.elapsed(), 1, Vec::new());
            request.slot.complete(Err(err));
        }
    }

    /// Answers every request waiting (the producer stops).
    pub(crate) fn shut_down(&mut self) {
        for (_, request) in self.0.drain() {
            request.slot.complete(Err(Error::shut_down()));
        }
    }
}

impl Handler<SendRequest> for ProducerActor {
    type Result = SendReply<Result<Message, Error>>;
    fn handle(&mut self, msg: SendRequest, ctx: &mut Context<Self>) -> Self::Result {
        let received = msg.received;
        let timeout = msg.timeout.unwrap_or(self.cfg.send_timeout());
        let route = self.wrap_route(msg.route);
        // Unique per client (and the broker pushes by client id).
        let correlation_id = self.prepare.unique_id();
        let mut message = msg.message;
        message.set_property(property::CORRELATION_ID, correlation_id.as_str());
        message.set_property(property::REPLY_TO_CLIENT, self.handles.client_id.as_str());
        message.set_property(property::TTL, timeout.as_millis().to_string());
        let (slot, reply) = ReplySlot::pair();
        // Waiting from now: a reply may overtake the send's own answer.
        let id = correlation_id.clone();
        let timer = ctx.run_later(
            (received + timeout).saturating_duration_since(Instant::now()),
            move |act, _| act.requests.timed_out(&id),
        );
        self.requests
            .wait(correlation_id, slot.clone(), timer, received);
        // The request's timeout bounds its send too (Java `request(msg, timeout)`).
        let watched = self.observe.watch(msg.span, &message.topic, received);
        let reply_to = observe::wrap(ReplyTo::Request(slot), watched);
        let job = self
            .prepare_job(message, route, received, reply_to)
            .map(|mut job| {
                job.deadline = received + timeout;
                job
            });
        self.submit(job, ctx);
        reply
    }
}

impl Handler<RequestReply> for ProducerActor {
    type Result = ();
    fn handle(&mut self, msg: RequestReply, ctx: &mut Context<Self>) {
        // Every producer of the client gets every reply: not ours, or too late.
        if let Some(timer) = self.requests.answer(&msg.correlation_id, msg.message) {
            ctx.cancel_future(timer);
        }
    }
}
