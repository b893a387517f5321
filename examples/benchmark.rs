//! Load tool for the producer, modelled on RocketMQ's benchmark `Producer`.
//!
//! ```text
//! cargo run --release --example benchmark -- --null-broker --duration 5
//! cargo run --release --example benchmark -- --namesrv 127.0.0.1:9876 --topic BenchmarkTest \
//!     --size 1024 --concurrency 64 --mode sync --count 1000000
//! cargo run --release --example benchmark -- -n 127.0.0.1:9876 -t BenchmarkTest -s 1024 -w 64 -q 1000000
//! cargo run --release --example benchmark -- --null-broker --rate 20000 --duration 10
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
//! `--baseline` runs the same load from the minimal client of benches/support/baseline.rs instead
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
//! `--rate N` runs an open loop instead: send `i` is due at `i / N` seconds
//! and starts then whatever the replies, with at most `--concurrency` in
//! flight; its latency counts from when it was due, so a stalled reply shows
//! in the latency of every send behind it (no coordinated omission). A send
//! due while `--concurrency` are in flight waits for a slot (`late` in the
//! JSON); those still waiting at the deadline are `unissued`. The schedule is
//! kept by a thread of its own (tokio's timers round up to the millisecond);
//! `start_lag_p50_us` and `start_lag_p99_us` say how late sends started after
//! their time (that thread's wake-up, the hop to the client's thread, and
//! slot waits), all of it in their latency.
//!
//! Latency percentiles come from HdrHistograms over nanoseconds (3
//! significant digits).
//!
//! CPU: `cpu_user_s`/`cpu_sys_s` are the whole process's user/system time
//! during the send phase, from `getrusage(RUSAGE_SELF)` (microseconds). With
//! `--null-broker` they include the broker thread; `broker_cpu_s` is that
//! thread's own time (`getrusage(RUSAGE_THREAD)`, Linux) and `client_cpu_us_per_msg`
//! excludes it. `max_rss_kb` is `VmHWM` of `/proc/self/status`; `rss_start_kb` and
//! `rss_end_kb` are `VmRSS` when sending began and when it ended (every send
//! answered), `rss_end_trimmed_kb` the same once glibc gave its free memory back
//! (`malloc_trim`), and every per-second line ends with the RSS at that moment.
//!
//! A `--count` run whose stdout is a terminal shows a live progress bar below
//! the per-second lines; otherwise the output is plain lines.
//!
//! The run always ends by itself: no send starts after the deadline
//! (`--duration`, or a 600 s cap with `--count`), each send is bounded by the
//! send timeout (a send the client never answered leaves its worker
//! unfinished: counted in `unfinished_workers` at deadline + send timeout + 2 s), and the
//! producer shutdown is given 1 s. With `--baseline`, the route lookup and the
//! connect are bounded by the send timeout, and the run stops waiting when no
//! response came for the send timeout or the connection is lost. Exit code 0 whenever the run reached its
//! end, whatever the failures; 2 for a usage error, 1 if the producer or the
//! test cluster could not start. `--help` lists the flags; the short ones are
//! the Java tool's (`-n -t -w -s -k -q -y -a -d -e`, and `--ak`/`--sk` for its
//! `-ak`/`-sk`), and `--namesrv` falls back to `NAMESRV_ADDR`; without either,
//! `--namesrv-domain HOST[:PORT]` (and `--namesrv-subgroup`) fetch the list over HTTP.
// The run summary's json! literal has more fields than the default macro depth allows.
#![recursion_limit = "256"]
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use actix::Addr;
use actix_rocketmq::error::ErrorKind;
use actix_rocketmq::internals::protocol::headers::GetRouteInfoRequestHeader;
use actix_rocketmq::internals::protocol::route::{TopicRouteData, perm};
use actix_rocketmq::internals::protocol::{RemotingCodec, SerializeType, response_code};
use actix_rocketmq::testkit::TestCluster;
#[path = "../benches/support/baseline.rs"]
#[allow(dead_code)] // each includer uses part of it
mod baseline;
use actix_rocketmq::producer::trace::DEFAULT_TRACE_TOPIC;
use actix_rocketmq::{
    AclCredentials, AutoBatch, CompressionType, Error, GetProducerStats, Message, ProducerActor,
    ProducerConfig, SendMessage, SendOneway, Shutdown, TraceStats,
};
use baseline::{BaselineConfig, Failure};
use bytes::Bytes;
use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, ValueEnum};
use futures::{SinkExt, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// Java benchmark's defaults for `-a` without `--ak`/`--sk`.
const JAVA_DEFAULT_AK: &str = "12345678";
const JAVA_DEFAULT_SK: &str = "rocketmq2";

/// Longest run of a `--count` run without `--duration`.
const COUNT_MODE_CAP: Duration = Duration::from_secs(600);
/// Extra wait for a reply past the send timeout before the send counts as lost.
const WATCHDOG_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Sync,
    Oneway,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BrokerFault {
    Stop,
    Freeze,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Codec {
    Zlib,
    Lz4,
    Zstd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Serialize {
    Json,
    Rocketmq,
}

/// Load tool for the producer (RocketMQ's benchmark `Producer`, for this crate).
///
/// One line per second, then a one-line JSON summary. Short flags follow the
/// Java tool's where they map (`-n -t -w -s -k -q -y -a`); its two-letter
/// `-ak`/`-sk` are `--ak`/`--sk` here.
#[derive(Debug, Parser)]
#[command(name = "benchmark", after_help = AFTER_HELP)]
struct Cli {
    /// Name servers of a real cluster
    #[arg(
        short = 'n',
        long,
        env = "NAMESRV_ADDR",
        value_name = "HOST:PORT[;HOST:PORT]"
    )]
    namesrv: Option<String>,
    /// Without --namesrv: fetch the name-server list from this address server,
    /// http://HOST:8080/rocketmq/SUBGROUP (a HOST:PORT is used as is)
    #[arg(long, value_name = "HOST[:PORT]")]
    namesrv_domain: Option<String>,
    /// Subgroup of the address server's URL [default: nsaddr]
    #[arg(long, value_name = "SUBGROUP")]
    namesrv_subgroup: Option<String>,
    /// In-process test cluster answering every send SUCCESS at once
    #[arg(long)]
    null_broker: bool,
    /// Only run the null broker for SECS and print its NAMESRV_ADDR, so a client
    /// in another process can be measured alone
    #[arg(long, value_name = "SECS", value_parser = non_negative_secs)]
    serve_null_broker: Option<f64>,
    /// Topic
    #[arg(short = 't', long, default_value = "BenchmarkTest")]
    topic: String,
    /// Body size in bytes (RocketMQ refuses empty bodies)
    #[arg(short = 's', long, value_name = "BYTES", default_value_t = 128, value_parser = at_least_one)]
    size: usize,
    /// Sends in flight: N tasks looping on send (Java: threads); with --rate, the
    /// most sends in flight
    #[arg(short = 'w', long, value_name = "N", default_value_t = 64, value_parser = at_least_one)]
    concurrency: usize,
    /// SendMessage or SendOneway
    #[arg(long, value_enum, default_value_t = Mode::Sync)]
    mode: Mode,
    /// Java's async send: --mode sync is that already (--concurrency sends in
    /// flight, each answered to its task), so this only rules out --mode oneway
    #[arg(short = 'y', long = "async", value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    async_send: bool,
    /// Stop after N sends (a 600 s cap still applies unless --duration)
    #[arg(short = 'q', long, value_name = "N")]
    count: Option<u64>,
    /// Stop starting sends after SECS seconds [default: 10, unless --count]
    #[arg(long, value_name = "SECS", value_parser = positive_secs)]
    duration: Option<f64>,
    /// Open loop: start N sends per second on a fixed schedule whatever the
    /// replies; latency counts from each send's scheduled time
    #[arg(long, value_name = "N", value_parser = positive_rate)]
    rate: Option<f64>,
    /// Tag of every message
    #[arg(long)]
    tag: Option<String>,
    /// A unique key per message
    #[arg(short = 'k', long, value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    keys: bool,
    /// Message trace on (Java's -m): a Pub record per send to RMQ_SYS_TRACE_TOPIC
    #[arg(short = 'm', long, value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    trace: bool,
    /// Delay level of every message (the broker's messageDelayLevel, 1..=18
    /// by default): a delay message (Java's -e; enables the delay alone)
    #[arg(short = 'e', long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    delay_level: Option<i32>,
    /// Java's delay switch: send delay messages, of --delay-level (default 1)
    #[arg(short = 'd', long, value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    delay_enable: bool,
    /// Compress bodies of at least BYTES [default: 4096]
    #[arg(long, value_name = "BYTES")]
    compress_over: Option<usize>,
    /// Codec of compressed bodies (Java compressType) [default: zlib]
    #[arg(long, value_enum, ignore_case = true, value_name = "CODEC")]
    compress_type: Option<Codec>,
    /// Level of that codec (Java compressLevel; zlib 0-9, zstd 0-22, ignored by lz4) [default: 5]
    #[arg(long, value_name = "N")]
    compress_level: Option<u32>,
    /// Send timeout in ms
    #[arg(long, value_name = "MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    send_timeout: u64,
    /// Request header serialization (rocketmq, as the client)
    #[arg(long, value_enum, ignore_case = true, default_value_t = Serialize::Rocketmq)]
    serialize: Serialize,
    /// Broker connections on a thread (arbiter) of their own
    #[arg(long)]
    connection_arbiter: bool,
    /// Sign every request (ACL), to measure what signing costs
    #[arg(long, value_name = "ACCESS_KEY:SECRET_KEY", value_parser = acl_pair,
          conflicts_with = "acl_enable")]
    acl: Option<(String, String)>,
    /// Java's ACL switch: sign with --ak/--sk (Java's defaults without them)
    #[arg(short = 'a', long, value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    acl_enable: bool,
    /// Access key for -a (Java's -ak)
    #[arg(
        long = "ak",
        visible_alias = "access-key",
        value_name = "KEY",
        requires = "acl_enable"
    )]
    access_key: Option<String>,
    /// Secret key for -a (Java's -sk)
    #[arg(
        long = "sk",
        visible_alias = "secret-key",
        value_name = "KEY",
        requires = "acl_enable"
    )]
    secret_key: Option<String>,
    /// Adaptive auto-batching: sends to a queue that has batch requests in flight
    /// wait and leave together as one SEND_BATCH_MESSAGE
    #[arg(long)]
    auto_batch: bool,
    /// With --auto-batch: the most bytes of one batch request [default: the producer's]
    #[arg(long, value_name = "BYTES", requires = "auto_batch", value_parser = at_least_one)]
    batch_max_bytes: Option<usize>,
    /// With --auto-batch: the most messages of one batch request [default: the producer's]
    #[arg(long, value_name = "N", requires = "auto_batch", value_parser = at_least_one)]
    batch_max_messages: Option<usize>,
    /// With --auto-batch: batch requests in flight per topic before later sends
    /// gather [default: the producer's]
    #[arg(long, visible_alias = "auto-batch-requests", value_name = "N", requires = "auto_batch", value_parser = at_least_one)]
    batch_in_flight: Option<usize>,
    /// With --auto-batch: also hold every send up to MS for others to join it (Java's
    /// fixed linger) [default: none, adaptive only]
    #[arg(long, value_name = "MS", requires = "auto_batch", value_parser = clap::value_parser!(u64).range(1..))]
    batch_max_delay: Option<u64>,
    /// Producer group
    #[arg(long, default_value = "benchmark_producer")]
    group: String,
    /// No producer: the same load from a minimal pipelined client
    #[arg(long)]
    baseline: bool,
    /// Testing aid, --null-broker only: after --broker-fault-after the broker
    /// crashes (stop) or stops answering (freeze)
    #[arg(long, value_enum, requires = "broker_fault_after")]
    broker_fault: Option<BrokerFault>,
    /// Seconds into the run of --broker-fault
    #[arg(long, value_name = "SECS", value_parser = non_negative_secs, requires = "broker_fault")]
    broker_fault_after: Option<f64>,
}

