//! `ProducerActor`: the send pipeline of one producer group, as an
//! orchestrator over parts that own their state (`send/`, `routes`,
//! `request_reply`, `transaction`).
//!
//! validate → publish info (cache, else `RouteManager`) → select a queue →
//! stamp the unique id, compress, build the header → `Connection` → result,
//! retrying on another broker within the time left. The handler never awaits a
//! round trip: each send is a small state machine (`Job`) that the actor moves
//! forward as replies arrive, so hundreds are in flight at once. The parts
//! decide; only this actor spawns futures and arms timers.
use std::sync::Arc;

use actix::prelude::*;
use futures::channel::oneshot;
use tokio::time::Instant;

use super::config::ProducerConfig;
use super::messages::{GetProducerStats, ProducerStats, Shutdown};
use super::observe::Observer;
use super::request_reply::Requests;
use super::routes::RouteCache;
use super::send::admission::{Admission, Offer, Unblocked};
use super::send::gather::Gather;
use super::send::header_cache::HeaderCache;
use super::send::in_flight::{InAttempt, InFlight};
use super::send::outcome::{Next, Outcome};
use super::send::prepare::{Prepare, Prepared};
use super::send::reply::ReplyTo;
use super::send::{Job, Route};
use super::send_result::SendResult;
use super::trace::{FlushTrace, GetTraceDispatcher, Tracer};
use crate::error::{Error, ErrorKind};
use crate::protocol::message::Message;
use crate::protocol::message_id::{UniqIdGenerator, now_ms};
use crate::runtime::connection::Reply;
use crate::runtime::instance::{
    CheckTransaction, ClientManager, GetConnection, GetOrCreateInstance, InstanceHandles,
    RegisterProducer, UnregisterProducer,
};
use crate::runtime::namesrv_http;
use crate::runtime::route_manager::{PublishInfo, Unsubscribe};

/// A RocketMQ producer: an actor that sends messages to brokers.
///
/// **Start** it with [`ProducerActor::start`] inside an actix System
/// (`#[actix_rt::main]`, `#[actix_web::main]`, `actix_rt::System::new().block_on(..)`,
/// an actix-web worker or an `Arbiter`); it runs on the current thread's
/// arbiter. On a plain tokio runtime `start` fails with
/// [`ErrorKind::Config`](crate::ErrorKind::Config). The returned `Addr` is
/// `Send + Sync` and cheap to clone: any thread or executor can send through it.
///
/// **Send** either with `Addr::send` and a message of
/// [`messages`](crate::producer::messages) (two `?`: the mailbox, then the
/// send), or with the [`ProducerExt`](crate::ProducerExt) methods (one `?`; a
/// stopped producer is [`ErrorKind::ShutDown`](crate::ErrorKind::ShutDown)).
///
/// **Shut it down** with [`Shutdown`](crate::Shutdown) (or
/// [`ProducerExt::shutdown`](crate::ProducerExt::shutdown)): new sends are
/// refused, those in flight are answered, the group is unregistered from the
/// brokers. Dropping every `Addr` does the same once the sends in flight end.
///
/// ```no_run
/// use actix_rocketmq::{Message, ProducerActor, ProducerConfig, ProducerExt, SendMessage, Shutdown};
///
/// #[actix_rt::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let config = ProducerConfig::builder("my_group").namesrv_addr("127.0.0.1:9876").build()?;
///     let producer = ProducerActor::start(config).await?;
///
///     // The actix way: the mailbox's Result, then the send's.
///     let result = producer.send(SendMessage::new(Message::new("TopicTest", "one"))).await??;
///     println!("{result}");
///     // The same send through ProducerExt: one Result.
///     let result = producer.send_message(Message::new("TopicTest", "two")).await?;
///     println!("{result}");
///
///     producer.send(Shutdown).await?; // or producer.shutdown().await?
///     Ok(())
/// }
/// ```
pub struct ProducerActor {
    pub(crate) cfg: Arc<ProducerConfig>,
    pub(crate) group: String,
    pub(crate) handles: InstanceHandles,
    shutting_down: bool,
    shutdown_waiters: Vec<oneshot::Sender<()>>,
    /// Sends ended and attempts made (the in-flight figures are the admission's).
    pub(crate) stats: ProducerStats,
    /// Makes jobs of what callers give.
    pub(crate) prepare: Prepare,
    /// The send header fields kept encoded.
    pub(crate) headers: HeaderCache,
    /// The in-flight bounds and the sends waiting for room.
    pub(crate) admission: Admission,
    /// Auto-batching's gatherer, when on.
    pub(crate) gather: Option<Gather>,
    /// Routes, connections and queue rotations by topic.
    pub(crate) routes: RouteCache,
    /// The attempts handed to connections, by token.
    pub(crate) in_flight: InFlight,
    /// Done, retried or failed: what an attempt's end means.
    pub(crate) outcome: Outcome,
    /// Request–reply requests waiting for their reply.
    pub(crate) requests: Requests,
    /// Message trace, when on: its dispatcher and buffer.
    tracer: Option<Tracer>,
    /// What sends show a tracing subscriber and a metrics recorder.
    pub(crate) observe: Observer,
}

