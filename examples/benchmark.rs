//! Load tool for the producer, modelled on RocketMQ's benchmark `Producer`.
//!
//! ```text
//! cargo run --release --example benchmark -- --null-broker --duration 5
//! cargo run --release --example benchmark -- --namesrv 127.0.0.1:9876 --topic BenchmarkTest \
//!     --size 1024 --concurrency 64 --mode sync --count 1000000
//! ```
//!
//! `--concurrency N` tasks each loop `addr.send(SendMessage::new(..)).await`
//! (or `SendOneway`) on one shared producer: that is the async-send pattern,
//! N sends in flight. Every second one line reports the sends completed in
//! that second, the failures and the latency (avg/p50/p99/max, from building
//! the `SendMessage` to its reply; successful sends only). At the end one
//! last line holds a one-line JSON summary (`sent`, `ok`, `failed`, `errors`
//! per kind, `elapsed_s`, `tps`, latency percentiles in µs, CPU and memory).
//!
//! `--baseline` runs the same load from the testkit's minimal client instead
//! of a producer (`benches/support/baseline.rs`: pre-encoded
//! SEND_MESSAGE_V2 frames pipelined on one connection, a window of
//! `--concurrency` unanswered frames, no actors), with the same per-second
//! lines and final JSON (`"client":"baseline"` instead of `"producer"`): the
//! floor of CPU per message and latency on this machine, to compare with the
//! producer's in the same session. It resolves the topic's route at the name
//! server (the in-process one with `--null-broker`) and sends to the master of
//! the first broker with writable queues, round-robin over its write queues.
//! `--send-timeout` is its response timeout: it gives up when frames are
//! unanswered and no response came for that long.
//!
//! `--null-broker` runs the crate's in-process test cluster in null mode
//! (every send answered SUCCESS at once, nothing stored) on its own thread
//! with its own tokio runtime, so the client (the actix system on the main
//! thread) and the broker each get a core, as with a broker process.
//!
//! CPU: `cpu_user_s`/`cpu_sys_s` are the whole process's user/system time
//! during the send phase, from `utime`/`stime` of `/proc/self/stat`, converted
//! with `getconf CLK_TCK` (100 Hz assumed if that fails). With
//! `--null-broker` they include the broker thread; `broker_cpu_s` is that
//! thread's own time (`/proc/thread-self/stat`) and `client_cpu_us_per_msg`
//! excludes it. `max_rss_kb` is `VmHWM` of `/proc/self/status`; `rss_start_kb` and
//! `rss_end_kb` are `VmRSS` when sending began and when it ended (every send
//! answered), `rss_end_trimmed_kb` the same once glibc gave its free memory back
//! (`malloc_trim`), and every per-second line ends with the RSS at that moment.
//!
//! The run always ends by itself: no send starts after the deadline
//! (`--duration`, or a 600 s cap with `--count`), each send is bounded by the
//! send timeout (a send the client never answered leaves its worker
//! unfinished: counted in `unfinished_workers` at deadline + send timeout + 2 s), and the
//! producer shutdown is given 1 s. With `--baseline`, the route lookup and the
//! connect are bounded by the send timeout, and the run stops waiting when no
//! response came for the send timeout or the connection is lost. Exit code 0 whenever the run reached its
//! end, whatever the failures; 2 for a usage error, 1 if the producer or the
//! test cluster could not start.
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use actix::Addr;
use actix_rocketmq::error::ErrorKind;
use actix_rocketmq::protocol::headers::GetRouteInfoRequestHeader;
use actix_rocketmq::protocol::route::{TopicRouteData, perm};
use actix_rocketmq::protocol::{RemotingCodec, SerializeType, response_code};
use actix_rocketmq::testkit::TestCluster;
#[path = "../benches/support/baseline.rs"]
#[allow(dead_code)] // each includer uses part of it
mod baseline;
use actix_rocketmq::{
    AclCredentials, Error, Message, ProducerActor, ProducerConfig, SendMessage, SendOneway,
    Shutdown,
};
use baseline::{BaselineConfig, Failure};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

