//! `ConnectionActor`: one TCP connection to one remote (name server or broker).
//!
//! Requests are pipelined and matched by opaque; every waiting caller gets its
//! response, a timeout, or an error the moment the connection breaks. The actor
//! runs under an actix `Supervisor`: a broken connection stops it, the
//! supervisor restarts it (mailbox intact) and the next request reconnects,
//! after an exponential backoff with jitter when connecting failed or the
//! connection died before it proved healthy ([`ReconnectPolicy`]).
//! Frames go through the actor's own write buffer, flushed by a context item
//! that never blocks the actor: while a peer stops reading, deadlines, the
//! dead-peer check and the mailbox keep running.
// The pending table is keyed by our own opaques: Fx, not SipHash.
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::prelude::*;
use futures::channel::oneshot;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, Waker};
use tokio::sync::mpsc;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::Encoder;
use tokio_util::codec::FramedRead;

use super::deadline_queue::{DeadlineQueue, SHRINK_ABOVE};
use super::error::NetError;
use super::live::{self, LiveGuard};
use super::reconnect::{ConnectionHealth, ReconnectPolicy};
use super::tls::{Stream, TlsConfig, Writer};
use crate::protocol::acl::{AclCredentials, sign};
use crate::protocol::command::FLAG_RESPONSE;
use crate::protocol::frame::DEFAULT_MAX_FRAME_LEN;
use crate::protocol::{ProtocolError, RemotingCodec, RemotingCommand};

/// The mailbox carries `Request`s (route look-ups, heartbeats, unregister) and
/// control messages; producers' frames use the submission channel instead.
/// Callers `send`, so a full mailbox makes them wait: a bound, not a buffer.
const CONNECTION_MAILBOX_CAPACITY: usize = 1024;

/// Encoded bytes waiting for the socket beyond which requests are parked
/// (unencoded) until the writer catches up: bounds the write buffer.
const WRITE_BUFFER_LIMIT: usize = 256 * 1024;

/// Read buffer: one read takes a few hundred pipelined responses (8 KiB took ~30).
const READ_BUFFER_CAPACITY: usize = 64 * 1024;

/// Room kept for the header when checking a body against the frame limit.
const HEADER_ALLOWANCE: usize = 64 * 1024;

/// Settings of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Time allowed to open the TCP connection (Java: 3 s).
    pub connect_timeout: Duration,
    /// Largest frame accepted or sent, length prefix included (Java: 16 MiB).
    pub max_frame_len: usize,
    /// A connection that answers nothing for this long while requests wait is
    /// taken as dead (a frozen or black-holed peer sends no FIN/RST).
    pub dead_peer_timeout: Duration,
    /// When to connect again after a failed connect, or a connection that died
    /// before any answer or on undecodable bytes (100 ms doubling to 3 s, ±20 %).
    pub reconnect: ReconnectPolicy,
    /// Signs every request (ACL, `AccessKey` / `Signature`) when set.
    pub acl: Option<AclCredentials>,
    /// Speaks TLS when set.
    pub tls: Option<TlsConfig>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            connect_timeout: Duration::from_secs(3),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            dead_peer_timeout: Duration::from_secs(5),
            reconnect: ReconnectPolicy::default(),
            acl: None,
            tls: None,
        }
    }
}

/// A response (`None` once a one-way frame is written), or why there is none.
pub type Reply = Result<Option<RemotingCommand>, NetError>;

/// Replies for one [`ReplySink::Channel`], each with its request's token. The
/// responses read in one pass of the actor travel together: one channel send
/// and one wake-up of the caller for all of them, not one each.
pub type ReplyBatch = Vec<(u64, Reply)>;

/// Where a response goes: a oneshot for one-off callers, or a channel shared by
/// many requests (the producer's), tagged with the caller's token.
pub enum ReplySink {
    /// One caller waiting on its own channel.
    Oneshot(oneshot::Sender<Reply>),
    /// Many requests of one caller on a shared channel.
    Channel {
        /// The shared channel.
        tx: mpsc::UnboundedSender<ReplyBatch>,
        /// The caller's tag for this request, echoed with the reply.
        token: u64,
    },
}

impl ReplySink {
    /// Delivers `reply` now, alone (a caller that went away is ignored).
    pub fn send(self, reply: Reply) {
        match self {
            ReplySink::Oneshot(tx) => {
                let _ = tx.send(reply);
            }
            ReplySink::Channel { tx, token } => {
                let _ = tx.send(vec![(token, reply)]);
            }
        }
    }
}

/// Responses read but not yet handed to their channels (see [`ReplyBatch`]).
#[derive(Default)]
struct Outbox {
    batches: Vec<(mpsc::UnboundedSender<ReplyBatch>, ReplyBatch)>,
    /// A [`DeliverReplies`] runs (not once a restart cancelled it, nor in a
    /// closed actor, which ends with its last handle and so keeps no such item).
    deliverer: bool,
    /// The deliverer's waker, stored while it idles.
    waker: Option<Waker>,
}

/// Responses of one pass per channel (actix handles 16 stream items per pass).
const BATCH_CAPACITY: usize = 16;

