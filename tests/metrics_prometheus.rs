//! The actix_web example's service, as the example builds it (its routes and
//! its Prometheus recorder): a few sends through `POST /send/{topic}`, then
//! `GET /metrics` shows the client's series in the Prometheus text format.
#![cfg(feature = "metrics")]

#[allow(dead_code)]
#[path = "../examples/actix_web.rs"]
mod example;

use actix_rocketmq::testkit::TestCluster;
use actix_rocketmq::{ProducerActor, ProducerConfig};
use actix_web::{App, test, web};

#[actix_rt::test]
async fn metrics_endpoint_shows_the_send_series() {
    let prometheus = web::Data::new(example::install_prometheus());
    const T: &str = "PromTopic";
    let cluster = TestCluster::builder()
        .broker("broker-a")
        .topic(T, 4)
        .start()
        .await
        .expect("test cluster starts");
    let config = ProducerConfig::builder("prom_group")
        .namesrv_addr(&cluster.namesrv_addr())
        .build()
        .unwrap();
    let client_id = config.client_id();
    let producer = ProducerActor::start(config).await.unwrap();
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(producer.clone()))
            .app_data(prometheus.clone())
            .configure(example::routes),
    )
    .await;
    for i in 0..3 {
        let req = test::TestRequest::post()
            .uri(&format!("/send/{T}?tag=TagA"))
            .set_payload(format!("m{i}"))
            .to_request();
        let resp = test::call_service(&app, req).await;
        assert!(resp.status().is_success(), "send {i}: {}", resp.status());
    }
    // An empty body is refused by validation: one failure of that kind.
    let req = test::TestRequest::post()
        .uri(&format!("/send/{T}"))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = test::read_body_json(resp).await;
    assert_eq!(body["error"], "validation");

    let req = test::TestRequest::get().uri("/metrics").to_request();
    let text = String::from_utf8(test::call_and_read_body(&app, req).await.to_vec()).unwrap();
    let series = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter(|l| {
                labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .reduce(|a, b| a + b)
    };
    let topic = ("topic", T);
    let id = ("client_id", client_id.as_str());
    assert_eq!(
        series("rocketmq_send_total{", &[topic, id, ("outcome", "send_ok")]),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        series(
            "rocketmq_send_failure_total{",
            &[topic, ("error_kind", "validation")]
        ),
        Some(1.0),
        "{text}"
    );
    // A histogram with the RocketMQ clients' buckets (ms): every send is under +Inf.
    assert_eq!(
        series(
            "rocketmq_send_cost_time_count{",
            &[topic, id, ("invocation_status", "success")]
        ),
        Some(3.0),
        "{text}"
    );
    for le in ["1", "5", "10", "20", "50", "200", "500", "+Inf"] {
        assert!(
            series(
                "rocketmq_send_cost_time_bucket{",
                &[topic, ("invocation_status", "success"), ("le", le)]
            )
            .is_some(),
            "bucket le={le} in {text}"
        );
    }
    let broker = cluster.broker("broker-a").addr();
    assert!(
        series("rocketmq_connections_open{", &[("remote", broker.as_str())]) >= Some(1.0),
        "{text}"
    );
    assert!(
        series("rocketmq_route_lookups_total{", &[topic, ("result", "ok")]) >= Some(1.0),
        "{text}"
    );
    producer.send(actix_rocketmq::Shutdown).await.unwrap();
}
