//! Auto-batching wired into the actor: a first attempt goes through the
//! gatherer (`send/gather.rs`, which decides), ready groups become batch jobs
//! (`Prepare::gathered`), their members' hooks and bodies are handled per
//! attempt, and the one timer answers members at their own deadlines.
use std::rc::Rc;

use actix::prelude::*;
use tokio::time::Instant;

use super::ProducerActor;
use super::send::gather::{Ready, Slot, batch_class};
use super::send::members::Member;
use super::send::outcome::Outcome;
use super::send::reply::ReplyTo;
use super::send::{Job, Route};
use crate::error::Error;
use crate::protocol::route::MessageQueue;
use crate::runtime::route_manager::PublishInfo;

impl ProducerActor {
    /// A first attempt with auto-batching on: `Some(job)` when it goes now
    /// (it may not be batched and has no queue order to keep), `None` when it
    /// was gathered or answered. A gathered send that finds its key below the
    /// limit leaves at the end of the turn, alone as a plain send if nothing
    /// joined it.
    #[inline]
    pub(crate) fn gather_or_go(
        &mut self,
        mut job: Box<Job>,
        info: &PublishInfo,
        ctx: &mut Context<Self>,
    ) -> Option<Box<Job>> {
        let wait = batch_class(&job);
        let queue = match &job.route {
            // Not batchable and no queue order to keep: alone, as without batching.
            Route::Any | Route::Oneway if wait.is_none() => return Some(job),
            Route::Any => None,
            Route::Queue(q) => Some(q.clone()),
            // The selector runs now: its queue is the key, and the order kept is per queue.
            Route::Selector(..) => {
                match self
                    .routes
                    .select_queue(&job, info, self.outcome.fault(), &self.cfg)
                {
                    Ok(q) => {
                        job.route = Route::Queue(q.clone());
                        Some(q)
                    }
                    Err(err) => {
                        self.follow(Outcome::no_queue_selected(job, err), ctx);
                        return None;
                    }
                }
            }
            Route::Oneway => return Some(job),
        };
        // A send to a chosen queue that may not be batched still takes its turn there.
        let Some(gather) = self.gather.as_mut() else {
            return Some(job);
        };
        gather.offer(job, wait, queue.as_ref());
        if gather.arm_flush() {
            // Polled once the mailbox is drained: the sends of this turn leave together.
            ctx.spawn(actix::fut::ready(()).map(|(), act: &mut Self, ctx| act.flush_gather(ctx)));
        }
        self.send_ready(ctx);
        self.arm_gather_timer(ctx);
        None
    }

    /// The end of a turn: groups below their key's limit leave.
    fn flush_gather(&mut self, ctx: &mut Context<Self>) {
        if let Some(g) = self.gather.as_mut() {
            g.flush();
        }
        self.send_ready(ctx);
        self.arm_gather_timer(ctx);
    }

    /// Sends the groups that may leave: one as a plain send, more as one batch.
    pub(crate) fn send_ready(&mut self, ctx: &mut Context<Self>) {
        loop {
            let Some(Ready {
                slot,
                route,
                mut jobs,
            }) = self.gather.as_mut().and_then(|g| g.take_ready())
            else {
                return;
            };
            let gather = self.gather.as_mut().expect("on");
            if jobs.len() == 1 {
                let mut job = jobs.pop().expect("one");
                gather.spares.put_group(jobs);
                job.gather = Some(slot);
                self.attempt(job, ctx);
                continue;
            }
            let route = route.map_or(Route::Any, Route::Queue);
            let storage = (gather.spares.members(), gather.spares.body());
            let built =
                self.prepare
                    .gathered(&mut self.headers, &mut jobs, route, slot, storage, |m| {
                        gather.batch_started(slot, m)
                    });
            gather.spares.put_group(jobs);
            match built {
                Ok(job) => {
                    self.attempt(job, ctx);
                    self.let_connection_write(ctx);
                }
                Err((members, err)) => {
                    // Over maxMessageSize (never, with the checked config): each member fails.
                    let job_reply = ReplyTo::Batch(members);
                    self.end_members(job_reply, Err(err), Some(slot), None, ctx);
                }
            }
        }
    }

    /// After a batch left: when its connection runs on this thread, the
    /// producer pauses for one scheduler pass, so the connection writes the
    /// batch before the sends still in the mailbox form the next one. Otherwise
    /// both leave in one write, their replies come back in one read, and the two
    /// stay paired round after round, the thread idle while both are on the wire
    /// (`scripts/ab.sh`, 128 B, 256 in flight: 705k → 837k msg/s). A connection
    /// on another thread (its own arbiter, or a shared client instance's)
    /// writes the batch at once anyway, and the pause only costs (854k → 804k).
    fn let_connection_write(&self, ctx: &mut Context<Self>) {
        if self.in_flight.last_went_local() {
            ctx.wait(actix::fut::wrap_future::<_, Self>(tokio::task::yield_now()));
        }
    }

