//! Real-broker tests of the send forms beyond the plain ones (#15): notify and oneway
//! sends to a queue and through a selector, pipelined sends to one queue (the order the
//! broker stores them in), a batch to a queue, and `ExecuteTransaction`
//! with a `TransactionListener`, against the shared rig of `scripts/test.sh` (a name
//! server, `broker-a` and `broker-b`). `tests/producer_forms.rs` and
//! `tests/producer_transaction.rs` test the same forms against the test broker.
//!
//! Every test reads back from the broker itself (PULL_MESSAGE of the chosen queue,
//! VIEW_MESSAGE_BY_ID) and compares the stored messages with the ones sent. Each test
//! uses its own topic and group, so they run in parallel on the shared rig. Every wait
//! is bounded.
//!
//! Ignored by a plain `cargo test`; run with `scripts/test.sh`, or by hand:
//! `RMQ_E2E=1 NAMESRV_ADDR=.. RMQ_RIG_DIR=.. cargo test --all-features --test e2e_forms -- --include-ignored`.

#[path = "support/e2e.rs"]
mod e2e;
#[path = "support/readback.rs"]
mod readback;
#[path = "support/rig.rs"]
mod rig;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_rocketmq::{
    Error, ExecuteTransaction, Message, MessageQueue, MessageQueueSelector, SelectorArg, SendBatch,
    SendOutcome, SendResult, SendStatus, SendToQueue, SendWithSelector, TransactionCheck,
    TransactionListener, TransactionResolution,
};
use e2e::{
    STEP, all_stored, broker_addr, builder, publish_queues, queue_name, shutdown, start,
    topic_on_all_brokers, wait_queue, within,
};
use readback::{
    ReadBack, assert_at_result, assert_same_committed_message, assert_same_message, unique,
};
use rig::Rig;

/// A queue of `broker` other than queue 0 (so a form ignoring the choice would show).
fn queue_on(queues: &[MessageQueue], broker: &str, queue_id: i32) -> MessageQueue {
    queues
        .iter()
        .find(|q| q.broker_name == broker && q.queue_id == queue_id)
        .unwrap_or_else(|| panic!("no queue {broker}/{queue_id} in {queues:?}"))
        .clone()
}

/// Picks the queue named by its `"broker/queue_id"` argument.
struct PickQueue;

impl MessageQueueSelector for PickQueue {
    fn select(&self, queues: &[MessageQueue], _: &Message, arg: &SelectorArg) -> Option<usize> {
        let SelectorArg::Str(s) = arg else {
            return None;
        };
        queues
            .iter()
            .position(|q| format!("{}/{}", q.broker_name, q.queue_id) == *s)
    }
}

/// Checks that every stored message of `topic` is one of `sent` (by its "seq"
/// property), stored once, in the queue named by its "target" property; and that all
/// of `sent` are there.
async fn assert_all_in_their_queues(
    rig: &Rig,
    rb: &ReadBack,
    topic: &str,
    sent: &HashMap<String, Message>,
) {
    let stored = all_stored(rig, rb, topic, STEP).await;
    let mut seen = HashMap::new();
    for (queue, s) in &stored {
        let seq = s.property("seq").expect("seq property").to_owned();
        let m = sent
            .get(&seq)
            .unwrap_or_else(|| panic!("stored {seq} was never sent"));
        let target = m.property("target").expect("target property");
        assert_eq!(queue, target, "{seq} stored in the wrong queue");
        let uniq = s.uniq_key().expect("UNIQ_KEY").to_owned();
        assert_same_message(s, m, &uniq, &seq);
        assert!(seen.insert(seq.clone(), ()).is_none(), "{seq} stored twice");
    }
    assert_eq!(seen.len(), sent.len(), "messages stored in {topic}");
}

// ---------------------------------------------------------------------------------------

/// The outcomes received, by correlation.
type Outcomes = Arc<Mutex<HashMap<u64, Vec<Result<SendResult, Error>>>>>;

/// Receives `SendOutcome`s into an [`Outcomes`].
struct Collector(Outcomes);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<SendOutcome> for Collector {
    type Result = ();
    fn handle(&mut self, msg: SendOutcome, _: &mut Context<Self>) {
        self.0
            .lock()
            .unwrap()
            .entry(msg.correlation)
            .or_default()
            .push(msg.result);
    }
}

