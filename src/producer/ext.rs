//! [`ProducerExt`]: one method per send form on `Addr<ProducerActor>`, each
//! returning `Result<T, Error>` (one `?` instead of `.await??`).
//!
//! ```no_run
//! # async fn demo(producer: actix::Addr<actix_rocketmq::ProducerActor>) -> Result<(), actix_rocketmq::Error> {
//! use actix_rocketmq::{Message, ProducerExt};
//! let result = producer.send_message(Message::new("TopicTest", "hello")).await?;
//! println!("stored as {}", result.msg_id);
//! producer.shutdown().await?;
//! # Ok(()) }
//! ```
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::{Addr, Handler, Message as ActixMessage};

use super::actor::ProducerActor;
use super::messages::{
    FetchPublishQueues, RecallMessage, SendBatch, SendMessage, SendOneway, SendRequest,
    SendToQueue, SendWithSelector, Shutdown,
};
use super::selector::{MessageQueueSelector, SelectorArg};
use super::send_result::SendResult;
use super::transaction::{SendMessageInTransaction, Transaction};
use crate::error::Error;
use crate::protocol::message::Message;
use crate::protocol::route::MessageQueue;

mod sealed {
    /// Only `Addr<ProducerActor>` implements [`ProducerExt`](super::ProducerExt),
    /// so methods can be added without breaking anyone.
    pub trait Sealed {}
    impl Sealed for actix::Addr<crate::producer::actor::ProducerActor> {}
}

/// The producer's sends as methods of its address, with the reply flattened:
/// a stopped producer (closed mailbox) is an [`ErrorKind::ShutDown`] error
/// like any other, so one `?` handles everything.
///
/// Each method queues its message when called, as `Addr::send` does, and the
/// send's timeout starts then; the returned future is the reply (and `Send`,
/// so it can be awaited in a spawned task). `addr.send(SendMessage::new(msg)).await??`
/// keeps working and is the same send.
///
/// | method | message sent | reply |
/// | --- | --- | --- |
/// | [`send_message`](Self::send_message) | [`SendMessage`] | [`SendResult`] |
/// | [`send_oneway`](Self::send_oneway) | [`SendOneway`] | `()` once written |
/// | [`send_to_queue`](Self::send_to_queue) | [`SendToQueue`] | [`SendResult`] |
/// | [`send_with_selector`](Self::send_with_selector) | [`SendWithSelector`] | [`SendResult`] |
/// | [`send_batch`](Self::send_batch) | [`SendBatch`] | [`SendResult`] |
/// | [`send_in_transaction`](Self::send_in_transaction) | [`SendMessageInTransaction`] | [`Transaction`] |
/// | [`request`](Self::request) | [`SendRequest`] | the reply [`Message`] |
/// | [`fetch_publish_queues`](Self::fetch_publish_queues) | [`FetchPublishQueues`] | `Vec<MessageQueue>` |
/// | [`recall_message`](Self::recall_message) | [`RecallMessage`] | the recalled message's id |
/// | [`shutdown`](Self::shutdown) | [`Shutdown`] | `()` |
/// | [`call`](Self::call) | any of them, already built | its reply |
///
/// [`ErrorKind::ShutDown`]: crate::ErrorKind::ShutDown
pub trait ProducerExt: sealed::Sealed {
    /// Sends one message and waits for the broker (Java `send(msg)`). Takes a
    /// [`Message`] or a [`SendMessage`] already built (e.g. with `notify`).
    fn send_message(
        &self,
        msg: impl Into<SendMessage>,
    ) -> impl Future<Output = Result<SendResult, Error>> + Send;

