//! `RouteManager` against the in-process name server: look-ups, cache,
//! coalescing, fail-over, TBW102, last-good routes, periodic refresh (paused
//! clock) and the pushes to subscribers and the broker listener.
#[path = "support/runtime.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
use actix_rocketmq::internals::protocol::route::{MessageQueue, TopicRouteData, perm};
use actix_rocketmq::internals::runtime::route_manager::{
    FindRoute, GetRouteStats, PublishInfo, RefreshAll, RouteConfig, RouteManager, RouteStats,
    SetBrokerListener, Subscriber, Unsubscribe,
};
use actix_rocketmq::internals::runtime::{ConnectionConfig, NetError, ReconnectPolicy, RouteError};
use actix_rocketmq::testkit::{Fault, RouteOverride, ServerHandle, TestCluster, TopicConfig};
use actix_rocketmq::{ErrorKind, Message, ProducerActor, ProducerConfig, SendMessage, Shutdown};

use support::{Collector, Pushed, run_paused, spin_await, spin_for, spin_until, wait_until_async};

fn route_cfg(namesrvs: &[String]) -> RouteConfig {
    RouteConfig {
        namesrv_addrs: namesrvs.to_vec(),
        api_timeout: Duration::from_secs(3),
        poll_interval: Duration::from_secs(30),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        connection: ConnectionConfig {
            connect_timeout: Duration::from_secs(1),
            reconnect: ReconnectPolicy::new(Duration::from_millis(20), Duration::from_secs(3)),
            ..ConnectionConfig::default()
        },
    }
}

fn start(namesrvs: &[String]) -> Addr<RouteManager> {
    RouteManager::new(route_cfg(namesrvs)).start()
}

async fn find(rm: &Addr<RouteManager>, topic: &str) -> Result<PublishInfo, RouteError> {
    find_as(rm, topic, None).await
}

async fn find_as(
    rm: &Addr<RouteManager>,
    topic: &str,
    sub: Option<Subscriber>,
) -> Result<PublishInfo, RouteError> {
    let rx = rm
        .send(FindRoute {
            topic: topic.into(),
            subscriber: sub,
        })
        .await
        .expect("route manager alive");
    rx.await.expect("answered")
}

async fn stats(rm: &Addr<RouteManager>) -> RouteStats {
    rm.send(GetRouteStats).await.expect("route manager alive")
}

/// Topics the name server was asked about, in order.
fn asked(ns: &ServerHandle) -> Vec<String> {
    ns.received_with_code(request_code::GET_ROUTEINFO_BY_TOPIC)
        .iter()
        .map(|r| r.ext("topic").unwrap_or_default().to_string())
        .collect()
}

fn asked_for(ns: &ServerHandle, topic: &str) -> usize {
    asked(ns).iter().filter(|t| *t == topic).count()
}

fn collector() -> (Pushed, Addr<Collector>) {
    let pushed = Pushed::default();
    (pushed.clone(), Collector(pushed).start())
}

fn subscriber(id: u64, c: &Addr<Collector>) -> Option<Subscriber> {
    Some(Subscriber {
        id,
        recipient: c.clone().recipient(),
    })
}

fn queue_ids(info: &PublishInfo) -> Vec<(String, i32)> {
    info.queues
        .iter()
        .map(|q| (q.broker_name.clone(), q.queue_id))
        .collect()
}

async fn two_brokers() -> TestCluster {
    TestCluster::builder()
        .broker("broker-a")
        .broker("broker-b")
        .topic("T", 4)
        .topic("U", 2)
        .topic_on(
            "RO",
            "broker-b",
            TopicConfig {
                read_queues: 4,
                write_queues: 4,
                perm: perm::READ,
            },
        )
        .topic_on("RO", "broker-a", TopicConfig::new(2))
        .start()
        .await
        .expect("test cluster")
}

/// Waits until every look-up (and refresh) the manager started has finished.
async fn settled(rm: &Addr<RouteManager>, requests: u64) {
    wait_until_async("route look-ups finished", || {
        let rm = rm.clone();
        async move {
            let s = stats(&rm).await;
            s.requests == requests && s.inflight == 0
        }
    })
    .await;
}

