//! `ConnectionActor`: one TCP connection to one remote (name server or broker).
//!
//! Requests are pipelined and matched by opaque; every waiting caller gets its
//! response, a timeout, or an error the moment the connection breaks. The actor
//! runs under an actix `Supervisor`: a broken connection stops it, the
//! supervisor restarts it (mailbox and submission channel intact) and the next
//! request reconnects, after an exponential backoff with jitter when connecting
//! failed or the connection died before it proved healthy ([`ReconnectPolicy`]).
//! Frames go through the actor's own write buffer, flushed by a context item
//! that never blocks the actor: while a peer stops reading, deadlines, the
//! dead-peer check and the mailbox keep running.
//!
//! This file holds the actor: its lifecycle, how a request is accepted and
//! dispatched, and the read side. Requests come in one way only, through the
//! submission channel of its [`Connection`] handles (`handle.rs`); the mailbox
//! carries control messages. The parts it owns live next door: the write
//! buffer and parked requests (`writer.rs`), the requests waiting for a
//! response and their deadlines (`pending.rs`), connecting and the backoff
//! window (`connect.rs`).
//!
//! [`ReconnectPolicy`]: crate::runtime::ReconnectPolicy
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::task::{Context as TaskContext, Poll};
use std::thread::ThreadId;
use std::time::Duration;

use actix::prelude::*;
use futures::channel::oneshot;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::error::NetError;
use super::live::{self, LiveGuard};
use super::reconnect::ReconnectPolicy;
use super::tls::TlsConfig;
use crate::protocol::acl::{AclCredentials, sign};
use crate::protocol::command::FLAG_RESPONSE;
use crate::protocol::frame::DEFAULT_MAX_FRAME_LEN;
use crate::protocol::{ProtocolError, RemotingCommand};

mod connect;
mod handle;
mod pending;
mod writer;

use connect::{Break, Link};
pub use handle::Connection;
use pending::{PendingTable, Waiter};
use writer::{Backlog, WriteBuffer};

/// The mailbox carries control messages only (requests use the submission
/// channel); callers of `send` wait when it is full: a bound, not a buffer.
const CONNECTION_MAILBOX_CAPACITY: usize = 1024;

/// Read buffer: one read takes a few hundred pipelined responses (8 KiB took ~30).
const READ_BUFFER_CAPACITY: usize = 64 * 1024;

/// Room kept for the header when checking a body against the frame limit.
const HEADER_ALLOWANCE: usize = 64 * 1024;

/// Frames taken from the submission channel per turn, so a busy channel cannot starve the rest.
const SUBMISSIONS_PER_TURN: usize = 512;

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

/// A request (or one-way frame) for the remote, handed over with
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
pub(crate) struct SetInboundHandler(pub(crate) Recipient<InboundRequest>);

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
pub(crate) struct SetReconnectListener(pub(crate) Recipient<Reconnected>);

impl Message for SetReconnectListener {
    type Result = ();
}

/// Writes a response frame to a request the remote initiated.
pub(crate) struct Respond(pub(crate) RemotingCommand);

impl Message for Respond {
    type Result = ();
}

/// Stops taking requests; the receiver fires once every waiting request is answered.
pub(crate) struct Close;

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
pub(crate) struct GetStats;

impl Message for GetStats {
    type Result = ConnectionStats;
}

/// The actor owning one connection; see the module docs.
pub struct ConnectionActor {
    remote: Arc<str>,
    cfg: ConnectionConfig,
    /// The socket's write half and the encoded frames waiting for it.
    writer: WriteBuffer,
    /// Requests waiting for room in the write buffer.
    parked: Backlog,
    /// Requests written and waiting for their response, and every deadline.
    pending: PendingTable,
    /// Connecting: the backoff window and why the last attempt failed.
    link: Link,
    inbound: Option<Recipient<InboundRequest>>,
    reconnect_listener: Option<Recipient<Reconnected>>,
    restarts: u64,
    closed: bool,
    drain_waiters: Vec<oneshot::Sender<()>>,
    /// Where requests arrive from the [`Connection`] handles; kept across restarts.
    submissions: mpsc::UnboundedReceiver<Submit>,
    /// For the `Connection` handles the actor makes itself (weak: the channel
    /// must close once every outside handle is gone, or the actor would never end).
    submit_tx: mpsc::WeakUnboundedSender<Submit>,
    _live: LiveGuard,
}

