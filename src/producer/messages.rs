//! The messages a service sends to a `ProducerActor`, each with a typed reply.
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::{Message as ActixMessage, Recipient};
use tokio::time::Instant;

use super::observe::{batch_span, send_span};
use super::selector::{MessageQueueSelector, SelectorArg};
use super::send::Route;
use super::send_result::SendResult;
use crate::error::Error;
use crate::protocol::message::Message;
use crate::protocol::route::MessageQueue;

/// Sends one message and replies once the broker answered (the Java sync `send`).
///
/// The send timeout starts when this value is created, so time spent waiting
/// in the producer's mailbox counts. Awaiting `addr.send(..)` later is the
/// async send; nothing else is needed.
///
/// ```no_run
/// # async fn demo(producer: actix::Addr<actix_rocketmq::ProducerActor>) -> Result<(), Box<dyn std::error::Error>> {
/// use actix_rocketmq::{Message, SendMessage};
/// let result = producer
///     .send(SendMessage::new(Message::new("TopicTest", "hello").with_tags("TagA")))
///     .await??;
/// println!("stored as {} at offset {}", result.msg_id, result.queue_offset);
/// # Ok(()) }
/// ```
pub struct SendMessage {
    /// The message to send.
    pub message: Message,
    pub(crate) received: Instant,
    /// The send's span, opened here so the mailbox wait is inside it.
    pub(crate) span: Option<tracing::Span>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) notify: Option<(Recipient<SendOutcome>, u64)>,
}

impl SendMessage {
    /// A sync send of `message`; its send timeout starts now.
    pub fn new(message: Message) -> Self {
        SendMessage {
            span: send_span(&message),
            message,
            received: Instant::now(),
            timeout: None,
            notify: None,
        }
    }

    /// Also delivers the result to `recipient`, tagged with `correlation`, for
    /// actors that would rather not await the reply.
    pub fn notify(mut self, recipient: Recipient<SendOutcome>, correlation: u64) -> Self {
        self.notify = Some((recipient, correlation));
        self
    }

    /// Sets this send's timeout (the Java `send(msg, timeout)`), in place of the
    /// producer's `send_timeout`; it counts from this value's creation too.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl ActixMessage for SendMessage {
    type Result = Result<SendResult, Error>;
}

/// A sync send of the message, as [`SendMessage::new`].
impl From<Message> for SendMessage {
    fn from(message: Message) -> Self {
        SendMessage::new(message)
    }
}

/// The result of a `SendMessage` delivered to a recipient (see [`SendMessage::notify`]).
pub struct SendOutcome {
    /// The `correlation` given to [`SendMessage::notify`].
    pub correlation: u64,
    /// The send's result, as the awaited reply would have had it.
    pub result: Result<SendResult, Error>,
}

impl ActixMessage for SendOutcome {
    type Result = ();
}

/// Sends a request and waits for its reply (the Java `request(msg, timeout)`,
/// RocketMQ 4.6+ request–reply).
///
/// The message goes as a send does, with `CORRELATION_ID` (unique per
/// request), `REPLY_TO_CLIENT` (this client's id) and `TTL` (the timeout in
/// ms) added. A consumer that gets it answers with [`Message::reply_to`] sent
/// by any producer; the broker pushes that reply to this client, and it is the
/// reply here. The timeout (the producer's send timeout unless
/// [`with_timeout`](SendRequest::with_timeout)) covers the send and the wait:
/// no reply by then is a [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error.
pub struct SendRequest {
    /// The request.
    pub message: Message,
    /// The whole request's timeout; `None`: the producer's send timeout.
    pub timeout: Option<Duration>,
    pub(crate) received: Instant,
    /// The send's span, opened here so the mailbox wait is inside it.
    pub(crate) span: Option<tracing::Span>,
    pub(crate) route: Route,
}

impl SendRequest {
    /// A request of `message`; its timeout counts from now.
    pub fn new(message: Message) -> Self {
        SendRequest {
            span: send_span(&message),
            message,
            timeout: None,
            received: Instant::now(),
            route: Route::Any,
        }
    }

    /// Sends the request to exactly `queue` (the Java `request(msg, mq, timeout)`).
    pub fn to_queue(mut self, queue: MessageQueue) -> Self {
        self.route = Route::Queue(queue);
        self
    }

