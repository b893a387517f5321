//! The send phase's clock and CPU/RSS readings, and what they give at its end.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_rocketmq::TraceStats;

use crate::null_broker::NullBroker;
use crate::report::{progress, progress_bar, report_interval, reporter};
use crate::resources::{CpuTime, process_cpu, status_kb, trimmed_rss_kb};
use crate::stats::Stats;

pub struct RunResult {
    /// RSS when the send phase began (client started, nothing sent yet) and when it ended.
    pub rss_start_kb: Option<u64>,
    pub rss_end_kb: Option<u64>,
    /// RSS at the end once freed memory went back to the OS (glibc only).
    pub rss_end_trimmed_kb: Option<u64>,
    pub elapsed: Duration,
    pub cpu: CpuTime,
    pub broker_cpu: Option<CpuTime>,
    pub unfinished_workers: usize,
    /// Message trace counters at the end of the send phase (`--trace`).
    pub trace: Option<TraceStats>,
}

/// The send phase's clock, CPU readings and per-second reporter.
pub struct Phase<'a> {
    broker: Option<&'a NullBroker>,
    stats: Rc<RefCell<Stats>>,
    cpu0: CpuTime,
    broker_cpu0: Option<CpuTime>,
    pub start: Instant,
    last_tick: Rc<Cell<Instant>>,
    reporter: actix_rt::task::JoinHandle<()>,
    /// Moves the progress bar, when there is one.
    progress: Option<actix_rt::task::JoinHandle<()>>,
    rss_start_kb: Option<u64>,
}

impl<'a> Phase<'a> {
    pub fn begin(
        broker: Option<&'a NullBroker>,
        stats: Rc<RefCell<Stats>>,
        count: Option<u64>,
    ) -> Self {
        let bar = progress_bar(count);
        let progress = bar
            .is_some()
            .then(|| actix_rt::spawn(progress(stats.clone())));
        stats.borrow_mut().progress = bar;
        let cpu0 = process_cpu().unwrap_or_default();
        let broker_cpu0 = broker.and_then(NullBroker::cpu);
        let rss_start_kb = status_kb("VmRSS");
        let start = Instant::now();
        let last_tick = Rc::new(Cell::new(start));
        let reporter = actix_rt::spawn(reporter(stats.clone(), start, last_tick.clone()));
        Phase {
            broker,
            stats,
            cpu0,
            broker_cpu0,
            start,
            last_tick,
            reporter,
            progress,
            rss_start_kb,
        }
    }

    /// Stops the clock and the reporter, prints the last, partial second.
    pub fn end(self, unfinished_workers: usize) -> RunResult {
        let elapsed = self.start.elapsed();
        let cpu1 = process_cpu().unwrap_or_default();
        let broker_cpu1 = self.broker.and_then(NullBroker::cpu);
        self.reporter.abort();
        if let Some(p) = self.progress {
            p.abort();
        }
        if let Some(bar) = self.stats.borrow_mut().progress.take() {
            bar.finish_and_clear();
        }
        let tail = elapsed.saturating_sub(self.last_tick.get().duration_since(self.start));
        if tail > Duration::from_millis(50) {
            report_interval(
                &self.stats,
                &format!("{:.2}s", elapsed.as_secs_f64()),
                tail.as_secs_f64(),
            );
        }
        RunResult {
            rss_start_kb: self.rss_start_kb,
            rss_end_kb: status_kb("VmRSS"),
            rss_end_trimmed_kb: trimmed_rss_kb(),
            elapsed,
            cpu: cpu1.since(self.cpu0),
            broker_cpu: self.broker_cpu0.zip(broker_cpu1).map(|(a, b)| b.since(a)),
            unfinished_workers,
            trace: None,
        }
    }
}
