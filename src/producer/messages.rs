//! The messages a service sends to a `ProducerActor`, each with a typed reply.
use std::sync::Arc;

use actix::prelude::{Message as ActixMessage, Recipient};
use tokio::time::Instant;

use super::selector::{MessageQueueSelector, SelectorArg};
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
    pub message: Message,
    pub(crate) received: Instant,
    pub(crate) notify: Option<(Recipient<SendOutcome>, u64)>,
}

impl SendMessage {
    pub fn new(message: Message) -> Self {
        SendMessage {
            message,
            received: Instant::now(),
            notify: None,
        }
    }

    /// Also delivers the result to `recipient`, tagged with `correlation`, for
    /// actors that would rather not await the reply.
    pub fn notify(mut self, recipient: Recipient<SendOutcome>, correlation: u64) -> Self {
        self.notify = Some((recipient, correlation));
        self
    }
}

impl ActixMessage for SendMessage {
    type Result = Result<SendResult, Error>;
}

/// The result of a `SendMessage` delivered to a recipient (see [`SendMessage::notify`]).
pub struct SendOutcome {
    pub correlation: u64,
    pub result: Result<SendResult, Error>,
}

impl ActixMessage for SendOutcome {
    type Result = ();
}

/// Writes one message without waiting for the broker (the Java `sendOneway`):
/// the reply comes once the frame is handed to the connection.
pub struct SendOneway {
    pub message: Message,
    pub(crate) received: Instant,
}

impl SendOneway {
    pub fn new(message: Message) -> Self {
        SendOneway {
            message,
            received: Instant::now(),
        }
    }
}

impl ActixMessage for SendOneway {
    type Result = Result<(), Error>;
}

/// Sends one message to the given queue; no retry on another broker.
pub struct SendToQueue {
    pub message: Message,
    pub queue: MessageQueue,
    pub(crate) received: Instant,
}

impl SendToQueue {
    pub fn new(message: Message, queue: MessageQueue) -> Self {
        SendToQueue {
            message,
            queue,
            received: Instant::now(),
        }
    }
}

impl ActixMessage for SendToQueue {
    type Result = Result<SendResult, Error>;
}

/// Sends one message to the queue a selector picks (e.g. by hash of an order
/// id, so every message of one key goes to one queue, in order); no retry on
/// another broker, as in the Java client.
pub struct SendWithSelector {
    pub message: Message,
    pub selector: Arc<dyn MessageQueueSelector>,
    pub arg: SelectorArg,
    pub(crate) received: Instant,
}

impl SendWithSelector {
    pub fn new(
        message: Message,
        selector: Arc<dyn MessageQueueSelector>,
        arg: impl Into<SelectorArg>,
    ) -> Self {
        SendWithSelector {
            message,
            selector,
            arg: arg.into(),
            received: Instant::now(),
        }
    }
}

impl ActixMessage for SendWithSelector {
    type Result = Result<SendResult, Error>;
}

/// Sends several messages of one topic in one request (SEND_BATCH_MESSAGE).
/// The result's `msg_id` is the comma-joined ids of the messages.
pub struct SendBatch {
    pub messages: Vec<Message>,
    pub(crate) received: Instant,
}

impl SendBatch {
    pub fn new(messages: Vec<Message>) -> Self {
        SendBatch {
            messages,
            received: Instant::now(),
        }
    }
}

impl ActixMessage for SendBatch {
    type Result = Result<SendResult, Error>;
}

/// The writable queues of a topic (Java `fetchPublishMessageQueues`).
pub struct FetchPublishQueues {
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
    pub in_flight: usize,
    pub in_flight_bytes: usize,
    pub waiting_for_capacity: usize,
    pub waiting_for_route: usize,
    pub sent_ok: u64,
    pub failed: u64,
    pub attempts: u64,
}

pub struct GetProducerStats;

impl ActixMessage for GetProducerStats {
    type Result = ProducerStats;
}
