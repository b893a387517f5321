//! The machinery shared by the fake name server and brokers: listener
//! supervision, one task per connection, fault application and capture.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::{Decoder, Encoder, Framed};

use super::broker::{self, BrokerCore};
use super::faults::{Fault, FaultAction, FaultId, FaultTable, SEND_CODES};
use super::nameserver;
use super::null::{NullReply, NullSend, null_send_of, peek_send};
use super::{ClusterState, TestkitError};
use crate::protocol::command::{FLAG_ONEWAY, RemotingCommand};
use crate::protocol::{ProtocolError, RemotingCodec, response_code};

/// `version` the test servers put in their frames: RocketMQ-Rust 1.0's (V5_3_1_SNAPSHOT).
pub const SERVER_VERSION: i32 = 474;

/// A poisoned lock only means a test thread panicked; the data is still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A response to `req` as the RocketMQ-Rust servers write it (JSON header).
pub(crate) fn response(
    req: &RemotingCommand,
    code: i32,
    remark: Option<String>,
) -> RemotingCommand {
    let mut r = RemotingCommand::response(code, req.opaque, remark);
    r.version = SERVER_VERSION;
    r
}

/// One accepted connection of a test server, numbered from 1 per server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection #{}", self.0)
    }
}

/// A frame a server received: a request, or a client's response to a
/// server-initiated request ([`ReceivedRequest::is_response`]).
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// The connection it came on.
    pub connection: ConnectionId,
    /// The decoded frame.
    pub command: RemotingCommand,
    /// When it was received.
    pub at: Instant,
}

impl ReceivedRequest {
    /// The request (or response) code.
    pub fn code(&self) -> i32 {
        self.command.code
    }
    /// An extFields value of the frame, if present.
    pub fn ext(&self, key: &str) -> Option<&str> {
        self.command.ext(key)
    }
    /// The frame's body.
    pub fn body(&self) -> &Bytes {
        &self.command.body
    }
    /// `true` for a client's response to a server-initiated request.
    pub fn is_response(&self) -> bool {
        self.command.is_response()
    }
}

/// An open connection as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The server's number for it.
    pub id: ConnectionId,
    /// The client's address.
    pub peer: SocketAddr,
    /// `clientID` of the last heartbeat on this connection.
    pub client_id: Option<String>,
    /// Producer groups heartbeated on this connection (minus unregistered ones).
    pub producer_groups: BTreeSet<String>,
}

/// How a server's listener treats new connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AcceptMode {
    /// Serve them.
    #[default]
    Accept,
    /// Accept, then close at once (the client sees EOF after connecting).
    AcceptAndClose,
    /// Close the listener: connecting fails with "connection refused".
    Refuse,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mode {
    pub(crate) frozen: bool,
    pub(crate) idle_timeout: Option<Duration>,
}

pub(crate) enum Role {
    NameServer,
    Broker(Arc<BrokerCore>),
}

enum ConnCmd {
    Send(Outgoing),
    Close,
}

pub(crate) struct ConnEntry {
    peer: SocketAddr,
    tx: mpsc::UnboundedSender<ConnCmd>,
    pub(crate) client_id: Option<String>,
    pub(crate) groups: BTreeSet<String>,
}

/// Mutable per-server state, behind one lock (this is the fake server; locks are fine here).
#[derive(Default)]
pub(crate) struct ServerState {
    pub(crate) received: Vec<ReceivedRequest>,
    faults: FaultTable,
    pub(crate) conns: BTreeMap<ConnectionId, ConnEntry>,
    accepted: usize,
    rejected: usize,
    malformed: usize,
    pending: HashMap<i32, (ConnectionId, oneshot::Sender<RemotingCommand>)>,
}

enum Ctl {
    Stop(oneshot::Sender<()>),
    Start(oneshot::Sender<io::Result<()>>),
    Accept(AcceptMode, oneshot::Sender<io::Result<()>>),
}

pub(crate) struct ServerCore {
    pub(crate) role: Role,
    pub(crate) addr: SocketAddr,
    pub(crate) cluster: Arc<Mutex<ClusterState>>,
    pub(crate) state: Mutex<ServerState>,
    mode: watch::Sender<Mode>,
    /// Mirror of the fault-rule count, so requests skip the lock when there are none.
    fault_count: AtomicUsize,
    next_conn: AtomicU64,
    next_opaque: AtomicI32,
    notify: Notify,
    ctl: mpsc::UnboundedSender<Ctl>,
    /// Every connection speaks TLS (handshake first) when set.
    tls: Option<TlsAcceptor>,
}