/// `SendToQueue::notify` and `SendWithSelector::notify`: the `SendOutcome` reaches the
/// recipient with the reply's result, and the message is stored in the chosen queue.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn notify_to_queue_and_through_selector_deliver_the_outcome() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_fnotify").await;
    let p = start(builder(&rig, &unique("e2e_fnotify_group")).build().unwrap()).await;
    let queues = publish_queues(&p, &topic).await;
    let last = queues.last().expect("queues").broker_name.clone();
    let to_q = queue_on(&queues, &last, 1);
    let sel_q = queue_on(&queues, &queues[0].broker_name, 3);
    let outcomes: Outcomes = Arc::new(Mutex::new(HashMap::new()));
    let recipient = Collector(outcomes.clone()).start().recipient();

    let a = Message::new(topic.as_str(), "notify to a queue")
        .with_keys("notify-a")
        .with_property("seq", "a")
        .with_property("target", queue_name(&to_q));
    let ra = within(
        STEP,
        "SendToQueue notify",
        p.send(SendToQueue::new(a.clone(), to_q.clone()).notify(recipient.clone(), 1)),
    )
    .await
    .expect("producer alive")
    .unwrap_or_else(|e| panic!("notify to {to_q:?}: {e}"));
    let b = Message::new(topic.as_str(), "notify through a selector")
        .with_keys("notify-b")
        .with_property("seq", "b")
        .with_property("target", queue_name(&sel_q));
    let rb_ = within(
        STEP,
        "SendWithSelector notify",
        p.send(
            SendWithSelector::new(b.clone(), Arc::new(PickQueue), queue_name(&sel_q))
                .notify(recipient, 2),
        ),
    )
    .await
    .expect("producer alive")
    .unwrap_or_else(|e| panic!("notify through the selector: {e}"));

    for (r, q, m, ctx) in [(&ra, &to_q, &a, "to queue"), (&rb_, &sel_q, &b, "selector")] {
        assert_eq!(r.status, SendStatus::SendOk, "{ctx}");
        assert_eq!(&r.message_queue, q, "{ctx}: result queue");
        let (stored, _) = within(STEP, "VIEW_MESSAGE_BY_ID", rb.view(&r.offset_msg_id))
            .await
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_same_message(&stored, m, &r.msg_id, ctx);
        assert_at_result(&stored, r, ctx);
        assert_eq!(stored.queue_id, q.queue_id, "{ctx}: stored queue");
        let addr = broker_addr(&rig, &rb, &q.broker_name).await;
        assert_eq!(
            stored.store_host.to_string(),
            addr,
            "{ctx}: stored on the broker"
        );
    }

    // The outcomes arrive (bounded), once each, with the same result as the replies.
    let t0 = Instant::now();
    while outcomes
        .lock()
        .unwrap()
        .values()
        .map(Vec::len)
        .sum::<usize>()
        < 2
    {
        assert!(
            t0.elapsed() < STEP,
            "outcomes: {:?}",
            outcomes.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = outcomes.lock().unwrap().clone();
    for (id, reply) in [(1u64, &ra), (2, &rb_)] {
        let list = got.get(&id).unwrap_or_else(|| panic!("no outcome {id}"));
        assert_eq!(list.len(), 1, "outcomes of {id}: {list:?}");
        let r = list[0]
            .as_ref()
            .unwrap_or_else(|e| panic!("outcome {id}: {e}"));
        assert_eq!(r, reply, "outcome {id} is the reply's result");
    }
    assert_eq!(got.len(), 2, "outcomes: {got:?}");

    let mut sent = HashMap::new();
    sent.insert("a".to_owned(), a);
    sent.insert("b".to_owned(), b);
    assert_all_in_their_queues(&rig, &rb, &topic, &sent).await;
    shutdown(&p).await;
}

/// `SendBatch::to_queue`: every message of the batch in that queue, in order, at
/// consecutive offsets from the result's.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn batch_to_queue_stores_every_message_there_in_order() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_fbatch").await;
    let p = start(builder(&rig, &unique("e2e_fbatch_group")).build().unwrap()).await;
    let queues = publish_queues(&p, &topic).await;
    let last = queues.last().expect("queues").broker_name.clone();
    let q = queue_on(&queues, &last, 2);

    let msgs: Vec<Message> = (0..8)
        .map(|i| {
            Message::new(topic.as_str(), format!("batch to a queue, message {i}"))
                .with_tags(format!("B{}", i % 2))
                .with_keys(format!("fbatch-{i}"))
                .with_property("idx", i.to_string())
        })
        .collect();
    let r = within(
        STEP,
        "SendBatch to_queue",
        p.send(SendBatch::new(msgs.clone()).to_queue(q.clone())),
    )
    .await
    .expect("producer alive")
    .unwrap_or_else(|e| panic!("batch to {q:?}: {e}"));
    assert_eq!(r.status, SendStatus::SendOk);
    assert_eq!(r.message_queue, q, "result queue");
    let ids: Vec<&str> = r.msg_id.split(',').collect();
    assert_eq!(ids.len(), msgs.len(), "ids in {:?}", r.msg_id);

    let stored = wait_queue(&rig, &rb, &topic, &q, msgs.len()).await;
    assert_eq!(
        stored.len(),
        msgs.len(),
        "{} holds the batch only",
        queue_name(&q)
    );
    for (i, (s, m)) in stored.iter().zip(&msgs).enumerate() {
        assert_same_message(s, m, ids[i], &format!("batch #{i}"));
        assert_eq!(s.queue_id, q.queue_id, "batch #{i}: queue");
        assert_eq!(
            s.queue_offset,
            r.queue_offset + i as i64,
            "batch #{i}: offset"
        );
    }
    // Nowhere else.
    let elsewhere: Vec<String> = all_stored(&rig, &rb, &topic, STEP)
        .await
        .into_iter()
        .map(|(queue, _)| queue)
        .filter(|queue| *queue != queue_name(&q))
        .collect();
    assert!(elsewhere.is_empty(), "batch messages in {elsewhere:?}");
    shutdown(&p).await;
}

