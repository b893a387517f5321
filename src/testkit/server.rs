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
use super::faults::{FLOOD_CODE, Fault, FaultAction, FaultId, FaultTable, SEND_CODES};
use super::nameserver;
use super::null::{NullReply, NullSend, null_send_of, peek_send};
use super::{ClusterState, TestkitError};
use crate::protocol::codes::request_code;
use crate::protocol::command::{ExtFields, FLAG_ONEWAY, RemotingCommand};
use crate::protocol::frame::encode_frame;
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
    /// Accept, then reset at once (zero linger, so the close sends RST, not
    /// FIN): the client's first read or write fails with "connection reset".
    /// Counted in [`ServerHandle::connections_rejected`] and [`ServerHandle::connections_reset`].
    Reset,
    /// Accept, read this many bytes (or until EOF), then close without
    /// replying; unread bytes make the close a reset. Nothing is decoded or
    /// captured. Counted in [`ServerHandle::connections_accepted`].
    CloseAfterRead(usize),
    /// Accept, read one whole frame (its length prefix, then that many bytes;
    /// or until EOF), then close without replying: [`CloseAfterRead`](Self::CloseAfterRead)
    /// with n = the first request's size, whatever that request is. Counted
    /// in [`ServerHandle::connections_accepted`].
    CloseAfterFirstFrame,
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
    /// Every TCP accept, whatever the mode did with it.
    total: usize,
    accepted: usize,
    rejected: usize,
    reset: usize,
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
    lock(&core.state).total += 1;
    match mode {
        AcceptMode::AcceptAndClose => {
            lock(&core.state).rejected += 1;
            drop(stream);
        }
        AcceptMode::Reset => {
            {
                let mut st = lock(&core.state);
                st.rejected += 1;
                st.reset += 1;
            }
            // Zero linger: dropping the socket sends RST instead of FIN (and does not block).
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        AcceptMode::CloseAfterRead(n) => {
            lock(&core.state).accepted += 1;
            conns.spawn(read_then_close(stream, Some(n)));
        }
        AcceptMode::CloseAfterFirstFrame => {
            lock(&core.state).accepted += 1;
            conns.spawn(read_then_close(stream, None));
        }
        // Refuse only reaches here for clients already in the backlog, which are served.
        AcceptMode::Accept | AcceptMode::Refuse => start_connection(core, stream, peer, conns),
    }
}