impl Outbox {
    fn push(&mut self, sink: ReplySink, reply: Reply) {
        let (tx, token) = match sink {
            ReplySink::Channel { tx, token } if self.deliverer => (tx, token),
            other => return other.send(reply),
        };
        // A connection serves a handful of producers at most: a scan is cheapest.
        if let Some((_, batch)) = self.batches.iter_mut().find(|(t, _)| t.same_channel(&tx)) {
            batch.push((token, reply));
            return;
        }
        let mut batch = Vec::with_capacity(BATCH_CAPACITY);
        batch.push((token, reply));
        self.batches.push((tx, batch));
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Hands every batch to its channel.
    fn deliver(&mut self) {
        for (tx, batch) in self.batches.drain(..) {
            let _ = tx.send(batch);
        }
    }
}

/// Why a connection broke: it went away, or the peer sent what is not RocketMQ remoting.
enum Break {
    Closed(String),
    Protocol(ProtocolError),
}

impl Break {
    fn error(&self, remote: &str) -> NetError {
        match self {
            Break::Closed(reason) => NetError::Closed {
                addr: remote.to_string(),
                reason: reason.clone(),
            },
            Break::Protocol(source) => NetError::Protocol {
                addr: remote.to_string(),
                source: source.clone(),
            },
        }
    }
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Closed(reason) => f.write_str(reason),
            Break::Protocol(e) => write!(f, "undecodable frame: {e}"),
        }
    }
}

struct Pending {
    tx: ReplySink,
    deadline: Instant,
}

/// Whose deadline a heap entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Waiter {
    /// A written request, by opaque.
    Sent(i32),
    /// A parked request, by its sequence number in `backlog`.
    Parked(u64),
}

/// Like [`Request`], but the reply goes to `reply`; handed over with
/// [`Connection::submit`] (a channel of the actor, not its mailbox), so the
/// producer passes a frame on without a task, future or allocation per request.
pub struct Submit {
    /// The frame to send; its opaque is assigned by the connection.
    pub cmd: RemotingCommand,
    /// When the caller stops waiting: the request fails with a timeout then.
    pub deadline: Instant,
    /// Written with the one-way flag; the reply is `Ok(None)` once written.
    pub oneway: bool,
    /// Where the response goes.
    pub reply: ReplySink,
}

impl Submit {
    fn into_parts(self) -> (Request, ReplySink) {
        let req = Request {
            cmd: self.cmd,
            deadline: self.deadline,
            oneway: self.oneway,
        };
        (req, self.reply)
    }
}

/// A request (or one-way frame) for the remote. The reply arrives on the
/// returned receiver: `Some(response)`, `None` once a one-way frame is written.
pub struct Request {
    /// The frame to send; its opaque is assigned by the connection.
    pub cmd: RemotingCommand,
    /// When the caller stops waiting: the request fails with a timeout then.
    pub deadline: Instant,
    /// Written with the one-way flag; the reply is `Ok(None)` once written.
    pub oneway: bool,
}

impl Message for Request {
    type Result = oneshot::Receiver<Reply>;
}

/// A request the remote sent us (CHECK_TRANSACTION_STATE, NOTIFY_*, ...).
pub struct InboundRequest {
    /// The remote's request, as decoded.
    pub cmd: RemotingCommand,
    /// The remote's address, and the connection to answer on.
    pub remote: Arc<str>,
    /// The connection it came on, to answer with [`Connection::respond`] or a new request.
    pub connection: Connection,
}

impl Message for InboundRequest {
    type Result = ();
}

/// Registers who handles requests the remote initiates.
pub struct SetInboundHandler(pub Recipient<InboundRequest>);

impl Message for SetInboundHandler {
    type Result = ();
}

/// The connection was made again after a break: what the remote knew of this
/// client through the old one (heartbeats: producer groups, client id) is gone.
pub struct Reconnected {
    /// The remote's address.
    pub remote: Arc<str>,
}

impl Message for Reconnected {
    type Result = ();
}

/// Registers who hears of [`Reconnected`].
pub struct SetReconnectListener(pub Recipient<Reconnected>);

impl Message for SetReconnectListener {
    type Result = ();
}

/// Writes a response frame to a request the remote initiated.
pub struct Respond(pub RemotingCommand);

impl Message for Respond {
    type Result = ();
}

/// Stops taking requests; the receiver fires once every waiting request is answered.
pub struct Close;

impl Message for Close {
    type Result = oneshot::Receiver<()>;
}

/// A snapshot of the connection's bookkeeping (for tests and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Whether a TCP connection is open now.
    pub connected: bool,
    /// Requests written and waiting for their response.
    pub pending: usize,
    /// Connections opened since the actor was created.
    pub connects: u64,
    /// Supervised restarts (each after a broken connection).
    pub restarts: u64,
    /// Failed connects in a row (drives the backoff).
    pub consecutive_failures: u32,
    /// Time left in the reconnect backoff window (requests fail fast meanwhile).
    pub retry_in: Option<Duration>,
    /// Socket writes since the actor was created: frames per write shows batching.
    pub writes: u64,
}

/// Asks a `ConnectionActor` for its [`ConnectionStats`].
pub struct GetStats;

impl Message for GetStats {
    type Result = ConnectionStats;
}

