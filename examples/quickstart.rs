//! Quickstart: start a producer, send a few messages, print each result.
//!
//! With no arguments it needs no setup: an in-process test broker (the
//! crate's `testkit`, enabled for examples by the dev-dependency on this
//! crate) is started inside the example and ten messages are sent to it.
//!
//! ```text
//! cargo run --example quickstart
//! cargo run --example quickstart -- --namesrv 127.0.0.1:9876 --topic TopicTest --count 10 \
//!     [--tag TagA] [--body-size 1024] [--property K=V]... [--group G]
//! NAMESRV_ADDR=127.0.0.1:9876 cargo run --example quickstart
//! ```
//!
//! `--namesrv` (`-n`) falls back to `NAMESRV_ADDR`; without either,
//! `--namesrv-domain HOST[:PORT]` (and `--namesrv-subgroup`) fetch the list over HTTP; `--help` lists the flags.
//!
//! Message `i` (from 0) has tag `TagA` (or `--tag`), keys `KEY{i}`, the given
//! user properties and body `Hello RocketMQ {i}`; with `--body-size B` that
//! text is repeated and cut to exactly `B` bytes. One line is printed per
//! send, then a last line with a one-line JSON summary
//! `{"sent":N,"ok":..,"failed":..}`. The exit code is 0 only if every send
//! succeeded (2 for a usage error).
use std::process::ExitCode;

use actix_rocketmq::testkit::TestCluster;
use actix_rocketmq::{Message, ProducerActor, ProducerConfig, SendMessage, Shutdown};
use clap::Parser;

/// Quickstart: start a producer, send a few messages, print each result.
///
/// Without a name server (neither --namesrv nor NAMESRV_ADDR) an in-process
/// test broker is started and used.
#[derive(Debug, Parser)]
#[command(name = "quickstart")]
struct Args {
    /// Name servers of a cluster
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
    /// Topic
    #[arg(short = 't', long, default_value = "TopicTest")]
    topic: String,
    /// Messages to send
    #[arg(long, value_name = "N", default_value_t = 10)]
    count: u64,
    /// Tag of every message
    #[arg(long, default_value = "TagA")]
    tag: String,
    /// Body of exactly BYTES bytes (the text repeated) [default: the text]
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    body_size: Option<u64>,
    /// A user property of every message (repeatable)
    #[arg(long = "property", value_name = "KEY=VALUE", value_parser = property)]
    properties: Vec<(String, String)>,
    /// Producer group
    #[arg(long, default_value = "quickstart_producer_group")]
    group: String,
}

fn property(v: &str) -> Result<(String, String), String> {
    match v.split_once('=') {
        Some((k, val)) if !k.is_empty() => Ok((k.to_owned(), val.to_owned())),
        _ => Err("expected KEY=VALUE".into()),
    }
}

/// `Hello RocketMQ {i}`, or that text repeated and cut to exactly `size` bytes.
fn body(i: u64, size: Option<u64>) -> Vec<u8> {
    let text = format!("Hello RocketMQ {i}");
    match size {
        None => text.into_bytes(),
        Some(n) => text.bytes().cycle().take(n as usize).collect(),
    }
}

#[actix_rt::main]
async fn main() -> ExitCode {
    let args = Args::parse();

    // No name server given: serve the topic from an in-process test broker
    // (unless an address server is to be asked for the list).
    let discover = args.namesrv_domain.is_some() || args.namesrv_subgroup.is_some();
    let (cluster, namesrv) = match args.namesrv.as_ref().filter(|v| !v.trim().is_empty()) {
        Some(addr) => (None, addr.clone()),
        None if discover => (None, String::new()),
        None => {
            let cluster = match TestCluster::builder()
                .broker("broker-a")
                .topic(args.topic.as_str(), 4)
                .start()
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: cannot start the in-process test broker: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let addr = cluster.namesrv_addr();
            println!("started an in-process test broker, name server at {addr}");
            (Some(cluster), addr)
        }
    };

    let mut builder = ProducerConfig::builder(args.group.as_str()).namesrv_addr(&namesrv);
    if let Some(domain) = &args.namesrv_domain {
        builder = builder.namesrv_domain(domain.as_str());
    }
    if let Some(subgroup) = &args.namesrv_subgroup {
        builder = builder.namesrv_domain_subgroup(subgroup.as_str());
    }
    let config = match builder.build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let producer = match ProducerActor::start(config).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot start the producer: {e}");
            return ExitCode::FAILURE;
        }
    };

    let (mut ok, mut failed) = (0u64, 0u64);
    for i in 0..args.count {
        let mut msg = Message::new(args.topic.as_str(), body(i, args.body_size))
            .with_tags(args.tag.as_str())
            .with_keys(format!("KEY{i}"));
        for (k, v) in &args.properties {
            msg = msg.with_property(k.as_str(), v.as_str());
        }
        match producer.send(SendMessage::new(msg)).await {
            Ok(Ok(result)) => {
                ok += 1;
                println!("#{i} {result}");
            }
            Ok(Err(e)) => {
                failed += 1;
                println!("#{i} FAILED: {e}");
            }
            Err(e) => {
                failed += 1;
                println!("#{i} FAILED: the producer is gone: {e}");
            }
        }
    }

    let _ = producer.send(Shutdown).await;
    if let Some(cluster) = cluster {
        cluster.shutdown().await;
    }
    println!(
        "{{\"sent\":{},\"ok\":{ok},\"failed\":{failed}}}",
        args.count
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
