//! `RouteManager`: topic routes from the name servers, cached and kept fresh.
//!
//! Look-ups of one topic are coalesced into one request; a name server that is
//! down (or that forgot a topic after a restart) leaves the last good route in
//! use; routes are re-fetched every poll interval and changes are pushed to the
//! producers that use the topic and to the `ClientInstance` (broker table). A
//! failed or unusable look-up is remembered for a short, growing interval
//! (`failed_lookups.rs`): sends meanwhile fail at once.
//!
//! The `ClientInstance` runs it supervised ([`RouteManager::start_supervised`]):
//! stopped other than by [`StopRouteManager`], it restarts with its cache,
//! subscribers and name-server connections, and fetches again what was in flight.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::WeakRecipient;
use actix::prelude::*;
use futures::channel::oneshot;
use rand::Rng;
use tokio::time::Instant;
use tracing::Instrument;

use super::StopUnexpectedly;
use super::connection::{Connection, ConnectionActor, ConnectionConfig};
use super::error::{NetError, RouteError};
use super::failed_lookups::FailedLookups;
use super::live::{self, LiveGuard};
use super::metrics;
use super::supervise::{self, FinalStop, Finite};
use crate::protocol::codes::response_code;
use crate::protocol::headers::GetRouteInfoRequestHeader;
use crate::protocol::peer_text::bounded_owned;
use crate::protocol::route::{TopicPublishInfo, TopicRouteData, clamp_default_route};

/// Settings of the route manager.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// Name-server `host:port` addresses; one random start, then rotate on failure.
    pub namesrv_addrs: Vec<String>,
    /// Per name-server request timeout (Java `mqClientApiTimeout`, 3 s).
    pub api_timeout: Duration,
    /// Route refresh period (Java `pollNameServerInterval`, 30 s).
    pub poll_interval: Duration,
    /// The auto-create template topic (`TBW102`).
    pub default_topic: String,
    /// Queue count an auto-created topic's route is clamped to (Java `defaultTopicQueueNums`, 4).
    pub default_topic_queue_nums: i32,
    /// Settings of the name-server connections.
    pub connection: ConnectionConfig,
}

/// Publish info of a topic, shared read-only with producers.
pub type PublishInfo = Arc<TopicPublishInfo>;

/// Brokers by name: broker id → address (id 0 is the master).
pub type BrokerTable = BTreeMap<String, BTreeMap<u64, String>>;

/// Pushed to a producer when the route of a topic it uses changes.
#[derive(Clone)]
pub struct RouteChanged {
    /// The topic whose route changed.
    pub topic: String,
    /// Its new publish info.
    pub info: PublishInfo,
}

impl Message for RouteChanged {
    type Result = ();
}

/// Pushed to the `ClientInstance` when the set of brokers named by routes changes.
pub struct BrokersChanged(pub BrokerTable);

impl Message for BrokersChanged {
    type Result = ();
}

/// A subscriber to route changes: an id (to unsubscribe) and where to push.
#[derive(Clone)]
pub struct Subscriber {
    /// Chosen by the subscriber; pass it to [`Unsubscribe`].
    pub id: u64,
    /// Where [`RouteChanged`] is pushed.
    pub recipient: Recipient<RouteChanged>,
}

/// Finds the publish info of `topic`: from the cache, else from a name server.
pub struct FindRoute {
    /// The topic, already namespaced.
    pub topic: String,
    /// Keeps the subscriber informed of changes to this topic's route.
    pub subscriber: Option<Subscriber>,
}

type RouteReply = Result<PublishInfo, RouteError>;

impl Message for FindRoute {
    type Result = oneshot::Receiver<RouteReply>;
}

/// Forgets a subscriber (a producer that shut down).
pub struct Unsubscribe(pub u64);

impl Message for Unsubscribe {
    type Result = ();
}

/// Re-fetches every cached topic now (the periodic task, on demand).
pub struct RefreshAll;

impl Message for RefreshAll {
    type Result = ();
}

/// Sets who hears about broker table changes.
pub struct SetBrokerListener(pub Recipient<BrokersChanged>);

impl Message for SetBrokerListener {
    type Result = ();
}

/// Replaces the name-server list (discovered over HTTP). Cached routes stay;
/// connections to name servers no longer listed are closed.
pub struct SetNameServers(pub Vec<String>);

impl Message for SetNameServers {
    type Result = ();
}

/// Closes the name-server connections and stops.
pub struct StopRouteManager;

impl Message for StopRouteManager {
    type Result = ();
}