impl ConnectionActor {
    /// An actor for `remote` (`host:port`) taking requests from `submissions`;
    /// it connects on the first request.
    fn new(
        remote: Arc<str>,
        cfg: ConnectionConfig,
        submissions: mpsc::UnboundedReceiver<Submit>,
        submit_tx: mpsc::WeakUnboundedSender<Submit>,
        connected: Arc<AtomicBool>,
    ) -> Self {
        ConnectionActor {
            remote,
            writer: WriteBuffer::new(cfg.max_frame_len, connected),
            parked: Backlog::default(),
            pending: PendingTable::default(),
            link: Link::new(cfg.reconnect.clone()),
            cfg,
            inbound: None,
            reconnect_listener: None,
            restarts: 0,
            closed: false,
            drain_waiters: Vec::new(),
            submissions,
            submit_tx,
            _live: LiveGuard::new(&live::CONNECTIONS),
        }
    }

    /// Starts a supervised actor with `start`, wired to its submission channel.
    fn start_with(
        remote: Arc<str>,
        cfg: ConnectionConfig,
        home: Option<ThreadId>,
        start: impl FnOnce(Box<dyn FnOnce(&mut Context<Self>) -> Self + Send>) -> Addr<Self>,
    ) -> Connection {
        let (tx, rx) = mpsc::unbounded_channel();
        let weak = tx.downgrade();
        let r = remote.clone();
        let connected = Arc::new(AtomicBool::new(false));
        let flag = connected.clone();
        let actor = start(Box::new(move |_| {
            ConnectionActor::new(r, cfg, rx, weak, flag)
        }));
        Connection::new(actor, remote, Some(tx), connected, home)
    }

    /// Starts a supervised connection actor on the current arbiter.
    pub fn start_supervised(remote: impl Into<Arc<str>>, cfg: ConnectionConfig) -> Connection {
        let home = Some(std::thread::current().id());
        Self::start_with(remote.into(), cfg, home, Supervisor::start)
    }

    /// Starts a supervised connection actor on `arbiter`.
    pub fn start_supervised_in(
        arbiter: &ArbiterHandle,
        remote: impl Into<Arc<str>>,
        cfg: ConnectionConfig,
    ) -> Connection {
        Self::start_with(remote.into(), cfg, None, |f| {
            Supervisor::start_in_arbiter(arbiter, f)
        })
    }

    /// A request from the submission channel: dispatched, parked, failed fast,
    /// or held until a connect settles.
    fn accept(&mut self, msg: Submit, ctx: &mut Context<Self>) {
        if self.closed {
            // Closed by the client (broker left every route): retriable elsewhere, not a shutdown.
            msg.reply.send(Err(NetError::Closed {
                addr: self.remote.to_string(),
                reason: "connection closed by the client".into(),
            }));
        } else if self.writer.is_open() {
            if self.parked.is_empty() && self.writer.has_room() {
                self.dispatch(msg, ctx);
            } else {
                // Bounds the write buffer; bodies are shared, not copied, while parked.
                self.park(msg, ctx);
            }
        } else if self.link.backing_off(Instant::now()) {
            // Fail fast while backing off: the producer can try another broker now.
            msg.reply.send(Err(self.link.error(&self.remote)));
        } else {
            self.connect_then(msg, ctx);
        }
    }

    /// Signs, encodes and (unless one-way) records `msg` as waiting for its response.
    fn dispatch(&mut self, mut msg: Submit, ctx: &mut Context<Self>) {
        if !self.writer.is_open() {
            msg.reply.send(Err(self.link.error(&self.remote)));
            return;
        }
        if let Some(acl) = &self.cfg.acl {
            // At the last moment: each attempt's fields differ, so does its signature.
            sign(&mut msg.cmd, acl);
        }
        if msg.cmd.body.len() + HEADER_ALLOWANCE > self.cfg.max_frame_len {
            let err = ProtocolError::FrameTooLarge {
                len: msg.cmd.body.len() + HEADER_ALLOWANCE,
                max: self.cfg.max_frame_len,
            };
            msg.reply.send(Err(NetError::Encode {
                addr: self.remote.to_string(),
                source: err,
            }));
            return;
        }
        if msg.oneway {
            msg.cmd.mark_oneway();
            let res = self.writer.encode(&msg.cmd, &self.remote).map(|()| None);
            msg.reply.send(res);
            return;
        }
        let opaque = self.pending.next_opaque();
        msg.cmd.opaque = opaque;
        if let Err(e) = self.writer.encode(&msg.cmd, &self.remote) {
            msg.reply.send(Err(e));
            return;
        }
        self.pending
            .insert(opaque, msg.reply, msg.deadline, &self.parked, ctx);
    }

