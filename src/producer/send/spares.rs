//! Storage of finished batches, reused by the next ones (auto-batching).
//!
//! A batch of 128 small sends needs a group vector, two member vectors and a
//! body of up to `max_batch_bytes`: four allocations of 1 KiB or more per
//! batch. Each such allocation makes glibc consolidate its fast bins, which
//! sends the next few hundred small allocations (results, ids, jobs) down its
//! slow path. Reusing them keeps a busy producer's allocations small.
// Jobs travel boxed (cheap moves): the group vector holds them as gathered.
#![allow(clippy::vec_box)]
use bytes::{Bytes, BytesMut};

use super::Job;
use super::members::Member;
use crate::protocol::message::Message;

/// Buffers kept per kind: about the batches a busy key has in flight.
const KEEP: usize = 8;

/// A member list's storage: messages in body order, and their replies.
pub(crate) type MemberStorage = (Vec<Message>, Vec<Option<Member>>);

#[derive(Default)]
pub(crate) struct Spares {
    groups: Vec<Vec<Box<Job>>>,
    members: Vec<MemberStorage>,
    bodies: Vec<BytesMut>,
    /// Bodies larger than this are not kept (a one-off batch near 4 MiB).
    max_body: usize,
}

impl Spares {
    pub(crate) fn new(max_body: usize) -> Self {
        Spares {
            max_body,
            ..Spares::default()
        }
    }

    /// An empty group vector.
    pub(crate) fn group(&mut self) -> Vec<Box<Job>> {
        self.groups.pop().unwrap_or_default()
    }

    /// A group vector whose jobs were taken out.
    pub(crate) fn put_group(&mut self, mut group: Vec<Box<Job>>) {
        group.clear();
        if self.groups.len() < KEEP && group.capacity() > 0 {
            self.groups.push(group);
        }
    }

    /// Empty member storage.
    pub(crate) fn members(&mut self) -> MemberStorage {
        self.members.pop().unwrap_or_default()
    }

    /// Member storage whose members were all answered.
    pub(crate) fn put_members(&mut self, (mut messages, mut live): MemberStorage) {
        messages.clear();
        live.clear();
        if self.members.len() < KEEP {
            self.members.push((messages, live));
        }
    }

    /// An empty body buffer.
    pub(crate) fn body(&mut self) -> BytesMut {
        self.bodies.pop().unwrap_or_default()
    }

    /// A sent body, kept when nothing else holds it any more.
    pub(crate) fn put_body(&mut self, body: Bytes) {
        if self.bodies.len() >= KEEP || body.len() > self.max_body {
            return;
        }
        if let Ok(mut buf) = body.try_into_mut() {
            buf.clear();
            self.bodies.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_reused_only_once_nothing_else_holds_it() {
        let mut spares = Spares::new(1024);
        let mut buf = spares.body();
        buf.extend_from_slice(&[7u8; 512]);
        let body = buf.freeze();
        let held = body.clone();
        spares.put_body(body);
        assert!(
            spares.bodies.is_empty(),
            "a body still referenced is not reused"
        );
        let ptr = held.as_ptr();
        spares.put_body(held);
        let again = spares.body();
        assert_eq!(again.len(), 0);
        assert!(again.capacity() >= 512);
        assert_eq!(again.as_ptr(), ptr, "the same allocation comes back");
    }

    #[test]
    fn oversized_bodies_and_extra_buffers_are_dropped() {
        let mut spares = Spares::new(100);
        spares.put_body(Bytes::from(vec![1u8; 101]));
        assert!(spares.bodies.is_empty());
        for _ in 0..KEEP + 3 {
            spares.put_body(Bytes::from(vec![1u8; 10]));
            spares.put_members((Vec::with_capacity(4), Vec::with_capacity(4)));
        }
        assert_eq!(spares.bodies.len(), KEEP);
        assert_eq!(spares.members.len(), KEEP);
    }
}