const AFTER_HELP: &str = "\
--baseline: no producer, the same load from a minimal pipelined client (pre-encoded
frames, one connection, no actors) to the master of the topic's first writable broker;
the floor of CPU per message on this machine. Takes --topic --size --concurrency --count
--duration --serialize --group, and --send-timeout as its response timeout; not --mode
oneway, --tag, --keys, --trace, --compress-*, --connection-arbiter, --acl, --rate or
--auto-batch.

Not from the Java tool: -l (tag count).";

fn at_least_one(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected an integer of at least 1".into()),
    }
}

fn positive_secs(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() => Ok(s),
        _ => Err("expected seconds > 0".into()),
    }
}

fn non_negative_secs(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(s) if s >= 0.0 && s.is_finite() => Ok(s),
        _ => Err("expected seconds >= 0".into()),
    }
}

fn positive_rate(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        // Below one per hour the schedule is no load.
        Ok(r) if r.is_finite() && r >= 1.0 / 3600.0 => Ok(r),
        _ => Err("expected sends per second > 0".into()),
    }
}

fn acl_pair(v: &str) -> Result<(String, String), String> {
    v.split_once(':')
        .map(|(ak, sk)| (ak.to_owned(), sk.to_owned()))
        .ok_or_else(|| "expected ACCESS_KEY:SECRET_KEY".into())
}