/// The `seq` properties of `stored` in queue-offset order, and how many times a
/// message follows one sent after it (0: stored in the order sent).
fn stored_order(stored: &[readback::StoredMessage]) -> (Vec<usize>, usize) {
    let mut by_offset: Vec<_> = stored.iter().collect();
    by_offset.sort_by_key(|s| s.queue_offset);
    let seqs: Vec<usize> = by_offset
        .iter()
        .map(|s| {
            s.property("seq").expect("seq")[1..]
                .parse()
                .expect("seq number")
        })
        .collect();
    let out_of_order = seqs.windows(2).filter(|w| w[0] > w[1]).count();
    (seqs, out_of_order)
}

/// `SendToQueue::oneway` and `SendWithSelector::oneway` (Java `sendOneway(msg, mq)` and
/// `sendOneway(msg, selector, arg)`), 100 each, written one after another on one
/// connection: every message is stored exactly once, in the chosen queue, byte for
/// byte. The order they are stored in is printed, not asserted: the broker runs the
/// requests of a connection as concurrent tasks (see the README), so it may differ.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn oneway_to_a_queue_and_through_a_selector_store_each_once_there() {
    const N: usize = 100;
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_foneway").await;
    let p = start(builder(&rig, &unique("e2e_foneway_group")).build().unwrap()).await;
    let queues = publish_queues(&p, &topic).await;
    let last = queues.last().expect("queues").broker_name.clone();
    let to_q = queue_on(&queues, &last, 2);
    let sel_q = queue_on(&queues, &queues[0].broker_name, 1);
    let selector: Arc<dyn MessageQueueSelector> = Arc::new(PickQueue);
    let mut sent = HashMap::new();
    for i in 0..N {
        for (kind, q) in [("q", &to_q), ("s", &sel_q)] {
            let seq = format!("{kind}{i:03}");
            let m = Message::new(topic.as_str(), format!("oneway {seq}"))
                .with_keys(seq.as_str())
                .with_property("seq", seq.as_str())
                .with_property("target", e2e::queue_name(q));
            let send = if kind == "q" {
                p.send(SendToQueue::new(m.clone(), q.clone()).oneway())
            } else {
                p.send(
                    SendWithSelector::new(m.clone(), selector.clone(), e2e::queue_name(q)).oneway(),
                )
            };
            within(STEP, "oneway send", send)
                .await
                .expect("producer alive")
                .unwrap_or_else(|e| panic!("oneway {seq} to {}: {e}", e2e::queue_name(q)));
            sent.insert(seq, m);
        }
    }
    for q in [&to_q, &sel_q] {
        let stored = wait_queue(&rig, &rb, &topic, q, N).await;
        let (seqs, out_of_order) = stored_order(&stored);
        println!(
            "oneway into {}: {} stored, {out_of_order} out of order: {seqs:?}",
            e2e::queue_name(q),
            stored.len()
        );
    }
    assert_all_in_their_queues(&rig, &rb, &topic, &sent).await;
    shutdown(&p).await;
}

