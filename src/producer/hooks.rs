//! Send hooks (Java `SendMessageHook`) and forbidden-check hooks (Java
//! `CheckForbiddenHook`), run by the producer around every send attempt.
//!
//! ```
//! use std::sync::Arc;
//! use actix_rocketmq::error::Error;
//! use actix_rocketmq::producer::hooks::{SendContext, SendHook, SendHooks};
//! use actix_rocketmq::producer::send_result::SendResult;
//!
//! struct Audit;
//! impl SendHook for Audit {
//!     fn name(&self) -> &str { "audit" }
//!     fn after(&self, ctx: &SendContext<'_>, result: &Result<SendResult, Error>) {
//!         println!("attempt {} to {} took {:?}: ok={}", ctx.attempt, ctx.broker_addr, ctx.elapsed, result.is_ok());
//!     }
//! }
//!
//! let mut hooks = SendHooks::default();
//! hooks.add_send_hook(Arc::new(Audit));
//! hooks.add_check_forbidden_hook(Arc::new(|ctx: &SendContext<'_>| {
//!     if ctx.message.topic == "secret" { Err("topic `secret` is off limits".to_owned()) } else { Ok(()) }
//! }));
//! ```
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::protocol::message::Message;
use crate::protocol::route::MessageQueue;

use super::send_result::SendResult;

/// What a caught panic said (its `&str` or `String` payload), else "a panic".
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic")
}

/// How a send waits for its result (Java `CommunicationMode`).
///
/// ```
/// use actix_rocketmq::producer::hooks::CommunicationMode;
/// assert_eq!(CommunicationMode::default(), CommunicationMode::Sync);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CommunicationMode {
    /// The caller waits for the broker's answer; failed attempts are retried.
    #[default]
    Sync,
    /// The answer is delivered later; network failures are re-sent.
    Async,
    /// Fire and forget: no answer.
    Oneway,
}

/// What a hook sees of one send attempt.
///
/// `message` is the message as sent (topic with namespace, `UNIQ_KEY` stamped);
/// `attempt` counts from 1.
///
/// ```
/// use actix_rocketmq::producer::hooks::{CommunicationMode, SendContext};
/// use actix_rocketmq::Message;
/// use actix_rocketmq::MessageQueue;
///
/// let msg = Message::new("T", "hello");
/// let mq = MessageQueue::new("T", "broker-a", 0);
/// let ctx = SendContext::new("g", &msg, &mq, "127.0.0.1:10911", 1, CommunicationMode::Sync);
/// assert_eq!(ctx.queue.broker_name, "broker-a");
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SendContext<'a> {
    /// The producer group (with namespace).
    pub producer_group: &'a str,
    /// The message being sent.
    pub message: &'a Message,
    /// The queue chosen for this attempt.
    pub queue: &'a MessageQueue,
    /// The broker address the attempt goes to.
    pub broker_addr: &'a str,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Sync, async or one-way.
    pub mode: CommunicationMode,
    /// The producer's namespace, if any.
    pub namespace: Option<&'a str>,
    /// In `after`: how long the attempt took, from handing the request to its
    /// connection to its answer (Java `SendMessageContext` cost); `None` in `before`.
    pub elapsed: Option<Duration>,
}

impl<'a> SendContext<'a> {
    /// A context with no namespace.
    ///
    /// ```
    /// # use actix_rocketmq::producer::hooks::{CommunicationMode, SendContext};
    /// # use actix_rocketmq::internals::protocol::{message::Message, route::MessageQueue};
    /// let (msg, mq) = (Message::new("T", "x"), MessageQueue::new("T", "b", 0));
    /// let ctx = SendContext::new("g", &msg, &mq, "b:10911", 2, CommunicationMode::Async);
    /// assert_eq!(ctx.attempt, 2);
    /// ```
    pub fn new(
        producer_group: &'a str,
        message: &'a Message,
        queue: &'a MessageQueue,
        broker_addr: &'a str,
        attempt: u32,
        mode: CommunicationMode,
    ) -> Self {
        SendContext {
            producer_group,
            message,
            queue,
            broker_addr,
            attempt,
            mode,
            namespace: None,
            elapsed: None,
        }
    }

