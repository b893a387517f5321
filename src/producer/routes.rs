//! The producer's view of where topics live: publish infos by topic, the sends
//! waiting for one, the connections to the masters and each topic's queue
//! rotation, with the one FindRoute look-up and the one master-address rule
//! (the VIP port) every path shares.
use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use actix::prelude::*;
use futures::future::join_all;
// Hot-path tables keyed by topic names and addresses: Fx, not SipHash.
use rustc_hash::FxHashMap as HashMap;
use tokio::time::Instant;

use super::ProducerActor;
use super::config::ProducerConfig;
use super::fault::LatencyFaultTolerance;
use super::messages::FetchPublishQueues;
use super::selector::{MessageQueueSelector, QueueSelection, SelectorArg};
use super::send::outcome::Outcome;
use super::send::{Job, Route};
use crate::error::{Error, WaitingFor};
use crate::protocol::route::MASTER_ID;
use crate::protocol::route::MessageQueue;
use crate::protocol::validation::validate_topic;
use crate::runtime::instance::{ClientInstance, GetBrokers, GetConnection};
use crate::runtime::route_manager::{
    FindRoute, PublishInfo, RouteChanged, RouteManager, Subscriber,
};
use crate::runtime::{Connection, NetError, RouteError};

/// The sends waiting for one topic's route.
#[derive(Default)]
struct Waiters {
    // Jobs travel boxed (cheap moves); unboxing them to queue would copy each.
    #[allow(clippy::vec_box)]
    jobs: Vec<Box<Job>>,
    /// The earliest deadline among `jobs`: kept, not scanned for, so thousands
    /// of sends waiting out a slow name server cost one comparison each.
    earliest: Option<Instant>,
}

/// Routes, connections and queue rotations, by topic (namespaced) and address.
pub(crate) struct RouteCache {
    /// Sends go to the brokers' VIP port (see [`broker_addr`]).
    vip: bool,
    /// This producer's id as a route subscriber.
    sub_id: u64,
    routes: HashMap<String, PublishInfo>,
    waiting: HashMap<String, Waiters>,
    conns: HashMap<String, Connection>,
    selection: HashMap<String, QueueSelection>,
}

impl RouteCache {
    pub(crate) fn new(vip: bool, sub_id: u64) -> Self {
        RouteCache {
            vip,
            sub_id,
            routes: HashMap::default(),
            waiting: HashMap::default(),
            conns: HashMap::default(),
            selection: HashMap::default(),
        }
    }

    /// This producer's id as a route subscriber (for `Unsubscribe`).
    pub(crate) fn sub_id(&self) -> u64 {
        self.sub_id
    }

    /// `topic`'s publish info, usable or not.
    #[inline]
    pub(crate) fn get(&self, topic: &str) -> Option<&PublishInfo> {
        self.routes.get(topic)
    }

    /// `topic`'s publish info if it has queues to send to.
    #[inline]
    pub(crate) fn usable(&self, topic: &str) -> Option<PublishInfo> {
        self.routes.get(topic).filter(|i| i.ok()).cloned()
    }

    /// Parks `job` until its topic's route is known, and says what that
    /// takes (see [`RouteWait`]).
    pub(crate) fn wait(&mut self, job: Box<Job>) -> RouteWait {
        let deadline = job.deadline;
        let waiting = self.waiting.entry(job.topic().to_owned()).or_default();
        let earliest = waiting.earliest;
        waiting.earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
        waiting.jobs.push(job);
        let topic = || waiting.jobs[0].topic().to_owned();
        match earliest {
            None => RouteWait::Lookup(topic(), deadline),
            Some(e) if deadline < e => RouteWait::Joined(Some((topic(), deadline))),
            Some(_) => RouteWait::Joined(None),
        }
    }

    /// The sends waiting for `topic`'s route whose deadline passed by `now`.
    #[allow(clippy::vec_box)]
    pub(crate) fn take_expired(&mut self, topic: &str, now: Instant) -> Vec<Box<Job>> {
        let Some(waiting) = self.waiting.get_mut(topic) else {
            return Vec::new();
        };
        let (expired, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut waiting.jobs)
            .into_iter()
            .partition(|j| j.deadline <= now);
        waiting.earliest = rest.iter().map(|j| j.deadline).min();
        waiting.jobs = rest;
        expired
    }

