//! `ConnectionActor` against the in-process test servers: connecting, pipelining,
//! one-way frames, ordering, deadlines, broken and dead connections, a peer that
//! stops reading, inbound requests, supervised restarts and reconnect backoff.
#[path = "support/runtime.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use futures::future::join_all;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::Framed;

use actix_rocketmq::internals::protocol::RemotingCodec;
use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
use actix_rocketmq::internals::protocol::command::{ExtFields, RemotingCommand};
use actix_rocketmq::internals::protocol::route::TopicRouteData;
use actix_rocketmq::internals::runtime::connection::{
    InboundRequest, Reply, ReplyBatch, ReplySink, Submit,
};
use actix_rocketmq::internals::runtime::{
    Connection, ConnectionActor, ConnectionConfig, NetError, ReconnectPolicy,
};
use actix_rocketmq::testkit::{Fault, ServerHandle, TestCluster, garbage};

use support::{route_request, wait_until, wait_until_async};

fn cfg() -> ConnectionConfig {
    ConnectionConfig {
        connect_timeout: Duration::from_secs(1),
        ..ConnectionConfig::default()
    }
}

fn deadline(d: Duration) -> Instant {
    Instant::now() + d
}

async fn cluster() -> TestCluster {
    TestCluster::builder()
        .broker("broker-a")
        .topic("A", 1)
        .topic("B", 2)
        .topic("C", 3)
        .start()
        .await
        .expect("test cluster")
}

/// Write queues of the route in a GET_ROUTEINFO_BY_TOPIC answer.
fn queues(resp: &RemotingCommand) -> i32 {
    assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);
    TopicRouteData::decode(&resp.body)
        .expect("route body")
        .queue_datas[0]
        .write_queue_nums
}

fn route_topics(srv: &ServerHandle) -> Vec<String> {
    srv.received_with_code(request_code::GET_ROUTEINFO_BY_TOPIC)
        .iter()
        .map(|r| r.ext("topic").unwrap_or_default().to_string())
        .collect()
}

async fn stats(
    conn: &Connection,
) -> actix_rocketmq::internals::runtime::connection::ConnectionStats {
    conn.stats().await.expect("connection actor alive")
}

fn assert_closed(res: &Result<RemotingCommand, NetError>, what: &str) {
    match res {
        Err(NetError::Closed { .. }) => {}
        other => panic!("{what}: expected a Closed error, got {other:?}"),
    }
}

/// Bytes that are not RocketMQ remoting are the peer's fault, not the connection's.
fn assert_undecodable(res: &Result<RemotingCommand, NetError>, what: &str) {
    match res {
        Err(NetError::Protocol { .. }) => {}
        other => panic!("{what}: expected a Protocol error, got {other:?}"),
    }
}

/// A port bound but not listening: connecting is refused, and no other test can take it.
fn refusing_port() -> (TcpSocket, String) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    (socket, addr)
}

