//! `ClientInstance`: one per client id, shared by the producers that use it.
//!
//! The `MQClientInstance` of the Java client: service state, producer registry,
//! broker address table, the broker `ConnectionActor`s (started lazily, one per
//! address), and the `RouteManager` and `HeartbeatActor` it supervises: one
//! that stops unexpectedly restarts with its state; only the instance's
//! shutdown ends them.
//! Broker-initiated requests are routed in `inbound.rs`; `ClientManager`, the
//! process-wide table of instances (Java `MQClientManager`), is `manager.rs`.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::future::join_all;
use tokio::time::Instant;

use super::connection::{Connection, ConnectionActor, ConnectionConfig, Reconnected};
use super::error::InstanceError;
use super::heartbeat::{
    BeatBrokers, BeatNow, HeartbeatActor, SetGroups, SetTargets, StopHeartbeat,
};
use super::live::{self, LiveGuard};
use super::namesrv_http::{self, AddrServerConfig, FetchHealth, Transition};
use super::route_manager::{
    BrokerTable, BrokersChanged, RouteConfig, RouteManager, SetBrokerListener, SetNameServers,
    StopRouteManager,
};
use crate::protocol::codes::response_code;
use crate::protocol::headers::UnregisterClientRequestHeader;
use crate::protocol::route::MASTER_ID;

mod inbound;
mod manager;

use inbound::InboundRoutes;
pub use inbound::{CheckTransaction, RequestReply};
use manager::RemoveInstance;
pub use manager::{ClientManager, GetOrCreateInstance};

/// Everything a `ClientInstance` needs; two producers share an instance when
/// their client id and name servers are equal.
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    /// The client id, `ip@instanceName[@unitName]`; brokers know this client by it.
    pub client_id: String,
    /// Settings of the instance's [`RouteManager`].
    pub route: RouteConfig,
    /// Heartbeat period (Java `heartbeatBrokerInterval`, 30 s).
    pub heartbeat_interval: Duration,
    /// Timeout of heartbeat and unregister requests (Java `mqClientApiTimeout`).
    pub api_timeout: Duration,
    /// Settings of the broker connections.
    pub connection: ConnectionConfig,
    /// Run broker connections on their own arbiter (thread) instead of the instance's.
    pub connection_arbiter: bool,
    /// Where the name-server list is fetched over HTTP (none configured): the
    /// instance fetches it again every interval and hands changes to the
    /// [`RouteManager`]. `route.namesrv_addrs` is the list fetched at start, if any.
    pub addr_server: Option<AddrServerConfig>,
}

impl InstanceConfig {
    fn key(&self) -> String {
        // Producers signing as different users must not share connections.
        let identity = self.connection.acl.as_ref().map(|a| a.access_key());
        let tls = if self.connection.tls.is_some() {
            "tls"
        } else {
            ""
        };
        // A discovered list changes over time: the address server names the instance.
        let namesrv = match &self.addr_server {
            Some(a) => a.url.clone(),
            None => self.route.namesrv_addrs.join(";"),
        };
        format!(
            "{}|{namesrv}|{}|{tls}",
            self.client_id,
            identity.unwrap_or_default()
        )
    }
}

/// The Java `ServiceState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    /// Created, not started yet.
    CreateJust,
    /// Started; producers may register and send.
    Running,
    /// Shut down (the last producer left); cannot be restarted.
    ShutdownAlready,
    /// Start was refused (e.g. an invalid name-server address).
    StartFailed,
}

/// What a registered producer gets back.
#[derive(Clone)]
pub struct InstanceHandles {
    /// The instance's client id.
    pub client_id: String,
    /// The instance, for connections and unregistering.
    pub instance: Addr<ClientInstance>,
    /// The instance's route manager, for [`FindRoute`](super::route_manager::FindRoute).
    pub route_manager: Addr<RouteManager>,
}

/// Starts the instance; a second start is an error.
pub struct StartInstance;
impl Message for StartInstance {
    type Result = Result<(), InstanceError>;
}

/// Registers a producer group; beats the brokers at once.
pub struct RegisterProducer {
    /// The producer group to register.
    pub group: String,
    /// Where the brokers' CHECK_TRANSACTION_STATE requests for this group go
    /// (a transactional producer); `None`: they are logged and dropped.
    pub transaction_checks: Option<Recipient<CheckTransaction>>,
    /// Where request–reply answers pushed to this client go (each registered
    /// producer gets every one and keeps those it waits for).
    pub replies: Option<Recipient<RequestReply>>,
}