const USAGE: &str = "\
usage: benchmark (--namesrv HOST:PORT[;HOST:PORT] | --null-broker) [OPTIONS]

  --namesrv ADDRS        name servers of a real cluster (else NAMESRV_ADDR)
  --null-broker          in-process test cluster answering every send SUCCESS at once
  --serve-null-broker SECS  only run the null broker for SECS and print its NAMESRV_ADDR,
                         so a client in another process can be measured alone
  --topic T              topic (default BenchmarkTest)
  --size BYTES           body size (default 128)
  --concurrency N        sends in flight: N tasks looping on send (default 64)
  --mode sync|oneway     SendMessage (default) or SendOneway
  --count N              stop after N sends (a 600 s cap still applies unless --duration)
  --duration SECS        stop starting sends after SECS seconds (default 10)
  --tag TAG              tag of every message
  --keys                 a unique key per message
  --compress-over BYTES  compress bodies of at least BYTES (default 4096)
  --send-timeout MS      send timeout (default 3000)
  --serialize json|rocketmq  request header serialization (default rocketmq, as the client)
  --connection-arbiter   broker connections on a thread (arbiter) of their own
  --acl ACCESS_KEY:SECRET_KEY  sign every request (ACL), to measure what signing costs
  --group G              producer group (default benchmark_producer)
  --baseline             no producer: the same load from a minimal pipelined client
                         (pre-encoded frames, one connection, no actors) to the master
                         of the topic's first writable broker; the floor of CPU per
                         message on this machine. Takes --topic --size --concurrency
                         --count --duration --serialize --group, and --send-timeout as
                         its response timeout; not --mode oneway, --tag, --keys,
                         --compress-over or --connection-arbiter

testing aid, with --null-broker only:
  --broker-fault stop|freeze --broker-fault-after SECS
                         after SECS the broker crashes (stop) or stops answering (freeze)";

/// Longest run of a `--count` run without `--duration`.
const COUNT_MODE_CAP: Duration = Duration::from_secs(600);
/// Extra wait for a reply past the send timeout before the send counts as lost.
const WATCHDOG_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sync,
    Oneway,
}