/// Starts listening on `socket` and answers every request with SUCCESS.
fn answer_everything(socket: TcpSocket) {
    let listener = socket.listen(16).unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut framed = Framed::new(stream, RemotingCodec::default());
                while let Some(Ok(cmd)) = framed.next().await {
                    let resp = RemotingCommand::response(response_code::SUCCESS, cmd.opaque, None);
                    if !cmd.is_oneway() && framed.send(resp).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

#[actix_rt::test]
async fn connect_refused_fails_at_once_and_the_next_request_reconnects() {
    let (socket, addr) = refusing_port();
    let cfg = ConnectionConfig {
        reconnect: ReconnectPolicy::new(Duration::from_millis(50), Duration::from_secs(3)),
        ..cfg()
    };
    let conn = ConnectionActor::start_supervised(addr.clone(), cfg);
    let t0 = std::time::Instant::now();
    let res = conn
        .request(route_request("A"), deadline(Duration::from_secs(5)))
        .await;
    assert!(
        matches!(&res, Err(NetError::Connect { addr: a, .. }) if *a == addr),
        "{res:?}"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "refusal took {:?}",
        t0.elapsed()
    );
    let s = stats(&conn).await;
    assert_eq!(
        (s.connected, s.pending, s.consecutive_failures),
        (false, 0, 1)
    );

    answer_everything(socket);
    tokio::time::sleep(Duration::from_millis(100)).await; // past the 50 ms (+20 %) backoff window
    let resp = conn
        .request(route_request("A"), deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SUCCESS);
    let s = stats(&conn).await;
    assert_eq!(
        (s.connected, s.connects, s.consecutive_failures, s.retry_in),
        (true, 1, 0, None)
    );
}

#[actix_rt::test]
async fn connect_timeout_bounds_a_black_holed_connect() {
    // A listener with backlog 0 whose accept queue is full drops further SYNs: connect hangs.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let _filler = std::net::TcpStream::connect(addr).unwrap();

    let cfg = ConnectionConfig {
        connect_timeout: Duration::from_millis(300),
        ..cfg()
    };
    let conn = ConnectionActor::start_supervised(addr.to_string(), cfg);
    let t0 = std::time::Instant::now();
    let res = conn
        .request(route_request("A"), deadline(Duration::from_secs(5)))
        .await;
    let took = t0.elapsed();
    match &res {
        Err(NetError::Connect { reason, .. }) => assert!(reason.contains("timed out"), "{reason}"),
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    assert!(
        took >= Duration::from_millis(280) && took < Duration::from_millis(1500),
        "connect gave up after {took:?}, not at the 300 ms connect timeout"
    );
    drop(listener);
}

#[actix_rt::test]
async fn failed_connects_back_off_exponentially_with_jitter() {
    let (socket, addr) = refusing_port();
    let cfg = ConnectionConfig {
        reconnect: ReconnectPolicy::new(Duration::from_millis(100), Duration::from_millis(400)),
        ..cfg()
    };
    let conn = ConnectionActor::start_supervised(addr.clone(), cfg.clone());
    let slack = Duration::from_millis(30);
    for k in 1..=4u32 {
        let res = conn
            .request(route_request("A"), deadline(Duration::from_secs(5)))
            .await;
        assert!(
            matches!(res, Err(NetError::Connect { .. })),
            "attempt {k}: {res:?}"
        );
        let s = stats(&conn).await;
        assert_eq!(s.consecutive_failures, k);
        let window = s.retry_in.expect("a backoff window after a failed connect");
        let nominal = (cfg.reconnect.base * 2u32.pow(k - 1)).min(cfg.reconnect.max);
        assert!(
            window + slack >= nominal.mul_f64(0.8) && window <= nominal.mul_f64(1.2),
            "failure {k}: window {window:?}, nominal {nominal:?} ±20 %"
        );
        // Inside the window a request fails fast, without another connect attempt.
        let t0 = std::time::Instant::now();
        let res = conn
            .request(route_request("A"), deadline(Duration::from_secs(5)))
            .await;
        assert!(matches!(res, Err(NetError::Connect { .. })), "{res:?}");
        assert!(t0.elapsed() < Duration::from_millis(100));
        assert_eq!(
            stats(&conn).await.consecutive_failures,
            k,
            "no attempt inside the window"
        );
        tokio::time::sleep(window + Duration::from_millis(10)).await;
    }

    // Jitter: fresh connections failing once pick different delays around the base.
    let mut windows = Vec::new();
    for _ in 0..8 {
        let c = ConnectionActor::start_supervised(addr.clone(), cfg.clone());
        let _ = c
            .request(route_request("A"), deadline(Duration::from_secs(5)))
            .await;
        let w = stats(&c).await.retry_in.expect("backoff window");
        assert!(
            w + slack >= Duration::from_millis(80) && w <= Duration::from_millis(120),
            "{w:?}"
        );
        windows.push(w);
    }
    let spread = *windows.iter().max().unwrap() - *windows.iter().min().unwrap();
    assert!(spread > Duration::from_millis(5), "no jitter: {windows:?}");

    // Success resets the backoff.
    answer_everything(socket);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let resp = conn
        .request(route_request("A"), deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(resp.code, response_code::SUCCESS);
    let s = stats(&conn).await;
    assert_eq!(
        (s.consecutive_failures, s.retry_in, s.connects),
        (0, None, 1)
    );
}

#[actix_rt::test]
async fn pipelined_requests_are_matched_by_opaque() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    ns.inject(
        Fault::delay(Duration::from_millis(300))
            .on(request_code::GET_ROUTEINFO_BY_TOPIC)
            .on_topic("A"),
    );
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg());
    let done: Arc<Mutex<Vec<&str>>> = Arc::default();
    let calls = ["A", "B", "C"].map(|t| {
        let conn = conn.clone();
        let done = done.clone();
        async move {
            let resp = conn
                .request(route_request(t), deadline(Duration::from_secs(5)))
                .await;
            done.lock().unwrap().push(t);
            (t, resp)
        }
    });
    let t0 = std::time::Instant::now();
    for (topic, resp) in join_all(calls).await {
        let resp = resp.unwrap_or_else(|e| panic!("{topic}: {e}"));
        let expected = match topic {
            "A" => 1,
            "B" => 2,
            _ => 3,
        };
        assert_eq!(
            queues(&resp),
            expected,
            "response of {topic} matched to its request"
        );
    }
    assert!(t0.elapsed() >= Duration::from_millis(300));
    let order = done.lock().unwrap().clone();
    assert_eq!(
        order.last(),
        Some(&"A"),
        "B and C answered while A waited: {order:?}"
    );

    let got = ns.received_with_code(request_code::GET_ROUTEINFO_BY_TOPIC);
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|r| r.connection == got[0].connection),
        "one pipelined connection"
    );
    let mut opaques: Vec<i32> = got.iter().map(|r| r.command.opaque).collect();
    opaques.dedup();
    assert_eq!(opaques.len(), 3, "distinct opaques");
    assert_eq!(ns.connections_accepted(), 1);
    assert_eq!(stats(&conn).await.pending, 0);
}

#[actix_rt::test]
async fn oneway_frame_is_written_and_nothing_waits_for_it() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg());
    let t0 = std::time::Instant::now();
    conn.oneway(route_request("B"), deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(1));
    let seen = ns
        .wait_for_code(request_code::GET_ROUTEINFO_BY_TOPIC, Duration::from_secs(2))
        .await
        .expect("the broker got the oneway frame");
    assert!(seen.command.is_oneway(), "oneway flag set");
    assert_eq!(seen.ext("topic"), Some("B"));
    assert_eq!(
        stats(&conn).await.pending,
        0,
        "a oneway frame parks no waiter"
    );
    // The stream stays in sync: the next request gets its own answer.
    let resp = conn
        .request(route_request("C"), deadline(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(queues(&resp), 3);
}

#[actix_rt::test]
async fn frames_are_written_in_submission_order() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg());
    stats(&conn).await; // started
    let dl = deadline(Duration::from_secs(5));
    // Submitted back to back; the first one also has to connect first.
    let replies: Vec<_> = (0..60)
        .map(|i| {
            let (tx, rx) = futures::channel::oneshot::channel();
            conn.submit(Submit {
                cmd: route_request(&format!("T{i}")),
                deadline: dl,
                oneway: i % 5 == 4,
                reply: ReplySink::Oneshot(tx),
            });
            rx
        })
        .collect();
    for (i, r) in join_all(replies).await.into_iter().enumerate() {
        let reply = r.expect("answered");
        match reply {
            Ok(Some(resp)) => assert_eq!(resp.code, response_code::TOPIC_NOT_EXIST, "T{i}"),
            Ok(None) => assert_eq!(i % 5, 4, "only oneway frames get no response"),
            Err(e) => panic!("T{i}: {e}"),
        }
    }
    wait_until("all 60 frames at the name server", || {
        route_topics(&ns).len() == 60
    })
    .await;
    let expected: Vec<String> = (0..60).map(|i| format!("T{i}")).collect();
    assert_eq!(route_topics(&ns), expected);
    assert_eq!(ns.connections_accepted(), 1);
}

