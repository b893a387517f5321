//! Helpers shared by the runtime integration tests (connection, route manager,
//! heartbeat, client instance, soak). Include with
//!
//! ```ignore
//! #[path = "support/runtime.rs"]
//! mod support;
//! ```
#![allow(dead_code)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use actix::prelude::*;
use actix_rocketmq::internals::protocol::command::RemotingCommand;
use actix_rocketmq::internals::protocol::headers::GetRouteInfoRequestHeader;
use actix_rocketmq::internals::runtime::route_manager::{BrokersChanged, RouteChanged};

/// Upper bound (real time) of every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(3);

/// Runs `fut` in an actix `System` whose tokio clock starts paused: time only
/// moves when the runtime is idle (auto-advance) or is advanced explicitly.
pub fn run_paused<F: Future>(fut: F) -> F::Output {
    let system = actix_rt::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("paused tokio runtime")
    });
    system.block_on(fut)
}

/// Polls `cond` every 5 ms (real time) until it holds; panics after [`WAIT`].
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = StdInstant::now();
    while !cond() {
        assert!(
            start.elapsed() < WAIT,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Like [`wait_until`] with an async condition.
pub async fn wait_until_async<Fut: Future<Output = bool>>(
    what: &str,
    mut cond: impl FnMut() -> Fut,
) {
    let start = StdInstant::now();
    while !cond().await {
        assert!(
            start.elapsed() < WAIT,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// For paused-clock tests: lets real I/O complete without moving the clock
/// (yielding never parks the runtime, so it never auto-advances), until
/// `cond` holds; panics after [`WAIT`] of real time.
pub async fn spin_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = StdInstant::now();
    while !cond() {
        assert!(
            start.elapsed() < WAIT,
            "timed out after {WAIT:?} (real) waiting for {what}"
        );
        tokio::task::yield_now().await;
    }
}

/// For paused-clock tests: awaits `fut` (real I/O) without letting the runtime
/// park, so the clock cannot auto-advance past deadlines meanwhile; panics
/// after [`WAIT`] of real time.
pub async fn spin_await<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let start = StdInstant::now();
    loop {
        if let std::task::Poll::Ready(out) = futures::poll!(fut.as_mut()) {
            return out;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out after {WAIT:?} (real) awaiting I/O"
        );
        tokio::task::yield_now().await;
    }
}

/// For paused-clock tests: yields for `real` wall-clock time without moving the clock.
pub async fn spin_for(real: Duration) {
    let start = StdInstant::now();
    while start.elapsed() < real {
        tokio::task::yield_now().await;
    }
}

/// A GET_ROUTEINFO_BY_TOPIC request: the name server answers every one of them.
pub fn route_request(topic: &str) -> RemotingCommand {
    GetRouteInfoRequestHeader::new(topic).into_request()
}

/// Collects what the route manager pushes.
#[derive(Clone, Default)]
pub struct Pushed {
    pub routes: Arc<Mutex<Vec<RouteChanged>>>,
    pub brokers: Arc<Mutex<Vec<BrokersChanged>>>,
}

impl Pushed {
    pub fn routes(&self) -> Vec<RouteChanged> {
        self.routes.lock().unwrap().clone()
    }
    pub fn broker_tables(&self) -> Vec<Vec<String>> {
        self.brokers
            .lock()
            .unwrap()
            .iter()
            .map(|b| b.0.keys().cloned().collect())
            .collect()
    }
}

/// An actor that records `RouteChanged` and `BrokersChanged` pushes.
pub struct Collector(pub Pushed);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<RouteChanged> for Collector {
    type Result = ();
    fn handle(&mut self, msg: RouteChanged, _: &mut Context<Self>) {
        self.0.routes.lock().unwrap().push(msg);
    }
}

impl Handler<BrokersChanged> for Collector {
    type Result = ();
    fn handle(&mut self, msg: BrokersChanged, _: &mut Context<Self>) {
        self.0.brokers.lock().unwrap().push(msg);
    }
}
