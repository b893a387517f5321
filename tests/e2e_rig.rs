//! Smoke tests of the real-broker rig itself (scripts/rig.sh driven from Rust).
//! Run with `scripts/test.sh` (they are ignored by a plain `cargo test`).

#[path = "support/rig.rs"]
mod rig;

use rig::Rig;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn accepts(addr: &str) -> bool {
    let addr: SocketAddr = addr.parse().expect("rig address is host:port");
    TcpStream::connect_timeout(&addr, Duration::from_secs(3)).is_ok()
}

#[test]
#[ignore = "needs the real broker: run scripts/test.sh"]
fn shared_rig_is_reachable() {
    let rig = Rig::from_env();
    assert!(
        accepts(rig.namesrv_addr()),
        "name server {} refuses connections",
        rig.namesrv_addr()
    );
    for name in rig.broker_names() {
        assert!(
            accepts(rig.broker_addr(&name)),
            "{name} refuses connections"
        );
    }
}

#[test]
#[ignore = "needs the real broker: run scripts/test.sh"]
fn private_rig_kill_and_restart() {
    let rig = Rig::start_private(1);
    assert!(
        accepts(rig.namesrv_addr()),
        "name server {} refuses connections",
        rig.namesrv_addr()
    );
    let broker = rig.broker_addr("broker-a").to_owned();
    assert!(accepts(&broker), "broker-a {broker} refuses connections");

    rig.kill_broker("broker-a");
    assert!(
        !accepts(&broker),
        "broker-a still accepts connections after kill-broker"
    );
    rig.start_broker("broker-a");
    assert!(
        accepts(&broker),
        "broker-a does not accept connections after start-broker"
    );
    assert_eq!(
        rig.broker_addr("broker-a"),
        broker,
        "restarted broker moved"
    );

    let dir = rig.dir().expect("a private rig has a run dir").to_owned();
    assert!(dir.join("rig.env").exists());
    drop(rig);
    assert!(!dir.exists(), "rig.sh stop left {} behind", dir.display());
}
