//! The send messages' way in: each handler makes its job and the reply its
//! caller awaits, then hands the job to the actor's pipeline.
use actix::prelude::*;

use super::Route;
use super::prepare::{Prepared, with_timeout};
use super::reply::{ReplySlot, ReplyTo, SendReply};
use crate::error::Error;
use crate::producer::ProducerActor;
use crate::producer::messages::{
    SendBatch, SendMessage, SendOneway, SendToQueue, SendWithSelector,
};
use crate::producer::observe;
use crate::producer::send_result::SendResult;

impl ProducerActor {
    /// A send's reply pair: the job made by `prepare` (answering through the
    /// slot `wrap` makes) goes in, the reply goes back to the caller.
    pub(crate) fn send_with<T: 'static>(
        &mut self,
        prepare: impl FnOnce(&mut Self, ReplyTo) -> Prepared,
        wrap: impl FnOnce(ReplySlot<Result<T, Error>>) -> ReplyTo,
        ctx: &mut Context<Self>,
    ) -> SendReply<Result<T, Error>> {
        let (slot, reply) = ReplySlot::pair();
        let job = prepare(self, wrap(slot));
        self.submit(job, ctx);
        reply
    }
}

impl ProducerActor {
    /// `route` with its queue's topic namespaced (a queue the caller named).
    pub(crate) fn wrap_route(&self, route: Route) -> Route {
        match route {
            Route::Queue(mut queue) => {
                if let std::borrow::Cow::Owned(t) = self.cfg.wrap(&queue.topic) {
                    queue.topic = t;
                }
                Route::Queue(queue)
            }
            other => other,
        }
    }
}

impl ProducerActor {
    /// One message's send, whatever its form: the route (a named queue's
    /// topic namespaced), the per-send timeout, and how its reply is delivered.
    fn send_one<T: 'static>(
        &mut self,
        message: crate::Message,
        route: Route,
        received: tokio::time::Instant,
        timeout: Option<std::time::Duration>,
        wrap: impl FnOnce(ReplySlot<Result<T, Error>>) -> ReplyTo,
        ctx: &mut Context<Self>,
    ) -> SendReply<Result<T, Error>> {
        let route = self.wrap_route(route);
        self.send_with(
            |act, reply| with_timeout(act.prepare_job(message, route, received, reply), timeout),
            wrap,
            ctx,
        )
    }
}

impl Handler<SendMessage> for ProducerActor {
    type Result = SendReply<Result<SendResult, Error>>;
    fn handle(&mut self, msg: SendMessage, ctx: &mut Context<Self>) -> Self::Result {
        let notify = msg.notify;
        let watched = self
            .observe
            .watch(msg.span, &msg.message.topic, msg.received);
        let wrap = |slot| observe::wrap(ReplyTo::Send { slot, notify }, watched);
        self.send_one(
            msg.message,
            Route::Any,
            msg.received,
            msg.timeout,
            wrap,
            ctx,
        )
    }
}

impl Handler<SendOneway> for ProducerActor {
    type Result = SendReply<Result<(), Error>>;
    fn handle(&mut self, msg: SendOneway, ctx: &mut Context<Self>) -> Self::Result {
        let watched = self
            .observe
            .watch(msg.span, &msg.message.topic, msg.received);
        let wrap = |slot| observe::wrap(ReplyTo::Oneway(slot), watched);
        self.send_one(msg.message, msg.route, msg.received, msg.timeout, wrap, ctx)
    }
}

impl Handler<SendToQueue> for ProducerActor {
    type Result = SendReply<Result<SendResult, Error>>;
    fn handle(&mut self, msg: SendToQueue, ctx: &mut Context<Self>) -> Self::Result {
        let notify = msg.notify;
        let watched = self
            .observe
            .watch(msg.span, &msg.message.topic, msg.received);
        let wrap = |slot| observe::wrap(ReplyTo::Send { slot, notify }, watched);
        let route = Route::Queue(msg.queue);
        self.send_one(msg.message, route, msg.received, msg.timeout, wrap, ctx)
    }
}

impl Handler<SendWithSelector> for ProducerActor {
    type Result = SendReply<Result<SendResult, Error>>;
    fn handle(&mut self, msg: SendWithSelector, ctx: &mut Context<Self>) -> Self::Result {
        let notify = msg.notify;
        let watched = self
            .observe
            .watch(msg.span, &msg.message.topic, msg.received);
        let wrap = |slot| observe::wrap(ReplyTo::Send { slot, notify }, watched);
        let route = Route::Selector(msg.selector, msg.arg);
        self.send_one(msg.message, route, msg.received, msg.timeout, wrap, ctx)
    }
}

impl Handler<SendBatch> for ProducerActor {
    type Result = SendReply<Result<SendResult, Error>>;
    fn handle(&mut self, msg: SendBatch, ctx: &mut Context<Self>) -> Self::Result {
        let received = msg.received;
        let timeout = msg.timeout;
        let notify = msg.notify;
        let topic = msg.messages.first().map_or("", |m| m.topic.as_str());
        let watched = self.observe.watch(msg.span, topic, received);
        let route = match msg.queue {
            Some(queue) => self.wrap_route(Route::Queue(queue)),
            None => Route::Any,
        };
        self.send_with(
            |act, reply| {
                with_timeout(
                    act.prepare
                        .batch(&act.headers, msg.messages, route, received, reply),
                    timeout,
                )
            },
            |slot| observe::wrap(ReplyTo::Send { slot, notify }, watched),
            ctx,
        )
    }
}
