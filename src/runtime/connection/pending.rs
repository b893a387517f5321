//! Requests written and waiting for their response: the opaque table, the
//! deadlines of written and parked requests (one [`DeadlineQueue`], one timer),
//! the dead-peer clock, and the [`Outbox`] that hands the responses of a pass
//! to their channels, one batch per channel.
// The table is keyed by our own opaques: Fx, not SipHash.
use rustc_hash::FxHashMap as HashMap;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::writer::Backlog;
use super::{ConnectionActor, Reply, ReplyBatch, ReplySink};
use crate::protocol::RemotingCommand;
use crate::runtime::deadline_queue::{DeadlineQueue, SHRINK_ABOVE};
use crate::runtime::error::NetError;

struct Pending {
    tx: ReplySink,
    deadline: Instant,
}

/// Whose deadline a heap entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Waiter {
    /// A written request, by opaque.
    Sent(i32),
    /// A parked request, by its sequence number in the [`Backlog`].
    Parked(u64),
}

/// Written requests by opaque, and every waiting request's deadline.
#[derive(Default)]
pub(super) struct PendingTable {
    waiting: HashMap<i32, Pending>,
    next_opaque: i32,
    /// Deadlines of written and parked requests, earliest first; entries of
    /// answered requests are skipped.
    deadlines: DeadlineQueue<Waiter>,
    /// The armed deadline timer, if any.
    timer: Option<SpawnHandle>,
    /// Since when requests have waited with no frame read; basis of dead-peer detection.
    awaiting_since: Option<Instant>,
    /// A frame arrived since the last sweep (which then moves `awaiting_since`):
    /// cheaper than reading the clock per frame.
    frame_seen: bool,
    /// Responses read this pass, delivered per channel by [`DeliverReplies`].
    outbox: Outbox,
}

