//! The load tool's command line is a contract (other tools run it): these run
//! the built `examples/benchmark` binary and check its exit status, that it
//! ends by itself, and its final JSON line.
//!
//! The binary comes from `cargo build --examples` (`scripts/test.sh` builds it
//! before the tests); run that first when running this file alone.
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn tool() -> PathBuf {
    // target/<profile>/deps/load_tool-<hash> → target/<profile>/examples/benchmark
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let tool = dir.join("examples").join("benchmark");
    assert!(
        tool.exists(),
        "{} is missing: run `cargo build --all-features --examples` first",
        tool.display()
    );
    tool
}

struct Run {
    status: i32,
    took: Duration,
    stdout: String,
}

impl Run {
    /// The final JSON line.
    fn json(&self) -> Value {
        let last = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last:?}\n{}", self.stdout))
    }
}

/// Runs the tool with `args`; fails the test if it does not end within `limit`.
fn run(args: &[&str], limit: Duration) -> Run {
    run_env(args, None, limit)
}

/// `run` with NAMESRV_ADDR set to `namesrv` (else unset).
fn run_env(args: &[&str], namesrv: Option<&str>, limit: Duration) -> Run {
    let t0 = Instant::now();
    let mut cmd = Command::new(tool());
    // Only an explicit --namesrv picks a cluster here (the tool falls back to NAMESRV_ADDR).
    match namesrv {
        Some(addr) => cmd.env("NAMESRV_ADDR", addr),
        None => cmd.env_remove("NAMESRV_ADDR"),
    };
    let mut child = cmd
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the load tool starts");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`benchmark {}` did not end within {limit:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = t0.elapsed();
    let stdout = std::io::read_to_string(child.stdout.take().expect("stdout")).expect("stdout");
    Run {
        status: status.code().unwrap_or(-1),
        took,
        stdout,
    }
}

