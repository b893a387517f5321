//! The client's tracing spans, seen by a subscriber: one `rocketmq.send` span per
//! send with the OpenTelemetry messaging fields, a child per attempt, the
//! caller's span as parent, and spans for route look-ups, connects and heartbeats.

#[path = "support/producer.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
use actix_rocketmq::testkit::Fault;
use actix_rocketmq::{Message, SendMessage};
use support::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Subscriber, info_span};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

const LIMIT: Duration = Duration::from_secs(5);

/// One span as the subscriber saw it.
#[derive(Debug, Clone)]
struct Seen {
    id: u64,
    name: &'static str,
    parent: Option<u64>,
    fields: HashMap<String, String>,
    closed: bool,
}

impl Seen {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// A layer that keeps every span, its fields as recorded, and whether it closed.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Seen>>>);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx
            .span(id)
            .and_then(|s| s.parent().map(|p| p.id().into_u64()));
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Seen {
            id: id.into_u64(),
            name: attrs.metadata().name(),
            parent,
            fields,
            closed: false,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        // Ids are reused once a span closes: the open one is meant.
        if let Some(s) = spans
            .iter_mut()
            .rev()
            .find(|s| s.id == id.into_u64() && !s.closed)
        {
            values.record(&mut Fields(&mut s.fields));
        }
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some(s) = spans
            .iter_mut()
            .rev()
            .find(|s| s.id == id.into_u64() && !s.closed)
        {
            s.closed = true;
        }
    }
}

impl Spans {
    fn named(&self, name: &str) -> Vec<Seen> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.name == name)
            .cloned()
            .collect()
    }

    fn children_of(&self, parent: &Seen, name: &str) -> Vec<Seen> {
        // Ids are reused: a child is one opened after its parent with the parent's id.
        let spans = self.0.lock().unwrap();
        let start = spans
            .iter()
            .position(|s| s.id == parent.id && s.name == parent.name)
            .unwrap_or(0);
        spans[start..]
            .iter()
            .filter(|s| s.name == name && s.parent == Some(parent.id))
            .cloned()
            .collect()
    }
}

/// Installs the capturing layer (DEBUG and above) on this thread, where the
/// test's actix System, its producer and its test brokers run.
fn capture() -> (Spans, tracing::subscriber::DefaultGuard) {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with(spans.clone());
    (spans, tracing::subscriber::set_default(subscriber))
}

/// A stored send: its span has the messaging fields, the stored id, queue and
/// offset, the broker's address, one attempt, the caller's span as parent, and
/// it is closed once the reply is in.
#[actix_rt::test]
async fn a_send_has_a_span_with_the_messaging_fields() {
    let (spans, _guard) = capture();
    const T: &str = "SpanStored";
    let cluster = cluster_with(T, &["broker-a"]).await;
    let producer = start(config("span_stored_group", &cluster)).await;
    let request = info_span!("http_request");
    let send = request.in_scope(|| {
        SendMessage::new(
            Message::new(T, "hello")
                .with_tags("TagA")
                .with_keys("order-1"),
        )
    });
    let result = within(LIMIT, "send", producer.send(send))
        .await
        .unwrap()
        .expect("stored");

    let sends = spans.named("rocketmq.send");
    assert_eq!(sends.len(), 1, "{sends:#?}");
    let s = &sends[0];
    let request = spans.named("http_request")[0].clone();
    assert_eq!(
        s.parent,
        Some(request.id),
        "the caller's span is its parent"
    );
    assert!(s.closed, "closed once the reply is delivered");
    let want = [
        ("messaging.system", "rocketmq"),
        ("messaging.operation", "publish"),
        ("messaging.destination.name", T),
        ("messaging.rocketmq.client_group", "span_stored_group"),
        ("messaging.rocketmq.message.tag", "TagA"),
        ("messaging.rocketmq.message.keys", "order-1"),
        ("messaging.message.id", result.msg_id.as_str()),
        ("messaging.rocketmq.attempts", "1"),
        ("messaging.rocketmq.broker", "broker-a"),
        ("messaging.rocketmq.send_status", "SEND_OK"),
        ("otel.status_code", "OK"),
    ];
    for (field, value) in want {
        assert_eq!(s.field(field), Some(value), "{field} in {s:#?}");
    }
    assert_eq!(
        s.field("messaging.rocketmq.queue_offset"),
        Some(result.queue_offset.to_string().as_str())
    );
    assert_eq!(
        s.field("messaging.destination.partition.id"),
        Some(result.message_queue.queue_id.to_string().as_str())
    );
    let broker_addr = cluster.broker("broker-a").addr();
    assert_eq!(s.field("server.address"), Some(broker_addr.as_str()));
    assert_eq!(s.field("error.type"), None);

    let attempts = spans.children_of(s, "rocketmq.send.attempt");
    assert_eq!(attempts.len(), 1, "{attempts:#?}");
    assert_eq!(
        attempts[0].field("server.address"),
        Some(broker_addr.as_str())
    );
    assert_eq!(
        attempts[0].field("messaging.rocketmq.broker"),
        Some("broker-a")
    );
    assert!(attempts[0].closed);

    // The runtime's own spans: the route look-up, the connect, the heartbeat.
    let lookups = spans.named("rocketmq.route_lookup");
    assert!(
        lookups
            .iter()
            .any(|l| l.field("messaging.destination.name") == Some(T)
                && l.field("result") == Some("ok")),
        "{lookups:#?}"
    );
    assert!(
        spans
            .named("rocketmq.connect")
            .iter()
            .any(|c| c.field("server.address") == Some(broker_addr.as_str())),
        "a connect span for the broker"
    );
    assert!(
        eventually(LIMIT, || !spans.named("rocketmq.heartbeat").is_empty()).await,
        "a heartbeat span"
    );
    producer.send(actix_rocketmq::Shutdown).await.unwrap();
}