/// Submits with a oneshot and waits on the actor's own reply: no caller-side
/// timeout, so a timeout can only come from the connection (as for a shared channel).
async fn actor_request(
    conn: &Connection,
    topic: &str,
    within: Duration,
) -> Result<Option<RemotingCommand>, NetError> {
    let (tx, rx) = futures::channel::oneshot::channel();
    conn.submit(Submit {
        cmd: route_request(topic),
        deadline: deadline(within),
        oneway: false,
        reply: ReplySink::Oneshot(tx),
    });
    rx.await.expect("the connection answers every request")
}

#[actix_rt::test]
async fn deadlines_stay_exact_across_a_restart() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    ns.inject(Fault::drop_reply().on_topic("lost").forever());
    // Default dead_peer_timeout: the coarse sweep runs only every second.
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg());
    for round in 0..3 {
        // An answered request first: the break below then ends a healthy
        // connection, so no backoff window stands between it and the next one.
        let ok = actor_request(&conn, "B", Duration::from_secs(2)).await;
        assert!(ok.is_ok(), "round {round}: {ok:?}");
        // A request waits with an early deadline when the connection breaks.
        let c = conn.clone();
        let early =
            actix_rt::spawn(
                async move { actor_request(&c, "lost", Duration::from_millis(200)).await },
            );
        wait_until_async("a waiting request", || {
            let c = conn.clone();
            async move { stats(&c).await.pending == 1 }
        })
        .await;
        ns.close_connections();
        assert!(matches!(early.await.unwrap(), Err(NetError::Closed { .. })));
        // After the restart a later deadline must still fire on time.
        let t0 = std::time::Instant::now();
        let res = actor_request(&conn, "lost", Duration::from_millis(400)).await;
        let took = t0.elapsed();
        assert!(
            matches!(res, Err(NetError::Timeout { .. })),
            "round {round}: {res:?}"
        );
        assert!(
            took >= Duration::from_millis(390) && took < Duration::from_millis(700),
            "round {round}: timed out after {took:?}, deadline 400 ms"
        );
    }
}

#[actix_rt::test]
async fn request_times_out_at_its_deadline_and_leaves_the_table() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    ns.inject(Fault::drop_reply().on_topic("lost"));
    let cfg = ConnectionConfig {
        dead_peer_timeout: Duration::from_secs(2), // sweep every 500 ms
        ..cfg()
    };
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg);
    let t0 = std::time::Instant::now();
    let res = conn
        .request(route_request("lost"), deadline(Duration::from_millis(300)))
        .await;
    let took = t0.elapsed();
    assert!(
        matches!(&res, Err(NetError::Timeout { addr }) if *addr == ns.addr()),
        "{res:?}"
    );
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(900),
        "timed out after {took:?}, deadline was 300 ms"
    );
    wait_until_async("the expired waiter swept", || {
        let c = conn.clone();
        async move { stats(&c).await.pending == 0 }
    })
    .await;
    // The connection is still good.
    let resp = conn
        .request(route_request("B"), deadline(Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(queues(&resp), 2);
    assert_eq!(stats(&conn).await.connects, 1);
}

/// Three requests wait (their replies are withheld) when `breaker` breaks the
/// connection; every one must fail with `Closed` at once, not at its 10 s deadline.
async fn check_break(ns: &ServerHandle, what: &str, trigger: Option<&str>, breaker: impl FnOnce()) {
    check_break_with(ns, what, trigger, breaker, assert_closed).await
}

async fn check_break_with(
    ns: &ServerHandle,
    what: &str,
    trigger: Option<&str>,
    breaker: impl FnOnce(),
    expect: fn(&Result<RemotingCommand, NetError>, &str),
) {
    let hold = ns.inject(Fault::drop_reply().on_topic("hang").forever());
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg());
    let dl = deadline(Duration::from_secs(10));
    let waiting: Vec<_> = (0..3)
        .map(|_| {
            let c = conn.clone();
            actix_rt::spawn(async move { c.request(route_request("hang"), dl).await })
        })
        .collect();
    wait_until_async("three waiting requests", || {
        let c = conn.clone();
        async move { stats(&c).await.pending == 3 }
    })
    .await;
    let t0 = std::time::Instant::now();
    breaker();
    let mut results = Vec::new();
    if let Some(topic) = trigger {
        results.push(conn.request(route_request(topic), dl).await);
    }
    for w in waiting {
        results.push(w.await.unwrap());
    }
    let took = t0.elapsed();
    for r in &results {
        expect(r, what);
    }
    assert!(
        took < Duration::from_secs(2),
        "{what}: waiters failed after {took:?}"
    );
    assert!(ns.remove_fault(hold));
    let s = stats(&conn).await;
    assert_eq!(s.pending, 0, "{what}: waiting table emptied");
    assert!(s.restarts >= 1, "{what}: supervised restart");
    // It died young (no answer): a failed connect, so a backoff window is open
    // and requests fail fast in it; the first one after it reconnects.
    let window = s
        .retry_in
        .expect("a connection that died young opens a backoff window");
    assert!(
        window <= Duration::from_millis(120),
        "{what}: first step, {window:?}"
    );
    let fast = conn
        .request(route_request("B"), deadline(Duration::from_secs(3)))
        .await;
    // Failing fast, it names the fault that opened the window.
    match &fast {
        Err(NetError::Protocol { .. }) => expect(&fast, what),
        other => assert!(
            matches!(other, Err(NetError::Connect { .. })),
            "{what}: {other:?}"
        ),
    }
    tokio::time::sleep(window + Duration::from_millis(10)).await;
    let resp = conn
        .request(route_request("B"), deadline(Duration::from_secs(3)))
        .await;
    assert_eq!(queues(&resp.unwrap_or_else(|e| panic!("{what}: {e}"))), 2);
    assert_eq!(stats(&conn).await.connects, 2, "{what}: reconnected");
}