    /// The sends that waited for `topic`'s route.
    #[allow(clippy::vec_box)]
    pub(crate) fn take_waiting(&mut self, topic: &str) -> Vec<Box<Job>> {
        self.waiting
            .remove(topic)
            .map(|w| w.jobs)
            .unwrap_or_default()
    }

    /// Sends waiting for a route.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.values().map(|w| w.jobs.len()).sum()
    }

    /// Every send waiting for a route (the producer stops).
    pub(crate) fn drain_waiting(&mut self) -> impl Iterator<Item = Box<Job>> + '_ {
        self.waiting.drain().flat_map(|(_, w)| w.jobs)
    }

    /// A route learnt, with the masters' connections (connections first, so
    /// no attempt finds a broker without one).
    pub(crate) fn learn(
        &mut self,
        topic: String,
        info: PublishInfo,
        conns: Vec<(String, Connection)>,
    ) {
        self.conns.extend(conns);
        self.routes.insert(topic, info);
    }

    /// Whether any cached route names `broker` (its queues or its addresses).
    pub(crate) fn names_broker(&self, broker: &str) -> bool {
        self.routes.values().any(|info| {
            info.queues.iter().any(|q| q.broker_name == broker)
                || info
                    .route
                    .broker_datas
                    .iter()
                    .any(|b| b.broker_name == broker)
        })
    }

    /// A connection got for `addr`.
    pub(crate) fn connected(&mut self, addr: String, conn: Connection) {
        self.conns.insert(addr, conn);
    }

    /// The address sends to `broker` go to (its master's, see [`broker_addr`])
    /// and its connection, if this producer has one.
    #[inline]
    pub(crate) fn master<'a>(
        &'a self,
        info: &'a PublishInfo,
        broker: &str,
    ) -> (Option<Cow<'a, str>>, Option<&'a Connection>) {
        let addr = info
            .route
            .master_addr(broker)
            .map(|a| broker_addr(a, self.vip));
        // Looked up by reference: cloning a `Connection` clones an actix address, which allocates.
        let conn = addr.as_deref().and_then(|a| self.conns.get(a));
        (addr, conn)
    }

    /// [`Self::master`] of `broker` by `topic`'s cached route (none if not cached), owned.
    pub(crate) fn master_of(
        &self,
        topic: &str,
        broker: &str,
    ) -> (Option<String>, Option<Connection>) {
        match self.routes.get(topic) {
            Some(info) => {
                let (addr, conn) = self.master(info, broker);
                (addr.map(Cow::into_owned), conn.cloned())
            }
            None => (None, None),
        }
    }

    /// Whether the connection to `queue`'s master is open (a cold look-up, for timeouts).
    pub(crate) fn broker_connected(&self, queue: &MessageQueue) -> bool {
        self.routes
            .get(&queue.topic)
            .and_then(|info| self.master(info, &queue.broker_name).1)
            .is_some_and(Connection::is_connected)
    }

    /// Whether sends to the VIP port.
    pub(crate) fn vip(&self) -> bool {
        self.vip
    }

    /// The queue for `job`'s next attempt among `info`'s: the one it names,
    /// the one its selector picks, else the topic's rotation (avoiding the
    /// last failed broker and, with `fault`, faulty ones).
    #[inline]
    pub(crate) fn select_queue(
        &mut self,
        job: &Job,
        info: &PublishInfo,
        fault: Option<&LatencyFaultTolerance>,
        cfg: &ProducerConfig,
    ) -> Result<MessageQueue, Error> {
        match &job.route {
            Route::Queue(q) => Ok(q.clone()),
            Route::Selector(sel, arg) => select_caught(sel.as_ref(), job, info, arg, cfg),
            Route::Any | Route::Oneway => {
                let fault = fault.map(|f| (f, Instant::now().into_std()));
                let last = job.brokers_tried.last().map(String::as_str);
                // Looked up before inserting: `entry` would copy the topic on every send.
                if let Some(sel) = self.selection.get_mut(job.topic()) {
                    return sel
                        .select_one(info, last, fault)
                        .ok_or_else(|| Error::no_queue_selected(job.topic()));
                }
                let mut sel = QueueSelection::default();
                let picked = sel.select_one(info, last, fault);
                self.selection.insert(job.topic().to_owned(), sel);
                picked.ok_or_else(|| Error::no_queue_selected(job.topic()))
            }
        }
    }

    /// A [`FindRoute`] that keeps `me` told of the topic's route changes.
    pub(crate) fn find(&self, topic: String, me: Recipient<RouteChanged>) -> FindRoute {
        FindRoute {
            topic,
            subscriber: Some(Subscriber {
                id: self.sub_id,
                recipient: me,
            }),
        }
    }
}

