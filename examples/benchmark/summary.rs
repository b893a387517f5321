//! The run's one-line JSON summary.

use std::cell::RefCell;
use std::io::Write;

use crate::cli::{Mode, Opts};
use crate::phase::RunResult;
use crate::resources::max_rss_kb;
use crate::stats::{Stats, r1};

/// Prints the one-line JSON summary of the run.
pub fn print_summary(opts: &Opts, stats: &RefCell<Stats>, result: RunResult) {
    let s = stats.borrow();
    let sent = s.total.ok + s.total.failed;
    let elapsed = result.elapsed.as_secs_f64();
    let cpu_user = result.cpu.user.as_secs_f64();
    let cpu_sys = result.cpu.sys.as_secs_f64();
    let per_msg = |cpu_s: f64| {
        if sent == 0 {
            0.0
        } else {
            r1(cpu_s * 1e6 / sent as f64)
        }
    };
    let broker_cpu = result.broker_cpu.map(|c| (c.user + c.sys).as_secs_f64());
    let summary = serde_json::json!({
        "client": if opts.baseline { "baseline" } else { "producer" },
        "mode": match opts.mode { Mode::Sync => "sync", Mode::Oneway => "oneway" },
        "null_broker": opts.null_broker,
        "topic": opts.topic,
        "size": opts.size,
        "serialize": opts.serialize.name(),
        "connection_arbiter": opts.connection_arbiter,
        "concurrency": opts.concurrency,
        "acl": opts.acl.is_some(),
        "auto_batch": opts.auto_batch.is_some(),
        "delay_level": opts.delay_level,
        "trace": opts.trace,
        "trace_recorded": result.trace.map(|t| t.recorded),
        "trace_sent": result.trace.map(|t| t.sent),
        "trace_dropped": result.trace.map(|t| t.dropped),
        "sent": sent,
        "ok": s.total.ok,
        "failed": s.total.failed,
        "errors": s.errors,
        "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        "tps": if elapsed > 0.0 { (s.total.ok as f64 / elapsed).round() } else { 0.0 },
        "avg_us": r1(s.latency.avg_us()),
        "p50_us": r1(s.latency.quantile_us(0.50)),
        "p90_us": r1(s.latency.quantile_us(0.90)),
        "p99_us": r1(s.latency.quantile_us(0.99)),
        "p999_us": r1(s.latency.quantile_us(0.999)),
        "max_us": r1(s.latency.max_us()),
        "cpu_user_s": cpu_user,
        "cpu_sys_s": cpu_sys,
        "cpu_us_per_msg": per_msg(cpu_user + cpu_sys),
        "broker_cpu_s": broker_cpu,
        "client_cpu_us_per_msg": per_msg(cpu_user + cpu_sys - broker_cpu.unwrap_or(0.0)),
        "max_rss_kb": max_rss_kb(),
        "rss_start_kb": result.rss_start_kb,
        "rss_end_kb": result.rss_end_kb,
        "rss_end_trimmed_kb": result.rss_end_trimmed_kb,
        "unfinished_workers": result.unfinished_workers,
        "rate": opts.rate,
        "late": s.late,
        "unissued": s.unissued,
        "start_lag_p50_us": r1(s.start_lag.quantile_us(0.50)),
        "start_lag_p99_us": r1(s.start_lag.quantile_us(0.99)),
    });
    println!("{summary}");
    let _ = std::io::stdout().flush();
}