#[actix_rt::test]
async fn a_broken_connection_fails_every_waiter_at_once() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    check_break(&ns, "server closes the connection", None, || {
        assert_eq!(ns.close_connections(), 1);
    })
    .await;
    check_break(&ns, "server closes on a request", Some("cut"), || {
        ns.inject(Fault::close().on_topic("cut"));
    })
    .await;
    check_break(&ns, "server processes then closes", Some("cut2"), || {
        ns.inject(Fault::process_then_close().on_topic("cut2"));
    })
    .await;
    check_break_with(
        &ns,
        "unreadable frame",
        Some("junk"),
        || {
            ns.inject(Fault::garbage(garbage::bad_json_header()).on_topic("junk"));
        },
        assert_undecodable,
    )
    .await;
    check_break_with(
        &ns,
        "oversized frame",
        Some("huge"),
        || {
            ns.inject(Fault::garbage(garbage::oversized()).on_topic("huge"));
        },
        assert_undecodable,
    )
    .await;
}

#[actix_rt::test]
async fn a_crashed_server_fails_waiters_at_once_and_a_restarted_one_is_reconnected() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    ns.inject(Fault::drop_reply().on_topic("hang").forever());
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg());
    let c = conn.clone();
    let waiting = actix_rt::spawn(async move {
        c.request(route_request("hang"), deadline(Duration::from_secs(10)))
            .await
    });
    wait_until_async("a waiting request", || {
        let c = conn.clone();
        async move { stats(&c).await.pending == 1 }
    })
    .await;
    let t0 = std::time::Instant::now();
    ns.stop().await.unwrap();
    assert_closed(&waiting.await.unwrap(), "server stopped");
    assert!(t0.elapsed() < Duration::from_secs(2));
    ns.start().await.unwrap();
    ns.clear_faults();
    // The connection died before any answer: one backoff step (≤ 120 ms), then it reconnects.
    if let Some(window) = stats(&conn).await.retry_in {
        assert!(window <= Duration::from_millis(120), "{window:?}");
        tokio::time::sleep(window + Duration::from_millis(10)).await;
    }
    let resp = conn
        .request(route_request("C"), deadline(Duration::from_secs(3)))
        .await
        .unwrap();
    assert_eq!(queues(&resp), 3);
    let s = stats(&conn).await;
    assert_eq!((s.connects, s.pending), (2, 0));
}

#[actix_rt::test]
async fn a_frozen_peer_is_detected_within_dead_peer_timeout() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    let cfg = ConnectionConfig {
        dead_peer_timeout: Duration::from_millis(400),
        ..cfg()
    };
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg);
    conn.request(route_request("A"), deadline(Duration::from_secs(2)))
        .await
        .unwrap();
    ns.freeze(); // no FIN, no RST: the socket just goes silent
    let t0 = std::time::Instant::now();
    let res = conn
        .request(route_request("A"), deadline(Duration::from_secs(10)))
        .await;
    let took = t0.elapsed();
    match &res {
        Err(NetError::Closed { reason, .. }) => assert!(reason.contains("no frame"), "{reason}"),
        other => panic!("expected the dead peer to be detected, got {other:?}"),
    }
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_millis(1500),
        "dead peer detected after {took:?} (dead_peer_timeout 400 ms, deadline 10 s)"
    );
    assert_eq!(stats(&conn).await.pending, 0);
    ns.unfreeze();
    let resp = conn
        .request(route_request("B"), deadline(Duration::from_secs(3)))
        .await
        .unwrap();
    assert_eq!(queues(&resp), 2);
    assert_eq!(stats(&conn).await.connects, 2);
}

/// The replies of a [`ReplySink::Channel`] one at a time (they arrive in batches).
struct ChannelReplies {
    rx: mpsc::UnboundedReceiver<ReplyBatch>,
    ready: std::vec::IntoIter<(u64, Reply)>,
}

impl ChannelReplies {
    fn new(rx: mpsc::UnboundedReceiver<ReplyBatch>) -> Self {
        ChannelReplies {
            rx,
            ready: Vec::new().into_iter(),
        }
    }

    /// The next reply; `None` once every sender is gone and all were taken.
    async fn recv(&mut self) -> Option<(u64, Reply)> {
        loop {
            if let Some(r) = self.ready.next() {
                return Some(r);
            }
            self.ready = self.rx.recv().await?.into_iter();
        }
    }
}

