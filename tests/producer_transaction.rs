//! Transactional sends against the test broker: the half message, commit and
//! rollback, a broker's check answered by the producer's checker (RESEARCH
//! theme 17), a checker that panics, a half message stored without SEND_OK,
//! and a producer without a checker.

#[path = "support/producer.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
use actix_rocketmq::internals::protocol::headers::EndTransactionRequestHeader;
use actix_rocketmq::internals::protocol::message::{property, sys_flag};
use actix_rocketmq::testkit::{BrokerHandle, BrokerMessage, Fault, TestCluster, TransactionState};
use actix_rocketmq::{
    ErrorKind, Message, ProducerConfigBuilder, SendMessage, SendMessageInTransaction, SendStatus,
    Transaction, TransactionCheck, TransactionResolution,
};
use support::*;

const LIMIT: Duration = Duration::from_secs(5);

/// A checker that answers `resolution` and counts its calls.
fn checker(
    builder: ProducerConfigBuilder,
    resolution: TransactionResolution,
    calls: Arc<AtomicUsize>,
) -> ProducerConfigBuilder {
    builder.transaction_checker(move |_: TransactionCheck| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move { resolution }
    })
}

/// A started producer of `group` whose checker answers `resolution`.
async fn tx_producer(
    cluster: &TestCluster,
    group: &str,
    resolution: TransactionResolution,
) -> actix::Addr<actix_rocketmq::ProducerActor> {
    start(checker(config(group, cluster), resolution, Arc::default())).await
}

/// Waits until the message stored with `body` is in `state`.
async fn settles(cluster: &TestCluster, body: &str, state: TransactionState) -> bool {
    eventually(LIMIT, || stored(cluster, body).transaction == state).await
}

async fn half_send(
    producer: &actix::Addr<actix_rocketmq::ProducerActor>,
    body: &str,
) -> Transaction {
    within(
        LIMIT,
        "half send",
        producer.send(SendMessageInTransaction::new(msg(body))),
    )
    .await
    .expect("mailbox")
    .expect("the half message is stored")
}

/// The one message stored with `body`.
fn stored(cluster: &TestCluster, body: &str) -> BrokerMessage {
    let all: Vec<BrokerMessage> = cluster
        .messages(TOPIC)
        .into_iter()
        .filter(|m| body_text(m) == body)
        .collect();
    assert_eq!(all.len(), 1, "one message with body {body}");
    all.into_iter().next().unwrap()
}

async fn end_transactions(broker: &BrokerHandle, n: usize) -> Vec<EndTransactionRequestHeader> {
    assert!(
        eventually(LIMIT, || broker.end_transactions().len() >= n).await,
        "{n} END_TRANSACTION expected, got {:?}",
        broker.end_transactions()
    );
    broker.end_transactions()
}

#[actix_rt::test]
async fn a_committed_transaction_stores_a_half_message_then_commits_it() {
    let cluster = one_broker().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let builder = checker(
        config("tx_commit_group", &cluster),
        TransactionResolution::Rollback,
        calls.clone(),
    );
    let producer = start(builder).await;
    let tx = half_send(&producer, "order-1").await;
    let half = stored(&cluster, "order-1");
    // Marked as the Java client marks it, and hidden until the commit.
    assert_eq!(half.transaction, TransactionState::Prepared);
    assert_eq!(
        half.sys_flag & sys_flag::TRANSACTION_PREPARED_TYPE,
        sys_flag::TRANSACTION_PREPARED_TYPE
    );
    assert_eq!(half.property(property::TRAN_MSG), Some("true"));
    assert_eq!(half.property(property::PGROUP), Some("tx_commit_group"));
    assert_eq!(tx.send_result().status, SendStatus::SendOk);
    assert_eq!(Some(tx.transaction_id()), half.uniq_key());
    assert_eq!(tx.broker_name(), "broker-a");

    within(LIMIT, "commit", tx.commit())
        .await
        .expect("commit written");
    let broker = cluster.broker("broker-a");
    let ends = end_transactions(&broker, 1).await;
    assert_eq!(
        ends[0],
        EndTransactionRequestHeader {
            producer_group: "tx_commit_group".into(),
            tran_state_table_offset: half.queue_offset,
            commit_log_offset: half.commit_log_offset,
            commit_or_rollback: TransactionResolution::Commit,
            from_transaction_check: false,
            msg_id: half.uniq_key().unwrap().into(),
            transaction_id: half.uniq_key().map(str::to_owned),
            topic: Some(TOPIC.into()),
            broker_name: Some("broker-a".into()),
        }
    );
    // END_TRANSACTION is one-way, as in Java.
    let raw = broker.received_with_code(request_code::END_TRANSACTION);
    assert!(raw[0].command.is_oneway());
    assert!(settles(&cluster, "order-1", TransactionState::Committed).await);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no check was asked for");
}

