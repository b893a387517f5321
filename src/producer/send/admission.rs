//! The in-flight bounds: how many sends (and body bytes) may be in flight at
//! once, and the FIFO of sends waiting for room, each failed with
//! back-pressure at its deadline rather than waiting forever.
use std::collections::VecDeque;

use actix::SpawnHandle;
use tokio::time::Instant;

use super::Job;
use crate::error::Error;
use crate::runtime::deadline_queue::DeadlineQueue;

/// What [`Admission::offer`] decided for a job.
pub(crate) enum Offer {
    /// In flight now (counted): route it.
    Admitted(Box<Job>),
    /// Waiting for room, in FIFO order: its expiry timer may need arming.
    Parked,
    /// It could never fit: fail it now instead of waiting forever.
    TooBig(Box<Job>, Error),
}

/// What leaves the wait when room frees up: admitted, or out of time.
pub(crate) enum Unblocked {
    Admitted(Box<Job>),
    Expired(Box<Job>, Error),
}

pub(crate) struct Admission {
    max_in_flight: usize,
    max_in_flight_bytes: usize,
    /// Sends admitted and not finished, and their body bytes.
    in_flight: usize,
    in_flight_bytes: usize,
    // Jobs travel boxed (cheap moves); unboxing them to queue would copy each.
    /// Parked jobs in arrival order, each with its sequence number (ascending).
    #[allow(clippy::vec_box)]
    blocked: VecDeque<(u64, Box<Job>)>,
    next_seq: u64,
    /// The parked jobs' deadlines by sequence number, behind one timer.
    expiry: DeadlineQueue<u64>,
    expiry_timer: Option<SpawnHandle>,
}

impl Admission {
    pub(crate) fn new(max_in_flight: usize, max_in_flight_bytes: usize) -> Self {
        Admission {
            max_in_flight,
            max_in_flight_bytes,
            in_flight: 0,
            in_flight_bytes: 0,
            blocked: VecDeque::new(),
            next_seq: 0,
            expiry: DeadlineQueue::default(),
            expiry_timer: None,
        }
    }

    /// Admits `job` within the bounds, or parks it behind those already waiting.
    #[inline]
    pub(crate) fn offer(&mut self, job: Box<Job>) -> Offer {
        if job.size > self.max_in_flight_bytes {
            let err = self.backpressure_error();
            return Offer::TooBig(job, err);
        }
        if !self.blocked.is_empty() || !self.has_room(job.size) {
            self.park(job);
            return Offer::Parked;
        }
        self.admit(&job);
        Offer::Admitted(job)
    }

    fn park(&mut self, job: Box<Job>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let deadline = job.deadline;
        self.blocked.push_back((seq, job));
        // A sequence number below the front's left the wait (admitted, or expired and popped).
        let front = self.blocked.front().map(|(s, _)| *s);
        let live = self.blocked.len();
        self.expiry
            .push(deadline, seq, live, |_, s| front.is_some_and(|f| s >= f));
    }

    #[inline]
    fn has_room(&self, size: usize) -> bool {
        self.in_flight < self.max_in_flight
            && self.in_flight_bytes + size <= self.max_in_flight_bytes
    }

    #[inline]
    fn admit(&mut self, job: &Job) {
        self.in_flight += 1;
        self.in_flight_bytes += job.size;
    }

