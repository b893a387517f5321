//! Failure suite against the REAL RocketMQ name server + brokers: each test starts a
//! private rig (its own run dir and ports, stopped on drop), kills / restarts servers
//! under a running producer, and checks what a user would: every send gets exactly one
//! reply within its timeout, sends recover without restarting the producer, and every
//! acknowledged message can be read back from the broker.
//!
//! Ignored by a plain `cargo test`; run with `scripts/test.sh`, or by hand:
//! `RMQ_E2E=1 cargo test --all-features --test e2e_failures -- --include-ignored`.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/readback.rs"]
mod readback;
#[path = "support/rig.rs"]
mod rig;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use actix_rocketmq::internals::runtime::RouteError;
use actix_rocketmq::{
    Error, ErrorKind, FetchPublishQueues, Message, MessageQueue, ProducerActor, ProducerConfig,
    SendMessage, SendOutcome, SendResult, Shutdown,
};
use e2e::within;
use readback::{ReadBack, assert_at_result, assert_same_message, unique};
use rig::Rig;
use tokio::time::Instant;

/// Upper bound of a single step (a look-up, a read-back, a wait for the route).
const STEP: Duration = Duration::from_secs(10);
/// The producers' send timeout here (the Java default).
const SEND_TIMEOUT: Duration = Duration::from_secs(3);
/// Scheduling slack on a busy 2-core machine, on top of the send timeout.
const SLACK: Duration = Duration::from_millis(1500);
const QUEUES: i32 = 4;

/// Starts a private rig off the runtime thread (the script blocks for a second or two).
async fn private_rig(brokers: usize) -> Arc<Rig> {
    let rig = tokio::task::spawn_blocking(move || Rig::start_private(brokers))
        .await
        .expect("rig start task");
    Arc::new(rig)
}

/// Runs a rig control command (kill / restart) off the runtime thread, so the producer
/// keeps running while the script waits.
async fn control(rig: &Arc<Rig>, what: &'static str, f: fn(&Rig)) {
    let rig = rig.clone();
    within(
        Duration::from_secs(90),
        what,
        tokio::task::spawn_blocking(move || f(&rig)),
    )
    .await
    .unwrap_or_else(|e| panic!("{what}: {e}"));
}

/// A rig is stopped when its last `Arc` is dropped; dropping happens off the runtime.
async fn stop_rig(rig: Arc<Rig>) {
    let _ = tokio::task::spawn_blocking(move || drop(rig)).await;
}

fn config(namesrv: &str, group: &str) -> ProducerConfig {
    ProducerConfig::builder(group)
        .namesrv_addr(namesrv)
        .instance_name(unique("e2e_fail"))
        .send_timeout(SEND_TIMEOUT)
        .poll_name_server_interval(Duration::from_secs(1))
        .heartbeat_broker_interval(Duration::from_secs(1))
        .mq_client_api_timeout(Duration::from_secs(2))
        .build()
        .expect("valid producer config")
}

async fn start(cfg: ProducerConfig) -> Addr<ProducerActor> {
    within(STEP, "ProducerActor::start", ProducerActor::start(cfg))
        .await
        .expect("producer starts")
}

async fn publish_queues(p: &Addr<ProducerActor>, topic: &str) -> Result<Vec<MessageQueue>, Error> {
    within(
        STEP,
        "FetchPublishQueues",
        p.send(FetchPublishQueues {
            topic: topic.to_owned(),
        }),
    )
    .await
    .expect("producer alive")
}

fn brokers_of(queues: &[MessageQueue]) -> BTreeSet<String> {
    queues.iter().map(|q| q.broker_name.clone()).collect()
}

/// Correlation id → every outcome notified for it (msg id or error text).
type Seen = Arc<Mutex<HashMap<u64, Vec<Result<String, String>>>>>;

/// Collects `SendOutcome` notifications into a [`Seen`] table.
struct Outcomes(Seen);

impl Actor for Outcomes {
    type Context = Context<Self>;
}

