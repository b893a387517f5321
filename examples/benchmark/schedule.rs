//! The --rate open loop: when each send is due, the schedule thread, the sends.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix::Addr;
use actix_rocketmq::ProducerActor;
use bytes::Bytes;

use crate::cli::Opts;
use crate::producer_run::{WATCHDOG_GRACE, send_one};
use crate::stats::Stats;

/// When send `seq` of a --rate run is due.
pub fn due_at(start: Instant, rate: f64, seq: u64) -> Instant {
    start + Duration::from_secs_f64(seq as f64 / rate)
}

/// How many sends of a --rate run are due before `deadline` (at most `count`).
pub fn sends_due(start: Instant, rate: f64, deadline: Instant, count: Option<u64>) -> u64 {
    let cap = count.unwrap_or(u64::MAX);
    // The closed form, then nudged to agree with `due_at` whatever the rounding.
    let window = deadline.saturating_duration_since(start).as_secs_f64();
    let mut n = ((window * rate).ceil() as u64).min(cap);
    while n > 0 && due_at(start, rate, n - 1) >= deadline {
        n -= 1;
    }
    while n < cap && due_at(start, rate, n) < deadline {
        n += 1;
    }
    n
}

/// The --rate schedule's clock, on a thread of its own: it publishes how many sends are
/// due, each as its time comes. Its sleeps are precise to tens of µs; tokio's timers round
/// up to the next millisecond, and that would be in every send's latency.
pub fn schedule(
    start: Instant,
    rate: f64,
    total: u64,
    due: tokio::sync::watch::Sender<u64>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("rate-schedule".into())
        .spawn(move || {
            let mut released = 0;
            while released < total {
                let now = Instant::now();
                let before = released;
                while released < total && due_at(start, rate, released) <= now {
                    released += 1;
                }
                // The run stopped listening (the deadline passed while it waited for a slot).
                if released > before && due.send(released).is_err() {
                    return;
                }
                if released < total {
                    std::thread::sleep(
                        due_at(start, rate, released).saturating_duration_since(Instant::now()),
                    );
                }
            }
        })
        .map(drop)
}

/// Open loop (--rate): send `seq` starts when it is due whatever the replies, so a
/// slow reply cannot hold back the sends behind it (no coordinated omission); its
/// latency counts from when it was due. At most --concurrency are in flight: a send
/// due while they are waits for a slot (counted `late`, the wait in its latency), and
/// the sends still due when the deadline passes are counted `unissued`. Returns the
/// sends unanswered at the backstop.
pub async fn open_loop(
    producer: Addr<ProducerActor>,
    opts: Rc<Opts>,
    body: Bytes,
    rate: f64,
    start: Instant,
    deadline: Instant,
    stats: Rc<RefCell<Stats>>,
) -> usize {
    let total = sends_due(start, rate, deadline, opts.count);
    let (due_tx, mut released) = tokio::sync::watch::channel(0u64);
    if let Err(e) = schedule(start, rate, total, due_tx) {
        eprintln!("error: cannot start the --rate schedule thread: {e}");
        stats.borrow_mut().unissued = total;
        return 0;
    }
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(opts.concurrency));
    let mut seq = 0u64;
    'schedule: while seq < total {
        while *released.borrow_and_update() <= seq {
            if released.changed().await.is_err() {
                break 'schedule;
            }
        }
        let due = due_at(start, rate, seq);
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            // --concurrency sends in flight: wait for a slot, the wait in this send's latency.
            Err(_) => {
                match tokio::time::timeout_at(deadline.into(), slots.clone().acquire_owned()).await
                {
                    Ok(Ok(slot)) => {
                        stats.borrow_mut().late += 1;
                        slot
                    }
                    // Still none at the deadline: this send and the rest due are unissued.
                    _ => break,
                }
            }
        };
        stats.borrow_mut().start_lag.record(due.elapsed());
        let (producer, opts, body, stats) =
            (producer.clone(), opts.clone(), body.clone(), stats.clone());
        actix_rt::spawn(async move {
            let outcome = send_one(&producer, &opts, &body, seq).await;
            stats.borrow_mut().record(outcome, due.elapsed());
            drop(slot);
        });
        seq += 1;
    }
    // Dropping the receiver stops the schedule thread at its next release.
    drop(released);
    stats.borrow_mut().unissued = total - seq;
    // Every send ends by deadline + send timeout + watchdog; this is only a backstop.
    let backstop = deadline + opts.send_timeout + WATCHDOG_GRACE + Duration::from_secs(1);
    let all = u32::try_from(opts.concurrency).unwrap_or(u32::MAX);
    match tokio::time::timeout_at(backstop.into(), slots.acquire_many(all)).await {
        Ok(_) => 0,
        Err(_) => opts.concurrency - slots.available_permits(),
    }
}
