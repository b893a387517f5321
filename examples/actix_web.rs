//! An actix-web 4 service that publishes HTTP request bodies to RocketMQ.
//!
//! ```text
//! cargo run --example actix_web                                 # in-process test broker
//! NAMESRV_ADDR=127.0.0.1:9876 cargo run --example actix_web     # a real cluster
//! cargo run --example actix_web -- --namesrv 127.0.0.1:9876 --bind 127.0.0.1:8080 --group G
//!
//! curl -X POST --data 'hello' 'http://127.0.0.1:8080/send/TopicTest?tag=TagA&keys=order-1'
//! curl http://127.0.0.1:8080/metrics
//! ```
//!
//! `GET /metrics` answers the Prometheus text format (`metrics-exporter-prometheus`).
//! The client's own series (`rocketmq_send_cost_time`, ...) are there when the crate's
//! `metrics` feature is on: `cargo run --example actix_web --features metrics`.
//! `RUST_LOG=actix_rocketmq=debug` prints the client's spans and events.
//!
//! `POST /send/{topic}` sends the request body (optional query parameters
//! `tag` and `keys`) through one producer whose `Addr` is shared in app data,
//! and answers `200` with the `SendResult` as JSON. Failures answer a JSON
//! `{"error": kind, "message": .., "retriable": ..}` with a status that says
//! whose fault it is:
//!
//! | failure                                   | status |
//! |-------------------------------------------|--------|
//! | message refused by validation             | 400    |
//! | forbidden by a hook                       | 403    |
//! | no route for the topic / topic not on broker | 404 |
//! | broker error code, connection, bad reply, name server down | 502 |
//! | back-pressure, producer shut down         | 503 (`Retry-After: 1` for back-pressure) |
//! | timeout                                   | 504    |
//!
//! With neither `--namesrv` nor `NAMESRV_ADDR` it starts the crate's
//! in-process test broker (auto-create on, so any topic works).
use actix::Addr;
use actix_rocketmq::error::ErrorKind;
use actix_rocketmq::error::RouteError;
use actix_rocketmq::error::response_code;
use actix_rocketmq::testkit::TestCluster;
use actix_rocketmq::{Error, Message, ProducerActor, ProducerConfig, SendMessage, Shutdown};
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpResponseBuilder, HttpServer, get, post, web};
use clap::Parser;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct SendParams {
    tag: Option<String>,
    keys: Option<String>,
}

/// The HTTP status for a failed send.
fn status_of(err: &Error) -> StatusCode {
    match err.kind() {
        ErrorKind::Validation(_) | ErrorKind::NoQueueSelected { .. } => StatusCode::BAD_REQUEST,
        ErrorKind::Forbidden { .. } => StatusCode::FORBIDDEN,
        ErrorKind::Route(RouteError::NoRoute { .. }) => StatusCode::NOT_FOUND,
        ErrorKind::Broker { code, .. } if *code == response_code::TOPIC_NOT_EXIST => {
            StatusCode::NOT_FOUND
        }
        _ if err.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Backpressure { .. } | ErrorKind::ShutDown => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Broker { .. }
        | ErrorKind::Connection(_)
        | ErrorKind::Protocol { .. }
        | ErrorKind::Route(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error_response(err: &Error) -> HttpResponse {
    let status = status_of(err);
    let mut resp = HttpResponseBuilder::new(status);
    if matches!(err.kind(), ErrorKind::Backpressure { .. }) {
        resp.insert_header(("Retry-After", "1"));
    }
    resp.json(serde_json::json!({
        "error": err.kind().as_str(),
        "message": err.to_string(),
        "retriable": err.is_retriable(),
        "responseCode": err.response_code(),
    }))
}

#[post("/send/{topic}")]
async fn send(
    producer: web::Data<Addr<ProducerActor>>,
    topic: web::Path<String>,
    params: web::Query<SendParams>,
    body: web::Bytes,
) -> HttpResponse {
    let params = params.into_inner();
    let mut msg = Message::new(topic.into_inner(), body);
    if let Some(tag) = params.tag {
        msg = msg.with_tags(tag);
    }
    if let Some(keys) = params.keys {
        msg = msg.with_keys(keys);
    }
    match producer.send(SendMessage::new(msg)).await {
        Ok(Ok(result)) => HttpResponse::Ok().json(result),
        Ok(Err(e)) => error_response(&e),
        // The producer actor is gone: the same as a shut-down producer.
        Err(_) => error_response(&Error::shut_down()),
    }
}

#[get("/metrics")]
async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

/// Installs the process-wide Prometheus recorder, with the RocketMQ 5.x
/// clients' latency buckets (ms) for `rocketmq_send_cost_time`.
pub fn install_prometheus() -> PrometheusHandle {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("rocketmq_send_cost_time".into()),
            &[1.0, 5.0, 10.0, 20.0, 50.0, 200.0, 500.0],
        )
        .expect("buckets are not empty")
        .install_recorder()
        .expect("no other metrics recorder is installed")
}

/// The service's routes; app data: the producer's `Addr` and the Prometheus handle.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(send).service(metrics);
}

/// An actix-web service that publishes HTTP request bodies to RocketMQ.
///
/// Without a name server (neither --namesrv nor NAMESRV_ADDR) an in-process
/// test broker is started.
#[derive(Debug, Parser)]
#[command(name = "actix_web")]
struct Args {
    /// Name servers of a cluster
    #[arg(
        short = 'n',
        long,
        env = "NAMESRV_ADDR",
        value_name = "HOST:PORT[;HOST:PORT]"
    )]
    namesrv: Option<String>,
    /// Address the HTTP server listens on
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Producer group
    #[arg(long, default_value = "actix_web_producer_group")]
    group: String,
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    // Before the producer starts: its metrics go to the recorder installed then.
    let prometheus = web::Data::new(install_prometheus());
    let args = Args::parse();
    let namesrv = args.namesrv.clone().filter(|v| !v.trim().is_empty());
    // Kept alive (and its tasks running) until the server stops.
    let mut cluster = None;
    let namesrv = match namesrv {
        Some(addr) => addr,
        None => {
            let c = TestCluster::builder()
                .broker("broker-a")
                .topic("TopicTest", 4)
                .auto_create(true)
                .start()
                .await
                .map_err(std::io::Error::other)?;
            let addr = c.namesrv_addr();
            println!(
                "no name server given: started an in-process test broker, name server at {addr}"
            );
            cluster = Some(c);
            addr
        }
    };

    let config = ProducerConfig::builder(args.group.as_str())
        .namesrv_addr(&namesrv)
        .build()
        .map_err(std::io::Error::other)?;
    let producer = ProducerActor::start(config)
        .await
        .map_err(std::io::Error::other)?;

    println!(
        "listening on http://{}  (POST /send/{{topic}}, GET /metrics)",
        args.bind
    );
    let data = web::Data::new(producer.clone());
    let served = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(prometheus.clone())
            .configure(routes)
    })
    .bind(args.bind.as_str())?
    .run()
    .await;

    // Graceful stop: in-flight sends finish, the group is unregistered.
    let _ = producer.send(Shutdown).await;
    if let Some(c) = cluster {
        c.shutdown().await;
    }
    served
}
