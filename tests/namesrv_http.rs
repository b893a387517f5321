//! Name-server discovery over HTTP (Java `TopAddressing`): an in-process address
//! server (actix-web) in front of testkit clusters serves the list, changes it,
//! fails (500, garbage) and stalls; the producer keeps the last good list.
//!
//! No name server is configured here, so `NAMESRV_ADDR` (which the CI rig exports)
//! is removed first, once, before any test of this binary does anything else.

#[path = "support/producer.rs"]
mod support;

use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use actix_rocketmq::internals::protocol::codes::request_code;
use actix_rocketmq::testkit::TestCluster;
use actix_rocketmq::{ErrorKind, Message, ProducerActor, ProducerConfig, SendMessage, Shutdown};
use actix_web::{App, HttpResponse, HttpServer, web};
use support::*;

static CLEAR_ENV: Once = Once::new();

/// Removes the name-server environment variables; every test calls it first.
fn clear_env() {
    // SAFETY: `Once` blocks every other test of this binary until this is done,
    // and none of them touches the environment or starts anything before.
    CLEAR_ENV.call_once(|| unsafe {
        std::env::remove_var("NAMESRV_ADDR");
        std::env::remove_var("NAMESRV_DOMAIN");
        std::env::remove_var("NAMESRV_DOMAIN_SUBGROUP");
    });
}

/// What the address server answers.
#[derive(Clone)]
enum Answer {
    List(String),
    Status500,
    Garbage,
    Stall,
}

/// An in-process address server; `set` changes its answer.
struct AddrServer {
    answer: Arc<Mutex<Answer>>,
    hits: Arc<Mutex<usize>>,
    port: u16,
    handle: actix_web::dev::ServerHandle,
}

