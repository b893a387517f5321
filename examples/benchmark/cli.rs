//! The command line: its flags, help text and checks, and the options they give.

use std::time::Duration;

use actix_rocketmq::internals::protocol::SerializeType;
use actix_rocketmq::{AclCredentials, AutoBatch, CompressionType};
use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, ValueEnum};

/// Java benchmark's defaults for `-a` without `--ak`/`--sk`.
const JAVA_DEFAULT_AK: &str = "12345678";
const JAVA_DEFAULT_SK: &str = "rocketmq2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Sync,
    Oneway,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BrokerFault {
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
    /// With --auto-batch: requests (single or batch) in flight per topic before later
    /// sends gather; a chosen queue always has one [default: the producer's]
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
pub struct Opts {
    pub namesrv: Option<String>,
    /// The address server asked for the name servers when none is given.
    pub namesrv_domain: Option<String>,
    pub namesrv_subgroup: Option<String>,
    pub null_broker: bool,
    /// Only serve a null broker for this long (to measure a client in another process).
    pub serve_secs: Option<f64>,
    pub topic: String,
    pub size: usize,
    pub concurrency: usize,
    pub mode: Mode,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    /// Open-loop sends per second.
    pub rate: Option<f64>,
    pub tag: Option<String>,
    pub keys: bool,
    /// Message trace on.
    pub trace: bool,
    /// The delay level of every message (none: no delay).
    pub delay_level: Option<i32>,
    pub compress_over: Option<usize>,
    pub compress_type: Option<CompressionType>,
    pub compress_level: Option<u32>,
    pub send_timeout: Duration,
    pub serialize: SerializeType,
    pub group: String,
    pub broker_fault: Option<(BrokerFault, Duration)>,
    pub connection_arbiter: bool,
    /// Sign every request with these credentials.
    pub acl: Option<AclCredentials>,
    /// The baseline client (benches/support/baseline.rs) instead of a producer.
    pub baseline: bool,
    /// Auto-batching settings (none: off).
    pub auto_batch: Option<AutoBatch>,
}

/// The options from the command line; a usage error exits with status 2 (clap's).
pub fn parse_args() -> Opts {
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
