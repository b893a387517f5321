//! Turning what the caller gave into a [`Job`]: validated once, stamped with
//! its UNIQ_KEY, compressed once, its header fields encoded once, so a retry
//! only re-encodes what differs per attempt.
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;

use super::gather::Slot;
use super::header_cache::{HeaderCache, batch_wrapper_properties};
use super::members::{Members, SharedMembers};
use super::reply::ReplyTo;
use super::spares::MemberStorage;
use super::{Job, Route};
use crate::error::Error;
use crate::producer::config::ProducerConfig;
use crate::protocol::batch::{encode_batch_with_max, stamp_uniq_keys};
use crate::protocol::codes::request_code;
use crate::protocol::command::EncodedFields;
use crate::protocol::compression::compress;
use crate::protocol::message::{Message, property, sys_flag};
use crate::protocol::message_id::{UniqIdGenerator, WallClock, now_ms};
use crate::protocol::validation::{validate_message, validate_message_content};

/// A job, or why the send failed before it began (with where to say so).
pub(crate) type Prepared = Result<Box<Job>, (ReplyTo, Error)>;

/// Gives a prepared job its own timeout (a send's `with_timeout`), counted
/// from when the send was made; `None` keeps the producer's send timeout.
#[inline]
pub(crate) fn with_timeout(job: Prepared, timeout: Option<Duration>) -> Prepared {
    match (job, timeout) {
        (Ok(mut job), Some(t)) => {
            job.deadline = job.received + t;
            Ok(job)
        }
        (job, _) => job,
    }
}

/// Makes jobs: the producer's settings for them and its unique id generator.
pub(crate) struct Prepare {
    cfg: Arc<ProducerConfig>,
    ids: Arc<UniqIdGenerator>,
    /// Born times from the send's own instant (no clock read per send).
    wall: Cell<WallClock>,
    /// Boxes of jobs that became batch members, for the next jobs: a job is
    /// ~460 bytes, and allocations of that size, a batch's worth at a time,
    /// take glibc's slow path. The boxes themselves are what is kept.
    #[allow(clippy::vec_box)]
    boxes: RefCell<Vec<Box<Job>>>,
}

/// Job boxes kept for reuse at most: two full batches' worth.
const JOB_BOXES: usize = 256;

impl Prepare {
    pub(crate) fn new(cfg: Arc<ProducerConfig>, ids: Arc<UniqIdGenerator>) -> Self {
        Prepare {
            cfg,
            ids,
            wall: Cell::new(WallClock::new()),
            boxes: RefCell::new(Vec::new()),
        }
    }

    /// A fresh unique id (a request's correlation id).
    pub(crate) fn unique_id(&self) -> String {
        self.ids.next_at(now_ms()).as_str().to_owned()
    }

    /// 1 + the retries `route` allows: none to a queue, through a selector or
    /// oneway; `retry_times_when_send_async_failed` for a send whose result is
    /// also delivered to a recipient (`notify`, the Java callback send), else
    /// `retry_times_when_send_failed`.
    #[inline]
    fn max_attempts(&self, route: &Route, reply: &ReplyTo) -> u32 {
        match (route, reply.inner()) {
            (
                Route::Any,
                ReplyTo::Send {
                    notify: Some(_), ..
                },
            ) => 1 + self.cfg.retry_times_when_send_async_failed(),
            (Route::Any, _) => 1 + self.cfg.retry_times_when_send_failed(),
            _ => 1,
        }
    }

    fn deadline(&self, received: Instant) -> Instant {
        received + self.cfg.send_timeout()
    }