impl RegisterProducer {
    /// Registers `group`, not transactional.
    pub fn new(group: impl Into<String>) -> Self {
        RegisterProducer {
            group: group.into(),
            transaction_checks: None,
            replies: None,
        }
    }
}
impl Message for RegisterProducer {
    type Result = Result<InstanceHandles, InstanceError>;
}

/// Unregisters a producer group from every broker; the last one shuts the instance down.
pub struct UnregisterProducer {
    /// The producer group to unregister.
    pub group: String,
}
impl Message for UnregisterProducer {
    type Result = ();
}

/// The connection to a broker address, started on first use.
pub struct GetConnection {
    /// The broker's `ip:port`.
    pub addr: String,
}
impl Message for GetConnection {
    type Result = Result<Connection, InstanceError>;
}

/// The current broker table (name → id → address).
pub struct GetBrokers;
impl Message for GetBrokers {
    type Result = BrokerTable;
}

/// A snapshot for tests and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStats {
    /// The instance's service state.
    pub state: ServiceState,
    /// Producer groups registered.
    pub producers: usize,
    /// Addresses of the open broker connections, sorted.
    pub connections: Vec<String>,
}
/// Asks a [`ClientInstance`] for its [`InstanceStats`].
pub struct GetInstanceStats;
impl Message for GetInstanceStats {
    type Result = InstanceStats;
}

/// The shared client state of one client id (Java `MQClientInstance`); get one via [`ClientManager`].
///
/// ```
/// use std::time::Duration;
/// use actix::SystemService;
/// use actix_rocketmq::internals::runtime::instance::{
///     ClientManager, GetInstanceStats, GetOrCreateInstance, InstanceConfig, RegisterProducer,
///     ServiceState, UnregisterProducer,
/// };
/// use actix_rocketmq::internals::runtime::route_manager::RouteConfig;
/// use actix_rocketmq::internals::runtime::ConnectionConfig;
/// use actix_rocketmq::testkit::TestCluster;
/// # #[actix_rt::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = TestCluster::builder().topic("TopicTest", 4).start().await?;
/// let cfg = InstanceConfig {
///     client_id: "127.0.0.1@doc".into(),
///     route: RouteConfig {
///         namesrv_addrs: vec![cluster.namesrv_addr()],
///         api_timeout: Duration::from_secs(3),
///         poll_interval: Duration::from_secs(30),
///         default_topic: "TBW102".into(),
///         default_topic_queue_nums: 4,
///         connection: ConnectionConfig::default(),
///     },
///     heartbeat_interval: Duration::from_secs(30),
///     api_timeout: Duration::from_secs(3),
///     connection: ConnectionConfig::default(),
///     connection_arbiter: false,
///     addr_server: None,
/// };
/// let instance = ClientManager::from_registry().send(GetOrCreateInstance(cfg)).await??;
/// instance.send(RegisterProducer::new("my_group")).await??;
/// let stats = instance.send(GetInstanceStats).await?;
/// assert_eq!((stats.state, stats.producers), (ServiceState::Running, 1));
/// // The last group out shuts the instance down.
/// instance.send(UnregisterProducer { group: "my_group".into() }).await?;
/// # Ok(()) }
/// ```
pub struct ClientInstance {
    cfg: InstanceConfig,
    state: ServiceState,
    route: Option<Addr<RouteManager>>,
    heartbeat: Option<Addr<HeartbeatActor>>,
    conn_arbiter: Option<Arbiter>,
    groups: BTreeSet<String>,
    /// Where the brokers' transaction checks and request–reply answers go.
    inbound: InboundRoutes,
    /// This instance, which handles broker-initiated requests and reconnections
    /// on every broker connection; set while running (a self-reference:
    /// `shutdown` drops it).
    me: Option<Addr<ClientInstance>>,
    /// When each broker address was last beaten for a reconnection.
    rebeats: HashMap<Arc<str>, Instant>,
    brokers: BrokerTable,
    conns: HashMap<String, Connection>,
    /// Whether a fetch of the name-server list is in flight, and how they went.
    addr_fetching: bool,
    addr_health: FetchHealth,
    _live: LiveGuard,
}