#[derive(Debug, Clone)]
struct Opts {
    namesrv: Option<String>,
    /// The address server asked for the name servers when none is given.
    namesrv_domain: Option<String>,
    namesrv_subgroup: Option<String>,
    null_broker: bool,
    /// Only serve a null broker for this long (to measure a client in another process).
    serve_secs: Option<f64>,
    topic: String,
    size: usize,
    concurrency: usize,
    mode: Mode,
    count: Option<u64>,
    duration: Option<Duration>,
    /// Open-loop sends per second.
    rate: Option<f64>,
    tag: Option<String>,
    keys: bool,
    /// Message trace on.
    trace: bool,
    /// The delay level of every message (none: no delay).
    delay_level: Option<i32>,
    compress_over: Option<usize>,
    compress_type: Option<CompressionType>,
    compress_level: Option<u32>,
    send_timeout: Duration,
    serialize: SerializeType,
    group: String,
    broker_fault: Option<(BrokerFault, Duration)>,
    connection_arbiter: bool,
    /// Sign every request with these credentials.
    acl: Option<AclCredentials>,
    /// The baseline client (benches/support/baseline.rs) instead of a producer.
    baseline: bool,
    /// Auto-batching settings (none: off).
    auto_batch: Option<AutoBatch>,
}

/// The options from the command line; a usage error exits with status 2 (clap's).
fn parse_args() -> Opts {
    let matches = Cli::command().get_matches();
    let from_env = matches.value_source("namesrv") == Some(ValueSource::EnvVariable);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let usage = |msg: String| -> ! {
        Cli::command()
            .error(clap::error::ErrorKind::ArgumentConflict, msg)
            .exit()
    };
    let null_broker = cli.null_broker || cli.serve_null_broker.is_some();
    // NAMESRV_ADDR is only a fallback: --null-broker wins over it.
    let namesrv = match cli.namesrv.filter(|v| !v.trim().is_empty()) {
        Some(_) if null_broker && from_env => None,
        Some(_) if null_broker => usage("give either --namesrv or --null-broker, not both".into()),
        n => n,
    };
    let discover = cli.namesrv_domain.is_some() || cli.namesrv_subgroup.is_some();
    if !null_broker && namesrv.is_none() && !discover {
        usage(
            "give --namesrv HOST:PORT (or set NAMESRV_ADDR), --namesrv-domain HOST[:PORT] or --null-broker"
                .into(),
        );
    }
    if discover && null_broker {
        usage("--namesrv-domain / --namesrv-subgroup are not for --null-broker".into());
    }
    if discover && namesrv.is_none() && cli.baseline {
        usage("--baseline needs --namesrv HOST:PORT".into());
    }
    let broker_fault = match (cli.broker_fault, cli.broker_fault_after) {
        (Some(f), Some(after)) if null_broker => Some((f, Duration::from_secs_f64(after))),
        (Some(_), Some(_)) => usage("--broker-fault needs --null-broker".into()),
        _ => None,
    };
    if cli.async_send && cli.mode == Mode::Oneway {
        usage("--async (-y) is a sync send with a reply; not with --mode oneway".into());
    }
    let acl = match (&cli.acl, cli.acl_enable) {
        (Some((ak, sk)), _) => Some(AclCredentials::new(ak.as_str(), sk.as_str())),
        (None, true) => Some(AclCredentials::new(
            cli.access_key.as_deref().unwrap_or(JAVA_DEFAULT_AK),
            cli.secret_key.as_deref().unwrap_or(JAVA_DEFAULT_SK),
        )),
        (None, false) => None,
    };
    let o = Opts {
        namesrv,
        namesrv_domain: cli.namesrv_domain,
        namesrv_subgroup: cli.namesrv_subgroup,
        null_broker,
        serve_secs: cli.serve_null_broker,
        topic: cli.topic,
        size: cli.size,
        concurrency: cli.concurrency,
        mode: cli.mode,
        count: cli.count,
        duration: match (cli.duration, cli.count) {
            (Some(secs), _) => Some(Duration::from_secs_f64(secs)),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        },
        rate: cli.rate,
        tag: cli.tag,
        keys: cli.keys,
        trace: cli.trace,
        // Java: -d switches delay messages on, -e gives their level (default 1).
        delay_level: cli.delay_level.or(cli.delay_enable.then_some(1)),
        compress_over: cli.compress_over,
        compress_type: cli.compress_type.map(|c| match c {
            Codec::Zlib => CompressionType::Zlib,
            Codec::Lz4 => CompressionType::Lz4,
            Codec::Zstd => CompressionType::Zstd,
        }),
        compress_level: cli.compress_level,
        send_timeout: Duration::from_millis(cli.send_timeout),
        serialize: match cli.serialize {
            Serialize::Json => SerializeType::Json,
            Serialize::Rocketmq => SerializeType::RocketMq,
        },
        group: cli.group,
        broker_fault,
        connection_arbiter: cli.connection_arbiter,
        acl,
        baseline: cli.baseline,
        auto_batch: cli.auto_batch.then(|| {
            let mut b = AutoBatch::new();
            if let Some(n) = cli.batch_max_bytes {
                b = b.max_batch_bytes(n);
            }
            if let Some(n) = cli.batch_max_messages {
                b = b.max_batch_messages(n);
            }
            if let Some(n) = cli.batch_in_flight {
                b = b.max_in_flight_requests(n);
            }
            if let Some(ms) = cli.batch_max_delay {
                b = b.max_delay(Duration::from_millis(ms));
            }
            b
        }),
    };
    if o.baseline {
        let producer_only = [
            (o.mode == Mode::Oneway, "--mode oneway"),
            (o.tag.is_some(), "--tag"),
            (o.keys, "--keys"),
            (o.trace, "--trace"),
            (o.compress_over.is_some(), "--compress-over"),
            (o.compress_type.is_some(), "--compress-type"),
            (o.compress_level.is_some(), "--compress-level"),
            (o.connection_arbiter, "--connection-arbiter"),
            (o.acl.is_some(), "--acl"),
            (o.rate.is_some(), "--rate"),
            (o.auto_batch.is_some(), "--auto-batch"),
        ];
        if let Some((_, flag)) = producer_only.iter().find(|(set, _)| *set) {
            usage(format!(
                "{flag} applies to the producer only, not to --baseline (its frames are \
                 pre-encoded sync sends without tag or keys)"
            ));
        }
    }
    o
}