/// [`AcceptMode::CloseAfterRead`] (`Some(n)`) and [`AcceptMode::CloseAfterFirstFrame`]
/// (`None`): swallow that many bytes (or until EOF or an error), then drop.
async fn read_then_close(mut stream: TcpStream, n: Option<usize>) {
    use tokio::io::AsyncReadExt;
    let mut left = match n {
        Some(n) => n,
        None => {
            let mut len = [0u8; 4];
            if stream.read_exact(&mut len).await.is_err() {
                return;
            }
            u32::from_be_bytes(len) as usize
        }
    };
    let mut buf = [0u8; 4096];
    while left > 0 {
        let want = left.min(buf.len());
        match stream.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => break,
            Ok(got) => left -= got,
        }
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
    /// Write this, then close (a torn reply).
    ReplyThenClose(Outgoing),
    /// Push this many unsolicited requests, then the reply if any.
    Flood(usize, Option<Outgoing>),
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
                    Next::ReplyThenClose(out) => {
                        let _ = framed.feed(out).await;
                        Flow::Close
                    }
                    Next::Flood(n, reply) => self.flood(n, reply, framed).await,
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

    /// [`FaultAction::Flood`]: `n` server requests, then the reply; fed in
    /// order, so the write buffer flushes as the client reads.
    async fn flood(
        &mut self,
        n: usize,
        reply: Option<Outgoing>,
        framed: &mut Framed<impl AsyncRead + AsyncWrite + Unpin, WireCodec>,
    ) -> Flow {
        for i in 0..n {
            let mut ext = ExtFields::new();
            let mut cmd = if i % 2 == 0 {
                ext.push("flood", itoa::Buffer::new().format(i));
                RemotingCommand::request(FLOOD_CODE, ext)
            } else {
                ext.push("consumerGroup", "flood_group");
                let mut c =
                    RemotingCommand::request(request_code::NOTIFY_CONSUMER_IDS_CHANGED, ext);
                c.flag = FLAG_ONEWAY;
                c
            };
            cmd.opaque = self.core.next_opaque();
            cmd.version = SERVER_VERSION;
            if framed.feed(Outgoing::Cmd(cmd)).await.is_err() {
                return Flow::Close;
            }
        }
        if let Some(out) = reply {
            if framed.feed(out).await.is_err() {
                return Flow::Close;
            }
        }
        Flow::Continue
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
            Some(FaultAction::RespondBody { code, body }) => {
                if cmd.is_oneway() {
                    Next::Nothing
                } else {
                    Next::Reply(Outgoing::Cmd(response(&cmd, code, None).with_body(body)))
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
                    Some(FaultAction::HalfReply) => match reply.map(|r| encode_frame(&r)) {
                        Some(Ok(frame)) => {
                            Next::ReplyThenClose(Outgoing::Raw(frame.slice(..frame.len() / 2)))
                        }
                        // Oneway (nothing to tear) or unencodable: just close.
                        _ => Next::Close,
                    },
                    Some(FaultAction::Flood(n)) => Next::Flood(n, reply.map(Outgoing::Cmd)),
                    // Matched by the outer arms; listed only because the match must be exhaustive.
                    Some(
                        FaultAction::Respond { .. }
                        | FaultAction::RespondBody { .. }
                        | FaultAction::Close
                        | FaultAction::Freeze,
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

    /// Connections served since the start, [`AcceptMode::CloseAfterRead`] ones
    /// included (not counting accept-and-close or reset ones).
    pub fn connections_accepted(&self) -> usize {
        lock(&self.core.state).accepted
    }

    /// Connections accepted and dropped at once, under [`AcceptMode::AcceptAndClose`]
    /// or [`AcceptMode::Reset`].
    pub fn connections_rejected(&self) -> usize {
        lock(&self.core.state).rejected
    }

    /// Connections reset at once under [`AcceptMode::Reset`] (also in
    /// [`connections_rejected`](Self::connections_rejected)).
    pub fn connections_reset(&self) -> usize {
        lock(&self.core.state).reset
    }

    /// Every TCP connection accepted since the start, whatever the [`AcceptMode`]
    /// did with it: [`connections_accepted`](Self::connections_accepted) +
    /// [`connections_rejected`](Self::connections_rejected). The number of
    /// connects a client made to this server.
    pub fn connections_total(&self) -> usize {
        lock(&self.core.state).total
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::protocol::frame::decode_frame;
    use crate::protocol::headers::GetRouteInfoRequestHeader;
    use crate::testkit::TestCluster;

    const WAIT: Duration = Duration::from_secs(5);
    const QUIET: Duration = Duration::from_millis(200);

    async fn cluster() -> TestCluster {
        TestCluster::builder()
            .topic("T", 4)
            .start()
            .await
            .expect("cluster starts")
    }

    /// A GET_ROUTEINFO_BY_TOPIC request for `T` with `opaque`, encoded.
    fn route_request(opaque: i32) -> Bytes {
        let mut req = GetRouteInfoRequestHeader::new("T").into_request();
        req.opaque = opaque;
        encode_frame(&req).expect("encodes")
    }

    /// Everything the server writes until it closes (or resets) the connection.
    async fn read_to_close(stream: &mut TcpStream) -> (Vec<u8>, io::Result<()>) {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
                Err(_) => panic!("the server neither wrote nor closed within {WAIT:?}"),
                Ok(Ok(0)) => return (got, Ok(())),
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Ok(Err(e)) => return (got, Err(e)),
            }
        }
    }

    #[tokio::test]
    async fn reset_mode_sends_rst_and_counts_as_rejected() {
        let cluster = cluster().await;
        let broker = cluster.broker("broker-a");
        broker.set_accept_mode(AcceptMode::Reset).await.unwrap();
        let mut s = TcpStream::connect(broker.socket_addr()).await.unwrap();
        let (got, end) = read_to_close(&mut s).await;
        assert!(got.is_empty());
        let e = end.expect_err("a reset, not a clean EOF");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
        assert_eq!(broker.connections_reset(), 1);
        assert_eq!(broker.connections_rejected(), 1);
        assert_eq!(broker.connections_accepted(), 0);
        assert_eq!(broker.connections_total(), 1);
    }

    #[tokio::test]
    async fn close_after_read_swallows_n_bytes_then_closes() {
        let cluster = cluster().await;
        let ns = cluster.namesrv();
        ns.set_accept_mode(AcceptMode::CloseAfterRead(10))
            .await
            .unwrap();
        let mut s = TcpStream::connect(ns.socket_addr()).await.unwrap();
        s.write_all(&[0; 6]).await.unwrap();
        let mut buf = [0u8; 16];
        assert!(
            tokio::time::timeout(QUIET, s.read(&mut buf)).await.is_err(),
            "6 of 10 bytes: still open"
        );
        s.write_all(&[0; 4]).await.unwrap();
        let (got, _) = read_to_close(&mut s).await;
        assert!(got.is_empty(), "no reply, just a close");
        assert!(ns.received().is_empty(), "nothing is decoded");

        // A whole request gets no answer either; EOF before n bytes closes too.
        let mut s = TcpStream::connect(ns.socket_addr()).await.unwrap();
        s.write_all(&route_request(1)).await.unwrap();
        assert!(read_to_close(&mut s).await.0.is_empty());
        let mut s = TcpStream::connect(ns.socket_addr()).await.unwrap();
        s.shutdown().await.unwrap();
        assert!(read_to_close(&mut s).await.0.is_empty());

        assert_eq!(ns.connections_accepted(), 3);
        assert_eq!(ns.connections_total(), 3);
        assert_eq!(ns.connections_rejected(), 0);
        assert!(ns.received().is_empty());
    }

    #[tokio::test]
    async fn close_after_first_frame_reads_exactly_one_request() {
        let cluster = cluster().await;
        let ns = cluster.namesrv();
        ns.set_accept_mode(AcceptMode::CloseAfterFirstFrame)
            .await
            .unwrap();
        let first = route_request(1);
        let mut s = TcpStream::connect(ns.socket_addr()).await.unwrap();
        s.write_all(&first[..first.len() - 1]).await.unwrap();
        let mut buf = [0u8; 16];
        assert!(
            tokio::time::timeout(QUIET, s.read(&mut buf)).await.is_err(),
            "one byte short of the frame: still open"
        );
        s.write_all(&first[first.len() - 1..]).await.unwrap();
        let (got, _) = read_to_close(&mut s).await;
        assert!(got.is_empty(), "no reply, just a close");
        assert!(ns.received().is_empty(), "nothing is decoded");
        assert_eq!((ns.connections_accepted(), ns.connections_total()), (1, 1));
    }

    #[tokio::test]
    async fn accept_and_close_counts_in_total() {
        let cluster = cluster().await;
        let ns = cluster.namesrv();
        ns.set_accept_mode(AcceptMode::AcceptAndClose)
            .await
            .unwrap();
        let mut s = TcpStream::connect(ns.socket_addr()).await.unwrap();
        let (got, _) = read_to_close(&mut s).await;
        assert!(got.is_empty());
        ns.set_accept_mode(AcceptMode::Accept).await.unwrap();
        let mut s = TcpStream::connect(ns.socket_addr()).await.unwrap();
        s.write_all(&route_request(1)).await.unwrap();
        ns.wait_for_code(request_code::GET_ROUTEINFO_BY_TOPIC, WAIT)
            .await
            .expect("served");
        assert_eq!(
            (
                ns.connections_rejected(),
                ns.connections_accepted(),
                ns.connections_total()
            ),
            (1, 1, 2)
        );
    }

    #[tokio::test]
    async fn half_reply_tears_the_frame_then_closes() {
        let cluster = cluster().await;
        let ns = cluster.namesrv();
        ns.inject(Fault::half_reply().on(request_code::GET_ROUTEINFO_BY_TOPIC));
        let mut s = TcpStream::connect(ns.socket_addr()).await.unwrap();
        s.write_all(&route_request(7)).await.unwrap();
        let (got, _) = read_to_close(&mut s).await;
        let full = {
            let mut r = GetRouteInfoRequestHeader::new("T").into_request();
            r.opaque = 7;
            let reply = nameserver::handle(&ns.core, &r).expect("a reply");
            encode_frame(&reply).unwrap()
        };
        assert_eq!(got.len(), full.len() / 2);
        assert_eq!(&got[..], &full[..got.len()], "the reply's first half");
        assert_eq!(
            ns.received_with_code(request_code::GET_ROUTEINFO_BY_TOPIC)
                .len(),
            1,
            "the request was processed"
        );
    }

    #[tokio::test]
    async fn half_reply_stores_the_send() {
        let cluster = cluster().await;
        let broker = cluster.broker("broker-a");
        broker.inject(Fault::half_reply().on_sends());
        let mut req = crate::protocol::headers::SendMessageRequestHeader {
            producer_group: "G".into(),
            topic: "T".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 0,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            flag: 0,
            properties: None,
            reconsume_times: Some(0),
            unit_mode: false,
            max_reconsume_times: None,
            batch: false,
            broker_name: Some("broker-a".into()),
        }
        .to_request(request_code::SEND_MESSAGE_V2)
        .with_body(&b"x"[..]);
        req.opaque = 1;
        let mut s = TcpStream::connect(broker.socket_addr()).await.unwrap();
        s.write_all(&encode_frame(&req).unwrap()).await.unwrap();
        let (got, _) = read_to_close(&mut s).await;
        assert!(got.len() > 4, "half a frame arrived");
        let declared = u32::from_be_bytes(got[..4].try_into().unwrap()) as usize;
        assert!(got.len() < declared + 4, "and not the whole frame");
        assert_eq!(broker.messages("T").len(), 1, "processed: stored");
    }

    #[tokio::test]
    async fn flood_pushes_requests_then_answers() {
        let cluster = cluster().await;
        let ns = cluster.namesrv();
        ns.inject(Fault::flood(6).on(request_code::GET_ROUTEINFO_BY_TOPIC));
        let stream = TcpStream::connect(ns.socket_addr()).await.unwrap();
        let mut framed = Framed::new(stream, RemotingCodec::default());
        let mut req = GetRouteInfoRequestHeader::new("T").into_request();
        req.opaque = 42;
        framed.send(req).await.unwrap();
        let mut pushed = Vec::new();
        let reply = loop {
            let f = tokio::time::timeout(WAIT, framed.next())
                .await
                .expect("a frame in time")
                .expect("open")
                .expect("decodes");
            if f.is_response() {
                break f;
            }
            pushed.push(f);
        };
        assert_eq!(reply.opaque, 42);
        assert_eq!(reply.code, response_code::SUCCESS, "answered normally");
        let shape: Vec<(i32, bool)> = pushed.iter().map(|c| (c.code, c.is_oneway())).collect();
        assert_eq!(
            shape,
            [
                (FLOOD_CODE, false),
                (request_code::NOTIFY_CONSUMER_IDS_CHANGED, true)
            ]
            .repeat(3)
        );
        let opaques: BTreeSet<i32> = pushed.iter().map(|c| c.opaque).collect();
        assert_eq!(opaques.len(), 6, "each with its own opaque");

        // The client's answers to the flood are captured as responses.
        let mut answer = RemotingCommand::response(3, pushed[0].opaque, None);
        answer.version = SERVER_VERSION;
        framed.send(answer).await.unwrap();
        ns.wait_for(WAIT, |r| {
            r.is_response() && r.command.opaque == pushed[0].opaque
        })
        .await
        .expect("captured");
    }

    #[tokio::test]
    async fn respond_body_answers_raw_bytes() {
        let cluster = cluster().await;
        let ns = cluster.namesrv();
        let body = Bytes::from_static(&[0xff, 0xfe, b'{']);
        ns.inject(
            Fault::respond_body(response_code::SUCCESS, body.clone())
                .on(request_code::GET_ROUTEINFO_BY_TOPIC)
                .times(2),
        );
        let mut s = TcpStream::connect(ns.socket_addr()).await.unwrap();
        for opaque in [1, 2, 3] {
            s.write_all(&route_request(opaque)).await.unwrap();
        }
        let mut buf = BytesMut::new();
        let mut replies = Vec::new();
        while replies.len() < 3 {
            let n = tokio::time::timeout(WAIT, s.read_buf(&mut buf))
                .await
                .expect("replies in time")
                .unwrap();
            assert!(n > 0, "closed early");
            while let Some(cmd) = RemotingCodec::default().decode(&mut buf).unwrap() {
                replies.push(cmd);
            }
        }
        assert_eq!((replies[0].code, &replies[0].body), (0, &body));
        assert_eq!(replies[0].remark, None);
        assert_eq!((replies[1].opaque, &replies[1].body), (2, &body));
        let route = decode_frame(encode_frame(&replies[2]).unwrap()).unwrap();
        assert!(
            crate::protocol::route::TopicRouteData::decode(&route.body).is_ok(),
            "the third is the real route"
        );
    }
}