    /// A job admitted before ended: its share is free again.
    #[inline]
    pub(crate) fn release(&mut self, size: usize) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.in_flight_bytes = self.in_flight_bytes.saturating_sub(size);
    }

    pub(crate) fn backpressure_error(&self) -> Error {
        Error::backpressure(
            self.in_flight,
            self.in_flight_bytes,
            self.max_in_flight,
            self.max_in_flight_bytes,
        )
    }

    /// Whether any job waits for room.
    #[inline]
    pub(crate) fn any_blocked(&self) -> bool {
        !self.blocked.is_empty()
    }

    /// No send in flight and none waiting.
    #[inline]
    pub(crate) fn idle(&self) -> bool {
        self.in_flight == 0 && self.blocked.is_empty()
    }

    /// The front of the wait if it may leave now: admitted when room allows,
    /// expired when its deadline passed; `None` while the front must wait.
    pub(crate) fn unblock(&mut self, now: Instant) -> Option<Unblocked> {
        let (_, front) = self.blocked.front()?;
        if front.deadline <= now {
            let (_, job) = self.blocked.pop_front().expect("front exists");
            let err = self.backpressure_error();
            return Some(Unblocked::Expired(job, err));
        }
        if !self.has_room(front.size) {
            return None;
        }
        let (_, job) = self.blocked.pop_front().expect("front exists");
        self.admit(&job);
        Some(Unblocked::Admitted(job))
    }

    /// Takes the parked jobs whose deadline passed (in arrival order), each
    /// with the back-pressure error it fails with.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(Box<Job>, Error)> {
        let front = self.blocked.front().map(|(s, _)| *s);
        let mut any_live = false;
        while let Some((_, seq)) = self.expiry.pop_due(now) {
            any_live |= front.is_some_and(|f| seq >= f);
        }
        if !any_live {
            return Vec::new();
        }
        let err = self.backpressure_error();
        let mut expired = Vec::new();
        let mut kept = VecDeque::with_capacity(self.blocked.len());
        for (seq, job) in self.blocked.drain(..) {
            if job.deadline <= now {
                expired.push((job, err.clone()));
            } else {
                kept.push_back((seq, job));
            }
        }
        self.blocked = kept;
        expired
    }

    /// When the expiry timer must fire (the caller cancels the old one, if
    /// returned, and arms a new one), or `None` if the one armed will do.
    pub(crate) fn rearm_expiry(&mut self) -> Option<(Instant, Option<SpawnHandle>)> {
        let at = self.expiry.rearm(std::time::Duration::ZERO)?;
        Some((at, self.expiry_timer.take()))
    }

    /// The expiry timer armed by the caller.
    pub(crate) fn expiry_armed(&mut self, handle: SpawnHandle) {
        self.expiry_timer = Some(handle);
    }

    /// The expiry timer fired, or is to be cancelled (its handle, if any, is returned).
    pub(crate) fn expiry_disarmed(&mut self) -> Option<SpawnHandle> {
        self.expiry.disarmed();
        self.expiry_timer.take()
    }

    /// Every parked job (the producer stops).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Box<Job>> + '_ {
        self.expiry.clear();
        self.blocked.drain(..).map(|(_, job)| job)
    }

    /// Sends in flight and their body bytes.
    pub(crate) fn in_flight(&self) -> (usize, usize) {
        (self.in_flight, self.in_flight_bytes)
    }

    /// Jobs waiting for room.
    pub(crate) fn blocked(&self) -> usize {
        self.blocked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::send::Route;
    use crate::producer::send::reply::{ReplySlot, ReplyTo};
    use crate::protocol::SerializeType;
    use crate::protocol::command::EncodedFields;
    use crate::protocol::message::Message;
    use std::time::Duration;

    fn job(size: usize, deadline: Instant) -> Box<Job> {
        let (slot, _reply) = ReplySlot::pair();
        Box::new(Job {
            route: Route::Any,
            code: 0,
            wrapped_topic: None,
            message: Message::new("T", "b"),
            fixed: EncodedFields {
                ty: SerializeType::Json,
                bytes: Default::default(),
            },
            message_properties: true,
            body: None,
            batch_msg_id: None,
            born_ms: 0,
            size,
            received: deadline,
            deadline,
            attempts: 0,
            max_attempts: 1,
            brokers_tried: Vec::new(),
            reply: ReplyTo::Oneway(slot),
            gather: None,
        })
    }

    /// Full, a job parks; room frees the front first; an expired one leaves
    /// from the middle of the wait while the others keep their order.
    #[test]
    fn parked_jobs_leave_in_order_or_at_their_deadline() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut a = Admission::new(1, 100);
        assert!(matches!(a.offer(job(10, ms(100))), Offer::Admitted(_)));
        assert!(matches!(a.offer(job(200, ms(100))), Offer::TooBig(..)));
        for d in [300, 50, 200] {
            assert!(matches!(a.offer(job(10, ms(d))), Offer::Parked));
        }
        assert_eq!(a.rearm_expiry().map(|(at, _)| at), Some(ms(50)));
        assert!(a.unblock(t0).is_none(), "no room yet");
        let expired = a.expire(ms(60));
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].0.deadline, ms(50));
        assert_eq!(a.blocked(), 2);
        a.release(10);
        let Some(Unblocked::Admitted(j)) = a.unblock(ms(60)) else {
            panic!("the front is admitted once room frees up");
        };
        assert_eq!(j.deadline, ms(300));
        assert_eq!(a.in_flight(), (1, 10));
        // The front's deadline passed: it leaves with back-pressure, not admitted.
        a.release(10);
        assert!(matches!(a.unblock(ms(250)), Some(Unblocked::Expired(..))));
        assert!(a.idle());
    }
}
