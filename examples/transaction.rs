//! Transactional sends: a half message, the local transaction, then commit or
//! rollback; a transaction left open is settled by the broker asking the
//! producer's checker.
//!
//! With no arguments it needs no setup: an in-process test broker is started
//! and made to check the open transaction at once. Against a real cluster the
//! broker checks it after its `transactionTimeout` (6 s by default), so the
//! example waits for that check (up to `--check-wait` seconds, default 90).
//!
//! ```text
//! cargo run --example transaction
//! cargo run --example transaction -- --namesrv 127.0.0.1:9876 [--topic TopicTest] [--check-wait 90]
//! ```
//!
//! `--namesrv` (`-n`) falls back to `NAMESRV_ADDR`; `--help` lists the flags.
//!
//! It places three orders. Order 1's local transaction succeeds: committed.
//! Order 2's fails: rolled back. Order 3's outcome is not known when the
//! example ends the transaction (`Unknown`); the checker finds it in the
//! "database" and commits it. One line per step, then a one-line JSON summary
//! `{"committed":[..],"rolled_back":[..],"checked":[..]}`. Exit code 0 when all
//! three went as described.
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_rocketmq::testkit::TestCluster;
use actix_rocketmq::{
    Message, ProducerActor, ProducerConfig, SendMessageInTransaction, Shutdown, Transaction,
    TransactionCheck, TransactionResolution,
};
use clap::Parser;

/// The application's own record of its local transactions, by transaction id.
type Orders = Arc<Mutex<HashMap<String, TransactionResolution>>>;

/// Transactional sends: commit, rollback, and a transaction settled by the broker's check.
///
/// Without a name server (neither --namesrv nor NAMESRV_ADDR) an in-process
/// test broker is started and used.
#[derive(Debug, Parser)]
#[command(name = "transaction")]
struct Args {
    /// Name servers of a cluster
    #[arg(
        short = 'n',
        long,
        env = "NAMESRV_ADDR",
        value_name = "HOST:PORT[;HOST:PORT]"
    )]
    namesrv: Option<String>,
    /// Topic
    #[arg(short = 't', long, default_value = "TopicTest")]
    topic: String,
    /// Longest wait for the broker's check of the open transaction
    #[arg(long, value_name = "SECS", default_value_t = 90)]
    check_wait: u64,
}

async fn half(producer: &actix::Addr<ProducerActor>, topic: &str, order: u32) -> Transaction {
    let msg =
        Message::new(topic, format!("order {order} created")).with_keys(format!("order-{order}"));
    match producer.send(SendMessageInTransaction::new(msg)).await {
        Ok(Ok(tx)) => {
            println!(
                "order {order}: half message stored, transaction {}",
                tx.transaction_id()
            );
            tx
        }
        Ok(Err(e)) => panic!("order {order}: half message not stored: {e}"),
        Err(e) => panic!("order {order}: producer gone: {e}"),
    }
}

#[actix_rt::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let check_wait = Duration::from_secs(args.check_wait);
    let namesrv_arg = args.namesrv.clone().filter(|v| !v.trim().is_empty());
    let cluster = match &namesrv_arg {
        Some(_) => None,
        None => Some(
            TestCluster::builder()
                .topic(args.topic.as_str(), 4)
                .start()
                .await
                .expect("the in-process test broker starts"),
        ),
    };
    let namesrv = match (&namesrv_arg, &cluster) {
        (Some(n), _) => n.clone(),
        (None, Some(c)) => c.namesrv_addr(),
        (None, None) => unreachable!("a cluster is started without --namesrv"),
    };

    let orders: Orders = Arc::default();
    let checked = Arc::new(Mutex::new(Vec::new()));
    let (table, seen) = (orders.clone(), checked.clone());
    let config = ProducerConfig::builder("transaction_example_group")
        .namesrv_addr(&namesrv)
        // What the broker asks when it does not know a transaction's outcome.
        .transaction_checker(move |check: TransactionCheck| {
            let answer = table
                .lock()
                .unwrap()
                .get(&check.transaction_id)
                .copied()
                .unwrap_or_default();
            println!("check of {}: {answer:?}", check.transaction_id);
            seen.lock().unwrap().push(check.transaction_id);
            async move { answer }
        })
        .build()
        .expect("valid config");
    let producer = ProducerActor::start(config).await.expect("producer starts");
    let topic = args.topic.as_str();

    // Order 1: the local transaction succeeds.
    let tx = half(&producer, topic, 1).await;
    let id1 = tx.transaction_id().to_owned();
    orders
        .lock()
        .unwrap()
        .insert(id1.clone(), TransactionResolution::Commit);
    tx.commit().await.expect("commit written");
    println!("order 1: committed");

    // Order 2: the local transaction fails.
    let tx = half(&producer, topic, 2).await;
    let id2 = tx.transaction_id().to_owned();
    orders
        .lock()
        .unwrap()
        .insert(id2.clone(), TransactionResolution::Rollback);
    tx.rollback().await.expect("rollback written");
    println!("order 2: rolled back");

    // Order 3: the outcome is recorded only after the transaction was ended Unknown.
    let tx = half(&producer, topic, 3).await;
    let id3 = tx.transaction_id().to_owned();
    tx.end(TransactionResolution::Unknown)
        .await
        .expect("END_TRANSACTION written");
    orders
        .lock()
        .unwrap()
        .insert(id3.clone(), TransactionResolution::Commit);
    println!("order 3: left to the broker's check");
    if let Some(c) = &cluster {
        // The test broker checks when told to; a real one does by itself.
        let broker = &c.brokers()[0];
        let stored = c
            .messages(topic)
            .into_iter()
            .find(|m| m.uniq_key() == Some(id3.as_str()))
            .expect("order 3's half message is stored");
        broker
            .check_transaction(&stored)
            .expect("the producer is connected");
    }
    let deadline = Instant::now() + check_wait;
    while !checked.lock().unwrap().contains(&id3) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let settled = checked.lock().unwrap().contains(&id3);
    // Give the answer to the check a moment to be written before shutting down.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let _ = producer.send(Shutdown).await;
    if let Some(c) = cluster {
        c.shutdown().await;
    }
    println!(
        "{{\"committed\":[\"{id1}\"],\"rolled_back\":[\"{id2}\"],\"checked\":[{}]}}",
        if settled {
            format!("\"{id3}\"")
        } else {
            String::new()
        }
    );
    if settled {
        ExitCode::SUCCESS
    } else {
        eprintln!("order 3 was not checked within {:?}", check_wait);
        ExitCode::FAILURE
    }
}
