//! In-process test servers: a fake name server and brokers speaking the real
//! remoting protocol over loopback sockets (feature `testkit`).
//!
//! They are plain tokio tasks, independent of the client's actors, and work
//! inside any tokio runtime, including an actix `System`. Use them for fast,
//! deterministic tests and for what a real broker cannot be made to do on
//! demand: answer with a given code, delay, lose replies, drop connections,
//! freeze, send garbage, move routes, restart on the same port.
//!
//! * [`TestCluster`]: the name server plus brokers, their shared topic table,
//!   route controls. Dropping it (or [`TestCluster::shutdown`]) ends every task.
//! * [`BrokerHandle`]: stored messages ([`BrokerMessage`]), heartbeats,
//!   unregisters, transactions, broker-initiated requests.
//! * [`ServerHandle`] (the name server; brokers deref to it): captured frames
//!   ([`ReceivedRequest`]), connections, [`Fault`] injection, freeze,
//!   [`AcceptMode`], idle-close, stop/start.
//! * [`headers`]: request headers only the test broker and tests use
//!   (VIEW_MESSAGE_BY_ID, UPDATE_AND_CREATE_TOPIC, GET_MAX_OFFSET, PULL_MESSAGE).
//!
//! Replies use JSON headers whatever the request used (as the RocketMQ-Rust
//! servers do); requests are decoded in both serializations. A frame that does
//! not decode closes that connection only.
//!
//! ```
//! use std::time::Duration;
//! use futures::{SinkExt, StreamExt};
//! use tokio::net::TcpStream;
//! use tokio_util::codec::Framed;
//! use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
//! use actix_rocketmq::internals::protocol::headers::GetRouteInfoRequestHeader;
//! use actix_rocketmq::internals::protocol::route::TopicRouteData;
//! use actix_rocketmq::internals::protocol::RemotingCodec;
//! use actix_rocketmq::testkit::{Fault, TestCluster};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = TestCluster::builder()
//!     .broker("broker-a")
//!     .broker("broker-b")
//!     .topic("TopicTest", 4)
//!     .start()
//!     .await?;
//!
//! // Any client (here a raw one) finds the route at the name server...
//! let stream = TcpStream::connect(cluster.namesrv_addr()).await?;
//! let mut conn = Framed::new(stream, RemotingCodec::default());
//! let mut req = GetRouteInfoRequestHeader::new("TopicTest").into_request();
//! req.opaque = 1;
//! conn.send(req).await?;
//! let reply = conn.next().await.ok_or("closed")??;
//! let route = TopicRouteData::decode(&reply.body)?;
//! assert_eq!(route.queue_datas.len(), 2);
//!
//! // ...and the brokers can be told to misbehave.
//! let broker = cluster.broker("broker-a");
//! broker.inject(Fault::respond(response_code::SYSTEM_BUSY, "[REJECTREQUEST]busy").on_sends());
//! broker.inject(Fault::delay(Duration::from_millis(50)).on(request_code::HEART_BEAT));
//! assert!(broker.messages("TopicTest").is_empty());
//! cluster.shutdown().await;
//! # Ok(())
//! # }
//! ```
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use crate::protocol::ProtocolError;

mod broker;
mod faults;
pub mod headers;
mod nameserver;
mod null;
mod server;

/// The protocol types the test servers' API speaks: request and response codes
/// for [`Fault::on`], routes for [`RouteOverride`], captured commands.
pub use crate::protocol::codes::{request_code, response_code};
pub use crate::protocol::command::{ExtFields, RemotingCommand};
pub use crate::protocol::route::{BrokerData, MASTER_ID, QueueData, TopicRouteData, perm};
pub use crate::protocol::stored::StoredMessage;
pub use broker::{BrokerHandle, BrokerMessage, TransactionState};
pub use faults::{FLOOD_CODE, Fault, FaultAction, FaultId, SEND_CODES, garbage};
pub use nameserver::RouteOverride;
pub use server::{AcceptMode, ConnectionId, ConnectionInfo, ReceivedRequest, ServerHandle};

use server::{bind, lock, spawn_server};

/// `version` the test servers put in their frames: RocketMQ-Rust 1.0's (V5_3_1_SNAPSHOT).
pub const SERVER_VERSION: i32 = 474;