#[derive(Debug, Clone)]
struct Opts {
    namesrv: Option<String>,
    null_broker: bool,
    /// Only serve a null broker for this long (to measure a client in another process).
    serve_secs: Option<f64>,
    topic: String,
    size: usize,
    concurrency: usize,
    mode: Mode,
    count: Option<u64>,
    duration: Option<Duration>,
    tag: Option<String>,
    keys: bool,
    compress_over: Option<usize>,
    send_timeout: Duration,
    serialize: SerializeType,
    group: String,
    broker_fault: Option<(BrokerFault, Duration)>,
    connection_arbiter: bool,
    /// Sign every request with these credentials.
    acl: Option<AclCredentials>,
    /// The testkit's baseline client instead of a producer.
    baseline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BrokerFault {
    Stop,
    Freeze,
}

fn parse_num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag} {v}: not a valid non-negative number"))
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Opts, String> {
    let mut o = Opts {
        namesrv: None,
        null_broker: false,
        serve_secs: None,
        topic: "BenchmarkTest".to_owned(),
        size: 128,
        concurrency: 64,
        mode: Mode::Sync,
        count: None,
        duration: None,
        tag: None,
        keys: false,
        compress_over: None,
        send_timeout: Duration::from_secs(3),
        serialize: SerializeType::RocketMq,
        broker_fault: None,
        connection_arbiter: false,
        acl: None,
        group: "benchmark_producer".to_owned(),
        baseline: false,
    };
    let mut fault = None;
    let mut fault_after = None;
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .filter(|v| !v.starts_with("--"))
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--broker-fault" => {
                fault = Some(match value()?.as_str() {
                    "stop" => BrokerFault::Stop,
                    "freeze" => BrokerFault::Freeze,
                    v => return Err(format!("--broker-fault {v}: expected stop or freeze")),
                })
            }
            "--broker-fault-after" => {
                let v = value()?;
                let secs: f64 = parse_num(&flag, &v)?;
                if !(secs >= 0.0 && secs.is_finite()) {
                    return Err(format!("--broker-fault-after {v}: must be >= 0"));
                }
                fault_after = Some(Duration::from_secs_f64(secs));
            }
            "--namesrv" => o.namesrv = Some(value()?),
            "--null-broker" => o.null_broker = true,
            "--serve-null-broker" => {
                o.serve_secs = Some(parse_num(&flag, &value()?)?);
                o.null_broker = true;
            }
            "--topic" => o.topic = value()?,
            "--size" => o.size = parse_num(&flag, &value()?)?,
            "--concurrency" => o.concurrency = parse_num(&flag, &value()?)?,
            "--mode" => {
                o.mode = match value()?.as_str() {
                    "sync" => Mode::Sync,
                    "oneway" => Mode::Oneway,
                    m => return Err(format!("--mode {m}: expected sync or oneway")),
                }
            }
            "--count" => o.count = Some(parse_num(&flag, &value()?)?),
            "--duration" => {
                let v = value()?;
                let secs: f64 = parse_num(&flag, &v)?;
                if !(secs > 0.0 && secs.is_finite()) {
                    return Err(format!("--duration {v}: must be > 0"));
                }
                o.duration = Some(Duration::from_secs_f64(secs));
            }
            "--tag" => o.tag = Some(value()?),
            "--keys" => o.keys = true,
            "--compress-over" => o.compress_over = Some(parse_num(&flag, &value()?)?),
            "--send-timeout" => {
                let ms: u64 = parse_num(&flag, &value()?)?;
                if ms == 0 {
                    return Err("--send-timeout must be > 0".into());
                }
                o.send_timeout = Duration::from_millis(ms);
            }
            "--serialize" => {
                o.serialize = match value()?.to_ascii_lowercase().as_str() {
                    "json" => SerializeType::Json,
                    "rocketmq" => SerializeType::RocketMq,
                    v => return Err(format!("--serialize {v}: expected json or rocketmq")),
                }
            }
            "--group" => o.group = value()?,
            "--connection-arbiter" => o.connection_arbiter = true,
            "--acl" => {
                let v = value()?;
                let (ak, sk) = v
                    .split_once(':')
                    .ok_or_else(|| format!("--acl {v}: expected ACCESS_KEY:SECRET_KEY"))?;
                o.acl = Some(AclCredentials::new(ak, sk));
            }
            "--baseline" => o.baseline = true,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    match (fault, fault_after) {
        (Some(f), Some(after)) if o.null_broker => o.broker_fault = Some((f, after)),
        (None, None) => {}
        (Some(_), Some(_)) => return Err("--broker-fault needs --null-broker".into()),
        _ => return Err("--broker-fault and --broker-fault-after go together".into()),
    }
    if o.null_broker && o.namesrv.is_some() {
        return Err("give either --namesrv or --null-broker, not both".into());
    }
    if !o.null_broker && o.namesrv.is_none() {
        o.namesrv = std::env::var("NAMESRV_ADDR")
            .ok()
            .filter(|v| !v.trim().is_empty());
        if o.namesrv.is_none() {
            return Err("give --namesrv HOST:PORT (or set NAMESRV_ADDR) or --null-broker".into());
        }
    }
    if o.size == 0 {
        return Err("--size must be at least 1 (RocketMQ refuses empty bodies)".into());
    }
    if o.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    if o.count.is_none() && o.duration.is_none() {
        o.duration = Some(Duration::from_secs(10));
    }
    if o.baseline {
        let producer_only = [
            (o.mode == Mode::Oneway, "--mode oneway"),
            (o.tag.is_some(), "--tag"),
            (o.keys, "--keys"),
            (o.compress_over.is_some(), "--compress-over"),
            (o.connection_arbiter, "--connection-arbiter"),
            (o.acl.is_some(), "--acl"),
        ];
        if let Some((_, flag)) = producer_only.iter().find(|(set, _)| *set) {
            return Err(format!(
                "{flag} applies to the producer only, not to --baseline (its frames are \
                 pre-encoded sync sends without tag or keys)"
            ));
        }
    }
    Ok(o)
}

// ---------------------------------------------------------------------------
// Latency histogram: log-linear buckets over nanoseconds, exact below 1024 ns,
// then 512 sub-buckets per power of two (relative error < 0.2 %).
// ---------------------------------------------------------------------------

const SUB_BITS: u32 = 10;
const HALF: usize = 1 << (SUB_BITS - 1);
const BUCKETS: usize = (64 - SUB_BITS as usize + 2) * HALF;

struct Histogram {
    counts: Vec<u64>,
    n: u64,
    sum_ns: u128,
    max_ns: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            n: 0,
            sum_ns: 0,
            max_ns: 0,
        }
    }

    fn index(v: u64) -> usize {
        if v < (1 << SUB_BITS) {
            v as usize
        } else {
            let msb = 63 - v.leading_zeros();
            let shift = msb + 1 - SUB_BITS;
            ((shift as usize) * HALF) + (v >> shift) as usize
        }
    }

    /// The middle of bucket `idx`.
    fn value_of(idx: usize) -> u64 {
        if idx < (1 << SUB_BITS) {
            idx as u64
        } else {
            let shift = idx / HALF - 1;
            let sub = (idx - shift * HALF) as u64;
            (sub << shift) + (1u64 << shift) / 2
        }
    }

    fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::index(ns)] += 1;
        self.n += 1;
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    fn reset(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.n = 0;
        self.sum_ns = 0;
        self.max_ns = 0;
    }

    /// The `q` quantile in µs (0 when empty).
    fn quantile_us(&self, q: f64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (idx, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value_of(idx).min(self.max_ns) as f64 / 1000.0;
            }
        }
        self.max_ns as f64 / 1000.0
    }

    fn avg_us(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.n as f64 / 1000.0
        }
    }

    fn max_us(&self) -> f64 {
        self.max_ns as f64 / 1000.0
    }
}