// ---------------------------------------------------------------------------
// Latency histograms (HdrHistogram over nanoseconds, 3 significant digits)
// ---------------------------------------------------------------------------

struct Histogram(hdrhistogram::Histogram<u64>);

impl Histogram {
    fn new() -> Self {
        // 1 ns to 1 h at 3 significant digits; larger values are clamped to 1 h.
        Histogram(
            hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                .expect("valid histogram bounds"),
        )
    }

    fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.0.saturating_record(ns);
    }

    fn reset(&mut self) {
        self.0.reset();
    }

    /// The `q` quantile in µs (0 when empty).
    fn quantile_us(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(q).min(self.0.max()) as f64 / 1000.0
    }

    fn avg_us(&self) -> f64 {
        if self.0.is_empty() {
            0.0
        } else {
            self.0.mean() / 1000.0
        }
    }

    fn max_us(&self) -> f64 {
        self.0.max() as f64 / 1000.0
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
    /// --rate: sends started after their scheduled time because --concurrency were in flight.
    late: u64,
    /// --rate: sends scheduled before the deadline that never started (no free slot).
    unissued: u64,
    /// --rate: how long after its scheduled time each send started (timer and slot waits).
    start_lag: Histogram,
    /// A --rate run: the per-second lines say how many sends were late.
    open_loop: bool,
    /// The live progress bar of a `--count` run on a terminal; lines print above it.
    progress: Option<ProgressBar>,
}