    /// The same context with `namespace` set.
    ///
    /// ```
    /// # use actix_rocketmq::producer::hooks::{CommunicationMode, SendContext};
    /// # use actix_rocketmq::internals::protocol::{message::Message, route::MessageQueue};
    /// let (msg, mq) = (Message::new("ns%T", "x"), MessageQueue::new("ns%T", "b", 0));
    /// let ctx = SendContext::new("ns%g", &msg, &mq, "b:10911", 1, CommunicationMode::Sync).with_namespace(Some("ns"));
    /// assert_eq!(ctx.namespace, Some("ns"));
    /// ```
    pub fn with_namespace(mut self, namespace: Option<&'a str>) -> Self {
        self.namespace = namespace;
        self
    }

    /// The same context with the attempt's `elapsed` time set (as the after-hooks see it).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use actix_rocketmq::producer::hooks::{CommunicationMode, SendContext};
    /// # use actix_rocketmq::internals::protocol::{message::Message, route::MessageQueue};
    /// let (msg, mq) = (Message::new("T", "x"), MessageQueue::new("T", "b", 0));
    /// let ctx = SendContext::new("g", &msg, &mq, "b:10911", 1, CommunicationMode::Sync)
    ///     .with_elapsed(Duration::from_millis(3));
    /// assert_eq!(ctx.elapsed, Some(Duration::from_millis(3)));
    /// ```
    pub fn with_elapsed(mut self, elapsed: Duration) -> Self {
        self.elapsed = Some(elapsed);
        self
    }
}

/// Runs before and after each send attempt (Java `SendMessageHook`).
///
/// Both methods default to doing nothing. A hook that panics is logged and
/// skipped; it never fails the send. `after` is not called for one-way sends,
/// which have no result.
///
/// ```
/// use actix_rocketmq::producer::hooks::{SendContext, SendHook};
/// struct Count(std::sync::atomic::AtomicUsize);
/// impl SendHook for Count {
///     fn before(&self, _: &SendContext<'_>) {
///         self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///     }
/// }
/// ```
pub trait SendHook: Send + Sync + 'static {
    /// A name for logs (Java `hookName`).
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// Called before the attempt's request is written.
    fn before(&self, _ctx: &SendContext<'_>) {}

    /// Called with the attempt's outcome.
    fn after(&self, _ctx: &SendContext<'_>, _result: &Result<SendResult, Error>) {}
}

/// Decides whether a send attempt may proceed (Java `CheckForbiddenHook`).
///
/// An `Err(reason)` fails the attempt with
/// [`ErrorKind::Forbidden`](crate::error::ErrorKind::Forbidden). Any
/// `Fn(&SendContext) -> Result<(), String>` closure is a hook.
///
/// ```
/// use actix_rocketmq::producer::hooks::{CheckForbiddenHook, SendContext};
/// struct ReadOnly;
/// impl CheckForbiddenHook for ReadOnly {
///     fn check(&self, ctx: &SendContext<'_>) -> Result<(), String> {
///         Err(format!("topic `{}` is read-only today", ctx.message.topic))
///     }
/// }
/// ```
pub trait CheckForbiddenHook: Send + Sync + 'static {
    /// A name for errors and logs.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// `Ok(())` to allow the attempt, `Err(reason)` to refuse it.
    fn check(&self, ctx: &SendContext<'_>) -> Result<(), String>;
}

impl<F> CheckForbiddenHook for F
where
    F: Fn(&SendContext<'_>) -> Result<(), String> + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        "check-forbidden-fn"
    }

    fn check(&self, ctx: &SendContext<'_>) -> Result<(), String> {
        self(ctx)
    }
}

/// The hooks of one producer, in registration order; cheap to clone.
///
/// ```
/// use actix_rocketmq::producer::hooks::SendHooks;
/// let hooks = SendHooks::default();
/// assert!(hooks.is_empty());
/// ```
#[derive(Clone, Default)]
pub struct SendHooks {
    send: Vec<Arc<dyn SendHook>>,
    forbidden: Vec<Arc<dyn CheckForbiddenHook>>,
}