/// A send retried after a busy broker has a child span per attempt; a refused
/// one records the error's kind.
#[actix_rt::test]
async fn attempts_and_failures_are_on_the_span() {
    let (spans, _guard) = capture();
    const T: &str = "SpanRetried";
    let cluster = cluster_with(T, &["broker-a", "broker-b"]).await;
    cluster.broker("broker-a").inject(
        Fault::respond(response_code::SYSTEM_BUSY, "[REJECTREQUEST]system busy")
            .on_sends()
            .forever(),
    );
    let producer = start(config("span_retried_group", &cluster)).await;
    for i in 0..8 {
        within(
            LIMIT,
            "send",
            producer.send(SendMessage::new(Message::new(T, format!("m{i}")))),
        )
        .await
        .unwrap()
        .expect("stored on broker-b");
    }
    let sends = spans.named("rocketmq.send");
    assert_eq!(sends.len(), 8);
    let retried: Vec<_> = sends
        .iter()
        .filter(|s| s.field("messaging.rocketmq.attempts") == Some("2"))
        .collect();
    assert!(
        !retried.is_empty(),
        "round robin tried broker-a: {sends:#?}"
    );
    for s in retried {
        let attempts = spans.children_of(s, "rocketmq.send.attempt");
        let brokers: Vec<_> = attempts
            .iter()
            .map(|a| a.field("messaging.rocketmq.broker").unwrap_or_default())
            .collect();
        assert_eq!(brokers, ["broker-a", "broker-b"]);
        assert_eq!(s.field("messaging.rocketmq.broker"), Some("broker-b"));
    }

    // Every broker refuses (a code not retried): the span records the kind.
    cluster.broker("broker-b").inject(
        Fault::respond(response_code::MESSAGE_ILLEGAL, "refused")
            .on_sends()
            .forever(),
    );
    cluster.broker("broker-a").inject(
        Fault::respond(response_code::MESSAGE_ILLEGAL, "refused")
            .on_sends()
            .forever(),
    );
    within(
        LIMIT,
        "send",
        producer.send(SendMessage::new(Message::new(T, "refused"))),
    )
    .await
    .unwrap()
    .expect_err("refused");
    let last = spans.named("rocketmq.send").pop().unwrap();
    assert_eq!(last.field("error.type"), Some("broker"), "{last:#?}");
    assert_eq!(last.field("otel.status_code"), Some("ERROR"));
    assert!(last.closed);
    producer.send(actix_rocketmq::Shutdown).await.unwrap();
}

/// Auto-batched sends keep their own spans: with a subscriber installed sends
/// still gather into batches, and each send's span closes with its own id,
/// queue and offset, and has an attempt child of its own.
#[actix_rt::test]
async fn batched_sends_keep_their_own_spans() {
    let (spans, _guard) = capture();
    let (cluster, producer) = slow_batching("SpanBatched", "span_batched_group").await;
    let results = send_all(&producer, "SpanBatched", 40).await;

    let batches = cluster
        .broker("broker-a")
        .received_with_code(request_code::SEND_BATCH_MESSAGE);
    assert!(!batches.is_empty(), "sends were gathered into batches");
    let send_spans = spans.named("rocketmq.send");
    assert_eq!(send_spans.len(), 40, "one span per send");
    for r in &results {
        let s = send_spans
            .iter()
            .find(|s| s.field("messaging.message.id") == Some(r.msg_id.as_str()))
            .unwrap_or_else(|| panic!("a span for {}", r.msg_id));
        assert!(s.closed, "{} closed with its reply", r.msg_id);
        assert_eq!(
            s.field("messaging.rocketmq.queue_offset"),
            Some(r.queue_offset.to_string().as_str()),
            "its own offset"
        );
        assert_eq!(s.field("otel.status_code"), Some("OK"));
        assert_eq!(
            spans.children_of(s, "rocketmq.send.attempt").len(),
            1,
            "an attempt of its own for {}",
            r.msg_id
        );
    }
}
