//! Real-broker test helper: a RocketMQ name server + brokers started by `scripts/rig.sh`.
//!
//! Include it from an integration test with
//!
//! ```ignore
//! #[path = "support/rig.rs"]
//! mod rig;
//! ```
//!
//! Real-broker tests are `#[ignore = "needs the real broker: run scripts/test.sh"]`, so a
//! plain `cargo test` lists them as ignored; `scripts/test.sh` starts a shared rig (two
//! brokers), exports `RMQ_E2E=1`, `NAMESRV_ADDR`, `RMQ_RIG_DIR`, ... and runs the tests
//! with `--include-ignored`.
//!
//! * [`Rig::from_env`]: the shared rig of `scripts/test.sh`. Do not kill its servers: other
//!   tests use it concurrently. (`RMQ_E2E=1 NAMESRV_ADDR=host:port` alone also works, for a
//!   name server started some other way; then only `namesrv_addr()` is known.)
//! * [`Rig::start_private`]: a rig of your own (fresh run dir, free ports) for failure tests
//!   that kill and restart servers; stopped and deleted on drop, and also stopped by the
//!   script itself if the test process dies without dropping it.
//!
//! Only std is used (the servers are driven through `std::process::Command`).
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const NEED_RIG: &str = "real-broker tests need the rig: run scripts/test.sh";

/// A running rig: a name server and brokers `broker-a`, `broker-b`, ... (cluster
/// `DefaultCluster`) on 127.0.0.1.
#[derive(Debug)]
pub struct Rig {
    dir: Option<PathBuf>,
    env: HashMap<String, String>,
    private: bool,
}

impl Rig {
    /// The shared rig started by `scripts/test.sh` (reads `NAMESRV_ADDR`, and the rig's
    /// `rig.env` in `RMQ_RIG_DIR` when set).
    ///
    /// Panics with "real-broker tests need the rig: run scripts/test.sh" when `RMQ_E2E`
    /// is not set.
    pub fn from_env() -> Rig {
        require_e2e();
        let namesrv = std::env::var("NAMESRV_ADDR")
            .unwrap_or_else(|_| panic!("{NEED_RIG} (RMQ_E2E is set but NAMESRV_ADDR is not)"));
        // Without RMQ_RIG_DIR (a name server started some other way) only the name
        // server's address is known.
        let dir = std::env::var_os("RMQ_RIG_DIR").map(PathBuf::from);
        let mut env = match &dir {
            Some(dir) => match std::fs::read_to_string(dir.join("rig.env")) {
                Ok(text) => parse_env(&text),
                Err(e) => panic!(
                    "{NEED_RIG} (cannot read {}: {e})",
                    dir.join("rig.env").display()
                ),
            },
            None => HashMap::new(),
        };
        env.insert("NAMESRV_ADDR".into(), namesrv);
        Rig {
            dir,
            env,
            private: false,
        }
    }

    /// Starts a private rig with `brokers` brokers (`broker-a`, `broker-b`, ...) in a new
    /// temporary run dir on free ports, and waits until every broker is registered.
    pub fn start_private(brokers: usize) -> Rig {
        Rig::start_private_with(brokers, |_| Vec::new())
    }

