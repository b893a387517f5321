//! Adaptive auto-batching (group commit): per key, while fewer than the key's
//! limit of requests are in flight, the sends of one actor turn leave together
//! at its end (one alone as itself); beyond it, sends are gathered into groups
//! that leave when a request of the key ends, when full, or at the linger time. A plain struct that returns decisions:
//! the actor sends what [`Gather::take_ready`] gives and arms the one timer.
//!
//! A key is a topic with its WAIT flag (the producer picks the queue per
//! attempt), or a queue the caller chose: those keep one request in flight,
//! and their full groups wait in order, so a queue stores its sends in the
//! order they were made.
// Jobs travel boxed (cheap moves): a group of one leaves as the job it came as.
#![allow(clippy::vec_box)]
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::Duration;

use actix::SpawnHandle;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use tokio::time::Instant;

use super::members::{Member, Members, SharedMembers};
use super::reply::ReplyTo;
use super::spares::Spares;
use super::{Job, Route};
use crate::error::{Error, WaitingFor};
use crate::producer::config::AutoBatch;
use crate::protocol::batch::RECORD_OVERHEAD;
use crate::protocol::codes::request_code;
use crate::protocol::message::property;
use crate::protocol::route::MessageQueue;
use crate::protocol::validation::RETRY_TOPIC_PREFIX;
use crate::runtime::deadline_queue::DeadlineQueue;

/// Keys kept at most while idle; past it the table is cleared once nothing is in flight.
const MAX_IDLE_KEYS: usize = 4096;

/// Where a job that went through the gatherer belongs: its key, and its batch (0: a single send).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) key: u32,
    pub(crate) batch: u64,
}

/// The WAIT flag of a job that may be batched, or `None` when it must go
/// alone: not a plain awaited send, compressed, delayed or timed,
/// transactional, a reply, or to a retry topic.
pub(crate) fn batch_class(job: &Job) -> Option<bool> {
    if !matches!(job.reply.inner(), ReplyTo::Send { .. })
        || job.code != request_code::SEND_MESSAGE_V2
        || job.body.is_some()
        || matches!(job.route, Route::Oneway)
        || job.message.topic.starts_with(RETRY_TOPIC_PREFIX)
    {
        return None;
    }
    let mut wait = true;
    for (k, v) in job.message.properties() {
        if k == property::DELAY || k == property::TRAN_MSG || k.starts_with("TIMER_") {
            return None;
        }
        if k == property::WAIT {
            wait = v.eq_ignore_ascii_case("true");
        }
    }
    Some(wait)
}

/// A job's bytes in a batch body.
pub(crate) fn record_len(job: &Job) -> usize {
    RECORD_OVERHEAD + job.message.body.len() + job.message.encoded_properties_len()
}

/// Gathered sends of one key, leaving together.
struct Group {
    id: u64,
    jobs: Vec<Box<Job>>,
    bytes: usize,
    /// The WAIT flag its members share; `None`: a send that may not be
    /// batched, alone in its group (it keeps its queue's order).
    wait: Option<bool>,
    /// The earliest deadline of its jobs (its timer fires then).
    earliest: Option<Instant>,
    /// When it must leave anyway (`max_delay`).
    linger_until: Option<Instant>,
}

struct KeyState {
    limit: usize,
    /// Whether full groups wait for a slot (queue keys, for order) or leave at once.
    ordered: bool,
    in_flight: usize,
    /// In [`Gather::flush`]'s list: its groups leave at the end of the turn.
    flush_queued: bool,
    /// Groups waiting to leave, oldest first; only the last one takes new sends.
    pending: VecDeque<Group>,
    /// This key's batches in flight, for their members' deadlines.
    batches: Vec<(u64, Weak<RefCell<Members>>)>,
}

/// A topic's keys: by WAIT flag, and per chosen queue.
#[derive(Default)]
struct TopicKeys {
    any: [Option<u32>; 2],
    /// Per chosen queue, whatever the WAIT flag: one order per queue.
    queues: Vec<(String, i32, u32)>,
}

/// What leaves now: a group of one goes as its own send, more as one batch.
pub(crate) struct Ready {
    pub(crate) slot: Slot,
    pub(crate) route: Option<MessageQueue>,
    pub(crate) jobs: Vec<Box<Job>>,
}

