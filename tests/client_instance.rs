//! `ClientInstance` and `ClientManager`: client ids, sharing, group registry,
//! producer shutdown, the last producer out, the service state machine, and the
//! supervision of the route manager and heartbeat actor.
#[path = "support/runtime.rs"]
mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use actix::prelude::*;
use futures::future::join_all;

use actix_rocketmq::internals::protocol::codes::request_code;
use actix_rocketmq::internals::protocol::heartbeat::HeartbeatData;
use actix_rocketmq::internals::runtime::error::InstanceError;
use actix_rocketmq::internals::runtime::heartbeat::{BeatNow, GetHeartbeatStats};
use actix_rocketmq::internals::runtime::instance::{
    ClientInstance, ClientManager, GetConnection, GetInstanceStats, GetOrCreateInstance,
    GetSupervised, InstanceConfig, RegisterProducer, ServiceState, StartInstance,
    UnregisterProducer,
};
use actix_rocketmq::internals::runtime::route_manager::{GetRouteStats, RefreshAll, RouteConfig};
use actix_rocketmq::internals::runtime::{ConnectionConfig, StopUnexpectedly};
use actix_rocketmq::testkit::{Fault, TestCluster};
use actix_rocketmq::{ErrorKind, Message, ProducerActor, ProducerConfig, SendMessage, Shutdown};

use support::{wait_until, wait_until_async};

async fn cluster() -> TestCluster {
    TestCluster::builder()
        .broker("broker-a")
        .broker("broker-b")
        .topic("T", 2)
        .start()
        .await
        .expect("test cluster")
}

fn producer_cfg(group: &str, instance: &str, cl: &TestCluster) -> ProducerConfig {
    ProducerConfig::builder(group)
        .namesrv_addr(&cl.namesrv_addr())
        .instance_name(instance)
        .build()
        .unwrap()
}

/// The instance config `ProducerActor::start` derives (only the client id and
/// name servers matter to `ClientManager`, which keys instances by them).
fn instance_cfg(client_id: &str, namesrvs: &[String]) -> InstanceConfig {
    InstanceConfig {
        client_id: client_id.into(),
        route: RouteConfig {
            namesrv_addrs: namesrvs.to_vec(),
            api_timeout: Duration::from_secs(3),
            poll_interval: Duration::from_secs(30),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            connection: ConnectionConfig::default(),
        },
        heartbeat_interval: Duration::from_secs(30),
        api_timeout: Duration::from_secs(3),
        connection: ConnectionConfig::default(),
        connection_arbiter: false,
        addr_server: None,
    }
}

async fn instance_of(cfg: &ProducerConfig, cl: &TestCluster) -> Addr<ClientInstance> {
    ClientManager::from_registry()
        .send(GetOrCreateInstance(instance_cfg(
            &cfg.client_id(),
            &[cl.namesrv_addr()],
        )))
        .await
        .unwrap()
        .unwrap()
}

fn groups(hb: &HeartbeatData) -> Vec<String> {
    hb.producer_data_set
        .iter()
        .map(|p| p.group_name.clone())
        .collect()
}

async fn send_ok(p: &Addr<ProducerActor>, body: &str) -> actix_rocketmq::SendResult {
    p.send(SendMessage::new(Message::new("T", body.to_string())))
        .await
        .unwrap()
        .unwrap()
}

