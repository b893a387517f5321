//! Where a send's answer goes: a slot shared with actix's reply channel, so a
//! send costs no task, future or timer of its own, and exactly one reply.
use std::cell::RefCell;
use std::rc::Rc;

use actix::dev::{MessageResponse, OneshotSender};
use actix::prelude::*;

use super::super::messages::SendOutcome;
use super::super::send_result::SendResult;
use crate::error::Error;
use crate::producer::observe::Observed;
use crate::protocol::message::Message;
use crate::protocol::route::MessageQueue;

/// Where a send's reply goes. The slot is filled by the actor when the job
/// ends and handed straight to actix's reply channel (see [`SendReply`]), so a
/// send costs no task, future or timer of its own.
pub(crate) struct ReplySlot<T>(Rc<RefCell<SlotState<T>>>);

// Not derived: `T` need not be `Clone` to share the slot.
impl<T> Clone for ReplySlot<T> {
    fn clone(&self) -> Self {
        ReplySlot(self.0.clone())
    }
}

/// Boxed when ready: a reply is nearly always handed straight to a waiting
/// sender, and a small slot is a small allocation (a send's result is ~200
/// bytes; allocations of that size in bursts of a batch take glibc's slow path).
enum SlotState<T> {
    Empty,
    Ready(Box<T>),
    Waiting(OneshotSender<T>),
    Sent,
}

impl<T> ReplySlot<T> {
    pub(crate) fn pair() -> (ReplySlot<T>, SendReply<T>) {
        let cell = Rc::new(RefCell::new(SlotState::Empty));
        (ReplySlot(cell.clone()), SendReply(ReplySlot(cell)))
    }

    pub(crate) fn complete(self, value: T) {
        let mut state = self.0.borrow_mut();
        match std::mem::replace(&mut *state, SlotState::Sent) {
            SlotState::Waiting(tx) => {
                let _ = tx.send(value);
            }
            SlotState::Empty => *state = SlotState::Ready(Box::new(value)),
            // Already answered: exactly one reply.
            other => *state = other,
        }
    }
}

/// The reply of the producer's send handlers: resolved when the send ends.
pub struct SendReply<T>(ReplySlot<T>);

impl<A, M, T> MessageResponse<A, M> for SendReply<T>
where
    A: Actor,
    M: actix::Message<Result = T>,
    T: 'static,
{
    fn handle(self, _: &mut A::Context, tx: Option<OneshotSender<T>>) {
        let Some(tx) = tx else {
            return;
        };
        let mut state = self.0.0.borrow_mut();
        match std::mem::replace(&mut *state, SlotState::Sent) {
            SlotState::Ready(value) => {
                let _ = tx.send(*value);
            }
            SlotState::Empty => *state = SlotState::Waiting(tx),
            other => *state = other,
        }
    }
}

/// A reply built elsewhere from a send's outcome, delivered once.
pub(crate) trait DeliverOnce {
    fn deliver(self: Box<Self>, res: Result<Option<SendResult>, Error>);
}

pub(crate) enum ReplyTo {
    Send {
        slot: ReplySlot<Result<SendResult, Error>>,
        notify: Option<(Recipient<SendOutcome>, u64)>,
    },
    Oneway(ReplySlot<Result<(), Error>>),
    /// A transaction's half message: the reply is the `Transaction` to end
    /// (built by `transaction.rs`, which this module need not know).
    Half(Box<dyn DeliverOnce>),
    /// A request–reply request: a failed send answers it; a stored one waits
    /// for its reply (see `request_reply::PendingRequest`).
    Request(ReplySlot<Result<Message, Error>>),
    /// Any of the above, watched: its span and metrics end with the reply.
    Observed(Box<Observed>),
    /// An auto-batch: each member answered on its own (see `members.rs`).
    Batch(super::members::SharedMembers),
    /// Moved out already: the job became a batch member, and its emptied box
    /// waits in `Prepare` to hold the next job.
    Moved,
}

impl ReplyTo {
    /// The reply itself, through an [`Observed`] wrapper.
    #[inline]
    pub(crate) fn inner(&self) -> &ReplyTo {
        match self {
            ReplyTo::Observed(o) => &o.to,
            other => other,
        }
    }

    /// An attempt begins: the watched send's child span (else nothing).
    #[inline]
    pub(crate) fn attempt(&mut self, queue: &MessageQueue, addr: &str, attempt: u32) {
        match self {
            ReplyTo::Observed(o) => o.attempt(queue, addr, attempt),
            // Each batched send has its own span: every member sees the batch's attempt.
            ReplyTo::Batch(members) => members.borrow_mut().attempt(queue, addr, attempt),
            _ => {}
        }
    }

    /// Replies exactly once (and tells the notify recipient, if any).
    pub(crate) fn deliver(self, res: Result<Option<SendResult>, Error>) {
        match self {
            ReplyTo::Send { slot, notify } => {
                let res = res.and_then(|r| r.ok_or_else(Error::shut_down));
                if let Some((recipient, correlation)) = notify {
                    let outcome = SendOutcome {
                        correlation,
                        result: res.clone(),
                    };
                    // A full recipient mailbox waits on a task: it must not delay this reply.
                    if let Err(SendError::Full(outcome)) = recipient.try_send(outcome) {
                        actix_rt::spawn(async move {
                            let _ = recipient.send(outcome).await;
                        });
                    }
                }
                slot.complete(res);
            }
            ReplyTo::Oneway(slot) => slot.complete(res.map(|_| ())),
            ReplyTo::Half(half) => half.deliver(res),
            ReplyTo::Observed(o) => (*o).deliver(res),
            ReplyTo::Request(slot) => match res {
                Ok(Some(_)) => {} // stored: the reply answers it
                Ok(None) => slot.complete(Err(Error::shut_down())),
                Err(e) => slot.complete(Err(e)),
            },
            ReplyTo::Batch(members) => {
                members.borrow_mut().deliver(res);
            }
            ReplyTo::Moved => {}
        }
    }
}
