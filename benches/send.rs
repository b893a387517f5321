//! End-to-end send throughput: `SendMessage` through the producer actors to
//! the in-process null broker, against a baseline minimal tokio client (no
//! actors, `benches/support/baseline.rs`) writing the same
//! SEND_MESSAGE_V2 frames, pre-encoded, with the producer's header
//! serialization (ROCKETMQ by default), pipelined on one loopback connection
//! to the same broker.
//!
//! ```text
//! cargo bench --bench send
//! ```
//!
//! The null broker (every send answered SUCCESS at once) runs on its own
//! thread with its own tokio runtime; the client under test and the baseline
//! both run on the main thread in an actix `System` (a current-thread tokio
//! runtime), one after the other. So each case compares the client's cost per
//! message with the least a client on one thread must do: write frames, read
//! and decode the responses, match them to requests.
//!
//! Concurrency `c` means `c` sends in flight: `c` tasks looping on
//! `addr.send(SendMessage::new(..)).await` for the client, a window of `c`
//! unanswered frames for the baseline (its writer batches whatever the window
//! allows into one `write_all`).
//!
//! The client runs four times per round: with its connections on the
//! producer's thread, the same with `auto_batch(AutoBatch::new())` (sends
//! that find requests in flight to their queue leave together as one
//! SEND_BATCH_MESSAGE; the null broker answers a batch like one send), with
//! `connection_arbiter(true)` (connections on a thread of their own; three
//! busy threads then share the machine's cores), and with both. With
//! batching the arbiter costs one cross-thread hop per batch, not per send,
//! and takes the socket work off the producer's thread. At one send in
//! flight the auto-batch runs show what batching costs when there is nothing
//! to batch; the ceiling line (below) is for single frames, which a batching
//! client is not bound by.
//!
//! A fifth configuration measures the ceiling: `c` tasks looping on
//! `addr.send(Hop)` to an actor whose handler answers at once, no network. Its
//! time per message is what any client behind `Addr::send` pays on top of the
//! baseline's, so, both running on this one thread, no such client that
//! writes a frame per send can exceed `1 / (1/baseline + 1/hop)` msg/s: the
//! `ceiling` line of each case.
//!
//! A last one measures what this API costs a batching client before it does
//! any work of its own: the hop, but answered at the end of the actor's turn
//! (an awaited reply then takes a second poll) with a fresh `SendResult` of
//! the same strings as a real one ("hop, reply at turn end"). A client's own
//! work per message (validation, ids, gathering, encoding, the reply's
//! fan-out, its connections) is the difference between its time per message
//! and this one's.
//!
//! The last row is the least batching client (`support/least_batcher.rs`): an
//! actor that does only what batching behind `Addr::send` requires per message
//! (validation, a `UNIQ_KEY`, its record in a batch body, its own `SendResult`)
//! on a socket of its own, with none of the producer's machinery. Its rate is
//! what auto-batching could reach on this wire shape and machine if the
//! producer's jobs, routes, timers, deadlines, back-pressure and
//! `ConnectionActor` cost nothing.
//!
//! Against noise, each case runs in 5 rounds, each round running the four
//! client configurations, the baseline, the two hops and the least batching client back to back
//! (60 000 messages per run at c=256, 5 000 at c=1). Per configuration the
//! table shows the median msg/s, p50 and p99 over the rounds, and the median
//! and min–max of the per-round client/baseline ratios (each ratio taken
//! against the baseline of the same round).
//!
//! Without `--bench` (as when `cargo test --all-targets` runs it) every case
//! runs one round of a few hundred messages only, as a smoke test that
//! asserts nothing failed.
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use actix::{Actor, Addr, Context, Handler};
use bytes::Bytes;

