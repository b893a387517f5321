//! Connecting: opening the socket (TCP, then TLS when configured, within the
//! connect timeout), and what the actor keeps of it in its [`Link`]: the
//! `ConnectionHealth` backoff window (the policy is `reconnect.rs`), why the
//! last attempt failed, and how a [`Break`] counts against the remote.
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::FramedRead;
use tracing::Instrument;

use super::writer::Flush;
use super::{ConnectionActor, READ_BUFFER_CAPACITY, Reconnected, Submit};
use crate::protocol::{ProtocolError, RemotingCodec};
use crate::runtime::error::NetError;
use crate::runtime::metrics;
use crate::runtime::reconnect::{ConnectionHealth, ReconnectPolicy};
use crate::runtime::tls::{Stream, TlsConfig};

/// Why a connection broke: it went away, or the peer sent what is not RocketMQ remoting.
pub(super) enum Break {
    Closed(String),
    Protocol(ProtocolError),
}

impl Break {
    /// What the requests it fails are told.
    pub(super) fn error(&self, remote: &str) -> NetError {
        match self {
            Break::Closed(reason) => NetError::Closed {
                addr: remote.to_string(),
                reason: reason.clone(),
            },
            Break::Protocol(source) => NetError::Protocol {
                addr: remote.to_string(),
                source: source.clone(),
            },
        }
    }
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Closed(reason) => f.write_str(reason),
            Break::Protocol(e) => write!(f, "undecodable frame: {e}"),
        }
    }
}

/// What the actor knows of connecting to its remote, across connections and restarts.
pub(super) struct Link {
    /// The backoff window and the current connection's health.
    health: ConnectionHealth,
    last_error: String,
    /// Set while the backoff window was opened by undecodable bytes: requests
    /// failing fast then name that fault, not a connect failure.
    window_cause: Option<ProtocolError>,
    /// Connections opened since the actor was created; the last one names the current.
    connects: u64,
}

impl Link {
    pub(super) fn new(policy: ReconnectPolicy) -> Self {
        Link {
            health: ConnectionHealth::new(policy),
            last_error: String::new(),
            window_cause: None,
            connects: 0,
        }
    }

    /// Connections opened so far.
    pub(super) fn connects(&self) -> u64 {
        self.connects
    }

    /// Failed connects in a row.
    pub(super) fn failures(&self) -> u32 {
        self.health.failures()
    }

    /// Time left in the backoff window.
    pub(super) fn retry_in(&self, now: Instant) -> Option<Duration> {
        self.health.retry_in(now)
    }

    /// Whether requests fail fast now instead of connecting.
    pub(super) fn backing_off(&self, now: Instant) -> bool {
        self.health.backing_off(now)
    }

    /// A response arrived: the connection proved healthy.
    pub(super) fn answered(&mut self) {
        self.health.answered();
    }

    /// What requests are told while there is no connection.
    pub(super) fn error(&self, remote: &str) -> NetError {
        if let Some(source) = &self.window_cause {
            return NetError::Protocol {
                addr: remote.to_string(),
                source: source.clone(),
            };
        }
        NetError::Connect {
            addr: remote.to_string(),
            reason: self.last_error.clone(),
        }
    }

    /// A connection opened: returns its number.
    fn opened(&mut self, now: Instant) -> u64 {
        self.connects += 1;
        self.health.connected(now);
        self.window_cause = None;
        self.connects
    }

    /// A connect failed: opens the backoff window, whose length it returns.
    fn connect_failed(&mut self, reason: String, now: Instant) -> Duration {
        let delay = self.health.connect_failed(now);
        self.window_cause = None;
        self.last_error = reason;
        delay
    }

    /// An open connection broke: one that died before it proved healthy is a
    /// failed connect, to the cluster, and opens a backoff window.
    pub(super) fn broke(&mut self, cause: &Break, now: Instant) {
        let undecodable = match cause {
            Break::Protocol(e) => Some(e.clone()),
            Break::Closed(_) => None,
        };
        if let Some(window) = self.health.disconnected(now, undecodable.is_some()) {
            self.window_cause = undecodable;
            self.last_error = format!(
                "the last connection died before a healthy exchange ({cause}); retrying in {window:?}"
            );
        }
    }
}

/// Opens a stream to `remote`: TCP, then TLS when configured, all within `timeout`.
async fn open(
    remote: Arc<str>,
    timeout: Duration,
    tls: Option<TlsConfig>,
) -> Result<Stream, String> {
    let connect = async {
        let tcp = TcpStream::connect(&*remote).await?;
        match &tls {
            None => Ok(Stream::Plain(tcp)),
            Some(tls) => tls.connect(&remote, tcp).await,
        }
    };
    match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) if tls.is_some() => Err(format!("TLS connect failed: {e}")),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("connect timed out after {timeout:?}")),
    }
}

impl ConnectionActor {
    /// Connects, then dispatches `msg`; `wait` holds the actor meanwhile (its
    /// mailbox, and `TakeSubmissions` checks for it), so requests behind this
    /// one see the outcome and keep their order.
    pub(super) fn connect_then(&mut self, msg: Submit, ctx: &mut Context<Self>) {
        let span = tracing::debug_span!(
            target: "actix_rocketmq::connection",
            "rocketmq.connect",
            server.address = &*self.remote,
            reconnect = self.link.connects() > 0,
            tls = self.cfg.tls.is_some(),
        );
        let fut = open(
            self.remote.clone(),
            self.cfg.connect_timeout,
            self.cfg.tls.clone(),
        )
        .instrument(span);
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| {
            match res {
                Ok(stream) => act.on_connected(stream, ctx),
                Err(reason) => {
                    metrics::connect_failed(&act.remote);
                    let delay = act.link.connect_failed(reason, Instant::now());
                    tracing::warn!(remote = %act.remote, reason = %act.link.last_error, retry_in = ?delay, "connect failed");
                }
            }
            act.dispatch(msg, ctx);
        }));
    }

    /// Closes the socket's write side, counting an open connection's end.
    pub(super) fn close_writer(&mut self, broke: bool) {
        if self.writer.is_open() {
            metrics::disconnected(&self.remote, broke);
        }
        self.writer.close();
    }

    fn on_connected(&mut self, stream: Stream, ctx: &mut Context<Self>) {
        let (read, write) = stream.split();
        ctx.add_stream(FramedRead::with_capacity(
            read,
            RemotingCodec::new(self.cfg.max_frame_len),
            READ_BUFFER_CAPACITY,
        ));
        self.writer.open(write);
        let connection = self.link.opened(Instant::now());
        ctx.spawn(Flush::new(connection));
        self.pending.reset_peer_clock();
        tracing::debug!(remote = %self.remote, connects = connection, "connected");
        metrics::connected(&self.remote, connection > 1);
        if let (true, Some(listener)) = (connection > 1, &self.reconnect_listener) {
            listener.do_send(Reconnected {
                remote: self.remote.clone(),
            });
        }
    }
}