/// What passed its time while gathered or in a batch: each with its error.
#[derive(Default)]
pub(crate) struct Expired {
    pub(crate) jobs: Vec<(Box<Job>, Error)>,
    pub(crate) members: Vec<(Member, Error)>,
}

pub(crate) struct Gather {
    cfg: AutoBatch,
    keys: HashMap<String, TopicKeys>,
    states: Vec<KeyState>,
    /// The chosen queue of each queue key (by key index), for the batch's route.
    key_queue: Vec<Option<MessageQueue>>,
    ready: VecDeque<Ready>,
    next_id: u64,
    /// Requests in flight over all keys (the table is cleared only at 0).
    in_flight: usize,
    /// Per group or batch: the earliest member deadline or linger time.
    timers: DeadlineQueue<(u32, u64)>,
    /// Ids of the groups gathering and the batches in flight: a timer entry
    /// of any other id is stale (checked in O(1), so compaction stays linear).
    live: HashSet<u64>,
    timer: Option<SpawnHandle>,
    /// Keys below their limit with groups to leave at the end of the turn.
    flush_keys: Vec<u32>,
    /// The end-of-turn flush is scheduled.
    flush_armed: bool,
    /// Storage of finished batches, for the next ones.
    pub(crate) spares: Spares,
}

impl Gather {
    pub(crate) fn new(cfg: AutoBatch) -> Self {
        let spares = Spares::new(cfg.batch_bytes());
        Gather {
            cfg,
            keys: HashMap::default(),
            states: Vec::new(),
            key_queue: Vec::new(),
            ready: VecDeque::new(),
            next_id: 1,
            in_flight: 0,
            timers: DeadlineQueue::default(),
            live: HashSet::default(),
            timer: None,
            flush_keys: Vec::new(),
            flush_armed: false,
            spares,
        }
    }

    fn key(&mut self, topic: &str, wait: bool, queue: Option<&MessageQueue>) -> u32 {
        let entry = match self.keys.get_mut(topic) {
            Some(e) => e,
            None => self.keys.entry(topic.to_owned()).or_default(),
        };
        let found = match queue {
            None => entry.any[wait as usize],
            Some(q) => entry
                .queues
                .iter()
                .find(|(b, id, _)| *id == q.queue_id && *b == q.broker_name)
                .map(|e| e.2),
        };
        if let Some(k) = found {
            return k;
        }
        let k = self.states.len() as u32;
        match queue {
            None => entry.any[wait as usize] = Some(k),
            Some(q) => entry.queues.push((q.broker_name.clone(), q.queue_id, k)),
        }
        self.states.push(KeyState {
            // A chosen queue keeps one request in flight: its order is kept.
            limit: if queue.is_some() {
                1
            } else {
                self.cfg.in_flight_requests()
            },
            ordered: queue.is_some(),
            in_flight: 0,
            flush_queued: false,
            pending: VecDeque::new(),
            batches: Vec::new(),
        });
        self.key_queue.push(queue.cloned());
        k
    }

    /// Gathers a job, with its WAIT flag if it may be batched (`None`: only a
    /// send to a chosen queue, which takes its turn in the queue's order but
    /// goes alone), and its queue if chosen. Below the key's limit its group
    /// leaves at the end of the actor's turn ([`Gather::flush`]), so the sends
    /// of one turn leave together and one send alone leaves as itself; at the
    /// limit it waits for a slot. See [`Gather::take_ready`] for groups that
    /// leave, then re-arm the timer.
    pub(crate) fn offer(
        &mut self,
        job: Box<Job>,
        wait: Option<bool>,
        queue: Option<&MessageQueue>,
    ) {
        let k = self.key(job.topic(), wait.unwrap_or(true), queue);
        self.gather(k, job, wait);
        let st = &mut self.states[k as usize];
        if st.in_flight < st.limit && !st.pending.is_empty() && !st.flush_queued {
            st.flush_queued = true;
            self.flush_keys.push(k);
        }
    }

    /// Whether the end-of-turn flush must be scheduled now (once per turn).
    pub(crate) fn arm_flush(&mut self) -> bool {
        let arm = !self.flush_armed && !self.flush_keys.is_empty();
        self.flush_armed |= arm;
        arm
    }