#[actix_rt::test]
async fn client_id_is_ip_at_instance_name_at_unit_name() {
    let cl = cluster().await;
    let ip = IpAddr::V4(Ipv4Addr::new(10, 9, 8, 7));
    for (unit, expected) in [(Some("u1"), "10.9.8.7@ci-id@u1"), (None, "10.9.8.7@ci-id")] {
        let mut b = ProducerConfig::builder("ci_id")
            .namesrv_addr(&cl.namesrv_addr())
            .instance_name("ci-id")
            .client_ip(ip);
        if let Some(u) = unit {
            b = b.unit_name(u);
        }
        let cfg = b.build().unwrap();
        assert_eq!(cfg.client_id(), expected);
        let p = ProducerActor::start(cfg).await.unwrap();
        send_ok(&p, "x").await;
        let broker = cl.broker(&send_ok(&p, "y").await.message_queue.broker_name);
        wait_until("a heartbeat with the client id", || {
            broker
                .last_heartbeat()
                .is_some_and(|h| h.client_id == expected)
        })
        .await;
        assert!(
            broker
                .connections()
                .iter()
                .any(|c| c.client_id.as_deref() == Some(expected))
        );
        p.send(Shutdown).await.unwrap();
        assert!(broker.unregisters().iter().any(|u| u.client_id == expected));
    }
}

#[actix_rt::test]
async fn the_manager_shares_an_instance_per_client_id_and_name_servers() {
    let m = ClientManager::from_registry();
    let ns = vec!["127.0.0.1:9".to_string()];
    let get = |cfg: InstanceConfig| {
        let m = m.clone();
        async move { m.send(GetOrCreateInstance(cfg)).await.unwrap().unwrap() }
    };
    let a = get(instance_cfg("1.1.1.1@x", &ns)).await;
    assert_eq!(
        a,
        get(instance_cfg("1.1.1.1@x", &ns)).await,
        "same client id + name servers: same instance"
    );
    assert_ne!(
        a,
        get(instance_cfg("1.1.1.1@y", &ns)).await,
        "another client id"
    );
    assert_ne!(
        a,
        get(instance_cfg("1.1.1.1@x", &["127.0.0.1:10".to_string()])).await,
        "other name servers"
    );
    assert_eq!(
        a.send(GetInstanceStats).await.unwrap().state,
        ServiceState::Running
    );
}

#[actix_rt::test]
async fn producers_with_one_client_id_share_the_instance_and_its_connections() {
    let cl = cluster().await;
    let ns = cl.namesrv();
    let p1 = ProducerActor::start(producer_cfg("share_g1", "shared", &cl))
        .await
        .unwrap();
    let p2 = ProducerActor::start(producer_cfg("share_g2", "shared", &cl))
        .await
        .unwrap();
    for i in 0..4 {
        send_ok(&p1, &format!("p1-{i}")).await;
        send_ok(&p2, &format!("p2-{i}")).await;
    }
    let route_lookups = |t: &str| {
        ns.received_with_code(request_code::GET_ROUTEINFO_BY_TOPIC)
            .iter()
            .filter(|r| r.ext("topic") == Some(t))
            .count()
    };
    assert_eq!(route_lookups("T"), 1, "one route cache for both producers");
    assert_eq!(ns.connections_accepted(), 1, "one name-server connection");
    for b in cl.brokers() {
        assert_eq!(
            b.connections_accepted(),
            1,
            "{}: one connection for both producers",
            b.name()
        );
        wait_until("both groups on the shared connection", || {
            b.connections()[0].producer_groups.len() == 2
        })
        .await;
    }
    let inst = instance_of(&producer_cfg("x", "shared", &cl), &cl).await;
    let s = inst.send(GetInstanceStats).await.unwrap();
    assert_eq!(
        (s.state, s.producers, s.connections.len()),
        (ServiceState::Running, 2, 2)
    );

    // Another instance name is another instance: its own connections and look-ups.
    let p3 = ProducerActor::start(producer_cfg("share_g3", "other", &cl))
        .await
        .unwrap();
    send_ok(&p3, "p3").await;
    assert_eq!(route_lookups("T"), 2);
    assert_eq!(ns.connections_accepted(), 2);
    for p in [p1, p2, p3] {
        p.send(Shutdown).await.unwrap();
    }
}