/// The auto-create template topic.
pub const DEFAULT_TOPIC: &str = "TBW102";
/// Name given to the only broker of a cluster built without [`TestClusterBuilder::broker`].
pub const DEFAULT_BROKER: &str = "broker-a";

/// Errors of the test servers' control API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// No broker of this name in the cluster.
    #[error("no broker named `{0}` in this test cluster")]
    UnknownBroker(String),
    /// The connection is not open (never was, or closed).
    #[error("{0} is not open")]
    NoSuchConnection(ConnectionId),
    /// No open connection heartbeated this producer group, so a broker-initiated request has nowhere to go.
    #[error("no open connection has sent a heartbeat for producer group `{0}`")]
    NoConnectionForGroup(String),
    /// The connection closed while a server-initiated request waited for the client's answer.
    #[error("{0} closed before the client answered")]
    ConnectionClosed(ConnectionId),
    /// A server-initiated request got no answer in time.
    #[error("the client did not answer in time")]
    Timeout,
    /// The server task is gone.
    #[error("the test cluster has shut down")]
    ShutDown,
    /// Binding or socket error.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// A frame could not be encoded or decoded.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
}

/// A topic's queues and permission on one broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TopicConfig {
    /// Number of read queues (`readQueueNums` in routes).
    pub read_queues: i32,
    /// Number of write queues (`writeQueueNums`); producers send to `0..write_queues`.
    pub write_queues: i32,
    /// [`perm`] bits: 6 = read + write, 7 adds INHERIT (auto-create template).
    pub perm: i32,
}

impl TopicConfig {
    /// `queues` read and write queues, read + write permission.
    pub fn new(queues: i32) -> Self {
        TopicConfig {
            read_queues: queues,
            write_queues: queues,
            perm: perm::READ | perm::WRITE,
        }
    }
}

pub(crate) struct BrokerEntry {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    /// Known to the name server (routes and cluster info list it).
    pub(crate) registered: bool,
}

/// What the brokers serve and the name server routes, shared by all servers.
pub(crate) struct ClusterState {
    pub(crate) cluster_name: String,
    pub(crate) brokers: Vec<BrokerEntry>,
    /// topic → broker name → config.
    pub(crate) topics: BTreeMap<String, BTreeMap<String, TopicConfig>>,
    pub(crate) overrides: HashMap<String, RouteOverride>,
}

impl ClusterState {
    fn set_auto_create(&mut self, on: bool) {
        if on {
            let tbw = TopicConfig {
                read_queues: broker::DEFAULT_TOPIC_QUEUES,
                write_queues: broker::DEFAULT_TOPIC_QUEUES,
                perm: perm::READ | perm::WRITE | perm::INHERIT,
            };
            let configs = self.brokers.iter().map(|b| (b.name.clone(), tbw)).collect();
            self.topics.insert(DEFAULT_TOPIC.to_owned(), configs);
        } else {
            self.topics.remove(DEFAULT_TOPIC);
        }
    }
}

/// Configures a [`TestCluster`]; see [`TestCluster::builder`].
#[derive(Debug, Clone)]
pub struct TestClusterBuilder {
    cluster_name: String,
    brokers: Vec<String>,
    topics: Vec<(String, Option<String>, TopicConfig)>,
    auto_create: bool,
    null_brokers: bool,
    idle_timeout: Option<Duration>,
    tls: Option<Arc<ServerConfig>>,
}

impl Default for TestClusterBuilder {
    fn default() -> Self {
        TestClusterBuilder {
            cluster_name: "DefaultCluster".to_owned(),
            brokers: Vec::new(),
            topics: Vec::new(),
            auto_create: false,
            null_brokers: false,
            idle_timeout: None,
            tls: None,
        }
    }
}

impl TestClusterBuilder {
    /// Adds a master broker (id 0) named `name`; one named [`DEFAULT_BROKER`] if none is added.
    pub fn broker(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self.brokers.contains(&name) {
            self.brokers.push(name);
        }
        self
    }

    /// A topic with `queues` read/write queues on every broker.
    pub fn topic(mut self, topic: impl Into<String>, queues: i32) -> Self {
        self.topics
            .push((topic.into(), None, TopicConfig::new(queues)));
        self
    }