#[actix_rt::test]
async fn a_rolled_back_transaction_is_dropped_by_the_broker() {
    let cluster = one_broker().await;
    let producer = tx_producer(&cluster, "tx_rollback_group", TransactionResolution::Commit).await;
    let tx = half_send(&producer, "order-2").await;
    within(LIMIT, "rollback", tx.rollback())
        .await
        .expect("rollback written");
    let ends = end_transactions(&cluster.broker("broker-a"), 1).await;
    assert_eq!(ends[0].commit_or_rollback, TransactionResolution::Rollback);
    assert!(settles(&cluster, "order-2", TransactionState::RolledBack).await);
    // Ordinary sends are unaffected.
    let ok = producer.send(SendMessage::new(msg("plain"))).await.unwrap();
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(
        stored(&cluster, "plain").transaction,
        TransactionState::NotTransactional
    );
}

/// RESEARCH theme 17: the broker checks an unresolved transaction on the
/// producer group's connection; the producer answers with its checker's state
/// in a one-way END_TRANSACTION marked `fromTransactionCheck`.
#[actix_rt::test]
async fn a_broker_check_is_answered_with_the_checker_state() {
    let cluster = one_broker().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen_in, calls_in) = (seen.clone(), calls.clone());
    let builder =
        config("tx_check_group", &cluster).transaction_checker(move |check: TransactionCheck| {
            calls_in.fetch_add(1, Ordering::SeqCst);
            seen_in.lock().unwrap().push(check);
            async { TransactionResolution::Commit }
        });
    let producer = start(builder).await;
    // Ended with Unknown: the outcome is left to the broker's check.
    let tx = half_send(&producer, "order-3").await;
    let id = tx.transaction_id().to_owned();
    within(LIMIT, "end unknown", tx.end(TransactionResolution::Unknown))
        .await
        .unwrap();
    let broker = cluster.broker("broker-a");
    end_transactions(&broker, 1).await;
    let half = stored(&cluster, "order-3");
    assert_eq!(half.transaction, TransactionState::Prepared);

    broker
        .check_transaction(&half)
        .expect("a connection of the group");
    let ends = end_transactions(&broker, 2).await;
    let answer = &ends[1];
    assert!(answer.from_transaction_check);
    assert_eq!(answer.commit_or_rollback, TransactionResolution::Commit);
    assert_eq!(answer.tran_state_table_offset, half.queue_offset);
    assert_eq!(answer.commit_log_offset, half.commit_log_offset);
    assert_eq!(answer.msg_id, id);
    assert_eq!(answer.producer_group, "tx_check_group");
    assert_eq!(answer.broker_name.as_deref(), Some("broker-a"));
    assert!(settles(&cluster, "order-3", TransactionState::Committed).await);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let check = seen.lock().unwrap()[0].clone();
    assert_eq!(check.transaction_id, id);
    assert_eq!(check.message.topic, TOPIC);
    assert_eq!(check.message.body, "order-3".as_bytes());
    // The check came as a one-way request and got no response frame of its own.
    let raw = broker.received_with_code(request_code::END_TRANSACTION);
    assert!(raw[1].command.is_oneway());
}