    /// Sends the request to the queue `selector` picks for `arg` (the Java
    /// `request(msg, selector, arg, timeout)`).
    pub fn with_selector(
        mut self,
        selector: Arc<dyn MessageQueueSelector>,
        arg: impl Into<SelectorArg>,
    ) -> Self {
        self.route = Route::Selector(selector, arg.into());
        self
    }

    /// Sets the timeout of the send and the wait for the reply together.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl ActixMessage for SendRequest {
    type Result = Result<Message, Error>;
}

/// A request with the producer's send timeout, as [`SendRequest::new`].
impl From<Message> for SendRequest {
    fn from(message: Message) -> Self {
        SendRequest::new(message)
    }
}

/// Writes one message without waiting for the broker (the Java `sendOneway`):
/// the reply comes once the frame is handed to the connection.
pub struct SendOneway {
    /// The message to send.
    pub message: Message,
    pub(crate) received: Instant,
    /// The send's span, opened here so the mailbox wait is inside it.
    pub(crate) span: Option<tracing::Span>,
    pub(crate) timeout: Option<Duration>,
    /// The rotation, or the queue of [`SendToQueue::oneway`] / [`SendWithSelector::oneway`].
    pub(crate) route: Route,
}

impl SendOneway {
    /// A oneway send of `message`: one attempt, no broker reply awaited.
    ///
    /// ```
    /// # use actix_rocketmq::testkit::TestCluster;
    /// # use actix_rocketmq::{ProducerActor, ProducerConfig, Shutdown};
    /// use actix_rocketmq::{Message, SendOneway};
    /// # #[actix_rt::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let cluster = TestCluster::builder().topic("TopicTest", 4).start().await?;
    /// # let config = ProducerConfig::builder("my_group").namesrv_addr(&cluster.namesrv_addr()).build()?;
    /// # let producer = ProducerActor::start(config).await?;
    /// // Ok once the frame is written; the broker's answer is never seen.
    /// producer.send(SendOneway::new(Message::new("TopicTest", "fire and forget"))).await??;
    /// # producer.send(Shutdown).await?;
    /// # Ok(()) }
    /// ```
    pub fn new(message: Message) -> Self {
        SendOneway {
            span: send_span(&message),
            message,
            received: Instant::now(),
            timeout: None,
            route: Route::Oneway,
        }
    }

    /// Sets this send's timeout (the Java `send(msg, timeout)`), in place of the
    /// producer's `send_timeout`; it counts from this value's creation too.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl ActixMessage for SendOneway {
    type Result = Result<(), Error>;
}

/// A oneway send of the message, as [`SendOneway::new`].
impl From<Message> for SendOneway {
    fn from(message: Message) -> Self {
        SendOneway::new(message)
    }
}

/// Sends one message to the given queue; no retry on another broker.
pub struct SendToQueue {
    /// The message to send.
    pub message: Message,
    /// The target queue (topic, broker name, queue id), e.g. one from [`FetchPublishQueues`].
    pub queue: MessageQueue,
    pub(crate) received: Instant,
    /// The send's span, opened here so the mailbox wait is inside it.
    pub(crate) span: Option<tracing::Span>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) notify: Option<(Recipient<SendOutcome>, u64)>,
}

impl SendToQueue {
    /// A send of `message` to exactly `queue`.
    ///
    /// ```
    /// # use actix_rocketmq::testkit::TestCluster;
    /// # use actix_rocketmq::{ProducerActor, ProducerConfig, Shutdown};
    /// use actix_rocketmq::{Message, MessageQueue, SendToQueue};
    /// # #[actix_rt::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let cluster = TestCluster::builder().broker("broker-a").topic("TopicTest", 4).start().await?;
    /// # let config = ProducerConfig::builder("my_group").namesrv_addr(&cluster.namesrv_addr()).build()?;
    /// # let producer = ProducerActor::start(config).await?;
    /// let queue = MessageQueue::new("TopicTest", "broker-a", 2);
    /// let result = producer.send(SendToQueue::new(Message::new("TopicTest", "hello"), queue)).await??;
    /// assert_eq!(result.message_queue.queue_id, 2);
    /// # producer.send(Shutdown).await?;
    /// # Ok(()) }
    /// ```
    pub fn new(message: Message, queue: MessageQueue) -> Self {
        SendToQueue {
            span: send_span(&message),
            message,
            queue,
            received: Instant::now(),
            timeout: None,
            notify: None,
        }
    }