impl fmt::Debug for SendHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendHooks")
            .field(
                "send",
                &self.send.iter().map(|h| h.name()).collect::<Vec<_>>(),
            )
            .field(
                "forbidden",
                &self.forbidden.iter().map(|h| h.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SendHooks {
    /// Adds a send hook.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_rocketmq::producer::hooks::{SendHook, SendHooks};
    /// struct H;
    /// impl SendHook for H {}
    /// let mut hooks = SendHooks::default();
    /// hooks.add_send_hook(Arc::new(H));
    /// assert_eq!(hooks.send_hooks().len(), 1);
    /// ```
    pub fn add_send_hook(&mut self, hook: Arc<dyn SendHook>) {
        self.send.push(hook);
    }

    /// Adds a forbidden-check hook.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_rocketmq::producer::hooks::{SendContext, SendHooks};
    /// let mut hooks = SendHooks::default();
    /// hooks.add_check_forbidden_hook(Arc::new(|_: &SendContext<'_>| Ok(())));
    /// assert!(!hooks.is_empty());
    /// ```
    pub fn add_check_forbidden_hook(&mut self, hook: Arc<dyn CheckForbiddenHook>) {
        self.forbidden.push(hook);
    }

    /// The send hooks.
    ///
    /// ```
    /// assert!(actix_rocketmq::producer::hooks::SendHooks::default().send_hooks().is_empty());
    /// ```
    pub fn send_hooks(&self) -> &[Arc<dyn SendHook>] {
        &self.send
    }

    /// The forbidden-check hooks.
    ///
    /// ```
    /// assert!(actix_rocketmq::producer::hooks::SendHooks::default().check_forbidden_hooks().is_empty());
    /// ```
    pub fn check_forbidden_hooks(&self) -> &[Arc<dyn CheckForbiddenHook>] {
        &self.forbidden
    }

    /// True when no hook of either kind is registered (the send path can skip building contexts).
    ///
    /// ```
    /// assert!(actix_rocketmq::producer::hooks::SendHooks::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.send.is_empty() && self.forbidden.is_empty()
    }

    /// Runs the forbidden checks in order; the first refusal (or panic) is the error.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_rocketmq::producer::hooks::{CommunicationMode, SendContext, SendHooks};
    /// use actix_rocketmq::internals::protocol::{message::Message, route::MessageQueue};
    /// let mut hooks = SendHooks::default();
    /// hooks.add_check_forbidden_hook(Arc::new(|_: &SendContext<'_>| Err("maintenance".to_owned())));
    /// let (msg, mq) = (Message::new("T", "x"), MessageQueue::new("T", "b", 0));
    /// let ctx = SendContext::new("g", &msg, &mq, "b:10911", 1, CommunicationMode::Sync);
    /// let err = hooks.check_forbidden(&ctx).unwrap_err();
    /// assert!(err.to_string().contains("maintenance"));
    /// ```
    pub fn check_forbidden(&self, ctx: &SendContext<'_>) -> Result<(), Error> {
        for hook in &self.forbidden {
            // A panicking check refuses the send rather than killing the producer.
            let outcome = catch_unwind(AssertUnwindSafe(|| hook.check(ctx)))
                .unwrap_or_else(|_| Err("the hook panicked".to_owned()));
            if let Err(reason) = outcome {
                return Err(Error::forbidden(hook.name(), reason));
            }
        }
        Ok(())
    }

    /// Runs every send hook's `before`; panics are logged and skipped.
    ///
    /// ```
    /// use actix_rocketmq::producer::hooks::{CommunicationMode, SendContext, SendHooks};
    /// use actix_rocketmq::internals::protocol::{message::Message, route::MessageQueue};
    /// let (msg, mq) = (Message::new("T", "x"), MessageQueue::new("T", "b", 0));
    /// SendHooks::default().run_before(&SendContext::new("g", &msg, &mq, "b:1", 1, CommunicationMode::Sync));
    /// ```
    pub fn run_before(&self, ctx: &SendContext<'_>) {
        for hook in &self.send {
            if catch_unwind(AssertUnwindSafe(|| hook.before(ctx))).is_err() {
                tracing::warn!(
                    hook = hook.name(),
                    "send hook panicked in before(); ignored"
                );
            }
        }
    }

    /// Runs every send hook's `after`; panics are logged and skipped.
    ///
    /// ```
    /// use actix_rocketmq::error::Error;
    /// use actix_rocketmq::producer::hooks::{CommunicationMode, SendContext, SendHooks};
    /// use actix_rocketmq::internals::protocol::{message::Message, route::MessageQueue};
    /// let (msg, mq) = (Message::new("T", "x"), MessageQueue::new("T", "b", 0));
    /// let ctx = SendContext::new("g", &msg, &mq, "b:1", 1, CommunicationMode::Sync);
    /// SendHooks::default().run_after(&ctx, &Err(Error::shut_down()));
    /// ```
    pub fn run_after(&self, ctx: &SendContext<'_>, result: &Result<SendResult, Error>) {
        for hook in &self.send {
            if catch_unwind(AssertUnwindSafe(|| hook.after(ctx, result))).is_err() {
                tracing::warn!(hook = hook.name(), "send hook panicked in after(); ignored");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::producer::send_result::SendStatus;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl SendHook for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }
        fn before(&self, ctx: &SendContext<'_>) {
            if let Ok(mut v) = self.0.lock() {
                v.push(format!("before {} #{}", ctx.queue.broker_name, ctx.attempt));
            }
        }
        fn after(&self, ctx: &SendContext<'_>, result: &Result<SendResult, Error>) {
            if let Ok(mut v) = self.0.lock() {
                v.push(format!("after #{} ok={}", ctx.attempt, result.is_ok()));
            }
        }
    }

    struct Panicky;
    impl SendHook for Panicky {
        fn before(&self, _: &SendContext<'_>) {
            panic!("boom");
        }
        fn after(&self, _: &SendContext<'_>, _: &Result<SendResult, Error>) {
            panic!("boom");
        }
    }

    struct PanickyCheck;
    impl CheckForbiddenHook for PanickyCheck {
        fn name(&self) -> &str {
            "panicky"
        }
        fn check(&self, _: &SendContext<'_>) -> Result<(), String> {
            panic!("boom");
        }
    }

    fn result(mq: &MessageQueue) -> SendResult {
        SendResult {
            status: SendStatus::SendOk,
            msg_id: "ID".into(),
            offset_msg_id: "OFF".into(),
            message_queue: mq.clone(),
            queue_offset: 7,
            transaction_id: None,
            region_id: None,
            trace_on: false,
            reply_defect: None,
            recall_handle: None,
        }
    }

    #[test]
    fn hooks_run_in_order_and_survive_panics() {
        let rec = Arc::new(Recorder::default());
        let mut hooks = SendHooks::default();
        hooks.add_send_hook(Arc::new(Panicky));
        hooks.add_send_hook(rec.clone());
        let msg = Message::new("T", "x");
        let mq = MessageQueue::new("T", "broker-a", 1);
        let ctx = SendContext::new("g", &msg, &mq, "a:10911", 2, CommunicationMode::Sync);
        hooks.run_before(&ctx);
        hooks.run_after(&ctx, &Ok(result(&mq)));
        hooks.run_after(&ctx, &Err(Error::shut_down()));
        let seen = rec.0.lock().map(|v| v.clone()).unwrap_or_default();
        assert_eq!(
            seen,
            [
                "before broker-a #2",
                "after #2 ok=true",
                "after #2 ok=false"
            ]
        );
        assert!(format!("{hooks:?}").contains("recorder"));
    }

    #[test]
    fn hooks_forbidden_check_refuses_clearly() {
        let mut hooks = SendHooks::default();
        hooks.add_check_forbidden_hook(Arc::new(|ctx: &SendContext<'_>| {
            if ctx.message.topic == "blocked" {
                Err("topic `blocked` is closed for maintenance".to_owned())
            } else {
                Ok(())
            }
        }));
        let mq = MessageQueue::new("T", "b", 0);
        let ok = Message::new("T", "x");
        let ctx = SendContext::new("g", &ok, &mq, "b:1", 1, CommunicationMode::Async);
        assert!(hooks.check_forbidden(&ctx).is_ok());

        let bad = Message::new("blocked", "x");
        let ctx = SendContext::new("g", &bad, &mq, "b:1", 1, CommunicationMode::Async);
        let err = hooks.check_forbidden(&ctx).unwrap_err();
        assert_eq!(
            err.kind(),
            &ErrorKind::Forbidden {
                hook: "check-forbidden-fn".into(),
                reason: "topic `blocked` is closed for maintenance".into(),
            }
        );
        assert_eq!(
            err.to_string(),
            "send forbidden by hook `check-forbidden-fn`: topic `blocked` is closed for maintenance"
        );

        let mut hooks = SendHooks::default();
        hooks.add_check_forbidden_hook(Arc::new(PanickyCheck));
        let err = hooks.check_forbidden(&ctx).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Forbidden { hook, .. } if hook == "panicky"));
    }
}