impl Stats {
    fn new() -> Self {
        Stats {
            total: Counters::default(),
            interval: Counters::default(),
            errors: BTreeMap::new(),
            latency: Histogram::new(),
            interval_latency: Histogram::new(),
            late: 0,
            unissued: 0,
            start_lag: Histogram::new(),
            open_loop: false,
            progress: None,
        }
    }

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

    fn record(&mut self, outcome: Result<(), String>, latency: Duration) {
        match outcome {
            Ok(()) => self.ok(latency),
            Err(kind) => self.failed(kind),
        }
    }

    /// Prints a line, above the progress bar when there is one.
    fn println(&self, line: &str) {
        match &self.progress {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }
}

/// A short name per failure kind, for the `errors` map (broker errors by code).
fn error_kind(err: &Error) -> String {
    match err.kind() {
        ErrorKind::Broker { code, .. } => format!("broker_{code}"),
        ErrorKind::Connection(_) if err.is_timeout() => "connection_timeout".into(),
        kind => kind.as_str().into(),
    }
}

// ---------------------------------------------------------------------------
// /proc readings
// ---------------------------------------------------------------------------

/// User and system CPU time.
#[derive(Debug, Clone, Copy, Default)]
struct CpuTime {
    user: Duration,
    sys: Duration,
}

impl CpuTime {
    /// The time spent from `earlier` to `self`.
    fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            sys: self.sys.saturating_sub(earlier.sys),
        }
    }
}

/// `getrusage(who)`'s user and system time (microsecond resolution).
fn rusage(who: libc::c_int) -> Option<CpuTime> {
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    // SAFETY: getrusage only writes the struct it is given, which is zeroed plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return None;
    }
    Some(CpuTime {
        user: tv(ru.ru_utime),
        sys: tv(ru.ru_stime),
    })
}

/// The whole process's CPU time.
fn process_cpu() -> Option<CpuTime> {
    rusage(libc::RUSAGE_SELF)
}

