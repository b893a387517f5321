//! `ProducerActor`: the send pipeline of one producer group.
//!
//! validate → publish info (cache, else `RouteManager`) → select a queue →
//! stamp the unique id, compress, build the header → `Connection` → result,
//! retrying on another broker within the time left. The handler never awaits a
//! round trip: each send is a small state machine (`Job`) that the actor moves
//! forward as replies arrive, so hundreds are in flight at once.
use std::borrow::Cow;
use std::collections::VecDeque;

// Hot-path tables keyed by our own tokens and topic names: Fx, not SipHash.
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::dev::{MessageResponse, OneshotSender};
use actix::prelude::*;
use bytes::{Bytes, BytesMut};
use futures::channel::oneshot;
// Tokio's unbounded channel allocates in blocks, not a node per reply.
use futures::future::join_all;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::ProducerConfig;
use super::fault::LatencyFaultTolerance;
use super::hooks::{CommunicationMode, SendContext};
use super::messages::*;
use super::selector::{MessageQueueSelector, QueueSelection, SelectorArg};
use super::send_result::{SendResult, SendStatus};
use super::transaction::{
    EndTransaction, SendMessageInTransaction, Transaction, check_answer, check_of,
    mark_half_message, run_checker, transaction_of,
};
use crate::error::{Error, ErrorKind, WaitingFor};
use crate::protocol::batch::{encode_batch_with_max, stamp_uniq_keys};
use crate::protocol::codes::request_code;
use crate::protocol::command::EncodedFields;
use crate::protocol::compression::compress_zlib;
use crate::protocol::headers::{SendMessageRequestHeader, SendMessageResponseHeader};
use crate::protocol::message::{Message, encode_properties, property, sys_flag};
use crate::protocol::message_id::{UniqIdGenerator, now_ms};
use crate::protocol::route::{MASTER_ID, MessageQueue};
use crate::protocol::validation::{validate_message, validate_message_content, validate_topic};
use crate::protocol::{ProtocolError, RemotingCommand};
use crate::runtime::connection::{Reply, ReplyBatch, ReplySink, Submit};
use crate::runtime::instance::InstanceConfig;
use crate::runtime::instance::{
    CheckTransaction, ClientManager, GetBrokers, GetConnection, GetOrCreateInstance,
    InstanceHandles, RegisterProducer, RequestReply, UnregisterProducer,
};
use crate::runtime::route_manager::{
    FindRoute, PublishInfo, RouteChanged, Subscriber, Unsubscribe,
};
use crate::runtime::{Connection, NetError, RouteError};

/// How a job picks its queue and whether it may retry.
enum Route {
    /// Round robin avoiding the last failed broker; retries allowed.
    Any,
    Oneway,
    Queue(MessageQueue),
    Selector(Arc<dyn MessageQueueSelector>, SelectorArg),
}

/// A route look-up: the publish info with the masters' connections, or why
/// not (`None`: no answer within the send timeout).
type RouteLookup = Result<(PublishInfo, Vec<(String, Connection)>), Option<RouteError>>;

/// An attempt handed to a connection, waiting for its reply (keyed by token).
struct InAttempt {
    job: Box<Job>,
    queue: MessageQueue,
    started: Instant,
    hook_addr: Option<String>,
}

/// Where a send's reply goes. The slot is filled by the actor when the job
/// ends and handed straight to actix's reply channel (see [`SendReply`]), so a
/// send costs no task, future or timer of its own.
struct ReplySlot<T>(Rc<RefCell<SlotState<T>>>);

// Not derived: `T` need not be `Clone` to share the slot.
impl<T> Clone for ReplySlot<T> {
    fn clone(&self) -> Self {
        ReplySlot(self.0.clone())
    }
}

enum SlotState<T> {
    Empty,
    Ready(T),
    Waiting(OneshotSender<T>),
    Sent,
}

impl<T> ReplySlot<T> {
    fn pair() -> (ReplySlot<T>, SendReply<T>) {
        let cell = Rc::new(RefCell::new(SlotState::Empty));
        (ReplySlot(cell.clone()), SendReply(ReplySlot(cell)))
    }

    fn complete(self, value: T) {
        let mut state = self.0.borrow_mut();
        match std::mem::replace(&mut *state, SlotState::Sent) {
            SlotState::Waiting(tx) => {
                let _ = tx.send(value);
            }
            SlotState::Empty => *state = SlotState::Ready(value),
            // Already answered: exactly one reply.
            other => *state = other,
        }
    }
}

/// The reply of the producer's send handlers: resolved when the send ends.
pub struct SendReply<T>(ReplySlot<T>);

impl<M, T> MessageResponse<ProducerActor, M> for SendReply<T>
where
    M: actix::Message<Result = T>,
    T: 'static,
{
    fn handle(self, _: &mut Context<ProducerActor>, tx: Option<OneshotSender<T>>) {
        let Some(tx) = tx else {
            return;
        };
        let mut state = self.0.0.borrow_mut();
        match std::mem::replace(&mut *state, SlotState::Sent) {
            SlotState::Ready(value) => {
                let _ = tx.send(value);
            }
            SlotState::Empty => *state = SlotState::Waiting(tx),
            other => *state = other,
        }
    }
}

enum ReplyTo {
    Send {
        slot: ReplySlot<Result<SendResult, Error>>,
        notify: Option<(Recipient<SendOutcome>, u64)>,
    },
    Oneway(ReplySlot<Result<(), Error>>),
    /// A transaction's half message: the reply is the [`Transaction`] to end.
    Half(Box<HalfReply>),
    /// A request–reply request: a failed send answers it; a stored one waits
    /// for its reply (see [`PendingRequest`]).
    Request(ReplySlot<Result<Message, Error>>),
}

/// A request whose reply has not come yet.
struct PendingRequest {
    /// Shared with the request's job (which answers it if the send fails).
    slot: ReplySlot<Result<Message, Error>>,
    /// Answers it with a timeout at its deadline.
    timer: SpawnHandle,
    received: Instant,
}

/// Where a half message's outcome goes, with what its [`Transaction`] needs.
struct HalfReply {
    slot: ReplySlot<Result<Transaction, Error>>,
    producer: Addr<ProducerActor>,
    group: String,
    /// The namespaced topic (its route gives the broker's address at the end).
    topic: String,
}

impl HalfReply {
    fn deliver(self, res: Result<Option<SendResult>, Error>) {
        let res = res
            .and_then(|r| r.ok_or_else(Error::shut_down))
            .and_then(|sr| {
                let status = sr.status;
                let tx = transaction_of(sr, &self.group, &self.topic, self.producer.clone())?;
                if status.is_ok() {
                    return Ok(tx);
                }
                // Stored but not safely (Java rolls back and skips the local transaction).
                let err = Error::broker(
                    status.response_code(),
                    format!("half message stored with {status}: rolled back"),
                    tx.broker_name(),
                );
                // An internal follow-up, not user traffic: it must not wait on the mailbox.
                self.producer.do_send(EndTransaction::new(
                    tx,
                    crate::TransactionResolution::Rollback,
                ));
                Err(err)
            });
        self.slot.complete(res);
    }
}