    /// Writes a frame nobody waits for (a response to the remote), if connected.
    fn buffer_response(&mut self, resp: &RemotingCommand) {
        if self.writer.is_open() {
            if let Err(e) = self.writer.encode(resp, &self.remote) {
                tracing::warn!(remote = %self.remote, error = %e, "response not written");
            }
        }
    }

    /// Parks a request until the write buffer has room; its deadline still applies.
    fn park(&mut self, msg: Submit, ctx: &mut Context<Self>) {
        let deadline = msg.deadline;
        let seq = self.parked.push(msg);
        self.pending
            .push_deadline(deadline, Waiter::Parked(seq), &self.parked, ctx);
    }

    /// Dispatches parked requests, in order, while the write buffer has room.
    fn drain_backlog(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        while self.writer.has_room() {
            let Some(slot) = self.parked.pop_front() else {
                break;
            };
            let Some(msg) = slot else {
                continue; // answered at its deadline
            };
            if msg.deadline <= now {
                // Its caller has given up: writing it would only load the broker.
                msg.reply.send(Err(NetError::Timeout {
                    addr: self.remote.to_string(),
                }));
                continue;
            }
            self.dispatch(msg, ctx);
        }
    }

    /// Nothing waits for an answer: neither written nor parked requests.
    fn idle(&self) -> bool {
        self.pending.is_empty() && self.parked.is_empty()
    }

    /// Fails every waiting request at once and stops; the supervisor restarts us.
    fn break_connection(&mut self, cause: Break, ctx: &mut Context<Self>) {
        if !self.writer.is_open() && self.idle() {
            ctx.stop();
            return;
        }
        if self.writer.is_open() {
            self.link.broke(&cause, Instant::now());
        }
        tracing::warn!(remote = %self.remote, %cause, pending = self.pending.len(), parked = self.parked.len(), "disconnected");
        self.fail_all(&cause);
        self.close_writer(true);
        ctx.stop();
    }

    fn fail_all(&mut self, cause: &Break) {
        let remote = &self.remote;
        self.pending
            .fail_all(&mut self.parked, || cause.error(remote));
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
            self.writer.try_write_rest();
            self.close_writer(false);
            ctx.stop();
            return true;
        }
        false
    }

    /// Answers every request (written or parked) whose deadline has passed with a timeout.
    fn expire_due(&mut self, now: Instant) {
        self.pending.expire_due(now, &mut self.parked, &self.remote);
        self.notify_drained();
    }

    /// Drops expired requests (their callers already gave up) and detects a dead peer.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        self.expire_due(now);
        if self.stop_if_drained(ctx) {
            return;
        }
        if let Some(silent) = self.pending.silent_for(now) {
            if self.writer.is_open() && silent >= self.cfg.dead_peer_timeout {
                let reason =
                    format!("no frame received for at least {silent:?} while requests waited");
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
        self.pending.start_delivering(ctx);
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
        // The restart cancelled the deliverer and the deadline timer (`started` spawns a deliverer unless closed).
        self.pending.restarted();
        self.close_writer(true);
        self.fail_all(&Break::Closed("connection restarting".into()));
        tracing::info!(remote = %self.remote, restarts = self.restarts, "connection actor restarting");
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
            connected: self.writer.is_open(),
            pending: self.pending.len(),
            connects: self.link.connects(),
            writes: self.writer.writes(),
            restarts: self.restarts,
            consecutive_failures: self.link.failures(),
            retry_in: self.link.retry_in(Instant::now()),
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
            let opaque = cmd.opaque;
            if self.pending.answer(cmd, &self.parked) {
                self.link.answered();
            } else {
                tracing::debug!(remote = %self.remote, opaque, "response for no waiting request (timed out?)");
            }
            self.notify_drained();
            return;
        }
        self.pending.frame_seen();
        let connection = Connection::new(
            ctx.address(),
            self.remote.clone(),
            self.submit_tx.upgrade(),
            self.writer.connected_flag(),
            Some(std::thread::current().id()),
        );
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
            match act.submissions.poll_recv(task) {
                Poll::Ready(Some(msg)) => act.accept(msg, ctx),
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
        self.close_writer(false);
        // Frames submitted after the actor's last turn still get their one reply.
        let rx = &mut self.submissions;
        rx.close();
        while let Ok(msg) = rx.try_recv() {
            msg.reply.send(Err(NetError::Closed {
                addr: self.remote.to_string(),
                reason: "connection actor stopped".into(),
            }));
        }
    }
}
