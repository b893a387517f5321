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