/// Hands one route request for `topic` per token to `conn`, replies to `tx`.
fn submit_each(
    conn: &Connection,
    tokens: std::ops::Range<u64>,
    topic: &str,
    tx: &mpsc::UnboundedSender<ReplyBatch>,
) {
    for token in tokens {
        conn.submit(Submit {
            cmd: route_request(topic),
            deadline: deadline(Duration::from_secs(5)),
            oneway: false,
            reply: ReplySink::Channel {
                tx: tx.clone(),
                token,
            },
        });
    }
}

/// Hands `n` requests with `body` to `conn` without awaiting in between (so the
/// connection takes them in one turn); request `freeze_at` has topic "freeze",
/// the others "big". Replies come on the returned channel, tagged with the index.
fn burst(
    conn: &Connection,
    n: u64,
    body: &Bytes,
    freeze_at: u64,
    deadline_of: impl Fn(u64) -> Instant,
) -> ChannelReplies {
    let (tx, rx) = mpsc::unbounded_channel();
    for i in 0..n {
        let topic = if i == freeze_at { "freeze" } else { "big" };
        let msg = Submit {
            cmd: route_request(topic).with_body(body.clone()),
            deadline: deadline_of(i),
            oneway: false,
            reply: ReplySink::Channel {
                tx: tx.clone(),
                token: i,
            },
        };
        conn.submit(msg);
    }
    ChannelReplies::new(rx)
}

/// Every reply of a burst with when it arrived (since `t0`), until no reply sink is left;
/// panics unless each of the `n` requests got exactly one within `within`.
async fn collect(
    mut rx: ChannelReplies,
    n: u64,
    t0: std::time::Instant,
    within: Duration,
) -> Vec<(u64, Reply, Duration)> {
    let all = async {
        let mut got = Vec::new();
        while let Some((token, reply)) = rx.recv().await {
            got.push((token, reply, t0.elapsed()));
        }
        got
    };
    let got = tokio::time::timeout(within, all)
        .await
        .unwrap_or_else(|_| panic!("not every request was answered within {within:?}"));
    let mut seen = vec![0u32; n as usize];
    for (token, _, _) in &got {
        seen[*token as usize] += 1;
    }
    assert!(
        seen.iter().all(|&c| c == 1),
        "replies per request: {seen:?}"
    );
    got
}

/// 128 KiB bodies: a burst of them is far more than the socket buffers hold.
fn big_body() -> Bytes {
    Bytes::from(vec![b'x'; 128 * 1024])
}

/// The broker stops reading (TCP stays open) while 16 MB are queued for it: our
/// socket and write buffers fill. Timers and the mailbox must keep running, so
/// every request is answered on time, the dead-peer rule breaks the connection
/// on time, and the next request reconnects.
#[actix_rt::test]
async fn a_peer_frozen_under_a_full_write_buffer_is_failed_on_time() {
    let cl = cluster().await;
    let broker = cl.broker("broker-a");
    let dead_peer = Duration::from_secs(1);
    let tick = dead_peer / 4; // the sweep interval
    let slack = Duration::from_secs(1); // shared machine: lateness allowed, speed never asserted
    let conn = ConnectionActor::start_supervised(
        broker.addr(),
        ConnectionConfig {
            dead_peer_timeout: dead_peer,
            ..cfg()
        },
    );
    conn.request(route_request("A"), deadline(Duration::from_secs(2)))
        .await
        .unwrap();
    // The broker reads three frames, then freezes on the fourth.
    broker.inject(Fault::freeze().on_topic("freeze"));
    let (n, short, long) = (128, Duration::from_millis(600), Duration::from_secs(10));
    let t0 = std::time::Instant::now();
    let now = Instant::now();
    // Even ones time out at 600 ms; odd ones wait until the dead-peer rule breaks the connection.
    let rx = burst(&conn, n, &big_body(), 3, |i| {
        now + if i % 2 == 0 { short } else { long }
    });
    let replies = actix_rt::spawn(collect(rx, n, t0, Duration::from_secs(15)));
    wait_until("the broker froze", || broker.is_frozen()).await;
    let frozen_at = t0.elapsed();

    // The mailbox runs while the peer does not read.
    for _ in 0..2 {
        let s = tokio::time::timeout(Duration::from_secs(1), conn.stats())
            .await
            .expect("GetStats answered while the peer is frozen")
            .expect("actor alive");
        assert_eq!(s.connects, 1);
        tokio::time::sleep(short).await;
    }

    let replies = replies.await.unwrap();
    let break_by = frozen_at + dead_peer + tick + slack;
    let mut first_closed = None::<Duration>;
    for (i, reply, at) in &replies {
        let due = if i % 2 == 0 { short } else { long };
        assert!(
            *at <= (due + slack).min(break_by),
            "#{i} answered after {at:?}: deadline {due:?}, dead peer due by {break_by:?}"
        );
        match reply {
            Ok(_) => assert!(*i < 3, "#{i} answered although the broker froze at #3"),
            Err(NetError::Timeout { .. }) if i % 2 == 0 => {}
            Err(NetError::Closed { reason, .. }) => {
                assert!(reason.contains("no frame"), "#{i}: {reason}");
                first_closed = Some(first_closed.map_or(*at, |f| f.min(*at)));
            }
            other => panic!("#{i}: {other:?}"),
        }
    }
    let broke = first_closed.expect("the dead-peer rule broke the connection");
    assert!(
        broke + Duration::from_millis(50) >= dead_peer,
        "broken after {broke:?}, before dead_peer_timeout {dead_peer:?}"
    );
    let s = stats(&conn).await;
    assert_eq!((s.pending, s.connected), (0, false));
    assert!(s.restarts >= 1);

    broker.unfreeze();
    let resp = conn
        .request(route_request("B"), deadline(Duration::from_secs(3)))
        .await
        .expect("reconnected after the unfreeze");
    assert!(resp.is_response());
    assert_eq!(stats(&conn).await.connects, 2);
}