impl ClientInstance {
    /// A new instance in [`ServiceState::CreateJust`]; prefer [`GetOrCreateInstance`], which shares instances.
    pub fn new(cfg: InstanceConfig) -> Self {
        ClientInstance {
            cfg,
            state: ServiceState::CreateJust,
            route: None,
            heartbeat: None,
            conn_arbiter: None,
            groups: BTreeSet::new(),
            inbound: InboundRoutes::default(),
            me: None,
            rebeats: HashMap::new(),
            brokers: BrokerTable::new(),
            conns: HashMap::new(),
            addr_fetching: false,
            addr_health: FetchHealth::default(),
            _live: LiveGuard::new(&live::INSTANCES),
        }
    }

    fn connection(&mut self, addr: &str) -> Connection {
        if let Some(c) = self.conns.get(addr) {
            return c.clone();
        }
        let cfg = self.cfg.connection.clone();
        let conn = match &self.conn_arbiter {
            Some(arb) => ConnectionActor::start_supervised_in(&arb.handle(), addr, cfg),
            None => ConnectionActor::start_supervised(addr, cfg),
        };
        if let Some(me) = &self.me {
            conn.set_inbound_handler(me.clone().recipient());
            conn.set_reconnect_listener(me.clone().recipient());
        }
        self.conns.insert(addr.to_string(), conn.clone());
        conn
    }

    fn masters(&mut self) -> BTreeMap<String, Connection> {
        let masters: Vec<(String, String)> = self
            .brokers
            .iter()
            .filter_map(|(name, ids)| ids.get(&MASTER_ID).map(|a| (name.clone(), a.clone())))
            .collect();
        masters
            .into_iter()
            .map(|(name, addr)| (name, self.connection(&addr)))
            .collect()
    }

    /// UNREGISTER_CLIENT for `group` to every known broker address, masters and slaves.
    fn unregister_all(&mut self, group: &str) -> impl std::future::Future<Output = ()> + 'static {
        let addrs: BTreeSet<String> = self
            .brokers
            .values()
            .flat_map(|ids| ids.values().cloned())
            .collect();
        let conns: Vec<Connection> = addrs.iter().map(|a| self.connection(a)).collect();
        let client_id = self.cfg.client_id.clone();
        let group = group.to_string();
        let deadline = Instant::now() + self.cfg.api_timeout;
        async move {
            let calls = conns.iter().map(|c| {
                let req = UnregisterClientRequestHeader::producer(client_id.clone(), group.clone())
                    .into_request();
                async move {
                    match c.request(req, deadline).await {
                        Ok(r) if r.code == response_code::SUCCESS => {}
                        Ok(r) => tracing::warn!(
                            broker = c.remote(),
                            code = r.code,
                            "unregister rejected"
                        ),
                        Err(e) => {
                            tracing::warn!(broker = c.remote(), error = %e, "unregister failed")
                        }
                    }
                }
            });
            join_all(calls).await;
        }
    }

    /// Fetches the name-server list once; a changed list goes to the route
    /// manager, a failed fetch keeps the last good one (logged once per change of state).
    fn poll_addr_server(&mut self, ctx: &mut Context<Self>) {
        let Some(server) = self.cfg.addr_server.clone() else {
            return;
        };
        if self.addr_fetching || self.state != ServiceState::Running {
            return;
        }
        self.addr_fetching = true;
        let fut = async move { namesrv_http::fetch(&server.url, server.timeout).await };
        ctx.spawn(fut.into_actor(self).map(|res, act, _| {
            act.addr_fetching = false;
            if act.state != ServiceState::Running {
                return;
            }
            let url = act.cfg.addr_server.as_ref().map(|a| a.url.as_str()).unwrap_or_default();
            match res {
                Ok(list) => {
                    if act.addr_health.record(true) == Some(Transition::Recovered) {
                        tracing::info!(%url, "name-server address server answers again");
                    }
                    if list != act.cfg.route.namesrv_addrs {
                        tracing::info!(%url, old = ?act.cfg.route.namesrv_addrs, new = ?list, "name-server list changed");
                        act.cfg.route.namesrv_addrs = list.clone();
                        if let Some(r) = &act.route {
                            r.do_send(SetNameServers(list));
                        }
                    }
                }
                Err(why) => {
                    if act.addr_health.record(false) == Some(Transition::Failing) {
                        tracing::warn!(%url, error = %why, kept = ?act.cfg.route.namesrv_addrs, "cannot fetch the name-server list; keeping the last good one");
                    }
                }
            }
        }));
    }

    fn shutdown(&mut self, ctx: &mut Context<Self>) {
        self.state = ServiceState::ShutdownAlready;
        self.me = None;
        self.inbound.clear();
        ClientManager::from_registry().do_send(RemoveInstance {
            key: self.cfg.key(),
            instance: ctx.address(),
        });
        if let Some(r) = self.route.take() {
            r.do_send(StopRouteManager);
        }
        if let Some(hb) = self.heartbeat.take() {
            // Dropping the address is not enough: the beat timer keeps the actor (and its connections) alive.
            hb.do_send(StopHeartbeat);
        }
        let deadline = Instant::now() + self.cfg.api_timeout;
        let conns: Vec<Connection> = self.conns.drain().map(|(_, c)| c).collect();
        let arbiter = self.conn_arbiter.take();
        // In-flight requests finish or time out before the connections go.
        ctx.spawn(
            async move {
                join_all(conns.iter().map(|c| c.close(deadline))).await;
                drop(conns);
                if let Some(a) = arbiter {
                    a.stop();
                }
            }
            .into_actor(self)
            .map(|_, _, ctx| ctx.stop()),
        );
        tracing::info!(client_id = %self.cfg.client_id, "client instance shut down");
    }
}

