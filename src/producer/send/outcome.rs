//! What an attempt's end means for its send: done (stored or failed for good)
//! or retried on another broker within the time left. It feeds the fault
//! table the latencies, runs the send hooks and keeps the brokers tried, so
//! the decision and what it learns stay in one place.
use std::sync::Arc;

use tokio::time::Instant;

use super::Job;
use super::in_flight::InAttempt;
use super::members::Members;
use super::reply::ReplyTo;
use crate::error::{Error, ErrorKind, WaitingFor};
use crate::producer::config::ProducerConfig;
use crate::producer::fault::LatencyFaultTolerance;
use crate::producer::hooks::{CommunicationMode, SendContext};
use crate::producer::routes::user_queue;
use crate::producer::send_result::{SendResult, SendStatus};
use crate::protocol::headers::SendMessageResponseHeader;
use crate::protocol::route::MessageQueue;
use crate::protocol::{ProtocolError, RemotingCommand};
use crate::runtime::connection::Reply;
use crate::runtime::{Connection, NetError};

/// The largest offset id list kept for reuse (about 2,000 ids).
const MAX_SPARE_IDS: usize = 64 * 1024;

/// Where a send goes after an attempt (or a failure before one).
// A return value, moved once and never stored: boxing the result would cost an
// allocation per send for nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Next {
    /// Another attempt, on another broker.
    Retry(Box<Job>),
    /// The send ends with this result (`Ok(None)`: a one-way send written).
    Done(Box<Job>, Result<Option<SendResult>, Error>),
}

pub(crate) struct Outcome {
    cfg: Arc<ProducerConfig>,
    /// The producer group as sent (namespaced), for the hooks.
    group: String,
    fault: LatencyFaultTolerance,
    /// A batch reply's offset id list (~4 KiB for 128 members), reused per reply.
    spare_ids: String,
}

impl Outcome {
    pub(crate) fn new(cfg: Arc<ProducerConfig>, group: String) -> Self {
        Outcome {
            group,
            fault: LatencyFaultTolerance::with_durations(
                cfg.latency_max(),
                cfg.not_available_duration(),
            ),
            cfg,
            spare_ids: String::new(),
        }
    }

    /// A batch's offset id list whose members were answered, for the next reply.
    pub(crate) fn reuse_ids(&mut self, ids: String) {
        // A one-off list from a near-4 MiB batch is not kept.
        if ids.capacity() > self.spare_ids.capacity() && ids.capacity() <= MAX_SPARE_IDS {
            self.spare_ids = ids;
        }
    }

    /// Drops the fault entries of brokers `named` says no route names any more.
    pub(crate) fn prune_faults(&mut self, named: impl Fn(&str) -> bool) {
        self.fault.retain(named);
    }

    /// Brokers in the fault table (tests).
    pub(crate) fn fault_len(&self) -> usize {
        self.fault.len()
    }

    /// The fault table, when queue selection is to avoid faulty brokers.
    #[inline]
    pub(crate) fn fault(&self) -> Option<&LatencyFaultTolerance> {
        self.cfg.send_latency_fault_enable().then_some(&self.fault)
    }

    /// Whether attempts run send hooks.
    #[inline]
    pub(crate) fn has_hooks(&self) -> bool {
        !self.cfg.hooks().is_empty()
    }

    /// Runs the send hooks' check and `before` for one attempt; the address
    /// their `after` will report, or the error a forbidding hook returned.
    #[inline(never)]
    pub(crate) fn before_hooks(
        &self,
        job: &Job,
        queue: &MessageQueue,
        conn: &Connection,
    ) -> Result<String, Error> {
        if matches!(job.reply, ReplyTo::Batch(_)) {
            // Its members' hooks ran in `member_before_hooks`.
            return Ok(conn.remote().to_owned());
        }
        let hooks = self.cfg.hooks();
        let send_ctx = SendContext::new(
            &self.group,
            &job.message,
            queue,
            conn.remote(),
            job.attempts,
            job.mode(),
        )
        .with_namespace(self.cfg.namespace());
        hooks.check_forbidden(&send_ctx)?;
        hooks.run_before(&send_ctx);
        Ok(conn.remote().to_owned())
    }

    /// Runs the send hooks' `after` for one attempt begun at `started` (`addr` is set only when hooks exist).
    fn after_hooks(
        &self,
        job: &Job,
        queue: &MessageQueue,
        addr: &str,
        started: Instant,
        res: &Result<SendResult, Error>,
    ) {
        if let ReplyTo::Batch(members) = &job.reply {
            return self.member_after_hooks(&members.borrow(), job, queue, addr, res);
        }
        let send_ctx = SendContext::new(
            &self.group,
            &job.message,
            queue,
            addr,
            job.attempts,
            job.mode(),
        )
        .with_namespace(self.cfg.namespace())
        .with_elapsed(started.elapsed());
        self.cfg.hooks().run_after(&send_ctx, res);
    }