/// One decimal is plenty for µs figures.
fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[derive(Default)]
struct Counters {
    ok: u64,
    failed: u64,
}

struct Stats {
    total: Counters,
    interval: Counters,
    errors: BTreeMap<String, u64>,
    latency: Histogram,
    interval_latency: Histogram,
}

impl Stats {
    fn ok(&mut self, latency: Duration) {
        self.total.ok += 1;
        self.interval.ok += 1;
        self.latency.record(latency);
        self.interval_latency.record(latency);
    }

    fn failed(&mut self, kind: String) {
        self.total.failed += 1;
        self.interval.failed += 1;
        *self.errors.entry(kind).or_default() += 1;
    }
}

/// A short name per failure kind, for the `errors` map.
fn error_kind(err: &Error) -> String {
    match err.kind() {
        ErrorKind::Validation(_) => "validation".into(),
        ErrorKind::Route(_) => "route".into(),
        ErrorKind::Timeout { .. } => "timeout".into(),
        ErrorKind::Broker { code, .. } => format!("broker_{code}"),
        ErrorKind::Connection(_) if err.is_timeout() => "connection_timeout".into(),
        ErrorKind::Connection(_) => "connection".into(),
        ErrorKind::Protocol { .. } => "protocol".into(),
        ErrorKind::Backpressure { .. } => "backpressure".into(),
        ErrorKind::Forbidden { .. } => "forbidden".into(),
        ErrorKind::NoQueueSelected { .. } => "no_queue_selected".into(),
        ErrorKind::Instance(_) => "instance".into(),
        ErrorKind::ShutDown => "shut_down".into(),
        ErrorKind::Config(_) => "config".into(),
        _ => "other".into(),
    }
}

// ---------------------------------------------------------------------------
// /proc readings
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default)]
struct CpuTicks {
    user: u64,
    sys: u64,
}

/// `utime` and `stime` (fields 14 and 15) of a `/proc/.../stat` file.
fn read_cpu(path: &str) -> Option<CpuTicks> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces and parens: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state), so field 14 is fields[11].
    Some(CpuTicks {
        user: fields.get(11)?.parse().ok()?,
        sys: fields.get(12)?.parse().ok()?,
    })
}

fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// A `kB` field of `/proc/self/status`: `VmHWM` (peak RSS) or `VmRSS` (RSS now).
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn max_rss_kb() -> Option<u64> {
    status_kb("VmHWM")
}

/// RSS after asking glibc to give its free memory back to the OS: what the
/// process really still holds once the load is over (glibc otherwise keeps
/// freed memory mapped for reuse, which RSS counts).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trimmed_rss_kb() -> Option<u64> {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        malloc_trim(0);
    }
    status_kb("VmRSS")
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trimmed_rss_kb() -> Option<u64> {
    None
}

// ---------------------------------------------------------------------------
// The null broker on its own thread
// ---------------------------------------------------------------------------