fn num(j: &Value, key: &str) -> f64 {
    j[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is not a number in {j}"))
}

/// The keys the issue promises, each with a sane value.
fn check_summary(j: &Value, client: &str) {
    for key in [
        "sent",
        "ok",
        "failed",
        "elapsed_s",
        "tps",
        "p50_us",
        "p99_us",
        "p999_us",
        "max_us",
    ] {
        assert!(num(j, key) >= 0.0, "{key} in {j}");
    }
    assert!(j["errors"].is_object(), "errors per kind: {j}");
    assert_eq!(j["client"], client, "{j}");
    assert_eq!(num(j, "sent"), num(j, "ok") + num(j, "failed"), "{j}");
    assert!(num(j, "p50_us") <= num(j, "p90_us"), "{j}");
    assert!(num(j, "p90_us") <= num(j, "p99_us"), "{j}");
    assert!(num(j, "p99_us") <= num(j, "p999_us"), "{j}");
    assert!(num(j, "p999_us") <= num(j, "max_us"), "{j}");
    if num(j, "ok") > 0.0 {
        assert!(num(j, "p50_us") > 0.0, "latencies were recorded: {j}");
    }
}

/// Runs the tool with `args` expecting exit status 0 and a full summary from `client`.
fn run_ok(args: &[&str], client: &str) -> (Run, Value) {
    let r = run(args, Duration::from_secs(60));
    assert_eq!(r.status, 0, "{}", r.stdout);
    let j = r.json();
    check_summary(&j, client);
    (r, j)
}

#[test]
fn null_broker_run_reports_every_field_and_exits_zero() {
    let (r, j) = run_ok(
        &[
            "--null-broker",
            "--duration",
            "2",
            "--concurrency",
            "16",
            "--keys",
            "--tag",
            "T",
        ],
        "producer",
    );
    assert!(num(&j, "ok") > 0.0, "{j}");
    assert_eq!(num(&j, "failed"), 0.0, "{j}");
    // One line per second before the summary.
    assert!(
        r.stdout.lines().filter(|l| l.contains("sends/s:")).count() >= 2,
        "{}",
        r.stdout
    );
}

#[test]
fn count_mode_stops_at_the_count() {
    let (_, j) = run_ok(
        &[
            "--null-broker",
            "--count",
            "500",
            "--concurrency",
            "8",
            "--mode",
            "oneway",
        ],
        "producer",
    );
    assert_eq!(num(&j, "sent"), 500.0, "{j}");
}

#[test]
fn baseline_run_reports_the_same_fields() {
    let (_, j) = run_ok(
        &[
            "--null-broker",
            "--baseline",
            "--duration",
            "2",
            "--concurrency",
            "16",
        ],
        "baseline",
    );
    assert!(num(&j, "ok") > 0.0, "{j}");
}

/// --auto-batch with its settings: every send answered, the summary says so; the
/// settings need --auto-batch, and --baseline has no producer to batch.
#[test]
fn auto_batch_run_answers_every_send() {
    let (_, j) = run_ok(
        &[
            "--null-broker",
            "--auto-batch",
            "--batch-max-bytes",
            "4096",
            "--batch-max-messages",
            "16",
            "--batch-in-flight",
            "1",
            "--count",
            "3000",
            "--concurrency",
            "128",
        ],
        "producer",
    );
    assert_eq!(num(&j, "ok"), 3000.0, "{j}");
    assert_eq!(j["auto_batch"], true, "{j}");
    for bad in [
        &["--null-broker", "-q", "1", "--batch-max-bytes", "4096"][..],
        &["--null-broker", "-q", "1", "--auto-batch", "--baseline"][..],
        &[
            "--null-broker",
            "-q",
            "1",
            "--auto-batch",
            "--batch-in-flight",
            "0",
        ][..],
    ] {
        let r = run(bad, Duration::from_secs(30));
        assert_eq!(r.status, 2, "{bad:?}: {}", r.stdout);
    }
}

/// The broker dies one second in: the run still ends by itself, about at its
/// duration plus the send timeout, exit status 0, the failures counted by kind.
#[test]
fn a_dead_broker_does_not_keep_the_run_alive() {
    let r = run(
        &[
            "--null-broker",
            "--duration",
            "3",
            "--send-timeout",
            "1000",
            "--broker-fault",
            "stop",
            "--broker-fault-after",
            "1",
        ],
        // Duration + send timeout, plus room for a slow shared machine (startup included).
        Duration::from_secs(30),
    );
    assert_eq!(r.status, 0, "{}", r.stdout);
    let j = r.json();
    check_summary(&j, "producer");
    assert!(num(&j, "failed") > 0.0, "sends after the crash fail: {j}");
    let errors = j["errors"].as_object().expect("errors");
    assert!(!errors.is_empty(), "failures are counted per kind: {j}");
    assert_eq!(
        num(&j, "unfinished_workers"),
        0.0,
        "every send was answered: {j}"
    );
    assert!(
        num(&j, "elapsed_s") < 3.0 + 1.0 + 2.0,
        "{j} (took {:?})",
        r.took
    );
}

#[test]
fn a_bad_flag_is_a_usage_error() {
    let r = run(
        &["--null-broker", "--size", "lots"],
        Duration::from_secs(30),
    );
    assert_eq!(r.status, 2, "{}", r.stdout);
    let r = run(&["--duration", "1"], Duration::from_secs(30));
    assert_eq!(
        r.status, 2,
        "neither --namesrv nor --null-broker: {}",
        r.stdout
    );
}

/// The Java tool's short flags: -t topic, -w concurrency, -s size, -k keys (bare or
/// `-k true`), -q count, -y async, -a with --ak/--sk; the summary echoes them.
#[test]
fn java_short_flags_are_accepted() {
    let (_, j) = run_ok(
        &[
            "--null-broker",
            "-t",
            "ShortFlagTopic",
            "-w",
            "4",
            "-s",
            "300",
            "-k",
            "-q",
            "200",
            "-y",
        ],
        "producer",
    );
    assert_eq!(j["topic"], "ShortFlagTopic", "{j}");
    assert_eq!(num(&j, "concurrency"), 4.0, "{j}");
    assert_eq!(num(&j, "size"), 300.0, "{j}");
    assert_eq!(num(&j, "sent"), 200.0, "{j}");
    assert_eq!(j["acl"], false, "{j}");
    let (_, j) = run_ok(
        &[
            "--null-broker",
            "-k",
            "true",
            "-q",
            "50",
            "-a",
            "--ak",
            "AK",
            "--sk",
            "SK",
        ],
        "producer",
    );
    assert_eq!(num(&j, "sent"), 50.0, "{j}");
    assert_eq!(j["acl"], true, "-a signs: {j}");
    assert_eq!(j["delay_level"], Value::Null, "no delay unless asked: {j}");
    // Java's -d (delay on, level 1) and -e (the level); --delay-level alone enables it.
    for (args, level) in [
        (&["-d"][..], 1.0),
        (&["-d", "-e", "3"][..], 3.0),
        (&["--delay-level", "5"][..], 5.0),
    ] {
        let mut all = vec!["--null-broker", "-q", "20"];
        all.extend_from_slice(args);
        let (_, j) = run_ok(&all, "producer");
        assert_eq!(num(&j, "sent"), 20.0, "{args:?}: {j}");
        assert_eq!(num(&j, "delay_level"), level, "{args:?}: {j}");
    }
    // Java's -m: message trace on, a record per send (to the null broker's trace topic).
    assert_eq!(j["trace"], false, "{j}");
    let (_, j) = run_ok(&["--null-broker", "-q", "300", "-m"], "producer");
    assert_eq!(j["trace"], true, "{j}");
    assert_eq!(num(&j, "trace_recorded"), 300.0, "{j}");
    assert_eq!(num(&j, "failed"), 0.0, "{j}");
    // -y is a send with a reply: not with oneway; --ak needs -a.
    for bad in [
        &["--null-broker", "-q", "1", "-y", "--mode", "oneway"][..],
        &["--null-broker", "-q", "1", "--ak", "AK"][..],
        &["--null-broker", "-q", "1", "-w", "0"][..],
        &["--null-broker", "-q", "1", "--delay-level", "0"][..],
    ] {
        let r = run(bad, Duration::from_secs(30));
        assert_eq!(r.status, 2, "{bad:?}: {}", r.stdout);
    }
}

/// `-n` is --namesrv and NAMESRV_ADDR its fallback: with an address the run tries that
/// cluster (a dead one: exit 1, not the usage error 2); --null-broker wins over the variable.
#[test]
fn namesrv_short_flag_and_env_fallback() {
    let r = run(
        &["--null-broker", "-n", "127.0.0.1:1", "-q", "1"],
        Duration::from_secs(30),
    );
    assert_eq!(r.status, 2, "-n and --null-broker together: {}", r.stdout);
    let dead = ["--baseline", "-q", "1", "--send-timeout", "500"];
    let r = run(&dead, Duration::from_secs(30));
    assert_eq!(r.status, 2, "no cluster named: {}", r.stdout);
    let r = run_env(&dead, Some("127.0.0.1:1"), Duration::from_secs(30));
    assert_eq!(r.status, 1, "NAMESRV_ADDR's dead cluster: {}", r.stdout);
    let r = run(
        &[
            "-n",
            "127.0.0.1:1",
            "--baseline",
            "-q",
            "1",
            "--send-timeout",
            "500",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.status, 1, "-n's dead cluster: {}", r.stdout);
    let r = run_env(
        &["--null-broker", "-q", "20"],
        Some("127.0.0.1:1"),
        Duration::from_secs(60),
    );
    assert_eq!(r.status, 0, "{}", r.stdout);
    assert_eq!(num(&r.json(), "ok"), 20.0, "{}", r.stdout);
}

/// --rate: the open-loop schedule is rate x duration sends, each either started
/// (`sent`) or still waiting for a slot at the deadline (`unissued`).
#[test]
fn rate_mode_sends_on_a_schedule() {
    let (r, j) = run_ok(
        &[
            "--null-broker",
            "--rate",
            "2000",
            "--duration",
            "2",
            "--concurrency",
            "32",
        ],
        "producer",
    );
    assert_eq!(num(&j, "rate"), 2000.0, "{j}");
    assert_eq!(num(&j, "sent") + num(&j, "unissued"), 4000.0, "{j}");
    assert!(num(&j, "late") >= 0.0, "{j}");
    // Each send's latency includes how late it started, so each quantile does too.
    assert_eq!(num(&j, "failed"), 0.0, "{j}");
    assert!(
        num(&j, "start_lag_p50_us") <= num(&j, "start_lag_p99_us"),
        "{j}"
    );
    assert!(num(&j, "start_lag_p50_us") <= num(&j, "p50_us"), "{j}");
    assert!(num(&j, "start_lag_p99_us") <= num(&j, "p99_us"), "{j}");
    // A null broker keeps up with 2000/s on any machine this runs on.
    assert!(num(&j, "ok") >= 2000.0, "{j}");
    assert!(
        num(&j, "tps") <= 2000.0 * 1.1,
        "no faster than the schedule: {j}"
    );
    assert!(
        r.stdout.lines().filter(|l| l.contains("| late: ")).count() >= 2,
        "{}",
        r.stdout
    );
    let (_, j) = run_ok(
        &[
            "--null-broker",
            "--rate",
            "1000",
            "--count",
            "300",
            "-w",
            "8",
        ],
        "producer",
    );
    assert_eq!(num(&j, "sent"), 300.0, "{j}");
    // 300 sends due over 0.3 s: the run cannot be much shorter.
    assert!(num(&j, "elapsed_s") >= 0.29, "{j}");
}

/// A frozen broker under --rate: the slots fill with sends that time out, the sends
/// due meanwhile are late or unissued, and the schedule still accounts for each.
#[test]
fn rate_mode_counts_sends_that_could_not_start_on_time() {
    let (_, j) = run_ok(
        &[
            "--null-broker",
            "--rate",
            "500",
            "--duration",
            "3",
            "--concurrency",
            "4",
            "--send-timeout",
            "1000",
            "--broker-fault",
            "freeze",
            "--broker-fault-after",
            "1",
        ],
        "producer",
    );
    assert_eq!(num(&j, "sent") + num(&j, "unissued"), 1500.0, "{j}");
    assert!(num(&j, "failed") > 0.0, "{j}");
    assert!(num(&j, "late") > 0.0, "{j}");
    assert!(num(&j, "unissued") > 0.0, "{j}");
    assert_eq!(num(&j, "unfinished_workers"), 0.0, "{j}");
}

#[test]
#[ignore = "needs the real broker: run scripts/test.sh"]
fn real_broker_run() {
    let namesrv = std::env::var("NAMESRV_ADDR").expect("NAMESRV_ADDR (scripts/test.sh sets it)");
    for client in ["producer", "baseline"] {
        let mut args = vec![
            "--namesrv",
            namesrv.as_str(),
            "--duration",
            "2",
            "--size",
            "1024",
            "--concurrency",
            "8",
            "--topic",
            "LoadToolTest",
        ];
        if client == "baseline" {
            args.push("--baseline");
        }
        let mut r = run(&args, Duration::from_secs(60));
        for _ in 0..5 {
            if r.status == 0 || client != "baseline" {
                break;
            }
            // The baseline reads the topic's route: the producer run created the
            // topic, and the broker may not have registered it at the name server yet.
            std::thread::sleep(Duration::from_secs(1));
            r = run(&args, Duration::from_secs(60));
        }
        assert_eq!(r.status, 0, "{}", r.stdout);
        let j = r.json();
        check_summary(&j, client);
        assert!(num(&j, "ok") > 0.0, "{j}");
        assert_eq!(num(&j, "failed"), 0.0, "{j}");
    }
}