use actix_rocketmq::internals::protocol::SerializeType;
use actix_rocketmq::testkit::TestCluster;
#[path = "support/baseline.rs"]
#[allow(dead_code)] // each includer uses part of it
mod baseline;
#[path = "support/least_batcher.rs"]
mod least_batcher;
use actix::{ActorFutureExt, AsyncContext};
use actix_rocketmq::producer::send_result::{SendResult, SendStatus};
use actix_rocketmq::{
    AutoBatch, Message, MessageQueue, ProducerActor, ProducerConfig, SendMessage, Shutdown,
};
use baseline::BaselineConfig;

const TOPIC: &str = "BenchmarkTest";
const BROKER: &str = "broker-a";
const QUEUES: i32 = 4;
const GROUP: &str = "send_bench_producer";
/// No case may take longer than this (a hang shows as a failed case, not a stuck bench).
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Case {
    size: usize,
    concurrency: usize,
    count: usize,
}

#[derive(Debug, Default)]
struct CaseResult {
    ok: usize,
    failed: usize,
    elapsed: Duration,
    /// Latencies of the successful sends, in ns, sorted.
    latencies: Vec<u64>,
}

impl CaseResult {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    fn quantile_us(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let i = ((q * self.latencies.len() as f64).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1] as f64 / 1000.0
    }
}

// ---------------------------------------------------------------------------
// The null broker, on its own thread
// ---------------------------------------------------------------------------