#[actix_rt::test]
async fn route_is_fetched_once_cached_and_turned_into_publish_info() {
    let cl = two_brokers().await;
    let ns = cl.namesrv();
    let rm = start(&[cl.namesrv_addr()]);
    let info = find(&rm, "T").await.unwrap();
    let expected: Vec<MessageQueue> = ["broker-a", "broker-b"]
        .iter()
        .flat_map(|b| (0..4).map(move |q| MessageQueue::new("T", *b, q)))
        .collect();
    assert_eq!(info.queues, expected);
    assert_eq!(
        info.route.master_addr("broker-b"),
        Some(cl.broker_addr("broker-b").as_str())
    );
    assert_eq!(asked(&ns), ["T"]);

    let again = find(&rm, "T").await.unwrap();
    assert!(Arc::ptr_eq(&info, &again), "answered from the cache");
    assert_eq!(asked(&ns), ["T"], "no second look-up");
    assert_eq!(
        stats(&rm).await,
        RouteStats {
            requests: 1,
            topics: 1,
            inflight: 0,
            failed: 0,
            restarts: 0,
        }
    );

    // Only writable queues are published: broker-b has RO read-only.
    let ro = find(&rm, "RO").await.unwrap();
    assert_eq!(
        queue_ids(&ro),
        [("broker-a".to_string(), 0), ("broker-a".to_string(), 1)]
    );
}

#[actix_rt::test]
async fn concurrent_lookups_of_a_topic_share_one_name_server_request() {
    let cl = two_brokers().await;
    let ns = cl.namesrv();
    ns.inject(Fault::delay(Duration::from_millis(200)).on(request_code::GET_ROUTEINFO_BY_TOPIC));
    let rm = start(&[cl.namesrv_addr()]);
    let mut receivers = Vec::new();
    for _ in 0..20 {
        receivers.push(
            rm.send(FindRoute {
                topic: "T".into(),
                subscriber: None,
            })
            .await
            .unwrap(),
        );
    }
    let mut infos = Vec::new();
    for rx in receivers {
        infos.push(rx.await.unwrap().unwrap());
    }
    assert!(
        infos.iter().all(|i| Arc::ptr_eq(i, &infos[0])),
        "every caller got the one answer"
    );
    assert_eq!(infos[0].queues.len(), 8);
    assert_eq!(asked(&ns), ["T"], "the name server saw ONE request");
    assert_eq!(stats(&rm).await.requests, 1);
}

#[actix_rt::test]
async fn next_name_server_is_asked_when_one_is_down_or_failing() {
    let c1 = TestCluster::builder()
        .broker("broker-1")
        .topic("T", 1)
        .topic("U", 1)
        .topic("V", 1);
    let c2 = TestCluster::builder()
        .broker("broker-2")
        .topic("T", 1)
        .topic("U", 1)
        .topic("V", 1);
    let (c1, c2) = (c1.start().await.unwrap(), c2.start().await.unwrap());
    let rm = start(&[c1.namesrv_addr(), c2.namesrv_addr()]);
    let first = find(&rm, "T").await.unwrap();
    let (used, other, other_broker) = if first.queues[0].broker_name == "broker-1" {
        (c1.namesrv(), c2.namesrv(), "broker-2")
    } else {
        (c2.namesrv(), c1.namesrv(), "broker-1")
    };
    assert_eq!(asked(&used), ["T"]);
    assert!(asked(&other).is_empty());

    // The name server in use goes down: the next one answers.
    used.stop().await.unwrap();
    let u = find(&rm, "U").await.unwrap();
    assert_eq!(u.queues[0].broker_name, other_broker);
    assert_eq!(asked(&other), ["U"]);

    // Back up, but now the other one answers with an error code: fail over again.
    used.start().await.unwrap();
    other.inject(Fault::respond(response_code::SYSTEM_ERROR, "boom").forever());
    tokio::time::sleep(Duration::from_millis(100)).await; // past the reconnect backoff
    let v = find(&rm, "V").await.unwrap();
    assert_ne!(v.queues[0].broker_name, other_broker);
    assert_eq!(asked(&other), ["U", "V"]);
    assert_eq!(asked_for(&used, "V"), 1);
    assert_eq!(stats(&rm).await.requests, 3);
}

#[actix_rt::test]
async fn unknown_topic_falls_back_to_tbw102_when_auto_create_is_on() {
    let cl = TestCluster::builder()
        .broker("broker-a")
        .broker("broker-b")
        .auto_create(true)
        .start()
        .await
        .unwrap();
    let ns = cl.namesrv();
    let rm = start(&[cl.namesrv_addr()]);
    let info = find(&rm, "Fresh").await.unwrap();
    // TBW102 has 8 queues per broker, clamped to default_topic_queue_nums = 4.
    assert_eq!(info.queues.len(), 8);
    assert!(
        info.queues
            .iter()
            .all(|q| q.topic == "Fresh" && q.queue_id < 4)
    );
    assert_eq!(asked(&ns), ["Fresh", "TBW102"]);
    assert_eq!(stats(&rm).await.requests, 2);
}