impl Handler<SendOutcome> for Outcomes {
    type Result = ();
    fn handle(&mut self, o: SendOutcome, _: &mut Context<Self>) {
        self.0
            .lock()
            .unwrap()
            .entry(o.correlation)
            .or_default()
            .push(o.result.map(|r| r.msg_id).map_err(|e| e.to_string()));
    }
}

/// One send of a stream: when it started and ended, the message and the reply.
struct Record {
    id: u64,
    started: Instant,
    ended: Instant,
    msg: Message,
    result: Result<SendResult, Error>,
}

/// A stream of sync sends from `workers` concurrent senders, each pausing `pause`
/// between sends, until `stop` is set. Every send is also notified to `outcomes`.
async fn send_stream(
    p: Addr<ProducerActor>,
    topic: String,
    workers: u64,
    pause: Duration,
    stop: Rc<Cell<bool>>,
    records: Rc<RefCell<Vec<Record>>>,
    outcomes: Recipient<SendOutcome>,
) {
    let worker = |w: u64| {
        let (p, topic, stop, records, outcomes) = (
            p.clone(),
            topic.clone(),
            stop.clone(),
            records.clone(),
            outcomes.clone(),
        );
        async move {
            let mut n = 0u64;
            // bounded: the controller sets `stop` within its own bounded time
            while !stop.get() && n < 100_000 {
                let id = w * 1_000_000 + n;
                n += 1;
                let msg = Message::new(topic.as_str(), format!("stream body {id}"))
                    .with_tags("stream")
                    .with_keys(format!("k{id}"))
                    .with_property("id", id.to_string());
                let started = Instant::now();
                let reply = tokio::time::timeout(
                    SEND_TIMEOUT + SLACK + Duration::from_secs(5),
                    p.send(SendMessage::new(msg.clone()).notify(outcomes.clone(), id)),
                )
                .await;
                let ended = Instant::now();
                let result = match reply {
                    Ok(Ok(r)) => r,
                    Ok(Err(e)) => panic!("send #{id}: the producer is gone: {e}"),
                    Err(_) => panic!(
                        "send #{id} got no reply within {:?} (send timeout {SEND_TIMEOUT:?}): a hang",
                        ended - started
                    ),
                };
                records.borrow_mut().push(Record {
                    id,
                    started,
                    ended,
                    msg,
                    result,
                });
                tokio::time::sleep(pause).await;
            }
        }
    };
    futures::future::join_all((0..workers).map(worker)).await;
}

