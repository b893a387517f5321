//! [`ServerHandle`]: the test's side of one server: captured frames,
//! connections, faults, freeze, accept modes, stop/start and server-initiated requests.
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::wire::Outgoing;
use super::{
    AcceptMode, ConnCmd, ConnectionId, ConnectionInfo, Ctl, ReceivedRequest, ServerCore, lock,
};
use crate::protocol::command::{FLAG_ONEWAY, RemotingCommand};
use crate::testkit::TestkitError;
use crate::testkit::faults::{Fault, FaultId};

/// Controls and observes one test server (the name server or a broker).
///
/// Cheap to clone; every method can be called while clients are connected.
#[derive(Clone)]
pub struct ServerHandle {
    pub(crate) core: Arc<ServerCore>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.core.addr)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// `ip:port`, as the name server advertises it and clients dial it.
    pub fn addr(&self) -> String {
        self.core.addr.to_string()
    }

    /// The listening address.
    pub fn socket_addr(&self) -> SocketAddr {
        self.core.addr
    }

    /// Every frame received so far, in arrival order.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        lock(&self.core.state).received.clone()
    }

    /// Received requests with this code (client responses excluded).
    pub fn received_with_code(&self, code: i32) -> Vec<ReceivedRequest> {
        lock(&self.core.state)
            .received
            .iter()
            .filter(|r| r.code() == code && !r.is_response())
            .cloned()
            .collect()
    }

    /// Forgets the received frames (stored messages and counters stay).
    pub fn clear_received(&self) {
        lock(&self.core.state).received.clear();
    }

    /// Waits up to `timeout` for a received frame matching `pred` (earlier ones count too).
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&ReceivedRequest) -> bool,
    ) -> Option<ReceivedRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Created before checking, so a frame arriving in between still wakes us.
            let notified = self.core.notify.notified();
            if let Some(r) = lock(&self.core.state).received.iter().find(|r| pred(r)) {
                return Some(r.clone());
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return lock(&self.core.state)
                    .received
                    .iter()
                    .find(|r| pred(r))
                    .cloned();
            }
        }
    }

    /// Waits up to `timeout` for a request with `code`.
    pub async fn wait_for_code(&self, code: i32, timeout: Duration) -> Option<ReceivedRequest> {
        self.wait_for(timeout, |r| r.code() == code && !r.is_response())
            .await
    }

    /// Connections served since the start, [`AcceptMode::CloseAfterRead`] ones
    /// included (not counting accept-and-close or reset ones).
    pub fn connections_accepted(&self) -> usize {
        lock(&self.core.state).accepted
    }

    /// Connections accepted and dropped at once, under [`AcceptMode::AcceptAndClose`]
    /// or [`AcceptMode::Reset`].
    pub fn connections_rejected(&self) -> usize {
        lock(&self.core.state).rejected
    }

    /// Connections reset at once under [`AcceptMode::Reset`] (also in
    /// [`connections_rejected`](Self::connections_rejected)).
    pub fn connections_reset(&self) -> usize {
        lock(&self.core.state).reset
    }

    /// Every TCP connection accepted since the start, whatever the [`AcceptMode`]
    /// did with it: [`connections_accepted`](Self::connections_accepted) +
    /// [`connections_rejected`](Self::connections_rejected). The number of
    /// connects a client made to this server.
    pub fn connections_total(&self) -> usize {
        lock(&self.core.state).total
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        lock(&self.core.state).conns.len()
    }

    /// The open connections, with what their heartbeats announced.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        lock(&self.core.state)
            .conns
            .iter()
            .map(|(id, c)| ConnectionInfo {
                id: *id,
                peer: c.peer,
                client_id: c.client_id.clone(),
                producer_groups: c.groups.clone(),
            })
            .collect()
    }

    /// Connections closed because a client sent an undecodable frame.
    pub fn malformed_frames(&self) -> usize {
        lock(&self.core.state).malformed
    }

    /// Adds a fault rule (see [`Fault`]); it applies from the next request on.
    pub fn inject(&self, fault: Fault) -> FaultId {
        let mut st = lock(&self.core.state);
        let id = st.faults.add(fault);
        self.core
            .fault_count
            .store(st.faults.len(), Ordering::Release);
        id
    }

    /// Removes a rule; false if it was already used up or removed.
    pub fn remove_fault(&self, id: FaultId) -> bool {
        let mut st = lock(&self.core.state);
        let removed = st.faults.remove(id);
        self.core
            .fault_count
            .store(st.faults.len(), Ordering::Release);
        removed
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        let mut st = lock(&self.core.state);
        st.faults.clear();
        self.core.fault_count.store(0, Ordering::Release);
    }

    /// Rules not yet used up.
    pub fn active_faults(&self) -> usize {
        lock(&self.core.state).faults.len()
    }

    /// Black hole: connections stay open, nothing more is read or answered
    /// (delayed replies are held) until [`unfreeze`](Self::unfreeze). New
    /// connections are still accepted, and frozen too; frames the test pushes
    /// itself ([`send_oneway`](Self::send_oneway), [`send_raw`](Self::send_raw)) still go out.
    pub fn freeze(&self) {
        self.core.mode.send_modify(|m| m.frozen = true);
    }

    /// Ends a [`freeze`](Self::freeze): reading, answering and held replies resume.
    pub fn unfreeze(&self) {
        self.core.mode.send_modify(|m| m.frozen = false);
    }

    /// `true` while frozen.
    pub fn is_frozen(&self) -> bool {
        self.core.mode.borrow().frozen
    }

    /// Closes connections that neither read nor wrote for `timeout`
    /// (the real servers use 120 s); `None` turns it off. Not while frozen.
    pub fn set_idle_timeout(&self, timeout: Option<Duration>) {
        self.core.mode.send_modify(|m| m.idle_timeout = timeout);
    }

    async fn control<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Ctl,
    ) -> Result<T, TestkitError> {
        let (tx, rx) = oneshot::channel();
        self.core
            .ctl
            .send(make(tx))
            .map_err(|_| TestkitError::ShutDown)?;
        rx.await.map_err(|_| TestkitError::ShutDown)
    }

    /// Changes how new connections are treated; open ones are not touched.
    /// Leaving [`AcceptMode::Refuse`] binds the same port again.
    pub async fn set_accept_mode(&self, mode: AcceptMode) -> Result<(), TestkitError> {
        Ok(self.control(|ack| Ctl::Accept(mode, ack)).await??)
    }

    /// Stops the server like a crash: listener and every connection closed.
    /// Stored messages, topics and fault rules survive for [`start`](Self::start).
    pub async fn stop(&self) -> Result<(), TestkitError> {
        self.control(Ctl::Stop).await
    }

    /// Starts a stopped server again on the same port, unfrozen and accepting.
    pub async fn start(&self) -> Result<(), TestkitError> {
        Ok(self.control(Ctl::Start).await??)
    }

    /// Closes one connection (after writing replies already queued on it).
    pub fn close_connection(&self, id: ConnectionId) -> bool {
        self.conn_tx(id)
            .map(|tx| tx.send(ConnCmd::Close).is_ok())
            .unwrap_or(false)
    }

    /// Closes every open connection; returns how many there were.
    pub fn close_connections(&self) -> usize {
        let txs: Vec<_> = lock(&self.core.state)
            .conns
            .values()
            .map(|c| c.tx.clone())
            .collect();
        txs.iter()
            .filter(|tx| tx.send(ConnCmd::Close).is_ok())
            .count()
    }

    fn conn_tx(&self, id: ConnectionId) -> Option<mpsc::UnboundedSender<ConnCmd>> {
        lock(&self.core.state).conns.get(&id).map(|c| c.tx.clone())
    }

    fn push(&self, id: ConnectionId, out: Outgoing) -> Result<(), TestkitError> {
        self.core.push(id, out)
    }

    fn next_opaque(&self) -> i32 {
        self.core.next_opaque()
    }

    /// Sends a server-initiated oneway request (flag 2, the server's own
    /// opaque, JSON header) on a connection; returns the opaque used.
    /// Whatever the client sends back shows up in [`received`](Self::received).
    pub fn send_oneway(
        &self,
        conn: ConnectionId,
        mut cmd: RemotingCommand,
    ) -> Result<i32, TestkitError> {
        cmd.opaque = self.next_opaque();
        cmd.flag = FLAG_ONEWAY;
        self.push(conn, Outgoing::Cmd(cmd.clone()))?;
        Ok(cmd.opaque)
    }

    /// Sends a server-initiated request and waits for the client's response.
    pub async fn request(
        &self,
        conn: ConnectionId,
        mut cmd: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, TestkitError> {
        cmd.opaque = self.next_opaque();
        cmd.flag = 0;
        let (tx, rx) = oneshot::channel();
        lock(&self.core.state)
            .pending
            .insert(cmd.opaque, (conn, tx));
        let opaque = cmd.opaque;
        if let Err(e) = self.push(conn, Outgoing::Cmd(cmd)) {
            lock(&self.core.state).pending.remove(&opaque);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(TestkitError::ConnectionClosed(conn)),
            Err(_) => {
                lock(&self.core.state).pending.remove(&opaque);
                Err(TestkitError::Timeout)
            }
        }
    }

    /// Writes raw bytes (e.g. a [`garbage`](crate::testkit::garbage) frame) on a connection.
    pub fn send_raw(
        &self,
        conn: ConnectionId,
        bytes: impl Into<Bytes>,
    ) -> Result<(), TestkitError> {
        self.push(conn, Outgoing::Raw(bytes.into()))
    }
}