    /// Before a batch's attempt: members whose deadline passed are answered
    /// with their timeout and drop out (a send that waited out its time for a
    /// route is never written), then its members' hooks run (a forbidden
    /// member is answered and drops out), and a new body is made when members
    /// dropped out. `false` when no member is left to send.
    pub(crate) fn prepare_batch_attempt(
        &mut self,
        job: &mut Job,
        info: &PublishInfo,
        queue: &MessageQueue,
    ) -> bool {
        let ReplyTo::Batch(members) = &job.reply else {
            return true;
        };
        let members = members.clone();
        let mut m = members.borrow_mut();
        m.brokers_tried.clone_from(&job.brokers_tried);
        // One clock read per batch attempt; the batch's own deadline is its latest
        // member's. Before `attempts` counts this one: the timeouts name the attempts made.
        for (member, err) in m.expire(Instant::now()) {
            self.answer_member(member, Err(err));
        }
        m.attempts = job.attempts + 1;
        if self.outcome.has_hooks() {
            let addr = self
                .routes
                .master(info, &queue.broker_name)
                .1
                .map(|c| c.remote().to_owned());
            if let Some(addr) = addr {
                let attempt = job.attempts + 1;
                for (i, err) in self.outcome.member_before_hooks(&m, queue, &addr, attempt) {
                    if let Some(member) = m.drop_member(i) {
                        self.answer_member(member, Err(err));
                    }
                }
            }
        }
        match m.reencode_if_stale(self.cfg.max_message_size()) {
            None => true,
            Some(Ok(body)) => {
                job.size = body.len();
                job.body = Some(body);
                m.any_live()
            }
            Some(Err(e)) => {
                for member in m.take_live() {
                    self.answer_member(member, Err(e.clone()));
                }
                false
            }
        }
    }

    /// One member answered on its own (its deadline, a hook): its in-flight share freed.
    fn answer_member(&mut self, member: Member, res: Result<Option<crate::SendResult>, Error>) {
        self.admission.release(member.size);
        self.observe.in_flight(self.admission.in_flight());
        match &res {
            Ok(_) => self.stats.sent_ok += 1,
            Err(_) => self.stats.failed += 1,
        }
        member.reply.deliver(res);
    }

    /// A batch ends: each live member freed and answered once, then its slot.
    pub(crate) fn end_members(
        &mut self,
        reply: ReplyTo,
        res: Result<Option<crate::SendResult>, Error>,
        slot: Option<Slot>,
        body: Option<bytes::Bytes>,
        ctx: &mut Context<Self>,
    ) {
        if let ReplyTo::Batch(members) = &reply {
            let m = members.borrow();
            for size in m.live_sizes() {
                self.admission.release(size);
                match &res {
                    Ok(_) => self.stats.sent_ok += 1,
                    Err(_) => self.stats.failed += 1,
                }
            }
            self.observe.in_flight(self.admission.in_flight());
        }
        let storage = match reply {
            ReplyTo::Batch(members) => {
                if let Some(ids) = members.borrow_mut().deliver(res) {
                    self.outcome.reuse_ids(ids);
                }
                Rc::try_unwrap(members)
                    .ok()
                    .map(|m| m.into_inner().into_storage())
            }
            other => {
                other.deliver(res);
                None
            }
        };
        if let Some(spares) = self.gather.as_mut().map(|g| &mut g.spares) {
            if let Some(storage) = storage {
                spares.put_members(storage);
            }
            if let Some(body) = body {
                spares.put_body(body);
            }
        }
        if let Some(slot) = slot {
            self.slot_freed(slot, ctx);
        }
        self.after_finish(ctx);
    }

    /// A request of a key ended: the groups waiting for its slot leave.
    #[inline]
    pub(crate) fn slot_freed(&mut self, slot: Slot, ctx: &mut Context<Self>) {
        if let Some(g) = self.gather.as_mut() {
            g.request_ended(slot);
            self.send_ready(ctx);
        }
    }

    /// Keeps the gatherer's one timer armed: member deadlines and linger times.
    pub(crate) fn arm_gather_timer(&mut self, ctx: &mut Context<Self>) {
        let Some((at, old)) = self.gather.as_mut().and_then(|g| g.rearm()) else {
            return;
        };
        if let Some(old) = old {
            ctx.cancel_future(old);
        }
        let handle = ctx.run_later(at.saturating_duration_since(Instant::now()), |act, ctx| {
            let Some(g) = act.gather.as_mut() else {
                return;
            };
            g.disarmed();
            let expired = g.due(Instant::now());
            for (job, err) in expired.jobs {
                act.admission.release(job.size);
                act.stats.failed += 1;
                job.reply.deliver(Err(err));
            }
            act.observe.in_flight(act.admission.in_flight());
            for (member, err) in expired.members {
                act.answer_member(member, Err(err));
            }
            act.send_ready(ctx);
            act.after_finish(ctx);
            act.arm_gather_timer(ctx);
        });
        if let Some(g) = self.gather.as_mut() {
            g.armed(handle);
        }
    }
}