    /// Writes one message without waiting for the broker (Java `sendOneway`).
    fn send_oneway(
        &self,
        msg: impl Into<SendOneway>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Sends one message to exactly `queue` (Java `send(msg, mq)`).
    fn send_to_queue(
        &self,
        msg: Message,
        queue: MessageQueue,
    ) -> impl Future<Output = Result<SendResult, Error>> + Send;

    /// Sends one message to the queue `selector` picks for `arg` (Java `send(msg, selector, arg)`).
    fn send_with_selector(
        &self,
        msg: Message,
        selector: Arc<dyn MessageQueueSelector>,
        arg: impl Into<SelectorArg>,
    ) -> impl Future<Output = Result<SendResult, Error>> + Send;

    /// Sends messages of one topic in one request (Java `send(Collection<Message>)`).
    fn send_batch(
        &self,
        msgs: impl Into<SendBatch>,
    ) -> impl Future<Output = Result<SendResult, Error>> + Send;

    /// Stores a half message (Java `sendMessageInTransaction`); end the
    /// returned [`Transaction`] with `commit()` or `rollback()`.
    fn send_in_transaction(
        &self,
        msg: impl Into<SendMessageInTransaction>,
    ) -> impl Future<Output = Result<Transaction, Error>> + Send;

    /// Sends a request and waits up to `timeout` for its reply (Java `request(msg, timeout)`).
    fn request(
        &self,
        msg: Message,
        timeout: Duration,
    ) -> impl Future<Output = Result<Message, Error>> + Send;

    /// The writable queues of `topic` (Java `fetchPublishMessageQueues`).
    fn fetch_publish_queues(
        &self,
        topic: impl Into<String>,
    ) -> impl Future<Output = Result<Vec<MessageQueue>, Error>> + Send;

    /// Recalls a timer message of `topic` before it is delivered, by its send
    /// result's `recall_handle` (Java `recallMessage`): its id.
    fn recall_message(
        &self,
        topic: impl Into<String>,
        recall_handle: impl Into<String>,
    ) -> impl Future<Output = Result<String, Error>> + Send;

    /// Stops the producer once the sends in flight are answered (Java
    /// `shutdown()`). A producer already stopped is `Ok`: the call is idempotent.
    fn shutdown(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Sends any request message of the producer, built beforehand (e.g. a
    /// [`SendRequest`] without its own timeout), with the reply flattened.
    ///
    /// ```no_run
    /// # async fn demo(producer: actix::Addr<actix_rocketmq::ProducerActor>) -> Result<(), actix_rocketmq::Error> {
    /// use actix_rocketmq::{Message, MessageQueue, ProducerExt, SendToQueue};
    /// let send = SendToQueue::new(Message::new("TopicTest", "hi"), MessageQueue::new("TopicTest", "broker-a", 0));
    /// let result = producer.call(send).await?;
    /// # Ok(()) }
    /// ```
    fn call<M, T>(&self, msg: M) -> impl Future<Output = Result<T, Error>> + Send
    where
        M: ActixMessage<Result = Result<T, Error>> + Send + 'static,
        T: Send + 'static,
        ProducerActor: Handler<M>;
}

impl ProducerExt for Addr<ProducerActor> {
    fn send_message(
        &self,
        msg: impl Into<SendMessage>,
    ) -> impl Future<Output = Result<SendResult, Error>> + Send {
        self.call(msg.into())
    }

    fn send_oneway(
        &self,
        msg: impl Into<SendOneway>,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        self.call(msg.into())
    }

    fn send_to_queue(
        &self,
        msg: Message,
        queue: MessageQueue,
    ) -> impl Future<Output = Result<SendResult, Error>> + Send {
        self.call(SendToQueue::new(msg, queue))
    }

    fn send_with_selector(
        &self,
        msg: Message,
        selector: Arc<dyn MessageQueueSelector>,
        arg: impl Into<SelectorArg>,
    ) -> impl Future<Output = Result<SendResult, Error>> + Send {
        self.call(SendWithSelector::new(msg, selector, arg))
    }

    fn send_batch(
        &self,
        msgs: impl Into<SendBatch>,
    ) -> impl Future<Output = Result<SendResult, Error>> + Send {
        self.call(msgs.into())
    }

    fn send_in_transaction(
        &self,
        msg: impl Into<SendMessageInTransaction>,
    ) -> impl Future<Output = Result<Transaction, Error>> + Send {
        self.call(msg.into())
    }

    fn request(
        &self,
        msg: Message,
        timeout: Duration,
    ) -> impl Future<Output = Result<Message, Error>> + Send {
        self.call(SendRequest::new(msg).with_timeout(timeout))
    }

    fn fetch_publish_queues(
        &self,
        topic: impl Into<String>,
    ) -> impl Future<Output = Result<Vec<MessageQueue>, Error>> + Send {
        self.call(FetchPublishQueues {
            topic: topic.into(),
        })
    }

    fn recall_message(
        &self,
        topic: impl Into<String>,
        recall_handle: impl Into<String>,
    ) -> impl Future<Output = Result<String, Error>> + Send {
        self.call(RecallMessage::new(topic, recall_handle))
    }

    fn shutdown(&self) -> impl Future<Output = Result<(), Error>> + Send {
        let stopped = self.send(Shutdown);
        // A closed mailbox means the producer is already stopped: what was asked.
        async move {
            let _ = stopped.await;
            Ok(())
        }
    }

    fn call<M, T>(&self, msg: M) -> impl Future<Output = Result<T, Error>> + Send
    where
        M: ActixMessage<Result = Result<T, Error>> + Send + 'static,
        T: Send + 'static,
        ProducerActor: Handler<M>,
    {
        // Queued now, as Addr::send does; only the reply is awaited later.
        let reply = self.send(msg);
        async move { reply.await? }
    }
}