impl Actor for ClientInstance {
    type Context = Context<Self>;
}

impl Handler<StartInstance> for ClientInstance {
    type Result = Result<(), InstanceError>;
    fn handle(&mut self, _: StartInstance, ctx: &mut Context<Self>) -> Self::Result {
        match self.state {
            ServiceState::CreateJust => {}
            ServiceState::Running | ServiceState::StartFailed => {
                return Err(InstanceError::AlreadyStarted);
            }
            ServiceState::ShutdownAlready => return Err(InstanceError::ShutDown),
        }
        for a in &self.cfg.route.namesrv_addrs {
            let valid = a
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !valid {
                self.state = ServiceState::StartFailed;
                return Err(InstanceError::StartFailed(format!(
                    "name server address `{a}` is not HOST:PORT"
                )));
            }
        }
        if self.cfg.connection_arbiter {
            self.conn_arbiter = Some(Arbiter::new());
        }
        self.me = Some(ctx.address());
        // Supervised: stopped other than by `shutdown`, they restart with their state.
        let route = RouteManager::new(self.cfg.route.clone()).start_supervised();
        route.do_send(SetBrokerListener(ctx.address().recipient()));
        self.route = Some(route);
        let heartbeat = HeartbeatActor::new(
            self.cfg.client_id.clone(),
            self.cfg.heartbeat_interval,
            self.cfg.api_timeout,
        );
        self.heartbeat = Some(heartbeat.start_supervised());
        self.state = ServiceState::Running;
        if let Some(interval) = self.cfg.addr_server.as_ref().map(|a| a.interval) {
            // Fetched at start by whoever built the config when it had to be;
            // else (none yet) the first fetch runs now, in the background.
            if self.cfg.route.namesrv_addrs.is_empty() {
                self.poll_addr_server(ctx);
            }
            ctx.run_interval(interval, |act, ctx| act.poll_addr_server(ctx));
        }
        tracing::info!(client_id = %self.cfg.client_id, "client instance started");
        Ok(())
    }
}

impl Handler<RegisterProducer> for ClientInstance {
    type Result = Result<InstanceHandles, InstanceError>;
    fn handle(&mut self, msg: RegisterProducer, ctx: &mut Context<Self>) -> Self::Result {
        let (Some(route), Some(hb)) = (self.route.clone(), self.heartbeat.clone()) else {
            return Err(InstanceError::ShutDown);
        };
        if self.state != ServiceState::Running {
            return Err(InstanceError::ShutDown);
        }
        if !self.groups.insert(msg.group.clone()) {
            return Err(InstanceError::DuplicateGroup(msg.group));
        }
        self.inbound
            .register(&msg.group, msg.transaction_checks, msg.replies);
        hb.do_send(SetGroups(self.groups.clone()));
        hb.do_send(BeatNow);
        Ok(InstanceHandles {
            client_id: self.cfg.client_id.clone(),
            instance: ctx.address(),
            route_manager: route,
        })
    }
}

