//! Unit tests of the gatherer's decisions.
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::producer::send::reply::ReplySlot;
use crate::protocol::SerializeType;
use crate::protocol::command::EncodedFields;
use crate::protocol::message::Message;

fn job(topic: &str, body: usize, deadline: Instant) -> Box<Job> {
    let (slot, _reply) = ReplySlot::pair();
    let mut message = Message::new(topic, vec![b'x'; body]);
    message.set_property(property::UNIQ_KEY, "0123456789ABCDEF0123456789ABCDEF");
    Box::new(Job {
        route: Route::Any,
        code: request_code::SEND_MESSAGE_V2,
        wrapped_topic: None,
        message,
        fixed: EncodedFields {
            ty: SerializeType::Json,
            bytes: Default::default(),
        },
        message_properties: true,
        body: None,
        batch_msg_id: None,
        born_ms: 0,
        size: body,
        received: deadline - Duration::from_secs(3),
        deadline,
        attempts: 0,
        max_attempts: 3,
        brokers_tried: Vec::new(),
        reply: ReplyTo::Send { slot, notify: None },
        gather: None,
    })
}

fn queue(id: i32) -> MessageQueue {
    MessageQueue::new("T", "broker-a", id)
}

/// One send of a turn, offered and flushed at the turn's end: it leaves
/// alone, as a plain send (batch 0).
fn alone(g: &mut Gather, job: Box<Job>, wait: Option<bool>, queue: Option<&MessageQueue>) -> Ready {
    g.offer(job, wait, queue);
    g.arm_flush();
    g.flush();
    let r = g.take_ready().expect("alone at the end of its turn");
    assert_eq!((r.jobs.len(), r.slot.batch), (1, 0));
    r
}

/// Below the limit the sends of one turn leave together at its end (one
/// send alone as itself); at the limit sends gather and leave together, as
/// one group, when a request of the key ends.
#[test]
fn a_turns_sends_leave_together_below_the_limit_then_gather_until_a_slot_frees() {
    let t0 = Instant::now();
    let d = t0 + Duration::from_secs(3);
    let mut g = Gather::new(AutoBatch::new().max_in_flight_requests(2));
    let a = alone(&mut g, job("T", 10, d), Some(true), None);
    assert_eq!(a.slot, Slot { key: 0, batch: 0 });
    for _ in 0..3 {
        g.offer(job("T", 10, d), Some(true), None);
    }
    assert!(
        g.take_ready().is_none(),
        "nothing leaves before the turn ends"
    );
    assert!(g.arm_flush());
    assert!(!g.arm_flush(), "one flush per turn");
    g.flush();
    let b = g.take_ready().expect("the turn's sends, together");
    assert_eq!(b.jobs.len(), 3);
    assert_ne!(b.slot.batch, 0, "a batch of three");
    assert!(g.take_ready().is_none());
    // Two requests in flight: the key's limit.
    for _ in 0..5 {
        g.offer(job("T", 10, d), Some(true), None);
    }
    assert!(
        !g.arm_flush(),
        "at the limit nothing leaves at the turn's end"
    );
    g.flush();
    assert!(
        g.take_ready().is_none(),
        "nothing leaves before a slot frees"
    );
    assert_eq!(g.gathered(), 5);
    // Another topic, or the other WAIT flag, is a key of its own.
    assert_ne!(alone(&mut g, job("U", 10, d), Some(true), None).slot.key, 0);
    assert_ne!(
        alone(&mut g, job("T", 10, d), Some(false), None).slot.key,
        0
    );
    g.request_ended(a.slot);
    let r = g.take_ready().expect("the group leaves");
    assert_eq!(r.jobs.len(), 5);
    assert_ne!(r.slot.batch, 0, "a batch of five");
    assert!(r.route.is_none());
    assert!(g.take_ready().is_none());
    // The slot is the group's now: the next send is gathered again.
    g.offer(job("T", 10, d), Some(true), None);
    assert!(!g.arm_flush());
    assert!(g.take_ready().is_none());
}

