//! Transactional sends (the Java `TransactionMQProducer`).
//!
//! A transaction is two steps, as in the Java client, with the local
//! transaction run by the caller between them instead of by a listener:
//!
//! 1. [`SendMessageInTransaction`] stores a *half message*: the broker keeps it
//!    hidden from consumers. The reply is a [`Transaction`].
//! 2. The caller runs its local transaction, then ends the transaction with
//!    [`Transaction::commit`] (the message becomes visible) or
//!    [`Transaction::rollback`] (it is dropped): END_TRANSACTION, one-way, to
//!    the broker that stored it.
//!
//! A transaction that is never ended (the caller crashed, the END_TRANSACTION
//! was lost, or it was ended with [`TransactionResolution::Unknown`]) is asked
//! about by the broker later (CHECK_TRANSACTION_STATE, from ~6 s after the
//! half message on, up to 15 times by default). The producer answers with the
//! [`TransactionChecker`] of its config, which is therefore required for
//! transactional sends (the Java `checkLocalTransaction`).
//!
//! Java listeners port as they are: a [`TransactionListener`] set with
//! `ProducerConfigBuilder::transaction_listener` runs the local transaction of
//! each [`ExecuteTransaction`] between the two steps and answers the checks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), actix_rocketmq::Error> {
//! use actix_rocketmq::{
//!     Message, ProducerActor, ProducerConfig, SendMessageInTransaction, TransactionCheck,
//!     TransactionResolution,
//! };
//!
//! let config = ProducerConfig::builder("order_tx_group")
//!     .namesrv_addr("127.0.0.1:9876")
//!     // Asked when the broker does not know a transaction's outcome.
//!     .transaction_checker(|check: TransactionCheck| async move {
//!         // Look the order up by check.transaction_id in the local database...
//!         TransactionResolution::Commit
//!     })
//!     .build()?;
//! let producer = ProducerActor::start(config).await?;
//!
//! let msg = Message::new("OrderCreated", "order 42");
//! let tx = producer.send(SendMessageInTransaction::new(msg)).await??;
//! // or, with ProducerExt: producer.send_in_transaction(msg).await?
//! // The local transaction, keyed by tx.transaction_id() ...
//! let local_ok = true;
//! if local_ok { tx.commit().await? } else { tx.rollback().await? }
//! # Ok(()) }
//! ```
use std::future::Future;
use std::panic::AssertUnwindSafe;

use actix::prelude::Message as ActixMessage;
use actix::prelude::*;
use futures::FutureExt;
use futures::future::LocalBoxFuture;
use tokio::time::Instant;
use tracing::Instrument;

use super::ProducerActor;
use super::observe;
use super::routes::master_connection;
use super::send::Route;
use super::send::reply::{DeliverOnce, ReplySlot, ReplyTo, SendReply};
use super::send_result::SendResult;
use crate::error::Error;
pub use crate::protocol::headers::TransactionResolution;
use crate::protocol::headers::{CheckTransactionStateRequestHeader, EndTransactionRequestHeader};
use crate::protocol::message::{Message, property};
use crate::protocol::message_id::decode_offset_msg_id;
use crate::protocol::stored::StoredMessage;
use crate::runtime::instance::CheckTransaction;

/// What a broker's transaction check tells the [`TransactionChecker`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransactionCheck {
    /// The transaction's id: [`Transaction::transaction_id`] of the send that
    /// stored the half message (its UNIQ_KEY).
    pub transaction_id: String,
    /// The half message as the broker stored it (topic, body, properties).
    pub message: StoredMessage,
}