impl ReplyTo {
    /// Replies exactly once (and tells the notify recipient, if any).
    fn deliver(self, res: Result<Option<SendResult>, Error>) {
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
            ReplyTo::Request(slot) => match res {
                Ok(Some(_)) => {} // stored: the reply answers it
                Ok(None) => slot.complete(Err(Error::shut_down())),
                Err(e) => slot.complete(Err(e)),
            },
        }
    }
}

/// One send in flight: everything needed for another attempt, encoded once.
struct Job {
    route: Route,
    code: i32,
    /// The namespaced topic, when it differs from the message's (else none: no copy).
    wrapped_topic: Option<String>,
    /// The message as sent (with its UNIQ_KEY), for hooks and selectors.
    message: Message,
    /// The header fields kept across attempts, encoded once: a single message's
    /// topic-wide fields (its properties follow per attempt), or a batch's all.
    fixed: EncodedFields,
    /// Whether each attempt writes the message's properties after `fixed`.
    message_properties: bool,
    /// The body as sent when it is not the message's own: compressed (so a
    /// retry never compresses twice) or a batch's encoding.
    body: Option<Bytes>,
    /// A batch's comma-joined ids; a single message's id is its UNIQ_KEY,
    /// moved out of it when the send ends (see [`Job::msg_id`]).
    batch_msg_id: Option<String>,
    /// When the job was prepared (epoch ms): the first attempt's born timestamp.
    born_ms: i64,
    size: usize,
    received: Instant,
    deadline: Instant,
    attempts: u32,
    max_attempts: u32,
    /// Brokers of the failed attempts so far, in order (the last is avoided next).
    brokers_tried: Vec<String>,
    reply: ReplyTo,
}

impl Job {
    /// The topic as sent (namespaced).
    fn topic(&self) -> &str {
        self.wrapped_topic.as_deref().unwrap_or(&self.message.topic)
    }

    /// The id for a `SendResult`: moved out when the job ends with it (`keep`
    /// false), which saves a copy per send; copied when the job goes on.
    fn msg_id(&mut self, keep: bool) -> String {
        match (&mut self.batch_msg_id, keep) {
            (Some(ids), true) => ids.clone(),
            (Some(ids), false) => std::mem::take(ids),
            (None, true) => self.message.uniq_key().unwrap_or_default().to_owned(),
            (None, false) => self
                .message
                .remove_property(property::UNIQ_KEY)
                .unwrap_or_default(),
        }
    }

    /// Records a failed attempt's broker (successful sends never allocate this list).
    fn tried(&mut self, broker: &str) {
        self.brokers_tried.push(broker.to_owned());
    }

    fn mode(&self) -> CommunicationMode {
        match self.route {
            Route::Oneway => CommunicationMode::Oneway,
            _ => CommunicationMode::Sync,
        }
    }
}

/// Queues whose header fields are kept encoded at most (a scan beats hashing the broker name).
const QUEUE_FIELDS: usize = 256;

/// The header fields that name `queue` (queue id, broker name), encoded on
/// first use: every attempt to that queue copies them instead of writing them.
fn queue_fields<'a>(
    cache: &'a mut Vec<(i32, String, EncodedFields)>,
    ty: crate::protocol::SerializeType,
    queue: &MessageQueue,
) -> &'a EncodedFields {
    let found = cache
        .iter()
        .position(|(id, broker, _)| *id == queue.queue_id && *broker == queue.broker_name);
    let i = match found {
        Some(i) => i,
        None => {
            if cache.len() >= QUEUE_FIELDS {
                // Bounded: a producer cycling through more queues re-encodes instead.
                cache.clear();
            }
            let fields = SendMessageRequestHeader::encode_queue_fields_v2(
                ty,
                queue.queue_id,
                &queue.broker_name,
            );
            cache.push((queue.queue_id, queue.broker_name.clone(), fields));
            cache.len() - 1
        }
    };
    &cache[i].2
}

/// With the VIP channel on, sends go to the broker's fast port (port - 2), as in the Java client.
fn broker_addr(addr: &str, vip: bool) -> Cow<'_, str> {
    if vip {
        if let Some((host, port)) = addr.rsplit_once(':') {
            if let Ok(p) = port.parse::<u16>() {
                return Cow::Owned(format!("{host}:{}", p.saturating_sub(2)));
            }
        }
    }
    Cow::Borrowed(addr)
}

/// The client-instance settings a producer config holds, with the name servers resolved at start.
fn instance_config(cfg: &ProducerConfig, namesrv_addrs: Vec<String>) -> InstanceConfig {
    let mut instance = cfg.instance().clone();
    instance.route.namesrv_addrs = namesrv_addrs;
    instance
}

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
    cfg: Arc<ProducerConfig>,
    group: String,
    handles: InstanceHandles,
    sub_id: u64,
    shutting_down: bool,
    routes: HashMap<String, PublishInfo>,
    // Jobs travel boxed (cheap moves); unboxing them to queue would copy each.
    #[allow(clippy::vec_box)]
    waiting_route: HashMap<String, Vec<Box<Job>>>,
    conns: HashMap<String, Connection>,
    /// Request–reply requests waiting for their reply, by correlation id.
    requests: HashMap<String, PendingRequest>,
    selection: HashMap<String, QueueSelection>,
    fault: LatencyFaultTolerance,
    ids: Arc<UniqIdGenerator>,
    blocked: VecDeque<Box<Job>>,
    stats: ProducerStats,
    shutdown_waiters: Vec<oneshot::Sender<()>>,
    /// The one timer that expires parked jobs: when it fires, and its handle.
    expiry: Option<(Instant, SpawnHandle)>,
    /// Where connections send attempt replies, tagged with the attempt's token;
    /// the receiver is a stream of the actor (no task or future per attempt).
    done: mpsc::UnboundedSender<ReplyBatch>,
    done_rx: Option<mpsc::UnboundedReceiver<ReplyBatch>>,
    in_attempt: HashMap<u64, InAttempt>,
    next_token: u64,
    /// Send deadlines of the attempts in flight, earliest first: the guarantee
    /// that every send is answered by its deadline even if a connection is stuck.
    attempt_deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    attempt_timer: Option<(Instant, SpawnHandle)>,
    /// Per topic, per (sysFlag, flag): see [`ProducerActor::static_fields`].
    static_fields: HashMap<String, Vec<(i32, i32, EncodedFields)>>,
    /// Per queue (id, broker name): the header fields naming it (see [`queue_fields`]).
    queue_fields: Vec<(i32, String, EncodedFields)>,
    /// Spare room the send headers are encoded in: many share one allocation.
    header_arena: BytesMut,
}

/// Tables grown past this many entries are shrunk once they empty again.
const SHRINK_ABOVE: usize = 1024;

/// Topics whose static header fields are kept encoded at most.
const STATIC_FIELDS_TOPICS: usize = 1024;

/// The reply channel as a `Stream`, for `add_stream`.
/// Hands the connections' reply batches to the actor. The actor's one
/// perpetual item, so it also ends the actor's life: once no address is left
/// and no send is in flight it finishes, and the actor stops (and unregisters,
/// see `stopped`) as after a `Shutdown`.
struct ReplyPump(mpsc::UnboundedReceiver<ReplyBatch>);

