//! End-to-end send throughput: `SendMessage` through the producer actors to
//! the in-process null broker, against a baseline minimal tokio client (no
//! actors) writing the same SEND_MESSAGE_V2 frames, pre-encoded, pipelined on
//! one loopback connection to the same broker.
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
//! The client runs twice per case: with its connections on the producer's
//! thread, and with `connection_arbiter(true)` (connections on a thread of
//! their own; three busy threads then share the machine's cores).
//!
//! Without `--bench` (as when `cargo test --all-targets` runs it) every case
//! runs a few hundred messages only, as a smoke test.
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use actix::Addr;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_util::codec::{Encoder, FramedRead};

use actix_rocketmq::protocol::headers::SendMessageRequestHeader;
use actix_rocketmq::protocol::message_id::UniqIdGenerator;
use actix_rocketmq::protocol::{request_code, response_code, RemotingCodec};
use actix_rocketmq::testkit::TestCluster;
use actix_rocketmq::{Message, ProducerActor, ProducerConfig, SendMessage, Shutdown};

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

async fn client_case(producer: &Addr<ProducerActor>, case: Case) -> CaseResult {
    let body = body(case.size);
    let next = Rc::new(Cell::new(0usize));
    let failed = Rc::new(Cell::new(0usize));
    let latencies = Rc::new(RefCell::new(Vec::with_capacity(case.count)));
    let start = Instant::now();
    let tasks: Vec<_> = (0..case.concurrency)
        .map(|_| {
            let (producer, body, next, failed, latencies) = (
                producer.clone(),
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
                    match producer.send(SendMessage::new(msg)).await {
                        Ok(Ok(_)) => latencies.borrow_mut().push(t0.elapsed().as_nanos() as u64),
                        _ => failed.set(failed.get() + 1),
                    }
                }
            })
        })
        .collect();
    let all = futures::future::join_all(tasks);
    if tokio::time::timeout(CASE_TIMEOUT, all).await.is_err() {
        eprintln!("client case {case:?} did not finish within {CASE_TIMEOUT:?}");
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

// ---------------------------------------------------------------------------
// The baseline: pre-encoded frames, one connection, a window of `concurrency`
// ---------------------------------------------------------------------------

/// The frames a producer would write for `count` messages, opaques 1..=count.
fn encode_frames(case: Case) -> Vec<Bytes> {
    let ids = UniqIdGenerator::new([127, 0, 0, 1].into());
    let body = body(case.size);
    let mut codec = RemotingCodec::default();
    (0..case.count)
        .map(|i| {
            let mut msg = Message::new(TOPIC, body.clone());
            msg.ensure_uniq_key(|| ids.next_id());
            let header = SendMessageRequestHeader {
                producer_group: GROUP.into(),
                topic: TOPIC.into(),
                default_topic: "TBW102".into(),
                default_topic_queue_nums: 4,
                queue_id: i as i32 % QUEUES,
                sys_flag: 0,
                born_timestamp: 1_795_307_821_617,
                flag: 0,
                properties: Some(msg.encode_properties()),
                reconsume_times: Some(0),
                unit_mode: false,
                max_reconsume_times: None,
                batch: false,
                broker_name: Some(BROKER.into()),
            };
            let mut cmd = header
                .to_request(request_code::SEND_MESSAGE_V2)
                .with_body(msg.body.clone());
            cmd.opaque = i as i32 + 1;
            let mut buf = BytesMut::new();
            codec.encode(&cmd, &mut buf).expect("encodes");
            buf.freeze()
        })
        .collect()
}

async fn baseline_case(broker: &str, case: Case) -> CaseResult {
    let frames = encode_frames(case);
    let stream = TcpStream::connect(broker)
        .await
        .expect("connects to the broker");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let (rd, mut wr) = stream.into_split();
    let window = Rc::new(Semaphore::new(case.concurrency));
    let sent_at = Rc::new(RefCell::new(vec![None::<Instant>; case.count]));
    let start = Instant::now();

    let reader = {
        let (window, sent_at) = (window.clone(), sent_at.clone());
        actix_rt::spawn(async move {
            let mut frames = FramedRead::new(rd, RemotingCodec::default());
            let (mut ok, mut failed) = (0usize, 0usize);
            let mut latencies = Vec::with_capacity(case.count);
            while ok + failed < case.count {
                let Some(Ok(resp)) = frames.next().await else {
                    break;
                };
                let sent = usize::try_from(resp.opaque - 1)
                    .ok()
                    .and_then(|i| sent_at.borrow_mut().get_mut(i).and_then(Option::take));
                match sent {
                    Some(t0) if resp.code == response_code::SUCCESS => {
                        ok += 1;
                        latencies.push(t0.elapsed().as_nanos() as u64);
                    }
                    _ => failed += 1,
                }
                window.add_permits(1);
            }
            (ok, failed, latencies)
        })
    };

    let mut buf = BytesMut::new();
    let mut i = 0;
    while i < case.count {
        match window.acquire().await {
            Ok(p) => p.forget(),
            Err(_) => break,
        }
        let mut n = 1;
        while i + n < case.count {
            match window.try_acquire() {
                Ok(p) => {
                    p.forget();
                    n += 1;
                }
                Err(_) => break,
            }
        }
        buf.clear();
        let now = Instant::now();
        for (slot, frame) in sent_at.borrow_mut()[i..i + n]
            .iter_mut()
            .zip(&frames[i..i + n])
        {
            *slot = Some(now);
            buf.extend_from_slice(frame);
        }
        if wr.write_all(&buf).await.is_err() {
            break;
        }
        i += n;
    }

    let (ok, failed, mut latencies) = match tokio::time::timeout(CASE_TIMEOUT, reader).await {
        Ok(Ok(r)) => r,
        _ => {
            eprintln!("baseline case {case:?} did not finish within {CASE_TIMEOUT:?}");
            (0, case.count, Vec::new())
        }
    };
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    CaseResult {
        ok,
        // Unanswered frames count as failed too.
        failed: failed.max(case.count - ok),
        elapsed,
        latencies,
    }
}

// ---------------------------------------------------------------------------

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let cases: Vec<Case> = [(128, 1), (128, 256), (1024, 1), (1024, 256)]
        .into_iter()
        .map(|(size, concurrency)| Case {
            size,
            concurrency,
            count: match (bench, concurrency) {
                (true, 1) => 20_000,
                (true, _) => 200_000,
                (false, 1) => 20,
                (false, _) => 600,
            },
        })
        .collect();

    let broker = NullBroker::start();
    let system = actix_rt::System::new();
    let results = system.block_on(async {
        // Two producers, each in its own client instance (distinct instance names):
        // connections on the producer's thread, and on a connection arbiter.
        let start = |arbiter: bool| {
            let cfg = ProducerConfig::builder(if arbiter { "send_bench_arbiter" } else { GROUP })
                .namesrv_addr(&broker.namesrv)
                .instance_name(if arbiter {
                    "send_bench_arbiter"
                } else {
                    "send_bench"
                })
                .connection_arbiter(arbiter)
                .build()
                .expect("config");
            ProducerActor::start(cfg)
        };
        let producer = start(false).await.expect("producer starts");
        let producer_arb = start(true).await.expect("producer starts");
        // Warm-up: route, connection, allocator.
        let warm = Case {
            size: 1024,
            concurrency: 64,
            count: if bench { 5_000 } else { 64 },
        };
        for p in [&producer, &producer_arb] {
            let w = client_case(p, warm).await;
            assert_eq!(w.failed, 0, "warm-up sends failed");
        }
        baseline_case(&broker.broker, warm).await;

        let mut results = Vec::new();
        for case in &cases {
            let client = client_case(&producer, *case).await;
            let client_arb = client_case(&producer_arb, *case).await;
            let baseline = baseline_case(&broker.broker, *case).await;
            results.push((*case, [client, client_arb, baseline]));
        }
        for p in [&producer, &producer_arb] {
            let _ = tokio::time::timeout(Duration::from_secs(2), p.send(Shutdown)).await;
        }
        results
    });
    drop(broker);

    println!();
    println!(
        "send: SendMessage through the actors vs. a minimal pipelined tokio client (baseline),"
    );
    println!("      all to the in-process null broker on its own thread");
    println!(
        "{:<22}| {:<24}| {:>12} {:>9} {:>9} {:>6} | {:>8}",
        "case", "client", "msg/s", "p50 us", "p99 us", "fail", "vs base"
    );
    println!("{}", "-".repeat(98));
    for (case, [client, client_arb, baseline]) in &results {
        let label = format!("{}B c={} n={}", case.size, case.concurrency, case.count);
        for (i, (name, r)) in [
            ("actors", client),
            ("actors+conn. arbiter", client_arb),
            ("baseline (no actors)", baseline),
        ]
        .into_iter()
        .enumerate()
        {
            println!(
                "{:<22}| {:<24}| {:>12.0} {:>9.1} {:>9.1} {:>6} | {:>8.3}",
                if i == 0 { label.as_str() } else { "" },
                name,
                r.rate(),
                r.quantile_us(0.50),
                r.quantile_us(0.99),
                r.failed,
                r.rate() / baseline.rate().max(1e-9),
            );
        }
    }
    let failures: usize = results
        .iter()
        .flat_map(|(_, r)| r.iter().map(|x| x.failed))
        .sum();
    if !bench {
        assert_eq!(failures, 0, "sends failed in the smoke run");
        println!("send bench smoke run: ok (run `cargo bench --bench send` for the real numbers)");
    }
}