/// Checks the stream's invariants that hold whatever failed: one reply per send within
/// the send timeout (+ slack), and one notification per send agreeing with the reply.
async fn check_replies(records: &[Record], outcomes: &Seen) {
    for r in records {
        let took = r.ended - r.started;
        assert!(
            took <= SEND_TIMEOUT + SLACK,
            "send #{} replied after {took:?}, send timeout {SEND_TIMEOUT:?}: {:?}",
            r.id,
            r.result.as_ref().map(|r| &r.msg_id)
        );
    }
    // notifications are sent before the reply; give the mailbox a moment anyway
    let t0 = Instant::now();
    loop {
        let seen = outcomes.lock().unwrap().len();
        if seen >= records.len() || t0.elapsed() > Duration::from_secs(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = outcomes.lock().unwrap();
    for r in records {
        let got = seen.get(&r.id).map(Vec::as_slice).unwrap_or(&[]);
        assert_eq!(
            got.len(),
            1,
            "send #{} was notified {} times: {got:?}",
            r.id,
            got.len()
        );
        match (&r.result, &got[0]) {
            (Ok(a), Ok(b)) => assert_eq!(&a.msg_id, b, "send #{}: reply vs notification", r.id),
            (Err(_), Err(_)) => {}
            (a, b) => panic!(
                "send #{}: reply {:?} but notification {b:?}",
                r.id,
                a.as_ref().map(|r| &r.msg_id)
            ),
        }
    }
    assert_eq!(
        seen.len(),
        records.len(),
        "notifications for sends that were never made"
    );
}

/// Reads every acknowledged send back from the broker by its offset message id.
async fn check_stored(rb: &ReadBack, records: &[Record]) -> usize {
    let mut n = 0;
    for r in records {
        if let Ok(res) = &r.result {
            let (stored, _) = within(STEP, "VIEW_MESSAGE_BY_ID", rb.view(&res.offset_msg_id))
                .await
                .unwrap_or_else(|e| panic!("acknowledged send #{} cannot be read back: {e}", r.id));
            let ctx = format!("acknowledged send #{}", r.id);
            assert_same_message(&stored, &r.msg, &res.msg_id, &ctx);
            assert_at_result(&stored, res, &ctx);
            n += 1;
        }
    }
    n
}

fn summary(records: &[Record], t0: Instant) -> String {
    let mut s = String::new();
    for r in records {
        s.push_str(&format!(
            "\n  #{} {:>6}ms +{:>5}ms {}",
            r.id,
            (r.started - t0).as_millis(),
            (r.ended - r.started).as_millis(),
            match &r.result {
                Ok(res) => format!("ok {}", res.message_queue.broker_name),
                Err(e) => format!("ERR {e}"),
            }
        ));
    }
    s
}

// ---------------------------------------------------------------------------------------

/// SIGKILL the only broker in the middle of a stream of sends, restart it 3 s later:
/// every send gets exactly one reply within its timeout; sends succeed again within
/// seconds of the restart without restarting the producer; every acknowledged send is
/// in the restarted broker's store.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn broker_sigkill_mid_stream_then_restart() {
    let rig = private_rig(1).await;
    let rb = ReadBack::new();
    let topic = unique("E2E_kill");
    let broker = rig.broker_addr("broker-a").to_owned();
    rb.create_topic(&[broker.as_str()], &topic, QUEUES).await;
    rb.wait_route(rig.namesrv_addr(), &topic, &["broker-a"], STEP)
        .await;
    let group = unique("e2e_kill_group");
    let cfg = config(rig.namesrv_addr(), &group);
    let client_id = cfg.client_id();
    let p = start(cfg).await;

    let outcomes = Arc::new(Mutex::new(HashMap::new()));
    let collector = Outcomes(outcomes.clone()).start();
    let records = Rc::new(RefCell::new(Vec::new()));
    let stop = Rc::new(Cell::new(false));
    let t0 = Instant::now();
    let stream = send_stream(
        p.clone(),
        topic.clone(),
        4,
        Duration::from_millis(20),
        stop.clone(),
        records.clone(),
        collector.recipient(),
    );
    let times = Rc::new(Cell::new((t0, t0)));
    let controller = {
        let (rig, stop, records, times) =
            (rig.clone(), stop.clone(), records.clone(), times.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let killed = Instant::now();
            control(&rig, "kill broker-a", |r| r.kill_broker("broker-a")).await;
            tokio::time::sleep(Duration::from_secs(3)).await;
            control(&rig, "restart broker-a", |r| r.start_broker("broker-a")).await;
            let restarted = Instant::now();
            times.set((killed, restarted));
            // run until 30 sends in a row started after the restart succeeded (bounded)
            while restarted.elapsed() < Duration::from_secs(20) {
                let tail_ok = {
                    let recs = records.borrow();
                    let after: Vec<&Record> =
                        recs.iter().filter(|r| r.started >= restarted).collect();
                    after.len() >= 30 && after[after.len() - 30..].iter().all(|r| r.result.is_ok())
                };
                if tail_ok {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            stop.set(true);
        }
    };
    within(Duration::from_secs(120), "send stream", async {
        futures::join!(stream, controller)
    })
    .await;
    let (killed, restarted) = times.get();
    let records = records.take();
    let log = summary(&records, t0);
    eprintln!(
        "kill at {:?}, restarted (registered) at {:?}",
        killed - t0,
        restarted - t0
    );

    check_replies(&records, &outcomes).await;
    let before: Vec<&Record> = records.iter().filter(|r| r.ended < killed).collect();
    assert!(
        before.len() >= 10 && before.iter().all(|r| r.result.is_ok()),
        "sends before the kill should all succeed:{log}"
    );
    let outage_errors = records
        .iter()
        .filter(|r| r.started >= killed && r.started < restarted && r.result.is_err())
        .count();
    assert!(
        outage_errors > 0,
        "no send failed while the broker was dead:{log}"
    );
    // Recovery: from some point at most 10 s after the restart, every send succeeds.
    let last_err_start = records
        .iter()
        .filter(|r| r.result.is_err())
        .map(|r| r.started)
        .max()
        .unwrap_or(t0);
    assert!(
        last_err_start <= restarted + Duration::from_secs(10),
        "sends still failing {:?} after the restart:{log}",
        last_err_start - restarted
    );
    let ok_after = records
        .iter()
        .filter(|r| r.started > last_err_start && r.result.is_ok())
        .count();
    assert!(
        ok_after >= 30,
        "only {ok_after} sends succeeded after recovery:{log}"
    );

    let stored = check_stored(&rb, &records).await;
    assert_eq!(stored, records.iter().filter(|r| r.result.is_ok()).count());
    // The restarted broker knows nothing of the producer; the heartbeat registers it again.
    rb.wait_producer_clients(&broker, &group, STEP, "heartbeat after the restart", |c| {
        c.contains(&client_id)
    })
    .await;
    eprintln!(
        "kill/restart: {} sends, {} ok, {} failed during the outage, recovered {:?} after the restart",
        records.len(),
        stored,
        outage_errors,
        last_err_start.saturating_duration_since(restarted)
    );
    shutdown(&p).await;
    stop_rig(rig).await;
}

async fn shutdown(p: &Addr<ProducerActor>) {
    within(STEP, "Shutdown", p.send(Shutdown))
        .await
        .expect("producer alive");
}

/// Two brokers in one cluster: the topic's queues spread over both and sends use both;
/// with broker-b SIGKILLed every sync send still succeeds (on broker-a, by retry and
/// fault tolerance) within its timeout, and the route drops broker-b; restarted,
/// broker-b is used again without restarting the producer.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn two_brokers_one_killed_sends_fail_over() {
    let rig = private_rig(2).await;
    let rb = ReadBack::new();
    let topic = unique("E2E_failover");
    let (a, b) = (
        rig.broker_addr("broker-a").to_owned(),
        rig.broker_addr("broker-b").to_owned(),
    );
    rb.create_topic(&[a.as_str(), b.as_str()], &topic, QUEUES)
        .await;
    rb.wait_route(rig.namesrv_addr(), &topic, &["broker-a", "broker-b"], STEP)
        .await;
    let group = unique("e2e_failover_group");
    let cfg = config(rig.namesrv_addr(), &group);
    let client_id = cfg.client_id();
    let p = start(cfg).await;

    let queues = publish_queues(&p, &topic).await.expect("route");
    assert_eq!(queues.len(), 2 * QUEUES as usize, "queues: {queues:?}");
    assert_eq!(
        brokers_of(&queues),
        BTreeSet::from(["broker-a".to_owned(), "broker-b".to_owned()])
    );

    let mut all: Vec<(Message, SendResult)> = Vec::new();
    let send_one = |i: usize, phase: &'static str| {
        let p = p.clone();
        let topic = topic.clone();
        async move {
            let msg = Message::new(topic.as_str(), format!("{phase} {i}"))
                .with_tags(phase)
                .with_property("i", i.to_string());
            let t = Instant::now();
            let r = within(
                SEND_TIMEOUT + SLACK,
                &format!("{phase} send #{i}"),
                p.send(SendMessage::new(msg.clone())),
            )
            .await
            .expect("producer alive");
            (msg, r, t.elapsed())
        }
    };

    let mut per_broker: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..20 {
        let (msg, r, _) = send_one(i, "both").await;
        let r = r.unwrap_or_else(|e| panic!("send #{i} with both brokers up: {e}"));
        *per_broker
            .entry(r.message_queue.broker_name.clone())
            .or_default() += 1;
        all.push((msg, r));
    }
    assert_eq!(
        per_broker.len(),
        2,
        "sends spread over both brokers: {per_broker:?}"
    );

    let killed = Instant::now();
    control(&rig, "kill broker-b", |r| r.kill_broker("broker-b")).await;
    // Sync sends keep succeeding on broker-a: 4 concurrent senders x 15.
    let mut slowest = Duration::ZERO;
    for round in 0..15 {
        let batch = (0..4).map(|k| send_one(round * 4 + k, "failover"));
        for (msg, r, took) in futures::future::join_all(batch).await {
            let r = r.unwrap_or_else(|e| panic!("send with broker-b dead failed: {e}"));
            assert_eq!(r.message_queue.broker_name, "broker-a");
            slowest = slowest.max(took);
            all.push((msg, r));
        }
    }
    // The name server drops the dead broker; the producer's polling follows.
    loop {
        let qs = publish_queues(&p, &topic).await.expect("route");
        if brokers_of(&qs) == BTreeSet::from(["broker-a".to_owned()]) {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(45),
            "route still lists broker-b {:?} after it was killed",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let dropped_after = killed.elapsed();
    control(&rig, "restart broker-b", |r| r.start_broker("broker-b")).await;
    let restarted = Instant::now();
    let mut i = 1000;
    loop {
        let (msg, r, _) = send_one(i, "again").await;
        i += 1;
        let r = r.unwrap_or_else(|e| panic!("send after broker-b came back: {e}"));
        let on_b = r.message_queue.broker_name == "broker-b";
        all.push((msg, r));
        if on_b {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(20),
            "broker-b not used again 20 s after its restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let back_after = restarted.elapsed();
    rb.wait_producer_clients(
        &b,
        &group,
        STEP,
        "heartbeat to the restarted broker-b",
        |c| c.contains(&client_id),
    )
    .await;

    for (k, (msg, r)) in all.iter().enumerate() {
        let (stored, _) = within(STEP, "view", rb.view(&r.offset_msg_id))
            .await
            .unwrap_or_else(|e| panic!("acknowledged send {k} not readable: {e}"));
        assert_same_message(&stored, msg, &r.msg_id, &format!("send {k}"));
        assert_at_result(&stored, r, &format!("send {k}"));
    }
    eprintln!(
        "failover: {} sends read back; slowest send with broker-b dead {slowest:?}; route without broker-b {dropped_after:?} after the kill; broker-b used again {back_after:?} after its restart",
        all.len()
    );
    shutdown(&p).await;
    stop_rig(rig).await;
}

/// Name server stopped: sends on cached routes keep working; a topic never looked up
/// fails with a clear name-server error within the send timeout. A route change made
/// while it was down (more queues) is picked up by the polling once it is back, and the
/// new topic becomes sendable — all without restarting the producer.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn name_server_down_cached_routes_work_and_changes_are_picked_up() {
    let rig = private_rig(1).await;
    let rb = ReadBack::new();
    let topic = unique("E2E_nsdown");
    let broker = rig.broker_addr("broker-a").to_owned();
    rb.create_topic(&[broker.as_str()], &topic, QUEUES).await;
    rb.wait_route(rig.namesrv_addr(), &topic, &["broker-a"], STEP)
        .await;
    let p = start(config(rig.namesrv_addr(), &unique("e2e_nsdown_group"))).await;
    let mut acked: Vec<(Message, SendResult)> = Vec::new();
    let send = |label: String| {
        let p = p.clone();
        let topic = topic.clone();
        async move {
            let msg = Message::new(topic.as_str(), label.clone()).with_keys(label.as_str());
            let r = within(
                SEND_TIMEOUT + SLACK,
                &label,
                p.send(SendMessage::new(msg.clone())),
            )
            .await
            .expect("producer alive")
            .unwrap_or_else(|e| panic!("{label}: {e}"));
            (msg, r)
        }
    };
    acked.push(send("before".into()).await);
    assert_eq!(
        publish_queues(&p, &topic).await.expect("route").len(),
        QUEUES as usize
    );

    control(&rig, "stop the name server", |r| r.stop_namesrv()).await;
    let stopped = Instant::now();
    // Several poll intervals (1 s) pass with the name server gone: cached route in use.
    let mut n = 0;
    while stopped.elapsed() < Duration::from_secs(4) {
        acked.push(send(format!("namesrv down #{n}")).await);
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A topic never looked up: a clear route / name-server error, within the timeout.
    let fresh = unique("E2E_nsdown_new");
    let t = Instant::now();
    let err = within(
        SEND_TIMEOUT + SLACK,
        "send to a new topic with the name server down",
        p.send(SendMessage::new(Message::new(fresh.as_str(), "no route"))),
    )
    .await
    .expect("producer alive")
    .expect_err("a send to an unknown topic with the name server down must fail");
    let took = t.elapsed();
    match err.kind() {
        ErrorKind::Route(RouteError::NameServerUnreachable { topic, .. }) => {
            assert_eq!(topic, &fresh)
        }
        ErrorKind::Route(RouteError::NoRoute { .. }) => {}
        other => panic!(
            "new topic with the name server down: expected a route error, got {other:?} ({err})"
        ),
    }
    assert!(took <= SEND_TIMEOUT + SLACK, "took {took:?}");
    let text = err.to_string();
    assert!(
        text.contains("name server") || text.contains("route"),
        "error text should name the cause: {text}"
    );

    // Route change while the name server is down: 8 queues instead of 4.
    rb.create_topic(&[broker.as_str()], &topic, 2 * QUEUES)
        .await;
    control(&rig, "start the name server", |r| r.start_namesrv()).await;
    let back = Instant::now();
    loop {
        let qs = publish_queues(&p, &topic).await.expect("route");
        if qs.len() == 2 * QUEUES as usize {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "polling did not pick up the new queue count: still {} queues {:?} after the name server came back",
            qs.len(),
            back.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let picked_up = back.elapsed();
    // The new queues are used.
    let mut high = false;
    for i in 0..16 {
        let (m, r) = send(format!("after #{i}")).await;
        high |= r.message_queue.queue_id >= QUEUES;
        acked.push((m, r));
    }
    assert!(
        high,
        "no send used queues {QUEUES}.. after the route change"
    );
    // And the new topic works now.
    let r = within(
        SEND_TIMEOUT + SLACK,
        "new topic after the name server came back",
        p.send(SendMessage::new(Message::new(
            fresh.as_str(),
            "now routable",
        ))),
    )
    .await
    .expect("producer alive")
    .unwrap_or_else(|e| panic!("new topic after the name server came back: {e}"));
    acked.push((Message::new(fresh.as_str(), "now routable"), r));

    for (k, (msg, r)) in acked.iter().enumerate() {
        let (stored, _) = within(STEP, "view", rb.view(&r.offset_msg_id))
            .await
            .unwrap_or_else(|e| panic!("acknowledged send {k} not readable: {e}"));
        assert_same_message(&stored, msg, &r.msg_id, &format!("send {k}"));
    }
    eprintln!(
        "name server down: {n} sends on the cached route; error for a new topic after {took:?} ({err}); \
         route change picked up {picked_up:?} after the restart"
    );
    shutdown(&p).await;
    stop_rig(rig).await;
}

/// The pid of a rig's broker, from its `rig.env`.
fn broker_pid(rig: &Rig, name: &str) -> u32 {
    let dir = rig.dir().expect("a private rig has a run dir");
    let env = std::fs::read_to_string(dir.join("rig.env")).expect("rig.env");
    let key = format!("{}_PID=", name.to_ascii_uppercase().replace('-', "_"));
    env.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in rig.env"))
}

/// SIGSTOPs a process of ours; SIGCONTs it again when dropped (also on a failed test),
/// so the rig can be stopped normally.
struct Frozen(u32);

impl Frozen {
    fn new(pid: u32) -> Frozen {
        signal(pid, "STOP");
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let st = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(st.success(), "kill -{sig} {pid} failed");
}

/// A frozen broker (SIGSTOP: connections stay open, nothing is answered) in a cluster of
/// two: with latency fault tolerance and a per-attempt cap, sync sends time out on the
/// frozen broker, retry on the other and succeed; none waits past its timeout; every
/// acknowledged send is stored. (The broker is thawed with SIGCONT before the rig stops.)
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn frozen_broker_sends_retry_on_the_other_within_the_timeout() {
    let rig = private_rig(2).await;
    let rb = ReadBack::new();
    let topic = unique("E2E_frozen");
    let (a, b) = (
        rig.broker_addr("broker-a").to_owned(),
        rig.broker_addr("broker-b").to_owned(),
    );
    rb.create_topic(&[a.as_str(), b.as_str()], &topic, QUEUES)
        .await;
    rb.wait_route(rig.namesrv_addr(), &topic, &["broker-a", "broker-b"], STEP)
        .await;
    let cfg = ProducerConfig::builder(unique("e2e_frozen_group"))
        .namesrv_addr(rig.namesrv_addr())
        .instance_name(unique("e2e_fail"))
        .send_timeout(SEND_TIMEOUT)
        .send_latency_fault_enable(true)
        .send_msg_max_timeout_per_request(Duration::from_millis(800))
        .poll_name_server_interval(Duration::from_secs(1))
        .build()
        .expect("config");
    let p = start(cfg).await;
    let mut acked = Vec::new();
    let mut log = String::new();
    let t0 = Instant::now();
    let send_one = |i: usize| {
        let p = p.clone();
        let topic = topic.clone();
        async move {
            let msg =
                Message::new(topic.as_str(), format!("frozen {i}")).with_keys(format!("f{i}"));
            let t = Instant::now();
            let r = within(
                SEND_TIMEOUT + SLACK,
                &format!("send #{i}"),
                p.send(SendMessage::new(msg.clone())),
            )
            .await
            .expect("producer alive");
            (msg, r, t.elapsed())
        }
    };
    for i in 0..10 {
        let (m, r, _) = send_one(i).await;
        acked.push((
            m,
            r.unwrap_or_else(|e| panic!("send #{i} before the freeze: {e}")),
        ));
    }
    let frozen = Frozen::new(broker_pid(&rig, "broker-b"));
    let mut failed = 0;
    for i in 10..50 {
        let (m, r, took) = send_one(i).await;
        log.push_str(&format!(
            "\n  #{i} +{}ms took {}ms {}",
            (Instant::now() - t0).as_millis(),
            took.as_millis(),
            match &r {
                Ok(r) => format!("ok {}", r.message_queue.broker_name),
                Err(e) => format!("ERR {e}"),
            }
        ));
        assert!(
            took <= SEND_TIMEOUT + SLACK,
            "send #{i} took {took:?}:{log}"
        );
        match r {
            Ok(r) => acked.push((m, r)),
            Err(_) => failed += 1,
        }
    }
    eprintln!("frozen broker-b:{log}");
    drop(frozen);
    assert_eq!(failed, 0, "sends failed with broker-b frozen:{log}");
    for (k, (msg, r)) in acked.iter().enumerate() {
        let (stored, _) = within(STEP, "view", rb.view(&r.offset_msg_id))
            .await
            .unwrap_or_else(|e| panic!("acknowledged send {k} not readable: {e}"));
        assert_same_message(&stored, msg, &r.msg_id, &format!("send {k}"));
    }
    shutdown(&p).await;
    stop_rig(rig).await;
}