/// Batches handled per pass before the pump lets the actor's other work run
/// (a stream handler takes 16 items per pass too).
const BATCHES_PER_PASS: usize = 16;

impl ActorFuture<ProducerActor> for ReplyPump {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        act: &mut ProducerActor,
        ctx: &mut Context<ProducerActor>,
        task: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        use std::task::Poll;
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
                    let abandoned = !ctx.connected()
                        && act.stats.in_flight == 0
                        && act.blocked.is_empty()
                        && !act.shutting_down;
                    if !abandoned {
                        return Poll::Pending;
                    }
                    // Nothing they guard is left: they would only delay the stop.
                    for (_, timer) in [act.attempt_timer.take(), act.expiry.take()]
                        .into_iter()
                        .flatten()
                    {
                        ctx.cancel_future(timer);
                    }
                    return Poll::Ready(());
                }
            }
        }
        task.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Slack after a send's deadline before the producer answers for a connection that did not.
const DEADLINE_GRACE: Duration = Duration::from_millis(20);

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
        // An empty list means NAMESRV_ADDR; none at all fails each send with "no name server", as in Java.
        let namesrv_addrs = cfg.resolved_namesrv_addrs().unwrap_or_default();
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
                .send(GetOrCreateInstance(instance_config(
                    &cfg,
                    namesrv_addrs.clone(),
                )))
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
                    let cfg = Arc::new(cfg);
                    let ids = Arc::new(UniqIdGenerator::new(cfg.client_ip()));
                    return Ok(ctx.run(ProducerActor::new(cfg, group, handles, ids)));
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
        let (done, done_rx) = mpsc::unbounded_channel();
        ProducerActor {
            cfg,
            group,
            handles,
            sub_id: NEXT_SUBSCRIBER.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            shutting_down: false,
            routes: HashMap::default(),
            waiting_route: HashMap::default(),
            conns: HashMap::default(),
            requests: HashMap::default(),
            selection: HashMap::default(),
            fault: LatencyFaultTolerance::new(),
            ids,
            blocked: VecDeque::new(),
            stats: ProducerStats::default(),
            shutdown_waiters: Vec::new(),
            expiry: None,
            done,
            done_rx: Some(done_rx),
            in_attempt: HashMap::default(),
            next_token: 0,
            attempt_deadlines: BinaryHeap::new(),
            attempt_timer: None,
            static_fields: HashMap::default(),
            queue_fields: Vec::new(),
            header_arena: BytesMut::new(),
        }
    }

    fn deadline(&self, received: Instant) -> Instant {
        received + self.cfg.send_timeout()
    }

    /// Validates and encodes one message into a job (or fails at once).
    fn prepare(
        &mut self,
        mut message: Message,
        route: Route,
        received: Instant,
        reply: ReplyTo,
    ) -> Result<Box<Job>, (ReplyTo, Error)> {
        // A topic with cached header fields passed this check before (without a
        // namespace the cache key is the topic as given): skip the per-char scan.
        let cached = match self.cfg.namespace() {
            None => self.static_fields.get(message.topic.as_str()),
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
        // One clock read for the id's time and the first attempt's born timestamp.
        let born_ms = now_ms();
        message.ensure_uniq_key(|| self.ids.next_at(born_ms).as_str().to_owned());
        if let Some(ns) = self.cfg.namespace() {
            message.set_property(property::INSTANCE_ID, ns.to_string());
        }
        let mut flag = 0;
        let body = if message.body.len() >= self.cfg.compress_msg_body_over() {
            match self.compress(&message.body) {
                Ok(Some(b)) => {
                    flag |= sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB;
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
            None => self.static_fields(topic, flag, message.flag),
        };
        let max_attempts = match route {
            Route::Any => 1 + self.cfg.retry_times_when_send_failed(),
            _ => 1,
        };
        let size = body.as_ref().unwrap_or(&message.body).len();
        // A request–reply answer goes with its own code, for the broker to push it.
        let code = if message.is_reply() {
            request_code::SEND_REPLY_MESSAGE_V2
        } else {
            request_code::SEND_MESSAGE_V2
        };
        Ok(Box::new(Job {
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
        }))
    }

    /// The body compressed with zlib, or `None` when that does not make it
    /// smaller (incompressible data grows a little under zlib: it goes as is,
    /// so the body never exceeds the size validation accepted).
    #[inline(never)]
    fn compress(&self, body: &Bytes) -> Result<Option<Bytes>, Error> {
        let b = compress_zlib(body, self.cfg.compress_level())?;
        Ok((b.len() < body.len()).then_some(b))
    }

    /// The header fields shared by every message of `topic` with these flags,
    /// encoded on first use (they are most of a send header).
    #[inline(never)]
    fn static_fields(&mut self, topic: &str, sys_flag: i32, flag: i32) -> EncodedFields {
        if let Some(f) = self
            .static_fields
            .get(topic)
            .and_then(|v| v.iter().find(|(s, f, _)| (*s, *f) == (sys_flag, flag)))
        {
            return f.2.clone();
        }
        if self.static_fields.len() >= STATIC_FIELDS_TOPICS {
            // Bounded: a producer cycling through many topics re-encodes instead.
            self.static_fields.clear();
        }
        let header = SendMessageRequestHeader {
            producer_group: self.group.clone(),
            topic: topic.to_owned(),
            default_topic: self.cfg.create_topic_key().to_string(),
            default_topic_queue_nums: self.cfg.default_topic_queue_nums(),
            queue_id: 0,
            sys_flag,
            born_timestamp: 0,
            flag,
            properties: None,
            reconsume_times: Some(0),
            unit_mode: false,
            max_reconsume_times: None,
            batch: false,
            broker_name: None,
        };
        let encoded = header.encode_static_fields_v2(self.cfg.serialize_type());
        self.static_fields
            .entry(header.topic)
            .or_default()
            .push((sys_flag, flag, encoded.clone()));
        encoded
    }

    fn prepare_batch(
        &mut self,
        mut messages: Vec<Message>,
        received: Instant,
        reply: ReplyTo,
    ) -> Result<Box<Job>, (ReplyTo, Error)> {
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
        // No UNIQ_KEY on the wrapper: brokers copy it onto every message of the batch.
        let header = SendMessageRequestHeader {
            producer_group: self.group.clone(),
            topic,
            default_topic: self.cfg.create_topic_key().to_string(),
            default_topic_queue_nums: self.cfg.default_topic_queue_nums(),
            queue_id: 0,
            sys_flag: 0,
            born_timestamp: 0,
            flag: 0,
            properties: Some(encode_properties([(
                property::WAIT,
                if first.wait_store_msg_ok() {
                    "true"
                } else {
                    "false"
                },
            )])),
            reconsume_times: Some(0),
            unit_mode: false,
            max_reconsume_times: None,
            batch: true,
            broker_name: None,
        };
        let size = body.len();
        let message = Message::new(first.topic.clone(), Bytes::new());
        Ok(Box::new(Job {
            route: Route::Any,
            code: request_code::SEND_BATCH_MESSAGE,
            fixed: header.encode_fixed_fields_v2(self.cfg.serialize_type()),
            message_properties: false,
            wrapped_topic: Some(header.topic).filter(|t| *t != message.topic),
            message,
            body: Some(body),
            batch_msg_id: Some(msg_id),
            born_ms: now_ms(),
            size,
            received,
            deadline: self.deadline(received),
            attempts: 0,
            max_attempts: 1 + self.cfg.retry_times_when_send_failed(),
            brokers_tried: Vec::new(),
            reply,
        }))
    }

    /// Admits a job within the in-flight bounds, or parks it until room frees up.
    fn submit(&mut self, job: Result<Box<Job>, (ReplyTo, Error)>, ctx: &mut Context<Self>) {
        let job = match job {
            Ok(job) => job,
            Err((reply, err)) => return self.reply(reply, Err(err)),
        };
        if self.shutting_down {
            return self.reply(job.reply, Err(Error::shut_down()));
        }
        if job.size > self.cfg.max_in_flight_bytes() {
            // It could never fit: fail now instead of waiting forever.
            let err = self.backpressure_error();
            return self.reply(job.reply, Err(err));
        }
        if !self.blocked.is_empty() || !self.has_room(job.size) {
            let deadline = job.deadline;
            self.blocked.push_back(job);
            self.arm_expiry(deadline, ctx);
            return;
        }
        self.admit(job, ctx);
    }

    fn has_room(&self, size: usize) -> bool {
        self.stats.in_flight < self.cfg.max_in_flight()
            && self.stats.in_flight_bytes + size <= self.cfg.max_in_flight_bytes()
    }

    fn backpressure_error(&self) -> Error {
        Error::backpressure(
            self.stats.in_flight,
            self.stats.in_flight_bytes,
            self.cfg.max_in_flight(),
            self.cfg.max_in_flight_bytes(),
        )
    }

    fn admit(&mut self, job: Box<Job>, ctx: &mut Context<Self>) {
        self.stats.in_flight += 1;
        self.stats.in_flight_bytes += job.size;
        self.route_then_attempt(job, ctx);
    }

    fn admit_blocked(&mut self, ctx: &mut Context<Self>) {
        if self.blocked.is_empty() {
            // The common case, once per finished send: not even a clock read.
            return;
        }
        let now = Instant::now();
        while let Some(front) = self.blocked.front() {
            if front.deadline <= now {
                let job = self.blocked.pop_front().expect("front exists");
                let err = self.backpressure_error();
                self.reply(job.reply, Err(err));
                continue;
            }
            if !self.has_room(front.size) {
                break;
            }
            let job = self.blocked.pop_front().expect("front exists");
            self.admit(job, ctx);
        }
    }

    fn route_then_attempt(&mut self, job: Box<Job>, ctx: &mut Context<Self>) {
        if let Some(info) = self.routes.get(job.topic()).filter(|i| i.ok()) {
            let info = info.clone();
            return self.attempt_with(job, info, ctx);
        }
        let topic = job.topic().to_owned();
        let waiting = self.waiting_route.entry(topic.clone()).or_default();
        waiting.push(job);
        if waiting.len() > 1 {
            return;
        }
        let find = FindRoute {
            topic: topic.clone(),
            subscriber: Some(Subscriber {
                id: self.sub_id,
                recipient: ctx.address().recipient(),
            }),
        };
        let rm = self.handles.route_manager.clone();
        let instance = self.handles.instance.clone();
        // The first waiting send has the earliest deadline: no look-up outlives it.
        let deadline = self.waiting_route[&topic][0].deadline;
        // `Err(None)`: no answer in time (a slow name server), which is a
        // timeout of the waiting sends, not a shut-down client.
        let lookup = async move {
            let rx = rm
                .send(find)
                .await
                .map_err(|_| Some(RouteError::Shutdown))?;
            let info = match rx.await {
                Ok(res) => res.map_err(Some)?,
                Err(_) => return Err(Some(RouteError::Shutdown)),
            };
            let conns = connections_for(&instance, &info).await;
            Ok((info, conns))
        };
        let fut = async move {
            tokio::time::timeout_at(deadline, lookup)
                .await
                .unwrap_or(Err(None))
        };
        ctx.spawn(
            fut.into_actor(self)
                .map(move |res, act, ctx| act.on_route(topic, res, ctx)),
        );
    }

    fn on_route(&mut self, topic: String, res: RouteLookup, ctx: &mut Context<Self>) {
        let jobs = self.waiting_route.remove(&topic).unwrap_or_default();
        match res {
            Ok((info, conns)) => {
                self.conns.extend(conns);
                self.routes.insert(topic, info);
                for job in jobs {
                    self.attempt(job, ctx);
                }
            }
            Err(Some(e)) => {
                let err = Error::from(e);
                for job in jobs {
                    self.finish(job, Err(err.clone()), ctx);
                }
            }
            Err(None) => {
                let now = Instant::now();
                for job in jobs {
                    let err = Error::timeout(now - job.received, 0, Vec::new())
                        .waiting_for(WaitingFor::Route);
                    self.finish(job, Err(err), ctx);
                }
            }
        }
    }

    fn select_queue(&mut self, job: &Job, info: &PublishInfo) -> Option<MessageQueue> {
        match &job.route {
            Route::Queue(q) => Some(q.clone()),
            Route::Selector(sel, arg) => sel
                .select(&info.queues, &job.message, arg)
                .and_then(|i| info.queues.get(i).cloned()),
            Route::Any | Route::Oneway => {
                let fault = self
                    .cfg
                    .send_latency_fault_enable()
                    .then(|| (&self.fault, Instant::now().into_std()));
                let last = job.brokers_tried.last().map(String::as_str);
                // Looked up before inserting: `entry` would copy the topic on every send.
                if let Some(sel) = self.selection.get_mut(job.topic()) {
                    return sel.select_one(info, last, fault);
                }
                let mut sel = QueueSelection::default();
                let picked = sel.select_one(info, last, fault);
                self.selection.insert(job.topic().to_owned(), sel);
                picked
            }
        }
    }

    /// One attempt: pick a queue and broker, stamp the header, hand the frame to the connection.
    fn attempt(&mut self, job: Box<Job>, ctx: &mut Context<Self>) {
        if let Some(info) = self.routes.get(job.topic()).cloned() {
            return self.attempt_with(job, info, ctx);
        }
        let now = Instant::now();
        if now >= job.deadline {
            return self.attempt_too_late(job, now, ctx);
        }
        self.route_then_attempt(job, ctx)
    }

    /// [`Self::attempt`] with the topic's publish info already looked up.
    fn attempt_with(&mut self, mut job: Box<Job>, info: PublishInfo, ctx: &mut Context<Self>) {
        let now = Instant::now();
        if now >= job.deadline {
            return self.attempt_too_late(job, now, ctx);
        }
        let Some(queue) = self.select_queue(&job, &info) else {
            return self.no_queue_selected(job, ctx);
        };
        // Looked up by reference: cloning a `Connection` clones an actix address, which allocates.
        let addr = info
            .route
            .master_addr(&queue.broker_name)
            .map(|a| broker_addr(a, self.cfg.vip_channel_enabled()));
        let conn = addr.as_deref().and_then(|a| self.conns.get(a));
        if let (None, Some(addr)) = (conn, &addr) {
            let addr = addr.to_string();
            return self.connect_then_attempt(job, addr, ctx);
        }
        job.attempts += 1;
        self.stats.attempts += 1;
        let Some(conn) = conn else {
            return self.no_master_address(job, queue, ctx);
        };
        // Where the after-hooks of this attempt report (Java runs them per attempt).
        let hook_addr = if self.cfg.hooks().is_empty() {
            None
        } else {
            match self.run_before_hooks(&job, &queue, conn) {
                Ok(addr) => Some(addr),
                Err(err) => {
                    job.tried(&queue.broker_name);
                    return self.finish(job, Err(err), ctx);
                }
            }
        };
        // The fields kept across attempts were encoded once; only these change.
        let born = if job.attempts == 1 {
            job.born_ms
        } else {
            now_ms()
        };
        let queue_fields = queue_fields(&mut self.queue_fields, self.cfg.serialize_type(), &queue);
        let ext = if job.message_properties {
            SendMessageRequestHeader::message_attempt_fields_v2(
                &mut self.header_arena,
                &job.fixed,
                &job.message,
                queue_fields,
                born,
            )
        } else {
            SendMessageRequestHeader::attempt_fields_v2(
                &mut self.header_arena,
                &job.fixed,
                queue_fields,
                born,
            )
        };
        let mut cmd = RemotingCommand::request(job.code, ext);
        cmd.body = job.body.as_ref().unwrap_or(&job.message.body).clone();
        cmd.serialize_type = self.cfg.serialize_type();

        let oneway = matches!(job.route, Route::Oneway);
        // While a retry remains, cap one attempt so a hung broker cannot eat the whole budget.
        let mut attempt_deadline = job.deadline;
        if job.attempts < job.max_attempts && !oneway {
            if let Some(cap) = self.cfg.send_msg_max_timeout_per_request() {
                attempt_deadline = attempt_deadline.min(now + cap);
            }
        }
        // The frame goes straight into the connection's submission channel and
        // the reply comes back on `done`: no task, future or timer per attempt.
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        let msg = Submit {
            cmd,
            deadline: attempt_deadline,
            oneway,
            reply: ReplySink::Channel {
                tx: self.done.clone(),
                token,
            },
        };
        conn.submit(msg);
        let deadline = job.deadline;
        self.in_attempt.insert(
            token,
            InAttempt {
                job,
                queue,
                started: now,
                hook_addr,
            },
        );
        self.attempt_deadlines.push(Reverse((deadline, token)));
        // Answered attempts stay in the heap until their deadline: compact it
        // now and then so it stays proportional to what is in flight.
        if self.attempt_deadlines.len() > 2 * self.in_attempt.len() + 1024 {
            let live = &self.in_attempt;
            self.attempt_deadlines
                .retain(|Reverse((_, t))| live.contains_key(t));
        }
        self.arm_attempt_timer(ctx);
    }

    // The rare ways out of an attempt, out of line and cold: `attempt_with`
    // reads as its common path (simulated I1 misses 123 -> 74 per send; no
    // wall-clock change measurable here).

    #[cold]
    #[inline(never)]
    fn attempt_too_late(&mut self, job: Box<Job>, now: Instant, ctx: &mut Context<Self>) {
        // No attempt yet: the time went on the mailbox, the in-flight bound or the route.
        let waited = if job.attempts == 0 {
            WaitingFor::Route
        } else {
            WaitingFor::Reply
        };
        let err = Error::timeout(now - job.received, job.attempts, job.brokers_tried.clone())
            .waiting_for(waited);
        self.finish(job, Err(err), ctx)
    }

    #[cold]
    #[inline(never)]
    fn no_queue_selected(&mut self, job: Box<Job>, ctx: &mut Context<Self>) {
        let err = Error::no_queue_selected(job.topic());
        self.finish(job, Err(err), ctx)
    }

    #[cold]
    #[inline(never)]
    fn no_master_address(
        &mut self,
        mut job: Box<Job>,
        queue: MessageQueue,
        ctx: &mut Context<Self>,
    ) {
        let err = Error::from(NetError::Connect {
            addr: queue.broker_name.clone(),
            reason: "the route names no master address for this broker".into(),
        });
        job.tried(&queue.broker_name);
        self.after_failure(job, err, ctx)
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
                        act.conns.insert(addr, c);
                        act.attempt(job, ctx)
                    }
                    _ => act.finish(job, Err(Error::shut_down()), ctx),
                }),
        );
    }

    /// Runs the send hooks' check and `before` for one attempt; the address
    /// their `after` will report, or the error a forbidding hook returned.
    #[inline(never)]
    fn run_before_hooks(
        &self,
        job: &Job,
        queue: &MessageQueue,
        conn: &Connection,
    ) -> Result<String, Error> {
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

    /// Runs the send hooks' `after` for one attempt (`addr` is set only when hooks exist).
    fn run_after_hooks(
        &self,
        job: &Job,
        queue: &MessageQueue,
        addr: &str,
        res: &Result<SendResult, Error>,
    ) {
        let send_ctx = SendContext::new(
            &self.group,
            &job.message,
            queue,
            addr,
            job.attempts,
            job.mode(),
        )
        .with_namespace(self.cfg.namespace());
        self.cfg.hooks().run_after(&send_ctx, res);
    }

    fn on_response(
        &mut self,
        mut job: Box<Job>,
        queue: MessageQueue,
        started: Instant,
        hook_addr: Option<String>,
        res: Result<RemotingCommand, NetError>,
        ctx: &mut Context<Self>,
    ) {
        let resp = match res {
            Ok(resp) => resp,
            Err(e) => return self.attempt_failed(job, queue, started, hook_addr, e, ctx),
        };
        match SendStatus::from_response_code(resp.code) {
            Some(status) => {
                self.update_fault(&queue.broker_name, started, false, true);
                // Stored, says the code: an odd reply must not turn into a
                // retry (a duplicate) or an error (a lost acknowledgement).
                let (header, defect) =
                    SendMessageResponseHeader::from_stored_reply(&resp, queue.queue_id);
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
                    message_queue: match self.cfg.namespace() {
                        Some(_) => MessageQueue {
                            topic: self.cfg.strip(&queue.topic).into_owned(),
                            ..queue
                        },
                        None => queue,
                    },
                    queue_offset: header.queue_offset,
                    transaction_id: header.transaction_id,
                    region_id: header.region,
                    trace_on: header.trace_on.unwrap_or(true),
                    reply_defect,
                };
                if let Some(addr) = &hook_addr {
                    let hook_queue = MessageQueue {
                        topic: job.topic().to_owned(),
                        ..result.message_queue.clone()
                    };
                    self.run_after_hooks(&job, &hook_queue, addr, &Ok(result.clone()));
                }
                if retry {
                    job.tried(&result.message_queue.broker_name);
                    return self.attempt(job, ctx);
                }
                self.finish(job, Ok(Some(result)), ctx)
            }
            None => self.broker_refused(job, queue, started, hook_addr, resp, ctx),
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
        ctx: &mut Context<Self>,
    ) {
        let err = Error::from(e);
        self.record_failed_attempt(&mut job, &queue, started, &hook_addr, &err);
        self.after_failure(job, err, ctx)
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
            self.run_after_hooks(job, queue, addr, &Err(err.clone()));
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
        ctx: &mut Context<Self>,
    ) {
        let remark = resp.remark.unwrap_or_default();
        let err = Error::broker(resp.code, remark, &queue.broker_name);
        self.record_failed_attempt(&mut job, &queue, started, &hook_addr, &err);
        if self.cfg.is_retry_response_code(resp.code) {
            self.after_failure(job, err, ctx)
        } else {
            self.finish(job, Err(err), ctx)
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
    fn after_failure(&mut self, job: Box<Job>, err: Error, ctx: &mut Context<Self>) {
        let now = Instant::now();
        if job.attempts < job.max_attempts && now < job.deadline {
            tracing::debug!(topic = %job.topic(), attempt = job.attempts, error = %err, "send failed; retrying on another broker");
            return self.attempt(job, ctx);
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
        self.finish(job, Err(err), ctx)
    }

    /// Replies exactly once, runs the after-hooks and frees the job's in-flight share.
    fn finish(
        &mut self,
        job: Box<Job>,
        res: Result<Option<SendResult>, Error>,
        ctx: &mut Context<Self>,
    ) {
        self.stats.in_flight = self.stats.in_flight.saturating_sub(1);
        self.stats.in_flight_bytes = self.stats.in_flight_bytes.saturating_sub(job.size);
        match &res {
            Ok(_) => self.stats.sent_ok += 1,
            Err(_) => self.stats.failed += 1,
        }
        job.reply.deliver(res);
        self.admit_blocked(ctx);
        self.check_drained(ctx);
        if self.in_attempt.is_empty() && self.in_attempt.capacity() > SHRINK_ABOVE {
            // A burst is over: give back what its peak needed.
            self.in_attempt.shrink_to(0);
            self.attempt_deadlines.clear();
            self.attempt_deadlines.shrink_to(0);
        }
    }

    fn reply(&mut self, reply: ReplyTo, res: Result<Option<SendResult>, Error>) {
        if res.is_err() {
            self.stats.failed += 1;
        }
        reply.deliver(res);
    }

    fn check_drained(&mut self, ctx: &mut Context<Self>) {
        if self.shutting_down
            && self.stats.in_flight == 0
            && self.blocked.is_empty()
            && !self.shutdown_waiters.is_empty()
        {
            let instance = self.handles.instance.clone();
            let rm = self.handles.route_manager.clone();
            let group = self.group.clone();
            let sub_id = self.sub_id;
            let waiters: Vec<_> = self.shutdown_waiters.drain(..).collect();
            let fut = async move {
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
    fn arm_attempt_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(Reverse((next, _))) = self.attempt_deadlines.peek().copied() else {
            return;
        };
        // The connection answers at the deadline itself; this is the backstop.
        let fire_at = next + DEADLINE_GRACE;
        if let Some((at, handle)) = self.attempt_timer {
            if at <= fire_at {
                return;
            }
            ctx.cancel_future(handle);
        }
        let handle = ctx.run_later(
            fire_at.saturating_duration_since(Instant::now()),
            |act, ctx| {
                act.attempt_timer = None;
                act.expire_attempts(ctx);
                act.arm_attempt_timer(ctx);
            },
        );
        self.attempt_timer = Some((fire_at, handle));
    }

    /// Fails the sends whose deadline passed while their connection never answered.
    fn expire_attempts(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        while let Some(Reverse((deadline, token))) = self.attempt_deadlines.peek().copied() {
            if deadline + DEADLINE_GRACE > now {
                break;
            }
            self.attempt_deadlines.pop();
            if let Some(mut a) = self.in_attempt.remove(&token) {
                a.job.tried(&a.queue.broker_name);
                let waited = if self.broker_connected(&a.queue) {
                    WaitingFor::Reply
                } else {
                    WaitingFor::Connection
                };
                let err = Error::timeout(
                    now - a.job.received,
                    a.job.attempts,
                    a.job.brokers_tried.clone(),
                )
                .waiting_for(waited);
                self.finish(a.job, Err(err), ctx);
            }
        }
        if self.in_attempt.is_empty() {
            self.attempt_deadlines.clear();
        }
    }

    /// Whether the connection to `queue`'s master is open (a cold look-up, for timeouts).
    fn broker_connected(&self, queue: &MessageQueue) -> bool {
        self.routes
            .get(&queue.topic)
            .and_then(|info| info.route.master_addr(&queue.broker_name))
            .map(|a| broker_addr(a, self.cfg.vip_channel_enabled()))
            .and_then(|a| self.conns.get(&*a))
            .is_some_and(Connection::is_connected)
    }

    /// Makes sure a parked job fails with back-pressure right at its deadline
    /// (before its caller's own timeout turns it into a plain timeout).
    fn arm_expiry(&mut self, deadline: Instant, ctx: &mut Context<Self>) {
        if self.expiry.is_some_and(|(at, _)| at <= deadline) {
            return;
        }
        if let Some((_, handle)) = self.expiry.take() {
            ctx.cancel_future(handle);
        }
        let delay = deadline.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(delay, |act, ctx| {
            act.expiry = None;
            act.expire_blocked();
            if let Some(next) = act.blocked.iter().map(|j| j.deadline).min() {
                act.arm_expiry(next, ctx);
            }
        });
        self.expiry = Some((deadline, handle));
    }

    fn expire_blocked(&mut self) {
        let now = Instant::now();
        let mut kept = VecDeque::with_capacity(self.blocked.len());
        for job in self.blocked.drain(..) {
            if job.deadline <= now {
                let err = Error::backpressure(
                    self.stats.in_flight,
                    self.stats.in_flight_bytes,
                    self.cfg.max_in_flight(),
                    self.cfg.max_in_flight_bytes(),
                );
                job.reply.deliver(Err(err));
                self.stats.failed += 1;
            } else {
                kept.push_back(job);
            }
        }
        self.blocked = kept;
    }
}

/// Connections to the master of every broker in `info`, from the client instance.
async fn connections_for(
    instance: &Addr<crate::runtime::instance::ClientInstance>,
    info: &PublishInfo,
) -> Vec<(String, Connection)> {
    let addrs: Vec<String> = info
        .route
        .broker_datas
        .iter()
        .filter_map(|b| b.master_addr().map(str::to_owned))
        .collect();
    let calls = addrs.into_iter().map(|addr| async move {
        match instance.send(GetConnection { addr: addr.clone() }).await {
            Ok(Ok(c)) => Some((addr, c)),
            _ => None,
        }
    });
    join_all(calls).await.into_iter().flatten().collect()
}

impl Actor for ProducerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Sends return at once, so a deep mailbox only saves callers from parking.
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        if let Some(rx) = self.done_rx.take() {
            ctx.spawn(ReplyPump(rx));
        }
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // Whatever is still waiting gets its one reply.
        let jobs: Vec<Box<Job>> = self
            .in_attempt
            .drain()
            .map(|(_, a)| a.job)
            .chain(self.waiting_route.drain().flat_map(|(_, jobs)| jobs))
            .chain(self.blocked.drain(..))
            .collect();
        for job in jobs {
            job.reply.deliver(Err(Error::shut_down()));
        }
        for (_, request) in self.requests.drain() {
            request.slot.complete(Err(Error::shut_down()));
        }
        if !self.shutting_down {
            // Every address dropped without a Shutdown: leave as Shutdown would
            // (the last producer out shuts the client instance down).
            self.handles.route_manager.do_send(Unsubscribe(self.sub_id));
            self.handles.instance.do_send(UnregisterProducer {
                group: self.group.clone(),
            });
        }
        tracing::debug!(group = %self.group, "producer stopped");
    }
}

impl ProducerActor {
    fn send_with<T: 'static>(
        &mut self,
        prepare: impl FnOnce(&mut Self, ReplyTo) -> Result<Box<Job>, (ReplyTo, Error)>,
        wrap: impl FnOnce(ReplySlot<Result<T, Error>>) -> ReplyTo,
        ctx: &mut Context<Self>,
    ) -> SendReply<Result<T, Error>> {
        let (slot, reply) = ReplySlot::pair();
        let job = prepare(self, wrap(slot));
        self.submit(job, ctx);
        reply
    }
}

impl Handler<SendMessage> for ProducerActor {
    type Result = SendReply<Result<SendResult, Error>>;

    fn handle(&mut self, msg: SendMessage, ctx: &mut Context<Self>) -> Self::Result {
        let received = msg.received;
        let notify = msg.notify;
        self.send_with(
            |act, reply| act.prepare(msg.message, Route::Any, received, reply),
            |slot| ReplyTo::Send { slot, notify },
            ctx,
        )
    }
}

impl Handler<SendOneway> for ProducerActor {
    type Result = SendReply<Result<(), Error>>;
    fn handle(&mut self, msg: SendOneway, ctx: &mut Context<Self>) -> Self::Result {
        let received = msg.received;
        self.send_with(
            |act, reply| act.prepare(msg.message, Route::Oneway, received, reply),
            ReplyTo::Oneway,
            ctx,
        )
    }
}

impl Handler<SendToQueue> for ProducerActor {
    type Result = SendReply<Result<SendResult, Error>>;
    fn handle(&mut self, msg: SendToQueue, ctx: &mut Context<Self>) -> Self::Result {
        let received = msg.received;
        let mut queue = msg.queue;
        queue.topic = self.cfg.wrap(&queue.topic).into_owned();
        self.send_with(
            |act, reply| act.prepare(msg.message, Route::Queue(queue), received, reply),
            |slot| ReplyTo::Send { slot, notify: None },
            ctx,
        )
    }
}

impl Handler<SendWithSelector> for ProducerActor {
    type Result = SendReply<Result<SendResult, Error>>;
    fn handle(&mut self, msg: SendWithSelector, ctx: &mut Context<Self>) -> Self::Result {
        let received = msg.received;
        self.send_with(
            |act, reply| {
                act.prepare(
                    msg.message,
                    Route::Selector(msg.selector, msg.arg),
                    received,
                    reply,
                )
            },
            |slot| ReplyTo::Send { slot, notify: None },
            ctx,
        )
    }
}

impl Handler<SendBatch> for ProducerActor {
    type Result = SendReply<Result<SendResult, Error>>;
    fn handle(&mut self, msg: SendBatch, ctx: &mut Context<Self>) -> Self::Result {
        let received = msg.received;
        self.send_with(
            |act, reply| act.prepare_batch(msg.messages, received, reply),
            |slot| ReplyTo::Send { slot, notify: None },
            ctx,
        )
    }
}

impl Handler<SendMessageInTransaction> for ProducerActor {
    type Result = SendReply<Result<Transaction, Error>>;
    fn handle(&mut self, msg: SendMessageInTransaction, ctx: &mut Context<Self>) -> Self::Result {
        let received = msg.received;
        let mut message = msg.message;
        let checker = self.cfg.transaction_checker().is_some();
        let (producer, group) = (ctx.address(), self.group.clone());
        let topic = self.cfg.wrap(&message.topic).into_owned();
        mark_half_message(&mut message, &self.group);
        self.send_with(
            |act, reply| {
                if !checker {
                    // Without one, a lost END_TRANSACTION could never be settled.
                    let err = Error::config(
                        "a transactional send needs a transaction checker \
                         (ProducerConfigBuilder::transaction_checker)",
                    );
                    return Err((reply, err));
                }
                act.prepare(message, Route::Any, received, reply)
            },
            |slot| {
                ReplyTo::Half(Box::new(HalfReply {
                    slot,
                    producer,
                    group,
                    topic,
                }))
            },
            ctx,
        )
    }
}

impl Handler<EndTransaction> for ProducerActor {
    type Result = ResponseFuture<Result<(), Error>>;
    fn handle(&mut self, msg: EndTransaction, _: &mut Context<Self>) -> Self::Result {
        let (header, broker, topic) = msg.into_parts();
        let vip = self.cfg.vip_channel_enabled();
        // Java `findBrokerAddressInPublish`: the master of the broker that stored it.
        let known = self
            .routes
            .get(&topic)
            .and_then(|info| info.route.master_addr(&broker))
            .map(|a| broker_addr(a, vip).into_owned());
        let conn = known.as_deref().and_then(|a| self.conns.get(a)).cloned();
        let instance = self.handles.instance.clone();
        let deadline = Instant::now() + self.cfg.mq_client_api_timeout();
        Box::pin(async move {
            let conn = match conn {
                Some(c) => c,
                None => {
                    let addr = match known {
                        Some(a) => a,
                        // The topic's route is gone from the cache: the broker table still knows.
                        None => {
                            let table = instance
                                .send(GetBrokers)
                                .await
                                .map_err(|_| Error::shut_down())?;
                            let master = table
                                .get(&broker)
                                .and_then(|ids| ids.get(&MASTER_ID))
                                .ok_or_else(|| {
                                    Error::from(NetError::Connect {
                                        addr: broker.clone(),
                                        reason: "no master address known for this broker".into(),
                                    })
                                })?;
                            broker_addr(master, vip).into_owned()
                        }
                    };
                    instance
                        .send(GetConnection { addr })
                        .await
                        .map_err(|_| Error::shut_down())??
                }
            };
            conn.oneway(header.into_request(), deadline)
                .await
                .map_err(Error::from)
        })
    }
}

impl Handler<CheckTransaction> for ProducerActor {
    type Result = ();
    fn handle(&mut self, msg: CheckTransaction, ctx: &mut Context<Self>) {
        let Some(checker) = self.cfg.transaction_checker().cloned() else {
            tracing::warn!(group = %self.group, "transaction check, but no transaction checker");
            return;
        };
        let group = self.group.clone();
        let api_timeout = self.cfg.mq_client_api_timeout();
        let CheckTransaction {
            header,
            message,
            connection,
        } = msg;
        let uniq_key = message.uniq_key().map(str::to_owned);
        let check = check_of(&header, message);
        // Each check on its own: a slow checker holds up neither sends nor other checks.
        ctx.spawn(
            async move {
                let (resolution, remark) = run_checker(checker.as_ref(), check).await;
                let mut cmd = check_answer(header, uniq_key, &group, resolution).into_request();
                cmd.remark = remark;
                if let Err(e) = connection.oneway(cmd, Instant::now() + api_timeout).await {
                    tracing::warn!(
                        broker = connection.remote(),
                        error = %e,
                        "could not answer a transaction check; the broker will ask again"
                    );
                }
            }
            .into_actor(self),
        );
    }
}

impl Handler<SendRequest> for ProducerActor {
    type Result = SendReply<Result<Message, Error>>;
    fn handle(&mut self, msg: SendRequest, ctx: &mut Context<Self>) -> Self::Result {
        let received = msg.received;
        let timeout = msg.timeout.unwrap_or(self.cfg.send_timeout());
        // Unique per client (and the broker pushes by client id).
        let correlation_id = self.ids.next_at(now_ms()).as_str().to_owned();
        let mut message = msg.message;
        message.set_property(property::CORRELATION_ID, correlation_id.as_str());
        message.set_property(property::REPLY_TO_CLIENT, self.handles.client_id.as_str());
        message.set_property(property::TTL, timeout.as_millis().to_string());
        let (slot, reply) = ReplySlot::pair();
        // Waiting from now: a reply may overtake the send's own answer.
        let id = correlation_id.clone();
        let timer = ctx.run_later(
            (received + timeout).saturating_duration_since(Instant::now()),
            move |act, _| act.request_timed_out(&id),
        );
        self.requests.insert(
            correlation_id,
            PendingRequest {
                slot: slot.clone(),
                timer,
                received,
            },
        );
        // The request's timeout bounds its send too (Java `request(msg, timeout)`).
        let job = self
            .prepare(message, Route::Any, received, ReplyTo::Request(slot))
            .map(|mut job| {
                job.deadline = received + timeout;
                job
            });
        self.submit(job, ctx);
        reply
    }
}

impl Handler<RequestReply> for ProducerActor {
    type Result = ();
    fn handle(&mut self, msg: RequestReply, ctx: &mut Context<Self>) {
        // Every producer of the client gets every reply: not ours, or too late.
        let Some(request) = self.requests.remove(&msg.correlation_id) else {
            return;
        };
        ctx.cancel_future(request.timer);
        let mut message = msg.message;
        message.set_property(property::ARRIVE_TIME, now_ms().to_string());
        request.slot.complete(Ok(message));
    }
}

impl ProducerActor {
    fn request_timed_out(&mut self, correlation_id: &str) {
        if let Some(request) = self.requests.remove(correlation_id) {
            let err = Error::timeout(request.received.elapsed(), 1, Vec::new());
            request.slot.complete(Err(err));
        }
    }
}

impl ProducerActor {
    /// One attempt's reply from its connection (ignored once the attempt timed out).
    fn on_reply(&mut self, token: u64, reply: Reply, ctx: &mut Context<Self>) {
        let Some(a) = self.in_attempt.remove(&token) else {
            return;
        };
        if matches!(a.job.route, Route::Oneway) {
            return self.finish(a.job, reply.map(|_| None).map_err(Error::from), ctx);
        }
        let res = reply.and_then(|r| {
            r.ok_or_else(|| NetError::Closed {
                addr: a.hook_addr.clone().unwrap_or_default(),
                reason: "no response".into(),
            })
        });
        self.on_response(a.job, a.queue, a.started, a.hook_addr, res, ctx)
    }
}

impl Handler<FetchPublishQueues> for ProducerActor {
    type Result = ResponseActFuture<Self, Result<Vec<MessageQueue>, Error>>;
    fn handle(&mut self, msg: FetchPublishQueues, ctx: &mut Context<Self>) -> Self::Result {
        if let Err(e) = validate_topic(&msg.topic) {
            return Box::pin(actix::fut::ready(Err(e.into())));
        }
        let topic = self.cfg.wrap(&msg.topic).into_owned();
        let find = FindRoute {
            topic: topic.clone(),
            subscriber: Some(Subscriber {
                id: self.sub_id,
                recipient: ctx.address().recipient(),
            }),
        };
        let rm = self.handles.route_manager.clone();
        let timeout = self.cfg.send_timeout();
        let fut = async move {
            let rx = rm.send(find).await.map_err(|_| Error::shut_down())?;
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(res)) => res.map_err(Error::from),
                Ok(Err(_)) => Err(Error::shut_down()),
                Err(_) => {
                    Err(Error::timeout(timeout, 0, Vec::new()).waiting_for(WaitingFor::Route))
                }
            }
        };
        Box::pin(fut.into_actor(self).map(move |res, act, _| {
            let info = res?;
            act.routes.insert(topic, info.clone());
            Ok(info
                .queues
                .iter()
                .map(|q| MessageQueue {
                    topic: act.cfg.strip(&q.topic).into_owned(),
                    ..q.clone()
                })
                .collect())
        }))
    }
}