impl ServerCore {
    fn push(&self, id: ConnectionId, out: Outgoing) -> Result<(), TestkitError> {
        let tx = lock(&self.state)
            .conns
            .get(&id)
            .map(|c| c.tx.clone())
            .ok_or(TestkitError::NoSuchConnection(id))?;
        tx.send(ConnCmd::Send(out))
            .map_err(|_| TestkitError::NoSuchConnection(id))
    }

    fn next_opaque(&self) -> i32 {
        self.next_opaque.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a server-initiated request on the connection of client `client_id`
    /// (the last one that heartbeated with it) without waiting for its answer,
    /// which shows up in `received`; `false` when no connection has that client.
    pub(crate) fn request_client(&self, client_id: &str, mut cmd: RemotingCommand) -> bool {
        let conn = lock(&self.state)
            .conns
            .iter()
            .filter(|(_, c)| c.client_id.as_deref() == Some(client_id))
            .map(|(id, _)| *id)
            .max();
        let Some(conn) = conn else {
            return false;
        };
        cmd.opaque = self.next_opaque();
        cmd.flag = 0;
        self.push(conn, Outgoing::Cmd(cmd)).is_ok()
    }
}

/// Binds `addr` with SO_REUSEADDR so a restarted server gets its old port back.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Starts a server on `listener`; the returned task owns the listener and every connection.
pub(crate) fn spawn_server(
    role: Role,
    listener: TcpListener,
    cluster: Arc<Mutex<ClusterState>>,
    idle_timeout: Option<Duration>,
    tls: Option<TlsAcceptor>,
) -> io::Result<(Arc<ServerCore>, tokio::task::JoinHandle<()>)> {
    let addr = listener.local_addr()?;
    let (ctl, ctl_rx) = mpsc::unbounded_channel();
    let (mode, _) = watch::channel(Mode {
        frozen: false,
        idle_timeout,
    });
    let core = Arc::new(ServerCore {
        role,
        addr,
        cluster,
        state: Mutex::new(ServerState::default()),
        mode,
        fault_count: AtomicUsize::new(0),
        next_conn: AtomicU64::new(1),
        next_opaque: AtomicI32::new(0),
        notify: Notify::new(),
        ctl,
        tls,
    });
    let task = tokio::spawn(supervise(core.clone(), listener, ctl_rx));
    Ok((core, task))
}

async fn accept_on(listener: Option<&TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Owns the listener and the connection tasks: aborting it closes everything.
async fn supervise(
    core: Arc<ServerCore>,
    listener: TcpListener,
    mut ctl_rx: mpsc::UnboundedReceiver<Ctl>,
) {
    let mut listener = Some(listener);
    let mut accept_mode = AcceptMode::Accept;
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            ctl = ctl_rx.recv() => match ctl {
                None => break,
                Some(Ctl::Stop(ack)) => {
                    listener = None;
                    conns.abort_all();
                    // Wait for the aborted tasks so their guards have deregistered them.
                    while conns.join_next().await.is_some() {}
                    let _ = ack.send(());
                }
                Some(Ctl::Start(ack)) => {
                    accept_mode = AcceptMode::Accept;
                    core.mode.send_modify(|m| m.frozen = false);
                    let _ = ack.send(ensure_listening(&core, &mut listener));
                }
                Some(Ctl::Accept(mode, ack)) => {
                    let previous = std::mem::replace(&mut accept_mode, mode);
                    let res = if mode == AcceptMode::Refuse {
                        if let Some(l) = listener.take() {
                            // Clients in the backlog already see an open connection: serve them, don't reset them.
                            while let Some(Ok((stream, peer))) = l.accept().now_or_never() {
                                admit(&core, previous, stream, peer, &mut conns);
                            }
                        }
                        Ok(())
                    } else {
                        ensure_listening(&core, &mut listener)
                    };
                    let _ = ack.send(res);
                }
            },
            accepted = accept_on(listener.as_ref()) => match accepted {
                Ok((stream, peer)) => admit(&core, accept_mode, stream, peer, &mut conns),
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::debug!(addr = %core.addr, error = %e, "test server accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

fn admit(
    core: &Arc<ServerCore>,
    mode: AcceptMode,
    stream: TcpStream,
    peer: SocketAddr,
    conns: &mut JoinSet<()>,
) {
    if mode == AcceptMode::AcceptAndClose {
        lock(&core.state).rejected += 1;
        drop(stream);
    } else {
        start_connection(core, stream, peer, conns);
    }
}

fn ensure_listening(core: &ServerCore, listener: &mut Option<TcpListener>) -> io::Result<()> {
    if listener.is_none() {
        *listener = Some(bind(core.addr)?);
    }
    Ok(())
}

fn start_connection(
    core: &Arc<ServerCore>,
    stream: TcpStream,
    peer: SocketAddr,
    conns: &mut JoinSet<()>,
) {
    let id = ConnectionId(core.next_conn.fetch_add(1, Ordering::Relaxed));
    let (tx, rx) = mpsc::unbounded_channel();
    {
        let mut st = lock(&core.state);
        st.accepted += 1;
        st.conns.insert(
            id,
            ConnEntry {
                peer,
                tx,
                client_id: None,
                groups: BTreeSet::new(),
            },
        );
    }
    let conn = Conn {
        core: core.clone(),
        id,
        peer,
        delayed: FuturesUnordered::new(),
    };
    let _ = stream.set_nodelay(true);
    match core.tls.clone() {
        None => {
            conns.spawn(conn.run(stream, rx));
        }
        Some(acceptor) => {
            conns.spawn(async move {
                match acceptor.accept(stream).await {
                    Ok(tls) => conn.run(tls, rx).await,
                    // A client without TLS, or one that refused our certificate.
                    Err(e) => tracing::debug!(error = %e, "test server TLS handshake failed"),
                }
            });
        }
    }
}

// ---------------------------------------------------------------------------
// Wire codec: RemotingCodec for reading; commands, raw bytes or the
// precomputed null-broker reply for writing.
// ---------------------------------------------------------------------------

pub(crate) enum Outgoing {
    Cmd(RemotingCommand),
    Raw(Bytes),
    NullOk(NullSend),
}

/// A decoded frame, or (null mode) just what the null reply to a send needs.
enum Incoming {
    Cmd(RemotingCommand),
    NullSend(NullSend),
}

struct WireCodec {
    inner: RemotingCodec,
    null: Option<Arc<NullReply>>,
    /// Set for null brokers: sends skip the full decode while no fault rule is active.
    fast: Option<Arc<ServerCore>>,
}

impl Decoder for WireCodec {
    type Item = Incoming;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, ProtocolError> {
        if let Some(core) = &self.fast {
            if core.fault_count.load(Ordering::Acquire) == 0 {
                if let Some((len, send)) = peek_send(src, self.inner.max_frame_len()) {
                    src.advance(len);
                    return Ok(Some(Incoming::NullSend(send)));
                }
            }
        }
        Ok(self.inner.decode(src)?.map(Incoming::Cmd))
    }
}

impl Encoder<Outgoing> for WireCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: Outgoing, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match item {
            Outgoing::Cmd(cmd) => self.inner.encode(&cmd, dst),
            Outgoing::Raw(bytes) => {
                dst.put_slice(&bytes);
                Ok(())
            }
            Outgoing::NullOk(send) => match &self.null {
                Some(null) => {
                    null.write(send, dst);
                    Ok(())
                }
                None => Err(ProtocolError::MalformedFrame(
                    "null reply on a server without null mode".into(),
                )),
            },
        }
    }
}

// ---------------------------------------------------------------------------
// One connection
// ---------------------------------------------------------------------------

type Delayed = Pin<Box<dyn Future<Output = Outgoing> + Send>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

enum Next {
    Nothing,
    Reply(Outgoing),
    Close,
}

/// Removes the connection from the server state however its task ends (also on abort).
struct ConnGuard {
    core: Arc<ServerCore>,
    id: ConnectionId,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut st = lock(&self.core.state);
        st.conns.remove(&self.id);
        // Dropping the senders tells waiting `request` callers the connection is gone.
        st.pending.retain(|_, (c, _)| *c != self.id);
    }
}

struct Conn {
    core: Arc<ServerCore>,
    id: ConnectionId,
    peer: SocketAddr,
    delayed: FuturesUnordered<Delayed>,
}

/// Frames handled back to back before the connection flushes and looks at other events.
const DRAIN_BUDGET: usize = 64;

impl Conn {
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        mut self,
        stream: S,
        mut rx: mpsc::UnboundedReceiver<ConnCmd>,
    ) {
        let _guard = ConnGuard {
            core: self.core.clone(),
            id: self.id,
        };
        let (null, fast) = match &self.core.role {
            Role::Broker(b) if b.null_mode => (b.null.clone(), Some(self.core.clone())),
            _ => (None, None),
        };
        let mut framed = Framed::new(
            stream,
            WireCodec {
                inner: RemotingCodec::default(),
                null,
                fast,
            },
        );
        let mut mode_rx = self.core.mode.subscribe();
        let mut last_activity = tokio::time::Instant::now();
        loop {
            let mode = *mode_rx.borrow_and_update();
            let idle_deadline = match mode.idle_timeout {
                Some(t) if !mode.frozen => Some(last_activity + t),
                _ => None,
            };
            let flow = tokio::select! {
                changed = mode_rx.changed() => {
                    if changed.is_err() { Flow::Close } else { Flow::Continue }
                }
                cmd = rx.recv() => match cmd {
                    Some(ConnCmd::Send(out)) => {
                        last_activity = tokio::time::Instant::now();
                        send_now(&mut framed, out).await
                    }
                    Some(ConnCmd::Close) | None => Flow::Close,
                },
                Some(out) = self.delayed.next(), if !mode.frozen && !self.delayed.is_empty() => {
                    last_activity = tokio::time::Instant::now();
                    send_now(&mut framed, out).await
                }
                frame = framed.next(), if !mode.frozen => {
                    last_activity = tokio::time::Instant::now();
                    self.on_read(frame, &mut framed, &mode_rx).await
                }
                _ = idle(idle_deadline), if idle_deadline.is_some() => {
                    tracing::debug!(conn = %self.id, "test server closes an idle connection");
                    Flow::Close
                }
            };
            if flow == Flow::Close {
                // Replies already queued (earlier pipelined requests) still go out.
                let _ = framed.flush().await;
                break;
            }
        }
    }

    /// Handles one read result, then whatever further frames are already buffered.
    async fn on_read(
        &mut self,
        first: Option<Result<Incoming, ProtocolError>>,
        framed: &mut Framed<impl AsyncRead + AsyncWrite + Unpin, WireCodec>,
        mode_rx: &watch::Receiver<Mode>,
    ) -> Flow {
        let mut next = Some(first);
        let mut budget = DRAIN_BUDGET;
        while let Some(frame) = next.take() {
            let flow = match frame {
                None => Flow::Close,
                Some(Err(e)) => {
                    tracing::debug!(conn = %self.id, error = %e, "test server got a bad frame");
                    lock(&self.core.state).malformed += 1;
                    Flow::Close
                }
                Some(Ok(incoming)) => match self.process(incoming) {
                    Next::Nothing => Flow::Continue,
                    Next::Close => Flow::Close,
                    Next::Reply(out) => match framed.feed(out).await {
                        Ok(()) => Flow::Continue,
                        Err(_) => Flow::Close,
                    },
                },
            };
            if flow == Flow::Close {
                return Flow::Close;
            }
            budget -= 1;
            if budget > 0 && !mode_rx.borrow().frozen {
                // Only frames that are ready now: one flush then covers a whole pipelined burst.
                next = framed.next().now_or_never();
            }
        }
        match framed.flush().await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Close,
        }
    }