/// Requests parked behind a full write buffer whose deadline passes are answered
/// with a timeout then and never written: once the peer reads again it gets only
/// what the socket buffers and the 256 KiB write buffer held, not all 24 MB.
#[actix_rt::test]
async fn requests_that_expire_while_parked_are_never_written() {
    let cl = cluster().await;
    let broker = cl.broker("broker-a");
    // Default dead_peer_timeout (5 s): the connection outlives the freeze.
    let conn = ConnectionActor::start_supervised(broker.addr(), cfg());
    conn.request(route_request("A"), deadline(Duration::from_secs(2)))
        .await
        .unwrap();
    broker.inject(Fault::freeze().on_topic("freeze"));
    let (n, within, slack) = (192, Duration::from_millis(500), Duration::from_secs(1));
    let t0 = std::time::Instant::now();
    let now = Instant::now();
    let rx = burst(&conn, n, &big_body(), 3, |_| now + within);
    let replies = collect(rx, n, t0, Duration::from_secs(10)).await;
    for (i, reply, at) in &replies {
        assert!(*at <= within + slack, "#{i} answered after {at:?}");
        match reply {
            Ok(_) => assert!(*i < 3, "#{i} answered although the broker froze at #3"),
            Err(NetError::Timeout { .. }) => {}
            other => panic!("#{i}: {other:?}"),
        }
    }
    assert!(broker.is_frozen());

    broker.unfreeze();
    // Written after everything before it: once answered, the broker has read it all.
    conn.request(route_request("after"), deadline(Duration::from_secs(5)))
        .await
        .expect("the connection survived the freeze");
    let written = broker
        .received()
        .iter()
        .filter(|r| r.ext("topic") == Some("big"))
        .count() as u64;
    assert!(
        written < n / 2,
        "{written} of {n} expired 128 KiB requests were written"
    );
    let s = stats(&conn).await;
    assert_eq!((s.connects, s.restarts, s.pending), (1, 0, 0));
}

#[actix_rt::test]
async fn survives_the_server_closing_an_idle_connection() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg());
    conn.request(route_request("A"), deadline(Duration::from_secs(2)))
        .await
        .unwrap();
    ns.set_idle_timeout(Some(Duration::from_millis(150)));
    wait_until("the server closed the idle connection", || {
        ns.open_connections() == 0
    })
    .await;
    wait_until_async("the client saw the close", || {
        let c = conn.clone();
        async move { !stats(&c).await.connected }
    })
    .await;
    ns.set_idle_timeout(None);
    let resp = conn
        .request(route_request("B"), deadline(Duration::from_secs(3)))
        .await
        .unwrap();
    assert_eq!(queues(&resp), 2);
    let s = stats(&conn).await;
    assert_eq!((s.connects, s.restarts, s.pending), (2, 1, 0));
    assert_eq!(ns.connections_accepted(), 2);
}

/// Records inbound requests and answers them.
struct Inbox(mpsc::UnboundedSender<(RemotingCommand, Arc<str>)>);

impl Actor for Inbox {
    type Context = Context<Self>;
}

impl Handler<InboundRequest> for Inbox {
    type Result = ();
    fn handle(&mut self, msg: InboundRequest, _: &mut Context<Self>) {
        if !msg.cmd.is_oneway() {
            let mut resp = RemotingCommand::response(
                response_code::SUCCESS,
                msg.cmd.opaque,
                Some("handled".into()),
            );
            resp.serialize_type = msg.cmd.serialize_type;
            msg.connection.respond(resp);
        }
        let _ = self.0.send((msg.cmd, msg.remote));
    }
}

fn server_request(code: i32) -> RemotingCommand {
    let mut ext = ExtFields::new();
    ext.push("topic", "Inbound");
    RemotingCommand::request(code, ext)
}

#[actix_rt::test]
async fn inbound_requests_go_to_the_registered_recipient() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg());
    let (tx, mut rx) = mpsc::unbounded_channel();
    conn.set_inbound_handler(Inbox(tx).start().recipient());
    conn.request(route_request("A"), deadline(Duration::from_secs(2)))
        .await
        .unwrap();
    let id = ns.connections()[0].id;

    let resp = ns
        .request(
            id,
            server_request(request_code::CHECK_TRANSACTION_STATE),
            Duration::from_secs(2),
        )
        .await
        .expect("the handler answered");
    assert_eq!(
        (resp.code, resp.remark.as_deref()),
        (response_code::SUCCESS, Some("handled"))
    );
    let (cmd, remote) = rx.recv().await.unwrap();
    assert_eq!(cmd.code, request_code::CHECK_TRANSACTION_STATE);
    assert_eq!(cmd.ext("topic"), Some("Inbound"));
    assert_eq!(&*remote, ns.addr());

    let opaque = ns
        .send_oneway(
            id,
            server_request(request_code::NOTIFY_CONSUMER_IDS_CHANGED),
        )
        .unwrap();
    let (cmd, _) = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (cmd.code, cmd.opaque),
        (request_code::NOTIFY_CONSUMER_IDS_CHANGED, opaque)
    );
    assert!(cmd.is_oneway());
}