/// The actor owning one connection; see the module docs.
pub struct ConnectionActor {
    remote: Arc<str>,
    cfg: ConnectionConfig,
    /// The socket's write half; `Some` while connected.
    writer: Option<Writer>,
    /// Encoded frames not yet written: the flush item writes all of it at once.
    write_buf: BytesMut,
    codec: RemotingCodec,
    /// The flush item's waker, stored while it idles on an empty buffer.
    flush_waker: Option<Waker>,
    /// Requests waiting for the write buffer to drain, in arrival order;
    /// `None` once answered at its deadline.
    backlog: VecDeque<Option<(Request, ReplySink)>>,
    /// Sequence number of the backlog's front entry.
    backlog_head: u64,
    pending: HashMap<i32, Pending>,
    next_opaque: i32,
    inbound: Option<Recipient<InboundRequest>>,
    reconnect_listener: Option<Recipient<Reconnected>>,
    /// Since when requests have waited with no frame read; basis of dead-peer detection.
    awaiting_since: Option<Instant>,
    /// A frame arrived since the last sweep (which then moves `awaiting_since`):
    /// cheaper than reading the clock per frame.
    frame_seen: bool,
    /// The backoff window and the current connection's health.
    health: ConnectionHealth,
    last_connect_error: String,
    /// Set while the backoff window was opened by undecodable bytes: requests
    /// failing fast then name that fault, not a connect failure.
    window_cause: Option<ProtocolError>,
    connects: u64,
    restarts: u64,
    writes: u64,
    closed: bool,
    drain_waiters: Vec<oneshot::Sender<()>>,
    /// Request deadlines, earliest first; entries of answered requests are skipped.
    deadlines: DeadlineQueue<Waiter>,
    /// The armed deadline timer, if any.
    deadline_timer: Option<SpawnHandle>,
    /// Responses read this pass, delivered per channel by [`DeliverReplies`].
    outbox: Outbox,
    /// Where [`Connection::submit`] frames arrive; kept across restarts.
    submissions: Option<mpsc::UnboundedReceiver<Submit>>,
    /// For the `Connection` handles the actor makes itself (weak: the channel
    /// must close once every outside handle is gone, or the actor would never end).
    submit_tx: Option<mpsc::WeakUnboundedSender<Submit>>,
    /// Shared with every [`Connection`] handle: whether a socket is open.
    connected: Arc<AtomicBool>,
    _live: LiveGuard,
}

impl ConnectionActor {
    /// An actor for `remote` (`host:port`); it connects on the first request.
    pub fn new(remote: impl Into<Arc<str>>, cfg: ConnectionConfig) -> Self {
        let health = ConnectionHealth::new(cfg.reconnect.clone());
        ConnectionActor {
            remote: remote.into(),
            codec: RemotingCodec::new(cfg.max_frame_len),
            cfg,
            writer: None,
            write_buf: BytesMut::new(),
            flush_waker: None,
            pending: HashMap::default(),
            next_opaque: 0,
            inbound: None,
            reconnect_listener: None,
            awaiting_since: None,
            frame_seen: false,
            health,
            last_connect_error: String::new(),
            window_cause: None,
            connects: 0,
            restarts: 0,
            writes: 0,
            closed: false,
            drain_waiters: Vec::new(),
            deadlines: DeadlineQueue::default(),
            deadline_timer: None,
            backlog: VecDeque::new(),
            backlog_head: 0,
            outbox: Outbox::default(),
            submissions: None,
            submit_tx: None,
            connected: Arc::new(AtomicBool::new(false)),
            _live: LiveGuard::new(&live::CONNECTIONS),
        }
    }

    /// Starts a supervised actor with `start`, wired to its submission channel.
    fn start_with(
        remote: Arc<str>,
        cfg: ConnectionConfig,
        start: impl FnOnce(Box<dyn FnOnce(&mut Context<Self>) -> Self + Send>) -> Addr<Self>,
    ) -> Connection {
        let (tx, rx) = mpsc::unbounded_channel();
        let weak = tx.downgrade();
        let r = remote.clone();
        let connected = Arc::new(AtomicBool::new(false));
        let flag = connected.clone();
        let actor = start(Box::new(move |_| {
            let mut act = ConnectionActor::new(r, cfg);
            act.submissions = Some(rx);
            act.submit_tx = Some(weak);
            act.connected = flag;
            act
        }));
        Connection {
            actor,
            remote,
            submit: Some(tx),
            connected,
        }
    }

    /// Starts a supervised connection actor on the current arbiter.
    pub fn start_supervised(remote: impl Into<Arc<str>>, cfg: ConnectionConfig) -> Connection {
        Self::start_with(remote.into(), cfg, Supervisor::start)
    }

    /// Starts a supervised connection actor on `arbiter`.
    pub fn start_supervised_in(
        arbiter: &ArbiterHandle,
        remote: impl Into<Arc<str>>,
        cfg: ConnectionConfig,
    ) -> Connection {
        Self::start_with(remote.into(), cfg, |f| {
            Supervisor::start_in_arbiter(arbiter, f)
        })
    }