    /// Decides what one frame gets: capture, faults, then the role's handler.
    fn process(&mut self, incoming: Incoming) -> Next {
        let core = &*self.core;
        let cmd = match (incoming, &core.role) {
            (Incoming::Cmd(cmd), _) => cmd,
            (Incoming::NullSend(send), Role::Broker(b)) => {
                return b.null_reply(send).map_or(Next::Nothing, Next::Reply);
            }
            // Only null brokers produce these.
            (Incoming::NullSend(_), Role::NameServer) => return Next::Nothing,
        };
        if cmd.is_response() {
            let waiter = {
                let mut st = lock(&core.state);
                st.received.push(ReceivedRequest {
                    connection: self.id,
                    command: cmd.clone(),
                    at: Instant::now(),
                });
                st.pending.remove(&cmd.opaque)
            };
            if let Some((_, tx)) = waiter {
                let _ = tx.send(cmd);
            }
            core.notify.notify_waiters();
            return Next::Nothing;
        }
        // Null-mode sends are only counted: capturing them would grow without bound in benchmarks.
        let null_send = matches!(&core.role, Role::Broker(b) if b.is_null_send(&cmd));
        if null_send && core.fault_count.load(Ordering::Acquire) == 0 {
            if let Role::Broker(b) = &core.role {
                return b
                    .null_reply(null_send_of(&cmd))
                    .map_or(Next::Nothing, Next::Reply);
            }
        }
        let fault = {
            let mut st = lock(&core.state);
            if !null_send {
                st.received.push(ReceivedRequest {
                    connection: self.id,
                    command: cmd.clone(),
                    at: Instant::now(),
                });
            }
            if core.fault_count.load(Ordering::Acquire) > 0 {
                let f = st.faults.take(&cmd);
                core.fault_count.store(st.faults.len(), Ordering::Release);
                f
            } else {
                None
            }
        };
        core.notify.notify_waiters();
        match fault {
            Some(FaultAction::Respond { code, remark }) if stored_not_flushed(code, &cmd) => {
                // A real broker stores the message and says so in the send header:
                // the reply is the normal one with this code and remark.
                match self.handle(&cmd) {
                    Some(mut r) if !cmd.is_oneway() => {
                        r.code = code;
                        r.remark = remark;
                        Next::Reply(Outgoing::Cmd(r))
                    }
                    _ => Next::Nothing,
                }
            }
            Some(FaultAction::Respond { code, remark }) => {
                if cmd.is_oneway() {
                    Next::Nothing
                } else {
                    Next::Reply(Outgoing::Cmd(response(&cmd, code, remark)))
                }
            }
            Some(FaultAction::Close) => Next::Close,
            Some(FaultAction::Freeze) => {
                core.mode.send_modify(|m| m.frozen = true);
                Next::Nothing
            }
            other => {
                let reply = self.handle(&cmd);
                match other {
                    None => reply.map_or(Next::Nothing, |r| Next::Reply(Outgoing::Cmd(r))),
                    Some(FaultAction::Delay(d)) => {
                        if let Some(r) = reply {
                            self.delayed.push(Box::pin(async move {
                                tokio::time::sleep(d).await;
                                Outgoing::Cmd(r)
                            }));
                        }
                        Next::Nothing
                    }
                    Some(FaultAction::DropReply) => Next::Nothing,
                    Some(FaultAction::ProcessThenClose) => Next::Close,
                    Some(FaultAction::Garbage(bytes)) => Next::Reply(Outgoing::Raw(bytes)),
                    // Matched by the outer arms; listed only because the match must be exhaustive.
                    Some(
                        FaultAction::Respond { .. } | FaultAction::Close | FaultAction::Freeze,
                    ) => Next::Nothing,
                }
            }
        }
    }