impl Handler<UnregisterProducer> for ClientInstance {
    type Result = ResponseActFuture<Self, ()>;
    fn handle(&mut self, msg: UnregisterProducer, _: &mut Context<Self>) -> Self::Result {
        if !self.groups.remove(&msg.group) {
            return Box::pin(actix::fut::ready(()));
        }
        self.inbound.remove(&msg.group);
        if let Some(hb) = &self.heartbeat {
            hb.do_send(SetGroups(self.groups.clone()));
        }
        let fut = self.unregister_all(&msg.group);
        Box::pin(fut.into_actor(self).map(|_, act, ctx| {
            if act.groups.is_empty() && act.state == ServiceState::Running {
                act.shutdown(ctx);
            }
        }))
    }
}

/// At most one extra heartbeat per broker address this often: a broker that
/// accepts connections and drops them must not make connect and beat loop.
const REBEAT_MIN_GAP: Duration = Duration::from_secs(1);

impl Handler<Reconnected> for ClientInstance {
    type Result = ();
    fn handle(&mut self, msg: Reconnected, _: &mut Context<Self>) {
        // A restarted broker forgot our groups: until beaten again it can send
        // neither transaction checks nor replies to this client.
        let now = Instant::now();
        if self
            .rebeats
            .get(&msg.remote)
            .is_some_and(|at| now.duration_since(*at) < REBEAT_MIN_GAP)
        {
            return;
        }
        let names: Vec<String> = self
            .brokers
            .iter()
            .filter(|(_, ids)| ids.get(&MASTER_ID).map(String::as_str) == Some(&*msg.remote))
            .map(|(name, _)| name.clone())
            .collect();
        if let (false, Some(hb)) = (names.is_empty(), &self.heartbeat) {
            self.rebeats.insert(msg.remote, now);
            hb.do_send(BeatBrokers(names));
        }
    }
}

impl Handler<GetConnection> for ClientInstance {
    type Result = Result<Connection, InstanceError>;
    fn handle(&mut self, msg: GetConnection, _: &mut Context<Self>) -> Self::Result {
        if self.state != ServiceState::Running {
            return Err(InstanceError::ShutDown);
        }
        Ok(self.connection(&msg.addr))
    }
}

impl Handler<GetBrokers> for ClientInstance {
    type Result = MessageResult<GetBrokers>;
    fn handle(&mut self, _: GetBrokers, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.brokers.clone())
    }
}

impl Handler<BrokersChanged> for ClientInstance {
    type Result = ();
    fn handle(&mut self, msg: BrokersChanged, _: &mut Context<Self>) {
        if self.state != ServiceState::Running {
            return;
        }
        self.brokers = msg.0;
        let live: BTreeSet<String> = self
            .brokers
            .values()
            .flat_map(|ids| ids.values().cloned())
            .collect();
        let gone: Vec<String> = self
            .conns
            .keys()
            .filter(|a| !live.contains(*a))
            .cloned()
            .collect();
        for addr in gone {
            if let Some(c) = self.conns.remove(&addr) {
                tracing::info!(broker = %addr, "broker no longer in any route; closing its connection");
                c.close_now();
            }
        }
        let masters = self.masters();
        if let Some(hb) = &self.heartbeat {
            hb.do_send(SetTargets(masters));
        }
    }
}

impl Handler<GetInstanceStats> for ClientInstance {
    type Result = MessageResult<GetInstanceStats>;
    fn handle(&mut self, _: GetInstanceStats, _: &mut Context<Self>) -> Self::Result {
        let mut connections: Vec<String> = self.conns.keys().cloned().collect();
        connections.sort();
        MessageResult(InstanceStats {
            state: self.state,
            producers: self.groups.len(),
            connections,
        })
    }
}

/// Test hook: the actors the instance supervises, while it runs.
#[doc(hidden)]
pub struct GetSupervised;

/// What [`GetSupervised`] answers.
#[doc(hidden)]
pub struct SupervisedActors {
    pub route_manager: Addr<RouteManager>,
    pub heartbeat: Addr<HeartbeatActor>,
}

impl Message for GetSupervised {
    type Result = Option<SupervisedActors>;
}

impl Handler<GetSupervised> for ClientInstance {
    type Result = Option<SupervisedActors>;
    fn handle(&mut self, _: GetSupervised, _: &mut Context<Self>) -> Self::Result {
        Some(SupervisedActors {
            route_manager: self.route.clone()?,
            heartbeat: self.heartbeat.clone()?,
        })
    }
}