/// A Java-style transaction listener (Java `TransactionListener`): runs the
/// local transaction of an [`ExecuteTransaction`] and answers the brokers'
/// checks. Set it with
/// [`ProducerConfigBuilder::transaction_listener`](crate::ProducerConfigBuilder::transaction_listener),
/// which also makes it the producer's [`TransactionChecker`].
///
/// Both methods are synchronous, as in Java, and run on the producer's
/// arbiter: keep them short (a blocking database call stalls the producer; for
/// that, use the two-step [`SendMessageInTransaction`] and an async
/// [`TransactionChecker`]). A panic in either answers
/// [`TransactionResolution::Unknown`], so the broker asks again later.
///
/// ```
/// use std::any::Any;
/// use actix_rocketmq::{Message, TransactionCheck, TransactionListener, TransactionResolution};
///
/// struct Orders;
/// impl TransactionListener for Orders {
///     fn execute_local_transaction(&self, msg: &Message, arg: Option<&(dyn Any + Send)>) -> TransactionResolution {
///         let order = arg.and_then(|a| a.downcast_ref::<u64>());
///         // Insert the order into the local database, keyed by msg.uniq_key() ...
///         if order.is_some() { TransactionResolution::Commit } else { TransactionResolution::Rollback }
///     }
///     fn check_local_transaction(&self, check: &TransactionCheck) -> TransactionResolution {
///         // Look the order up by check.transaction_id ...
///         TransactionResolution::Commit
///     }
/// }
/// let config = actix_rocketmq::ProducerConfig::builder("order_tx_group")
///     .transaction_listener(Orders)
///     .build()?;
/// assert!(config.transaction_checker().is_some());
/// # Ok::<(), actix_rocketmq::Error>(())
/// ```
pub trait TransactionListener: Send + Sync + 'static {
    /// Runs the local transaction of the half message `msg` just stored (its
    /// [`Message::uniq_key`] is the transaction id); `arg` is
    /// [`ExecuteTransaction::with_arg`]'s. Its answer ends the transaction.
    fn execute_local_transaction(
        &self,
        msg: &Message,
        arg: Option<&(dyn std::any::Any + Send)>,
    ) -> TransactionResolution;

    /// The outcome of the local transaction a broker's `check` is about.
    fn check_local_transaction(&self, check: &TransactionCheck) -> TransactionResolution;
}

/// A [`TransactionListener`] serving as the producer's [`TransactionChecker`].
pub(crate) struct ListenerChecker(pub(crate) std::sync::Arc<dyn TransactionListener>);

impl TransactionChecker for ListenerChecker {
    fn check(&self, check: TransactionCheck) -> LocalBoxFuture<'static, TransactionResolution> {
        // Run now (a panic here is caught by `run_checker`), answered as a future.
        let resolution = self.0.check_local_transaction(&check);
        Box::pin(futures::future::ready(resolution))
    }
}

/// Sends a transactional message and runs its local transaction with the
/// producer's [`TransactionListener`] (the Java
/// `sendMessageInTransaction(msg, arg)` with a listener): the half message is
/// stored, `execute_local_transaction` runs, and its answer ends the
/// transaction (END_TRANSACTION). The reply is the [`TransactionSendResult`].
///
/// It fails with [`ErrorKind::Config`](crate::ErrorKind::Config) when the
/// producer has no listener. A half message that could not be stored is the
/// error, and the listener is not run.
pub struct ExecuteTransaction {
    /// The message to send.
    pub message: Message,
    pub(crate) arg: Option<Box<dyn std::any::Any + Send>>,
    pub(crate) received: Instant,
    pub(crate) timeout: Option<std::time::Duration>,
}

impl ExecuteTransaction {
    /// A transactional send of `message` run by the listener; its timeout counts from now.
    pub fn new(message: Message) -> Self {
        ExecuteTransaction {
            message,
            arg: None,
            received: Instant::now(),
            timeout: None,
        }
    }

    /// The `arg` handed to `execute_local_transaction` (Java's `Object arg`).
    pub fn with_arg(mut self, arg: impl std::any::Any + Send) -> Self {
        self.arg = Some(Box::new(arg));
        self
    }

    /// Sets the half message send's timeout, in place of the producer's `send_timeout`.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl ActixMessage for ExecuteTransaction {
    type Result = Result<TransactionSendResult, Error>;
}