#[actix_rt::test]
async fn a_topic_that_never_existed_is_a_quick_no_route_error() {
    let cl = two_brokers().await;
    let ns = cl.namesrv();
    let rm = start(&[cl.namesrv_addr()]);
    let t0 = std::time::Instant::now();
    let res = find(&rm, "Ghost").await;
    assert_eq!(
        res.unwrap_err(),
        RouteError::NoRoute {
            topic: "Ghost".into()
        }
    );
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "took {:?}",
        t0.elapsed()
    );
    assert_eq!(asked(&ns), ["Ghost", "TBW102"]);
    // Remembered for 100 ms: a send meanwhile fails at once, without a look-up.
    cl.set_topic("Ghost", "broker-a", 2).unwrap();
    let cached = find(&rm, "Ghost").await;
    assert!(
        matches!(cached, Err(RouteError::NoRoute { .. })),
        "{cached:?}"
    );
    assert_eq!(
        asked(&ns),
        ["Ghost", "TBW102"],
        "no look-up inside the interval"
    );
    assert_eq!(stats(&rm).await.failed, 1);
    // A topic created meanwhile is picked up once the interval is over.
    tokio::time::sleep(Duration::from_millis(110)).await;
    assert_eq!(find(&rm, "Ghost").await.unwrap().queues.len(), 2);
    assert_eq!(stats(&rm).await.failed, 0);
}

#[actix_rt::test]
async fn no_reachable_name_server_is_a_name_server_error() {
    let cl = two_brokers().await;
    cl.namesrv().stop().await.unwrap();
    let rm = start(&[cl.namesrv_addr()]);
    let t0 = std::time::Instant::now();
    match find(&rm, "T").await {
        Err(RouteError::NameServerUnreachable {
            topic,
            last: NetError::Connect { .. },
        }) => assert_eq!(topic, "T"),
        other => panic!("expected NameServerUnreachable, got {other:?}"),
    }
    assert!(t0.elapsed() < Duration::from_secs(1));
}

#[actix_rt::test]
async fn never_existing_topic_fails_a_send_quickly_with_a_route_error() {
    let cl = two_brokers().await;
    let cfg = ProducerConfig::builder("rm_no_route")
        .namesrv_addr(&cl.namesrv_addr())
        .build()
        .unwrap();
    let producer = ProducerActor::start(cfg).await.unwrap();
    let t0 = std::time::Instant::now();
    let err = producer
        .send(SendMessage::new(Message::new("NoSuchTopic", "x")))
        .await
        .unwrap()
        .unwrap_err();
    let took = t0.elapsed();
    assert!(
        matches!(err.kind(), ErrorKind::Route(RouteError::NoRoute { topic }) if topic == "NoSuchTopic"),
        "{err:?}"
    );
    assert!(
        took < Duration::from_secs(1),
        "a missing topic took {took:?}: it must not wait for the send timeout"
    );
    producer.send(Shutdown).await.unwrap();
}

#[actix_rt::test]
async fn a_down_or_forgetful_name_server_leaves_the_last_good_route_in_use() {
    let cl = two_brokers().await;
    let ns = cl.namesrv();
    let rm = start(&[cl.namesrv_addr()]);
    let (pushed, c) = collector();
    rm.send(SetBrokerListener(c.clone().recipient()))
        .await
        .unwrap();
    let good = find_as(&rm, "T", subscriber(1, &c)).await.unwrap();

    // The name server restarted and does not know the topic yet: TOPIC_NOT_EXIST.
    cl.override_route("T", RouteOverride::NotExist);
    rm.send(RefreshAll).await.unwrap();
    settled(&rm, 2).await;
    assert!(
        Arc::ptr_eq(&find(&rm, "T").await.unwrap(), &good),
        "route kept"
    );

    // The name server is down.
    ns.stop().await.unwrap();
    rm.send(RefreshAll).await.unwrap();
    settled(&rm, 3).await;
    assert!(
        Arc::ptr_eq(&find(&rm, "T").await.unwrap(), &good),
        "route kept"
    );

    assert!(
        pushed.routes().is_empty(),
        "no RouteChanged for a route that did not change"
    );
    assert_eq!(
        pushed.broker_tables(),
        [["broker-a", "broker-b"]],
        "broker table untouched"
    );
    assert_eq!(
        asked_for(&ns, "T"),
        2,
        "the refresh asked while the server was up"
    );
}

