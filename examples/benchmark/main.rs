//! Load tool for the producer, modelled on RocketMQ's benchmark `Producer`.
//!
//! ```text
//! cargo run --release --example benchmark -- --null-broker --duration 5
//! cargo run --release --example benchmark -- --namesrv 127.0.0.1:9876 --topic BenchmarkTest \
//!     --size 1024 --concurrency 64 --mode sync --count 1000000
//! cargo run --release --example benchmark -- -n 127.0.0.1:9876 -t BenchmarkTest -s 1024 -w 64 -q 1000000
//! cargo run --release --example benchmark -- --null-broker --rate 20000 --duration 10
//! ```
//!
//! `--concurrency N` tasks each loop `addr.send(SendMessage::new(..)).await`
//! (or `SendOneway`) on one shared producer: that is the async-send pattern,
//! N sends in flight. Every second one line reports the sends completed in
//! that second, the failures and the latency (avg/p50/p99/max, from building
//! the `SendMessage` to its reply; successful sends only). At the end one
//! last line holds a one-line JSON summary (`sent`, `ok`, `failed`, `errors`
//! per kind, `elapsed_s`, `tps`, latency percentiles in µs, CPU and memory).
//!
//! `--baseline` runs the same load from the minimal client of benches/support/baseline.rs instead
//! of a producer (`benches/support/baseline.rs`: pre-encoded
//! SEND_MESSAGE_V2 frames pipelined on one connection, a window of
//! `--concurrency` unanswered frames, no actors), with the same per-second
//! lines and final JSON (`"client":"baseline"` instead of `"producer"`): the
//! floor of CPU per message and latency on this machine, to compare with the
//! producer's in the same session. It resolves the topic's route at the name
//! server (the in-process one with `--null-broker`) and sends to the master of
//! the first broker with writable queues, round-robin over its write queues.
//! `--send-timeout` is its response timeout: it gives up when frames are
//! unanswered and no response came for that long.
//!
//! `--null-broker` runs the crate's in-process test cluster in null mode
//! (every send answered SUCCESS at once, nothing stored) on its own thread
//! with its own tokio runtime, so the client (the actix system on the main
//! thread) and the broker each get a core, as with a broker process.
//!
//! `--rate N` runs an open loop instead: send `i` is due at `i / N` seconds
//! and starts then whatever the replies, with at most `--concurrency` in
//! flight; its latency counts from when it was due, so a stalled reply shows
//! in the latency of every send behind it (no coordinated omission). A send
//! due while `--concurrency` are in flight waits for a slot (`late` in the
//! JSON); those still waiting at the deadline are `unissued`. The schedule is
//! kept by a thread of its own (tokio's timers round up to the millisecond);
//! `start_lag_p50_us` and `start_lag_p99_us` say how late sends started after
//! their time (that thread's wake-up, the hop to the client's thread, and
//! slot waits), all of it in their latency.
//!
//! Latency percentiles come from HdrHistograms over nanoseconds (3
//! significant digits).
//!
//! CPU: `cpu_user_s`/`cpu_sys_s` are the whole process's user/system time
//! during the send phase, from `getrusage(RUSAGE_SELF)` (microseconds). With
//! `--null-broker` they include the broker thread; `broker_cpu_s` is that
//! thread's own time (`getrusage(RUSAGE_THREAD)`, Linux) and `client_cpu_us_per_msg`
//! excludes it. `max_rss_kb` is `VmHWM` of `/proc/self/status`; `rss_start_kb` and
//! `rss_end_kb` are `VmRSS` when sending began and when it ended (every send
//! answered), `rss_end_trimmed_kb` the same once glibc gave its free memory back
//! (`malloc_trim`), and every per-second line ends with the RSS at that moment.
//!
//! A `--count` run whose stdout is a terminal shows a live progress bar below
//! the per-second lines; otherwise the output is plain lines.
//!
//! The run always ends by itself: no send starts after the deadline
//! (`--duration`, or a 600 s cap with `--count`), each send is bounded by the
//! send timeout (a send the client never answered leaves its worker
//! unfinished: counted in `unfinished_workers` at deadline + send timeout + 2 s), and the
//! producer shutdown is given 1 s. With `--baseline`, the route lookup and the
//! connect are bounded by the send timeout, and the run stops waiting when no
//! response came for the send timeout or the connection is lost. Exit code 0 whenever the run reached its
//! end, whatever the failures; 2 for a usage error, 1 if the producer or the
//! test cluster could not start. `--help` lists the flags; the short ones are
//! the Java tool's (`-n -t -w -s -k -q -y -a -d -e`, and `--ak`/`--sk` for its
//! `-ak`/`-sk`), and `--namesrv` falls back to `NAMESRV_ADDR`; without either,
//! `--namesrv-domain HOST[:PORT]` (and `--namesrv-subgroup`) fetch the list over HTTP.
// The run summary's json! literal (summary.rs) has more fields than the default macro depth allows.
#![recursion_limit = "256"]