#[actix_rt::test]
async fn a_duplicate_group_is_rejected() {
    let cl = cluster().await;
    let p1 = ProducerActor::start(producer_cfg("dup_g", "dup", &cl))
        .await
        .unwrap();
    let err = ProducerActor::start(producer_cfg("dup_g", "dup", &cl))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Instance(InstanceError::DuplicateGroup(g)) if g == "dup_g"),
        "{err:?}"
    );
    // The first producer is unharmed, and the group is free again once it is gone.
    send_ok(&p1, "still fine").await;
    p1.send(Shutdown).await.unwrap();
    let p3 = ProducerActor::start(producer_cfg("dup_g", "dup", &cl))
        .await
        .unwrap();
    send_ok(&p3, "again").await;
    p3.send(Shutdown).await.unwrap();

    // The same through the instance itself.
    let inst = instance_of(&producer_cfg("x", "dup-direct", &cl), &cl).await;
    assert!(inst.send(RegisterProducer::new("g")).await.unwrap().is_ok());
    let again = inst.send(RegisterProducer::new("g")).await.unwrap();
    assert_eq!(again.err(), Some(InstanceError::DuplicateGroup("g".into())));
}

#[actix_rt::test]
async fn shutting_down_one_producer_leaves_the_other_undisturbed() {
    let cl = cluster().await;
    let mk = |g: &str| {
        ProducerConfig::builder(g)
            .namesrv_addr(&cl.namesrv_addr())
            .instance_name("calm")
            .heartbeat_broker_interval(Duration::from_millis(200))
            .build()
            .unwrap()
    };
    let p1 = ProducerActor::start(mk("calm_g1")).await.unwrap();
    let p2 = ProducerActor::start(mk("calm_g2")).await.unwrap();
    for i in 0..4 {
        send_ok(&p1, &format!("a{i}")).await;
        send_ok(&p2, &format!("b{i}")).await;
    }
    let accepted: Vec<usize> = cl
        .brokers()
        .iter()
        .map(|b| b.connections_accepted())
        .collect();
    let client_id = mk("x").client_id();

    p1.send(Shutdown).await.unwrap();
    for b in cl.brokers() {
        let un = b.unregisters();
        assert_eq!(un.len(), 1, "{}: {un:?}", b.name());
        assert_eq!(
            (un[0].client_id.as_str(), un[0].producer_group.as_deref()),
            (client_id.as_str(), Some("calm_g1"))
        );
    }
    // p2 keeps sending on the same connections, and the brokers keep hearing of calm_g2 only.
    for i in 0..4 {
        send_ok(&p2, &format!("c{i}")).await;
    }
    let now: Vec<usize> = cl
        .brokers()
        .iter()
        .map(|b| b.connections_accepted())
        .collect();
    assert_eq!(now, accepted, "no reconnect");
    for b in cl.brokers() {
        let since = b.heartbeats();
        wait_until("a heartbeat after the shutdown", || b.heartbeats() > since).await;
        assert_eq!(groups(&b.last_heartbeat().unwrap()), ["calm_g2"]);
    }
    let inst = instance_of(&mk("x"), &cl).await;
    let s = inst.send(GetInstanceStats).await.unwrap();
    assert_eq!((s.state, s.producers), (ServiceState::Running, 1));
    p2.send(Shutdown).await.unwrap();
}