#[actix_rt::test]
async fn a_panicking_checker_answers_unknown_and_the_producer_lives_on() {
    let cluster = one_broker().await;
    let builder = config("tx_panic_group", &cluster)
        .transaction_checker(|_: TransactionCheck| async { panic!("the order database is gone") });
    let producer = start(builder).await;
    let tx = half_send(&producer, "order-4").await;
    drop(tx); // never ended: the broker will ask
    let broker = cluster.broker("broker-a");
    let half = stored(&cluster, "order-4");
    broker.check_transaction(&half).unwrap();
    let ends = end_transactions(&broker, 1).await;
    assert_eq!(ends[0].commit_or_rollback, TransactionResolution::Unknown);
    assert!(ends[0].from_transaction_check);
    let raw = broker.received_with_code(request_code::END_TRANSACTION);
    let remark = raw[0].command.remark.clone().unwrap_or_default();
    assert!(remark.contains("the order database is gone"), "{remark}");
    assert_eq!(
        stored(&cluster, "order-4").transaction,
        TransactionState::Prepared
    );
    // The panic stayed in the check: sends still work.
    let ok = producer.send(SendMessage::new(msg("after"))).await.unwrap();
    assert!(ok.is_ok(), "{ok:?}");
}

#[actix_rt::test]
async fn a_half_message_stored_without_send_ok_is_rolled_back() {
    let cluster = one_broker().await;
    let broker = cluster.broker("broker-a");
    broker.inject(
        Fault::respond(response_code::FLUSH_DISK_TIMEOUT, "flush timeout")
            .on_sends()
            .times(1),
    );
    let producer = tx_producer(&cluster, "tx_flush_group", TransactionResolution::Commit).await;
    let err = within(
        LIMIT,
        "half send",
        producer.send(SendMessageInTransaction::new(msg("order-5"))),
    )
    .await
    .unwrap()
    .expect_err("not stored safely: no transaction to run");
    assert_eq!(err.response_code(), Some(response_code::FLUSH_DISK_TIMEOUT));
    let ends = end_transactions(&broker, 1).await;
    assert_eq!(ends[0].commit_or_rollback, TransactionResolution::Rollback);
    assert!(settles(&cluster, "order-5", TransactionState::RolledBack).await);
}

#[actix_rt::test]
async fn a_transactional_send_needs_a_checker() {
    let cluster = one_broker().await;
    let producer = start(config("tx_no_checker_group", &cluster)).await;
    let err = within(
        LIMIT,
        "half send",
        producer.send(SendMessageInTransaction::new(msg("order-6"))),
    )
    .await
    .unwrap()
    .expect_err("refused without a checker");
    assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
    assert!(cluster.messages(TOPIC).is_empty(), "nothing was sent");
    // A check for a group with no checker here is dropped, not answered.
    let ok = producer.send(SendMessage::new(msg("plain"))).await.unwrap();
    assert!(ok.is_ok(), "{ok:?}");
    let broker = cluster.broker("broker-a");
    broker
        .check_transaction(&stored(&cluster, "plain"))
        .expect("the group's connection");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(broker.end_transactions().is_empty());
    let ok = producer.send(SendMessage::new(msg("after"))).await.unwrap();
    assert!(ok.is_ok(), "{ok:?}");
}