struct NullBroker {
    namesrv: String,
    broker: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NullBroker {
    fn start() -> NullBroker {
        let (ready_tx, ready_rx) = std_mpsc::channel::<(String, String)>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("null-broker".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(async move {
                    let cluster = TestCluster::builder()
                        .broker(BROKER)
                        .topic(TOPIC, QUEUES)
                        .null_brokers(true)
                        .start()
                        .await
                        .expect("null cluster starts");
                    let _ = ready_tx.send((cluster.namesrv_addr(), cluster.broker_addr(BROKER)));
                    let _ = stop_rx.await;
                    let _ = tokio::time::timeout(Duration::from_secs(1), cluster.shutdown()).await;
                });
            })
            .expect("spawn the broker thread");
        let (namesrv, broker) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the null cluster starts");
        NullBroker {
            namesrv,
            broker,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for NullBroker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn body(size: usize) -> Bytes {
    Bytes::from(vec![b'x'; size])
}

// ---------------------------------------------------------------------------
// The client under test
// ---------------------------------------------------------------------------

/// `c` tasks, each looping on `addr.send(make(message)).await` until `count`
/// sends have started; `ok` tells a success from a failure.
async fn drive<A, M>(
    addr: &Addr<A>,
    case: Case,
    make: fn(Message) -> M,
    ok: fn(&M::Result) -> bool,
) -> CaseResult
where
    A: Actor<Context = Context<A>> + Handler<M>,
    M: actix::Message + Send + 'static,
    M::Result: Send,
{
    let body = body(case.size);
    let next = Rc::new(Cell::new(0usize));
    let failed = Rc::new(Cell::new(0usize));
    let latencies = Rc::new(RefCell::new(Vec::with_capacity(case.count)));
    let start = Instant::now();
    let tasks: Vec<_> = (0..case.concurrency)
        .map(|_| {
            let (addr, body, next, failed, latencies) = (
                addr.clone(),
                body.clone(),
                next.clone(),
                failed.clone(),
                latencies.clone(),
            );
            actix_rt::spawn(async move {
                loop {
                    let i = next.get();
                    if i >= case.count {
                        break;
                    }
                    next.set(i + 1);
                    let msg = Message::new(TOPIC, body.clone());
                    let t0 = Instant::now();
                    match addr.send(make(msg)).await {
                        Ok(r) if ok(&r) => {
                            latencies.borrow_mut().push(t0.elapsed().as_nanos() as u64)
                        }
                        _ => failed.set(failed.get() + 1),
                    }
                }
            })
        })
        .collect();
    let all = futures::future::join_all(tasks);
    if tokio::time::timeout(CASE_TIMEOUT, all).await.is_err() {
        eprintln!("case {case:?} did not finish within {CASE_TIMEOUT:?}");
    }
    let elapsed = start.elapsed();
    let mut latencies = std::mem::take(&mut *latencies.borrow_mut());
    latencies.sort_unstable();
    CaseResult {
        ok: latencies.len(),
        failed: failed.get(),
        elapsed,
        latencies,
    }
}

async fn client_case(producer: &Addr<ProducerActor>, case: Case) -> CaseResult {
    drive(producer, case, SendMessage::new, |r| r.is_ok()).await
}

// ---------------------------------------------------------------------------
// The mailbox hop alone
// ---------------------------------------------------------------------------

/// Answers every [`Hop`] at once: the least an actor behind `Addr::send` costs.
struct HopActor;

impl Actor for HopActor {
    type Context = Context<Self>;
}

/// Carries a message as a send does, so the hop moves as many bytes.
#[derive(actix::Message)]
#[rtype(result = "usize")]
struct Hop(Message);

impl Handler<Hop> for HopActor {
    type Result = usize;
    fn handle(&mut self, hop: Hop, _: &mut Context<Self>) -> usize {
        hop.0.body.len()
    }
}

async fn hop_case(hop: &Addr<HopActor>, case: Case) -> CaseResult {
    drive(hop, case, Hop, |_| true).await
}

// ---------------------------------------------------------------------------
// The hop with a reply later: what any client of this API pays on one thread
// ---------------------------------------------------------------------------

type SendReplyTx = actix::dev::OneshotSender<Result<SendResult, actix_rocketmq::Error>>;

/// Answers every [`Later`] at the end of its turn (as a batching client answers
/// at the earliest), each with a `SendResult` of its own: the hop, the second
/// poll of an awaited reply and the result's strings, but no client work.
#[derive(Default)]
struct LaterActor {
    waiting: Rc<RefCell<Vec<SendReplyTx>>>,
    armed: bool,
}

impl Actor for LaterActor {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(1024);
    }
}

/// Carries a message as a send does; it is dropped when handled, as a
/// client drops a batch member's once answered.
#[derive(actix::Message)]
#[rtype(result = "Result<SendResult, actix_rocketmq::Error>")]
struct Later(Message);

struct LaterReply(Rc<RefCell<Vec<SendReplyTx>>>);

impl actix::dev::MessageResponse<LaterActor, Later> for LaterReply {
    fn handle(self, _: &mut Context<LaterActor>, tx: Option<SendReplyTx>) {
        if let Some(tx) = tx {
            self.0.borrow_mut().push(tx);
        }
    }
}

impl Handler<Later> for LaterActor {
    type Result = LaterReply;
    fn handle(&mut self, Later(message): Later, ctx: &mut Context<Self>) -> LaterReply {
        drop(message);
        if !self.armed {
            self.armed = true;
            ctx.spawn(
                actix::fut::wrap_future::<_, Self>(std::future::ready(())).map(|_, act, _| {
                    act.armed = false;
                    for tx in act.waiting.borrow_mut().drain(..) {
                        let _ = tx.send(Ok(SendResult {
                            status: SendStatus::SendOk,
                            msg_id: "7F0000010F2C18B4AAC2178A08E50000".to_owned(),
                            offset_msg_id: "7F00000100002A9F0000000000000000".to_owned(),
                            message_queue: MessageQueue::new(TOPIC, BROKER, 0),
                            queue_offset: 0,
                            transaction_id: None,
                            region_id: Some("DefaultRegion".to_owned()),
                            trace_on: true,
                            reply_defect: None,
                            recall_handle: None,
                        }));
                    }
                }),
            );
        }
        LaterReply(self.waiting.clone())
    }
}

async fn later_case(later: &Addr<LaterActor>, case: Case) -> CaseResult {
    drive(later, case, Later, |r| r.is_ok()).await
}

async fn least_case(least: &Addr<least_batcher::LeastBatcher>, case: Case) -> CaseResult {
    drive(least, case, least_batcher::LeastSend, |r| r.is_ok()).await
}

// ---------------------------------------------------------------------------

/// The baseline on the same broker, with the producer's header serialization.
async fn baseline_case(broker: &str, serialize: SerializeType, case: Case) -> CaseResult {
    let mut cfg = BaselineConfig::new(broker, TOPIC);
    cfg.broker_name = BROKER.into();
    cfg.queues = (0..QUEUES).collect();
    cfg.group = GROUP.into();
    cfg.size = case.size;
    cfg.concurrency = case.concurrency;
    cfg.count = Some(case.count as u64);
    cfg.duration = None;
    cfg.serialize = serialize;
    match baseline::run(&cfg, |_| {}).await {
        Ok(r) => {
            if r.end != baseline::End::Complete {
                eprintln!("baseline case {case:?} ended early: {:?}", r.end);
            }
            CaseResult {
                ok: r.ok as usize,
                failed: r.failed as usize,
                elapsed: r.elapsed,
                latencies: r.latencies_ns,
            }
        }
        Err(e) => {
            eprintln!("baseline case {case:?} could not run: {e}");
            CaseResult {
                failed: case.count,
                ..CaseResult::default()
            }
        }
    }
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

// ---------------------------------------------------------------------------

const CONFIGS: [&str; 8] = [
    "actors",
    "actors+auto-batch",
    "actors+conn. arbiter",
    "auto-batch+arbiter",
    "baseline (no actors)",
    "Addr::send hop alone",
    "hop, reply at turn end",
    "least batching client",
];
/// Index of the baseline in [`CONFIGS`], which every ratio is taken against.
const BASELINE: usize = 4;
/// Index of the hop alone in [`CONFIGS`].
const HOP: usize = 5;
/// Index of the hop with a reply later in [`CONFIGS`].
const LATER: usize = 6;
/// Index of the least batching client in [`CONFIGS`].
const LEAST: usize = 7;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds = if bench { 5 } else { 1 };
    let cases: Vec<Case> = [(128, 1), (128, 256), (1024, 1), (1024, 256)]
        .into_iter()
        .map(|(size, concurrency)| Case {
            size,
            concurrency,
            count: match (bench, concurrency) {
                (true, 1) => 5_000,
                (true, _) => 60_000,
                (false, 1) => 20,
                (false, _) => 600,
            },
        })
        .collect();

    let broker = NullBroker::start();
    let system = actix_rt::System::new();
    let results = system.block_on(async {
        // Three producers, each in its own client instance (distinct instance names):
        // connections on the producer's thread, the same with auto-batching, and
        // connections on a connection arbiter.
        let config = |name: &str, arbiter: bool, auto_batch: bool| {
            let b = ProducerConfig::builder(name)
                .namesrv_addr(&broker.namesrv)
                .instance_name(name)
                .connection_arbiter(arbiter);
            let b = if auto_batch {
                b.auto_batch(AutoBatch::new())
            } else {
                b
            };
            b.build().expect("config")
        };
        let plain = config(GROUP, false, false);
        let serialize = plain.serialize_type();
        let producer = ProducerActor::start(plain).await.expect("producer starts");
        let producer_batch = ProducerActor::start(config("send_bench_batch", false, true))
            .await
            .expect("producer starts");
        let producer_arb = ProducerActor::start(config("send_bench_arbiter", true, false))
            .await
            .expect("producer starts");
        let producer_batch_arb =
            ProducerActor::start(config("send_bench_batch_arbiter", true, true))
                .await
                .expect("producer starts");
        let hop = HopActor.start();
        let later = LaterActor::default().start();
        let least =
            least_batcher::LeastBatcher::start(&broker.broker, GROUP, TOPIC, BROKER, QUEUES)
                .await
                .expect("the least batching client connects");
        // Warm-up: route, connection, allocator.
        let warm = Case {
            size: 1024,
            concurrency: 64,
            count: if bench { 5_000 } else { 64 },
        };
        for p in [
            &producer,
            &producer_batch,
            &producer_arb,
            &producer_batch_arb,
        ] {
            let w = client_case(p, warm).await;
            assert_eq!(w.failed, 0, "warm-up sends failed");
        }
        baseline_case(&broker.broker, serialize, warm).await;
        hop_case(&hop, warm).await;
        later_case(&later, warm).await;
        least_case(&least, warm).await;

        // Per case, per configuration (CONFIGS order), one result per round.
        let mut results: Vec<(Case, [Vec<CaseResult>; 8])> = Vec::new();
        for case in &cases {
            let mut runs: [Vec<CaseResult>; 8] = Default::default();
            for _ in 0..rounds {
                runs[0].push(client_case(&producer, *case).await);
                runs[1].push(client_case(&producer_batch, *case).await);
                runs[2].push(client_case(&producer_arb, *case).await);
                runs[3].push(client_case(&producer_batch_arb, *case).await);
                runs[BASELINE].push(baseline_case(&broker.broker, serialize, *case).await);
                runs[HOP].push(hop_case(&hop, *case).await);
                runs[LATER].push(later_case(&later, *case).await);
                runs[LEAST].push(least_case(&least, *case).await);
            }
            results.push((*case, runs));
        }
        for p in [
            &producer,
            &producer_batch,
            &producer_arb,
            &producer_batch_arb,
        ] {
            let _ = tokio::time::timeout(Duration::from_secs(2), p.send(Shutdown)).await;
        }
        results
    });
    drop(broker);

    println!();
    println!(
        "send: SendMessage through the actors vs. a minimal pipelined tokio client (baseline),"
    );
    println!(
        "      all to the in-process null broker on its own thread; {rounds} round(s) per case,"
    );
    println!("      medians over the rounds; vs base: median (min-max) of the per-round ratios");
    println!(
        "{:<22}| {:<22}| {:>10} {:>8} {:>8} {:>5} | {:>7} {:>13}",
        "case", "client", "msg/s", "p50 us", "p99 us", "fail", "vs base", "(min-max)"
    );
    println!("{}", "-".repeat(104));
    for (case, runs) in &results {
        let label = format!("{}B c={} n={}", case.size, case.concurrency, case.count);
        let baseline = &runs[BASELINE];
        for (i, (name, r)) in CONFIGS.iter().zip(runs).enumerate() {
            let rates: Vec<f64> = r.iter().map(CaseResult::rate).collect();
            let p50: Vec<f64> = r.iter().map(|x| x.quantile_us(0.50)).collect();
            let p99: Vec<f64> = r.iter().map(|x| x.quantile_us(0.99)).collect();
            let ratios: Vec<f64> = r
                .iter()
                .zip(baseline)
                .map(|(x, b)| x.rate() / b.rate().max(1e-9))
                .collect();
            let (lo, hi) = ratios
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                });
            println!(
                "{:<22}| {:<22}| {:>10.0} {:>8.1} {:>8.1} {:>5} | {:>7.3} {:>13}",
                if i == 0 { label.as_str() } else { "" },
                name,
                median(&rates),
                median(&p50),
                median(&p99),
                r.iter().map(|x| x.failed).sum::<usize>(),
                median(&ratios),
                format!("({lo:.3}-{hi:.3})"),
            );
        }
        // Time per message adds up on one thread: baseline's plus the hop's.
        let ceilings: Vec<f64> = baseline
            .iter()
            .zip(&runs[HOP])
            .map(|(b, h)| 1.0 / (1.0 + b.rate() / h.rate().max(1e-9)))
            .collect();
        println!(
            "{:<22}| {:<22}| {:>10.0} {:>8} {:>8} {:>5} | {:>7.3}",
            "",
            "ceiling: baseline+hop",
            median(&baseline.iter().map(CaseResult::rate).collect::<Vec<_>>()) * median(&ceilings),
            "",
            "",
            "",
            median(&ceilings),
        );
    }
    let failures: usize = results
        .iter()
        .flat_map(|(_, runs)| runs.iter().flatten().map(|x| x.failed))
        .sum();
    if !bench {
        assert_eq!(failures, 0, "sends failed in the smoke run");
        println!("send bench smoke run: ok (run `cargo bench --bench send` for the real numbers)");
    }
}