    /// [`Rig::start_private`] with settings of `scripts/rig.sh start` made from the run
    /// dir (e.g. `RMQ_RIG_BROKER_EXTRA`, `RMQ_RIG_BROKER_BIND`).
    pub fn start_private_with(
        brokers: usize,
        settings: impl FnOnce(&Path) -> Vec<(&'static str, String)>,
    ) -> Rig {
        require_e2e();
        assert!((1..=26).contains(&brokers), "brokers must be 1..=26");
        let dir = fresh_dir();
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .env("RMQ_RIG_DIR", &dir)
            .env("RMQ_BROKERS", brokers.to_string())
            .envs(settings(&dir))
            // the script stops the rig by itself if this test process dies
            .env("RMQ_RIG_OWNER_PID", std::process::id().to_string())
            .env_remove("RMQ_NAMESRV_PORT")
            .env_remove("RMQ_BROKER_PORT")
            .env_remove("RMQ_RIG_KEEP")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script().display()));
        if !out.status.success() {
            // the start cleaned up its servers; remove the run dir (logs are in the message)
            let _ = Command::new("bash")
                .arg(script())
                .arg("stop")
                .env("RMQ_RIG_DIR", &dir)
                .output();
            let _ = std::fs::remove_dir_all(&dir);
            panic!(
                "scripts/rig.sh start failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let env = parse_env(&String::from_utf8_lossy(&out.stdout));
        assert!(
            env.contains_key("NAMESRV_ADDR"),
            "scripts/rig.sh start printed no NAMESRV_ADDR"
        );
        Rig {
            dir: Some(dir),
            env,
            private: true,
        }
    }

    /// `127.0.0.1:PORT` of the name server.
    pub fn namesrv_addr(&self) -> &str {
        &self.env["NAMESRV_ADDR"]
    }

    /// `127.0.0.1:PORT` of a broker (`"broker-a"`, `"broker-b"`, ...). Stays the same
    /// across kill / restart.
    pub fn broker_addr(&self, name: &str) -> &str {
        let key = format!("{}_ADDR", name.to_ascii_uppercase().replace('-', "_"));
        self.env
            .get(&key)
            .unwrap_or_else(|| panic!("this rig has no broker {name:?} (no {key} in rig.env)"))
    }

    /// The brokers' names, e.g. `["broker-a", "broker-b"]`.
    pub fn broker_names(&self) -> Vec<String> {
        self.env
            .get("BROKER_NAMES")
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The run dir (config, logs `namesrv.log` / `broker-a.log`, stores); `None` for a
    /// shared rig given by `NAMESRV_ADDR` alone.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// SIGKILLs a broker (no graceful shutdown). Private rigs only.
    pub fn kill_broker(&self, name: &str) {
        self.control(&["kill-broker", name]);
    }

    /// Restarts a killed broker on the same ports with the same store, and waits until it
    /// is registered with the name server again (if the name server runs).
    pub fn start_broker(&self, name: &str) {
        self.control(&["start-broker", name]);
    }

    /// Stops the name server (SIGTERM). Private rigs only.
    pub fn stop_namesrv(&self) {
        self.control(&["stop-namesrv"]);
    }

    /// Restarts the name server on the same port and waits until every running broker has
    /// registered again (brokers re-register every 10 s).
    pub fn start_namesrv(&self) {
        self.control(&["start-namesrv"]);
    }

    /// `scripts/rig.sh status` output.
    pub fn status(&self) -> String {
        String::from_utf8_lossy(&self.run(&["status"]).stdout).into_owned()
    }

    fn control(&self, args: &[&str]) {
        assert!(
            self.private,
            "refusing to `rig.sh {}` on the shared rig (other tests use it): use Rig::start_private",
            args.join(" ")
        );
        let out = self.run(args);
        if !out.status.success() {
            panic!(
                "scripts/rig.sh {} failed ({}):\n{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let dir = self.dir.as_ref().unwrap_or_else(|| {
            panic!(
                "no RMQ_RIG_DIR: `rig.sh {}` needs a rig run dir",
                args.join(" ")
            )
        });
        Command::new("bash")
            .arg(script())
            .args(args)
            .env("RMQ_RIG_DIR", dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script().display()))
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let Some(dir) = self.dir.as_ref().filter(|_| self.private) else {
            return;
        };
        match Command::new("bash")
            .arg(script())
            .arg("stop")
            .env("RMQ_RIG_DIR", dir)
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "scripts/rig.sh stop failed for {} ({}):\n{}",
                dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("cannot run {}: {e}", script().display()),
        }
    }
}

fn require_e2e() {
    if std::env::var_os("RMQ_E2E").is_none() {
        panic!("{NEED_RIG} (RMQ_E2E is not set; these tests only run with --include-ignored)");
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join("rig.sh")
}

/// A new, empty directory for a private rig's run dir.
fn fresh_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "actix-rocketmq-private-rig.{}.{n}.{nanos:x}",
            std::process::id()
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("cannot create {}: {e}", dir.display()),
        }
    }
}

/// Parses `KEY=VALUE` lines (the rig's env file).
fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}