#[path = "../../benches/support/baseline.rs"]
#[allow(dead_code)] // each includer uses part of it
mod baseline;
mod baseline_run;
mod cli;
mod null_broker;
mod phase;
mod producer_run;
mod report;
mod resources;
mod schedule;
mod stats;
mod summary;

use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use crate::baseline_run::run_baseline;
use crate::cli::parse_args;
use crate::null_broker::NullBroker;
use crate::producer_run::run;
use crate::stats::Stats;
use crate::summary::print_summary;

fn main() -> ExitCode {
    let opts = parse_args();
    let broker = if opts.null_broker {
        match NullBroker::start(&opts.topic, opts.broker_fault) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("error: cannot start the null broker: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    if let (Some(secs), Some(b)) = (opts.serve_secs, &broker) {
        println!("NAMESRV_ADDR={}", b.namesrv);
        std::thread::sleep(Duration::from_secs_f64(secs));
        return ExitCode::SUCCESS;
    }
    let namesrv = match (&broker, &opts.namesrv) {
        (Some(b), _) => b.namesrv.clone(),
        (None, Some(n)) => n.clone(),
        // Fetched by the producer from the address server (parse_args checked one is given).
        (None, None) => String::new(),
    };
    println!(
        "benchmark: {}{}{} topic={} size={} concurrency={} mode={:?} {}{} namesrv={}",
        if opts.null_broker {
            "null-broker"
        } else {
            "cluster"
        },
        if opts.baseline { " baseline" } else { "" },
        if opts.auto_batch.is_some() {
            " auto-batch"
        } else {
            ""
        },
        opts.topic,
        opts.size,
        opts.concurrency,
        opts.mode,
        match (opts.count, opts.duration) {
            (Some(c), Some(d)) => format!("count={c} duration={}s", d.as_secs_f64()),
            (Some(c), None) => format!("count={c}"),
            (None, Some(d)) => format!("duration={}s", d.as_secs_f64()),
            (None, None) => String::new(),
        },
        opts.rate
            .map(|r| format!(" rate={r}/s"))
            .unwrap_or_default(),
        if namesrv.is_empty() {
            format!(
                "(from {}/{})",
                opts.namesrv_domain.as_deref().unwrap_or("jmenv.tbsite.net"),
                opts.namesrv_subgroup.as_deref().unwrap_or("nsaddr")
            )
        } else {
            namesrv.clone()
        }
    );

    let mut stats = Stats::new();
    stats.open_loop = opts.rate.is_some();
    let stats = Rc::new(RefCell::new(stats));
    let opts = Rc::new(opts);
    let system = actix_rt::System::new();
    let result = if opts.baseline {
        system.block_on(run_baseline(
            opts.clone(),
            namesrv,
            broker.as_ref(),
            stats.clone(),
        ))
    } else {
        system.block_on(run(opts.clone(), namesrv, broker.as_ref(), stats.clone()))
    };
    let result = match result {
        Ok(r) => r,
        Err((code, e)) => {
            eprintln!("error: {e}");
            if let Some(b) = broker {
                b.stop();
            }
            return ExitCode::from(code);
        }
    };
    if let Some(b) = broker {
        b.stop();
    }

    print_summary(&opts, &stats, result);
    ExitCode::SUCCESS
}