/// The result of an [`ExecuteTransaction`] (Java `TransactionSendResult`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransactionSendResult {
    /// The half message's send result.
    pub send_result: SendResult,
    /// What the listener answered, and the transaction was ended with.
    pub local_transaction_state: TransactionResolution,
}

impl Handler<ExecuteTransaction> for ProducerActor {
    type Result = ResponseFuture<Result<TransactionSendResult, Error>>;
    fn handle(&mut self, msg: ExecuteTransaction, ctx: &mut Context<Self>) -> Self::Result {
        let Some(listener) = self.cfg.transaction_listener().cloned() else {
            let err = Error::config(
                "ExecuteTransaction needs a transaction listener \
                 (ProducerConfigBuilder::transaction_listener)",
            );
            return Box::pin(futures::future::ready(Err(err)));
        };
        let me = ctx.address();
        let mut message = msg.message.clone();
        let send = SendMessageInTransaction {
            span: observe::send_span(&msg.message),
            message: msg.message,
            received: msg.received,
            timeout: msg.timeout,
        };
        let arg = msg.arg;
        Box::pin(async move {
            let tx = me.send(send).await??;
            message.set_property(property::UNIQ_KEY, tx.transaction_id());
            let resolution = std::panic::catch_unwind(AssertUnwindSafe(|| {
                listener.execute_local_transaction(&message, arg.as_deref())
            }))
            .unwrap_or_else(|panic| {
                tracing::warn!(
                    panic = super::hooks::panic_message(&panic),
                    "transaction listener panicked in execute_local_transaction; ended as Unknown"
                );
                TransactionResolution::Unknown
            });
            let send_result = tx.send_result().clone();
            tx.end(resolution).await?;
            Ok(TransactionSendResult {
                send_result,
                local_transaction_state: resolution,
            })
        })
    }
}

/// Answers the brokers' checks of transactions they hold a half message of
/// (Java `TransactionListener.checkLocalTransaction`).
///
/// Runs on the producer's arbiter, one future per check: it must not block
/// the thread (await the database, do not wait on it). A checker that panics
/// answers [`TransactionResolution::Unknown`], so the broker asks again later.
/// Any `Fn(TransactionCheck) -> impl Future<Output = TransactionResolution>`
/// that is `Send + Sync` is one.
pub trait TransactionChecker: Send + Sync + 'static {
    /// The outcome of the local transaction `check` is about.
    fn check(&self, check: TransactionCheck) -> LocalBoxFuture<'static, TransactionResolution>;
}

impl<F, Fut> TransactionChecker for F
where
    F: Fn(TransactionCheck) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = TransactionResolution> + 'static,
{
    fn check(&self, check: TransactionCheck) -> LocalBoxFuture<'static, TransactionResolution> {
        Box::pin(self(check))
    }
}

/// Stores `message` as the half message of a new transaction (Java
/// `sendMessageInTransaction`); the reply is the [`Transaction`] to end.
///
/// The send goes as a [`SendMessage`](super::messages::SendMessage) does
/// (validation, retries on another broker, the send timeout), marked
/// transactional (`TRAN_MSG`, `PGROUP`, the prepared sysFlag); a `DELAY` level
/// is dropped, as in Java. It fails with
/// [`ErrorKind::Config`](crate::ErrorKind::Config) when the producer has no
/// [`TransactionChecker`]. A half message the broker stored without SEND_OK
/// (flush or slave timeout) is rolled back at once and the reply is a
/// [`ErrorKind::Broker`](crate::ErrorKind::Broker) error with that status's
/// code: do not run the local transaction then.
pub struct SendMessageInTransaction {
    /// The message to send.
    pub message: Message,
    pub(crate) received: Instant,
    /// The send's span, opened here so the mailbox wait is inside it.
    pub(crate) span: Option<tracing::Span>,
    pub(crate) timeout: Option<std::time::Duration>,
}

