//! Listener supervision: binding, accepting under the [`AcceptMode`], stop and
//! start, and handing each served connection its task.
use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::stream::FuturesUnordered;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::conn::Conn;
use super::{
    AcceptMode, ClusterState, ConnEntry, ConnectionId, Ctl, Handler, Mode, ServerCore, ServerState,
    lock,
};

/// Binds `addr` with SO_REUSEADDR so a restarted server gets its old port back.
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Starts a server on `listener`; the returned task owns the listener and every connection.
pub(crate) fn spawn_server(
    role: Arc<dyn Handler>,
    listener: TcpListener,
    cluster: Arc<Mutex<ClusterState>>,
    idle_timeout: Option<Duration>,
    tls: Option<TlsAcceptor>,
) -> io::Result<(Arc<ServerCore>, tokio::task::JoinHandle<()>)> {
    let addr = listener.local_addr()?;
    let (ctl, ctl_rx) = mpsc::unbounded_channel();
    let (mode, _) = watch::channel(Mode {
        frozen: false,
        idle_timeout,
    });
    let core = Arc::new(ServerCore {
        role,
        addr,
        cluster,
        state: Mutex::new(ServerState::default()),
        mode,
        fault_count: AtomicUsize::new(0),
        next_conn: AtomicU64::new(1),
        next_opaque: AtomicI32::new(0),
        notify: Notify::new(),
        ctl,
        tls,
    });
    let task = tokio::spawn(supervise(core.clone(), listener, ctl_rx));
    Ok((core, task))
}

async fn accept_on(listener: Option<&TcpListener>) -> io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Owns the listener and the connection tasks: aborting it closes everything.
async fn supervise(
    core: Arc<ServerCore>,
    listener: TcpListener,
    mut ctl_rx: mpsc::UnboundedReceiver<Ctl>,
) {
    let mut listener = Some(listener);
    let mut accept_mode = AcceptMode::Accept;
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        tokio::select! {
            ctl = ctl_rx.recv() => match ctl {
                None => break,
                Some(Ctl::Stop(ack)) => {
                    listener = None;
                    conns.abort_all();
                    // Wait for the aborted tasks so their guards have deregistered them.
                    while conns.join_next().await.is_some() {}
                    let _ = ack.send(());
                }
                Some(Ctl::Start(ack)) => {
                    accept_mode = AcceptMode::Accept;
                    core.mode.send_modify(|m| m.frozen = false);
                    let _ = ack.send(ensure_listening(&core, &mut listener));
                }
                Some(Ctl::Accept(mode, ack)) => {
                    let previous = std::mem::replace(&mut accept_mode, mode);
                    let res = if mode == AcceptMode::Refuse {
                        if let Some(l) = listener.take() {
                            // Clients in the backlog already see an open connection: serve them, don't reset them.
                            while let Some(Ok((stream, peer))) = l.accept().now_or_never() {
                                admit(&core, previous, stream, peer, &mut conns);
                            }
                        }
                        Ok(())
                    } else {
                        ensure_listening(&core, &mut listener)
                    };
                    let _ = ack.send(res);
                }
            },
            accepted = accept_on(listener.as_ref()) => match accepted {
                Ok((stream, peer)) => admit(&core, accept_mode, stream, peer, &mut conns),
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::debug!(addr = %core.addr, error = %e, "test server accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

fn admit(
    core: &Arc<ServerCore>,
    mode: AcceptMode,
    stream: TcpStream,
    peer: SocketAddr,
    conns: &mut JoinSet<()>,
) {
    lock(&core.state).total += 1;
    match mode {
        AcceptMode::AcceptAndClose => {
            lock(&core.state).rejected += 1;
            drop(stream);
        }
        AcceptMode::Reset => {
            {
                let mut st = lock(&core.state);
                st.rejected += 1;
                st.reset += 1;
            }
            // Zero linger: dropping the socket sends RST instead of FIN (and does not block).
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        AcceptMode::CloseAfterRead(n) => {
            lock(&core.state).accepted += 1;
            conns.spawn(read_then_close(stream, Some(n)));
        }
        AcceptMode::CloseAfterFirstFrame => {
            lock(&core.state).accepted += 1;
            conns.spawn(read_then_close(stream, None));
        }
        // Refuse only reaches here for clients already in the backlog, which are served.
        AcceptMode::Accept | AcceptMode::Refuse => start_connection(core, stream, peer, conns),
    }
}

/// [`AcceptMode::CloseAfterRead`] (`Some(n)`) and [`AcceptMode::CloseAfterFirstFrame`]
/// (`None`): swallow that many bytes (or until EOF or an error), then drop.
async fn read_then_close(mut stream: TcpStream, n: Option<usize>) {
    use tokio::io::AsyncReadExt;
    let mut left = match n {
        Some(n) => n,
        None => {
            let mut len = [0u8; 4];
            if stream.read_exact(&mut len).await.is_err() {
                return;
            }
            u32::from_be_bytes(len) as usize
        }
    };
    let mut buf = [0u8; 4096];
    while left > 0 {
        let want = left.min(buf.len());
        match stream.read(&mut buf[..want]).await {
            Ok(0) | Err(_) => break,
            Ok(got) => left -= got,
        }
    }
}

fn ensure_listening(core: &ServerCore, listener: &mut Option<TcpListener>) -> io::Result<()> {
    if listener.is_none() {
        *listener = Some(bind(core.addr)?);
    }
    Ok(())
}

fn start_connection(
    core: &Arc<ServerCore>,
    stream: TcpStream,
    peer: SocketAddr,
    conns: &mut JoinSet<()>,
) {
    let id = ConnectionId(core.next_conn.fetch_add(1, Ordering::Relaxed));
    let (tx, rx) = mpsc::unbounded_channel();
    {
        let mut st = lock(&core.state);
        st.accepted += 1;
        st.conns.insert(
            id,
            ConnEntry {
                peer,
                tx,
                client_id: None,
                groups: BTreeSet::new(),
            },
        );
    }
    let conn = Conn {
        core: core.clone(),
        id,
        peer,
        delayed: FuturesUnordered::new(),
    };
    let _ = stream.set_nodelay(true);
    match core.tls.clone() {
        None => {
            conns.spawn(conn.run(stream, rx));
        }
        Some(acceptor) => {
            conns.spawn(async move {
                match acceptor.accept(stream).await {
                    Ok(tls) => conn.run(tls, rx).await,
                    // A client without TLS, or one that refused our certificate.
                    Err(e) => tracing::debug!(error = %e, "test server TLS handshake failed"),
                }
            });
        }
    }
}