    /// Validates and encodes one message into a job (or fails at once).
    pub(crate) fn message(
        &self,
        headers: &mut HeaderCache,
        mut message: Message,
        route: Route,
        received: Instant,
        reply: ReplyTo,
    ) -> Prepared {
        // A topic with cached header fields passed this check before (without a
        // namespace the cache key is the topic as given): skip the per-char scan.
        let cached = match self.cfg.namespace() {
            None => headers.known_topic(message.topic.as_str()),
            Some(_) => None,
        };
        let checked = if cached.is_some() {
            validate_message_content(&message, self.cfg.max_message_size())
        } else {
            validate_message(&message, self.cfg.max_message_size())
        };
        if let Err(e) = checked {
            return Err((reply, e.into()));
        }
        let wrapped_topic = match self.cfg.wrap(&message.topic) {
            Cow::Owned(t) => Some(t),
            Cow::Borrowed(_) => None,
        };
        // The id's time and the first attempt's born timestamp: when the send was made.
        let mut wall = self.wall.get();
        let born_ms = wall.ms_at(received.into_std());
        self.wall.set(wall);
        message.ensure_uniq_key(|| self.ids.next_at(born_ms).as_str().to_owned());
        if let Some(ns) = self.cfg.namespace() {
            message.set_property(property::INSTANCE_ID, ns.to_string());
        }
        let mut flag = 0;
        let body = if message.body.len() >= self.cfg.compress_msg_body_over() {
            match self.compress(&message.body) {
                Ok(Some(b)) => {
                    flag |= self.cfg.compress_type().sys_flag();
                    Some(b)
                }
                Ok(None) => None,
                Err(e) => return Err((reply, e)),
            }
        } else {
            None
        };
        if message
            .property(property::TRAN_MSG)
            .is_some_and(|v| v == "true")
        {
            flag |= sys_flag::TRANSACTION_PREPARED_TYPE;
        }
        let topic = wrapped_topic.as_deref().unwrap_or(&message.topic);
        let static_fields = match cached
            .and_then(|v| v.iter().find(|(s, f, _)| (*s, *f) == (flag, message.flag)))
        {
            Some(f) => f.2.clone(),
            None => headers.static_fields(topic, flag, message.flag),
        };
        let max_attempts = self.max_attempts(&route, &reply);
        let size = body.as_ref().unwrap_or(&message.body).len();
        // A request–reply answer goes with its own code, for the broker to push it.
        let code = if message.is_reply() {
            request_code::SEND_REPLY_MESSAGE_V2
        } else {
            request_code::SEND_MESSAGE_V2
        };
        Ok(self.boxed(Job {
            route,
            code,
            fixed: static_fields,
            message_properties: true,
            wrapped_topic,
            message,
            body,
            batch_msg_id: None,
            born_ms,
            size,
            received,
            deadline: self.deadline(received),
            attempts: 0,
            max_attempts,
            brokers_tried: Vec::new(),
            reply,
            gather: None,
        }))
    }

    /// `job` in a box of an earlier job if one is kept, else a new one.
    #[inline]
    fn boxed(&self, job: Job) -> Box<Job> {
        match self.boxes.borrow_mut().pop() {
            Some(mut b) => {
                *b = job;
                b
            }
            None => Box::new(job),
        }
    }

    /// Keeps the box of a job whose contents moved out (a batch member).
    fn reuse(&self, job: Box<Job>) {
        let mut boxes = self.boxes.borrow_mut();
        if boxes.len() < JOB_BOXES {
            boxes.push(job);
        }
    }

    /// The body compressed with the configured codec, or `None` when that does
    /// not make it smaller (incompressible data grows a little under every
    /// codec: it goes as is, so the body never exceeds the size validation accepted).
    #[inline(never)]
    fn compress(&self, body: &Bytes) -> Result<Option<Bytes>, Error> {
        let b = compress(body, self.cfg.compress_type(), self.cfg.compress_level())?;
        Ok((b.len() < body.len()).then_some(b))
    }