impl PendingTable {
    /// Written requests waiting for their response.
    pub(super) fn len(&self) -> usize {
        self.waiting.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// A free opaque for the next request (one still waiting after a wrap-around is skipped).
    pub(super) fn next_opaque(&mut self) -> i32 {
        let mut opaque = self.next_opaque;
        while self.waiting.contains_key(&opaque) {
            opaque = opaque.wrapping_add(1);
        }
        self.next_opaque = opaque.wrapping_add(1);
        opaque
    }

    /// Records a request written with `opaque`; its deadline joins the queue.
    pub(super) fn insert(
        &mut self,
        opaque: i32,
        tx: ReplySink,
        deadline: Instant,
        backlog: &Backlog,
        ctx: &mut Context<ConnectionActor>,
    ) {
        self.waiting.insert(opaque, Pending { tx, deadline });
        self.push_deadline(deadline, Waiter::Sent(opaque), backlog, ctx);
        if self.awaiting_since.is_none() {
            self.awaiting_since = Some(Instant::now());
        }
    }

    /// Adds the deadline of a written or parked request.
    pub(super) fn push_deadline(
        &mut self,
        deadline: Instant,
        waiter: Waiter,
        backlog: &Backlog,
        ctx: &mut Context<ConnectionActor>,
    ) {
        // Answered requests stay queued until their deadline; the queue compacts
        // them away now and then so it stays proportional to what waits.
        let waiting = &self.waiting;
        let live = waiting.len() + backlog.len();
        self.deadlines.push(deadline, waiter, live, |d, w| match w {
            Waiter::Sent(o) => waiting.get(&o).is_some_and(|p| p.deadline == d),
            Waiter::Parked(seq) => backlog.is_parked(seq),
        });
        self.arm_timer(ctx);
    }

    /// Keeps one timer armed for the earliest deadline, so timeouts are exact.
    fn arm_timer(&mut self, ctx: &mut Context<ConnectionActor>) {
        let Some(at) = self.deadlines.rearm(Duration::ZERO) else {
            return;
        };
        if let Some(handle) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        let delay = at.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(delay, move |act, ctx| {
            act.pending.timer = None;
            act.pending.deadlines.disarmed();
            act.expire_due(Instant::now());
            act.pending.arm_timer(ctx);
        });
        self.timer = Some(handle);
    }

    /// Answers every request (written or parked) whose deadline has passed with a timeout.
    pub(super) fn expire_due(&mut self, now: Instant, backlog: &mut Backlog, remote: &str) {
        while let Some((deadline, waiter)) = self.deadlines.pop_due(now) {
            let tx = match waiter {
                // The opaque may have been answered (and even reused) since: match the deadline too.
                Waiter::Sent(opaque) => {
                    if self
                        .waiting
                        .get(&opaque)
                        .is_some_and(|p| p.deadline == deadline)
                    {
                        self.waiting.remove(&opaque).map(|p| p.tx)
                    } else {
                        None
                    }
                }
                // Dispatched since (then it is `Sent` too) or still parked.
                Waiter::Parked(seq) => backlog.take(seq).map(|msg| msg.reply),
            };
            if let Some(tx) = tx {
                tx.send(Err(NetError::Timeout {
                    addr: remote.to_string(),
                }));
            }
        }
        backlog.trim_answered();
        if self.waiting.is_empty() && backlog.is_empty() {
            // Nothing waits: stale heap entries would only hold memory.
            self.deadlines.clear();
        }
    }

    /// A response: its request's reply goes to the outbox. False when nothing
    /// waits for it (timed out?).
    pub(super) fn answer(&mut self, cmd: RemotingCommand, backlog: &Backlog) -> bool {
        let found = match self.waiting.remove(&cmd.opaque) {
            Some(p) => {
                self.outbox.push(p.tx, Ok(Some(cmd)));
                true
            }
            None => false,
        };
        if self.waiting.is_empty() {
            self.awaiting_since = None;
            if self.waiting.capacity() > SHRINK_ABOVE {
                // A burst is over: give back what its peak needed.
                self.waiting.shrink_to(0);
                if backlog.is_empty() {
                    self.deadlines.clear_and_shrink();
                }
            }
        } else {
            self.frame_seen = true;
        }
        found
    }

    /// A frame other than a response arrived: the peer is alive.
    pub(super) fn frame_seen(&mut self) {
        self.frame_seen = true;
    }

    /// How long requests have waited with no frame read, as of `now` (a sweep).
    pub(super) fn silent_for(&mut self, now: Instant) -> Option<Duration> {
        if std::mem::take(&mut self.frame_seen) && self.awaiting_since.is_some() {
            // Frames came in since the last sweep: the peer is alive as of now (give or take a tick).
            self.awaiting_since = Some(now);
        }
        self.awaiting_since.map(|since| now.duration_since(since))
    }

    /// A new connection: nothing has waited on it yet.
    pub(super) fn reset_peer_clock(&mut self) {
        self.awaiting_since = None;
        self.frame_seen = false;
    }

    /// Fails every parked and written request with `error()`; what was read
    /// before is delivered first, as read.
    pub(super) fn fail_all(&mut self, backlog: &mut Backlog, error: impl Fn() -> NetError) {
        self.outbox.deliver();
        self.deadlines.clear();
        for msg in backlog.drain() {
            msg.reply.send(Err(error()));
        }
        for (_, p) in self.waiting.drain() {
            p.tx.send(Err(error()));
        }
        self.awaiting_since = None;
    }

    /// Spawns the [`DeliverReplies`] item: replies to shared channels are batched from now on.
    pub(super) fn start_delivering(&mut self, ctx: &mut Context<ConnectionActor>) {
        ctx.spawn(DeliverReplies);
        self.outbox.deliverer = true;
    }

    /// The actor restarted, which cancelled the timer and the deliverer (and
    /// handle ids restart too: a stale handle would block re-arming or cancel a new item).
    pub(super) fn restarted(&mut self) {
        self.outbox.deliverer = false;
        self.outbox.waker = None;
        self.timer = None;
        self.deadlines.disarmed();
    }
}

/// Responses read but not yet handed to their channels (see [`ReplyBatch`]).
#[derive(Default)]
struct Outbox {
    batches: Vec<(mpsc::UnboundedSender<ReplyBatch>, ReplyBatch)>,
    /// A [`DeliverReplies`] runs (not once a restart cancelled it, nor in a
    /// closed actor, which ends with its last handle and so keeps no such item).
    deliverer: bool,
    /// The deliverer's waker, stored while it idles.
    waker: Option<Waker>,
}

/// Room for the responses of one pass per channel to start with (actix handles
/// up to 16 stream items per pass, but a batching producer gets one or two):
/// 4 keeps it below 1 KiB, where glibc's allocation would consolidate its
/// fast bins each time.
const BATCH_CAPACITY: usize = 4;

impl Outbox {
    fn push(&mut self, sink: ReplySink, reply: Reply) {
        let (tx, token) = match sink {
            ReplySink::Channel { tx, token } if self.deliverer => (tx, token),
            other => return other.send(reply),
        };
        // A connection serves a handful of producers at most: a scan is cheapest.
        if let Some((_, batch)) = self.batches.iter_mut().find(|(t, _)| t.same_channel(&tx)) {
            batch.push((token, reply));
            return;
        }
        let mut batch = Vec::with_capacity(BATCH_CAPACITY);
        batch.push((token, reply));
        self.batches.push((tx, batch));
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Hands every batch to its channel.
    fn deliver(&mut self) {
        for (tx, batch) in self.batches.drain(..) {
            let _ = tx.send(batch);
        }
    }
}

/// Hands the responses read in a pass to their channels, a batch per channel,
/// on the actor's next pass (the first response of a pass wakes it).
struct DeliverReplies;

impl ActorFuture<ConnectionActor> for DeliverReplies {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut ConnectionActor,
        _: &mut Context<ConnectionActor>,
        task: &mut TaskContext<'_>,
    ) -> Poll<()> {
        let outbox = &mut act.pending.outbox;
        outbox.deliver();
        if !outbox
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(task.waker()))
        {
            outbox.waker = Some(task.waker().clone());
        }
        Poll::Pending
    }
}