impl Handler<RouteChanged> for ProducerActor {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, msg: RouteChanged, _: &mut Context<Self>) -> Self::Result {
        let instance = self.handles.instance.clone();
        let info = msg.info.clone();
        // Connections first, so no attempt finds a broker without one.
        let fut = async move { connections_for(&instance, &info).await };
        Box::pin(fut.into_actor(self).map(move |conns, act, _| {
            act.conns.extend(conns);
            act.routes.insert(msg.topic, msg.info);
        }))
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
        s.waiting_for_capacity = self.blocked.len();
        s.waiting_for_route = self.waiting_route.values().map(Vec::len).sum();
        MessageResult(s)
    }
}

/// What was wrong with a reply that says the message is stored (bounded, as any peer text).
#[cold]
fn stored_reply_defect(broker: &str, e: ProtocolError) -> String {
    tracing::warn!(%broker, error = %e, "message stored, but the broker's reply did not decode");
    crate::protocol::peer_text::bounded_owned(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::SerializeType;

    fn mq(broker: &str, id: i32) -> MessageQueue {
        MessageQueue {
            topic: "t".into(),
            broker_name: broker.into(),
            queue_id: id,
        }
    }

    /// A queue is known by its id and its broker: the same id on another broker
    /// gets fields of its own, and a queue seen before gets the same fields.
    #[test]
    fn queue_fields_are_kept_per_queue_id_and_broker() {
        let ty = SerializeType::RocketMq;
        let mut cache = Vec::new();
        let a1 = queue_fields(&mut cache, ty, &mq("broker-a", 1)).clone();
        let b1 = queue_fields(&mut cache, ty, &mq("broker-b", 1)).clone();
        let a2 = queue_fields(&mut cache, ty, &mq("broker-a", 2)).clone();
        assert_eq!(
            a1,
            SendMessageRequestHeader::encode_queue_fields_v2(ty, 1, "broker-a")
        );
        assert_eq!(
            b1,
            SendMessageRequestHeader::encode_queue_fields_v2(ty, 1, "broker-b")
        );
        assert_ne!(a1, a2);
        assert_eq!(queue_fields(&mut cache, ty, &mq("broker-a", 1)), &a1);
        assert_eq!(cache.len(), 3, "a queue seen before is not encoded again");
        for id in 0..QUEUE_FIELDS as i32 + 5 {
            queue_fields(&mut cache, ty, &mq("broker-c", id));
        }
        assert!(cache.len() <= QUEUE_FIELDS, "bounded: {}", cache.len());
    }
}
