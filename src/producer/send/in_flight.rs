//! The attempts handed to connections: a token each, the table from token to
//! job, the send deadlines behind one timer (the guarantee that every send is
//! answered by its deadline even if a connection is stuck), and the pump that
//! brings the connections' replies back to the actor.
use std::task::Poll;
use std::thread::ThreadId;
use std::time::Duration;

use actix::prelude::*;
// Hot-path table keyed by our own tokens: Fx, not SipHash.
use rustc_hash::FxHashMap as HashMap;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Job;
use crate::producer::ProducerActor;
use crate::protocol::RemotingCommand;
use crate::protocol::route::MessageQueue;
use crate::runtime::Connection;
use crate::runtime::connection::{ReplyBatch, ReplySink, Submit};
use crate::runtime::deadline_queue::{DeadlineQueue, SHRINK_ABOVE};

/// Slack after a send's deadline before the producer answers for a connection that did not.
const DEADLINE_GRACE: Duration = Duration::from_millis(20);

/// Batches handled per pass before the pump lets the actor's other work run
/// (a stream handler takes 16 items per pass too).
const BATCHES_PER_PASS: usize = 16;

/// An attempt handed to a connection, waiting for its reply (keyed by token).
pub(crate) struct InAttempt {
    pub(crate) job: Box<Job>,
    pub(crate) queue: MessageQueue,
    pub(crate) started: Instant,
    pub(crate) hook_addr: Option<String>,
}

pub(crate) struct InFlight {
    /// Where connections send attempt replies, tagged with the attempt's token;
    /// the receiver is pumped by the actor (no task or future per attempt).
    done: mpsc::UnboundedSender<ReplyBatch>,
    done_rx: Option<mpsc::UnboundedReceiver<ReplyBatch>>,
    attempts: HashMap<u64, InAttempt>,
    next_token: u64,
    /// Send deadlines of the attempts in flight, by token.
    deadlines: DeadlineQueue<u64>,
    timer: Option<SpawnHandle>,
    /// The thread of the connection the last attempt went to, when known.
    last_home: Option<ThreadId>,
}

impl InFlight {
    pub(crate) fn new() -> Self {
        let (done, done_rx) = mpsc::unbounded_channel();
        InFlight {
            done,
            done_rx: Some(done_rx),
            attempts: HashMap::default(),
            next_token: 0,
            deadlines: DeadlineQueue::default(),
            timer: None,
            last_home: None,
        }
    }

    /// The pump of the replies (once: the actor runs it for its whole life).
    pub(crate) fn pump(&mut self) -> Option<ReplyPump> {
        self.done_rx.take().map(ReplyPump)
    }

    /// Hands `cmd` to `conn`, the reply to come back tagged with a new token:
    /// no task, future or timer per attempt.
    #[inline]
    pub(crate) fn submit(
        &mut self,
        conn: &Connection,
        cmd: RemotingCommand,
        attempt_deadline: Instant,
        attempt: InAttempt,
    ) {
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        self.last_home = conn.home();
        conn.submit(Submit {
            cmd,
            deadline: attempt_deadline,
            oneway: attempt.job.oneway(),
            reply: ReplySink::Channel {
                tx: self.done.clone(),
                token,
            },
        });
        let deadline = attempt.job.deadline;
        self.attempts.insert(token, attempt);
        // Answered attempts stay in the queue until their deadline: it is
        // compacted now and then so it stays proportional to what is in flight.
        let live = &self.attempts;
        self.deadlines
            .push(deadline, token, live.len(), |_, t| live.contains_key(&t));
    }

    /// Whether the connection the last attempt went to runs on this thread
    /// (and so writes it only when this thread yields).
    pub(crate) fn last_went_local(&self) -> bool {
        self.last_home
            .is_some_and(|home| home == std::thread::current().id())
    }

    /// The attempt `token` names, unless it timed out before.
    #[inline]
    pub(crate) fn take(&mut self, token: u64) -> Option<InAttempt> {
        self.attempts.remove(&token)
    }

    /// An attempt whose send deadline passed (by the grace) while its
    /// connection never answered; `None` once there is none.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<InAttempt> {
        // The connection answers at the deadline itself; this is the backstop.
        let due = now.checked_sub(DEADLINE_GRACE)?;
        while let Some((_, token)) = self.deadlines.pop_due(due) {
            if let Some(a) = self.attempts.remove(&token) {
                return Some(a);
            }
        }
        if self.attempts.is_empty() {
            self.deadlines.clear();
        }
        None
    }

    /// A burst is over: give back what its peak needed.
    #[inline]
    pub(crate) fn shrink_if_idle(&mut self) {
        if self.attempts.is_empty() && self.attempts.capacity() > SHRINK_ABOVE {
            self.attempts.shrink_to(0);
            self.deadlines.clear_and_shrink();
        }
    }

    /// When the deadline timer must fire (the caller cancels the old one, if
    /// returned, and arms a new one), or `None` if the one armed will do.
    #[inline]
    pub(crate) fn rearm(&mut self) -> Option<(Instant, Option<SpawnHandle>)> {
        let at = self.deadlines.rearm(DEADLINE_GRACE)?;
        Some((at, self.timer.take()))
    }

    /// The deadline timer armed by the caller.
    pub(crate) fn armed(&mut self, handle: SpawnHandle) {
        self.timer = Some(handle);
    }

    /// The deadline timer fired, or is to be cancelled (its handle, if any, is returned).
    pub(crate) fn disarmed(&mut self) -> Option<SpawnHandle> {
        self.deadlines.disarmed();
        self.timer.take()
    }

    /// Every attempt waiting (the producer stops).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = InAttempt> + '_ {
        self.deadlines.clear();
        self.attempts.drain().map(|(_, a)| a)
    }
}

/// Hands the connections' reply batches to the actor. The actor's one
/// perpetual item, so it also ends the actor's life: once no address is left
/// and no send is in flight it finishes, and the actor stops (and unregisters,
/// see `stopped`) as after a `Shutdown`.
pub(crate) struct ReplyPump(mpsc::UnboundedReceiver<ReplyBatch>);

impl ActorFuture<ProducerActor> for ReplyPump {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        act: &mut ProducerActor,
        ctx: &mut Context<ProducerActor>,
        task: &mut std::task::Context<'_>,
    ) -> Poll<()> {
        let this = self.get_mut();
        for _ in 0..BATCHES_PER_PASS {
            match this.0.poll_recv(task) {
                Poll::Ready(Some(batch)) => {
                    for (token, reply) in batch {
                        act.on_reply(token, reply, ctx);
                    }
                }
                // The actor holds a sender: never, but nothing is left to pump then.
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => {
                    return if act.abandoned(ctx) {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    };
                }
            }
        }
        task.waker().wake_by_ref();
        Poll::Pending
    }
}
