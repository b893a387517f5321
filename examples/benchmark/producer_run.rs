//! The producer's run: its config from the options and the closed-loop workers.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix::Addr;
use actix_rocketmq::{
    GetProducerStats, Message, ProducerActor, ProducerConfig, SendMessage, SendOneway, Shutdown,
};
use bytes::Bytes;

use crate::cli::{Mode, Opts};
use crate::null_broker::NullBroker;
use crate::phase::{Phase, RunResult};
use crate::schedule::open_loop;
use crate::stats::{Stats, error_kind};

/// Longest run of a `--count` run without `--duration`.
pub const COUNT_MODE_CAP: Duration = Duration::from_secs(600);
/// Extra wait for a reply past the send timeout before the send counts as lost.
pub const WATCHDOG_GRACE: Duration = Duration::from_secs(1);

pub fn body_of(size: usize) -> Bytes {
    (0..size)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
        .collect::<Vec<u8>>()
        .into()
}

/// Builds message `seq` of the run and sends it: the failure's kind if it fails.
pub async fn send_one(
    producer: &Addr<ProducerActor>,
    opts: &Opts,
    body: &Bytes,
    seq: u64,
) -> Result<(), String> {
    let mut msg = Message::new(opts.topic.as_str(), body.clone());
    if let Some(tag) = &opts.tag {
        msg = msg.with_tags(tag.as_str());
    }
    if opts.keys {
        msg = msg.with_keys(format!("BK{seq:012}"));
    }
    if let Some(level) = opts.delay_level {
        msg = msg.with_delay_level(level);
    }
    // No timer per send (it would be part of what is measured): a reply the
    // client never gives leaves its worker unfinished at the run's backstop.
    match opts.mode {
        Mode::Sync => match producer.send(SendMessage::new(msg)).await {
            Ok(Ok(_result)) => Ok(()),
            Ok(Err(e)) => Err(error_kind(&e)),
            Err(_mailbox) => Err("mailbox".into()),
        },
        Mode::Oneway => match producer.send(SendOneway::new(msg)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(error_kind(&e)),
            Err(_mailbox) => Err("mailbox".into()),
        },
    }
}

/// Closed loop: one of --concurrency tasks, each starting its next send when the last one ends.
pub async fn worker(
    producer: Addr<ProducerActor>,
    opts: Rc<Opts>,
    body: Bytes,
    next_seq: Rc<Cell<u64>>,
    deadline: Instant,
    stats: Rc<RefCell<Stats>>,
) {
    loop {
        // One clock read: the deadline check and the latency's start.
        let start = Instant::now();
        if start >= deadline {
            break;
        }
        let seq = next_seq.get();
        if opts.count.is_some_and(|c| seq >= c) {
            break;
        }
        next_seq.set(seq + 1);
        let outcome = send_one(&producer, &opts, &body, seq).await;
        stats.borrow_mut().record(outcome, start.elapsed());
    }
}

pub async fn run(
    opts: Rc<Opts>,
    namesrv: String,
    broker: Option<&NullBroker>,
    stats: Rc<RefCell<Stats>>,
) -> Result<RunResult, (u8, String)> {
    let mut builder = ProducerConfig::builder(opts.group.as_str())
        .namesrv_addr(&namesrv)
        .send_timeout(opts.send_timeout)
        .serialize_type(opts.serialize)
        .connection_arbiter(opts.connection_arbiter);
    if let Some(domain) = &opts.namesrv_domain {
        builder = builder.namesrv_domain(domain.as_str());
    }
    if let Some(subgroup) = &opts.namesrv_subgroup {
        builder = builder.namesrv_domain_subgroup(subgroup.as_str());
    }
    if let Some(bytes) = opts.compress_over {
        builder = builder.compress_msg_body_over(bytes);
    }
    if let Some(codec) = opts.compress_type {
        builder = builder.compress_type(codec);
    }
    if let Some(level) = opts.compress_level {
        builder = builder.compress_level(level);
    }
    if let Some(acl) = &opts.acl {
        builder = builder.acl_credentials(acl.clone());
    }
    if opts.trace {
        builder = builder.enable_msg_trace();
    }
    if let Some(auto_batch) = &opts.auto_batch {
        builder = builder.auto_batch(auto_batch.clone());
    }
    let config = builder.build().map_err(|e| (2, e.to_string()))?;
    let producer = ProducerActor::start(config)
        .await
        .map_err(|e| (1, format!("cannot start the producer: {e}")))?;

    let body = body_of(opts.size);
    let next_seq = Rc::new(Cell::new(0u64));
    let cap = opts.duration.unwrap_or(COUNT_MODE_CAP);

    let phase = Phase::begin(broker, stats.clone(), opts.count);
    let deadline = phase.start + cap;
    let unfinished_workers = match opts.rate {
        Some(rate) => {
            open_loop(
                producer.clone(),
                opts.clone(),
                body,
                rate,
                phase.start,
                deadline,
                stats.clone(),
            )
            .await
        }
        None => {
            let workers: Vec<_> = (0..opts.concurrency)
                .map(|_| {
                    actix_rt::spawn(worker(
                        producer.clone(),
                        opts.clone(),
                        body.clone(),
                        next_seq.clone(),
                        deadline,
                        stats.clone(),
                    ))
                })
                .collect();
            // Every worker ends by deadline + send timeout + watchdog; this is only a backstop.
            let backstop = deadline + opts.send_timeout + WATCHDOG_GRACE + Duration::from_secs(1);
            let mut unfinished_workers = 0;
            for w in workers {
                if tokio::time::timeout_at(backstop.into(), w).await.is_err() {
                    unfinished_workers += 1;
                }
            }
            unfinished_workers
        }
    };
    let mut result = phase.end(unfinished_workers);
    if opts.trace {
        result.trace = producer.send(GetProducerStats).await.ok().map(|s| s.trace);
    }

    let _ = tokio::time::timeout(Duration::from_secs(1), producer.send(Shutdown)).await;
    Ok(result)
}