    /// A topic on one broker only.
    pub fn topic_on(
        mut self,
        topic: impl Into<String>,
        broker: impl Into<String>,
        config: TopicConfig,
    ) -> Self {
        self.topics
            .push((topic.into(), Some(broker.into()), config));
        self
    }

    /// Broker `autoCreateTopicEnable` (off by default here, unlike real brokers,
    /// so a misspelt topic fails loudly): TBW102 is routed with 8 queues and
    /// perm 7, and a send to an unknown topic creates it on that broker.
    pub fn auto_create(mut self, on: bool) -> Self {
        self.auto_create = on;
        self
    }

    /// Cluster name in routes and cluster info (default `DefaultCluster`).
    pub fn cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = name.into();
        self
    }

    /// Null brokers, for benchmarks: every send is answered SUCCESS at once
    /// from a precomputed reply (fixed msgId, echoed queueId, queueOffset 0),
    /// nothing is stored or captured, only [`BrokerHandle::send_requests`] counts.
    /// Other requests are served normally.
    pub fn null_brokers(mut self, on: bool) -> Self {
        self.null_brokers = on;
        self
    }

    /// Close connections idle for `timeout` on every server (the real ones use 120 s; default off).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Every server (name server and brokers) speaks TLS only, with this
    /// configuration (its certificate should name 127.0.0.1, or the name the
    /// clients check).
    pub fn tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Binds every server on `127.0.0.1:0` and starts serving.
    ///
    /// Needs a tokio runtime (an actix `System` is one).
    pub async fn start(self) -> Result<TestCluster, TestkitError> {
        let names = if self.brokers.is_empty() {
            vec![DEFAULT_BROKER.to_owned()]
        } else {
            self.brokers
        };
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let namesrv_listener = bind(loopback)?;
        let mut broker_listeners = Vec::with_capacity(names.len());
        let mut entries = Vec::with_capacity(names.len());
        for name in &names {
            let listener = bind(loopback)?;
            entries.push(BrokerEntry {
                name: name.clone(),
                addr: listener.local_addr()?,
                registered: true,
            });
            broker_listeners.push(listener);
        }
        let mut state = ClusterState {
            cluster_name: self.cluster_name,
            brokers: entries,
            topics: BTreeMap::new(),
            overrides: HashMap::new(),
        };
        for (topic, only, config) in self.topics {
            let on: Vec<&String> = match &only {
                Some(b) if names.contains(b) => vec![b],
                Some(b) => return Err(TestkitError::UnknownBroker(b.clone())),
                None => names.iter().collect(),
            };
            let per_broker = state.topics.entry(topic).or_default();
            for b in on {
                per_broker.insert(b.clone(), config);
            }
        }
        state.set_auto_create(self.auto_create);
        let cluster = Arc::new(Mutex::new(state));

        let mut tasks = Vec::with_capacity(names.len() + 1);
        let tls = self.tls.map(TlsAcceptor::from);
        let (ns_core, task) = spawn_server(
            Arc::new(nameserver::NameServer),
            namesrv_listener,
            cluster.clone(),
            self.idle_timeout,
            tls.clone(),
        )?;
        tasks.push(task);
        let mut brokers = Vec::with_capacity(names.len());
        for (name, listener) in names.into_iter().zip(broker_listeners) {
            let addr = listener.local_addr()?;
            let core = Arc::new(broker::BrokerCore::new(name, addr, self.null_brokers));
            let (server, task) = spawn_server(
                core.clone(),
                listener,
                cluster.clone(),
                self.idle_timeout,
                tls.clone(),
            )?;
            tasks.push(task);
            brokers.push(BrokerHandle {
                server: ServerHandle { core: server },
                broker: core,
            });
        }
        Ok(TestCluster {
            namesrv: ServerHandle { core: ns_core },
            brokers,
            cluster,
            tasks,
        })
    }
}

/// A running fake name server plus brokers. Dropping it stops every server
/// task and closes every connection.
pub struct TestCluster {
    namesrv: ServerHandle,
    brokers: Vec<BrokerHandle>,
    cluster: Arc<Mutex<ClusterState>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCluster")
            .field("namesrv", &self.namesrv.socket_addr())
            .field("brokers", &self.brokers)
            .finish_non_exhaustive()
    }
}