impl AddrServer {
    async fn start(first: Answer) -> AddrServer {
        let answer = Arc::new(Mutex::new(first));
        let hits = Arc::new(Mutex::new(0usize));
        let (a, h) = (answer.clone(), hits.clone());
        let server = HttpServer::new(move || {
            let (a, h) = (a.clone(), h.clone());
            App::new().route(
                "/rocketmq/{subgroup}",
                web::get().to(move || {
                    let (a, h) = (a.clone(), h.clone());
                    async move {
                        *h.lock().unwrap() += 1;
                        let answer = a.lock().unwrap().clone();
                        match answer {
                            Answer::List(l) => HttpResponse::Ok().body(l),
                            Answer::Status500 => HttpResponse::InternalServerError().body("oops"),
                            Answer::Garbage => HttpResponse::Ok().body("<html>not a list</html>"),
                            Answer::Stall => {
                                actix_rt::time::sleep(Duration::from_secs(10)).await;
                                HttpResponse::Ok().body("")
                            }
                        }
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind the address server");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        AddrServer {
            answer,
            hits,
            port,
            handle,
        }
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn hits(&self) -> usize {
        *self.hits.lock().unwrap()
    }

    fn domain(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

const POLL: Duration = Duration::from_millis(200);

fn http_config(group: &str, server: &AddrServer) -> actix_rocketmq::ProducerConfigBuilder {
    ProducerConfig::builder(group)
        .namesrv_domain(server.domain())
        .namesrv_http_interval(POLL)
        .namesrv_http_timeout(Duration::from_millis(500))
}

fn lookups(cluster: &TestCluster, topic: &str) -> usize {
    cluster
        .namesrv()
        .received_with_code(request_code::GET_ROUTEINFO_BY_TOPIC)
        .iter()
        .filter(|r| r.ext("topic") == Some(topic))
        .count()
}

async fn send_ok(p: &actix::Addr<ProducerActor>, msg: Message) {
    within(
        Duration::from_secs(5),
        "send",
        p.send(SendMessage::new(msg)),
    )
    .await
    .expect("producer alive")
    .expect("send succeeds");
}

/// Waits until the address server was asked `n` more times than `before`.
async fn polled(server: &AddrServer, before: usize, n: usize) {
    let ok = eventually(Duration::from_secs(5), || server.hits() >= before + n).await;
    assert!(ok, "the address server was not polled again");
}

#[actix_rt::test]
async fn list_served_then_changed_reaches_the_new_name_server() {
    clear_env();
    let first = one_broker().await;
    let second = TestCluster::builder()
        .broker("broker-z")
        .topic("TopicOnSecond", 4)
        .start()
        .await
        .expect("second cluster starts");
    let server = AddrServer::start(Answer::List(format!("{};\n", first.namesrv_addr()))).await;
    let cfg = http_config("nsaddr_change", &server).build().unwrap();
    assert_eq!(
        cfg.namesrv_http_endpoint(),
        (format!("http://{}/rocketmq/nsaddr", server.domain()), true)
    );
    let producer = within(Duration::from_secs(5), "start", ProducerActor::start(cfg))
        .await
        .expect("producer starts with the served list");
    send_ok(&producer, msg("one")).await;
    assert_eq!(first.messages(TOPIC).len(), 1);
    assert!(lookups(&first, TOPIC) >= 1);

    server.set(Answer::List(second.namesrv_addr()));
    let hits = server.hits();
    polled(&server, hits, 2).await;
    // A topic only the new name server knows: looked up there.
    send_ok(&producer, Message::new("TopicOnSecond", "two")).await;
    assert!(lookups(&second, "TopicOnSecond") >= 1);
    assert_eq!(lookups(&first, "TopicOnSecond"), 0);
    assert_eq!(second.messages("TopicOnSecond").len(), 1);
    // The connection to the name server no longer listed is closed.
    let ns = first.namesrv();
    let closed = eventually(Duration::from_secs(5), || ns.open_connections() == 0).await;
    assert!(closed, "the removed name server's connection stays open");
    // The cached route of the first topic is kept.
    send_ok(&producer, msg("three")).await;
    assert_eq!(first.messages(TOPIC).len(), 2);

    producer.send(Shutdown).await.unwrap();
    server.handle.stop(false).await;
}

#[actix_rt::test]
async fn failures_and_stalls_keep_the_last_good_list() {
    clear_env();
    let cluster = one_broker().await;
    let server = AddrServer::start(Answer::List(cluster.namesrv_addr())).await;
    let producer = start(http_config("nsaddr_fail", &server)).await;
    send_ok(&producer, msg("ok")).await;

    for (i, bad) in [
        Answer::Status500,
        Answer::Garbage,
        Answer::List(" ; ".into()),
    ]
    .into_iter()
    .enumerate()
    {
        server.set(bad);
        let hits = server.hits();
        polled(&server, hits, 2).await;
        // A topic not cached yet: the look-up goes to the kept name server.
        let topic = format!("Fresh{i}");
        cluster.set_topic(&topic, "broker-a", 4).unwrap();
        send_ok(&producer, Message::new(topic.as_str(), "still")).await;
        assert!(lookups(&cluster, &topic) >= 1);
    }

    server.set(Answer::Stall);
    let hits = server.hits();
    polled(&server, hits, 1).await;
    actix_rt::time::sleep(Duration::from_millis(700)).await;
    cluster.set_topic("FreshStall", "broker-a", 4).unwrap();
    send_ok(&producer, Message::new("FreshStall", "still")).await;
    assert!(lookups(&cluster, "FreshStall") >= 1);

    // And back to a good answer.
    server.set(Answer::List(cluster.namesrv_addr()));
    send_ok(&producer, msg("again")).await;
    assert_eq!(cluster.messages(TOPIC).len(), 2);

    producer.send(Shutdown).await.unwrap();
    server.handle.stop(false).await;
}

#[actix_rt::test]
async fn a_start_with_only_an_unreachable_endpoint_fails_with_a_config_error() {
    clear_env();
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = ProducerConfig::builder("nsaddr_unreachable")
        .namesrv_domain(format!("127.0.0.1:{port}"))
        .namesrv_http_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = within(Duration::from_secs(5), "start", ProducerActor::start(cfg))
        .await
        .expect_err("no list at all");
    assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/rocketmq/nsaddr")),
        "{text}"
    );

    // A stalled or garbage-serving endpoint fails the start the same way.
    let server = AddrServer::start(Answer::Garbage).await;
    let cfg = http_config("nsaddr_garbage", &server).build().unwrap();
    let err = ProducerActor::start(cfg).await.expect_err("garbage");
    assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
    assert!(err.to_string().contains("not host:port"), "{err}");
    server.set(Answer::Stall);
    let cfg = http_config("nsaddr_stall", &server).build().unwrap();
    let err = within(Duration::from_secs(5), "start", ProducerActor::start(cfg))
        .await
        .expect_err("stall");
    assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
    server.handle.stop(false).await;
}

#[test]
fn builder_rejects_bad_endpoint_settings() {
    assert!(
        ProducerConfig::builder("g")
            .namesrv_http_endpoint("https://x/y")
            .build()
            .is_err()
    );
    assert!(
        ProducerConfig::builder("g")
            .namesrv_domain("a/b")
            .build()
            .is_err()
    );
    let c = ProducerConfig::builder("g")
        .namesrv_http_endpoint("http://x:1/list")
        .namesrv_domain("ignored")
        .build()
        .unwrap();
    assert_eq!(
        c.namesrv_http_endpoint(),
        ("http://x:1/list".to_owned(), true)
    );
}