    /// Connects, then dispatches `req`; `wait` holds the mailbox meanwhile, so
    /// requests behind this one see the outcome (and keep their order).
    fn connect_then(&mut self, req: Request, tx: ReplySink, ctx: &mut Context<Self>) {
        let remote = self.remote.clone();
        let timeout = self.cfg.connect_timeout;
        let tls = self.cfg.tls.clone();
        let fut = async move {
            let connect = async {
                let tcp = TcpStream::connect(&*remote).await?;
                match &tls {
                    None => Ok(Stream::Plain(tcp)),
                    Some(tls) => tls.connect(&remote, tcp).await,
                }
            };
            match tokio::time::timeout(timeout, connect).await {
                Ok(Ok(stream)) => Ok(stream),
                Ok(Err(e)) if tls.is_some() => Err(format!("TLS connect failed: {e}")),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("connect timed out after {timeout:?}")),
            }
        };
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| {
            match res {
                Ok(stream) => act.on_connected(stream, ctx),
                Err(reason) => act.on_connect_failed(reason),
            }
            act.dispatch(req, tx, ctx);
        }));
    }

    fn on_connected(&mut self, stream: Stream, ctx: &mut Context<Self>) {
        let (read, write) = stream.split();
        ctx.add_stream(FramedRead::with_capacity(
            read,
            RemotingCodec::new(self.cfg.max_frame_len),
            READ_BUFFER_CAPACITY,
        ));
        self.writer = Some(write);
        self.connected.store(true, Ordering::Relaxed);
        self.write_buf.clear();
        self.flush_waker = None;
        self.connects += 1;
        ctx.spawn(Flush {
            connection: self.connects,
            deferrals: 0,
            len_at_deferral: 0,
        });
        self.health.connected(Instant::now());
        self.window_cause = None;
        self.awaiting_since = None;
        self.frame_seen = false;
        tracing::debug!(remote = %self.remote, connects = self.connects, "connected");
        if let (true, Some(listener)) = (self.connects > 1, &self.reconnect_listener) {
            listener.do_send(Reconnected {
                remote: self.remote.clone(),
            });
        }
    }

    fn on_connect_failed(&mut self, reason: String) {
        let delay = self.health.connect_failed(Instant::now());
        self.window_cause = None;
        tracing::warn!(remote = %self.remote, %reason, retry_in = ?delay, "connect failed");
        self.last_connect_error = reason;
    }

    fn connect_error(&self) -> NetError {
        if let Some(source) = &self.window_cause {
            return NetError::Protocol {
                addr: self.remote.to_string(),
                source: source.clone(),
            };
        }
        NetError::Connect {
            addr: self.remote.to_string(),
            reason: self.last_connect_error.clone(),
        }
    }

    fn dispatch(&mut self, mut req: Request, tx: ReplySink, ctx: &mut Context<Self>) {
        if self.writer.is_none() {
            tx.send(Err(self.connect_error()));
            return;
        }
        if let Some(acl) = &self.cfg.acl {
            // At the last moment: each attempt's fields differ, so does its signature.
            sign(&mut req.cmd, acl);
        }
        if req.cmd.body.len() + HEADER_ALLOWANCE > self.cfg.max_frame_len {
            let err = ProtocolError::FrameTooLarge {
                len: req.cmd.body.len() + HEADER_ALLOWANCE,
                max: self.cfg.max_frame_len,
            };
            tx.send(Err(NetError::Encode {
                addr: self.remote.to_string(),
                source: err,
            }));
            return;
        }
        if req.oneway {
            req.cmd.mark_oneway();
            let res = self.buffer_frame(&req.cmd).map(|()| None);
            tx.send(res);
            return;
        }
        let mut opaque = self.next_opaque;
        while self.pending.contains_key(&opaque) {
            opaque = opaque.wrapping_add(1);
        }
        self.next_opaque = opaque.wrapping_add(1);
        req.cmd.opaque = opaque;
        if let Err(e) = self.buffer_frame(&req.cmd) {
            tx.send(Err(e));
            return;
        }
        self.pending.insert(
            opaque,
            Pending {
                tx,
                deadline: req.deadline,
            },
        );
        self.push_deadline(req.deadline, Waiter::Sent(opaque), ctx);
        if self.awaiting_since.is_none() {
            self.awaiting_since = Some(Instant::now());
        }
    }

    /// Encodes `cmd` into the write buffer, waking the flush item if it idles.
    fn buffer_frame(&mut self, cmd: &RemotingCommand) -> Result<(), NetError> {
        // On error the codec leaves the buffer as it was: only this frame is lost.
        self.codec
            .encode(cmd, &mut self.write_buf)
            .map_err(|source| NetError::Encode {
                addr: self.remote.to_string(),
                source,
            })?;
        if let Some(waker) = self.flush_waker.take() {
            waker.wake();
        }
        Ok(())
    }

    /// Writes a frame nobody waits for (a response to the remote), if connected.
    fn buffer_response(&mut self, resp: &RemotingCommand) {
        if self.writer.is_some() {
            if let Err(e) = self.buffer_frame(resp) {
                tracing::warn!(remote = %self.remote, error = %e, "response not written");
            }
        }
    }

    /// Parks a request until the write buffer has room; its deadline still applies.
    fn park(&mut self, req: Request, tx: ReplySink, ctx: &mut Context<Self>) {
        let seq = self.backlog_head + self.backlog.len() as u64;
        let deadline = req.deadline;
        self.backlog.push_back(Some((req, tx)));
        self.push_deadline(deadline, Waiter::Parked(seq), ctx);
    }

    /// Dispatches parked requests, in order, while the write buffer has room.
    fn drain_backlog(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        while self.write_buf.len() <= WRITE_BUFFER_LIMIT {
            let Some(slot) = self.backlog.pop_front() else {
                break;
            };
            self.backlog_head += 1;
            let Some((req, tx)) = slot else {
                continue; // answered at its deadline
            };
            if req.deadline <= now {
                // Its caller has given up: writing it would only load the broker.
                tx.send(Err(NetError::Timeout {
                    addr: self.remote.to_string(),
                }));
                continue;
            }
            self.dispatch(req, tx, ctx);
        }
    }

    /// The parked entry with sequence number `seq`, if still in the backlog.
    fn parked(&mut self, seq: u64) -> Option<&mut Option<(Request, ReplySink)>> {
        let idx = usize::try_from(seq.checked_sub(self.backlog_head)?).ok()?;
        self.backlog.get_mut(idx)
    }

    fn push_deadline(&mut self, deadline: Instant, waiter: Waiter, ctx: &mut Context<Self>) {
        // Answered requests stay queued until their deadline; the queue compacts
        // them away now and then so it stays proportional to what waits.
        let (pending, backlog, head) = (&self.pending, &self.backlog, self.backlog_head);
        let live = pending.len() + backlog.len();
        self.deadlines.push(deadline, waiter, live, |d, w| match w {
            Waiter::Sent(o) => pending.get(&o).is_some_and(|p| p.deadline == d),
            Waiter::Parked(seq) => seq
                .checked_sub(head)
                .and_then(|i| backlog.get(usize::try_from(i).ok()?))
                .is_some_and(Option::is_some),
        });
        self.arm_deadline_timer(ctx);
    }

    /// Nothing waits for an answer: neither written nor parked requests.
    fn idle(&self) -> bool {
        self.pending.is_empty() && self.backlog.is_empty()
    }

    /// Drops the socket's write half and whatever was not written yet.
    fn drop_writer(&mut self) {
        self.writer = None;
        self.connected.store(false, Ordering::Relaxed);
        self.write_buf = BytesMut::new();
        self.flush_waker = None;
    }

    /// Fails every waiting request at once and stops; the supervisor restarts us.
    fn break_connection(&mut self, cause: Break, ctx: &mut Context<Self>) {
        if self.writer.is_none() && self.idle() {
            ctx.stop();
            return;
        }
        let now = Instant::now();
        if self.writer.is_some() {
            let undecodable = match &cause {
                Break::Protocol(e) => Some(e.clone()),
                Break::Closed(_) => None,
            };
            if let Some(window) = self.health.disconnected(now, undecodable.is_some()) {
                self.window_cause = undecodable;
                // Died before it proved healthy: a failed connect, to the cluster.
                self.last_connect_error = format!(
                    "the last connection died before a healthy exchange ({cause}); retrying in {window:?}"
                );
            }
        }
        tracing::warn!(remote = %self.remote, %cause, pending = self.pending.len(), parked = self.backlog.len(), "disconnected");
        self.fail_all(&cause);
        self.drop_writer();
        ctx.stop();
    }

    fn fail_all(&mut self, cause: &Break) {
        // What was read before the break is answered as read, and before the actor ends.
        self.outbox.deliver();
        self.deadlines.clear();
        self.backlog_head += self.backlog.len() as u64;
        for (_, tx) in self.backlog.drain(..).flatten() {
            tx.send(Err(cause.error(&self.remote)));
        }
        for (_, p) in self.pending.drain() {
            p.tx.send(Err(cause.error(&self.remote)));
        }
        self.awaiting_since = None;
        self.notify_drained();
    }

    fn notify_drained(&mut self) {
        if self.idle() {
            for w in self.drain_waiters.drain(..) {
                let _ = w.send(());
            }
        }
    }

    /// A closed connection with nothing waiting stops (socket and timer dropped):
    /// its interval timer would otherwise keep the actor, and its socket, alive forever.
    fn stop_if_drained(&mut self, ctx: &mut Context<Self>) -> bool {
        if self.closed && self.idle() && ctx.state() == ActorState::Running {
            if let Some(w) = &self.writer {
                // Best effort for what is still buffered (responses, one-way frames).
                w.try_write(&self.write_buf);
            }
            self.drop_writer();
            ctx.stop();
            return true;
        }
        false
    }

    /// Answers every request (written or parked) whose deadline has passed with a timeout.
    fn expire_due(&mut self, now: Instant) {
        while let Some((deadline, waiter)) = self.deadlines.pop_due(now) {
            let tx = match waiter {
                // The opaque may have been answered (and even reused) since: match the deadline too.
                Waiter::Sent(opaque) => {
                    if self
                        .pending
                        .get(&opaque)
                        .is_some_and(|p| p.deadline == deadline)
                    {
                        self.pending.remove(&opaque).map(|p| p.tx)
                    } else {
                        None
                    }
                }
                // Dispatched since (then it is `Sent` too) or still parked.
                Waiter::Parked(seq) => self.parked(seq).and_then(Option::take).map(|(_, tx)| tx),
            };
            if let Some(tx) = tx {
                tx.send(Err(NetError::Timeout {
                    addr: self.remote.to_string(),
                }));
            }
        }
        // Answered entries at the front need not wait for the writer.
        while matches!(self.backlog.front(), Some(None)) {
            self.backlog.pop_front();
            self.backlog_head += 1;
        }
        if self.idle() {
            // Nothing waits: stale heap entries would only hold memory.
            self.deadlines.clear();
        }
        self.notify_drained();
    }

    /// Keeps one timer armed for the earliest deadline, so timeouts are exact.
    fn arm_deadline_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(at) = self.deadlines.rearm(Duration::ZERO) else {
            return;
        };
        if let Some(handle) = self.deadline_timer.take() {
            ctx.cancel_future(handle);
        }
        let delay = at.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(delay, move |act, ctx| {
            act.deadline_timer = None;
            act.deadlines.disarmed();
            act.expire_due(Instant::now());
            act.arm_deadline_timer(ctx);
        });
        self.deadline_timer = Some(handle);
    }

    /// Drops expired requests (their callers already gave up) and detects a dead peer.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        self.expire_due(now);
        if self.stop_if_drained(ctx) {
            return;
        }
        if std::mem::take(&mut self.frame_seen) && self.awaiting_since.is_some() {
            // Frames came in since the last sweep: the peer is alive as of now (give or take a tick).
            self.awaiting_since = Some(now);
        }
        if let Some(since) = self.awaiting_since {
            if self.writer.is_some() && now.duration_since(since) >= self.cfg.dead_peer_timeout {
                let reason = format!(
                    "no frame received for at least {:?} while requests waited",
                    now - since
                );
                self.break_connection(Break::Closed(reason), ctx);
            }
        }
    }
}

