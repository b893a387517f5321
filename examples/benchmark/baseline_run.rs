//! The --baseline run: the route lookup and the load from the minimal client.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use actix_rocketmq::internals::protocol::headers::GetRouteInfoRequestHeader;
use actix_rocketmq::internals::protocol::route::{TopicRouteData, perm};
use actix_rocketmq::internals::protocol::{RemotingCodec, response_code};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::baseline::{self, BaselineConfig, Failure};
use crate::cli::Opts;
use crate::null_broker::NullBroker;
use crate::phase::{Phase, RunResult};
use crate::producer_run::COUNT_MODE_CAP;
use crate::stats::Stats;

/// The topic's route from the first name server of `namesrv` (`;`-separated) that gives one.
pub async fn fetch_route(
    namesrv: &str,
    topic: &str,
    timeout: Duration,
) -> Result<TopicRouteData, String> {
    let mut errors = Vec::new();
    for addr in namesrv.split(';').map(str::trim).filter(|a| !a.is_empty()) {
        let attempt = async {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let mut conn = Framed::new(stream, RemotingCodec::default());
            let mut req = GetRouteInfoRequestHeader::new(topic).into_request();
            req.opaque = 1;
            conn.send(req).await.map_err(|e| format!("send: {e}"))?;
            let reply = conn
                .next()
                .await
                .ok_or("connection closed")?
                .map_err(|e| format!("bad reply: {e}"))?;
            if reply.code != response_code::SUCCESS {
                return Err(format!(
                    "code {} {}",
                    reply.code,
                    reply.remark.unwrap_or_default()
                ));
            }
            TopicRouteData::decode(&reply.body).map_err(|e| format!("bad route: {e}"))
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(route)) => return Ok(route),
            Ok(Err(e)) => errors.push(format!("{addr}: {e}")),
            Err(_) => errors.push(format!("{addr}: no route within {timeout:?}")),
        }
    }
    Err(format!(
        "no route for topic {topic}: {}",
        if errors.is_empty() {
            "no name server address".to_owned()
        } else {
            errors.join("; ")
        }
    ))
}

/// The master address, broker name and write queues of the first broker with writable queues.
pub fn first_writable(route: &TopicRouteData) -> Option<(String, String, Vec<i32>)> {
    route
        .queue_datas
        .iter()
        .filter(|q| perm::is_writeable(q.perm) && q.write_queue_nums > 0)
        .find_map(|q| {
            let master = route.master_addr(&q.broker_name)?;
            Some((
                master.to_owned(),
                q.broker_name.clone(),
                (0..q.write_queue_nums).collect(),
            ))
        })
}

/// The load of `opts` from the baseline client (benches/support/baseline.rs).
pub async fn run_baseline(
    opts: Rc<Opts>,
    namesrv: String,
    broker: Option<&NullBroker>,
    stats: Rc<RefCell<Stats>>,
) -> Result<RunResult, (u8, String)> {
    let route = fetch_route(&namesrv, &opts.topic, opts.send_timeout)
        .await
        .map_err(|e| (1, e))?;
    let (addr, broker_name, queues) = first_writable(&route).ok_or_else(|| {
        (
            1,
            format!("topic {}: no broker with writable queues", opts.topic),
        )
    })?;
    println!(
        "baseline: broker {broker_name} at {addr}, write queues 0..{}",
        queues.len()
    );
    let mut cfg = BaselineConfig::new(addr, opts.topic.as_str());
    cfg.broker_name = broker_name;
    cfg.queues = queues;
    cfg.group = opts.group.clone();
    cfg.size = opts.size;
    cfg.concurrency = opts.concurrency;
    cfg.count = opts.count;
    cfg.duration = Some(opts.duration.unwrap_or(COUNT_MODE_CAP));
    cfg.serialize = opts.serialize;
    cfg.response_timeout = opts.send_timeout;
    // The histograms have them; a vector of every latency would only add to max_rss_kb.
    cfg.keep_latencies = false;

    let phase = Phase::begin(broker, stats.clone(), opts.count);
    let report = baseline::run(&cfg, |outcome| {
        let mut s = stats.borrow_mut();
        match outcome {
            Ok(latency) => s.ok(latency),
            Err(Failure::Broker(code)) => s.failed(format!("broker_{code}")),
            Err(_) => s.failed("no_reply".into()),
        }
    })
    .await;
    let result = phase.end(0);
    match report {
        Ok(r) if r.end != baseline::End::Complete => {
            eprintln!(
                "baseline: stopped early ({:?}); {} sends unanswered",
                r.end, r.unanswered
            );
        }
        Ok(_) => {}
        Err(e) => return Err((1, format!("baseline client: {e}"))),
    }
    Ok(result)
}