    /// Runs the hooks' check and `before` per member of an auto-batch: the
    /// positions of the members a hook forbids, with its error.
    #[inline(never)]
    pub(crate) fn member_before_hooks(
        &self,
        members: &Members,
        queue: &MessageQueue,
        addr: &str,
        attempt: u32,
    ) -> Vec<(usize, Error)> {
        let hooks = self.cfg.hooks();
        let mut forbidden = Vec::new();
        for (i, (message, _)) in members.live_indexed() {
            let send_ctx = SendContext::new(
                &self.group,
                message,
                queue,
                addr,
                attempt,
                CommunicationMode::Sync,
            )
            .with_namespace(self.cfg.namespace());
            match hooks.check_forbidden(&send_ctx) {
                Ok(()) => hooks.run_before(&send_ctx),
                Err(e) => forbidden.push((i, e)),
            }
        }
        forbidden
    }

    /// The hooks' `after` per member of an auto-batch, each with its own result.
    fn member_after_hooks(
        &self,
        members: &Members,
        job: &Job,
        queue: &MessageQueue,
        addr: &str,
        res: &Result<SendResult, Error>,
    ) {
        for (i, (message, _)) in members.live_indexed() {
            let send_ctx = SendContext::new(
                &self.group,
                message,
                queue,
                addr,
                job.attempts,
                CommunicationMode::Sync,
            )
            .with_namespace(self.cfg.namespace());
            let own = match res {
                Ok(batch) => Ok(members.member_result(batch, i)),
                Err(e) => Err(e.clone()),
            };
            self.cfg.hooks().run_after(&send_ctx, &own);
        }
    }

    /// One attempt's reply from its connection.
    #[inline]
    pub(crate) fn on_reply(&mut self, a: InAttempt, reply: Reply) -> Next {
        if a.job.oneway() {
            return Next::Done(a.job, reply.map(|_| None).map_err(Error::from));
        }
        let res = reply.and_then(|r| {
            r.ok_or_else(|| NetError::Closed {
                addr: a.hook_addr.clone().unwrap_or_default(),
                reason: "no response".into(),
            })
        });
        self.on_response(a, res)
    }

    fn on_response(&mut self, a: InAttempt, res: Result<RemotingCommand, NetError>) -> Next {
        let InAttempt {
            mut job,
            queue,
            started,
            hook_addr,
        } = a;
        let resp = match res {
            Ok(resp) => resp,
            Err(e) => return self.attempt_failed(job, queue, started, hook_addr, e),
        };
        match SendStatus::from_response_code(resp.code) {
            Some(status) => {
                self.update_fault(&queue.broker_name, started, false, true);
                // Stored, says the code: an odd reply must not turn into a
                // retry (a duplicate) or an error (a lost acknowledgement).
                let ids = match job.reply {
                    ReplyTo::Batch(_) => std::mem::take(&mut self.spare_ids),
                    _ => String::new(),
                };
                let (header, defect) =
                    SendMessageResponseHeader::from_stored_reply(&resp, queue.queue_id, ids);
                let reply_defect = defect.map(|e| stored_reply_defect(&queue.broker_name, e));
                let retry = status != SendStatus::SendOk
                    && self.cfg.retry_another_broker_when_not_store_ok()
                    && job.attempts < job.max_attempts;
                let result = SendResult {
                    status,
                    // The job ends here unless it retries or hooks still see its
                    // message: then its id moves into the result.
                    msg_id: job.msg_id(retry || hook_addr.is_some()),
                    offset_msg_id: header.msg_id,
                    message_queue: user_queue(&self.cfg, queue),
                    queue_offset: header.queue_offset,
                    transaction_id: header.transaction_id,
                    region_id: header.region,
                    trace_on: header.trace_on.unwrap_or(true),
                    reply_defect,
                    recall_handle: header.recall_handle,
                };
                if let Some(addr) = &hook_addr {
                    let hook_queue = MessageQueue {
                        topic: job.topic().to_owned(),
                        ..result.message_queue.clone()
                    };
                    self.after_hooks(&job, &hook_queue, addr, started, &Ok(result.clone()));
                }
                if retry {
                    job.tried(&result.message_queue.broker_name);
                    return Next::Retry(job);
                }
                Next::Done(job, Ok(Some(result)))
            }
            None => self.broker_refused(job, queue, started, hook_addr, resp),
        }
    }

    /// An attempt's connection failed or timed out: the next broker, if any.
    #[cold]
    #[inline(never)]
    fn attempt_failed(
        &mut self,
        mut job: Box<Job>,
        queue: MessageQueue,
        started: Instant,
        hook_addr: Option<String>,
        e: NetError,
    ) -> Next {
        let err = Error::from(e);
        self.record_failed_attempt(&mut job, &queue, started, &hook_addr, &err);
        self.after_failure(job, err)
    }