struct NullBroker {
    namesrv: String,
    /// Each request is answered with the broker thread's CPU ticks; dropping it stops the cluster.
    cpu_requests: Option<tokio::sync::mpsc::UnboundedSender<std_mpsc::Sender<Option<CpuTicks>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NullBroker {
    fn start(topic: &str, fault: Option<(BrokerFault, Duration)>) -> Result<NullBroker, String> {
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<String, String>>();
        let (cpu_tx, mut cpu_rx) =
            tokio::sync::mpsc::unbounded_channel::<std_mpsc::Sender<Option<CpuTicks>>>();
        let topic = topic.to_owned();
        let thread = std::thread::Builder::new()
            .name("null-broker".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                rt.block_on(async move {
                    let cluster = match TestCluster::builder()
                        .broker("broker-a")
                        .topic(topic, 4)
                        .null_brokers(true)
                        .start()
                        .await
                    {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(cluster.namesrv_addr()));
                    let broker = cluster.broker("broker-a");
                    let mut fault = fault.map(|(f, after)| (f, tokio::time::Instant::now() + after));
                    loop {
                        let fault_at = fault.map(|(_, at)| at);
                        tokio::select! {
                            req = cpu_rx.recv() => match req {
                                Some(reply) => {
                                    let _ = reply.send(read_cpu("/proc/thread-self/stat"));
                                }
                                None => break,
                            },
                            _ = tokio::time::sleep_until(fault_at.unwrap_or_else(tokio::time::Instant::now)), if fault_at.is_some() => {
                                match fault.take() {
                                    Some((BrokerFault::Stop, _)) => {
                                        eprintln!("null broker: stopped (--broker-fault stop)");
                                        let _ = broker.stop().await;
                                    }
                                    Some((BrokerFault::Freeze, _)) => {
                                        eprintln!("null broker: frozen (--broker-fault freeze)");
                                        broker.freeze();
                                    }
                                    None => {}
                                }
                            }
                        }
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(1), cluster.shutdown()).await;
                });
            })
            .map_err(|e| e.to_string())?;
        let namesrv = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|e| format!("the null broker did not start: {e}"))??;
        Ok(NullBroker {
            namesrv,
            cpu_requests: Some(cpu_tx),
            thread: Some(thread),
        })
    }

    /// The broker thread's CPU ticks so far.
    fn cpu(&self) -> Option<CpuTicks> {
        let (tx, rx) = std_mpsc::channel();
        self.cpu_requests.as_ref()?.send(tx).ok()?;
        rx.recv_timeout(Duration::from_secs(1)).ok().flatten()
    }

    fn stop(mut self) {
        self.cpu_requests.take();
        if let Some(t) = self.thread.take() {
            // Bounded: the thread gives the cluster 1 s to shut down.
            let deadline = Instant::now() + Duration::from_secs(2);
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

struct RunResult {
    /// RSS when the send phase began (client started, nothing sent yet) and when it ended.
    rss_start_kb: Option<u64>,
    rss_end_kb: Option<u64>,
    /// RSS at the end once freed memory went back to the OS (glibc only).
    rss_end_trimmed_kb: Option<u64>,
    elapsed: Duration,
    cpu: CpuTicks,
    broker_cpu: Option<CpuTicks>,
    unfinished_workers: usize,
}

fn body_of(size: usize) -> Bytes {
    (0..size)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
        .collect::<Vec<u8>>()
        .into()
}

async fn worker(
    producer: Addr<ProducerActor>,
    opts: Rc<Opts>,
    body: Bytes,
    next_seq: Rc<Cell<u64>>,
    deadline: Instant,
    stats: Rc<RefCell<Stats>>,
) {
    loop {
        // One clock read: the deadline check and the latency's start.
        let start = Instant::now();
        if start >= deadline {
            break;
        }
        let seq = next_seq.get();
        if opts.count.is_some_and(|c| seq >= c) {
            break;
        }
        next_seq.set(seq + 1);
        let mut msg = Message::new(opts.topic.as_str(), body.clone());
        if let Some(tag) = &opts.tag {
            msg = msg.with_tags(tag.as_str());
        }
        if opts.keys {
            msg = msg.with_keys(format!("BK{seq:012}"));
        }
        // No timer per send (it would be part of what is measured): a reply the
        // client never gives leaves its worker unfinished at the run's backstop.
        let outcome: Result<(), String> = match opts.mode {
            Mode::Sync => match producer.send(SendMessage::new(msg)).await {
                Ok(Ok(_result)) => Ok(()),
                Ok(Err(e)) => Err(error_kind(&e)),
                Err(_mailbox) => Err("mailbox".into()),
            },
            Mode::Oneway => match producer.send(SendOneway::new(msg)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(error_kind(&e)),
                Err(_mailbox) => Err("mailbox".into()),
            },
        };
        let latency = start.elapsed();
        let mut s = stats.borrow_mut();
        match outcome {
            Ok(()) => s.ok(latency),
            Err(kind) => s.failed(kind),
        }
    }
}

/// Prints the line of the interval that ends now, `secs` long, and starts the next one.
fn report_interval(stats: &RefCell<Stats>, label: &str, secs: f64) {
    let mut s = stats.borrow_mut();
    let line = format!(
        "[{label:>6}] sends/s: {:>8.0} | failures: {:>5} | latency avg: {:>8.1}us p50: {:>8.1}us p99: {:>8.1}us max: {:>9.1}us | total ok: {} failed: {} | rss: {:.1} MB",
        s.interval.ok as f64 / secs.max(1e-9),
        s.interval.failed,
        s.interval_latency.avg_us(),
        s.interval_latency.quantile_us(0.50),
        s.interval_latency.quantile_us(0.99),
        s.interval_latency.max_us(),
        s.total.ok,
        s.total.failed,
        status_kb("VmRSS").unwrap_or(0) as f64 / 1024.0,
    );
    s.interval = Counters::default();
    s.interval_latency.reset();
    drop(s);
    println!("{line}");
}

/// One line per second; `last_tick` keeps the end of the last reported interval.
async fn reporter(stats: Rc<RefCell<Stats>>, start: Instant, last_tick: Rc<Cell<Instant>>) {
    let mut tick = 1u64;
    loop {
        tokio::time::sleep_until((start + Duration::from_secs(tick)).into()).await;
        let now = Instant::now();
        let secs = now.duration_since(last_tick.get()).as_secs_f64();
        last_tick.set(now);
        report_interval(&stats, &format!("{tick}s"), secs);
        tick += 1;
    }
}

async fn run(
    opts: Rc<Opts>,
    namesrv: String,
    broker: Option<&NullBroker>,
    stats: Rc<RefCell<Stats>>,
) -> Result<RunResult, (u8, String)> {
    let mut builder = ProducerConfig::builder(opts.group.as_str())
        .namesrv_addr(&namesrv)
        .send_timeout(opts.send_timeout)
        .serialize_type(opts.serialize)
        .connection_arbiter(opts.connection_arbiter);
    if let Some(bytes) = opts.compress_over {
        builder = builder.compress_msg_body_over(bytes);
    }
    if let Some(acl) = &opts.acl {
        builder = builder.acl_credentials(acl.clone());
    }
    let config = builder.build().map_err(|e| (2, e.to_string()))?;
    let producer = ProducerActor::start(config)
        .await
        .map_err(|e| (1, format!("cannot start the producer: {e}")))?;

    let body = body_of(opts.size);
    let next_seq = Rc::new(Cell::new(0u64));
    let cap = opts.duration.unwrap_or(COUNT_MODE_CAP);

    let phase = Phase::begin(broker, stats.clone());
    let deadline = phase.start + cap;
    let workers: Vec<_> = (0..opts.concurrency)
        .map(|_| {
            actix_rt::spawn(worker(
                producer.clone(),
                opts.clone(),
                body.clone(),
                next_seq.clone(),
                deadline,
                stats.clone(),
            ))
        })
        .collect();
    // Every worker ends by deadline + send timeout + watchdog; this is only a backstop.
    let backstop = deadline + opts.send_timeout + WATCHDOG_GRACE + Duration::from_secs(1);
    let mut unfinished_workers = 0;
    for w in workers {
        if tokio::time::timeout_at(backstop.into(), w).await.is_err() {
            unfinished_workers += 1;
        }
    }
    let result = phase.end(unfinished_workers);

    let _ = tokio::time::timeout(Duration::from_secs(1), producer.send(Shutdown)).await;
    Ok(result)
}

/// The send phase's clock, CPU readings and per-second reporter.
struct Phase<'a> {
    broker: Option<&'a NullBroker>,
    stats: Rc<RefCell<Stats>>,
    cpu0: CpuTicks,
    broker_cpu0: Option<CpuTicks>,
    start: Instant,
    last_tick: Rc<Cell<Instant>>,
    reporter: actix_rt::task::JoinHandle<()>,
    rss_start_kb: Option<u64>,
}

impl<'a> Phase<'a> {
    fn begin(broker: Option<&'a NullBroker>, stats: Rc<RefCell<Stats>>) -> Self {
        let cpu0 = read_cpu("/proc/self/stat").unwrap_or_default();
        let broker_cpu0 = broker.and_then(NullBroker::cpu);
        let rss_start_kb = status_kb("VmRSS");
        let start = Instant::now();
        let last_tick = Rc::new(Cell::new(start));
        let reporter = actix_rt::spawn(reporter(stats.clone(), start, last_tick.clone()));
        Phase {
            broker,
            stats,
            cpu0,
            broker_cpu0,
            start,
            last_tick,
            reporter,
            rss_start_kb,
        }
    }

    /// Stops the clock and the reporter, prints the last, partial second.
    fn end(self, unfinished_workers: usize) -> RunResult {
        let elapsed = self.start.elapsed();
        let cpu1 = read_cpu("/proc/self/stat").unwrap_or_default();
        let broker_cpu1 = self.broker.and_then(NullBroker::cpu);
        self.reporter.abort();
        let tail = elapsed.saturating_sub(self.last_tick.get().duration_since(self.start));
        if tail > Duration::from_millis(50) {
            report_interval(
                &self.stats,
                &format!("{:.2}s", elapsed.as_secs_f64()),
                tail.as_secs_f64(),
            );
        }
        RunResult {
            rss_start_kb: self.rss_start_kb,
            rss_end_kb: status_kb("VmRSS"),
            rss_end_trimmed_kb: trimmed_rss_kb(),
            elapsed,
            cpu: CpuTicks {
                user: cpu1.user.saturating_sub(self.cpu0.user),
                sys: cpu1.sys.saturating_sub(self.cpu0.sys),
            },
            broker_cpu: self.broker_cpu0.zip(broker_cpu1).map(|(a, b)| CpuTicks {
                user: b.user.saturating_sub(a.user),
                sys: b.sys.saturating_sub(a.sys),
            }),
            unfinished_workers,
        }
    }
}

// ---------------------------------------------------------------------------
// --baseline
// ---------------------------------------------------------------------------

/// The topic's route from the first name server of `namesrv` (`;`-separated) that gives one.
async fn fetch_route(
    namesrv: &str,
    topic: &str,
    timeout: Duration,
) -> Result<TopicRouteData, String> {
    let mut errors = Vec::new();
    for addr in namesrv.split(';').map(str::trim).filter(|a| !a.is_empty()) {
        let attempt = async {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let mut conn = Framed::new(stream, RemotingCodec::default());
            let mut req = GetRouteInfoRequestHeader::new(topic).into_request();
            req.opaque = 1;
            conn.send(req).await.map_err(|e| format!("send: {e}"))?;
            let reply = conn
                .next()
                .await
                .ok_or("connection closed")?
                .map_err(|e| format!("bad reply: {e}"))?;
            if reply.code != response_code::SUCCESS {
                return Err(format!(
                    "code {} {}",
                    reply.code,
                    reply.remark.unwrap_or_default()
                ));
            }
            TopicRouteData::decode(&reply.body).map_err(|e| format!("bad route: {e}"))
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(route)) => return Ok(route),
            Ok(Err(e)) => errors.push(format!("{addr}: {e}")),
            Err(_) => errors.push(format!("{addr}: no route within {timeout:?}")),
        }
    }
    Err(format!(
        "no route for topic {topic}: {}",
        if errors.is_empty() {
            "no name server address".to_owned()
        } else {
            errors.join("; ")
        }
    ))
}