impl Actor for ConnectionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(CONNECTION_MAILBOX_CAPACITY);
        // Again after each restart, which cancelled it; the channel itself kept its frames.
        ctx.spawn(TakeSubmissions);
        if self.closed {
            // Restarted after a close: no timer, so the actor ends once its last handle is dropped.
            return;
        }
        ctx.spawn(DeliverReplies);
        self.outbox.deliverer = true;
        let tick = (self.cfg.dead_peer_timeout / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        ctx.run_interval(tick, |act, ctx| act.sweep(ctx));
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        self.fail_all(&Break::Closed("connection actor stopping".into()));
        Running::Stop
    }
}

impl Supervised for ConnectionActor {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.restarts += 1;
        // The restart cancelled the deliverer (`started` spawns another unless closed).
        self.outbox.deliverer = false;
        self.outbox.waker = None;
        self.drop_writer();
        // The restart dropped the timer, and handle ids restart too: a stale handle would block re-arming or cancel a new item.
        self.deadline_timer = None;
        self.deadlines.disarmed();
        self.fail_all(&Break::Closed("connection restarting".into()));
        tracing::info!(remote = %self.remote, restarts = self.restarts, "connection actor restarting");
    }
}

impl Handler<Request> for ConnectionActor {
    type Result = MessageResult<Request>;