    /// Also delivers the result to `recipient`, tagged with `correlation`
    /// (the Java `send(msg, mq, callback)`), as [`SendMessage::notify`].
    pub fn notify(mut self, recipient: Recipient<SendOutcome>, correlation: u64) -> Self {
        self.notify = Some((recipient, correlation));
        self
    }

    /// The same send without waiting for the broker (the Java
    /// `sendOneway(msg, mq)`): one attempt to this queue, answered once written.
    ///
    /// ```
    /// # use actix_rocketmq::testkit::TestCluster;
    /// # use actix_rocketmq::{ProducerActor, ProducerConfig, Shutdown};
    /// use actix_rocketmq::{Message, MessageQueue, SendToQueue};
    /// # #[actix_rt::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let cluster = TestCluster::builder().broker("broker-a").topic("TopicTest", 4).start().await?;
    /// # let config = ProducerConfig::builder("my_group").namesrv_addr(&cluster.namesrv_addr()).build()?;
    /// # let producer = ProducerActor::start(config).await?;
    /// let queue = MessageQueue::new("TopicTest", "broker-a", 2);
    /// producer.send(SendToQueue::new(Message::new("TopicTest", "hi"), queue).oneway()).await??;
    /// # producer.send(Shutdown).await?;
    /// # Ok(()) }
    /// ```
    pub fn oneway(self) -> SendOneway {
        SendOneway {
            message: self.message,
            received: self.received,
            span: self.span,
            timeout: self.timeout,
            route: Route::Queue(self.queue),
        }
    }

    /// Sets this send's timeout (the Java `send(msg, timeout)`), in place of the
    /// producer's `send_timeout`; it counts from this value's creation too.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl ActixMessage for SendToQueue {
    type Result = Result<SendResult, Error>;
}

/// Sends one message to the queue a selector picks (e.g. by hash of an order
/// id, so every message of one key goes to one queue, in order); no retry on
/// another broker, as in the Java client.
pub struct SendWithSelector {
    /// The message to send.
    pub message: Message,
    /// Picks the queue from the topic's writable queues.
    pub selector: Arc<dyn MessageQueueSelector>,
    /// Passed to the selector, e.g. the order id to hash.
    pub arg: SelectorArg,
    pub(crate) received: Instant,
    /// The send's span, opened here so the mailbox wait is inside it.
    pub(crate) span: Option<tracing::Span>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) notify: Option<(Recipient<SendOutcome>, u64)>,
}

impl SendWithSelector {
    /// A send of `message` to the queue `selector` picks for `arg`.
    ///
    /// ```
    /// # use actix_rocketmq::testkit::TestCluster;
    /// # use actix_rocketmq::{ProducerActor, ProducerConfig, Shutdown};
    /// use std::sync::Arc;
    /// use actix_rocketmq::{Message, SelectMessageQueueByHash, SendWithSelector};
    /// # #[actix_rt::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let cluster = TestCluster::builder().topic("TopicTest", 4).start().await?;
    /// # let config = ProducerConfig::builder("my_group").namesrv_addr(&cluster.namesrv_addr()).build()?;
    /// # let producer = ProducerActor::start(config).await?;
    /// let by_order = Arc::new(SelectMessageQueueByHash);
    /// let created = SendWithSelector::new(Message::new("TopicTest", "created"), by_order.clone(), "order-42");
    /// let paid = SendWithSelector::new(Message::new("TopicTest", "paid"), by_order, "order-42");
    /// let first = producer.send(created).await??;
    /// let second = producer.send(paid).await??;
    /// // One key, one queue: consumers see the order's events in order.
    /// assert_eq!(first.message_queue, second.message_queue);
    /// # producer.send(Shutdown).await?;
    /// # Ok(()) }
    /// ```
    pub fn new(
        message: Message,
        selector: Arc<dyn MessageQueueSelector>,
        arg: impl Into<SelectorArg>,
    ) -> Self {
        SendWithSelector {
            span: send_span(&message),
            message,
            selector,
            arg: arg.into(),
            received: Instant::now(),
            timeout: None,
            notify: None,
        }
    }