/// 300 `SendToQueue` sends in flight at once (pipelined on one connection) to one
/// queue: all stored once there, each where its result says; the order they are stored
/// in is printed, and each result's offset holds that message.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn pipelined_sends_to_one_queue_are_each_stored_at_their_offset() {
    const N: usize = 300;
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_fpipe").await;
    let p = start(builder(&rig, &unique("e2e_fpipe_group")).build().unwrap()).await;
    let queues = publish_queues(&p, &topic).await;
    let q = queue_on(&queues, &queues[0].broker_name, 3);
    let msgs: Vec<Message> = (0..N)
        .map(|i| {
            Message::new(topic.as_str(), format!("pipelined {i}"))
                .with_property("seq", format!("p{i:03}"))
                .with_property("target", e2e::queue_name(&q))
        })
        .collect();
    // Every send is handed to the producer before any reply is awaited.
    let pending: Vec<_> = msgs
        .iter()
        .map(|m| p.send(SendToQueue::new(m.clone(), q.clone())))
        .collect();
    let results = within(STEP, "300 sends", futures::future::join_all(pending)).await;
    let stored = wait_queue(&rig, &rb, &topic, &q, N).await;
    let (seqs, out_of_order) = stored_order(&stored);
    println!(
        "pipelined into {}: {} stored, {out_of_order} out of order: {seqs:?}",
        e2e::queue_name(&q),
        stored.len()
    );
    for (i, (r, m)) in results.into_iter().zip(&msgs).enumerate() {
        let r = r
            .expect("producer alive")
            .unwrap_or_else(|e| panic!("send {i}: {e}"));
        assert_eq!(r.message_queue, q, "send {i}: result queue");
        let s = stored
            .iter()
            .find(|s| s.queue_offset == r.queue_offset)
            .unwrap_or_else(|| panic!("send {i}: nothing at offset {}", r.queue_offset));
        assert_same_message(s, m, &r.msg_id, &format!("send {i}"));
    }
    let sent = msgs
        .into_iter()
        .map(|m| (m.property("seq").unwrap().to_owned(), m))
        .collect();
    assert_all_in_their_queues(&rig, &rb, &topic, &sent).await;
    shutdown(&p).await;
}

// ---------------------------------------------------------------------------------------
// Transactions. `scripts/test.sh` starts the shared rig's brokers with a 1 s transaction
// timeout and check interval, so an unresolved half message would be checked ~1-2 s
// after it is stored.

/// A listener answering the local transaction by the message body, recording the
/// (transaction id, arg) of each run and the id of each check; a check answers the
/// outcome the local transaction had (a check can still reach a transaction that just
/// ended: the broker records ended ones in batches).
#[derive(Default)]
struct Listener {
    executed: Mutex<Vec<(String, Option<u64>)>>,
    outcomes: Mutex<HashMap<String, TransactionResolution>>,
    checked: Mutex<Vec<String>>,
}

struct Shared(Arc<Listener>);

impl TransactionListener for Shared {
    fn execute_local_transaction(
        &self,
        msg: &Message,
        arg: Option<&(dyn std::any::Any + Send)>,
    ) -> TransactionResolution {
        let arg = arg.and_then(|a| a.downcast_ref::<u64>()).copied();
        let id = msg.uniq_key().expect("the transaction id").to_owned();
        let answer = match std::str::from_utf8(&msg.body).unwrap() {
            "commit me" => TransactionResolution::Commit,
            "roll me back" => TransactionResolution::Rollback,
            _ => TransactionResolution::Unknown,
        };
        self.0.executed.lock().unwrap().push((id.clone(), arg));
        self.0.outcomes.lock().unwrap().insert(id, answer);
        answer
    }