    fn handle(&mut self, req: Request, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.accept(req, ReplySink::Oneshot(tx), ctx);
        MessageResult(rx)
    }
}

impl ConnectionActor {
    fn accept(&mut self, req: Request, tx: ReplySink, ctx: &mut Context<Self>) {
        if self.closed {
            // Closed by the client (broker left every route): retriable elsewhere, not a shutdown.
            tx.send(Err(NetError::Closed {
                addr: self.remote.to_string(),
                reason: "connection closed by the client".into(),
            }));
        } else if self.writer.is_some() {
            if self.backlog.is_empty() && self.write_buf.len() <= WRITE_BUFFER_LIMIT {
                self.dispatch(req, tx, ctx);
            } else {
                // Bounds the write buffer; bodies are shared, not copied, while parked.
                self.park(req, tx, ctx);
            }
        } else if self.health.backing_off(Instant::now()) {
            // Fail fast while backing off: the producer can try another broker now.
            tx.send(Err(self.connect_error()));
        } else {
            self.connect_then(req, tx, ctx);
        }
    }
}

impl Handler<SetInboundHandler> for ConnectionActor {
    type Result = ();
    fn handle(&mut self, msg: SetInboundHandler, _: &mut Context<Self>) {
        self.inbound = Some(msg.0);
    }
}

impl Handler<SetReconnectListener> for ConnectionActor {
    type Result = ();
    fn handle(&mut self, msg: SetReconnectListener, _: &mut Context<Self>) {
        self.reconnect_listener = Some(msg.0);
    }
}

impl Handler<Respond> for ConnectionActor {
    type Result = ();
    fn handle(&mut self, mut msg: Respond, _: &mut Context<Self>) {
        msg.0.flag |= FLAG_RESPONSE;
        self.buffer_response(&msg.0);
    }
}

impl Handler<Close> for ConnectionActor {
    type Result = MessageResult<Close>;
    fn handle(&mut self, _: Close, ctx: &mut Context<Self>) -> Self::Result {
        self.closed = true;
        let (tx, rx) = oneshot::channel();
        self.drain_waiters.push(tx);
        self.notify_drained();
        self.stop_if_drained(ctx);
        MessageResult(rx)
    }
}

impl Handler<GetStats> for ConnectionActor {
    type Result = MessageResult<GetStats>;
    fn handle(&mut self, _: GetStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(ConnectionStats {
            connected: self.writer.is_some(),
            pending: self.pending.len(),
            connects: self.connects,
            writes: self.writes,
            restarts: self.restarts,
            consecutive_failures: self.health.failures(),
            retry_in: self.health.retry_in(Instant::now()),
        })
    }
}