impl SendMessageInTransaction {
    /// A transactional send of `message`; its timeout counts from now.
    pub fn new(message: Message) -> Self {
        SendMessageInTransaction {
            span: observe::send_span(&message),
            message,
            received: Instant::now(),
            timeout: None,
        }
    }

    /// Sets this send's timeout, in place of the producer's `send_timeout`; it
    /// counts from this value's creation too.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl ActixMessage for SendMessageInTransaction {
    type Result = Result<Transaction, Error>;
}

/// A transactional send of the message, as [`SendMessageInTransaction::new`].
impl From<Message> for SendMessageInTransaction {
    fn from(message: Message) -> Self {
        SendMessageInTransaction::new(message)
    }
}

/// A stored half message waiting for its outcome: end it with
/// [`commit`](Transaction::commit) or [`rollback`](Transaction::rollback).
/// Dropped without either, the broker asks the producer's
/// [`TransactionChecker`] later. Not `Clone`: a transaction is ended once.
#[derive(Debug)]
pub struct Transaction {
    send_result: SendResult,
    /// END_TRANSACTION as it will go, but for its resolution.
    end: EndTransactionRequestHeader,
    /// Where it is ended: its producer.
    producer: Recipient<EndTransaction>,
}

impl Transaction {
    /// The half message's send result (its queue and offsets are the half
    /// message's, in the broker's transaction topic).
    pub fn send_result(&self) -> &SendResult {
        &self.send_result
    }

    /// The transaction's id (the half message's UNIQ_KEY): what
    /// [`TransactionCheck::transaction_id`] names later.
    pub fn transaction_id(&self) -> &str {
        self.end
            .transaction_id
            .as_deref()
            .unwrap_or(&self.end.msg_id)
    }

    /// The name of the broker holding the half message.
    pub fn broker_name(&self) -> &str {
        self.end.broker_name.as_deref().unwrap_or_default()
    }

    /// Makes the message visible to consumers.
    pub async fn commit(self) -> Result<(), Error> {
        self.end(TransactionResolution::Commit).await
    }

    /// Drops the message.
    pub async fn rollback(self) -> Result<(), Error> {
        self.end(TransactionResolution::Rollback).await
    }

    /// Sends `resolution` to the broker; `Unknown` leaves the outcome to the
    /// broker's later check. `Ok` once END_TRANSACTION is written (it is
    /// one-way: the broker does not answer it).
    pub async fn end(self, resolution: TransactionResolution) -> Result<(), Error> {
        let producer = self.producer.clone();
        producer.send(EndTransaction::new(self, resolution)).await?
    }
}

/// Ends a [`Transaction`] (what [`Transaction::end`] sends to its producer).
pub struct EndTransaction {
    /// The transaction to end.
    pub transaction: Transaction,
    /// Its outcome.
    pub resolution: TransactionResolution,
}

impl EndTransaction {
    /// Ends `transaction` with `resolution`.
    pub fn new(transaction: Transaction, resolution: TransactionResolution) -> Self {
        EndTransaction {
            transaction,
            resolution,
        }
    }

    /// The END_TRANSACTION header, the broker name and the (namespaced) topic
    /// whose route gives the broker's address.
    pub(crate) fn into_parts(self) -> (EndTransactionRequestHeader, String, String) {
        let mut end = self.transaction.end;
        end.commit_or_rollback = self.resolution;
        let broker = end.broker_name.clone().unwrap_or_default();
        let topic = end.topic.clone().unwrap_or_default();
        (end, broker, topic)
    }
}

impl ActixMessage for EndTransaction {
    type Result = Result<(), Error>;
}

/// Marks `message` as the half message of a transaction of `group`.
pub(crate) fn mark_half_message(message: &mut Message, group: &str) {
    message.remove_property(property::DELAY);
    message.set_property(property::TRAN_MSG, "true");
    message.set_property(property::PGROUP, group);
}