    /// The turn ends: the groups of keys below their limit leave, oldest
    /// first, while slots are free (a group of one as a plain send).
    pub(crate) fn flush(&mut self) {
        self.flush_armed = false;
        for k in std::mem::take(&mut self.flush_keys) {
            while let Some(st) = self.states.get_mut(k as usize) {
                st.flush_queued = false;
                if st.in_flight >= st.limit {
                    break;
                }
                let Some(g) = st.pending.pop_front() else {
                    break;
                };
                self.leave(k, g);
            }
        }
    }

    fn gather(&mut self, k: u32, job: Box<Job>, wait: Option<bool>) {
        let st = &mut self.states[k as usize];
        let len = if wait.is_some() { record_len(&job) } else { 0 };
        let (max_bytes, max_msgs) = (self.cfg.batch_bytes(), self.cfg.batch_messages());
        let open = wait.is_some()
            && st.pending.back().is_some_and(|g| {
                g.wait == wait && g.jobs.len() < max_msgs && g.bytes + len <= max_bytes
            });
        if !open {
            if !st.ordered && !st.pending.is_empty() {
                // The open group cannot take this one: it leaves as it is.
                let g = st.pending.pop_back().expect("not empty");
                self.leave(k, g);
            }
            let id = self.next_id;
            self.next_id += 1;
            self.live.insert(id);
            // A clock read only with a linger set.
            let linger_until = self.cfg.delay().map(|d| Instant::now() + d);
            let jobs = self.spares.group();
            self.states[k as usize].pending.push_back(Group {
                id,
                jobs,
                bytes: 0,
                wait,
                earliest: None,
                linger_until,
            });
            let st = &self.states[k as usize];
            // The first group of a key below its limit leaves at this turn's
            // end (`flush`), before any deadline: it needs no timer.
            if st.pending.len() > 1 || st.in_flight >= st.limit {
                let first_due = linger_until.map_or(job.deadline, |l| l.min(job.deadline));
                self.push_timer(first_due, k, id);
            }
        }
        let st = &mut self.states[k as usize];
        let g = st.pending.back_mut().expect("a group is open");
        let earliest = g.earliest;
        let (deadline, id) = (job.deadline, g.id);
        g.earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
        g.jobs.push(job);
        g.bytes += len;
        let full = wait.is_none() || g.jobs.len() >= max_msgs || g.bytes >= max_bytes;
        if earliest.is_some_and(|e| deadline < e) {
            // Earlier than the group's timer: it must fire sooner.
            self.push_timer(deadline, k, id);
        }
        let st = &mut self.states[k as usize];
        if full && !st.ordered {
            // Full: it leaves at once, on a slot beyond the key's limit.
            let g = st.pending.pop_back().expect("a group is open");
            self.leave(k, g);
        }
    }

    fn push_timer(&mut self, at: Instant, k: u32, id: u64) {
        let live = &self.live;
        self.timers
            .push(at, (k, id), live.len(), |_, (_, id)| live.contains(&id));
    }

    /// A group leaves: a slot is taken for it.
    fn leave(&mut self, k: u32, g: Group) {
        self.states[k as usize].in_flight += 1;
        self.in_flight += 1;
        // A batch keeps its group's id (and timer entries); a single send has none.
        let batch = if g.jobs.len() > 1 {
            g.id
        } else {
            self.live.remove(&g.id);
            0
        };
        self.ready.push_back(Ready {
            slot: Slot { key: k, batch },
            route: self.key_queue[k as usize].clone(),
            jobs: g.jobs,
        });
    }

    /// The next group to send, if any (a group of one goes as a single send).
    pub(crate) fn take_ready(&mut self) -> Option<Ready> {
        self.ready.pop_front()
    }

    /// The batch of a ready group is formed: its members' deadlines are
    /// watched while it is in flight (the slot names the batch).
    pub(crate) fn batch_started(&mut self, slot: Slot, mut members: Members) -> SharedMembers {
        members.id = slot.batch;
        let next = members.next_deadline();
        let shared = Rc::new(RefCell::new(members));
        self.states[slot.key as usize]
            .batches
            .push((slot.batch, Rc::downgrade(&shared)));
        if let Some(at) = next {
            self.push_timer(at, slot.key, slot.batch);
        }
        shared
    }