/// Counts, for tests: name-server requests sent and topics cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteStats {
    /// Route fetches started (each may ask several name servers).
    pub requests: u64,
    /// Topics with cached publish info.
    pub topics: usize,
    /// Topics whose route is being fetched now.
    pub inflight: usize,
    /// Topics whose last look-up failed and is remembered now.
    pub failed: usize,
    /// Supervised restarts after stopping unexpectedly.
    pub restarts: u64,
}

/// Asks a [`RouteManager`] for its [`RouteStats`].
pub struct GetRouteStats;

impl Message for GetRouteStats {
    type Result = RouteStats;
}

/// A fetch in flight and who waits for it.
struct Inflight {
    /// A look-up (may fall back to the TBW102 template), not a refresh.
    allow_default: bool,
    waiters: Vec<oneshot::Sender<RouteReply>>,
}

/// How one fetch ended.
enum Fetched {
    /// A route, from the name server at this address.
    Route(TopicRouteData, String),
    /// The topic is unknown and so is the TBW102 template (or the fetch was a refresh).
    NotFound,
}

/// Why a look-up found no route.
enum LookupFailure {
    /// No name server answered.
    Unreachable(NetError),
    /// A name server answered, and what it said is not a route.
    Answered(RouteError),
}

/// Fetches and caches topic routes (Java `MQClientInstance.updateTopicRouteInfoFromNameServer`).
///
/// ```
/// use std::time::Duration;
/// use actix::Actor;
/// use actix_rocketmq::internals::runtime::route_manager::{FindRoute, RouteConfig, RouteManager, StopRouteManager};
/// use actix_rocketmq::internals::runtime::ConnectionConfig;
/// use actix_rocketmq::testkit::TestCluster;
/// # #[actix_rt::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = TestCluster::builder().topic("TopicTest", 4).start().await?;
/// let routes = RouteManager::new(RouteConfig {
///     namesrv_addrs: vec![cluster.namesrv_addr()],
///     api_timeout: Duration::from_secs(3),
///     poll_interval: Duration::from_secs(30),
///     default_topic: "TBW102".into(),
///     default_topic_queue_nums: 4,
///     connection: ConnectionConfig::default(),
/// })
/// .start();
/// let find = FindRoute { topic: "TopicTest".into(), subscriber: None };
/// // The reply is a receiver: look-ups of one topic share one name-server request.
/// let info = routes.send(find).await?.await??;
/// assert_eq!(info.queues.len(), 4);
/// routes.send(StopRouteManager).await?;
/// # Ok(()) }
/// ```
pub struct RouteManager {
    cfg: RouteConfig,
    ns_index: usize,
    ns_conns: HashMap<String, Connection>,
    routes: HashMap<String, TopicRouteData>,
    publish: HashMap<String, PublishInfo>,
    inflight: HashMap<String, Inflight>,
    failed: FailedLookups,
    /// Weak: a producer its user dropped must be able to stop.
    subscribers: HashMap<String, HashMap<u64, WeakRecipient<RouteChanged>>>,
    broker_listener: Option<Recipient<BrokersChanged>>,
    brokers: BrokerTable,
    requests: u64,
    restarts: u64,
    /// Set by [`StopRouteManager`]: that stop is final, not restarted.
    stopped: FinalStop,
    _live: LiveGuard,
}

impl RouteManager {
    /// A manager with an empty cache, starting at a random name server.
    pub fn new(cfg: RouteConfig) -> Self {
        // Java starts at a random name server so clients spread their load.
        let ns_index = if cfg.namesrv_addrs.is_empty() {
            0
        } else {
            rand::thread_rng().gen_range(0..cfg.namesrv_addrs.len())
        };
        RouteManager {
            ns_index,
            ns_conns: HashMap::new(),
            routes: HashMap::new(),
            publish: HashMap::new(),
            inflight: HashMap::new(),
            failed: FailedLookups::new(cfg.poll_interval),
            subscribers: HashMap::new(),
            broker_listener: None,
            brokers: BrokerTable::new(),
            requests: 0,
            restarts: 0,
            stopped: FinalStop::default(),
            _live: LiveGuard::new(&live::ROUTE_MANAGERS),
            cfg,
        }
    }

    /// Starts the manager supervised on the current arbiter: stopped other than
    /// by [`StopRouteManager`], it restarts with its cache.
    pub fn start_supervised(self) -> Addr<Self> {
        supervise::start(self)
    }