#[actix_rt::test]
async fn the_last_producer_out_unregisters_everywhere_and_stops_the_instance() {
    let cl = cluster().await;
    let cfg = producer_cfg("last_g", "last", &cl);
    let client_id = cfg.client_id();
    let p = ProducerActor::start(cfg.clone()).await.unwrap();
    send_ok(&p, "one").await; // one send: maybe only one broker was ever connected
    let inst = instance_of(&cfg, &cl).await;
    assert_eq!(
        inst.send(GetInstanceStats).await.unwrap().producers,
        1,
        "the producer's instance"
    );

    p.send(Shutdown).await.unwrap();
    for b in cl.brokers() {
        let un = b.unregisters();
        assert_eq!(
            un.len(),
            1,
            "{}: UNREGISTER_CLIENT to every broker",
            b.name()
        );
        assert_eq!(un[0].client_id, client_id);
        assert_eq!(un[0].producer_group.as_deref(), Some("last_g"));
    }
    wait_until("the instance stopped", || !inst.connected()).await;
    wait_until("every connection closed", || {
        cl.namesrv().open_connections() == 0
            && cl.brokers().iter().all(|b| b.open_connections() == 0)
    })
    .await;
    // The manager forgot it: a new producer gets a fresh, running instance.
    let p2 = ProducerActor::start(cfg.clone()).await.unwrap();
    let fresh = instance_of(&cfg, &cl).await;
    assert_ne!(fresh, inst);
    send_ok(&p2, "two").await;
    p2.send(Shutdown).await.unwrap();
}

