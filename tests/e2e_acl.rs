//! ACL against the REAL broker: a private rig whose broker requires
//! authentication (`authenticationEnabled`, one user made at start). A producer
//! with the user's credentials is served and its message is stored byte for byte
//! (read back with signed admin requests); without credentials, or with a wrong
//! secret, the broker refuses every send (code 16) and the producer says so.
//!
//! Ignored by a plain `cargo test`; `scripts/test.sh` runs it.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/readback.rs"]
mod readback;
#[path = "support/rig.rs"]
mod rig;

use std::time::Duration;

use actix_rocketmq::internals::protocol::response_code;
use actix_rocketmq::internals::runtime::ConnectionConfig;
use actix_rocketmq::{
    AclCredentials, Message, ProducerActor, ProducerConfig, SendMessage, Shutdown,
};
use e2e::within;
use readback::{ReadBack, assert_at_result, assert_same_message, unique};
use rig::Rig;

const STEP: Duration = Duration::from_secs(20);
const USER: &str = "rocketmq";
const PASSWORD: &str = "12345678";

async fn producer(rig: &Rig, creds: Option<AclCredentials>) -> actix::Addr<ProducerActor> {
    let mut b = ProducerConfig::builder(unique("e2e_acl_group"))
        .namesrv_addr(rig.namesrv_addr())
        .instance_name(unique("e2e_acl"))
        .send_timeout(Duration::from_secs(5));
    if let Some(c) = creds {
        b = b.acl_credentials(c);
    }
    within(STEP, "start", ProducerActor::start(b.build().unwrap()))
        .await
        .expect("producer starts")
}

#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn signed_sends_are_stored_and_unsigned_ones_refused() {
    let rig = tokio::task::spawn_blocking(|| {
        Rig::start_private_with(1, |dir| {
            let extra = format!(
                "authenticationEnabled = true\nauthConfigPath = \"{}/auth\"\n\
                 initAuthenticationUser = \"{USER}:{PASSWORD}\"",
                dir.display()
            );
            vec![("RMQ_RIG_BROKER_EXTRA", extra)]
        })
    })
    .await
    .expect("rig start task");
    let creds = AclCredentials::new(USER, PASSWORD);
    let rb = ReadBack::with_config(ConnectionConfig {
        acl: Some(creds.clone()),
        ..ConnectionConfig::default()
    });
    let topic = unique("E2E_acl");
    within(
        STEP,
        "create topic",
        rb.create_topic(&[rig.broker_addr("broker-a")], &topic, 4),
    )
    .await;
    rb.wait_route(rig.namesrv_addr(), &topic, &["broker-a"], STEP)
        .await;

    let signed = producer(&rig, Some(creds)).await;
    let msg = Message::new(topic.as_str(), "signed body")
        .with_tags("ACL")
        .with_keys("acl-1");
    let result = within(
        STEP,
        "signed send",
        signed.send(SendMessage::new(msg.clone())),
    )
    .await
    .expect("producer alive")
    .expect("a signed send is served");
    let (stored, _) = within(STEP, "view", rb.view(&result.offset_msg_id))
        .await
        .expect("read back with a signed request");
    assert_same_message(&stored, &msg, &result.msg_id, "signed send");
    assert_at_result(&stored, &result, "signed send");

    for (what, creds) in [
        ("unsigned", None),
        (
            "wrong secret",
            Some(AclCredentials::new(USER, "not-the-password")),
        ),
    ] {
        let p = producer(&rig, creds).await;
        let err = within(
            STEP,
            what,
            p.send(SendMessage::new(Message::new(topic.as_str(), what))),
        )
        .await
        .expect("producer alive")
        .expect_err("the broker requires a valid signature");
        assert_eq!(
            err.response_code(),
            Some(response_code::NO_PERMISSION),
            "{what}: {err}"
        );
        let _ = within(STEP, "shutdown", p.send(Shutdown)).await;
    }
    let _ = within(STEP, "shutdown", signed.send(Shutdown)).await;
}