/// The calling thread's CPU time (Linux only).
#[cfg(target_os = "linux")]
fn thread_cpu() -> Option<CpuTime> {
    rusage(libc::RUSAGE_THREAD)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu() -> Option<CpuTime> {
    None
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
    /// Each request is answered with the broker thread's CPU time; dropping it stops the cluster.
    cpu_requests: Option<tokio::sync::mpsc::UnboundedSender<std_mpsc::Sender<Option<CpuTime>>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NullBroker {
    fn start(topic: &str, fault: Option<(BrokerFault, Duration)>) -> Result<NullBroker, String> {
        let (ready_tx, ready_rx) = std_mpsc::channel::<Result<String, String>>();
        let (cpu_tx, mut cpu_rx) =
            tokio::sync::mpsc::unbounded_channel::<std_mpsc::Sender<Option<CpuTime>>>();
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
                        // Where --trace sends its records.
                        .topic(DEFAULT_TRACE_TOPIC, 4)
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
                                    let _ = reply.send(thread_cpu());
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

    /// The broker thread's CPU time so far.
    fn cpu(&self) -> Option<CpuTime> {
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
    cpu: CpuTime,
    broker_cpu: Option<CpuTime>,
    unfinished_workers: usize,
    /// Message trace counters at the end of the send phase (`--trace`).
    trace: Option<TraceStats>,
}

fn body_of(size: usize) -> Bytes {
    (0..size)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
        .collect::<Vec<u8>>()
        .into()
}

/// Builds message `seq` of the run and sends it: the failure's kind if it fails.
async fn send_one(
    producer: &Addr<ProducerActor>,
    opts: &Opts,
    body: &Bytes,
    seq: u64,
) -> Result<(), String> {
    let mut msg = Message::new(opts.topic.as_str(), body.clone());
    if let Some(tag) = &opts.tag {
        msg = msg.with_tags(tag.as_str());
    }
    if opts.keys {
        msg = msg.with_keys(format!("BK{seq:012}"));
    }
    if let Some(level) = opts.delay_level {
        msg = msg.with_delay_level(level);
    }
    // No timer per send (it would be part of what is measured): a reply the
    // client never gives leaves its worker unfinished at the run's backstop.
    match opts.mode {
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
    }
}

/// Closed loop: one of --concurrency tasks, each starting its next send when the last one ends.
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
        let outcome = send_one(&producer, &opts, &body, seq).await;
        stats.borrow_mut().record(outcome, start.elapsed());
    }
}

/// When send `seq` of a --rate run is due.
fn due_at(start: Instant, rate: f64, seq: u64) -> Instant {
    start + Duration::from_secs_f64(seq as f64 / rate)
}

/// How many sends of a --rate run are due before `deadline` (at most `count`).
fn sends_due(start: Instant, rate: f64, deadline: Instant, count: Option<u64>) -> u64 {
    let cap = count.unwrap_or(u64::MAX);
    // The closed form, then nudged to agree with `due_at` whatever the rounding.
    let window = deadline.saturating_duration_since(start).as_secs_f64();
    let mut n = ((window * rate).ceil() as u64).min(cap);
    while n > 0 && due_at(start, rate, n - 1) >= deadline {
        n -= 1;
    }
    while n < cap && due_at(start, rate, n) < deadline {
        n += 1;
    }
    n
}

/// The --rate schedule's clock, on a thread of its own: it publishes how many sends are
/// due, each as its time comes. Its sleeps are precise to tens of µs; tokio's timers round
/// up to the next millisecond, and that would be in every send's latency.
fn schedule(
    start: Instant,
    rate: f64,
    total: u64,
    due: tokio::sync::watch::Sender<u64>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("rate-schedule".into())
        .spawn(move || {
            let mut released = 0;
            while released < total {
                let now = Instant::now();
                let before = released;
                while released < total && due_at(start, rate, released) <= now {
                    released += 1;
                }
                // The run stopped listening (the deadline passed while it waited for a slot).
                if released > before && due.send(released).is_err() {
                    return;
                }
                if released < total {
                    std::thread::sleep(
                        due_at(start, rate, released).saturating_duration_since(Instant::now()),
                    );
                }
            }
        })
        .map(drop)
}

/// Open loop (--rate): send `seq` starts when it is due whatever the replies, so a
/// slow reply cannot hold back the sends behind it (no coordinated omission); its
/// latency counts from when it was due. At most --concurrency are in flight: a send
/// due while they are waits for a slot (counted `late`, the wait in its latency), and
/// the sends still due when the deadline passes are counted `unissued`. Returns the
/// sends unanswered at the backstop.
async fn open_loop(
    producer: Addr<ProducerActor>,
    opts: Rc<Opts>,
    body: Bytes,
    rate: f64,
    start: Instant,
    deadline: Instant,
    stats: Rc<RefCell<Stats>>,
) -> usize {
    let total = sends_due(start, rate, deadline, opts.count);
    let (due_tx, mut released) = tokio::sync::watch::channel(0u64);
    if let Err(e) = schedule(start, rate, total, due_tx) {
        eprintln!("error: cannot start the --rate schedule thread: {e}");
        stats.borrow_mut().unissued = total;
        return 0;
    }
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(opts.concurrency));
    let mut seq = 0u64;
    'schedule: while seq < total {
        while *released.borrow_and_update() <= seq {
            if released.changed().await.is_err() {
                break 'schedule;
            }
        }
        let due = due_at(start, rate, seq);
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            // --concurrency sends in flight: wait for a slot, the wait in this send's latency.
            Err(_) => {
                match tokio::time::timeout_at(deadline.into(), slots.clone().acquire_owned()).await
                {
                    Ok(Ok(slot)) => {
                        stats.borrow_mut().late += 1;
                        slot
                    }
                    // Still none at the deadline: this send and the rest due are unissued.
                    _ => break,
                }
            }
        };
        stats.borrow_mut().start_lag.record(due.elapsed());
        let (producer, opts, body, stats) =
            (producer.clone(), opts.clone(), body.clone(), stats.clone());
        actix_rt::spawn(async move {
            let outcome = send_one(&producer, &opts, &body, seq).await;
            stats.borrow_mut().record(outcome, due.elapsed());
            drop(slot);
        });
        seq += 1;
    }
    // Dropping the receiver stops the schedule thread at its next release.
    drop(released);
    stats.borrow_mut().unissued = total - seq;
    // Every send ends by deadline + send timeout + watchdog; this is only a backstop.
    let backstop = deadline + opts.send_timeout + WATCHDOG_GRACE + Duration::from_secs(1);
    let all = u32::try_from(opts.concurrency).unwrap_or(u32::MAX);
    match tokio::time::timeout_at(backstop.into(), slots.acquire_many(all)).await {
        Ok(_) => 0,
        Err(_) => opts.concurrency - slots.available_permits(),
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
    let line = if s.open_loop {
        format!("{line} | late: {}", s.late)
    } else {
        line
    };
    s.interval = Counters::default();
    s.interval_latency.reset();
    s.println(&line);
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
    if let Some(domain) = &opts.namesrv_domain {
        builder = builder.namesrv_domain(domain.as_str());
    }
    if let Some(subgroup) = &opts.namesrv_subgroup {
        builder = builder.namesrv_domain_subgroup(subgroup.as_str());
    }
    if let Some(bytes) = opts.compress_over {
        builder = builder.compress_msg_body_over(bytes);
    }
    if let Some(codec) = opts.compress_type {
        builder = builder.compress_type(codec);
    }
    if let Some(level) = opts.compress_level {
        builder = builder.compress_level(level);
    }
    if let Some(acl) = &opts.acl {
        builder = builder.acl_credentials(acl.clone());
    }
    if opts.trace {
        builder = builder.enable_msg_trace();
    }
    if let Some(auto_batch) = &opts.auto_batch {
        builder = builder.auto_batch(auto_batch.clone());
    }
    let config = builder.build().map_err(|e| (2, e.to_string()))?;
    let producer = ProducerActor::start(config)
        .await
        .map_err(|e| (1, format!("cannot start the producer: {e}")))?;

    let body = body_of(opts.size);
    let next_seq = Rc::new(Cell::new(0u64));
    let cap = opts.duration.unwrap_or(COUNT_MODE_CAP);

    let phase = Phase::begin(broker, stats.clone(), opts.count);
    let deadline = phase.start + cap;
    let unfinished_workers = match opts.rate {
        Some(rate) => {
            open_loop(
                producer.clone(),
                opts.clone(),
                body,
                rate,
                phase.start,
                deadline,
                stats.clone(),
            )
            .await
        }
        None => {
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
            unfinished_workers
        }
    };
    let mut result = phase.end(unfinished_workers);
    if opts.trace {
        result.trace = producer.send(GetProducerStats).await.ok().map(|s| s.trace);
    }

    let _ = tokio::time::timeout(Duration::from_secs(1), producer.send(Shutdown)).await;
    Ok(result)
}