    /// Also delivers the result to `recipient`, tagged with `correlation`
    /// (the Java `send(msg, selector, arg, callback)`), as [`SendMessage::notify`].
    pub fn notify(mut self, recipient: Recipient<SendOutcome>, correlation: u64) -> Self {
        self.notify = Some((recipient, correlation));
        self
    }

    /// The same send without waiting for the broker (the Java
    /// `sendOneway(msg, selector, arg)`): one attempt to the selected queue,
    /// answered once written.
    pub fn oneway(self) -> SendOneway {
        SendOneway {
            message: self.message,
            received: self.received,
            span: self.span,
            timeout: self.timeout,
            route: Route::Selector(self.selector, self.arg),
        }
    }

    /// Sets this send's timeout (the Java `send(msg, timeout)`), in place of the
    /// producer's `send_timeout`; it counts from this value's creation too.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl ActixMessage for SendWithSelector {
    type Result = Result<SendResult, Error>;
}

/// Sends several messages of one topic in one request (SEND_BATCH_MESSAGE).
/// The result's `msg_id` is the comma-joined ids of the messages.
pub struct SendBatch {
    /// The messages: same topic, same `WAIT`, no delay level, encoded size at most `maxMessageSize`.
    pub messages: Vec<Message>,
    pub(crate) received: Instant,
    /// The send's span, opened here so the mailbox wait is inside it.
    pub(crate) span: Option<tracing::Span>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) queue: Option<MessageQueue>,
    pub(crate) notify: Option<(Recipient<SendOutcome>, u64)>,
}

impl SendBatch {
    /// A batch send of `messages`.
    ///
    /// ```
    /// # use actix_rocketmq::testkit::TestCluster;
    /// # use actix_rocketmq::{ProducerActor, ProducerConfig, Shutdown};
    /// use actix_rocketmq::{Message, SendBatch};
    /// # #[actix_rt::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let cluster = TestCluster::builder().topic("TopicTest", 4).start().await?;
    /// # let config = ProducerConfig::builder("my_group").namesrv_addr(&cluster.namesrv_addr()).build()?;
    /// # let producer = ProducerActor::start(config).await?;
    /// let batch = vec![Message::new("TopicTest", "one"), Message::new("TopicTest", "two")];
    /// let result = producer.send(SendBatch::new(batch)).await??;
    /// assert_eq!(result.msg_id.split(',').count(), 2);
    /// # assert_eq!(cluster.messages("TopicTest").len(), 2);
    /// # producer.send(Shutdown).await?;
    /// # Ok(()) }
    /// ```
    pub fn new(messages: Vec<Message>) -> Self {
        SendBatch {
            span: batch_span(&messages),
            messages,
            received: Instant::now(),
            timeout: None,
            queue: None,
            notify: None,
        }
    }

    /// Sends the batch to exactly `queue` (the Java `send(Collection, mq)`); no
    /// retry on another broker.
    pub fn to_queue(mut self, queue: MessageQueue) -> Self {
        self.queue = Some(queue);
        self
    }

    /// Also delivers the result to `recipient`, tagged with `correlation`
    /// (the Java `send(Collection, callback)`), as [`SendMessage::notify`].
    pub fn notify(mut self, recipient: Recipient<SendOutcome>, correlation: u64) -> Self {
        self.notify = Some((recipient, correlation));
        self
    }

    /// Sets this send's timeout (the Java `send(msg, timeout)`), in place of the
    /// producer's `send_timeout`; it counts from this value's creation too.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl ActixMessage for SendBatch {
    type Result = Result<SendResult, Error>;
}

/// A batch send of the messages, as [`SendBatch::new`].
impl From<Vec<Message>> for SendBatch {
    fn from(messages: Vec<Message>) -> Self {
        SendBatch::new(messages)
    }
}

