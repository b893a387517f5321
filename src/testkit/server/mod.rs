//! The machinery shared by the fake name server and brokers: listener
//! supervision ([`accept`]), one task per connection ([`conn`]) with fault
//! application ([`apply`]), the wire codec ([`wire`]) and the control API
//! ([`ServerHandle`]). What a request gets is the role's [`Handler`].
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio_rustls::TlsAcceptor;

use super::faults::FaultTable;
use super::null::{NullReply, NullSend};
use super::{ClusterState, SERVER_VERSION, TestkitError};
use crate::protocol::command::RemotingCommand;

mod accept;
mod apply;
mod conn;
mod handle;
mod wire;

pub(crate) use accept::{bind, spawn_server};
pub use handle::ServerHandle;
pub(crate) use wire::Outgoing;

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

/// What a server is for: the name server's or a broker's request handling.
/// The connection tasks call it after capture and faults, so this machinery
/// knows neither role.
pub(crate) trait Handler: Send + Sync {
    /// The reply to `req` from connection `conn` (client at `peer`); `None` for oneway requests.
    fn handle(
        &self,
        core: &ServerCore,
        conn: ConnectionId,
        peer: SocketAddr,
        req: &RemotingCommand,
    ) -> Option<RemotingCommand>;

    /// Null mode (benchmarks): sends are counted and answered SUCCESS at once.
    fn null_mode(&self) -> bool {
        false
    }

    /// The precomputed null reply the wire codec writes; `None` builds each reply.
    fn null_reply_template(&self) -> Option<Arc<NullReply>> {
        None
    }

    /// Counts a null-mode send and gives its reply (none for oneway, or outside null mode).
    fn null_reply(&self, _send: NullSend) -> Option<Outgoing> {
        None
    }
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
    pub(crate) role: Arc<dyn Handler>,
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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use bytes::BytesMut;
    use futures::{SinkExt, StreamExt};
    use tokio::net::TcpStream;
    use tokio_util::codec::{Decoder, Framed};

    use super::*;
    use crate::protocol::RemotingCodec;
    use crate::protocol::codes::{request_code, response_code};
    use crate::protocol::frame::{decode_frame, encode_frame};
    use crate::protocol::headers::GetRouteInfoRequestHeader;
    use crate::testkit::{FLOOD_CODE, Fault, TestCluster};

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
            // What the name server's handler answers, with no fault in the way.
            let reply = ns
                .core
                .role
                .handle(&ns.core, ConnectionId(0), ns.socket_addr(), &r)
                .expect("a reply");
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