#[actix_rt::test]
async fn the_instance_state_machine() {
    let cl = cluster().await;
    let inst = ClientInstance::new(instance_cfg("1.2.3.4@sm", &[cl.namesrv_addr()])).start();
    let stats = || {
        let i = inst.clone();
        async move { i.send(GetInstanceStats).await.unwrap() }
    };
    assert_eq!(stats().await.state, ServiceState::CreateJust);
    assert!(
        inst.send(RegisterProducer::new("g"))
            .await
            .unwrap()
            .is_err(),
        "not started"
    );
    assert!(
        inst.send(GetConnection {
            addr: cl.broker_addr("broker-a")
        })
        .await
        .unwrap()
        .is_err()
    );

    assert_eq!(inst.send(StartInstance).await.unwrap(), Ok(()));
    assert_eq!(stats().await.state, ServiceState::Running);
    assert_eq!(
        inst.send(StartInstance).await.unwrap(),
        Err(InstanceError::AlreadyStarted),
        "start twice"
    );
    let handles = inst
        .send(RegisterProducer::new("g"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(handles.client_id, "1.2.3.4@sm");
    assert!(
        inst.send(GetConnection {
            addr: cl.broker_addr("broker-a")
        })
        .await
        .unwrap()
        .is_ok()
    );

    inst.send(UnregisterProducer { group: "g".into() })
        .await
        .unwrap();
    wait_until("the instance stopped after its last group left", || {
        !inst.connected()
    })
    .await;
    wait_until_async("the route manager stopped", || {
        let rm = handles.route_manager.clone();
        async move { !rm.connected() }
    })
    .await;

    // A bad name-server address fails the start, and the failed instance cannot be started again.
    let bad = ClientInstance::new(instance_cfg("1.2.3.4@bad", &["no-port".to_string()])).start();
    assert!(matches!(
        bad.send(StartInstance).await.unwrap(),
        Err(InstanceError::StartFailed(_))
    ));
    assert_eq!(
        bad.send(GetInstanceStats).await.unwrap().state,
        ServiceState::StartFailed
    );
    assert_eq!(
        bad.send(StartInstance).await.unwrap(),
        Err(InstanceError::AlreadyStarted)
    );

    // Through the manager, every start with that config reports the real error
    // (a failed instance is not kept in the table to answer "shut down" later).
    let manager = ClientManager::from_registry();
    for _ in 0..2 {
        let res = manager
            .send(GetOrCreateInstance(instance_cfg(
                "1.2.3.4@bad-managed",
                &["no-port".to_string()],
            )))
            .await
            .unwrap();
        assert!(
            matches!(res, Err(InstanceError::StartFailed(_))),
            "{:?}",
            res.map(|_| ())
        );
    }
}

/// The route manager and the heartbeat actor, stopped as a fault would stop
/// them while a producer sends, restart with their state: sends go on
/// succeeding, a look-up in flight is made again, routes are looked up and
/// refreshed, brokers are beaten. The instance's shutdown still ends them for good.
#[actix_rt::test]
async fn the_route_manager_and_heartbeat_restart_after_an_unexpected_stop() {
    let cl = TestCluster::builder()
        .broker("broker-a")
        .broker("broker-b")
        .topic("T", 2)
        .topic("U", 2)
        .start()
        .await
        .expect("test cluster");
    let ns = cl.namesrv();
    let lookups = |t: &str| {
        ns.received_with_code(request_code::GET_ROUTEINFO_BY_TOPIC)
            .iter()
            .filter(|r| r.ext("topic") == Some(t))
            .count()
    };
    let cfg = producer_cfg("supervised_g", "supervised", &cl);
    let p = ProducerActor::start(cfg.clone()).await.unwrap();
    send_ok(&p, "warm-up").await;
    let inst = instance_of(&cfg, &cl).await;
    let children = inst.send(GetSupervised).await.unwrap().expect("running");
    let (rm, hb) = (children.route_manager, children.heartbeat);
    let routes_before = rm.send(GetRouteStats).await.unwrap();
    assert_eq!((routes_before.topics, routes_before.restarts), (1, 0));
    wait_until("both brokers beaten", || {
        cl.brokers().iter().all(|b| b.heartbeats() >= 1)
    })
    .await;

    // The route manager stops while sends are under way, one of them waiting
    // for the route of a new topic (held at the name server).
    ns.inject(Fault::delay(Duration::from_millis(300)).on_topic("U"));
    let send = |topic: &str, body: String| p.send(SendMessage::new(Message::new(topic, body)));
    let mut sends: Vec<_> = (0..50).map(|i| send("T", format!("rm-{i}"))).collect();
    sends.push(send("U", "first of U".into()));
    wait_until("the look-up of U at the name server", || lookups("U") == 1).await;
    rm.send(StopUnexpectedly).await.unwrap();
    for (i, r) in join_all(sends).await.into_iter().enumerate() {
        assert!(
            r.unwrap().is_ok(),
            "send {i} across the route manager's restart"
        );
    }
    assert_eq!(
        lookups("U"),
        2,
        "the look-up cancelled by the restart was made again"
    );
    let routes_after = rm.send(GetRouteStats).await.unwrap();
    assert_eq!(routes_after.restarts, 1);
    assert_eq!(routes_after.topics, 2, "the cache survived the restart");
    let before_refresh = lookups("T");
    rm.send(RefreshAll).await.unwrap();
    wait_until("the cached routes refreshed", || {
        lookups("T") > before_refresh
    })
    .await;

    // The heartbeat actor stops while sends are under way.
    let beaten: Vec<usize> = cl.brokers().iter().map(|b| b.heartbeats()).collect();
    let sends: Vec<_> = (0..50).map(|i| send("T", format!("hb-{i}"))).collect();
    hb.send(StopUnexpectedly).await.unwrap();
    for (i, r) in join_all(sends).await.into_iter().enumerate() {
        assert!(
            r.unwrap().is_ok(),
            "send {i} across the heartbeat's restart"
        );
    }
    // Restarted with its targets and groups, it beats at once (the interval is 30 s).
    for (b, before) in cl.brokers().iter().zip(beaten) {
        wait_until("a beat after the restart", || b.heartbeats() > before).await;
        assert_eq!(groups(&b.last_heartbeat().unwrap()), ["supervised_g"]);
    }
    assert_eq!(hb.send(GetHeartbeatStats).await.unwrap().restarts, 1);
    assert_eq!(
        hb.send(BeatNow).await.unwrap(),
        2,
        "both masters, as before"
    );
    send_ok(&p, "last").await;

    // The last producer out shuts the instance down: both end for good, though
    // this test still holds their addresses.
    p.send(Shutdown).await.unwrap();
    wait_until("the route manager ended", || !rm.connected()).await;
    wait_until("the heartbeat actor ended", || !hb.connected()).await;
    wait_until("the instance stopped", || !inst.connected()).await;
}
