//! In-flight bounds (count and bytes), many concurrent sends, and shutdown.

#[path = "support/producer.rs"]
mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actix::MailboxError;
use actix_rocketmq::internals::protocol::codes::request_code;
use actix_rocketmq::testkit::Fault;
use actix_rocketmq::{ErrorKind, GetProducerStats, SendMessage, SendStatus, Shutdown};
use support::*;
use tokio::time::Instant;

const LIMIT: Duration = Duration::from_secs(5);

/// 10 000 sends at once through `max_in_flight(1000)`: all complete, each with
/// exactly one reply, and never more than 1000 in flight.
#[actix_rt::test]
async fn ten_thousand_concurrent_sends_each_get_one_reply() {
    let cluster = two_brokers().await;
    let producer = start(
        config("many_group", &cluster)
            .max_in_flight(1000)
            // The budget counts from creation and all 10 000 are created at once:
            // room for a loaded machine (the burst takes ~2 s in a debug build).
            .send_timeout(Duration::from_secs(10)),
    )
    .await;
    // Sample the in-flight count while the burst runs.
    let peak_in_flight = Arc::new(AtomicUsize::new(0));
    let peak_waiting = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (producer, peak_in_flight, peak_waiting, done) = (
            producer.clone(),
            peak_in_flight.clone(),
            peak_waiting.clone(),
            done.clone(),
        );
        actix_rt::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Ok(s) = producer.send(GetProducerStats).await {
                    peak_in_flight.fetch_max(s.in_flight, Ordering::Relaxed);
                    peak_waiting.fetch_max(s.waiting_for_capacity, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let (recipient, outcomes) = collector();
    let n = 10_000u64;
    let pending: Vec<_> = (0..n)
        .map(|i| {
            let m = msg(format!("many {i}"));
            producer.send(SendMessage::new(m).notify(recipient.clone(), i))
        })
        .collect();
    let results = within(
        Duration::from_secs(15),
        "10 000 sends",
        futures::future::join_all(pending),
    )
    .await;
    done.store(true, Ordering::Relaxed);
    let _ = sampler.await;

    let mut ids = HashSet::new();
    for (i, r) in results.into_iter().enumerate() {
        let r = r
            .expect("mailbox")
            .unwrap_or_else(|e| panic!("send {i} failed: {e}"));
        assert_eq!(r.status, SendStatus::SendOk);
        assert!(ids.insert(r.msg_id), "send {i}: ids are unique");
    }
    assert!(
        eventually(LIMIT, || outcomes.total() == n as usize).await,
        "{} outcomes",
        outcomes.total()
    );
    let counts = outcomes.counts();
    assert_eq!(counts.len(), n as usize);
    assert!(
        counts.values().all(|c| *c == 1),
        "exactly one outcome per send"
    );
    let stored: HashSet<String> = cluster
        .messages(TOPIC)
        .iter()
        .map(|m| m.uniq_key().unwrap().to_owned())
        .collect();
    assert_eq!(stored, ids, "every reply matches one stored message");
    let peak = peak_in_flight.load(Ordering::Relaxed);
    assert!(peak <= 1000, "in flight peaked at {peak}");
    assert!(peak > 0, "the sampler saw the burst");
    let stats = producer.send(GetProducerStats).await.unwrap();
    assert_eq!(stats.sent_ok, n);
    assert_eq!((stats.in_flight, stats.in_flight_bytes), (0, 0));
    assert_eq!(stats.waiting_for_capacity, 0);
    println!(
        "peak in flight {peak}, peak waiting {}",
        peak_waiting.load(Ordering::Relaxed)
    );
}

/// A body larger than `max_in_flight_bytes` could never fit: Backpressure at once.
#[actix_rt::test]
async fn message_larger_than_in_flight_bytes_fails_at_once() {
    let cluster = one_broker().await;
    let producer = start(
        config("too_big_group", &cluster)
            .max_in_flight_bytes(1024)
            .compress_msg_body_over(1 << 20),
    )
    .await;
    let started = Instant::now();
    let err = within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(msg("x".repeat(2048)))),
    )
    .await
    .unwrap()
    .expect_err("cannot fit");
    assert!(started.elapsed() < Duration::from_millis(200));
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Backpressure {
                max_in_flight_bytes: 1024,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        cluster
            .broker("broker-a")
            .received_with_code(request_code::SEND_MESSAGE_V2)
            .is_empty()
    );
    // One that fits still goes.
    let ok = producer
        .send(SendMessage::new(msg("x".repeat(512))))
        .await
        .unwrap();
    assert!(ok.is_ok(), "{ok:?}");
}