/// A group leaves at once when full (messages or bytes), even at the limit;
/// a message over the byte cap leaves alone, a group of one as a plain send.
#[test]
fn full_groups_leave_at_once() {
    let t0 = Instant::now();
    let d = t0 + Duration::from_secs(3);
    let cfg = AutoBatch::new()
        .max_in_flight_requests(1)
        .max_batch_messages(3)
        .max_batch_bytes(1000);
    let mut g = Gather::new(cfg);
    alone(&mut g, job("T", 10, d), Some(true), None);
    for _ in 0..3 {
        g.offer(job("T", 10, d), Some(true), None);
    }
    let r = g.take_ready().expect("three messages: full");
    assert_eq!(r.jobs.len(), 3);
    // Bytes: 22 + 400 + properties each; the third would pass 1000 bytes.
    g.offer(job("T", 400, d), Some(true), None);
    g.offer(job("T", 400, d), Some(true), None);
    assert!(g.take_ready().is_none());
    g.offer(job("T", 400, d), Some(true), None);
    let r = g
        .take_ready()
        .expect("the group that could not take it leaves");
    assert_eq!(r.jobs.len(), 2);
    // Larger than the cap by itself: a group of one, leaving at once.
    g.offer(job("T", 2000, d), Some(true), None);
    let r1 = g.take_ready().expect("the open group leaves first");
    assert_eq!(r1.jobs.len(), 1);
    let r2 = g.take_ready().expect("then the big one");
    assert_eq!((r2.jobs.len(), r2.slot.batch), (1, 0));
}

/// A chosen queue keeps one request in flight: full groups wait their turn,
/// in order, one per freed slot.
#[test]
fn queue_keys_keep_one_request_in_flight_and_their_order() {
    let t0 = Instant::now();
    let d = t0 + Duration::from_secs(3);
    let cfg = AutoBatch::new()
        .max_in_flight_requests(8)
        .max_batch_messages(2);
    let mut g = Gather::new(cfg);
    let q = queue(1);
    let first = alone(&mut g, job("T", 1, d), Some(true), Some(&q));
    let mut bodies = Vec::new();
    for i in 0..5 {
        let mut j = job("T", 1, d);
        j.message.body = format!("{i}").into();
        bodies.push(j.message.body.clone());
        g.offer(j, Some(true), Some(&q));
    }
    assert!(!g.arm_flush(), "one in flight per queue");
    // Another queue is a key of its own.
    alone(&mut g, job("T", 1, d), Some(true), Some(&queue(2)));
    assert!(
        g.take_ready().is_none(),
        "full groups of an ordered key wait"
    );
    let mut slot = first.slot;
    let mut sent = Vec::new();
    for expected in [2, 2, 1] {
        g.request_ended(slot);
        let r = g.take_ready().expect("the oldest group");
        assert!(g.take_ready().is_none(), "one at a time");
        assert_eq!(r.jobs.len(), expected);
        assert_eq!(r.route.as_ref(), Some(&q));
        sent.extend(r.jobs.iter().map(|j| j.message.body.clone()));
        slot = r.slot;
    }
    assert_eq!(sent, bodies, "in the order they were made");
}

/// A gathered send whose deadline passes is answered then, not with its
/// group; the others stay; `max_delay` sends a group without a free slot.
#[test]
fn gathered_sends_expire_at_their_deadline_and_groups_linger_at_most_max_delay() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    let mut g = Gather::new(
        AutoBatch::new()
            .max_in_flight_requests(1)
            .max_delay(Duration::from_millis(50)),
    );
    alone(&mut g, job("T", 1, ms(3000)), Some(true), None);
    g.offer(job("T", 1, ms(3000)), Some(true), None);
    g.offer(job("T", 1, ms(20)), Some(true), None);
    assert_eq!(g.rearm().map(|(at, _)| at), Some(ms(20)));
    g.disarmed();
    let e = g.due(ms(20));
    assert_eq!(e.jobs.len(), 1);
    assert!(matches!(
        e.jobs[0].1.kind(),
        crate::ErrorKind::Timeout { .. }
    ));
    assert_eq!(g.gathered(), 1);
    assert!(g.take_ready().is_none());
    // The linger counts from when the group began (a clock read of its own).
    let (at, _) = g.rearm().expect("the linger timer");
    assert!(at >= ms(50) && at < ms(1000), "{:?}", at - t0);
    g.disarmed();
    let e = g.due(at);
    assert!(e.jobs.is_empty() && e.members.is_empty());
    assert!(g.rearm().is_none(), "no other timer");
    let r = g.take_ready().expect("lingered long enough");
    assert_eq!(r.jobs.len(), 1);
}