/// Recalls a timer or delay message before it is delivered (Java 5.3.1
/// `recallMessage`): RECALL_MESSAGE to the master of the broker named in the
/// handle.
///
/// `recall_handle` is the [`SendResult::recall_handle`] of the send (5.3.2+
/// brokers return one for timer messages); `topic` is the topic the message was
/// sent to (without namespace; the producer adds its own). The reply is the
/// recalled message's id (its UNIQ_KEY), or the broker's refusal as an
/// [`ErrorKind::Broker`](crate::ErrorKind::Broker) error, e.g. code 604
/// (ILLEGAL_OPERATION) when the message was already delivered. A handle that
/// does not decode fails with a
/// [`ErrorKind::Validation`](crate::ErrorKind::Validation) error before anything
/// is sent.
///
/// ```no_run
/// # use actix_rocketmq::{Message, ProducerActor, RecallMessage, SendMessage};
/// # async fn demo(producer: actix::Addr<ProducerActor>) -> Result<(), actix_rocketmq::Error> {
/// let msg = Message::new("Reminders", "in ten minutes").with_delay_sec(600);
/// let sent = producer.send(SendMessage::new(msg)).await??;
/// if let Some(handle) = sent.recall_handle {
///     let id = producer.send(RecallMessage::new("Reminders", handle)).await??;
///     assert_eq!(id, sent.msg_id);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallMessage {
    /// The topic the message was sent to (without namespace).
    pub topic: String,
    /// The send result's recall handle.
    pub recall_handle: String,
}

impl RecallMessage {
    /// Recalls the message of `recall_handle`, sent to `topic`.
    pub fn new(topic: impl Into<String>, recall_handle: impl Into<String>) -> Self {
        RecallMessage {
            topic: topic.into(),
            recall_handle: recall_handle.into(),
        }
    }
}

impl ActixMessage for RecallMessage {
    type Result = Result<String, Error>;
}

/// The writable queues of a topic (Java `fetchPublishMessageQueues`).
pub struct FetchPublishQueues {
    /// The topic (without namespace; the producer adds its own).
    pub topic: String,
}

impl ActixMessage for FetchPublishQueues {
    type Result = Result<Vec<MessageQueue>, Error>;
}

/// Stops taking sends, lets those in flight finish, unregisters the group from
/// every broker and stops the producer. Other producers of the same client
/// instance are not disturbed.
pub struct Shutdown;

impl ActixMessage for Shutdown {
    type Result = ();
}

/// Counters of a producer, for tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProducerStats {
    /// Sends admitted and not yet finished (attempts and retries in progress).
    pub in_flight: usize,
    /// Encoded body bytes of those sends (bounded by `max_in_flight_bytes`).
    pub in_flight_bytes: usize,
    /// Sends parked until the in-flight limits leave room.
    pub waiting_for_capacity: usize,
    /// Sends waiting for their topic's route from the name server.
    pub waiting_for_route: usize,
    /// Sends that ended with a [`SendResult`] (any [`SendStatus`](crate::SendStatus)).
    pub sent_ok: u64,
    /// Sends that ended with an error.
    pub failed: u64,
    /// Requests written to brokers, retries included.
    pub attempts: u64,
    /// Brokers the latency fault table holds (with `send_latency_fault_enable`);
    /// brokers no route names any more are dropped when a route changes.
    pub fault_brokers: usize,
    /// Message trace counters (all zero with trace off): records made,
    /// dropped (buffer full, or unsent at shutdown), sent, failed, pending.
    pub trace: crate::producer::trace::TraceStats,
}

/// Asks a producer for its [`ProducerStats`].
///
/// ```
/// # use actix_rocketmq::testkit::TestCluster;
/// # use actix_rocketmq::{ProducerActor, ProducerConfig, Shutdown};
/// use actix_rocketmq::{GetProducerStats, Message, SendMessage};
/// # #[actix_rt::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let cluster = TestCluster::builder().topic("TopicTest", 4).start().await?;
/// # let config = ProducerConfig::builder("my_group").namesrv_addr(&cluster.namesrv_addr()).build()?;
/// # let producer = ProducerActor::start(config).await?;
/// producer.send(SendMessage::new(Message::new("TopicTest", "hello"))).await??;
/// let stats = producer.send(GetProducerStats).await?;
/// assert_eq!((stats.sent_ok, stats.failed, stats.in_flight), (1, 0, 0));
/// # producer.send(Shutdown).await?;
/// # Ok(()) }
/// ```
pub struct GetProducerStats;

impl ActixMessage for GetProducerStats {
    type Result = ProducerStats;
}