/// The master address, broker name and write queues of the first broker with writable queues.
fn first_writable(route: &TopicRouteData) -> Option<(String, String, Vec<i32>)> {
    route
        .queue_datas
        .iter()
        .filter(|q| perm::is_writeable(q.perm) && q.write_queue_nums > 0)
        .find_map(|q| {
            let master = route.master_addr(&q.broker_name)?;
            Some((
                master.to_owned(),
                q.broker_name.clone(),
                (0..q.write_queue_nums).collect(),
            ))
        })
}

/// The load of `opts` from the testkit's baseline client.
async fn run_baseline(
    opts: Rc<Opts>,
    namesrv: String,
    broker: Option<&NullBroker>,
    stats: Rc<RefCell<Stats>>,
) -> Result<RunResult, (u8, String)> {
    let route = fetch_route(&namesrv, &opts.topic, opts.send_timeout)
        .await
        .map_err(|e| (1, e))?;
    let (addr, broker_name, queues) = first_writable(&route).ok_or_else(|| {
        (
            1,
            format!("topic {}: no broker with writable queues", opts.topic),
        )
    })?;
    println!(
        "baseline: broker {broker_name} at {addr}, write queues 0..{}",
        queues.len()
    );
    let mut cfg = BaselineConfig::new(addr, opts.topic.as_str());
    cfg.broker_name = broker_name;
    cfg.queues = queues;
    cfg.group = opts.group.clone();
    cfg.size = opts.size;
    cfg.concurrency = opts.concurrency;
    cfg.count = opts.count;
    cfg.duration = Some(opts.duration.unwrap_or(COUNT_MODE_CAP));
    cfg.serialize = opts.serialize;
    cfg.response_timeout = opts.send_timeout;
    // The histograms have them; a vector of every latency would only add to max_rss_kb.
    cfg.keep_latencies = false;

    let phase = Phase::begin(broker, stats.clone());
    let report = baseline::run(&cfg, |outcome| {
        let mut s = stats.borrow_mut();
        match outcome {
            Ok(latency) => s.ok(latency),
            Err(Failure::Broker(code)) => s.failed(format!("broker_{code}")),
            Err(_) => s.failed("no_reply".into()),
        }
    })
    .await;
    let result = phase.end(0);
    match report {
        Ok(r) if r.end != baseline::End::Complete => {
            eprintln!(
                "baseline: stopped early ({:?}); {} sends unanswered",
                r.end, r.unanswered
            );
        }
        Ok(_) => {}
        Err(e) => return Err((1, format!("baseline client: {e}"))),
    }
    Ok(result)
}