/// The [`Transaction`] of a half message the broker stored with SEND_OK.
///
/// `topic` is the namespaced topic it was sent to. `Err` when it cannot be
/// ended from here: its offset message id is unreadable (the broker's check
/// will settle it).
pub(crate) fn transaction_of(
    send_result: SendResult,
    group: &str,
    topic: &str,
    producer: Recipient<EndTransaction>,
) -> Result<Transaction, Error> {
    let (_, commit_log_offset) = decode_offset_msg_id(&send_result.offset_msg_id)?;
    let end = EndTransactionRequestHeader {
        producer_group: group.to_owned(),
        tran_state_table_offset: send_result.queue_offset,
        commit_log_offset,
        commit_or_rollback: TransactionResolution::Unknown,
        from_transaction_check: false,
        msg_id: send_result.msg_id.clone(),
        transaction_id: Some(
            send_result
                .transaction_id
                .clone()
                .unwrap_or_else(|| send_result.msg_id.clone()),
        ),
        topic: Some(topic.to_owned()),
        broker_name: Some(send_result.message_queue.broker_name.clone()),
    };
    Ok(Transaction {
        send_result,
        end,
        producer,
    })
}

/// Runs `checker` on one check; a panic (when called or while polled) is
/// `Unknown`, with the panic's text for END_TRANSACTION's remark.
pub(crate) async fn run_checker(
    checker: &dyn TransactionChecker,
    check: TransactionCheck,
) -> (TransactionResolution, Option<String>) {
    let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| checker.check(check))) {
        Ok(fut) => fut,
        Err(panic) => return (TransactionResolution::Unknown, Some(panic_text(&panic))),
    };
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(resolution) => (resolution, None),
        Err(panic) => (TransactionResolution::Unknown, Some(panic_text(&panic))),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    format!(
        "transaction checker panicked: {}",
        super::hooks::panic_message(panic)
    )
}

/// What the checker is told about a broker's check.
pub(crate) fn check_of(
    header: &CheckTransactionStateRequestHeader,
    message: StoredMessage,
) -> TransactionCheck {
    let transaction_id = header
        .transaction_id
        .clone()
        .or_else(|| message.uniq_key().map(str::to_owned))
        .or_else(|| header.msg_id.clone())
        .unwrap_or_default();
    TransactionCheck {
        transaction_id,
        message,
    }
}

/// The END_TRANSACTION that answers a check (Java
/// `ClientRemotingProcessor.checkTransactionState` → `endTransactionOneway`).
pub(crate) fn check_answer(
    header: CheckTransactionStateRequestHeader,
    uniq_key: Option<String>,
    group: &str,
    resolution: TransactionResolution,
) -> EndTransactionRequestHeader {
    EndTransactionRequestHeader {
        producer_group: group.to_owned(),
        tran_state_table_offset: header.tran_state_table_offset,
        commit_log_offset: header.commit_log_offset,
        commit_or_rollback: resolution,
        from_transaction_check: true,
        msg_id: uniq_key.or(header.msg_id).unwrap_or_default(),
        transaction_id: header.transaction_id,
        topic: header.topic,
        broker_name: header.broker_name,
    }
}

/// Where a half message's outcome goes, with what its [`Transaction`] needs.
struct HalfReply {
    slot: ReplySlot<Result<Transaction, Error>>,
    producer: Recipient<EndTransaction>,
    group: String,
    /// The namespaced topic (its route gives the broker's address at the end).
    topic: String,
}

impl DeliverOnce for HalfReply {
    fn deliver(self: Box<Self>, res: Result<Option<SendResult>, Error>) {
        let res = res
            .and_then(|r| r.ok_or_else(Error::shut_down))
            .and_then(|sr| {
                let status = sr.status;
                let tx = transaction_of(sr, &self.group, &self.topic, self.producer.clone())?;
                if status.is_ok() {
                    return Ok(tx);
                }
                // Stored but not safely (Java rolls back and skips the local transaction).
                let err = Error::broker(
                    status.response_code(),
                    format!("half message stored with {status}: rolled back"),
                    tx.broker_name(),
                );
                // An internal follow-up, not user traffic: it must not wait on the mailbox.
                self.producer.do_send(EndTransaction::new(
                    tx,
                    crate::TransactionResolution::Rollback,
                ));
                Err(err)
            });
        self.slot.complete(res);
    }
}

