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
//! ```
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

const USAGE: &str = "\
usage: quickstart [--namesrv HOST:PORT[;HOST:PORT]] [--topic TOPIC] [--count N]
                  [--tag TAG] [--body-size BYTES] [--property KEY=VALUE]... [--group GROUP]

Without --namesrv an in-process test broker is started and used.
Defaults: --topic TopicTest --count 10 --tag TagA --group quickstart_producer_group";

struct Args {
    namesrv: Option<String>,
    topic: String,
    count: u64,
    tag: String,
    body_size: Option<usize>,
    properties: Vec<(String, String)>,
    group: String,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        namesrv: None,
        topic: "TopicTest".to_owned(),
        count: 10,
        tag: "TagA".to_owned(),
        body_size: None,
        properties: Vec::new(),
        group: "quickstart_producer_group".to_owned(),
    };
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let mut value = || {
            it.next()
                .filter(|v| !v.starts_with("--"))
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--namesrv" => args.namesrv = Some(value()?),
            "--topic" => args.topic = value()?,
            "--count" => {
                let v = value()?;
                args.count = v
                    .parse()
                    .map_err(|_| format!("--count {v}: not a non-negative integer"))?;
            }
            "--tag" => args.tag = value()?,
            "--body-size" => {
                let v = value()?;
                let n: usize = v
                    .parse()
                    .map_err(|_| format!("--body-size {v}: not a non-negative integer"))?;
                if n == 0 {
                    return Err(
                        "--body-size must be at least 1 (RocketMQ refuses empty bodies)".into(),
                    );
                }
                args.body_size = Some(n);
            }
            "--property" => {
                let v = value()?;
                match v.split_once('=') {
                    Some((k, val)) if !k.is_empty() => {
                        args.properties.push((k.to_owned(), val.to_owned()))
                    }
                    _ => return Err(format!("--property {v}: expected KEY=VALUE")),
                }
            }
            "--group" => args.group = value()?,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

/// `Hello RocketMQ {i}`, or that text repeated and cut to exactly `size` bytes.
fn body(i: u64, size: Option<usize>) -> Vec<u8> {
    let text = format!("Hello RocketMQ {i}");
    match size {
        None => text.into_bytes(),
        Some(n) => text.bytes().cycle().take(n).collect(),
    }
}

#[actix_rt::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    // No name server given: serve the topic from an in-process test broker.
    let (cluster, namesrv) = match &args.namesrv {
        Some(addr) => (None, addr.clone()),
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

    let config = match ProducerConfig::builder(args.group.as_str())
        .namesrv_addr(&namesrv)
        .build()
    {
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