    /// Name-server connections in the order to try them: the current one first.
    fn ns_order(&mut self) -> Vec<(usize, Connection)> {
        let n = self.cfg.namesrv_addrs.len();
        let mut out = Vec::with_capacity(n);
        for k in 0..n {
            let i = (self.ns_index + k) % n;
            let addr = self.cfg.namesrv_addrs[i].clone();
            let cfg = self.cfg.connection.clone();
            let conn = self
                .ns_conns
                .entry(addr.clone())
                .or_insert_with(|| ConnectionActor::start_supervised(addr, cfg))
                .clone();
            out.push((i, conn));
        }
        out
    }

    fn start_fetch(&mut self, topic: String, allow_default: bool, ctx: &mut Context<Self>) {
        let order = self.ns_order();
        self.requests += 1;
        let timeout = self.cfg.api_timeout;
        let default_topic = self.cfg.default_topic.clone();
        let queue_nums = self.cfg.default_topic_queue_nums;
        let t = topic.clone();
        let span = tracing::debug_span!(
            target: "actix_rocketmq::route",
            "rocketmq.route_lookup",
            messaging.destination.name = topic.as_str(),
            namesrv_requests = tracing::field::Empty,
            result = tracing::field::Empty,
        );
        let done = span.clone();
        let fut = async move {
            let (i, first) = query_any(&order, &t, &t, timeout).await?;
            match first {
                Some((route, ns)) => Ok((i, Fetched::Route(route, ns), 1)),
                None if allow_default && t != default_topic => {
                    // Java falls back to the TBW102 template so the broker can auto-create the topic.
                    match query_any(&order, &default_topic, &t, timeout).await? {
                        (j, Some((route, ns))) => Ok((
                            j,
                            Fetched::Route(clamp_default_route(route, queue_nums), ns),
                            2,
                        )),
                        (j, None) => Ok((j, Fetched::NotFound, 2)),
                    }
                }
                None => Ok((i, Fetched::NotFound, 1)),
            }
        };
        ctx.spawn(
            fut.instrument(span)
                .into_actor(self)
                .map(move |res, act, ctx| {
                    let _in = done.enter();
                    act.complete(topic, res, ctx)
                }),
        );
    }

    fn complete(
        &mut self,
        topic: String,
        res: Result<(usize, Fetched, u64), (usize, LookupFailure)>,
        _ctx: &mut Context<Self>,
    ) {
        let reply: RouteReply = match res {
            Ok((i, fetched, requests)) => {
                self.ns_index = i;
                self.requests += requests - 1;
                match fetched {
                    Fetched::Route(route, namesrv) => {
                        let info = self.install(&topic, route);
                        match info.unusable_reason() {
                            None => Ok(info),
                            Some(reason) => Err(RouteError::Unusable {
                                topic: topic.clone(),
                                namesrv,
                                reason,
                            }),
                        }
                    }
                    // A name server restarted before brokers re-registered: keep the old route.
                    Fetched::NotFound => match self.publish.get(&topic) {
                        Some(info) => Ok(info.clone()),
                        None => Err(RouteError::NoRoute {
                            topic: topic.clone(),
                        }),
                    },
                }
            }
            Err((i, failure)) => {
                self.ns_index = (i + 1) % self.cfg.namesrv_addrs.len().max(1);
                let err = match failure {
                    LookupFailure::Unreachable(last) => RouteError::NameServerUnreachable {
                        topic: topic.clone(),
                        last,
                    },
                    LookupFailure::Answered(e) => e,
                };
                match self.publish.get(&topic).filter(|i| i.ok()) {
                    Some(info) => {
                        tracing::warn!(%topic, error = %err, "route look-up failed; keeping the cached route");
                        Ok(info.clone())
                    }
                    None => Err(err),
                }
            }
        };
        metrics::route_lookup(&topic, reply.is_ok());
        let span = tracing::Span::current();
        span.record("result", if reply.is_ok() { "ok" } else { "failed" });
        match &reply {
            Ok(_) => self.failed.succeeded(&topic),
            Err(e) => {
                let interval = self.failed.failed(&topic, e.clone(), Instant::now());
                tracing::debug!(%topic, error = %e, ?interval, "route look-up failed; sends for the topic fail at once meanwhile");
            }
        }
        let waiters = self.inflight.remove(&topic).map(|f| f.waiters);
        for tx in waiters.unwrap_or_default() {
            let _ = tx.send(reply.clone());
        }
    }

