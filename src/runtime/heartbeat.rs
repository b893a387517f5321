//! `HeartbeatActor`: tells every master broker which producer groups this client has.
//!
//! The `ClientInstance` runs it supervised ([`HeartbeatActor::start_supervised`]):
//! stopped other than by [`StopHeartbeat`], it restarts with its targets,
//! groups and counters, and beats at once for the round its restart may have cancelled.
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use actix::prelude::*;
use futures::future::join_all;
use tokio::time::Instant;
use tracing::Instrument;

use super::StopUnexpectedly;
use super::connection::Connection;
use super::live::{self, LiveGuard};
use super::metrics;
use super::supervise::{self, FinalStop, Finite};
use crate::protocol::codes::response_code;
use crate::protocol::heartbeat::HeartbeatData;

/// The master brokers to beat, by broker name.
pub struct SetTargets(pub BTreeMap<String, Connection>);

impl Message for SetTargets {
    type Result = ();
}

/// The producer groups to announce.
pub struct SetGroups(pub BTreeSet<String>);

impl Message for SetGroups {
    type Result = ();
}

/// Beats every target now; answers how many brokers acknowledged.
pub struct BeatNow;

impl Message for BeatNow {
    type Result = usize;
}

/// Heartbeats sent and acknowledged so far (for tests and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeartbeatStats {
    /// HEART_BEAT requests sent, one per broker per round.
    pub sent: u64,
    /// Heartbeats a broker answered with SUCCESS.
    pub acked: u64,
    /// Heartbeat rounds (interval ticks with targets, new-broker beats and [`BeatNow`]).
    pub rounds: u64,
    /// Supervised restarts after stopping unexpectedly.
    pub restarts: u64,
}

/// Stops the actor for good (its interval timer would otherwise keep it beating forever).
pub struct StopHeartbeat;

impl Message for StopHeartbeat {
    type Result = ();
}

/// Asks a [`HeartbeatActor`] for its [`HeartbeatStats`].
pub struct GetHeartbeatStats;

impl Message for GetHeartbeatStats {
    type Result = HeartbeatStats;
}

/// Sends HEART_BEAT with this client's producer groups to every master broker, every `interval`.
pub struct HeartbeatActor {
    client_id: String,
    interval: Duration,
    timeout: Duration,
    groups: BTreeSet<String>,
    targets: BTreeMap<String, Connection>,
    stats: HeartbeatStats,
    /// Set by [`StopHeartbeat`]: that stop is final, not restarted.
    stopped: FinalStop,
    _live: LiveGuard,
}

impl HeartbeatActor {
    /// An actor for `client_id` beating every `interval`, each request bounded by `timeout`.
    pub fn new(client_id: String, interval: Duration, timeout: Duration) -> Self {
        HeartbeatActor {
            client_id,
            interval,
            timeout,
            groups: BTreeSet::new(),
            targets: BTreeMap::new(),
            stats: HeartbeatStats::default(),
            stopped: FinalStop::default(),
            _live: LiveGuard::new(&live::HEARTBEATS),
        }
    }

    /// Starts the actor supervised on the current arbiter: stopped other than
    /// by [`StopHeartbeat`], it restarts with its targets and groups.
    pub fn start_supervised(self) -> Addr<Self> {
        supervise::start(self)
    }