    fn check_local_transaction(&self, check: &TransactionCheck) -> TransactionResolution {
        self.0
            .checked
            .lock()
            .unwrap()
            .push(check.transaction_id.clone());
        self.0
            .outcomes
            .lock()
            .unwrap()
            .get(&check.transaction_id)
            .copied()
            .unwrap_or_default()
    }
}

/// `ExecuteTransaction::with_arg` with a `TransactionListener`: the listener gets the
/// arg; its Commit makes the message readable in the topic, byte for byte; its
/// Rollback leaves nothing readable, 3 s (several check intervals) later.
#[actix_rt::test]
#[ignore = "needs the real broker: run scripts/test.sh"]
async fn execute_transaction_with_a_listener_commits_and_rolls_back() {
    let rig = Rig::from_env();
    let rb = ReadBack::new();
    let topic = topic_on_all_brokers(&rig, &rb, "E2E_ftx").await;
    let group = unique("e2e_ftx_group");
    let listener = Arc::new(Listener::default());
    let cfg = builder(&rig, &group)
        .transaction_listener(Shared(listener.clone()))
        .build()
        .expect("valid producer config");
    let p = start(cfg).await;

    let kept = Message::new(topic.as_str(), "commit me")
        .with_tags("TX")
        .with_keys("order-commit")
        .with_property("origin", "e2e-forms");
    let committed = within(
        STEP,
        "ExecuteTransaction (commit)",
        p.send(ExecuteTransaction::new(kept.clone()).with_arg(7u64)),
    )
    .await
    .expect("producer alive")
    .unwrap_or_else(|e| panic!("commit transaction: {e}"));
    assert_eq!(committed.send_result.status, SendStatus::SendOk);
    assert_eq!(
        committed.local_transaction_state,
        TransactionResolution::Commit
    );
    let kept_id = committed.send_result.msg_id.clone();

    let dropped = Message::new(topic.as_str(), "roll me back").with_keys("order-rollback");
    let rolled = within(
        STEP,
        "ExecuteTransaction (rollback)",
        p.send(ExecuteTransaction::new(dropped).with_arg(8u64)),
    )
    .await
    .expect("producer alive")
    .unwrap_or_else(|e| panic!("rollback transaction: {e}"));
    assert_eq!(
        rolled.local_transaction_state,
        TransactionResolution::Rollback
    );
    let dropped_id = rolled.send_result.msg_id.clone();
    assert_eq!(
        *listener.executed.lock().unwrap(),
        [(kept_id.clone(), Some(7)), (dropped_id.clone(), Some(8))],
        "the listener ran each local transaction once, with its arg"
    );

    // The committed one becomes readable (bounded wait).
    let t0 = Instant::now();
    let stored = loop {
        let all = all_stored(&rig, &rb, &topic, STEP).await;
        if let Some((_, s)) = all
            .into_iter()
            .find(|(_, s)| s.uniq_key() == Some(kept_id.as_str()))
        {
            break s;
        }
        assert!(
            t0.elapsed() < STEP,
            "the committed message is not in {topic}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_same_committed_message(&stored, &kept, &kept_id, &group, "committed transaction");

    // Several check intervals: the rolled-back one never appears, nor a second copy of
    // the committed one unless a check answered Commit again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ids: Vec<String> = all_stored(&rig, &rb, &topic, STEP)
        .await
        .into_iter()
        .map(|(_, s)| s.uniq_key().expect("UNIQ_KEY").to_owned())
        .collect();
    let asked = listener.checked.lock().unwrap().clone();
    assert!(
        asked.iter().all(|c| *c == kept_id || *c == dropped_id),
        "checks of unknown transactions: {asked:?}"
    );
    let kept_checks = asked.iter().filter(|c| **c == kept_id).count();
    assert!(
        !ids.is_empty() && ids.len() <= 1 + kept_checks && ids.iter().all(|id| *id == kept_id),
        "stored in {topic}: {ids:?} (rolled back: {dropped_id}), after checks {asked:?}"
    );
    shutdown(&p).await;
}
