//! [`Connection`]: the cheap, cloneable handle everyone else holds to a
//! `ConnectionActor`. Requests of every kind go in through the actor's
//! submission channel, in order; the mailbox carries only control messages.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;

use actix::prelude::*;
use futures::channel::oneshot;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{
    Close, ConnectionActor, ConnectionStats, GetStats, InboundRequest, Reconnected, Reply,
    ReplySink, Respond, SetInboundHandler, SetReconnectListener, Submit,
};
use crate::protocol::RemotingCommand;
use crate::runtime::error::NetError;

/// A cheap, cloneable handle to a `ConnectionActor`: what everyone else holds.
#[derive(Clone)]
pub struct Connection {
    actor: Addr<ConnectionActor>,
    remote: Arc<str>,
    /// The actor's submission channel (`None` only for handles made while it ends).
    submit: Option<mpsc::UnboundedSender<Submit>>,
    /// Whether a TCP connection is open now, as the actor last set it.
    connected: Arc<AtomicBool>,
    /// The thread its actor runs on, when it was started on the caller's.
    home: Option<ThreadId>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("remote", &self.remote)
            .finish()
    }
}

impl Connection {
    pub(super) fn new(
        actor: Addr<ConnectionActor>,
        remote: Arc<str>,
        submit: Option<mpsc::UnboundedSender<Submit>>,
        connected: Arc<AtomicBool>,
        home: Option<ThreadId>,
    ) -> Self {
        Connection {
            actor,
            remote,
            submit,
            connected,
            home,
        }
    }

    /// The thread its actor runs on, when known (`None`: an arbiter of its own).
    /// An actor on the caller's thread writes only when that thread yields.
    pub fn home(&self) -> Option<ThreadId> {
        self.home
    }

    /// The remote address, `host:port`.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// Whether the actor holds an open connection now (a timed-out send was
    /// then waiting for the reply, else for a connection).
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Sends `cmd` and waits for its response until `deadline`, a connect included.
    pub async fn request(
        &self,
        cmd: RemotingCommand,
        deadline: Instant,
    ) -> Result<RemotingCommand, NetError> {
        match self.call(cmd, deadline, false).await? {
            Some(resp) => Ok(resp),
            None => Err(NetError::Closed {
                addr: self.remote.to_string(),
                reason: "no response".into(),
            }),
        }
    }

    /// Writes `cmd` as a one-way frame (no response expected).
    pub async fn oneway(&self, cmd: RemotingCommand, deadline: Instant) -> Result<(), NetError> {
        self.call(cmd, deadline, true).await.map(|_| ())
    }

    /// A [`Submit`] with a oneshot of its own (a future per call is fine here:
    /// route look-ups, heartbeats and unregisters are rare).
    async fn call(&self, cmd: RemotingCommand, deadline: Instant, oneway: bool) -> Reply {
        let (tx, rx) = oneshot::channel();
        let msg = Submit {
            cmd,
            deadline,
            oneway,
            reply: ReplySink::Oneshot(tx),
        };
        // A closed channel means a stopped actor, as a closed mailbox did.
        match &self.submit {
            Some(submit) if submit.send(msg).is_ok() => {}
            _ => return Err(NetError::Shutdown),
        }
        let reply = async {
            rx.await.unwrap_or_else(|_| {
                Err(NetError::Closed {
                    addr: self.remote.to_string(),
                    reason: "connection actor restarted".into(),
                })
            })
        };
        // The actor answers at the deadline too, but not while a connect holds it.
        tokio::time::timeout_at(deadline, reply)
            .await
            .unwrap_or_else(|_| {
                Err(NetError::Timeout {
                    addr: self.remote.to_string(),
                })
            })
    }

    /// Hands `msg` to the connection without waiting; its reply goes to `msg.reply`
    /// (at once, with [`NetError::Closed`], if the actor has stopped). Unbounded:
    /// callers bound what they have in flight (the producer's `max_in_flight`).
    pub fn submit(&self, msg: Submit) {
        let Some(tx) = &self.submit else {
            return self.closed_reply(msg);
        };
        if let Err(mpsc::error::SendError(msg)) = tx.send(msg) {
            self.closed_reply(msg);
        }
    }

    fn closed_reply(&self, msg: Submit) {
        msg.reply.send(Err(NetError::Closed {
            addr: self.remote.to_string(),
            reason: "connection actor stopped".into(),
        }));
    }

    /// Stops taking requests and waits (until `deadline`) for waiting ones to be answered.
    pub async fn close(&self, deadline: Instant) {
        if let Ok(rx) = self.actor.send(Close).await {
            let _ = tokio::time::timeout_at(deadline, rx).await;
        }
    }

    /// Stops taking requests without waiting: those waiting are still answered,
    /// then the actor lets its socket go.
    pub fn close_now(&self) {
        self.actor.do_send(Close);
    }

    /// The actor's counters, or `None` once it has stopped.
    pub async fn stats(&self) -> Option<ConnectionStats> {
        self.actor.send(GetStats).await.ok()
    }

    /// Registers the handler of requests this remote initiates.
    pub fn set_inbound_handler(&self, handler: Recipient<InboundRequest>) {
        self.actor.do_send(SetInboundHandler(handler));
    }

    /// Registers who hears of each reconnection ([`Reconnected`]).
    pub fn set_reconnect_listener(&self, listener: Recipient<Reconnected>) {
        self.actor.do_send(SetReconnectListener(listener));
    }

    /// Answers a request the remote initiated.
    pub fn respond(&self, resp: RemotingCommand) {
        self.actor.do_send(Respond(resp));
    }
}
