//! Supervision with an end. actix's `Supervisor` restarts a stopped actor for
//! as long as anyone holds its address, so an orderly stop could never be
//! final; [`start`] runs an actor the same way (the value, its mailbox and
//! [`Supervised::restarting`] kept), except that a stop after
//! [`FinalStop::set`] ends it for good, as an unsupervised actor would end.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll, ready};

use actix::dev::ContextFut;
use actix::prelude::*;

/// Shared by an actor and its supervisor: set before an orderly `ctx.stop()`,
/// it makes that stop final. Unused (and harmless) in an unsupervised actor.
#[derive(Debug, Clone, Default)]
pub(crate) struct FinalStop(Arc<AtomicBool>);

impl FinalStop {
    /// The next stop is for good.
    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the actor has been stopped for good (or is being stopped).
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// An actor [`start`] can supervise.
pub(crate) trait Finite: Supervised + Actor<Context = Context<Self>> {
    /// The flag it sets before stopping for good.
    fn final_stop(&self) -> &FinalStop;
}

/// Starts `act` on the current arbiter, restarted whenever it stops, until it
/// stops after setting its [`FinalStop`] or its last address is gone.
pub(crate) fn start<A: Finite>(act: A) -> Addr<A> {
    let done = act.final_stop().clone();
    let ctx = Context::new();
    let addr = ctx.address();
    actix_rt::spawn(Supervise {
        fut: ctx.into_future(act),
        done,
    });
    addr
}

struct Supervise<A: Finite> {
    fut: ContextFut<A, Context<A>>,
    done: FinalStop,
}

impl<A: Finite> Future for Supervise<A> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            ready!(Pin::new(&mut this.fut).poll(cx));
            // `restart` is actix's own: false once no address is left.
            if this.done.is_set() || !this.fut.restart() {
                return Poll::Ready(());
            }
        }
    }
}