#[actix_rt::test]
async fn unhandled_inbound_requests_are_answered_with_code_3() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg());
    conn.request(route_request("A"), deadline(Duration::from_secs(2)))
        .await
        .unwrap();
    let id = ns.connections()[0].id;
    let resp = ns
        .request(id, server_request(999), Duration::from_secs(2))
        .await
        .expect("an answer");
    assert_eq!(resp.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
    assert!(resp.is_response());

    // A oneway one gets no answer at all.
    let opaque = ns.send_oneway(id, server_request(998)).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answered = ns
        .received()
        .iter()
        .any(|r| r.is_response() && r.command.opaque == opaque);
    assert!(!answered, "a oneway request must not be answered");
    // The connection is unharmed.
    conn.request(route_request("B"), deadline(Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(stats(&conn).await.connects, 1);
}

#[actix_rt::test]
async fn submitted_requests_survive_supervised_restarts() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    // The connection runs on its own thread, so requests land in its submission
    // channel while it is breaking and restarting.
    let arbiter = Arbiter::new();
    let conn = ConnectionActor::start_supervised_in(&arbiter.handle(), ns.addr(), cfg());
    let mut ok = 0;
    let mut closed = 0;
    for round in 0..6 {
        let dl = deadline(Duration::from_secs(3));
        let calls: Vec<_> = (0..40)
            .map(|i| {
                let c = conn.clone();
                async move {
                    c.request(route_request(if i % 2 == 0 { "A" } else { "B" }), dl)
                        .await
                }
            })
            .collect();
        let breaker = async {
            tokio::time::sleep(Duration::from_millis(2 + round)).await;
            ns.close_connections();
        };
        let t0 = std::time::Instant::now();
        let (results, _) = futures::join!(join_all(calls), breaker);
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "round {round} took {:?}",
            t0.elapsed()
        );
        for r in results {
            match r {
                Ok(resp) => {
                    assert!([1, 2].contains(&queues(&resp)));
                    ok += 1;
                }
                Err(NetError::Closed { reason, .. }) => {
                    assert!(
                        !reason.contains("restarted"),
                        "a request was dropped unanswered: {reason}"
                    );
                    closed += 1;
                }
                // A break before any answer opens a backoff window: failed fast, not lost.
                Err(NetError::Connect { .. }) => closed += 1,
                Err(e) => panic!("round {round}: a request was lost or timed out: {e:?}"),
            }
        }
    }
    assert_eq!(ok + closed, 240);
    assert!(ok > 0, "some requests were answered");
    let s = stats(&conn).await;
    assert_eq!(s.pending, 0);
    assert!(
        s.restarts >= 1 && closed > 0,
        "the connection broke under load"
    );
    // The last break may cross this request on the wire (the server closes as it is
    // written): then it fails at once with Closed, and the one after reconnects.
    let last = conn
        .request(route_request("C"), deadline(Duration::from_secs(3)))
        .await;
    if let Err(e) = last {
        assert!(
            matches!(e, NetError::Closed { .. } | NetError::Connect { .. }),
            "{e:?}"
        );
        if let Some(window) = stats(&conn).await.retry_in {
            tokio::time::sleep(window + Duration::from_millis(10)).await;
        }
        conn.request(route_request("C"), deadline(Duration::from_secs(3)))
            .await
            .unwrap();
    }
    arbiter.stop();
}

#[actix_rt::test]
async fn close_waits_for_waiting_requests_then_releases_the_socket() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    ns.inject(Fault::delay(Duration::from_millis(300)).on_topic("A"));
    let conn = ConnectionActor::start_supervised(ns.addr(), cfg());
    let c = conn.clone();
    let slow = actix_rt::spawn(async move {
        c.request(route_request("A"), deadline(Duration::from_secs(3)))
            .await
    });
    wait_until_async("a waiting request", || {
        let c = conn.clone();
        async move { stats(&c).await.pending == 1 }
    })
    .await;
    let t0 = std::time::Instant::now();
    conn.close(deadline(Duration::from_secs(3))).await;
    assert!(
        t0.elapsed() >= Duration::from_millis(200),
        "close returned before the waiting request was answered"
    );
    assert_eq!(
        queues(&slow.await.unwrap().unwrap()),
        1,
        "the waiting request got its response"
    );
    let after = conn
        .request(route_request("B"), deadline(Duration::from_secs(1)))
        .await;
    assert!(
        after.is_err(),
        "a closed connection takes no more requests: {after:?}"
    );
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut rx = ChannelReplies::new(rx);
    conn.submit(Submit {
        cmd: route_request("B"),
        deadline: deadline(Duration::from_secs(3)),
        oneway: false,
        reply: ReplySink::Channel { tx, token: 7 },
    });
    let (token, reply) = tokio::time::timeout(Duration::from_secs(1), rx.recv())
        .await
        .expect("a submit to a closed connection is answered at once")
        .expect("one reply");
    assert_eq!(token, 7);
    assert!(
        matches!(reply, Err(NetError::Closed { .. })),
        "a closed connection takes no more submits: {reply:?}"
    );
    drop(conn);
    // With every handle gone the actor must end and close its socket.
    wait_until("the server saw the connection closed", || {
        ns.open_connections() == 0
    })
    .await;
}

/// Frames submitted before the connection exists wait for the one connect
/// (no second connect, no reordering) and then all go out.
#[actix_rt::test]
async fn submits_made_while_connecting_share_one_connect() {
    let cl = cluster().await;
    let conn = ConnectionActor::start_supervised(cl.namesrv().addr(), cfg());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut rx = ChannelReplies::new(rx);
    for i in 0..64u64 {
        conn.submit(Submit {
            cmd: route_request(["A", "B", "C"][i as usize % 3]),
            deadline: deadline(Duration::from_secs(5)),
            oneway: false,
            reply: ReplySink::Channel {
                tx: tx.clone(),
                token: i,
            },
        });
    }
    let mut seen = [false; 64];
    for _ in 0..64 {
        let (token, reply) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("every submit answered")
            .expect("reply");
        let resp = reply.expect("ok").expect("a response");
        assert_eq!(
            queues(&resp),
            1 + (token % 3) as i32,
            "reply #{token} matches its request"
        );
        assert!(
            !std::mem::replace(&mut seen[token as usize], true),
            "one reply each"
        );
    }
    let s = stats(&conn).await;
    assert_eq!(s.connects, 1, "one connect for all: {s:?}");
}