/// What a send that waits for its topic's route needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RouteWait {
    /// It is the first to wait: a look-up starts, bounded by its deadline.
    Lookup(String, Instant),
    /// Others wait already, so a look-up runs. `Some` when this send's
    /// deadline comes before theirs, before the look-up's bound: a timer must
    /// answer it then ([`RouteCache::take_expired`]).
    Joined(Option<(String, Instant)>),
}

/// The one route look-up: `find` asked of the route manager, its answer
/// awaited (`RouteError::Shutdown` when either side is gone).
pub(crate) async fn find_route(
    rm: Addr<RouteManager>,
    find: FindRoute,
) -> Result<PublishInfo, RouteError> {
    let rx = rm.send(find).await.map_err(|_| RouteError::Shutdown)?;
    rx.await.map_err(|_| RouteError::Shutdown)?
}

/// Connections to the master of every broker in `info`, from the client instance.
pub(crate) async fn connections_for(
    instance: &Addr<ClientInstance>,
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

/// The connection to `broker`'s master (Java `findBrokerAddressInPublish`):
/// `conn` when open, else one to `known` (the master's address by a cached
/// route), else to the master the client instance's broker table knows.
pub(crate) async fn master_connection(
    known: Option<String>,
    conn: Option<Connection>,
    broker: String,
    vip: bool,
    instance: Addr<ClientInstance>,
) -> Result<Connection, Error> {
    if let Some(c) = conn {
        return Ok(c);
    }
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
        .map_err(|_| Error::shut_down())?
        .map_err(Error::from)
}

/// With the VIP channel on, sends go to the broker's fast port (port - 2), as in the Java client.
pub(crate) fn broker_addr(addr: &str, vip: bool) -> Cow<'_, str> {
    if vip {
        if let Some((host, port)) = addr.rsplit_once(':') {
            if let Ok(p) = port.parse::<u16>() {
                return Cow::Owned(format!("{host}:{}", p.saturating_sub(2)));
            }
        }
    }
    Cow::Borrowed(addr)
}

/// `queue` as the user named it: without this producer's namespace.
pub(crate) fn user_queue(cfg: &ProducerConfig, queue: MessageQueue) -> MessageQueue {
    match cfg.namespace() {
        Some(_) => MessageQueue {
            topic: cfg.strip(&queue.topic).into_owned(),
            ..queue
        },
        None => queue,
    }
}

/// What a route look-up brings back: the publish info with the masters'
/// connections, or why not (`None`: no answer by the look-up's bound, the
/// deadline of the send that started it).
type RouteLookup = Result<(PublishInfo, Vec<(String, Connection)>), Option<RouteError>>;