    /// A failed attempt seen by the fault table, the job's brokers tried and the after-hooks.
    fn record_failed_attempt(
        &mut self,
        job: &mut Job,
        queue: &MessageQueue,
        started: Instant,
        hook_addr: &Option<String>,
        err: &Error,
    ) {
        self.update_fault(&queue.broker_name, started, true, false);
        job.tried(&queue.broker_name);
        if let Some(addr) = hook_addr {
            self.after_hooks(job, queue, addr, started, &Err(err.clone()));
        }
    }

    /// A broker's error code: retried on another broker when Java retries it.
    #[cold]
    #[inline(never)]
    fn broker_refused(
        &mut self,
        mut job: Box<Job>,
        queue: MessageQueue,
        started: Instant,
        hook_addr: Option<String>,
        resp: RemotingCommand,
    ) -> Next {
        let remark = resp.remark.unwrap_or_default();
        let err = Error::broker(resp.code, remark, &queue.broker_name);
        self.record_failed_attempt(&mut job, &queue, started, &hook_addr, &err);
        if self.cfg.is_retry_response_code(resp.code) {
            self.after_failure(job, err)
        } else {
            Next::Done(job, Err(err))
        }
    }

    /// Feeds the latency of an attempt begun at `started` to fault tolerance, when enabled.
    fn update_fault(&mut self, broker: &str, started: Instant, isolation: bool, reachable: bool) {
        if self.cfg.send_latency_fault_enable() {
            let now = Instant::now();
            self.fault
                .update(broker, now - started, isolation, reachable, now.into_std());
        }
    }

    /// A retriable failure: try another broker while attempts and time remain.
    fn after_failure(&self, job: Box<Job>, err: Error) -> Next {
        let now = Instant::now();
        if job.attempts < job.max_attempts && now < job.deadline {
            tracing::debug!(topic = %job.topic(), attempt = job.attempts, error = %err, "send failed; retrying on another broker");
            return Next::Retry(job);
        }
        let err = if now >= job.deadline && job.attempts < job.max_attempts {
            let waited = match err.kind() {
                ErrorKind::Connection(NetError::Connect { .. }) => WaitingFor::Connection,
                _ => WaitingFor::Reply,
            };
            Error::timeout(now - job.received, job.attempts, job.brokers_tried.clone())
                .waiting_for(waited)
        } else {
            err.after_attempts(job.attempts, job.brokers_tried.clone())
        };
        Next::Done(job, Err(err))
    }

    // The rare ways out of an attempt, out of line and cold: the actor's
    // `attempt_with` reads as its common path (simulated I1 misses 123 -> 74
    // per send; no wall-clock change measurable here).

    /// The send's time ran out before this attempt.
    #[cold]
    #[inline(never)]
    pub(crate) fn too_late(job: Box<Job>, now: Instant) -> Next {
        // No attempt yet: the time went on the mailbox, the in-flight bound or the route.
        let waited = if job.attempts == 0 {
            WaitingFor::Route
        } else {
            WaitingFor::Reply
        };
        let err = Error::timeout(now - job.received, job.attempts, job.brokers_tried.clone())
            .waiting_for(waited);
        Next::Done(job, Err(err))
    }

    /// No queue to send to (none in the route, or the user's selector chose none or panicked).
    #[cold]
    #[inline(never)]
    pub(crate) fn no_queue_selected(job: Box<Job>, err: Error) -> Next {
        Next::Done(job, Err(err))
    }

    /// The route names no master for the queue's broker: another broker, if any.
    #[cold]
    #[inline(never)]
    pub(crate) fn no_master_address(&self, mut job: Box<Job>, queue: MessageQueue) -> Next {
        let err = Error::from(NetError::Connect {
            addr: queue.broker_name.clone(),
            reason: "the route names no master address for this broker".into(),
        });
        job.tried(&queue.broker_name);
        self.after_failure(job, err)
    }

    /// The attempt's send deadline passed and its connection never answered.
    #[cold]
    #[inline(never)]
    pub(crate) fn timed_out(a: InAttempt, connected: bool, now: Instant) -> Next {
        let InAttempt { mut job, queue, .. } = a;
        job.tried(&queue.broker_name);
        let waited = if connected {
            WaitingFor::Reply
        } else {
            WaitingFor::Connection
        };
        let err = Error::timeout(now - job.received, job.attempts, job.brokers_tried.clone())
            .waiting_for(waited);
        Next::Done(job, Err(err))
    }
}

/// What was wrong with a reply that says the message is stored (bounded, as any peer text).
#[cold]
fn stored_reply_defect(broker: &str, e: ProtocolError) -> String {
    tracing::warn!(%broker, error = %e, "message stored, but the broker's reply did not decode");
    crate::protocol::peer_text::bounded_owned(e.to_string())
}