fn main() -> ExitCode {
    let opts = match parse_args(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let broker = if opts.null_broker {
        match NullBroker::start(&opts.topic, opts.broker_fault) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("error: cannot start the null broker: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    if let (Some(secs), Some(b)) = (opts.serve_secs, &broker) {
        println!("NAMESRV_ADDR={}", b.namesrv);
        std::thread::sleep(Duration::from_secs_f64(secs));
        return ExitCode::SUCCESS;
    }
    let namesrv = match (&broker, &opts.namesrv) {
        (Some(b), _) => b.namesrv.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => unreachable!("parse_args requires one"),
    };
    println!(
        "benchmark: {}{} topic={} size={} concurrency={} mode={:?} {} namesrv={}",
        if opts.null_broker {
            "null-broker"
        } else {
            "cluster"
        },
        if opts.baseline { " baseline" } else { "" },
        opts.topic,
        opts.size,
        opts.concurrency,
        opts.mode,
        match (opts.count, opts.duration) {
            (Some(c), Some(d)) => format!("count={c} duration={}s", d.as_secs_f64()),
            (Some(c), None) => format!("count={c}"),
            (None, Some(d)) => format!("duration={}s", d.as_secs_f64()),
            (None, None) => String::new(),
        },
        namesrv
    );

    let stats = Rc::new(RefCell::new(Stats {
        total: Counters::default(),
        interval: Counters::default(),
        errors: BTreeMap::new(),
        latency: Histogram::new(),
        interval_latency: Histogram::new(),
    }));
    let opts = Rc::new(opts);
    let system = actix_rt::System::new();
    let result = if opts.baseline {
        system.block_on(run_baseline(
            opts.clone(),
            namesrv,
            broker.as_ref(),
            stats.clone(),
        ))
    } else {
        system.block_on(run(opts.clone(), namesrv, broker.as_ref(), stats.clone()))
    };
    let result = match result {
        Ok(r) => r,
        Err((code, e)) => {
            eprintln!("error: {e}");
            if let Some(b) = broker {
                b.stop();
            }
            return ExitCode::from(code);
        }
    };
    if let Some(b) = broker {
        b.stop();
    }

    let tck = clock_ticks_per_sec() as f64;
    let s = stats.borrow();
    let sent = s.total.ok + s.total.failed;
    let elapsed = result.elapsed.as_secs_f64();
    let cpu_user = result.cpu.user as f64 / tck;
    let cpu_sys = result.cpu.sys as f64 / tck;
    let per_msg = |cpu_s: f64| {
        if sent == 0 {
            0.0
        } else {
            r1(cpu_s * 1e6 / sent as f64)
        }
    };
    let broker_cpu = result.broker_cpu.map(|c| (c.user + c.sys) as f64 / tck);
    let summary = serde_json::json!({
        "client": if opts.baseline { "baseline" } else { "producer" },
        "mode": match opts.mode { Mode::Sync => "sync", Mode::Oneway => "oneway" },
        "null_broker": opts.null_broker,
        "topic": opts.topic,
        "size": opts.size,
        "serialize": opts.serialize.name(),
        "connection_arbiter": opts.connection_arbiter,
        "concurrency": opts.concurrency,
        "sent": sent,
        "ok": s.total.ok,
        "failed": s.total.failed,
        "errors": s.errors,
        "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        "tps": if elapsed > 0.0 { (s.total.ok as f64 / elapsed).round() } else { 0.0 },
        "avg_us": r1(s.latency.avg_us()),
        "p50_us": r1(s.latency.quantile_us(0.50)),
        "p90_us": r1(s.latency.quantile_us(0.90)),
        "p99_us": r1(s.latency.quantile_us(0.99)),
        "p999_us": r1(s.latency.quantile_us(0.999)),
        "max_us": r1(s.latency.max_us()),
        "cpu_user_s": cpu_user,
        "cpu_sys_s": cpu_sys,
        "cpu_us_per_msg": per_msg(cpu_user + cpu_sys),
        "broker_cpu_s": broker_cpu,
        "client_cpu_us_per_msg": per_msg(cpu_user + cpu_sys - broker_cpu.unwrap_or(0.0)),
        "clk_tck": tck,
        "max_rss_kb": max_rss_kb(),
        "rss_start_kb": result.rss_start_kb,
        "rss_end_kb": result.rss_end_kb,
        "rss_end_trimmed_kb": result.rss_end_trimmed_kb,
        "unfinished_workers": result.unfinished_workers,
    });
    println!("{summary}");
    let _ = std::io::stdout().flush();
    ExitCode::SUCCESS
}
