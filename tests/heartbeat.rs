//! `HeartbeatActor` against the in-process brokers: HEART_BEAT with the client
//! id and groups to every master at once, for new brokers, on producer
//! registration, every interval (paused clock), and across a supervised restart.
#[path = "support/runtime.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use actix::prelude::*;

use actix_rocketmq::internals::protocol::codes::request_code;
use actix_rocketmq::internals::protocol::heartbeat::HeartbeatData;
use actix_rocketmq::internals::runtime::heartbeat::{
    BeatNow, GetHeartbeatStats, HeartbeatActor, SetGroups, SetTargets, StopHeartbeat,
};
use actix_rocketmq::internals::runtime::{
    Connection, ConnectionActor, ConnectionConfig, StopUnexpectedly,
};
use actix_rocketmq::testkit::{BrokerHandle, TestCluster};
use actix_rocketmq::{Message, ProducerActor, ProducerConfig, SendMessage, Shutdown};

use support::{run_paused, spin_await, spin_for, spin_until, wait_until};

const CLIENT_ID: &str = "10.0.0.1@hb-test";

async fn cluster() -> TestCluster {
    TestCluster::builder()
        .broker("broker-a")
        .broker("broker-b")
        .topic("T", 2)
        .start()
        .await
        .expect("test cluster")
}

fn targets(brokers: &[&BrokerHandle]) -> BTreeMap<String, Connection> {
    brokers
        .iter()
        .map(|b| {
            (
                b.name().to_string(),
                ConnectionActor::start_supervised(b.addr(), ConnectionConfig::default()),
            )
        })
        .collect()
}