    /// Stores a fetched route; pushes a change to subscribers and the broker listener.
    fn install(&mut self, topic: &str, route: TopicRouteData) -> PublishInfo {
        if let (Some(old), Some(info)) = (self.routes.get(topic), self.publish.get(topic)) {
            if *old == route {
                return info.clone();
            }
        }
        let info = Arc::new(TopicPublishInfo::from_route(topic, &route));
        let changed = self.routes.insert(topic.to_string(), route).is_some();
        self.publish.insert(topic.to_string(), info.clone());
        if changed {
            tracing::info!(%topic, queues = info.queues.len(), "topic route changed");
            if let Some(subs) = self.subscribers.get_mut(topic) {
                subs.retain(|_, r| match r.upgrade() {
                    Some(r) => {
                        let _ = r.try_send(RouteChanged {
                            topic: topic.to_string(),
                            info: info.clone(),
                        });
                        true
                    }
                    None => false,
                });
            }
        }
        self.update_brokers();
        info
    }

    /// Recomputes the broker table from every cached route; brokers no route names are dropped.
    fn update_brokers(&mut self) {
        let mut table = BrokerTable::new();
        for route in self.routes.values() {
            for b in &route.broker_datas {
                table.insert(b.broker_name.clone(), b.broker_addrs.clone());
            }
        }
        if table != self.brokers {
            self.brokers = table.clone();
            if let Some(l) = &self.broker_listener {
                let _ = l.try_send(BrokersChanged(table));
            }
        }
    }
}

/// A route and the name server that answered it.
type Answer = (TopicRouteData, String);

/// Asks each name server in turn; `Ok(None)` means TOPIC_NOT_EXIST. On failure
/// what a name server answered wins over one that did not answer at all.
async fn query_any(
    order: &[(usize, Connection)],
    topic: &str,
    for_topic: &str,
    timeout: Duration,
) -> Result<(usize, Option<Answer>), (usize, LookupFailure)> {
    let mut answered: Option<(usize, RouteError)> = None;
    let mut unreachable = (0, NetError::Shutdown);
    for (i, conn) in order {
        let req = GetRouteInfoRequestHeader::new(topic).into_request();
        let namesrv = conn.remote().to_string();
        let err = match conn.request(req, Instant::now() + timeout).await {
            Ok(resp) if resp.code == response_code::SUCCESS => {
                match TopicRouteData::decode(&resp.body) {
                    Ok(route) => return Ok((*i, Some((route, namesrv)))),
                    Err(source) => {
                        metrics::namesrv_failure(&namesrv, "malformed");
                        RouteError::Malformed {
                            topic: for_topic.to_string(),
                            namesrv,
                            source,
                        }
                    }
                }
            }
            Ok(resp) if resp.code == response_code::TOPIC_NOT_EXIST => return Ok((*i, None)),
            Ok(resp) => {
                metrics::namesrv_failure(&namesrv, "rejected");
                RouteError::Rejected {
                    topic: for_topic.to_string(),
                    namesrv,
                    code: resp.code,
                    remark: bounded_owned(resp.remark.unwrap_or_default()),
                }
            }
            Err(e) => {
                metrics::namesrv_failure(&namesrv, "unreachable");
                tracing::debug!(namesrv = conn.remote(), %topic, error = %e, "name server unreachable; trying the next one");
                unreachable = (*i, e);
                continue;
            }
        };
        tracing::debug!(namesrv = conn.remote(), %topic, error = %err, "route look-up failed; trying the next name server");
        answered = Some((*i, err));
    }
    Err(match answered {
        Some((i, e)) => (i, LookupFailure::Answered(e)),
        None => (unreachable.0, LookupFailure::Unreachable(unreachable.1)),
    })
}

impl Actor for RouteManager {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(256);
        // Again after each restart, which cancelled the timer.
        ctx.run_interval(self.cfg.poll_interval, |act, ctx| act.refresh_all(ctx));
        // A restart cancelled the fetches in flight: their waiters get new ones.
        let again: Vec<(String, bool)> = self
            .inflight
            .iter()
            .map(|(topic, f)| (topic.clone(), f.allow_default))
            .collect();
        for (topic, allow_default) in again {
            self.start_fetch(topic, allow_default, ctx);
        }
    }
}

impl Supervised for RouteManager {
    fn restarting(&mut self, _: &mut Context<Self>) {
        // The cache, subscribers and name-server connections stay as they were.
        self.restarts += 1;
        tracing::warn!(
            restarts = self.restarts,
            inflight = self.inflight.len(),
            "route manager stopped unexpectedly; restarting"
        );
    }
}

impl Finite for RouteManager {
    fn final_stop(&self) -> &FinalStop {
        &self.stopped
    }
}

