//! One connection's task: reads frames (a pipelined burst at a time), writes
//! replies, delayed replies and pushed requests, honours freeze and idle-close,
//! and deregisters itself however it ends.
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_util::codec::Framed;

use super::wire::{Incoming, Outgoing, WireCodec};
use super::{ConnCmd, ConnectionId, Mode, SERVER_VERSION, ServerCore, lock};
use crate::protocol::codes::request_code;
use crate::protocol::command::{ExtFields, FLAG_ONEWAY, RemotingCommand};
use crate::protocol::{ProtocolError, RemotingCodec};
use crate::testkit::faults::FLOOD_CODE;

type Delayed = Pin<Box<dyn Future<Output = Outgoing> + Send>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

pub(super) enum Next {
    Nothing,
    Reply(Outgoing),
    Close,
    /// Write this, then close (a torn reply).
    ReplyThenClose(Outgoing),
    /// Push this many unsolicited requests, then the reply if any.
    Flood(usize, Option<Outgoing>),
}

/// Removes the connection from the server state however its task ends (also on abort).
struct ConnGuard {
    core: Arc<ServerCore>,
    id: ConnectionId,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut st = lock(&self.core.state);
        st.conns.remove(&self.id);
        // Dropping the senders tells waiting `request` callers the connection is gone.
        st.pending.retain(|_, (c, _)| *c != self.id);
    }
}

pub(super) struct Conn {
    pub(super) core: Arc<ServerCore>,
    pub(super) id: ConnectionId,
    pub(super) peer: SocketAddr,
    pub(super) delayed: FuturesUnordered<Delayed>,
}

/// Frames handled back to back before the connection flushes and looks at other events.
const DRAIN_BUDGET: usize = 64;

impl Conn {
    pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        mut self,
        stream: S,
        mut rx: mpsc::UnboundedReceiver<ConnCmd>,
    ) {
        let _guard = ConnGuard {
            core: self.core.clone(),
            id: self.id,
        };
        let (null, fast) = if self.core.role.null_mode() {
            (
                self.core.role.null_reply_template(),
                Some(self.core.clone()),
            )
        } else {
            (None, None)
        };
        let mut framed = Framed::new(
            stream,
            WireCodec {
                inner: RemotingCodec::default(),
                null,
                fast,
            },
        );
        let mut mode_rx = self.core.mode.subscribe();
        let mut last_activity = tokio::time::Instant::now();
        loop {
            let mode = *mode_rx.borrow_and_update();
            let idle_deadline = match mode.idle_timeout {
                Some(t) if !mode.frozen => Some(last_activity + t),
                _ => None,
            };
            let flow = tokio::select! {
                changed = mode_rx.changed() => {
                    if changed.is_err() { Flow::Close } else { Flow::Continue }
                }
                cmd = rx.recv() => match cmd {
                    Some(ConnCmd::Send(out)) => {
                        last_activity = tokio::time::Instant::now();
                        send_now(&mut framed, out).await
                    }
                    Some(ConnCmd::Close) | None => Flow::Close,
                },
                Some(out) = self.delayed.next(), if !mode.frozen && !self.delayed.is_empty() => {
                    last_activity = tokio::time::Instant::now();
                    send_now(&mut framed, out).await
                }
                frame = framed.next(), if !mode.frozen => {
                    last_activity = tokio::time::Instant::now();
                    self.on_read(frame, &mut framed, &mode_rx).await
                }
                _ = idle(idle_deadline), if idle_deadline.is_some() => {
                    tracing::debug!(conn = %self.id, "test server closes an idle connection");
                    Flow::Close
                }
            };
            if flow == Flow::Close {
                // Replies already queued (earlier pipelined requests) still go out.
                let _ = framed.flush().await;
                break;
            }
        }
    }

    /// Handles one read result, then whatever further frames are already buffered.
    async fn on_read(
        &mut self,
        first: Option<Result<Incoming, ProtocolError>>,
        framed: &mut Framed<impl AsyncRead + AsyncWrite + Unpin, WireCodec>,
        mode_rx: &watch::Receiver<Mode>,
    ) -> Flow {
        let mut next = Some(first);
        let mut budget = DRAIN_BUDGET;
        while let Some(frame) = next.take() {
            let flow = match frame {
                None => Flow::Close,
                Some(Err(e)) => {
                    tracing::debug!(conn = %self.id, error = %e, "test server got a bad frame");
                    lock(&self.core.state).malformed += 1;
                    Flow::Close
                }
                Some(Ok(incoming)) => match self.process(incoming) {
                    Next::Nothing => Flow::Continue,
                    Next::Close => Flow::Close,
                    Next::Reply(out) => match framed.feed(out).await {
                        Ok(()) => Flow::Continue,
                        Err(_) => Flow::Close,
                    },
                    Next::ReplyThenClose(out) => {
                        let _ = framed.feed(out).await;
                        Flow::Close
                    }
                    Next::Flood(n, reply) => self.flood(n, reply, framed).await,
                },
            };
            if flow == Flow::Close {
                return Flow::Close;
            }
            budget -= 1;
            if budget > 0 && !mode_rx.borrow().frozen {
                // Only frames that are ready now: one flush then covers a whole pipelined burst.
                next = framed.next().now_or_never();
            }
        }
        match framed.flush().await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Close,
        }
    }

    /// [`FaultAction::Flood`]: `n` server requests, then the reply; fed in
    /// order, so the write buffer flushes as the client reads.
    async fn flood(
        &mut self,
        n: usize,
        reply: Option<Outgoing>,
        framed: &mut Framed<impl AsyncRead + AsyncWrite + Unpin, WireCodec>,
    ) -> Flow {
        for i in 0..n {
            let mut ext = ExtFields::new();
            let mut cmd = if i % 2 == 0 {
                ext.push("flood", itoa::Buffer::new().format(i));
                RemotingCommand::request(FLOOD_CODE, ext)
            } else {
                ext.push("consumerGroup", "flood_group");
                let mut c =
                    RemotingCommand::request(request_code::NOTIFY_CONSUMER_IDS_CHANGED, ext);
                c.flag = FLAG_ONEWAY;
                c
            };
            cmd.opaque = self.core.next_opaque();
            cmd.version = SERVER_VERSION;
            if framed.feed(Outgoing::Cmd(cmd)).await.is_err() {
                return Flow::Close;
            }
        }
        if let Some(out) = reply {
            if framed.feed(out).await.is_err() {
                return Flow::Close;
            }
        }
        Flow::Continue
    }

    pub(super) fn handle(&self, cmd: &RemotingCommand) -> Option<RemotingCommand> {
        self.core.role.handle(&self.core, self.id, self.peer, cmd)
    }
}

/// Fires at `deadline`; lazy, so a disabled branch sets no timer.
async fn idle(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn send_now(
    framed: &mut Framed<impl AsyncRead + AsyncWrite + Unpin, WireCodec>,
    out: Outgoing,
) -> Flow {
    match framed.send(out).await {
        Ok(()) => Flow::Continue,
        Err(_) => Flow::Close,
    }
}