/// The send phase's clock, CPU readings and per-second reporter.
struct Phase<'a> {
    broker: Option<&'a NullBroker>,
    stats: Rc<RefCell<Stats>>,
    cpu0: CpuTime,
    broker_cpu0: Option<CpuTime>,
    start: Instant,
    last_tick: Rc<Cell<Instant>>,
    reporter: actix_rt::task::JoinHandle<()>,
    /// Moves the progress bar, when there is one.
    progress: Option<actix_rt::task::JoinHandle<()>>,
    rss_start_kb: Option<u64>,
}

/// A `--count` run's progress bar, on stdout when it is a terminal (else none:
/// the per-second lines are the progress, and they are what a script reads).
fn progress_bar(count: Option<u64>) -> Option<ProgressBar> {
    let count = count.filter(|_| std::io::stdout().is_terminal())?;
    let bar = ProgressBar::with_draw_target(Some(count), ProgressDrawTarget::stdout());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} sends, {elapsed_precise} (eta {eta})")
            .expect("valid progress template"),
    );
    Some(bar)
}

/// Moves the bar to the sends done ten times a second (never from the send path).
async fn progress(stats: Rc<RefCell<Stats>>) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let s = stats.borrow();
        if let Some(bar) = &s.progress {
            bar.set_position(s.total.ok + s.total.failed);
        }
    }
}