#[actix_rt::test]
async fn queue_lists_are_the_same_whatever_name_server_answered() {
    let c1 = two_brokers().await;
    let c2 = TestCluster::builder()
        .broker("broker-x")
        .start()
        .await
        .unwrap();
    // Both name servers route T to c1's brokers, listing them in opposite orders.
    let route = c1.route("T").unwrap();
    let mut reversed = route.clone();
    reversed.queue_datas.reverse();
    reversed.broker_datas.reverse();
    assert_ne!(
        reversed.queue_datas[0].broker_name,
        route.queue_datas[0].broker_name
    );
    c1.override_route("T", RouteOverride::Route(route));
    c2.override_route("T", RouteOverride::Route(reversed.clone()));
    let raw = TopicRouteData::decode(&reversed.encode()).unwrap();
    assert_eq!(
        raw.queue_datas[0].broker_name, "broker-a",
        "decoding normalises the order"
    );

    let rm = start(&[c1.namesrv_addr(), c2.namesrv_addr()]);
    let (pushed, c) = collector();
    let first = find_as(&rm, "T", subscriber(1, &c)).await.unwrap();
    let answered_by_c1 = !asked(&c1.namesrv()).is_empty();
    // The other name server answers the refresh.
    if answered_by_c1 {
        c1.namesrv().stop().await.unwrap();
    } else {
        c2.namesrv().stop().await.unwrap();
    }
    rm.send(RefreshAll).await.unwrap();
    settled(&rm, 2).await;
    assert_eq!(asked(&c1.namesrv()).len() + asked(&c2.namesrv()).len(), 2);
    assert!(
        pushed.routes().is_empty(),
        "same route in another order is no change"
    );
    let second = find(&rm, "T").await.unwrap();
    assert_eq!(queue_ids(&first), queue_ids(&second));
    let sorted: Vec<(String, i32)> = ["broker-a", "broker-b"]
        .iter()
        .flat_map(|b| (0..4).map(move |q| (b.to_string(), q)))
        .collect();
    assert_eq!(queue_ids(&second), sorted);
}

#[actix_rt::test]
async fn unsubscribed_producers_hear_no_more_changes() {
    let cl = two_brokers().await;
    let rm = start(&[cl.namesrv_addr()]);
    let (p1, c1) = collector();
    let (p2, c2) = collector();
    find_as(&rm, "T", subscriber(1, &c1)).await.unwrap();
    find_as(&rm, "T", subscriber(2, &c2)).await.unwrap();
    rm.send(Unsubscribe(1)).await.unwrap();
    cl.set_topic("T", "broker-a", 6).unwrap();
    rm.send(RefreshAll).await.unwrap();
    settled(&rm, 2).await;
    wait_until_async("the subscriber heard of the change", || {
        let p2 = p2.clone();
        async move { p2.routes().len() == 1 }
    })
    .await;
    assert_eq!(p2.routes()[0].info.queues.len(), 10);
    assert!(p1.routes().is_empty());
}

#[test]
fn routes_are_refreshed_every_poll_interval_and_changes_pushed() {
    run_paused(async {
        let cl = two_brokers().await;
        let ns = cl.namesrv();
        let rm = start(&[cl.namesrv_addr()]);
        let (pushed, c) = collector();
        rm.send(SetBrokerListener(c.clone().recipient()))
            .await
            .unwrap();
        let t0 = tokio::time::Instant::now();
        let first = spin_await(find_as(&rm, "T", subscriber(7, &c))).await;
        assert_eq!(first.unwrap().queues.len(), 8);
        spin_until("the first broker table", || {
            pushed.broker_tables().len() == 1
        })
        .await;
        assert_eq!(pushed.broker_tables()[0], ["broker-a", "broker-b"]);

        // broker-b loses the topic; nothing is asked before the poll interval.
        cl.set_topic("T", "broker-b", 0).unwrap();
        tokio::time::sleep_until(t0 + Duration::from_secs(29)).await;
        spin_for(Duration::from_millis(50)).await;
        assert_eq!(asked_for(&ns, "T"), 1, "no refresh before 30 s");
        assert!(pushed.routes().is_empty());

        tokio::time::sleep_until(t0 + Duration::from_secs(31)).await;
        spin_until("the refreshed route pushed", || pushed.routes().len() == 1).await;
        assert_eq!(asked_for(&ns, "T"), 2, "one refresh at 30 s");
        let change = &pushed.routes()[0];
        assert_eq!(change.topic, "T");
        assert!(
            change
                .info
                .queues
                .iter()
                .all(|q| q.broker_name == "broker-a")
        );
        assert_eq!(change.info.queues.len(), 4);
        // broker-b is in no route any more: dropped from the broker table.
        spin_until("the broker table without broker-b", || {
            pushed.broker_tables().len() == 2
        })
        .await;
        assert_eq!(pushed.broker_tables()[1], ["broker-a"]);

        // The next refresh finds no change: it asks again and pushes nothing.
        tokio::time::sleep_until(t0 + Duration::from_secs(61)).await;
        spin_until("the second refresh", || asked_for(&ns, "T") == 3).await;
        spin_for(Duration::from_millis(50)).await;
        assert_eq!(pushed.routes().len(), 1);
        assert_eq!(pushed.broker_tables().len(), 2);
        assert_eq!(asked_for(&ns, "T"), 3, "exactly one refresh per interval");
    });
}
