//! The producer used from code that is not an actor: a plain `fn main` that
//! runs an `actix_rt::System`, and a plain thread with a plain tokio runtime.
//!
//! With no arguments it needs no setup: an in-process test broker (the
//! crate's `testkit`) is started inside the example.
//!
//! ```text
//! cargo run --example plain_system
//! cargo run --example plain_system -- --namesrv 127.0.0.1:9876 [--topic TopicTest]
//! ```
//!
//! What needs actix and what does not:
//!
//! * `ProducerActor::start` must run inside an actix System (here
//!   `System::new().block_on(..)`; `#[actix_rt::main]`, `#[actix_web::main]`
//!   and actix-web's workers are ones too): the producer is an actor that runs
//!   on the current thread's arbiter. On a plain tokio runtime (`#[tokio::main]`)
//!   it returns an `ErrorKind::Config` error saying so, rather than panicking
//!   ("System is not running") as an actor started outside a System would.
//! * The `Addr<ProducerActor>` it returns is `Send + Sync` and its replies are
//!   runtime-agnostic futures: any thread, on any executor (a plain tokio
//!   runtime included), can send through a clone of it, while the System that
//!   started the producer keeps running.
use std::process::ExitCode;

use actix_rocketmq::testkit::TestCluster;
use actix_rocketmq::{ErrorKind, Message, ProducerActor, ProducerConfig, ProducerExt};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut namesrv, mut topic) = (None, "TopicTest".to_owned());
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--namesrv", Some(v)) => namesrv = Some(v),
            ("--topic", Some(v)) => topic = v,
            _ => {
                eprintln!("usage: plain_system [--namesrv HOST:PORT] [--topic TOPIC]");
                return ExitCode::from(2);
            }
        }
    }

    // No #[actix_rt::main]: the System is made and run by hand.
    let system = actix_rt::System::new();
    let outcome = system.block_on(run(namesrv, topic));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(namesrv: Option<String>, topic: String) -> Result<(), Box<dyn std::error::Error>> {
    // No name server given: serve the topic from an in-process test broker.
    let cluster = match namesrv {
        Some(_) => None,
        None => Some(
            TestCluster::builder()
                .broker("broker-a")
                .topic(topic.as_str(), 4)
                .start()
                .await?,
        ),
    };
    let namesrv = namesrv.unwrap_or_else(|| cluster.as_ref().unwrap().namesrv_addr());

    let config = ProducerConfig::builder("plain_system_group")
        .namesrv_addr(&namesrv)
        .build()?;
    let producer = ProducerActor::start(config).await?;

    // From the System's thread: the reply, flattened by ProducerExt.
    let result = producer
        .send_message(Message::new(topic.as_str(), "from the System's thread"))
        .await?;
    println!("sent from the System's thread: {result}");

    // From a plain thread on a plain tokio runtime: sending works, starting does not.
    let addr = producer.clone();
    let worker_topic = topic.clone();
    let worker = std::thread::spawn(move || -> Result<(), actix_rocketmq::Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let result = addr
                .send_message(Message::new(
                    worker_topic.as_str(),
                    "from a plain tokio thread",
                ))
                .await?;
            println!("sent from a plain tokio thread: {result}");
            let config = ProducerConfig::builder("plain_tokio_group")
                .namesrv_addr(&namesrv)
                .build()?;
            match ProducerActor::start(config).await {
                Err(e) if matches!(e.kind(), ErrorKind::Config(_)) => {
                    println!("ProducerActor::start on a plain tokio runtime: {e}");
                    Ok(())
                }
                Err(e) => Err(e),
                Ok(_) => Err(actix_rocketmq::Error::config(
                    "expected no producer to start without an actix System",
                )),
            }
        })
    });
    // Joining blocks this thread, which also runs the producer: wait for the worker off it.
    let joined = tokio::task::spawn_blocking(move || worker.join())
        .await?
        .map_err(|_| "the worker thread panicked")?;
    joined?;

    producer.shutdown().await?;
    if let Some(cluster) = cluster {
        println!(
            "the broker stored {} message(s)",
            cluster.messages(&topic).len()
        );
        cluster.shutdown().await;
    }
    Ok(())
}