/// Frames submitted over consecutive scheduler passes go out in one write: the
/// flush waits while each pass still adds frames (one write per frame would be
/// 96 here; waiting a single pass, as the flush once did, 2).
#[actix_rt::test]
async fn frames_of_consecutive_passes_share_one_write() {
    let cl = cluster().await;
    let conn = ConnectionActor::start_supervised(cl.namesrv().addr(), cfg());
    // Connected first, so the burst below is not held behind the connect.
    let first = conn
        .request(route_request("A"), deadline(Duration::from_secs(5)))
        .await
        .expect("connected");
    assert_eq!(queues(&first), 1);
    let before = stats(&conn).await.writes;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut rx = ChannelReplies::new(rx);
    // A task beside the actor in the run queue (the test body itself is polled
    // only between runs of the queue, which would give the actor many passes).
    let burst = conn.clone();
    actix_rt::spawn(async move {
        for pass in 0..3u64 {
            for i in 0..32u64 {
                burst.submit(Submit {
                    cmd: route_request("B"),
                    deadline: deadline(Duration::from_secs(5)),
                    oneway: false,
                    reply: ReplySink::Channel {
                        tx: tx.clone(),
                        token: pass * 32 + i,
                    },
                });
            }
            // The actor runs one pass between the thirds.
            yield_once().await;
        }
    })
    .await
    .expect("burst task");
    for _ in 0..96 {
        let (_, reply) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("every submit answered")
            .expect("reply");
        assert_eq!(queues(&reply.expect("ok").expect("a response")), 2);
    }
    let writes = stats(&conn).await.writes - before;
    assert_eq!(
        writes, 1,
        "96 frames over three passes took {writes} writes"
    );
}

/// Pending once, woken at once: to the back of the run queue, so each task
/// queued ahead runs once (tokio's `yield_now` waits for the end of the tick).
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

/// Responses read in one pass reach their channel as one batch: one send and
/// one wake-up of the producer for many replies, not one each.
#[actix_rt::test]
async fn responses_of_one_read_travel_as_one_batch() {
    let cl = cluster().await;
    let conn = ConnectionActor::start_supervised(cl.namesrv().addr(), cfg());
    conn.request(route_request("A"), deadline(Duration::from_secs(5)))
        .await
        .expect("connected");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    submit_each(&conn, 0..64, "C", &tx);
    drop(tx);
    let mut batches = Vec::new();
    let mut seen = [0u32; 64];
    while let Some(batch) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("every submit answered")
    {
        for (token, reply) in &batch {
            seen[*token as usize] += 1;
            let resp = reply.as_ref().expect("ok").as_ref().expect("a response");
            assert_eq!(queues(resp), 3);
        }
        batches.push(batch.len());
    }
    assert!(seen.iter().all(|&c| c == 1), "one reply each: {seen:?}");
    assert!(
        batches.iter().any(|&n| n > 1),
        "64 pipelined responses came one per batch: {batches:?}"
    );
}

/// A peer that answers a burst and closes at once: every response read before
/// the close (batched for delivery when the close is seen) reaches its caller
/// as a response; none is failed as Closed or lost to the restart.
#[actix_rt::test]
async fn responses_read_just_before_the_peer_closes_are_delivered() {
    const N: u64 = 48;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut framed = Framed::new(stream, RemotingCodec::default());
        let mut opaques = Vec::new();
        while opaques.len() < N as usize {
            match framed.next().await {
                Some(Ok(cmd)) => opaques.push(cmd.opaque),
                _ => return,
            }
        }
        // All answers in one write, then the FIN right behind them.
        for opaque in opaques {
            let resp = RemotingCommand::response(response_code::SUCCESS, opaque, None);
            framed.feed(resp).await.unwrap();
        }
        SinkExt::<RemotingCommand>::flush(&mut framed)
            .await
            .unwrap();
        drop(framed);
    });
    let conn = ConnectionActor::start_supervised(addr, cfg());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    submit_each(&conn, 0..N, "A", &tx);
    drop(tx);
    let replies = collect(
        ChannelReplies::new(rx),
        N,
        std::time::Instant::now(),
        Duration::from_secs(5),
    )
    .await;
    for (token, reply, _) in replies {
        let resp = reply
            .unwrap_or_else(|e| {
                panic!("request {token} failed instead of getting its response: {e}")
            })
            .expect("a response");
        assert_eq!(resp.code, response_code::SUCCESS);
    }
}

/// A handle knows whether its actor shares the caller's thread (the producer
/// then yields for it to write a batch) or runs on an arbiter of its own.
#[actix_rt::test]
async fn a_handle_knows_whether_its_actor_is_on_this_thread() {
    let cl = cluster().await;
    let here = ConnectionActor::start_supervised(cl.namesrv_addr(), cfg());
    assert_eq!(here.home(), Some(std::thread::current().id()));
    let arbiter = Arbiter::new();
    let there = ConnectionActor::start_supervised_in(&arbiter.handle(), cl.namesrv_addr(), cfg());
    assert_eq!(there.home(), None);
    // Both work alike.
    for conn in [&here, &there] {
        let resp = conn
            .request(route_request("B"), deadline(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(queues(&resp), 2);
    }
    arbiter.stop();
}