/// Members of a batch in flight are answered at their own deadline; the
/// batch keeps the others.
#[test]
fn batch_members_expire_at_their_own_deadline() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    let mut g = Gather::new(AutoBatch::new().max_in_flight_requests(1));
    let first = alone(&mut g, job("T", 1, ms(3000)), Some(true), None).slot;
    g.offer(job("T", 1, ms(100)), Some(true), None);
    g.offer(job("T", 1, ms(3000)), Some(true), None);
    g.request_ended(first);
    let r = g.take_ready().unwrap();
    let mut jobs = r.jobs;
    let members = g.batch_started(r.slot, Members::new(0, &mut jobs, Default::default(), drop));
    g.disarmed();
    let e = g.due(ms(100));
    assert_eq!(e.members.len(), 1);
    assert_eq!(members.borrow().live().count(), 1);
    g.request_ended(r.slot);
    assert!(g.take_ready().is_none());
}

/// Only plain awaited sends of undelayed, uncompressed, non-transactional
/// messages may be batched.
#[test]
fn what_may_be_batched() {
    let d = Instant::now() + Duration::from_secs(1);
    assert_eq!(batch_class(&job("T", 1, d)), Some(true));
    let mut j = job("T", 1, d);
    j.message.set_property(property::WAIT, "false");
    assert_eq!(batch_class(&j), Some(false));
    for (k, v) in [
        (property::DELAY, "3"),
        (property::TIMER_DELAY_SEC, "3"),
        (property::TIMER_DELIVER_MS, "3"),
        (property::TRAN_MSG, "true"),
    ] {
        let mut j = job("T", 1, d);
        j.message.set_property(k, v);
        assert_eq!(batch_class(&j), None, "{k}");
    }
    let mut j = job("T", 1, d);
    j.body = Some(bytes::Bytes::from_static(b"zlib"));
    assert_eq!(batch_class(&j), None, "compressed");
    let mut j = job("T", 1, d);
    j.code = request_code::SEND_REPLY_MESSAGE_V2;
    assert_eq!(batch_class(&j), None, "reply");
    let mut j = job("T", 1, d);
    j.route = Route::Oneway;
    assert_eq!(batch_class(&j), None, "oneway");
    assert_eq!(batch_class(&job("%RETRY%g", 1, d)), None);
}

/// A send to a chosen queue that may not be batched (compressed, delayed,
/// one-way, another WAIT flag) takes its turn in the queue's order, alone.
#[test]
fn sends_that_cannot_batch_keep_their_turn_in_a_queue() {
    let d = Instant::now() + Duration::from_secs(3);
    let mut g = Gather::new(AutoBatch::new());
    let q = queue(3);
    let body = |j: &Job| j.message.body.clone();
    let mut slot = alone(&mut g, job("T", 1, d), Some(true), Some(&q)).slot;
    let mut made = Vec::new();
    for (i, wait) in [Some(true), Some(true), None, Some(false), Some(true)]
        .into_iter()
        .enumerate()
    {
        let mut j = job("T", 1, d);
        j.message.body = format!("{i}").into();
        made.push(j.message.body.clone());
        g.offer(j, wait, Some(&q));
        assert!(!g.arm_flush(), "the queue is busy");
    }
    let mut groups = Vec::new();
    while g.gathered() > 0 {
        g.request_ended(slot);
        let r = g.take_ready().expect("the next group in order");
        groups.push(r.jobs.iter().map(|j| body(j)).collect::<Vec<_>>());
        slot = r.slot;
    }
    let sizes: Vec<_> = groups.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        vec![2, 1, 1, 1],
        "same WAIT batched; the others alone"
    );
    assert_eq!(groups.concat(), made, "in the order they were made");
}

/// A group that does not leave at its turn's end (behind another of its
/// queue) has its timer: its sends still end at their deadline.
#[test]
fn a_group_left_behind_at_the_turns_end_still_expires() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    let mut g = Gather::new(AutoBatch::new());
    let q = queue(4);
    g.offer(job("T", 1, ms(3000)), None, Some(&q));
    g.offer(job("T", 1, ms(30)), Some(true), Some(&q));
    g.arm_flush();
    g.flush();
    let first = g.take_ready().expect("the first in the queue's order");
    assert_eq!(first.jobs.len(), 1);
    assert!(g.take_ready().is_none(), "one request in flight per queue");
    assert_eq!(g.rearm().map(|(at, _)| at), Some(ms(30)));
    g.disarmed();
    let e = g.due(ms(30));
    assert_eq!(e.jobs.len(), 1);
    assert_eq!(g.gathered(), 0);
}