    /// Beats `targets` (all when `None`); resolves to the number acknowledged.
    fn beat(
        &mut self,
        only: Option<Vec<String>>,
    ) -> impl ActorFuture<Self, Output = usize> + 'static {
        let data = HeartbeatData::producer(self.client_id.clone(), self.groups.iter().cloned());
        let targets: Vec<Connection> = match only {
            Some(names) => names
                .iter()
                .filter_map(|n| self.targets.get(n).cloned())
                .collect(),
            None => self.targets.values().cloned().collect(),
        };
        self.stats.rounds += 1;
        self.stats.sent += targets.len() as u64;
        let deadline = Instant::now() + self.timeout;
        let targets_len = targets.len();
        let fut = async move {
            let calls = targets.iter().map(|c| {
                let req = data.to_request();
                async move {
                    match c.request(req, deadline).await {
                        Ok(r) if r.code == response_code::SUCCESS => {
                            metrics::heartbeat(c.remote(), "ok");
                            true
                        }
                        Ok(r) => {
                            metrics::heartbeat(c.remote(), "rejected");
                            tracing::warn!(broker = c.remote(), code = r.code, remark = ?r.remark, "heartbeat rejected");
                            false
                        }
                        Err(e) => {
                            metrics::heartbeat(c.remote(), "failed");
                            tracing::debug!(broker = c.remote(), error = %e, "heartbeat failed");
                            false
                        }
                    }
                }
            });
            join_all(calls).await.into_iter().filter(|ok| *ok).count()
        }
        .instrument(tracing::debug_span!(
            target: "actix_rocketmq::heartbeat",
            "rocketmq.heartbeat",
            brokers = targets_len,
        ));
        fut.into_actor(self).map(|acked, act, _| {
            act.stats.acked += acked as u64;
            acked
        })
    }
}

impl Actor for HeartbeatActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Again after each restart, which cancelled it.
        ctx.run_interval(self.interval, |act, ctx| {
            if !act.targets.is_empty() {
                ctx.spawn(act.beat(None).map(|_, _, _| ()));
            }
        });
        if self.stats.restarts > 0 && !self.targets.is_empty() && !self.groups.is_empty() {
            // The restart may have cancelled a round in flight: brokers hear from us now.
            ctx.spawn(self.beat(None).map(|_, _, _| ()));
        }
    }
}

impl Supervised for HeartbeatActor {
    fn restarting(&mut self, _: &mut Context<Self>) {
        // Targets, groups and counters stay as they were.
        self.stats.restarts += 1;
        tracing::warn!(
            restarts = self.stats.restarts,
            "heartbeat actor stopped unexpectedly; restarting"
        );
    }
}

impl Finite for HeartbeatActor {
    fn final_stop(&self) -> &FinalStop {
        &self.stopped
    }
}

impl Handler<SetTargets> for HeartbeatActor {
    type Result = ();
    fn handle(&mut self, msg: SetTargets, ctx: &mut Context<Self>) {
        // A new broker hears from us at once, not at the next tick.
        let new: Vec<String> = msg
            .0
            .keys()
            .filter(|k| !self.targets.contains_key(*k))
            .cloned()
            .collect();
        self.targets = msg.0;
        if !new.is_empty() && !self.groups.is_empty() {
            ctx.spawn(self.beat(Some(new)).map(|_, _, _| ()));
        }
    }
}

impl Handler<SetGroups> for HeartbeatActor {
    type Result = ();
    fn handle(&mut self, msg: SetGroups, _: &mut Context<Self>) {
        self.groups = msg.0;
    }
}

impl Handler<BeatNow> for HeartbeatActor {
    type Result = ResponseActFuture<Self, usize>;
    fn handle(&mut self, _: BeatNow, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.beat(None))
    }
}

/// Beats these brokers (by name) now, e.g. one that was just reconnected to.
pub struct BeatBrokers(pub Vec<String>);

impl Message for BeatBrokers {
    type Result = ();
}

impl Handler<BeatBrokers> for HeartbeatActor {
    type Result = ();
    fn handle(&mut self, msg: BeatBrokers, ctx: &mut Context<Self>) {
        if !self.groups.is_empty() {
            ctx.spawn(self.beat(Some(msg.0)).map(|_, _, _| ()));
        }
    }
}

impl Handler<StopHeartbeat> for HeartbeatActor {
    type Result = ();
    fn handle(&mut self, _: StopHeartbeat, ctx: &mut Context<Self>) {
        self.stopped.set();
        ctx.stop();
    }
}

impl Handler<StopUnexpectedly> for HeartbeatActor {
    type Result = ();
    fn handle(&mut self, _: StopUnexpectedly, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<GetHeartbeatStats> for HeartbeatActor {
    type Result = MessageResult<GetHeartbeatStats>;
    fn handle(&mut self, _: GetHeartbeatStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.stats)
    }
}