/// Other broker-initiated requests reach the client instance too: one it does
/// not serve is answered REQUEST_CODE_NOT_SUPPORTED, a one-way one ignored.
#[actix_rt::test]
async fn a_broker_request_the_producer_does_not_serve_is_answered_code_3() {
    let cluster = one_broker().await;
    let producer = start(config("tx_unknown_request_group", &cluster)).await;
    let ok = producer.send(SendMessage::new(msg("plain"))).await.unwrap();
    assert!(ok.is_ok(), "{ok:?}");
    let broker = cluster.broker("broker-a");
    let conn = broker
        .connection_for_group("tx_unknown_request_group")
        .expect("the heartbeat's connection");
    let mut ext = actix_rocketmq::internals::protocol::ExtFields::new();
    ext.push("consumerGroup", "some_consumer");
    let req = actix_rocketmq::internals::protocol::RemotingCommand::request(
        request_code::GET_CONSUMER_RUNNING_INFO,
        ext,
    );
    let resp = broker.request(conn, req, LIMIT).await.expect("an answer");
    assert_eq!(resp.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
    let ok = producer.send(SendMessage::new(msg("after"))).await.unwrap();
    assert!(ok.is_ok(), "{ok:?}");
}

/// A half message that cannot be sent fails like a send (validation first).
#[actix_rt::test]
async fn an_invalid_half_message_is_refused_before_the_network() {
    let cluster = one_broker().await;
    let producer = tx_producer(&cluster, "tx_invalid_group", TransactionResolution::Commit).await;
    let err = within(
        LIMIT,
        "half send",
        producer.send(SendMessageInTransaction::new(Message::new(TOPIC, ""))),
    )
    .await
    .unwrap()
    .expect_err("an empty body is refused");
    assert!(matches!(err.kind(), ErrorKind::Validation(_)), "{err:?}");
    assert!(cluster.messages(TOPIC).is_empty());
}

/// A broker that lost our connection (here: it closed every connection, as a
/// restart does) knows our group again at once after the reconnection, not at
/// the next 30 s heartbeat: its transaction checks reach the producer.
#[actix_rt::test]
async fn a_reconnected_broker_is_beaten_at_once_and_its_checks_arrive() {
    let cluster = one_broker().await;
    let producer = tx_producer(
        &cluster,
        "tx_reconnect_group",
        TransactionResolution::Commit,
    )
    .await;
    let tx = half_send(&producer, "order-7").await;
    drop(tx);
    let broker = cluster.broker("broker-a");
    let beats = broker.heartbeats();
    assert!(broker.close_connections() > 0);
    assert!(
        eventually(LIMIT, || broker
            .connection_for_group("tx_reconnect_group")
            .is_none())
        .await
    );
    // The next send reconnects; the heartbeat follows it.
    let ok = producer.send(SendMessage::new(msg("after"))).await.unwrap();
    assert!(ok.is_ok(), "{ok:?}");
    assert!(
        eventually(LIMIT, || broker.heartbeats() > beats).await,
        "no heartbeat after the reconnection"
    );
    broker
        .check_transaction(&stored(&cluster, "order-7"))
        .expect("the group is known on the new connection");
    let ends = end_transactions(&broker, 1).await;
    assert_eq!(ends[0].commit_or_rollback, TransactionResolution::Commit);
    assert!(ends[0].from_transaction_check);
}

/// Neither the route manager nor the client instance owns a producer: one whose
/// every address was dropped stops and unregisters, as if shut down.
#[actix_rt::test]
async fn a_dropped_producer_stops_and_unregisters() {
    let cluster = one_broker().await;
    let producer = tx_producer(&cluster, "tx_dropped_group", TransactionResolution::Commit).await;
    let ok = producer.send(SendMessage::new(msg("plain"))).await.unwrap();
    assert!(ok.is_ok(), "{ok:?}");
    let weak = producer.downgrade();
    drop(producer);
    assert!(
        eventually(LIMIT, || weak.upgrade().is_none_or(|a| !a.connected())).await,
        "the producer outlived its last address"
    );
    // Its group was unregistered from the broker, as a Shutdown does.
    let broker = cluster.broker("broker-a");
    assert!(
        eventually(LIMIT, || !broker.unregisters().is_empty()).await,
        "no UNREGISTER_CLIENT"
    );
    assert_eq!(
        broker.unregisters()[0].producer_group.as_deref(),
        Some("tx_dropped_group")
    );
}

/// A Java-style listener: the local transaction answers by the body, and the
/// check answers Commit (recording the ids it is asked about).
#[derive(Default)]
struct Listener {
    executed: std::sync::Mutex<Vec<(String, Option<u64>)>>,
    checked: std::sync::Mutex<Vec<String>>,
}

impl actix_rocketmq::TransactionListener for Listener {
    fn execute_local_transaction(
        &self,
        msg: &Message,
        arg: Option<&(dyn std::any::Any + Send)>,
    ) -> TransactionResolution {
        let arg = arg.and_then(|a| a.downcast_ref::<u64>()).copied();
        let id = msg.uniq_key().expect("the transaction id").to_owned();
        self.executed.lock().unwrap().push((id, arg));
        match std::str::from_utf8(&msg.body).unwrap() {
            "commit" => TransactionResolution::Commit,
            "rollback" => TransactionResolution::Rollback,
            "panic" => panic!("local transaction blew up"),
            _ => TransactionResolution::Unknown,
        }
    }

    fn check_local_transaction(&self, check: &TransactionCheck) -> TransactionResolution {
        self.checked
            .lock()
            .unwrap()
            .push(check.transaction_id.clone());
        TransactionResolution::Commit
    }
}

/// `ExecuteTransaction` with a `TransactionListener`: commit, rollback, and
/// unknown settled later by the listener's check.
#[actix_rt::test]
async fn a_transaction_listener_runs_and_checks() {
    use actix_rocketmq::ExecuteTransaction;
    struct Shared(Arc<Listener>);
    impl actix_rocketmq::TransactionListener for Shared {
        fn execute_local_transaction(
            &self,
            msg: &Message,
            arg: Option<&(dyn std::any::Any + Send)>,
        ) -> TransactionResolution {
            self.0.execute_local_transaction(msg, arg)
        }
        fn check_local_transaction(&self, check: &TransactionCheck) -> TransactionResolution {
            self.0.check_local_transaction(check)
        }
    }
    let cluster = one_broker().await;
    let listener = Arc::new(Listener::default());
    let producer =
        start(config("tx_listener_group", &cluster).transaction_listener(Shared(listener.clone())))
            .await;
    let run = |body: &'static str, arg: u64| {
        within(
            LIMIT,
            "execute transaction",
            producer.send(ExecuteTransaction::new(msg(body)).with_arg(arg)),
        )
    };
    let committed = run("commit", 1).await.unwrap().expect("commit");
    assert_eq!(
        committed.local_transaction_state,
        TransactionResolution::Commit
    );
    assert!(settles(&cluster, "commit", TransactionState::Committed).await);
    let rolled = run("rollback", 2).await.unwrap().expect("rollback");
    assert_eq!(
        rolled.local_transaction_state,
        TransactionResolution::Rollback
    );
    assert!(settles(&cluster, "rollback", TransactionState::RolledBack).await);
    let unknown = run("later", 3).await.unwrap().expect("unknown");
    assert_eq!(
        unknown.local_transaction_state,
        TransactionResolution::Unknown
    );
    let panicked = run("panic", 4).await.unwrap().expect("a panic is Unknown");
    assert_eq!(
        panicked.local_transaction_state,
        TransactionResolution::Unknown
    );
    let executed = listener.executed.lock().unwrap().clone();
    let args: Vec<_> = executed.iter().map(|(_, a)| *a).collect();
    assert_eq!(args, [Some(1), Some(2), Some(3), Some(4)]);
    assert_eq!(executed[2].0, unknown.send_result.msg_id);

    // The broker checks the unknown one: the listener's check commits it.
    let broker = cluster.broker("broker-a");
    end_transactions(&broker, 4).await;
    let half = stored(&cluster, "later");
    assert_eq!(half.transaction, TransactionState::Prepared);
    broker
        .check_transaction(&half)
        .expect("a connection of the group");
    assert!(settles(&cluster, "later", TransactionState::Committed).await);
    let checked = listener.checked.lock().unwrap().clone();
    assert_eq!(checked.len(), 1);
    assert_eq!(checked[0], unknown.send_result.msg_id);
}

/// `ExecuteTransaction` without a listener is a config error.
#[actix_rt::test]
async fn execute_transaction_needs_a_listener() {
    let cluster = one_broker().await;
    let producer = tx_producer(
        &cluster,
        "tx_no_listener_group",
        TransactionResolution::Commit,
    )
    .await;
    let err = within(
        LIMIT,
        "execute transaction",
        producer.send(actix_rocketmq::ExecuteTransaction::new(msg("x"))),
    )
    .await
    .unwrap()
    .expect_err("no listener");
    assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err:?}");
}