    fn handle(&self, cmd: &RemotingCommand) -> Option<RemotingCommand> {
        match &self.core.role {
            Role::NameServer => nameserver::handle(&self.core, cmd),
            Role::Broker(b) => broker::handle(&self.core, b, self.id, self.peer, cmd),
        }
    }
}

/// FLUSH_DISK_TIMEOUT, SLAVE_NOT_AVAILABLE and FLUSH_SLAVE_TIMEOUT answer a
/// send whose message was stored (only its flush or replication fell short).
fn stored_not_flushed(code: i32, cmd: &RemotingCommand) -> bool {
    matches!(
        code,
        response_code::FLUSH_DISK_TIMEOUT
            | response_code::SLAVE_NOT_AVAILABLE
            | response_code::FLUSH_SLAVE_TIMEOUT
    ) && SEND_CODES.contains(&cmd.code)
}

/// Fires at `deadline`; lazy, so a disabled branch sets no timer.
async fn idle(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn send_now(
    framed: &mut Framed<impl AsyncRead + AsyncWrite + Unpin, WireCodec>,
    out: Outgoing,
) -> Flow {
    match framed.send(out).await {
        Ok(()) => Flow::Continue,
        Err(_) => Flow::Close,
    }
}

// ---------------------------------------------------------------------------
// Public handle
// ---------------------------------------------------------------------------

/// Controls and observes one test server (the name server or a broker).
///
/// Cheap to clone; every method can be called while clients are connected.
#[derive(Clone)]
pub struct ServerHandle {
    pub(crate) core: Arc<ServerCore>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.core.addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// `ip:port`, as the name server advertises it and clients dial it.
    pub fn addr(&self) -> String {
        self.core.addr.to_string()
    }

    /// The listening address.
    pub fn socket_addr(&self) -> SocketAddr {
        self.core.addr
    }

    /// Every frame received so far, in arrival order.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        lock(&self.core.state).received.clone()
    }

    /// Received requests with this code (client responses excluded).
    pub fn received_with_code(&self, code: i32) -> Vec<ReceivedRequest> {
        lock(&self.core.state)
            .received
            .iter()
            .filter(|r| r.code() == code && !r.is_response())
            .cloned()
            .collect()
    }

    /// Forgets the received frames (stored messages and counters stay).
    pub fn clear_received(&self) {
        lock(&self.core.state).received.clear();
    }

    /// Waits up to `timeout` for a received frame matching `pred` (earlier ones count too).
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&ReceivedRequest) -> bool,
    ) -> Option<ReceivedRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Created before checking, so a frame arriving in between still wakes us.
            let notified = self.core.notify.notified();
            if let Some(r) = lock(&self.core.state).received.iter().find(|r| pred(r)) {
                return Some(r.clone());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return lock(&self.core.state)
                    .received
                    .iter()
                    .find(|r| pred(r))
                    .cloned();
            }
        }
    }

    /// Waits up to `timeout` for a request with `code`.
    pub async fn wait_for_code(&self, code: i32, timeout: Duration) -> Option<ReceivedRequest> {
        self.wait_for(timeout, |r| r.code() == code && !r.is_response())
            .await
    }

    /// Connections served since the start (not counting accept-and-close ones).
    pub fn connections_accepted(&self) -> usize {
        lock(&self.core.state).accepted
    }

    /// Connections accepted and closed at once under [`AcceptMode::AcceptAndClose`].
    pub fn connections_rejected(&self) -> usize {
        lock(&self.core.state).rejected
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        lock(&self.core.state).conns.len()
    }

    /// The open connections, with what their heartbeats announced.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        lock(&self.core.state)
            .conns
            .iter()
            .map(|(id, c)| ConnectionInfo {
                id: *id,
                peer: c.peer,
                client_id: c.client_id.clone(),
                producer_groups: c.groups.clone(),
            })
            .collect()
    }

    /// Connections closed because a client sent an undecodable frame.
    pub fn malformed_frames(&self) -> usize {
        lock(&self.core.state).malformed
    }

    /// Adds a fault rule (see [`Fault`]); it applies from the next request on.
    pub fn inject(&self, fault: Fault) -> FaultId {
        let mut st = lock(&self.core.state);
        let id = st.faults.add(fault);
        self.core
            .fault_count
            .store(st.faults.len(), Ordering::Release);
        id
    }

    /// Removes a rule; false if it was already used up or removed.
    pub fn remove_fault(&self, id: FaultId) -> bool {
        let mut st = lock(&self.core.state);
        let removed = st.faults.remove(id);
        self.core
            .fault_count
            .store(st.faults.len(), Ordering::Release);
        removed
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        let mut st = lock(&self.core.state);
        st.faults.clear();
        self.core.fault_count.store(0, Ordering::Release);
    }

    /// Rules not yet used up.
    pub fn active_faults(&self) -> usize {
        lock(&self.core.state).faults.len()
    }

    /// Black hole: connections stay open, nothing more is read or answered
    /// (delayed replies are held) until [`unfreeze`](Self::unfreeze). New
    /// connections are still accepted, and frozen too; frames the test pushes
    /// itself ([`send_oneway`](Self::send_oneway), [`send_raw`](Self::send_raw)) still go out.
    pub fn freeze(&self) {
        self.core.mode.send_modify(|m| m.frozen = true);
    }

    /// Ends a [`freeze`](Self::freeze): reading, answering and held replies resume.
    pub fn unfreeze(&self) {
        self.core.mode.send_modify(|m| m.frozen = false);
    }

    /// `true` while frozen.
    pub fn is_frozen(&self) -> bool {
        self.core.mode.borrow().frozen
    }

    /// Closes connections that neither read nor wrote for `timeout`
    /// (the real servers use 120 s); `None` turns it off. Not while frozen.
    pub fn set_idle_timeout(&self, timeout: Option<Duration>) {
        self.core.mode.send_modify(|m| m.idle_timeout = timeout);
    }

    async fn control<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Ctl,
    ) -> Result<T, TestkitError> {
        let (tx, rx) = oneshot::channel();
        self.core
            .ctl
            .send(make(tx))
            .map_err(|_| TestkitError::ShutDown)?;
        rx.await.map_err(|_| TestkitError::ShutDown)
    }

    /// Changes how new connections are treated; open ones are not touched.
    /// Leaving [`AcceptMode::Refuse`] binds the same port again.
    pub async fn set_accept_mode(&self, mode: AcceptMode) -> Result<(), TestkitError> {
        Ok(self.control(|ack| Ctl::Accept(mode, ack)).await??)
    }

    /// Stops the server like a crash: listener and every connection closed.
    /// Stored messages, topics and fault rules survive for [`start`](Self::start).
    pub async fn stop(&self) -> Result<(), TestkitError> {
        self.control(Ctl::Stop).await
    }

    /// Starts a stopped server again on the same port, unfrozen and accepting.
    pub async fn start(&self) -> Result<(), TestkitError> {
        Ok(self.control(Ctl::Start).await??)
    }

    /// Closes one connection (after writing replies already queued on it).
    pub fn close_connection(&self, id: ConnectionId) -> bool {
        self.conn_tx(id)
            .map(|tx| tx.send(ConnCmd::Close).is_ok())
            .unwrap_or(false)
    }

    /// Closes every open connection; returns how many there were.
    pub fn close_connections(&self) -> usize {
        let txs: Vec<_> = lock(&self.core.state)
            .conns
            .values()
            .map(|c| c.tx.clone())
            .collect();
        txs.iter()
            .filter(|tx| tx.send(ConnCmd::Close).is_ok())
            .count()
    }

    fn conn_tx(&self, id: ConnectionId) -> Option<mpsc::UnboundedSender<ConnCmd>> {
        lock(&self.core.state).conns.get(&id).map(|c| c.tx.clone())
    }

    fn push(&self, id: ConnectionId, out: Outgoing) -> Result<(), TestkitError> {
        self.core.push(id, out)
    }

    fn next_opaque(&self) -> i32 {
        self.core.next_opaque()
    }

    /// Sends a server-initiated oneway request (flag 2, the server's own
    /// opaque, JSON header) on a connection; returns the opaque used.
    /// Whatever the client sends back shows up in [`received`](Self::received).
    pub fn send_oneway(
        &self,
        conn: ConnectionId,
        mut cmd: RemotingCommand,
    ) -> Result<i32, TestkitError> {
        cmd.opaque = self.next_opaque();
        cmd.flag = FLAG_ONEWAY;
        self.push(conn, Outgoing::Cmd(cmd.clone()))?;
        Ok(cmd.opaque)
    }

    /// Sends a server-initiated request and waits for the client's response.
    pub async fn request(
        &self,
        conn: ConnectionId,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, TestkitError> {
        cmd.opaque = self.next_opaque();
        cmd.flag = 0;
        let (tx, rx) = oneshot::channel();
        lock(&self.core.state)
            .pending
            .insert(cmd.opaque, (conn, tx));
        let opaque = cmd.opaque;
        if let Err(e) = self.push(conn, Outgoing::Cmd(cmd)) {
            lock(&self.core.state).pending.remove(&opaque);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(TestkitError::ConnectionClosed(conn)),
            Err(_) => {
                lock(&self.core.state).pending.remove(&opaque);
                Err(TestkitError::Timeout)
            }
        }
    }

    /// Writes raw bytes (e.g. a [`garbage`](super::garbage) frame) on a connection.
    pub fn send_raw(
        &self,
        conn: ConnectionId,
        bytes: impl Into<Bytes>,
    ) -> Result<(), TestkitError> {
        self.push(conn, Outgoing::Raw(bytes.into()))
    }
}