fn groups(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn beat_groups(hb: &HeartbeatData) -> BTreeSet<String> {
    hb.producer_data_set
        .iter()
        .map(|p| p.group_name.clone())
        .collect()
}

fn heartbeat_codes(b: &BrokerHandle) -> usize {
    b.received_with_code(request_code::HEART_BEAT).len()
}

#[actix_rt::test]
async fn every_master_is_beaten_at_once_with_the_client_id_and_groups() {
    let cl = cluster().await;
    let (a, b) = (cl.broker("broker-a"), cl.broker("broker-b"));
    let hb = HeartbeatActor::new(
        CLIENT_ID.into(),
        Duration::from_secs(30),
        Duration::from_millis(500),
    )
    .start();
    hb.send(SetGroups(groups(&["g1", "g2"]))).await.unwrap();
    // Two new brokers: both hear from us at once, not at the next 30 s tick.
    hb.send(SetTargets(targets(&[&a, &b]))).await.unwrap();
    wait_until("a heartbeat at each broker", || {
        a.heartbeats() == 1 && b.heartbeats() == 1
    })
    .await;
    for broker in [&a, &b] {
        let last = broker.last_heartbeat().unwrap();
        assert_eq!(last.client_id, CLIENT_ID);
        assert_eq!(beat_groups(&last), groups(&["g1", "g2"]));
        assert!(last.consumer_data_set.is_empty());
    }

    // All masters at once: a frozen broker-a does not hold broker-b's beat back.
    a.freeze();
    let t0 = std::time::Instant::now();
    let beat = hb.send(BeatNow);
    let b_beat = b.wait_for(Duration::from_secs(2), |r| {
        r.code() == request_code::HEART_BEAT && !r.is_response() && r.at > t0
    });
    let (acked, seen) = futures::join!(beat, b_beat);
    let seen = seen.expect("broker-b beaten");
    assert!(
        seen.at.duration_since(t0) < Duration::from_millis(300),
        "broker-b waited for broker-a"
    );
    assert_eq!(acked.unwrap(), 1, "only broker-b acknowledged");
    let s = hb.send(GetHeartbeatStats).await.unwrap();
    assert_eq!((s.rounds, s.sent, s.acked), (2, 4, 3));
    a.unfreeze();
}

#[actix_rt::test]
async fn a_new_broker_is_beaten_at_once_and_the_others_are_left_alone() {
    let cl = cluster().await;
    let (a, b) = (cl.broker("broker-a"), cl.broker("broker-b"));
    let hb = HeartbeatActor::new(
        CLIENT_ID.into(),
        Duration::from_secs(30),
        Duration::from_secs(1),
    )
    .start();
    hb.send(SetGroups(groups(&["g1"]))).await.unwrap();
    let mut t = targets(&[&a]);
    hb.send(SetTargets(t.clone())).await.unwrap();
    wait_until("broker-a beaten", || a.heartbeats() == 1).await;

    t.extend(targets(&[&b]));
    hb.send(SetTargets(t)).await.unwrap();
    wait_until("the new broker-b beaten", || b.heartbeats() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        a.heartbeats(),
        1,
        "a known broker is not beaten again off-schedule"
    );
    assert_eq!(b.heartbeats(), 1);
}

/// Under a supervisor, a heartbeat actor stopped unexpectedly restarts with its
/// targets, groups and counters, beats at once, and keeps its interval; one
/// stopped by `StopHeartbeat` stays stopped.
#[test]
fn a_supervised_heartbeat_survives_an_unexpected_stop() {
    run_paused(async {
        let cl = cluster().await;
        let (a, b) = (cl.broker("broker-a"), cl.broker("broker-b"));
        let t0 = tokio::time::Instant::now();
        let hb = HeartbeatActor::new(
            CLIENT_ID.into(),
            Duration::from_secs(30),
            Duration::from_secs(3),
        )
        .start_supervised();
        hb.send(SetGroups(groups(&["g1", "g2"]))).await.unwrap();
        hb.send(SetTargets(targets(&[&a, &b]))).await.unwrap();
        spin_until("the first beats", || {
            a.heartbeats() == 1 && b.heartbeats() == 1
        })
        .await;

        hb.send(StopUnexpectedly).await.unwrap();
        // The restarted actor beats at once: a round in flight may have been cancelled.
        spin_until("a beat right after the restart", || {
            a.heartbeats() == 2 && b.heartbeats() == 2
        })
        .await;
        for broker in [&a, &b] {
            let last = broker.last_heartbeat().unwrap();
            assert_eq!(last.client_id, CLIENT_ID);
            assert_eq!(beat_groups(&last), groups(&["g1", "g2"]), "groups kept");
        }
        let s = spin_await(hb.send(GetHeartbeatStats)).await.unwrap();
        assert_eq!((s.restarts, s.rounds, s.sent), (1, 2, 4), "counters kept");
        assert_eq!(
            spin_await(hb.send(BeatNow)).await.unwrap(),
            2,
            "targets kept"
        );

        // The interval runs again after the restart: the tick at 30 s.
        tokio::time::sleep_until(t0 + Duration::from_secs(31)).await;
        spin_until("the interval beat", || {
            a.heartbeats() == 4 && b.heartbeats() == 4
        })
        .await;

        // An orderly stop is for good, though we hold its address: no restart, no more beats.
        hb.send(StopHeartbeat).await.unwrap();
        spin_until("the actor ended", || !hb.connected()).await;
        assert!(hb.send(BeatNow).await.is_err());
        tokio::time::sleep_until(t0 + Duration::from_secs(95)).await;
        spin_for(Duration::from_millis(50)).await;
        assert_eq!(
            (a.heartbeats(), b.heartbeats()),
            (4, 4),
            "no beat after the stop"
        );
    });
}

#[test]
fn heartbeats_go_out_every_interval() {
    run_paused(async {
        let cl = cluster().await;
        let (a, b) = (cl.broker("broker-a"), cl.broker("broker-b"));
        let t0 = tokio::time::Instant::now();
        let hb = HeartbeatActor::new(
            CLIENT_ID.into(),
            Duration::from_secs(30),
            Duration::from_secs(3),
        )
        .start();
        hb.send(SetGroups(groups(&["g1"]))).await.unwrap();
        hb.send(SetTargets(targets(&[&a, &b]))).await.unwrap();
        spin_until("the first beats", || {
            a.heartbeats() == 1 && b.heartbeats() == 1
        })
        .await;

        tokio::time::sleep_until(t0 + Duration::from_secs(29)).await;
        spin_for(Duration::from_millis(50)).await;
        assert_eq!(
            (a.heartbeats(), b.heartbeats()),
            (1, 1),
            "nothing before the first 30 s tick"
        );

        // 95 s of paused time: ticks at 30, 60 and 90 s.
        tokio::time::sleep_until(t0 + Duration::from_secs(95)).await;
        spin_until("three interval beats", || {
            a.heartbeats() == 4 && b.heartbeats() == 4
        })
        .await;
        spin_for(Duration::from_millis(50)).await;
        assert_eq!(
            (a.heartbeats(), b.heartbeats()),
            (4, 4),
            "exactly one beat per broker per interval"
        );
        let s = hb.send(GetHeartbeatStats).await.unwrap();
        assert_eq!(s.rounds, 4);
        assert_eq!(s.sent, 8);
    });
}

fn producer_cfg(group: &str, cl: &TestCluster) -> ProducerConfig {
    ProducerConfig::builder(group)
        .namesrv_addr(&cl.namesrv_addr())
        .instance_name("hb-shared")
        .build()
        .unwrap()
}

#[actix_rt::test]
async fn registering_a_producer_beats_every_known_master_at_once() {
    let cl = cluster().await;
    let (a, b) = (cl.broker("broker-a"), cl.broker("broker-b"));
    let p1 = ProducerActor::start(producer_cfg("hb_g1", &cl))
        .await
        .unwrap();
    // Learning the route makes the brokers known: each is beaten at once.
    p1.send(SendMessage::new(Message::new("T", "x")))
        .await
        .unwrap()
        .unwrap();
    wait_until("both brokers beaten with hb_g1", || {
        [&a, &b].iter().all(|x| {
            x.last_heartbeat()
                .is_some_and(|h| beat_groups(&h) == groups(&["hb_g1"]))
        })
    })
    .await;
    let before = (heartbeat_codes(&a), heartbeat_codes(&b));

    // A second group registers: every master hears of both groups at once (the interval is 30 s).
    let p2 = ProducerActor::start(producer_cfg("hb_g2", &cl))
        .await
        .unwrap();
    wait_until("both brokers beaten with both groups", || {
        [&a, &b].iter().all(|x| {
            x.last_heartbeat()
                .is_some_and(|h| beat_groups(&h) == groups(&["hb_g1", "hb_g2"]))
        })
    })
    .await;
    assert_eq!(
        (heartbeat_codes(&a), heartbeat_codes(&b)),
        (before.0 + 1, before.1 + 1)
    );
    let client_id = producer_cfg("x", &cl).client_id();
    assert_eq!(a.last_heartbeat().unwrap().client_id, client_id);
    p2.send(Shutdown).await.unwrap();
    p1.send(Shutdown).await.unwrap();
}

#[test]
fn a_producer_beats_its_brokers_every_heartbeat_interval() {
    run_paused(async {
        let cl = cluster().await;
        let (a, b) = (cl.broker("broker-a"), cl.broker("broker-b"));
        let cfg = ProducerConfig::builder("hb_paused")
            .namesrv_addr(&cl.namesrv_addr())
            .heartbeat_broker_interval(Duration::from_secs(30))
            .poll_name_server_interval(Duration::from_secs(30))
            .build()
            .unwrap();
        let t0 = tokio::time::Instant::now();
        let p = ProducerActor::start(cfg).await.unwrap();
        spin_await(p.send(SendMessage::new(Message::new("T", "x"))))
            .await
            .unwrap()
            .unwrap();
        spin_until("the brokers beaten once", || {
            a.heartbeats() == 1 && b.heartbeats() == 1
        })
        .await;

        tokio::time::sleep_until(t0 + Duration::from_secs(95)).await;
        spin_until("beats at 30, 60, 90 s", || {
            a.heartbeats() == 4 && b.heartbeats() == 4
        })
        .await;
        spin_for(Duration::from_millis(50)).await;
        assert_eq!((a.heartbeats(), b.heartbeats()), (4, 4));
        spin_await(p.send(Shutdown)).await.unwrap();
        assert_eq!(a.unregisters().len() + b.unregisters().len(), 2);
    });
}
