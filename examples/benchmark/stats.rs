//! The run's counters and latency histograms (HdrHistogram over nanoseconds).

use std::collections::BTreeMap;
use std::time::Duration;

use actix_rocketmq::Error;
use actix_rocketmq::error::ErrorKind;
use indicatif::ProgressBar;

pub struct Histogram(hdrhistogram::Histogram<u64>);

impl Histogram {
    pub fn new() -> Self {
        // 1 ns to 1 h at 3 significant digits; larger values are clamped to 1 h.
        Histogram(
            hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                .expect("valid histogram bounds"),
        )
    }

    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.0.saturating_record(ns);
    }

    pub fn reset(&mut self) {
        self.0.reset();
    }

    /// The `q` quantile in µs (0 when empty).
    pub fn quantile_us(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(q).min(self.0.max()) as f64 / 1000.0
    }

    pub fn avg_us(&self) -> f64 {
        if self.0.is_empty() {
            0.0
        } else {
            self.0.mean() / 1000.0
        }
    }

    pub fn max_us(&self) -> f64 {
        self.0.max() as f64 / 1000.0
    }
}

/// One decimal is plenty for µs figures.
pub fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[derive(Default)]
pub struct Counters {
    pub ok: u64,
    pub failed: u64,
}

pub struct Stats {
    pub total: Counters,
    pub interval: Counters,
    pub errors: BTreeMap<String, u64>,
    pub latency: Histogram,
    pub interval_latency: Histogram,
    /// --rate: sends started after their scheduled time because --concurrency were in flight.
    pub late: u64,
    /// --rate: sends scheduled before the deadline that never started (no free slot).
    pub unissued: u64,
    /// --rate: how long after its scheduled time each send started (timer and slot waits).
    pub start_lag: Histogram,
    /// A --rate run: the per-second lines say how many sends were late.
    pub open_loop: bool,
    /// The live progress bar of a `--count` run on a terminal; lines print above it.
    pub progress: Option<ProgressBar>,
}

impl Stats {
    pub fn new() -> Self {
        Stats {
            total: Counters::default(),
            interval: Counters::default(),
            errors: BTreeMap::new(),
            latency: Histogram::new(),
            interval_latency: Histogram::new(),
            late: 0,
            unissued: 0,
            start_lag: Histogram::new(),
            open_loop: false,
            progress: None,
        }
    }

    pub fn ok(&mut self, latency: Duration) {
        self.total.ok += 1;
        self.interval.ok += 1;
        self.latency.record(latency);
        self.interval_latency.record(latency);
    }

    pub fn failed(&mut self, kind: String) {
        self.total.failed += 1;
        self.interval.failed += 1;
        *self.errors.entry(kind).or_default() += 1;
    }

    pub fn record(&mut self, outcome: Result<(), String>, latency: Duration) {
        match outcome {
            Ok(()) => self.ok(latency),
            Err(kind) => self.failed(kind),
        }
    }

    /// Prints a line, above the progress bar when there is one.
    pub fn println(&self, line: &str) {
        match &self.progress {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }
}

/// A short name per failure kind, for the `errors` map (broker errors by code).
pub fn error_kind(err: &Error) -> String {
    match err.kind() {
        ErrorKind::Broker { code, .. } => format!("broker_{code}"),
        ErrorKind::Connection(_) if err.is_timeout() => "connection_timeout".into(),
        kind => kind.as_str().into(),
    }
}
