//! Soak: producers start and stop while connections break under load; at the
//! end the waiting-request tables are empty and the task and actor counts are
//! back at their baseline. One test per binary: it reads process-wide counters.
#[path = "support/runtime.rs"]
mod support;

use std::collections::HashSet;
use std::time::Duration;

use actix::prelude::*;
use futures::future::join_all;

use actix_rocketmq::internals::protocol::codes::request_code;
use actix_rocketmq::internals::runtime::ConnectionConfig;
use actix_rocketmq::internals::runtime::instance::{
    ClientInstance, ClientManager, GetConnection, GetInstanceStats, GetOrCreateInstance,
    InstanceConfig, RegisterProducer, UnregisterProducer,
};
use actix_rocketmq::internals::runtime::live::{LiveActors, live_actors};
use actix_rocketmq::internals::runtime::route_manager::{GetRouteStats, RouteConfig};
use actix_rocketmq::testkit::{Fault, TestCluster};
use actix_rocketmq::{
    ErrorKind, GetProducerStats, Message, ProducerActor, ProducerConfig, SendMessage, Shutdown,
};

use support::{wait_until, wait_until_async};

const ROUNDS: usize = 12;
const SENDS_PER_PRODUCER: usize = 20;

fn instance_cfg(client_id: &str, namesrv: &str) -> InstanceConfig {
    InstanceConfig {
        client_id: client_id.into(),
        route: RouteConfig {
            namesrv_addrs: vec![namesrv.to_string()],
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

/// Waiting requests on every broker connection of a running instance.
async fn pending_requests(inst: &Addr<ClientInstance>) -> usize {
    let mut total = 0;
    for addr in inst.send(GetInstanceStats).await.unwrap().connections {
        let conn = inst.send(GetConnection { addr }).await.unwrap().unwrap();
        total += conn.stats().await.unwrap().pending;
    }
    total
}

#[actix_rt::test]
async fn producers_come_and_go_while_connections_break_and_everything_returns_to_baseline() {
    let cl = TestCluster::builder()
        .broker("broker-a")
        .broker("broker-b")
        .topic("T", 4)
        .start()
        .await
        .unwrap();
    let ns = cl.namesrv();
    let (a, b) = (cl.broker("broker-a"), cl.broker("broker-b"));
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline_tasks = metrics.num_alive_tasks();
    assert_eq!(
        live_actors(),
        LiveActors::default(),
        "no runtime actor before the first producer"
    );

    let started = std::time::Instant::now();
    let mut stored_ids = Vec::new();
    let mut failures = 0;
    for round in 0..ROUNDS {
        let mk = |g: String, instance: Option<&str>| {
            let mut builder = ProducerConfig::builder(g)
                .namesrv_addr(&cl.namesrv_addr())
                .send_timeout(Duration::from_secs(2))
                .heartbeat_broker_interval(Duration::from_millis(100));
            if let Some(i) = instance {
                builder = builder.instance_name(i);
            }
            builder.build().unwrap()
        };
        // Two producers share an instance, the third has its own.
        let shared_cfg = mk(format!("soak_{round}_0"), Some("soak-shared"));
        let cfgs = [
            shared_cfg.clone(),
            mk(format!("soak_{round}_1"), Some("soak-shared")),
            mk(format!("soak_{round}_2"), None),
        ];
        let mut producers = Vec::new();
        for cfg in cfgs {
            producers.push(ProducerActor::start(cfg).await.unwrap());
        }

        let sends: Vec<_> = producers
            .iter()
            .flat_map(|p| {
                (0..SENDS_PER_PRODUCER).map(move |i| {
                    p.send(SendMessage::new(Message::new(
                        "T",
                        format!("r{round} m{i}"),
                    )))
                })
            })
            .collect();
        let breaker = async {
            tokio::time::sleep(Duration::from_millis(1 + round as u64)).await;
            match round % 4 {
                0 => {
                    a.close_connections();
                }
                1 => {
                    ns.close_connections();
                    b.close_connections();
                }
                2 => {
                    a.inject(Fault::close().on_sends().times(2));
                }
                _ => {
                    b.inject(Fault::process_then_close().on(request_code::SEND_MESSAGE_V2));
                    a.close_connections();
                }
            }
        };
        let t0 = std::time::Instant::now();
        let (results, _) = futures::join!(join_all(sends), breaker);
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "round {round}: sends took {:?}",
            t0.elapsed()
        );
        for r in results {
            match r.expect("producer alive") {
                Ok(res) => stored_ids.push(res.msg_id),
                Err(e) => {
                    assert!(
                        matches!(
                            e.kind(),
                            ErrorKind::Connection(_) | ErrorKind::Timeout { .. }
                        ),
                        "round {round}: unexpected error {e:?}"
                    );
                    failures += 1;
                }
            }
        }
        a.clear_faults();
        b.clear_faults();

        // Every waiting table is empty once the sends are answered.
        for p in &producers {
            let s = p.send(GetProducerStats).await.unwrap();
            assert_eq!(
                (
                    s.in_flight,
                    s.in_flight_bytes,
                    s.waiting_for_capacity,
                    s.waiting_for_route
                ),
                (0, 0, 0, 0),
                "round {round}: {s:?}"
            );
        }
        let shared = ClientManager::from_registry()
            .send(GetOrCreateInstance(instance_cfg(
                &shared_cfg.client_id(),
                &cl.namesrv_addr(),
            )))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            shared.send(GetInstanceStats).await.unwrap().producers,
            2,
            "the producers' shared instance"
        );
        wait_until_async("no request waiting on a connection", || {
            let s = shared.clone();
            async move { pending_requests(&s).await == 0 }
        })
        .await;
        // A probe group, for the instance's route manager: no look-up left in flight.
        let probe = format!("soak_{round}_probe");
        let handles = shared
            .send(RegisterProducer::new(probe.clone()))
            .await
            .unwrap()
            .unwrap();
        let rs = handles.route_manager.send(GetRouteStats).await.unwrap();
        assert_eq!((rs.inflight, rs.topics), (0, 1), "round {round}: {rs:?}");
        shared
            .send(UnregisterProducer { group: probe })
            .await
            .unwrap();
        drop((shared, handles));

        for p in &producers {
            p.send(Shutdown).await.unwrap();
        }
        for p in &producers {
            wait_until("the producer stopped", || !p.connected()).await;
        }
    }

    let total = ROUNDS * 3 * SENDS_PER_PRODUCER;
    assert_eq!(stored_ids.len() + failures, total);
    assert!(
        stored_ids.len() * 10 >= total * 9,
        "only {} of {total} sends succeeded",
        stored_ids.len()
    );
    let stored: HashSet<String> = cl
        .messages("T")
        .iter()
        .filter_map(|m| m.uniq_key().map(str::to_string))
        .collect();
    for id in &stored_ids {
        assert!(stored.contains(id), "a successful send is stored: {id}");
    }
    assert!(
        a.unregisters().len() + b.unregisters().len() >= ROUNDS * 3,
        "every producer unregistered"
    );

    // Back at baseline: no runtime actor, no client socket, no extra task.
    wait_until("every runtime actor gone", || {
        live_actors() == LiveActors::default()
    })
    .await;
    wait_until("every client connection closed", || {
        ns.open_connections() == 0 && a.open_connections() == 0 && b.open_connections() == 0
    })
    .await;
    wait_until("tokio tasks back at baseline", || {
        metrics.num_alive_tasks() == baseline_tasks
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "soak took {:?}",
        started.elapsed()
    );
}
