//! The per-second lines and the live progress bar.

use std::cell::{Cell, RefCell};
use std::io::IsTerminal;
use std::rc::Rc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::resources::status_kb;
use crate::stats::{Counters, Stats};

/// Prints the line of the interval that ends now, `secs` long, and starts the next one.
pub fn report_interval(stats: &RefCell<Stats>, label: &str, secs: f64) {
    let mut s = stats.borrow_mut();
    let line = format!(
        "[{label:>6}] sends/s: {:>8.0} | failures: {:>5} | latency avg: {:>8.1}us p50: {:>8.1}us p99: {:>8.1}us max: {:>9.1}us | total ok: {} failed: {} | rss: {:.1} MB",
        s.interval.ok as f64 / secs.max(1e-9),
        s.interval.failed,
        s.interval_latency.avg_us(),
        s.interval_latency.quantile_us(0.50),
        s.interval_latency.quantile_us(0.99),
        s.interval_latency.max_us(),
        s.total.ok,
        s.total.failed,
        status_kb("VmRSS").unwrap_or(0) as f64 / 1024.0,
    );
    let line = if s.open_loop {
        format!("{line} | late: {}", s.late)
    } else {
        line
    };
    s.interval = Counters::default();
    s.interval_latency.reset();
    s.println(&line);
}

/// One line per second; `last_tick` keeps the end of the last reported interval.
pub async fn reporter(stats: Rc<RefCell<Stats>>, start: Instant, last_tick: Rc<Cell<Instant>>) {
    let mut tick = 1u64;
    loop {
        tokio::time::sleep_until((start + Duration::from_secs(tick)).into()).await;
        let now = Instant::now();
        let secs = now.duration_since(last_tick.get()).as_secs_f64();
        last_tick.set(now);
        report_interval(&stats, &format!("{tick}s"), secs);
        tick += 1;
    }
}

/// A `--count` run's progress bar, on stdout when it is a terminal (else none:
/// the per-second lines are the progress, and they are what a script reads).
pub fn progress_bar(count: Option<u64>) -> Option<ProgressBar> {
    let count = count.filter(|_| std::io::stdout().is_terminal())?;
    let bar = ProgressBar::with_draw_target(Some(count), ProgressDrawTarget::stdout());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} sends, {elapsed_precise} (eta {eta})")
            .expect("valid progress template"),
    );
    Some(bar)
}

/// Moves the bar to the sends done ten times a second (never from the send path).
pub async fn progress(stats: Rc<RefCell<Stats>>) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let s = stats.borrow();
        if let Some(bar) = &s.progress {
            bar.set_position(s.total.ok + s.total.failed);
        }
    }
}