impl Handler<SendMessageInTransaction> for ProducerActor {
    type Result = SendReply<Result<Transaction, Error>>;
    fn handle(&mut self, msg: SendMessageInTransaction, ctx: &mut Context<Self>) -> Self::Result {
        let received = msg.received;
        let timeout = msg.timeout;
        let mut message = msg.message;
        let checker = self.cfg.transaction_checker().is_some();
        let (producer, group) = (ctx.address().recipient(), self.group.clone());
        let topic = self.cfg.wrap(&message.topic).into_owned();
        let watched = self.observe.watch(msg.span, &message.topic, received);
        mark_half_message(&mut message, &self.group);
        self.send_with(
            |act, reply| {
                if !checker {
                    // Without one, a lost END_TRANSACTION could never be settled.
                    let err = Error::config(
                        "a transactional send needs a transaction checker \
                         (ProducerConfigBuilder::transaction_checker)",
                    );
                    return Err((reply, err));
                }
                crate::producer::send::prepare::with_timeout(
                    act.prepare_job(message, Route::Any, received, reply),
                    timeout,
                )
            },
            |slot| {
                let half = Box::new(HalfReply {
                    slot,
                    producer,
                    group,
                    topic,
                });
                observe::wrap(ReplyTo::Half(half), watched)
            },
            ctx,
        )
    }
}

impl Handler<EndTransaction> for ProducerActor {
    type Result = ResponseFuture<Result<(), Error>>;
    fn handle(&mut self, msg: EndTransaction, _: &mut Context<Self>) -> Self::Result {
        let (header, broker, topic) = msg.into_parts();
        let vip = self.routes.vip();
        // Java `findBrokerAddressInPublish`: the master of the broker that stored it.
        let (known, conn) = self.routes.master_of(&topic, &broker);
        let instance = self.handles.instance.clone();
        let deadline = Instant::now() + self.cfg.mq_client_api_timeout();
        Box::pin(async move {
            let conn = master_connection(known, conn, broker, vip, instance).await?;
            conn.oneway(header.into_request(), deadline)
                .await
                .map_err(Error::from)
        })
    }
}

impl Handler<CheckTransaction> for ProducerActor {
    type Result = ();
    fn handle(&mut self, msg: CheckTransaction, ctx: &mut Context<Self>) {
        let Some(checker) = self.cfg.transaction_checker().cloned() else {
            tracing::warn!(group = %self.group, "transaction check, but no transaction checker");
            return;
        };
        let group = self.group.clone();
        let api_timeout = self.cfg.mq_client_api_timeout();
        let CheckTransaction {
            header,
            message,
            connection,
        } = msg;
        let uniq_key = message.uniq_key().map(str::to_owned);
        let check = check_of(&header, message);
        let span = observe::transaction_check_span(connection.remote(), &check.transaction_id);
        // Each check on its own: a slow checker holds up neither sends nor other checks.
        ctx.spawn(
            async move {
                let (resolution, remark) = run_checker(checker.as_ref(), check).await;
                observe::transaction_checked(&tracing::Span::current(), &group, resolution);
                let mut cmd = check_answer(header, uniq_key, &group, resolution).into_request();
                cmd.remark = remark;
                if let Err(e) = connection.oneway(cmd, Instant::now() + api_timeout).await {
                    tracing::warn!(
                        broker = connection.remote(),
                        error = %e,
                        "could not answer a transaction check; the broker will ask again"
                    );
                }
            }
            .instrument(span)
            .into_actor(self),
        );
    }
}

#[cfg(test)]
mod tests;