impl RouteManager {
    fn refresh_all(&mut self, ctx: &mut Context<Self>) {
        let topics: Vec<String> = self.routes.keys().cloned().collect();
        for topic in topics {
            if !self.inflight.contains_key(&topic) {
                let refresh = Inflight {
                    allow_default: false,
                    waiters: Vec::new(),
                };
                self.inflight.insert(topic.clone(), refresh);
                self.start_fetch(topic, false, ctx);
            }
        }
    }
}

impl Handler<FindRoute> for RouteManager {
    type Result = MessageResult<FindRoute>;

    fn handle(&mut self, msg: FindRoute, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        if self.stopped.is_set() {
            let _ = tx.send(Err(RouteError::Shutdown));
            return MessageResult(rx);
        }
        if let Some(sub) = msg.subscriber {
            self.subscribers
                .entry(msg.topic.clone())
                .or_default()
                .insert(sub.id, sub.recipient.downgrade());
        }
        if let Some(info) = self.publish.get(&msg.topic).filter(|i| i.ok()) {
            let _ = tx.send(Ok(info.clone()));
        } else if self.cfg.namesrv_addrs.is_empty() {
            let _ = tx.send(Err(RouteError::NoNameServer));
        } else if let Some(fetch) = self.inflight.get_mut(&msg.topic) {
            fetch.waiters.push(tx);
        } else if let Some(err) = self.failed.check(&msg.topic, Instant::now()) {
            let _ = tx.send(Err(err.clone()));
        } else {
            let lookup = Inflight {
                allow_default: true,
                waiters: vec![tx],
            };
            self.inflight.insert(msg.topic.clone(), lookup);
            self.start_fetch(msg.topic, true, ctx);
        }
        MessageResult(rx)
    }
}

impl Handler<Unsubscribe> for RouteManager {
    type Result = ();
    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) {
        for subs in self.subscribers.values_mut() {
            subs.remove(&msg.0);
        }
        self.subscribers.retain(|_, s| !s.is_empty());
    }
}

impl Handler<RefreshAll> for RouteManager {
    type Result = ();
    fn handle(&mut self, _: RefreshAll, ctx: &mut Context<Self>) {
        self.refresh_all(ctx);
    }
}

impl Handler<SetBrokerListener> for RouteManager {
    type Result = ();
    fn handle(&mut self, msg: SetBrokerListener, _: &mut Context<Self>) {
        if !self.brokers.is_empty() {
            let _ = msg.0.try_send(BrokersChanged(self.brokers.clone()));
        }
        self.broker_listener = Some(msg.0);
    }
}

impl Handler<SetNameServers> for RouteManager {
    type Result = ();
    fn handle(&mut self, msg: SetNameServers, _: &mut Context<Self>) {
        if msg.0 == self.cfg.namesrv_addrs || self.stopped.is_set() {
            return;
        }
        tracing::info!(old = ?self.cfg.namesrv_addrs, new = ?msg.0, "name servers changed");
        self.ns_conns.retain(|addr, conn| {
            let keep = msg.0.contains(addr);
            if !keep {
                conn.close_now();
            }
            keep
        });
        self.ns_index = if msg.0.is_empty() {
            0
        } else {
            rand::thread_rng().gen_range(0..msg.0.len())
        };
        self.cfg.namesrv_addrs = msg.0;
        // What the old name servers could not answer, the new ones may.
        self.failed = FailedLookups::new(self.cfg.poll_interval);
    }
}

impl Handler<StopRouteManager> for RouteManager {
    type Result = ();
    fn handle(&mut self, _: StopRouteManager, ctx: &mut Context<Self>) {
        self.stopped.set();
        for (topic, fetch) in self.inflight.drain() {
            for tx in fetch.waiters {
                let _ = tx.send(Err(RouteError::Shutdown));
            }
            tracing::debug!(%topic, "route look-up abandoned at shutdown");
        }
        for conn in self.ns_conns.values() {
            conn.close_now();
        }
        self.ns_conns.clear();
        ctx.stop();
    }
}

impl Handler<StopUnexpectedly> for RouteManager {
    type Result = ();
    fn handle(&mut self, _: StopUnexpectedly, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<GetRouteStats> for RouteManager {
    type Result = MessageResult<GetRouteStats>;
    fn handle(&mut self, _: GetRouteStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(RouteStats {
            requests: self.requests,
            topics: self.publish.len(),
            inflight: self.inflight.len(),
            failed: self.failed.len(),
            restarts: self.restarts,
        })
    }
}