impl TestCluster {
    /// A builder: one broker named [`DEFAULT_BROKER`] unless brokers are added, no topics, auto-create off.
    ///
    /// ```
    /// use actix_rocketmq::testkit::TestCluster;
    /// use actix_rocketmq::{Message, ProducerActor, ProducerConfig, SendMessage, Shutdown};
    /// # #[actix_rt::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = TestCluster::builder().broker("broker-a").topic("TopicTest", 4).start().await?;
    /// let config = ProducerConfig::builder("my_group").namesrv_addr(&cluster.namesrv_addr()).build()?;
    /// let producer = ProducerActor::start(config).await?;
    /// let msg = Message::new("TopicTest", "hello").with_tags("TagA");
    /// producer.send(SendMessage::new(msg)).await??;
    /// producer.send(Shutdown).await?;
    /// let stored = cluster.broker("broker-a").messages("TopicTest");
    /// assert_eq!(stored.len(), 1);
    /// assert_eq!(stored[0].tags(), Some("TagA"));
    /// assert_eq!(stored[0].producer_group, "my_group");
    /// cluster.shutdown().await;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> TestClusterBuilder {
        TestClusterBuilder::default()
    }

    /// `127.0.0.1:port` of the name server, for the client's name-server list.
    pub fn namesrv_addr(&self) -> String {
        self.namesrv.addr()
    }

    /// The name server's handle: captured requests, faults, freeze, stop/start.
    pub fn namesrv(&self) -> ServerHandle {
        self.namesrv.clone()
    }

    /// # Panics
    /// If there is no broker `name` (a mistake in the test); see [`try_broker`](Self::try_broker).
    pub fn broker(&self, name: &str) -> BrokerHandle {
        match self.try_broker(name) {
            Some(b) => b,
            None => panic!("no broker named `{name}` in this test cluster"),
        }
    }

    /// The broker named `name`, if there is one.
    pub fn try_broker(&self, name: &str) -> Option<BrokerHandle> {
        self.brokers.iter().find(|b| b.name() == name).cloned()
    }

    /// Every broker, in the order they were added.
    pub fn brokers(&self) -> &[BrokerHandle] {
        &self.brokers
    }

    /// # Panics
    /// If there is no broker `name`.
    pub fn broker_addr(&self, name: &str) -> String {
        self.broker(name).addr()
    }

    /// Messages stored for `topic` on all brokers (broker order, then store order).
    pub fn messages(&self, topic: &str) -> Vec<BrokerMessage> {
        self.brokers
            .iter()
            .flat_map(|b| b.messages(topic))
            .collect()
    }

    /// Heartbeats received by all brokers.
    pub fn heartbeats(&self) -> usize {
        self.brokers.iter().map(|b| b.heartbeats()).sum()
    }

    /// Sets `topic` on `broker` to `queues` read/write queues (perm 6);
    /// 0 removes it from that broker. Brokers and routes see it at once.
    pub fn set_topic(&self, topic: &str, broker: &str, queues: i32) -> Result<(), TestkitError> {
        if queues > 0 {
            self.set_topic_config(topic, broker, TopicConfig::new(queues))
        } else {
            self.known_broker(broker)?;
            let mut cl = lock(&self.cluster);
            if let Some(m) = cl.topics.get_mut(topic) {
                m.remove(broker);
                if m.is_empty() {
                    cl.topics.remove(topic);
                }
            }
            Ok(())
        }
    }

    /// Sets `topic` on `broker` to `config` (queues and perm); brokers and routes see it at once.
    ///
    /// ```
    /// use actix_rocketmq::internals::protocol::route::perm;
    /// use actix_rocketmq::testkit::{TestCluster, TopicConfig};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = TestCluster::builder().topic("TopicTest", 4).start().await?;
    /// // Read-only: the route lists no writable queue, so producers find none.
    /// let read_only = TopicConfig { perm: perm::READ, ..TopicConfig::new(4) };
    /// cluster.set_topic_config("TopicTest", "broker-a", read_only)?;
    /// assert_eq!(cluster.topic_config("TopicTest", "broker-a"), Some(read_only));
    /// assert_eq!(cluster.route("TopicTest").ok_or("no route")?.queue_datas[0].perm, perm::READ);
    /// # Ok(()) }
    /// ```
    pub fn set_topic_config(
        &self,
        topic: &str,
        broker: &str,
        config: TopicConfig,
    ) -> Result<(), TestkitError> {
        self.known_broker(broker)?;
        lock(&self.cluster)
            .topics
            .entry(topic.to_owned())
            .or_default()
            .insert(broker.to_owned(), config);
        Ok(())
    }

    /// The config of `topic` on `broker`, if that broker has the topic.
    pub fn topic_config(&self, topic: &str, broker: &str) -> Option<TopicConfig> {
        lock(&self.cluster)
            .topics
            .get(topic)
            .and_then(|m| m.get(broker))
            .copied()
    }

    /// Removes `topic` from every broker (sends then get TOPIC_NOT_EXIST unless auto-created).
    pub fn remove_topic(&self, topic: &str) {
        lock(&self.cluster).topics.remove(topic);
    }

    /// Makes the name server answer `topic` with `how`, whatever the brokers have.
    pub fn override_route(&self, topic: &str, how: RouteOverride) {
        lock(&self.cluster).overrides.insert(topic.to_owned(), how);
    }

    /// Undoes [`override_route`](Self::override_route): `topic` is routed from the brokers again.
    ///
    /// ```
    /// use actix_rocketmq::testkit::{RouteOverride, TestCluster};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = TestCluster::builder().topic("TopicTest", 4).start().await?;
    /// cluster.override_route("TopicTest", RouteOverride::NotExist);
    /// assert!(cluster.route("TopicTest").is_none()); // name server: TOPIC_NOT_EXIST
    /// cluster.clear_route_override("TopicTest");
    /// assert!(cluster.route("TopicTest").is_some());
    /// # Ok(()) }
    /// ```
    pub fn clear_route_override(&self, topic: &str) {
        lock(&self.cluster).overrides.remove(topic);
    }

    /// The name server forgets `broker` (left out of routes and cluster info);
    /// the broker itself keeps running.
    pub fn unregister_broker(&self, broker: &str) -> Result<(), TestkitError> {
        self.set_registered(broker, false)
    }

    /// Undoes [`unregister_broker`](Self::unregister_broker): the name server lists `broker` again.
    ///
    /// ```
    /// use actix_rocketmq::testkit::TestCluster;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = TestCluster::builder().broker("broker-a").broker("broker-b").topic("TopicTest", 4).start().await?;
    /// cluster.unregister_broker("broker-b")?;
    /// assert_eq!(cluster.route("TopicTest").ok_or("no route")?.broker_datas.len(), 1);
    /// cluster.register_broker("broker-b")?;
    /// assert_eq!(cluster.route("TopicTest").ok_or("no route")?.broker_datas.len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn register_broker(&self, broker: &str) -> Result<(), TestkitError> {
        self.set_registered(broker, true)
    }

    fn set_registered(&self, broker: &str, on: bool) -> Result<(), TestkitError> {
        let mut cl = lock(&self.cluster);
        let entry = cl
            .brokers
            .iter_mut()
            .find(|b| b.name == broker)
            .ok_or_else(|| TestkitError::UnknownBroker(broker.to_owned()))?;
        entry.registered = on;
        Ok(())
    }

    fn known_broker(&self, broker: &str) -> Result<(), TestkitError> {
        if self.brokers.iter().any(|b| b.name() == broker) {
            Ok(())
        } else {
            Err(TestkitError::UnknownBroker(broker.to_owned()))
        }
    }

    /// Turns broker auto-create (and the TBW102 route) on or off.
    pub fn set_auto_create(&self, on: bool) {
        lock(&self.cluster).set_auto_create(on);
    }

    /// The route the name server would answer now (`None` = TOPIC_NOT_EXIST).
    pub fn route(&self, topic: &str) -> Option<TopicRouteData> {
        nameserver::build_route(&lock(&self.cluster), topic)
    }

    /// Stops every server and waits until their tasks (and connections) are gone.
    pub async fn shutdown(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            // Cancelled is the expected outcome; a panic in a server task is not
            // the caller's to handle here.
            let _ = t.await;
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