impl StreamHandler<Result<RemotingCommand, ProtocolError>> for ConnectionActor {
    fn handle(&mut self, item: Result<RemotingCommand, ProtocolError>, ctx: &mut Context<Self>) {
        let cmd = match item {
            Ok(cmd) => cmd,
            // A socket error is the connection's fault; anything else, the peer's bytes.
            Err(ProtocolError::Io { message, .. }) => {
                return self
                    .break_connection(Break::Closed(format!("read failed: {message}")), ctx);
            }
            Err(e) => return self.break_connection(Break::Protocol(e), ctx),
        };
        if cmd.is_response() {
            if let Some(p) = self.pending.remove(&cmd.opaque) {
                self.health.answered();
                self.outbox.push(p.tx, Ok(Some(cmd)));
            } else {
                tracing::debug!(remote = %self.remote, opaque = cmd.opaque, "response for no waiting request (timed out?)");
            }
            if self.pending.is_empty() {
                self.awaiting_since = None;
                if self.pending.capacity() > SHRINK_ABOVE {
                    // A burst is over: give back what its peak needed.
                    self.pending.shrink_to(0);
                    if self.backlog.is_empty() {
                        self.deadlines.clear_and_shrink();
                    }
                }
            } else {
                self.frame_seen = true;
            }
            self.notify_drained();
            return;
        }
        self.frame_seen = true;
        let connection = Connection {
            actor: ctx.address(),
            remote: self.remote.clone(),
            submit: self.submit_tx.as_ref().and_then(|w| w.upgrade()),
            connected: self.connected.clone(),
        };
        match &self.inbound {
            Some(handler) => {
                // Broker-initiated traffic, never user traffic: do_send cannot block the reader.
                handler.do_send(InboundRequest {
                    cmd,
                    remote: self.remote.clone(),
                    connection,
                });
            }
            None if !cmd.is_oneway() => {
                self.buffer_response(&RemotingCommand::not_supported(&cmd));
            }
            None => {}
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        self.break_connection(Break::Closed("closed by peer".into()), ctx);
    }
}

/// Writes the actor's buffer to the socket, all of it per write, and refills it
/// from the backlog. A full socket makes it return `Pending`, never `ctx.wait`:
/// the actor's timers and mailbox run while the peer does not read.
struct Flush {
    /// The connection (`connects` count) it writes for; it ends with it.
    connection: u64,
    /// How many times it let the other ready tasks run since the buffer filled.
    deferrals: u32,
    /// The buffer's length at the last deferral: it writes once a pass adds nothing.
    len_at_deferral: usize,
}

impl ActorFuture<ConnectionActor> for Flush {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut ConnectionActor,
        ctx: &mut Context<ConnectionActor>,
        task: &mut TaskContext<'_>,
    ) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let Some(writer) = act.writer.as_mut() else {
                return Poll::Ready(());
            };
            if act.connects != this.connection {
                return Poll::Ready(());
            }
            if act.write_buf.is_empty() {
                // TLS keeps records written but not yet sent: push them out (a plain
                // socket has nothing to flush).
                match Pin::new(&mut *writer).poll_flush(task) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        act.break_connection(Break::Closed(format!("flush failed: {e}")), ctx);
                        return Poll::Ready(());
                    }
                }
                this.deferrals = 0;
                if !act
                    .flush_waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(task.waker()))
                {
                    act.flush_waker = Some(task.waker().clone());
                }
                return Poll::Pending;
            }
            let len = act.write_buf.len();
            let growing = this.deferrals == 0 || len > this.len_at_deferral;
            if growing && this.deferrals < MAX_FLUSH_DEFERRALS && len < FLUSH_EARLY_AT {
                // Yield while frames keep coming: the tasks already woken (replies
                // being handled, new sends) add theirs first, so one write carries
                // them all. A lone request waits one pass, as before.
                this.deferrals += 1;
                this.len_at_deferral = len;
                task.waker().wake_by_ref();
                return Poll::Pending;
            }
            // Until the buffer empties, whatever is left is written at once.
            this.deferrals = MAX_FLUSH_DEFERRALS;
            let reason = match Pin::new(writer).poll_write(task, &act.write_buf) {
                // The socket registered our waker.
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => "write failed: the socket took no bytes".to_string(),
                Poll::Ready(Ok(n)) => {
                    act.write_buf.advance(n);
                    if act.write_buf.is_empty() {
                        // Back to the start of the allocation while nothing is left
                        // to move: else frames appended later shift the unwritten
                        // bytes forward whenever the allocation's tail is reached.
                        act.write_buf.reserve(WRITE_RECLAIM);
                    }
                    act.writes += 1;
                    act.drain_backlog(ctx);
                    continue;
                }
                Poll::Ready(Err(e)) => format!("write failed: {e}"),
            };
            act.break_connection(Break::Closed(reason), ctx);
            return Poll::Ready(());
        }
    }
}

/// Scheduler passes a flush waits at most for more frames before it writes.
const MAX_FLUSH_DEFERRALS: u32 = 8;

/// Buffered bytes that are written without waiting for more.
const FLUSH_EARLY_AT: usize = 64 * 1024;

/// Room a drained write buffer takes back from its allocation (copying nothing,
/// once the allocation has grown to it): what one write carries, plus a frame.
const WRITE_RECLAIM: usize = FLUSH_EARLY_AT + HEADER_ALLOWANCE;

/// Frames taken from the submission channel per turn, so a busy channel cannot starve the rest.
const SUBMISSIONS_PER_TURN: usize = 512;

/// Hands the responses read in a pass to their channels, a batch per channel,
/// on the actor's next pass (the first response of a pass wakes it).
struct DeliverReplies;

impl ActorFuture<ConnectionActor> for DeliverReplies {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut ConnectionActor,
        _: &mut Context<ConnectionActor>,
        task: &mut TaskContext<'_>,
    ) -> Poll<()> {
        act.outbox.deliver();
        if !act
            .outbox
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(task.waker()))
        {
            act.outbox.waker = Some(task.waker().clone());
        }
        Poll::Pending
    }
}

