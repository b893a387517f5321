//! Counts of live runtime actors, for leak checks in tests and for metrics.
use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) static CONNECTIONS: AtomicUsize = AtomicUsize::new(0);
pub(crate) static ROUTE_MANAGERS: AtomicUsize = AtomicUsize::new(0);
pub(crate) static HEARTBEATS: AtomicUsize = AtomicUsize::new(0);
pub(crate) static INSTANCES: AtomicUsize = AtomicUsize::new(0);

/// How many runtime actors of each kind exist in the process (created and not yet dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiveActors {
    /// Live `ConnectionActor`s (one per broker or name-server address).
    pub connections: usize,
    /// Live `RouteManager` actors.
    pub route_managers: usize,
    /// Live `HeartbeatActor`s.
    pub heartbeats: usize,
    /// Live `ClientInstance` actors.
    pub instances: usize,
}

/// The live runtime actors now; all zero once every producer has shut down.
pub fn live_actors() -> LiveActors {
    LiveActors {
        connections: CONNECTIONS.load(Ordering::SeqCst),
        route_managers: ROUTE_MANAGERS.load(Ordering::SeqCst),
        heartbeats: HEARTBEATS.load(Ordering::SeqCst),
        instances: INSTANCES.load(Ordering::SeqCst),
    }
}

/// Held by an actor: counts it from its creation until it is dropped.
pub(crate) struct LiveGuard(&'static AtomicUsize);

impl LiveGuard {
    pub(crate) fn new(counter: &'static AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        LiveGuard(counter)
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