    /// Validates and encodes a batch into one job (or fails at once).
    pub(crate) fn batch(
        &self,
        headers: &HeaderCache,
        mut messages: Vec<Message>,
        route: Route,
        received: Instant,
        reply: ReplyTo,
    ) -> Prepared {
        for m in &messages {
            if let Err(e) = validate_message(m, self.cfg.max_message_size()) {
                return Err((reply, e.into()));
            }
        }
        stamp_uniq_keys(&mut messages, &self.ids);
        let body = match encode_batch_with_max(&messages, self.cfg.max_message_size()) {
            Ok(b) => b,
            Err(e) => return Err((reply, e.into())),
        };
        let first = &messages[0];
        let topic = self.cfg.wrap(&first.topic).into_owned();
        let msg_id = messages
            .iter()
            .filter_map(|m| m.uniq_key())
            .collect::<Vec<_>>()
            .join(",");
        let (fixed, topic) = wrapper_fields(headers, topic, first.wait_store_msg_ok());
        let size = body.len();
        let message = Message::new(first.topic.clone(), Bytes::new());
        let max_attempts = self.max_attempts(&route, &reply);
        Ok(Box::new(Job {
            route,
            code: request_code::SEND_BATCH_MESSAGE,
            fixed,
            message_properties: false,
            wrapped_topic: Some(topic).filter(|t| *t != message.topic),
            message,
            body: Some(body),
            batch_msg_id: Some(msg_id),
            born_ms: now_ms(),
            size,
            received,
            deadline: self.deadline(received),
            attempts: 0,
            max_attempts,
            brokers_tried: Vec::new(),
            reply,
            gather: None,
        }))
    }

    /// One batch job of gathered sends (auto-batching): each was validated,
    /// stamped and admitted on its own; they share a topic and WAIT flag, and
    /// each is answered on its own (`ReplyTo::Batch`). The body of `members`
    /// is encoded as a `SendBatch` body is; it fails only over `maxMessageSize`.
    /// The jobs are taken out of `jobs`; `storage` and `buf` are reused (see `spares.rs`).
    #[allow(clippy::vec_box, clippy::too_many_arguments)] // jobs travel boxed
    pub(crate) fn gathered(
        &self,
        headers: &mut HeaderCache,
        jobs: &mut Vec<Box<Job>>,
        route: Route,
        slot: Slot,
        (storage, buf): (MemberStorage, BytesMut),
        share: impl FnOnce(Members) -> SharedMembers,
    ) -> Result<Box<Job>, (SharedMembers, Error)> {
        let first = &jobs[0];
        let wrapped_topic = first.wrapped_topic.clone();
        let message = Message::new(first.message.topic.clone(), Bytes::new());
        let wait = first.message.wait_store_msg_ok();
        let max_attempts = jobs.iter().map(|j| j.max_attempts).min().unwrap_or(1);
        let received = jobs.iter().map(|j| j.received).min().expect("members");
        // The batch goes on while any member has time; each member ends at its own deadline.
        let deadline = jobs.iter().map(|j| j.deadline).max().expect("members");
        let members = Members::new(0, jobs, storage, |b| self.reuse(b));
        let body = members.encode(self.cfg.max_message_size(), buf);
        let members = share(members);
        let body = match body {
            Ok(b) => b,
            Err(e) => return Err((members, e)),
        };
        let topic = wrapped_topic.as_deref().unwrap_or(&message.topic);
        let fixed = headers.gathered_fields(topic, wait);
        Ok(Box::new(Job {
            route,
            code: request_code::SEND_BATCH_MESSAGE,
            fixed,
            message_properties: false,
            wrapped_topic,
            message,
            size: body.len(),
            body: Some(body),
            // Each member's id is its own UNIQ_KEY (see `Members::deliver`).
            batch_msg_id: Some(String::new()),
            born_ms: now_ms(),
            received,
            deadline,
            attempts: 0,
            max_attempts,
            brokers_tried: Vec::new(),
            reply: ReplyTo::Batch(members),
            gather: Some(slot),
        }))
    }
}

/// A batch's header fields kept across attempts: its topic and the
/// wrapper's properties, and its topic back.
fn wrapper_fields(headers: &HeaderCache, topic: String, wait: bool) -> (EncodedFields, String) {
    headers.batch_fields(topic, batch_wrapper_properties(wait))
}