impl<'a> Phase<'a> {
    fn begin(
        broker: Option<&'a NullBroker>,
        stats: Rc<RefCell<Stats>>,
        count: Option<u64>,
    ) -> Self {
        let bar = progress_bar(count);
        let progress = bar
            .is_some()
            .then(|| actix_rt::spawn(progress(stats.clone())));
        stats.borrow_mut().progress = bar;
        let cpu0 = process_cpu().unwrap_or_default();
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
            progress,
            rss_start_kb,
        }
    }

    /// Stops the clock and the reporter, prints the last, partial second.
    fn end(self, unfinished_workers: usize) -> RunResult {
        let elapsed = self.start.elapsed();
        let cpu1 = process_cpu().unwrap_or_default();
        let broker_cpu1 = self.broker.and_then(NullBroker::cpu);
        self.reporter.abort();
        if let Some(p) = self.progress {
            p.abort();
        }
        if let Some(bar) = self.stats.borrow_mut().progress.take() {
            bar.finish_and_clear();
        }
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
            cpu: cpu1.since(self.cpu0),
            broker_cpu: self.broker_cpu0.zip(broker_cpu1).map(|(a, b)| b.since(a)),
            unfinished_workers,
            trace: None,
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

/// The load of `opts` from the baseline client (benches/support/baseline.rs).
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

    let phase = Phase::begin(broker, stats.clone(), opts.count);
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
    let opts = parse_args();
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
        // Fetched by the producer from the address server (parse_args checked one is given).
        (None, None) => String::new(),
    };
    println!(
        "benchmark: {}{}{} topic={} size={} concurrency={} mode={:?} {}{} namesrv={}",
        if opts.null_broker {
            "null-broker"
        } else {
            "cluster"
        },
        if opts.baseline { " baseline" } else { "" },
        if opts.auto_batch.is_some() {
            " auto-batch"
        } else {
            ""
        },
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
        opts.rate
            .map(|r| format!(" rate={r}/s"))
            .unwrap_or_default(),
        if namesrv.is_empty() {
            format!(
                "(from {}/{})",
                opts.namesrv_domain.as_deref().unwrap_or("jmenv.tbsite.net"),
                opts.namesrv_subgroup.as_deref().unwrap_or("nsaddr")
            )
        } else {
            namesrv.clone()
        }
    );

    let mut stats = Stats::new();
    stats.open_loop = opts.rate.is_some();
    let stats = Rc::new(RefCell::new(stats));
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

    let s = stats.borrow();
    let sent = s.total.ok + s.total.failed;
    let elapsed = result.elapsed.as_secs_f64();
    let cpu_user = result.cpu.user.as_secs_f64();
    let cpu_sys = result.cpu.sys.as_secs_f64();
    let per_msg = |cpu_s: f64| {
        if sent == 0 {
            0.0
        } else {
            r1(cpu_s * 1e6 / sent as f64)
        }
    };
    let broker_cpu = result.broker_cpu.map(|c| (c.user + c.sys).as_secs_f64());
    let summary = serde_json::json!({
        "client": if opts.baseline { "baseline" } else { "producer" },
        "mode": match opts.mode { Mode::Sync => "sync", Mode::Oneway => "oneway" },
        "null_broker": opts.null_broker,
        "topic": opts.topic,
        "size": opts.size,
        "serialize": opts.serialize.name(),
        "connection_arbiter": opts.connection_arbiter,
        "concurrency": opts.concurrency,
        "acl": opts.acl.is_some(),
        "auto_batch": opts.auto_batch.is_some(),
        "delay_level": opts.delay_level,
        "trace": opts.trace,
        "trace_recorded": result.trace.map(|t| t.recorded),
        "trace_sent": result.trace.map(|t| t.sent),
        "trace_dropped": result.trace.map(|t| t.dropped),
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
        "max_rss_kb": max_rss_kb(),
        "rss_start_kb": result.rss_start_kb,
        "rss_end_kb": result.rss_end_kb,
        "rss_end_trimmed_kb": result.rss_end_trimmed_kb,
        "unfinished_workers": result.unfinished_workers,
        "rate": opts.rate,
        "late": s.late,
        "unissued": s.unissued,
        "start_lag_p50_us": r1(s.start_lag.quantile_us(0.50)),
        "start_lag_p99_us": r1(s.start_lag.quantile_us(0.99)),
    });
    println!("{summary}");
    let _ = std::io::stdout().flush();
    ExitCode::SUCCESS
}