/// Why [`ProducerActor::start`] fails outside an actix System.
const NO_SYSTEM: &str = "ProducerActor::start needs a running actix System: call it inside \
     #[actix_rt::main], #[actix_web::main], actix_rt::System::new().block_on(..) or an actix \
     Arbiter, not on a plain tokio runtime";

/// Sends return at once, so a deep mailbox only keeps callers from parking.
const MAILBOX_CAPACITY: usize = 1024;

static NEXT_SUBSCRIBER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl ProducerActor {
    /// Checks the config, gets or creates the client instance, registers the
    /// group and starts the producer on the current arbiter.
    ///
    /// Fails with [`ErrorKind::Config`] when no actix System runs on this
    /// thread (e.g. on a plain `#[tokio::main]` runtime), with
    /// [`ErrorKind::Instance`] when the group is already registered in this
    /// client instance.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), actix_rocketmq::Error> {
    /// use actix_rocketmq::{ProducerActor, ProducerConfig};
    /// let config = ProducerConfig::builder("my_group").namesrv_addr("127.0.0.1:9876").build()?;
    /// let producer = ProducerActor::start(config).await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(cfg: ProducerConfig) -> Result<Addr<ProducerActor>, Error> {
        // Outside a System the registry lookup and spawn_local below panic; an error says why instead.
        if actix_rt::System::try_current().is_none() {
            return Err(Error::config(NO_SYSTEM));
        }
        // An empty list means NAMESRV_ADDR.
        let mut namesrv_addrs = cfg.resolved_namesrv_addrs().unwrap_or_default();
        // None configured: ask the address server (Java `TopAddressing`), the one
        // set or the default `jmenv.tbsite.net`. No list from it fails the start
        // (Java starts anyway and fails each send with "no name server").
        let mut addr_server = None;
        if namesrv_addrs.is_empty() {
            let (server, _) = cfg.addr_server();
            namesrv_addrs = namesrv_http::fetch(&server.url, server.timeout)
                .await
                .map_err(|why| {
                    Error::config(format!(
                        "no name server configured (neither namesrv_addr nor NAMESRV_ADDR) \
                         and none from the address server {}: {why}",
                        server.url
                    ))
                })?;
            addr_server = Some(server);
        }
        let group = cfg.wrapped_group().into_owned();
        let manager = ClientManager::from_registry();
        // Made before it runs: a transactional producer registers its address for checks.
        let ctx = Context::<ProducerActor>::new();
        let transaction_checks = cfg
            .transaction_checker()
            .map(|_| ctx.address().recipient::<CheckTransaction>());
        let mut last = Error::shut_down();
        // An instance shutting down as we register is replaced by a fresh one.
        for _ in 0..2 {
            let instance = manager
                .send(GetOrCreateInstance(
                    cfg.instance_with(namesrv_addrs.clone(), addr_server.clone()),
                ))
                .await
                .map_err(|_| Error::shut_down())?
                .map_err(Error::from)?;
            match instance
                .send(RegisterProducer {
                    group: group.clone(),
                    transaction_checks: transaction_checks.clone(),
                    replies: Some(ctx.address().recipient()),
                })
                .await
            {
                Ok(Ok(handles)) => {
                    let mut cfg = cfg;
                    // As Java: a trace that cannot start leaves the producer without trace.
                    let tracer = if cfg.msg_trace_enabled() {
                        Tracer::start(&mut cfg)
                            .await
                            .inspect_err(|e| tracing::warn!(%group, error = %e, "message trace could not start; sending without it"))
                            .ok()
                    } else {
                        None
                    };
                    let cfg = Arc::new(cfg);
                    let ids = Arc::new(UniqIdGenerator::new(cfg.client_ip()));
                    let mut act = ProducerActor::new(cfg, group, handles, ids);
                    act.tracer = tracer;
                    return Ok(ctx.run(act));
                }
                Ok(Err(e)) => last = Error::from(e),
                Err(_) => last = Error::shut_down(),
            }
            if !matches!(last.kind(), ErrorKind::ShutDown) {
                break;
            }
        }
        Err(last)
    }

    fn new(
        cfg: Arc<ProducerConfig>,
        group: String,
        handles: InstanceHandles,
        ids: Arc<UniqIdGenerator>,
    ) -> Self {
        let sub_id = NEXT_SUBSCRIBER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ProducerActor {
            headers: HeaderCache::new(
                group.clone(),
                cfg.create_topic_key().to_string(),
                cfg.default_topic_queue_nums(),
                cfg.serialize_type(),
            ),
            admission: Admission::new(cfg.max_in_flight(), cfg.max_in_flight_bytes()),
            gather: cfg.auto_batch().cloned().map(Gather::new),
            routes: RouteCache::new(cfg.vip_channel_enabled(), sub_id),
            in_flight: InFlight::new(),
            outcome: Outcome::new(cfg.clone(), group.clone()),
            prepare: Prepare::new(cfg.clone(), ids),
            requests: Requests::default(),
            observe: Observer::new(&group, &cfg.client_id()),
            cfg,
            group,
            handles,
            shutting_down: false,
            shutdown_waiters: Vec::new(),
            stats: ProducerStats::default(),
            tracer: None,
        }
    }

    /// Validates and encodes one message into a job (or fails at once).
    #[inline]
    pub(crate) fn prepare_job(
        &mut self,
        message: Message,
        route: Route,
        received: Instant,
        reply: ReplyTo,
    ) -> Prepared {
        self.prepare
            .message(&mut self.headers, message, route, received, reply)
    }

    /// Admits a job within the in-flight bounds, or parks it until room frees up.
    pub(crate) fn submit(&mut self, job: Prepared, ctx: &mut Context<Self>) {
        let job = match job {
            Ok(job) => job,
            Err((reply, err)) => return self.reply(reply, Err(err)),
        };
        if self.shutting_down {
            return self.reply(job.reply, Err(Error::shut_down()));
        }
        match self.admission.offer(job) {
            Offer::Admitted(job) => {
                self.observe.in_flight(self.admission.in_flight());
                self.route_then_attempt(job, ctx)
            }
            Offer::Parked => {
                self.observe.backpressure_wait();
                self.arm_expiry(ctx)
            }
            Offer::TooBig(job, err) => self.reply(job.reply, Err(err)),
        }
    }

    fn admit_blocked(&mut self, ctx: &mut Context<Self>) {
        if !self.admission.any_blocked() {
            // The common case, once per finished send: not even a clock read.
            return;
        }
        let now = Instant::now();
        while let Some(next) = self.admission.unblock(now) {
            match next {
                Unblocked::Admitted(job) => {
                    self.observe.in_flight(self.admission.in_flight());
                    self.route_then_attempt(job, ctx)
                }
                Unblocked::Expired(job, err) => self.reply(job.reply, Err(err)),
            }
        }
    }

    /// One attempt: pick a queue and broker, stamp the header, hand the frame to the connection.
    pub(crate) fn attempt(&mut self, job: Box<Job>, ctx: &mut Context<Self>) {
        if let Some(info) = self.routes.get(job.topic()).cloned() {
            return self.attempt_with(job, info, ctx);
        }
        let now = Instant::now();
        if now >= job.deadline {
            return self.follow(Outcome::too_late(job, now), ctx);
        }
        self.route_then_attempt(job, ctx)
    }

    /// [`Self::attempt`] with the topic's publish info already looked up.
    pub(crate) fn attempt_with(
        &mut self,
        mut job: Box<Job>,
        info: PublishInfo,
        ctx: &mut Context<Self>,
    ) {
        if job.gather.is_none() && job.attempts == 0 && self.gather.is_some() {
            // No clock read for a send that is gathered: the gatherer's timer ends it at its deadline.
            job = match self.gather_or_go(job, &info, ctx) {
                Some(job) => job,
                None => return,
            };
        }
        let now = Instant::now();
        if now >= job.deadline {
            return self.follow(Outcome::too_late(job, now), ctx);
        }
        let queue = match self
            .routes
            .select_queue(&job, &info, self.outcome.fault(), &self.cfg)
        {
            Ok(queue) => queue,
            Err(err) => return self.follow(Outcome::no_queue_selected(job, err), ctx),
        };
        if matches!(job.reply, ReplyTo::Batch(_))
            && !self.prepare_batch_attempt(&mut job, &info, &queue)
        {
            // Every member was answered already (hooks, or a body that cannot be made).
            return self.finish(job, Ok(None), ctx);
        }
        let (addr, conn) = self.routes.master(&info, &queue.broker_name);
        if let (None, Some(addr)) = (conn, &addr) {
            let addr = addr.to_string();
            return self.connect_then_attempt(job, addr, ctx);
        }
        job.attempts += 1;
        self.stats.attempts += 1;
        let Some(conn) = conn else {
            let next = self.outcome.no_master_address(job, queue);
            return self.follow(next, ctx);
        };
        job.reply.attempt(&queue, conn.remote(), job.attempts);
        // Where the after-hooks of this attempt report (Java runs them per attempt).
        let hook_addr = if self.outcome.has_hooks() {
            match self.outcome.before_hooks(&job, &queue, conn) {
                Ok(addr) => Some(addr),
                Err(err) => {
                    job.tried(&queue.broker_name);
                    return self.finish(job, Err(err), ctx);
                }
            }
        } else {
            None
        };
        // The fields kept across attempts were encoded once; only these change.
        let born = if job.attempts == 1 {
            job.born_ms
        } else {
            now_ms()
        };
        let cmd = self.headers.attempt(&job, &queue, born);
        // While a retry remains, cap one attempt so a hung broker cannot eat the whole budget.
        let mut attempt_deadline = job.deadline;
        if job.attempts < job.max_attempts && !job.oneway() {
            if let Some(cap) = self.cfg.send_msg_max_timeout_per_request() {
                attempt_deadline = attempt_deadline.min(now + cap);
            }
        }
        let attempt = InAttempt {
            job,
            queue,
            started: now,
            hook_addr,
        };
        self.in_flight.submit(conn, cmd, attempt_deadline, attempt);
        self.arm_attempt_timer(ctx);
    }

    /// A route cached without its connections (FetchPublishQueues caches
    /// routes too): gets the connection, then makes the attempt.
    #[cold]
    #[inline(never)]
    fn connect_then_attempt(&mut self, job: Box<Job>, addr: String, ctx: &mut Context<Self>) {
        let instance = self.handles.instance.clone();
        let fut = async move {
            let res = instance.send(GetConnection { addr: addr.clone() }).await;
            (addr, res)
        };
        ctx.spawn(
            fut.into_actor(self)
                .map(move |(addr, res), act, ctx| match res {
                    Ok(Ok(c)) => {
                        act.routes.connected(addr, c);
                        act.attempt(job, ctx)
                    }
                    _ => act.finish(job, Err(Error::shut_down()), ctx),
                }),
        );
    }

    /// One attempt's reply from its connection (ignored once the attempt timed out).
    #[inline]
    pub(crate) fn on_reply(&mut self, token: u64, reply: Reply, ctx: &mut Context<Self>) {
        let Some(a) = self.in_flight.take(token) else {
            return;
        };
        let next = self.outcome.on_reply(a, reply);
        self.follow(next, ctx)
    }

    /// Carries out what the outcome decided.
    #[inline]
    pub(crate) fn follow(&mut self, next: Next, ctx: &mut Context<Self>) {
        match next {
            Next::Retry(job) => {
                self.observe.retry(job.topic());
                self.attempt(job, ctx)
            }
            Next::Done(job, res) => self.finish(job, res, ctx),
        }
    }

    /// Replies exactly once, runs the after-hooks and frees the job's in-flight share.
    pub(crate) fn finish(
        &mut self,
        job: Box<Job>,
        res: Result<Option<SendResult>, Error>,
        ctx: &mut Context<Self>,
    ) {
        if matches!(job.reply, ReplyTo::Batch(_)) {
            let Job {
                reply,
                gather,
                body,
                ..
            } = *job;
            return self.end_members(reply, res, gather, body, ctx);
        }
        let slot = job.gather;
        self.admission.release(job.size);
        self.observe.in_flight(self.admission.in_flight());
        match &res {
            Ok(_) => self.stats.sent_ok += 1,
            Err(_) => self.stats.failed += 1,
        }
        job.reply.deliver(res);
        if let Some(slot) = slot {
            self.slot_freed(slot, ctx);
        }
        self.after_finish(ctx);
    }

    /// After sends ended: the sends waiting for room, a pending shutdown, memory.
    pub(crate) fn after_finish(&mut self, ctx: &mut Context<Self>) {
        self.admit_blocked(ctx);
        self.check_drained(ctx);
        self.in_flight.shrink_if_idle();
    }

    fn reply(&mut self, reply: ReplyTo, res: Result<Option<SendResult>, Error>) {
        if res.is_err() {
            self.stats.failed += 1;
        }
        reply.deliver(res);
    }

    fn check_drained(&mut self, ctx: &mut Context<Self>) {
        if self.shutting_down && self.admission.idle() && !self.shutdown_waiters.is_empty() {
            let instance = self.handles.instance.clone();
            let rm = self.handles.route_manager.clone();
            let group = self.group.clone();
            let sub_id = self.routes.sub_id();
            let waiters: Vec<_> = self.shutdown_waiters.drain(..).collect();
            let trace = self.tracer.as_ref().map(|t| t.dispatcher.clone());
            let fut = async move {
                // Pending trace records go first (bounded), then the trace group, then ours.
                if let Some(t) = trace {
                    let _ = t.send(FlushTrace).await;
                }
                let _ = rm.send(Unsubscribe(sub_id)).await;
                let _ = instance.send(UnregisterProducer { group }).await;
            };
            ctx.spawn(fut.into_actor(self).map(|_, _, ctx| {
                for w in waiters {
                    let _ = w.send(());
                }
                ctx.stop();
            }));
        }
    }

    /// Keeps one timer armed for the earliest send deadline among attempts in flight.
    #[inline]
    fn arm_attempt_timer(&mut self, ctx: &mut Context<Self>) {
        let Some((at, old)) = self.in_flight.rearm() else {
            return;
        };
        if let Some(old) = old {
            ctx.cancel_future(old);
        }
        let handle = ctx.run_later(at.saturating_duration_since(Instant::now()), |act, ctx| {
            act.in_flight.disarmed();
            act.expire_attempts(ctx);
            act.arm_attempt_timer(ctx);
        });
        self.in_flight.armed(handle);
    }

    /// Fails the sends whose deadline passed while their connection never answered.
    fn expire_attempts(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        while let Some(a) = self.in_flight.pop_expired(now) {
            let connected = self.routes.broker_connected(&a.queue);
            self.follow(Outcome::timed_out(a, connected, now), ctx);
        }
    }

    /// Makes sure a parked job fails with back-pressure right at its deadline
    /// (before its caller's own timeout turns it into a plain timeout).
    fn arm_expiry(&mut self, ctx: &mut Context<Self>) {
        let Some((at, old)) = self.admission.rearm_expiry() else {
            return;
        };
        if let Some(old) = old {
            ctx.cancel_future(old);
        }
        let handle = ctx.run_later(at.saturating_duration_since(Instant::now()), |act, ctx| {
            act.admission.expiry_disarmed();
            for (job, err) in act.admission.expire(Instant::now()) {
                act.reply(job.reply, Err(err));
            }
            act.arm_expiry(ctx);
        });
        self.admission.expiry_armed(handle);
    }

    /// Whether the reply pump may end: no address is left and nothing it
    /// guards either (its timers would only delay the stop, so they go).
    pub(crate) fn abandoned(&mut self, ctx: &mut Context<Self>) -> bool {
        if ctx.connected() || !self.admission.idle() || self.shutting_down {
            return false;
        }
        let gather = self.gather.as_mut().and_then(Gather::disarmed);
        for timer in [
            self.in_flight.disarmed(),
            self.admission.expiry_disarmed(),
            gather,
        ]
        .into_iter()
        .flatten()
        {
            ctx.cancel_future(timer);
        }
        true
    }
}