impl ProducerActor {
    /// A send's attempt once its topic's route is known: at once when it is
    /// cached, else after the one look-up for the topic. Every waiting send is
    /// answered by its own deadline.
    pub(crate) fn route_then_attempt(&mut self, job: Box<Job>, ctx: &mut Context<Self>) {
        if let Some(info) = self.routes.usable(job.topic()) {
            return self.attempt_with(job, info, ctx);
        }
        let (topic, deadline) = match self.routes.wait(job) {
            RouteWait::Lookup(topic, deadline) => (topic, deadline),
            RouteWait::Joined(None) => return,
            RouteWait::Joined(Some((topic, at))) => {
                // Due before the running look-up's bound: a timer of its own.
                let after = at.saturating_duration_since(Instant::now());
                ctx.run_later(after, move |act, ctx| act.route_waits_expired(&topic, ctx));
                return;
            }
        };
        let find = self.routes.find(topic.clone(), ctx.address().recipient());
        let lookup = find_route(self.handles.route_manager.clone(), find);
        let instance = self.handles.instance.clone();
        let lookup = async move {
            let info = lookup.await.map_err(Some)?;
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
        let jobs = self.routes.take_waiting(&topic);
        match res {
            Ok((info, conns)) => {
                self.routes.learn(topic, info, conns);
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
            // No answer by the deadline of the send that started the look-up:
            // that send times out; those with time left look again (the route
            // manager joins a fetch already running, so no extra query).
            Err(None) => {
                let now = Instant::now();
                for job in jobs {
                    if job.deadline <= now {
                        self.follow(Outcome::too_late(job, now), ctx);
                    } else {
                        self.route_then_attempt(job, ctx);
                    }
                }
            }
        }
    }

    /// A waiting send's own deadline came before the look-up's: it times out now.
    fn route_waits_expired(&mut self, topic: &str, ctx: &mut Context<Self>) {
        let now = Instant::now();
        for job in self.routes.take_expired(topic, now) {
            self.follow(Outcome::too_late(job, now), ctx);
        }
    }
}

impl Handler<FetchPublishQueues> for ProducerActor {
    type Result = ResponseActFuture<Self, Result<Vec<MessageQueue>, Error>>;
    fn handle(&mut self, msg: FetchPublishQueues, ctx: &mut Context<Self>) -> Self::Result {
        if let Err(e) = validate_topic(&msg.topic) {
            return Box::pin(actix::fut::ready(Err(e.into())));
        }
        let topic = self.cfg.wrap(&msg.topic).into_owned();
        let find = self.routes.find(topic.clone(), ctx.address().recipient());
        let lookup = find_route(self.handles.route_manager.clone(), find);
        let timeout = self.cfg.send_timeout();
        let fut = async move {
            match tokio::time::timeout(timeout, lookup).await {
                Ok(res) => res.map_err(Error::from),
                Err(_) => {
                    Err(Error::timeout(timeout, 0, Vec::new()).waiting_for(WaitingFor::Route))
                }
            }
        };
        Box::pin(fut.into_actor(self).map(move |res, act, _| {
            let info = res?;
            act.routes.learn(topic, info.clone(), Vec::new());
            Ok(info
                .queues
                .iter()
                .map(|q| user_queue(&act.cfg, q.clone()))
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
            act.routes.learn(msg.topic, msg.info, conns);
            // The fault table forgets brokers no route names any more.
            let routes = &act.routes;
            act.outcome
                .prune_faults(|broker| routes.names_broker(broker));
        }))
    }
}

/// A selector's pick, its panic caught (it fails the send, not the producer).
#[cold]
#[inline(never)]
fn select_caught(
    sel: &dyn MessageQueueSelector,
    job: &Job,
    info: &PublishInfo,
    arg: &SelectorArg,
    cfg: &ProducerConfig,
) -> Result<MessageQueue, Error> {
    // The selector sees the queues as the caller names them: without the
    // namespace (as the message's topic is); its index picks the queue as sent.
    let stripped: Option<Vec<MessageQueue>> = cfg.namespace().map(|_| {
        info.queues
            .iter()
            .map(|q| user_queue(cfg, q.clone()))
            .collect()
    });
    let shown = stripped.as_deref().unwrap_or(&info.queues);
    match catch_unwind(AssertUnwindSafe(|| {
        sel.select(shown, &job.message, arg)
            .and_then(|i| info.queues.get(i))
            .cloned()
    })) {
        Ok(Some(q)) => Ok(q),
        Ok(None) => Err(Error::no_queue_selected(job.topic())),
        Err(panic) => Err(Error::selector_panicked(
            job.topic(),
            crate::producer::hooks::panic_message(&panic),
        )),
    }
}