/// Takes [`Submit`]s from the submission channel like mailbox messages: in
/// order, and not while the actor waits (connecting).
struct TakeSubmissions;

impl ActorFuture<ConnectionActor> for TakeSubmissions {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut ConnectionActor,
        ctx: &mut Context<ConnectionActor>,
        task: &mut TaskContext<'_>,
    ) -> Poll<()> {
        for _ in 0..SUBMISSIONS_PER_TURN {
            if ctx.waiting() {
                // A connect holds the actor: take the rest once it is done, in order.
                task.waker().wake_by_ref();
                return Poll::Pending;
            }
            let Some(rx) = act.submissions.as_mut() else {
                return Poll::Ready(());
            };
            match rx.poll_recv(task) {
                Poll::Ready(Some(msg)) => {
                    let (req, reply) = msg.into_parts();
                    act.accept(req, reply, ctx);
                }
                // Every handle is gone: nothing more can arrive.
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        task.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for ConnectionActor {
    fn drop(&mut self) {
        // Frames submitted after the actor's last turn still get their one reply.
        if let Some(rx) = self.submissions.as_mut() {
            rx.close();
            while let Ok(msg) = rx.try_recv() {
                msg.reply.send(Err(NetError::Closed {
                    addr: self.remote.to_string(),
                    reason: "connection actor stopped".into(),
                }));
            }
        }
    }
}

/// A cheap, cloneable handle to a `ConnectionActor`: what everyone else holds.
#[derive(Clone)]
pub struct Connection {
    actor: Addr<ConnectionActor>,
    remote: Arc<str>,
    /// The actor's submission channel (`None` only for handles made while it ends).
    submit: Option<mpsc::UnboundedSender<Submit>>,
    /// Whether a TCP connection is open now, as the actor last set it.
    connected: Arc<AtomicBool>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("remote", &self.remote)
            .finish()
    }
}

impl Connection {
    /// The remote address, `host:port`.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// Whether the actor holds an open connection now (a timed-out send was
    /// then waiting for the reply, else for a connection).
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// The actor behind this handle.
    pub fn actor(&self) -> &Addr<ConnectionActor> {
        &self.actor
    }

    /// Sends `cmd` and waits for its response until `deadline`, mailbox wait included.
    pub async fn request(
        &self,
        cmd: RemotingCommand,
        deadline: Instant,
    ) -> Result<RemotingCommand, NetError> {
        match self.call(cmd, deadline, false).await? {
            Some(resp) => Ok(resp),
            None => Err(NetError::Closed {
                addr: self.remote.to_string(),
                reason: "no response".into(),
            }),
        }
    }

    /// Writes `cmd` as a one-way frame (no response expected).
    pub async fn oneway(&self, cmd: RemotingCommand, deadline: Instant) -> Result<(), NetError> {
        self.call(cmd, deadline, true).await.map(|_| ())
    }

    async fn call(&self, cmd: RemotingCommand, deadline: Instant, oneway: bool) -> Reply {
        let timeout = || NetError::Timeout {
            addr: self.remote.to_string(),
        };
        let fut = async {
            let rx = self
                .actor
                .send(Request {
                    cmd,
                    deadline,
                    oneway,
                })
                .await
                .map_err(|_| NetError::Shutdown)?;
            rx.await.unwrap_or_else(|_| {
                Err(NetError::Closed {
                    addr: self.remote.to_string(),
                    reason: "connection actor restarted".into(),
                })
            })
        };
        tokio::time::timeout_at(deadline, fut)
            .await
            .unwrap_or_else(|_| Err(timeout()))
    }

    /// Hands `msg` to the connection without waiting; its reply goes to `msg.reply`
    /// (at once, with [`NetError::Closed`], if the actor has stopped). Unbounded:
    /// callers bound what they have in flight (the producer's `max_in_flight`).
    pub fn submit(&self, msg: Submit) {
        let Some(tx) = &self.submit else {
            return self.closed_reply(msg);
        };
        if let Err(mpsc::error::SendError(msg)) = tx.send(msg) {
            self.closed_reply(msg);
        }
    }

    fn closed_reply(&self, msg: Submit) {
        msg.reply.send(Err(NetError::Closed {
            addr: self.remote.to_string(),
            reason: "connection actor stopped".into(),
        }));
    }

    /// Stops taking requests and waits (until `deadline`) for waiting ones to be answered.
    pub async fn close(&self, deadline: Instant) {
        if let Ok(rx) = self.actor.send(Close).await {
            let _ = tokio::time::timeout_at(deadline, rx).await;
        }
    }

    /// The actor's counters, or `None` once it has stopped.
    pub async fn stats(&self) -> Option<ConnectionStats> {
        self.actor.send(GetStats).await.ok()
    }

    /// Registers the handler of requests this remote initiates.
    pub fn set_inbound_handler(&self, handler: Recipient<InboundRequest>) {
        self.actor.do_send(SetInboundHandler(handler));
    }

    /// Registers who hears of each reconnection ([`Reconnected`]).
    pub fn set_reconnect_listener(&self, listener: Recipient<Reconnected>) {
        self.actor.do_send(SetReconnectListener(listener));
    }

    /// Answers a request the remote initiated.
    pub fn respond(&self, resp: RemotingCommand) {
        self.actor.do_send(Respond(resp));
    }
}