/// The byte bound parks a send until room frees up; a parked send whose budget
/// runs out fails with Backpressure.
#[actix_rt::test]
async fn byte_bound_parks_sends_then_backpressure_on_expiry() {
    let cluster = one_broker().await;
    let a = cluster.broker("broker-a");
    let producer = start(
        config("bytes_group", &cluster)
            .max_in_flight_bytes(64 * 1024)
            .compress_msg_body_over(1 << 20)
            .send_timeout(Duration::from_millis(1500)),
    )
    .await;
    producer
        .send(SendMessage::new(msg("warm-up")))
        .await
        .unwrap()
        .expect("warm-up");
    let big = || msg("b".repeat(40 * 1024));

    // Room frees up in time: the second send waits for the first, then goes.
    let delay = Duration::from_millis(200);
    let slow = a.inject(Fault::delay(delay).on_sends().times(2));
    let started = Instant::now();
    let first = producer.send(SendMessage::new(big()));
    let second = producer.send(SendMessage::new(big()));
    let stats = producer.send(GetProducerStats).await.unwrap();
    assert_eq!((stats.in_flight, stats.waiting_for_capacity), (1, 1));
    let (first, second) = within(LIMIT, "sends", futures::future::join(first, second)).await;
    first.unwrap().expect("first fits");
    second.unwrap().expect("second waited for room");
    assert!(started.elapsed() >= delay * 2, "{:?}", started.elapsed());
    a.remove_fault(slow);

    // Room does not free up in time: the parked send fails with Backpressure at its deadline.
    // It is created first, so its budget ends before the in-flight one's.
    a.inject(Fault::delay(Duration::from_secs(3)).on_sends().times(1));
    let parked = SendMessage::new(big());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hog = producer.send(SendMessage::new(big()));
    let started = Instant::now();
    let err = within(LIMIT, "parked send", producer.send(parked))
        .await
        .unwrap()
        .expect_err("no room in time");
    assert!(
        matches!(err.kind(), ErrorKind::Backpressure { in_flight: 1, .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1400));
    let hog = within(LIMIT, "hog", hog).await.unwrap();
    assert!(hog.unwrap_err().is_timeout());
    let stats = producer.send(GetProducerStats).await.unwrap();
    assert_eq!(
        (
            stats.in_flight,
            stats.in_flight_bytes,
            stats.waiting_for_capacity
        ),
        (0, 0, 0)
    );
}

/// Shutdown lets in-flight sends finish, refuses later ones, unregisters the
/// group from the broker and leaves another producer of the same client instance working.
#[actix_rt::test]
async fn shutdown_drains_refuses_unregisters_and_spares_other_producers() {
    let cluster = one_broker().await;
    let a = cluster.broker("broker-a");
    let cfg_a = config("shutdown_a_group", &cluster)
        .instance_name("shared")
        .build()
        .unwrap();
    let cfg_b = config("shutdown_b_group", &cluster)
        .instance_name("shared")
        .build()
        .unwrap();
    assert_eq!(cfg_a.client_id(), cfg_b.client_id(), "one client instance");
    let client_id = cfg_a.client_id();
    let pa = actix_rocketmq::ProducerActor::start(cfg_a).await.unwrap();
    let pb = actix_rocketmq::ProducerActor::start(cfg_b).await.unwrap();
    for p in [&pa, &pb] {
        p.send(SendMessage::new(msg("warm-up")))
            .await
            .unwrap()
            .expect("warm-up");
    }

    a.inject(Fault::delay(Duration::from_millis(300)).on_sends().times(5));
    let in_flight: Vec<_> = (0..5)
        .map(|i| pa.send(SendMessage::new(msg(format!("in flight {i}")))))
        .collect();
    let shutdown = pa.send(Shutdown);
    let late = pa.send(SendMessage::new(msg("too late")));
    let started = Instant::now();
    let late = within(LIMIT, "late send", late).await.unwrap();
    assert_eq!(late.unwrap_err().kind(), &ErrorKind::ShutDown);
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "refused at once, not after the drain"
    );
    for r in within(
        LIMIT,
        "in-flight sends",
        futures::future::join_all(in_flight),
    )
    .await
    {
        r.unwrap().expect("in-flight sends complete");
    }
    within(LIMIT, "shutdown", shutdown).await.unwrap();

    let unregisters = a.unregisters();
    assert!(
        unregisters
            .iter()
            .any(|u| u.client_id == client_id
                && u.producer_group.as_deref() == Some("shutdown_a_group")),
        "{unregisters:?}"
    );
    assert!(
        !unregisters
            .iter()
            .any(|u| u.producer_group.as_deref() == Some("shutdown_b_group"))
    );
    // The stopped producer takes no more messages.
    assert!(eventually(LIMIT, || !pa.connected()).await);
    assert!(matches!(
        pa.send(SendMessage::new(msg("after stop"))).await,
        Err(MailboxError::Closed)
    ));
    // The other producer of the instance keeps working.
    let r = within(
        LIMIT,
        "b send",
        pb.send(SendMessage::new(msg("b still works"))),
    )
    .await
    .unwrap()
    .expect("the other producer still sends");
    assert_eq!(r.status, SendStatus::SendOk);
    assert_eq!(a.messages(TOPIC).len(), 2 + 5 + 1);
    within(LIMIT, "shutdown b", pb.send(Shutdown))
        .await
        .unwrap();
    assert!(
        a.unregisters()
            .iter()
            .any(|u| u.producer_group.as_deref() == Some("shutdown_b_group"))
    );
}