    /// A request of the key ended (answered, failed or timed out): its slot
    /// goes to the oldest group waiting, if any.
    pub(crate) fn request_ended(&mut self, slot: Slot) {
        let Some(st) = self.states.get_mut(slot.key as usize) else {
            return;
        };
        if slot.batch != 0 {
            st.batches.retain(|(id, _)| *id != slot.batch);
            self.live.remove(&slot.batch);
        }
        st.in_flight = st.in_flight.saturating_sub(1);
        self.in_flight = self.in_flight.saturating_sub(1);
        loop {
            let st = &mut self.states[slot.key as usize];
            if st.in_flight >= st.limit {
                break;
            }
            let Some(g) = st.pending.pop_front() else {
                break;
            };
            self.leave(slot.key, g);
        }
        if self.in_flight == 0 && self.states.len() > MAX_IDLE_KEYS && self.nothing_gathered() {
            self.keys.clear();
            self.states.clear();
            self.key_queue.clear();
            self.flush_keys.clear();
            self.timers.clear();
            self.live.clear();
        }
    }

    fn nothing_gathered(&self) -> bool {
        self.states.iter().all(|s| s.pending.is_empty()) && self.ready.is_empty()
    }

    /// Members and gathered sends whose deadline passed (each with its
    /// timeout), and groups whose linger time came (to [`Gather::take_ready`]).
    pub(crate) fn due(&mut self, now: Instant) -> Expired {
        let mut out = Expired::default();
        while let Some((_, (k, id))) = self.timers.pop_due(now) {
            if !self.live.contains(&id) {
                continue;
            }
            let Some(st) = self.states.get_mut(k as usize) else {
                continue;
            };
            if let Some(pos) = st.pending.iter().position(|g| g.id == id) {
                let g = &mut st.pending[pos];
                let mut i = 0;
                while i < g.jobs.len() {
                    if g.jobs[i].deadline <= now {
                        let job = g.jobs.remove(i);
                        g.bytes -= record_len(&job);
                        let err = Error::timeout(now - job.received, 0, Vec::new())
                            .waiting_for(WaitingFor::Reply);
                        out.jobs.push((job, err));
                    } else {
                        i += 1;
                    }
                }
                let linger = g.linger_until.is_some_and(|l| l <= now);
                let next = g.jobs.iter().map(|j| j.deadline).min();
                g.earliest = next;
                if g.jobs.is_empty() {
                    st.pending.remove(pos);
                    self.live.remove(&id);
                } else if linger && (!st.ordered || st.in_flight < st.limit) {
                    let g = st.pending.remove(pos).expect("found");
                    self.leave(k, g);
                } else if let Some(next) = next {
                    let at = match g.linger_until {
                        Some(l) if l > now => next.min(l),
                        _ => next,
                    };
                    self.push_timer(at, k, id);
                }
            } else if let Some(b) = st.batches.iter().find(|b| b.0 == id) {
                let Some(members) = b.1.upgrade() else {
                    continue;
                };
                let mut m = members.borrow_mut();
                out.members.extend(m.expire(now));
                if let Some(next) = m.next_deadline() {
                    drop(m);
                    self.push_timer(next, k, id);
                }
            }
        }
        out
    }

    /// When the timer must fire (the caller cancels the old one, if returned,
    /// and arms a new one), or `None` if the one armed will do.
    pub(crate) fn rearm(&mut self) -> Option<(Instant, Option<SpawnHandle>)> {
        let at = self.timers.rearm(Duration::ZERO)?;
        Some((at, self.timer.take()))
    }

    pub(crate) fn armed(&mut self, handle: SpawnHandle) {
        self.timer = Some(handle);
    }

    /// The timer fired, or is to be cancelled (its handle, if any, is returned).
    pub(crate) fn disarmed(&mut self) -> Option<SpawnHandle> {
        self.timers.disarmed();
        self.timer.take()
    }

    /// Every send still gathered (the producer stops); batches in flight are the in-flight table's.
    pub(crate) fn drain(&mut self) -> Vec<Box<Job>> {
        self.timers.clear();
        self.live.clear();
        self.flush_keys.clear();
        let mut out = Vec::new();
        for st in &mut self.states {
            for g in st.pending.drain(..) {
                out.extend(g.jobs);
            }
        }
        for r in self.ready.drain(..) {
            out.extend(r.jobs);
        }
        out
    }

    /// Sends gathered, not yet sent.
    #[cfg(test)]
    pub(crate) fn gathered(&self) -> usize {
        self.states
            .iter()
            .flat_map(|s| s.pending.iter())
            .map(|g| g.jobs.len())
            .sum()
    }
}

#[cfg(test)]
#[path = "gather_tests.rs"]
mod tests;