impl Actor for ProducerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Sends return at once, so a deep mailbox only saves callers from parking.
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        if let Some(pump) = self.in_flight.pump() {
            ctx.spawn(pump);
        }
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // Whatever is still waiting gets its one reply.
        let jobs: Vec<Box<Job>> = self
            .in_flight
            .drain()
            .map(|a| a.job)
            .chain(self.routes.drain_waiting())
            .chain(self.admission.drain())
            .chain(self.gather.as_mut().map(Gather::drain).unwrap_or_default())
            .collect();
        for job in jobs {
            job.reply.deliver(Err(Error::shut_down()));
        }
        self.observe.in_flight((0, 0));
        self.requests.shut_down();
        if !self.shutting_down {
            if let Some(t) = &self.tracer {
                t.dispatcher.do_send(FlushTrace);
            }
            // Every address dropped without a Shutdown: leave as Shutdown would
            // (the last producer out shuts the client instance down).
            self.handles
                .route_manager
                .do_send(Unsubscribe(self.routes.sub_id()));
            self.handles.instance.do_send(UnregisterProducer {
                group: self.group.clone(),
            });
        }
        tracing::debug!(group = %self.group, "producer stopped");
    }
}

impl Handler<Shutdown> for ProducerActor {
    // A plain future: the actor stops before it resolves, which would cancel an actor future.
    type Result = ResponseFuture<()>;
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) -> Self::Result {
        self.shutting_down = true;
        let (tx, rx) = oneshot::channel();
        self.shutdown_waiters.push(tx);
        self.check_drained(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Handler<GetProducerStats> for ProducerActor {
    type Result = MessageResult<GetProducerStats>;
    fn handle(&mut self, _: GetProducerStats, _: &mut Context<Self>) -> Self::Result {
        let mut s = self.stats;
        (s.in_flight, s.in_flight_bytes) = self.admission.in_flight();
        s.waiting_for_capacity = self.admission.blocked();
        s.waiting_for_route = self.routes.waiting();
        s.fault_brokers = self.outcome.fault_len();
        if let Some(t) = &self.tracer {
            s.trace = t.stats();
        }
        MessageResult(s)
    }
}

impl Handler<GetTraceDispatcher> for ProducerActor {
    type Result = Option<Recipient<crate::runtime::StopUnexpectedly>>;
    fn handle(&mut self, _: GetTraceDispatcher, _: &mut Context<Self>) -> Self::Result {
        self.tracer.as_ref().map(Tracer::stopper)
    }
}
