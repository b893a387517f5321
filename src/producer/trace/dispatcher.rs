//! `TraceDispatcher`: the actor that sends the buffered trace records, in
//! batches, through the trace producer (Java `AsyncTraceDispatcher`). A batch
//! goes when 100 records wait or 500 ms after the first; at most
//! [`MAX_IN_FLIGHT`] trace messages are in flight, the rest wait in the
//! bounded buffer. `FlushTrace` (the host producer's shutdown) sends what is
//! left within [`FLUSH_TIMEOUT`], then stops the trace producer.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use futures::channel::oneshot;

use super::buffer::{Batch, Pushed, TraceBuffer};
use crate::producer::ProducerActor;
use crate::producer::messages::{SendMessage, Shutdown};
use crate::protocol::message::Message as MqMessage;
use crate::runtime::StopUnexpectedly;
use crate::runtime::supervise::{FinalStop, Finite};

/// How long the first record waits for others (Java `waitTimeThresholdMil`).
pub(crate) const FLUSH_DELAY: Duration = Duration::from_millis(500);
/// Trace messages in flight at most.
pub(crate) const MAX_IN_FLIGHT: usize = 4;
/// How long a shutdown waits for the records still pending to be sent.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// From the hook: records arrived (the first into an empty buffer, or a full batch).
pub(crate) struct Wake(pub(crate) Pushed);

impl Message for Wake {
    type Result = ();
}

/// Sends every pending record (within [`FLUSH_TIMEOUT`]), stops the trace
/// producer and the dispatcher; answered when done.
pub(crate) struct FlushTrace;

impl Message for FlushTrace {
    type Result = ();
}

pub(crate) struct TraceDispatcher {
    buffer: Arc<Mutex<TraceBuffer>>,
    producer: Option<Addr<ProducerActor>>,
    topic: String,
    in_flight: usize,
    timer: Option<SpawnHandle>,
    /// Set by `FlushTrace`: everything goes now, until its deadline.
    closing: bool,
    finishing: bool,
    flush_waiters: Vec<oneshot::Sender<()>>,
    stop: FinalStop,
}

impl TraceDispatcher {
    pub(crate) fn new(
        buffer: Arc<Mutex<TraceBuffer>>,
        producer: Addr<ProducerActor>,
        topic: String,
    ) -> Self {
        TraceDispatcher {
            buffer,
            producer: Some(producer),
            topic,
            in_flight: 0,
            timer: None,
            closing: false,
            finishing: false,
            flush_waiters: Vec::new(),
            stop: FinalStop::default(),
        }
    }

    fn take_batch(&self, all: bool) -> Option<Batch> {
        let mut b = self.buffer.lock().ok()?;
        if all || b.has_full_batch() {
            b.take_batch()
        } else {
            None
        }
    }

    fn pending(&self) -> usize {
        self.buffer.lock().map(|b| b.len()).unwrap_or(0)
    }

    /// Sends what is due (full batches; everything when `all`) within the in-flight bound.
    fn pump(&mut self, all: bool, ctx: &mut Context<Self>) {
        let all = all || self.closing;
        while self.in_flight < MAX_IN_FLIGHT {
            let Some(batch) = self.take_batch(all) else {
                break;
            };
            self.send(batch, ctx);
        }
        if self.pending() > 0 && self.timer.is_none() && !self.closing {
            self.arm(ctx);
        }
        self.check_closed(ctx);
    }

    fn arm(&mut self, ctx: &mut Context<Self>) {
        self.timer = Some(ctx.run_later(FLUSH_DELAY, |act, ctx| {
            act.timer = None;
            act.pump(true, ctx);
        }));
    }

    fn send(&mut self, batch: Batch, ctx: &mut Context<Self>) {
        let Some(producer) = self.producer.clone() else {
            self.settle(batch.records, false);
            return;
        };
        let msg = MqMessage::new(self.topic.clone(), batch.body).with_keys(batch.keys);
        let records = batch.records;
        self.in_flight += 1;
        let fut = async move { producer.send(SendMessage::new(msg)).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            act.in_flight -= 1;
            let ok = match res {
                Ok(Ok(_)) => true,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, records, "trace message not sent; its records are lost");
                    false
                }
                Err(_) => false,
            };
            act.settle(records, ok);
            act.pump(false, ctx);
        }));
    }

    fn settle(&self, records: usize, ok: bool) {
        if let Ok(mut b) = self.buffer.lock() {
            b.settled(records, ok);
        }
    }

    fn check_closed(&mut self, ctx: &mut Context<Self>) {
        if self.closing && self.in_flight == 0 && self.pending() == 0 {
            self.finish(ctx);
        }
    }

    /// Ends the flush: what is still pending is dropped, the trace producer shut down.
    fn finish(&mut self, ctx: &mut Context<Self>) {
        if self.finishing {
            return;
        }
        self.finishing = true;
        if let Ok(mut b) = self.buffer.lock() {
            let lost = b.abandon();
            if lost > 0 || self.in_flight > 0 {
                tracing::warn!(
                    lost,
                    in_flight = self.in_flight,
                    "trace records not sent within the shutdown's flush time"
                );
            }
        }
        let producer = self.producer.take();
        let waiters: Vec<_> = self.flush_waiters.drain(..).collect();
        let fut = async move {
            if let Some(p) = producer {
                // The trace producer answers its sends within its own timeout; never wait longer.
                let _ = tokio::time::timeout(FLUSH_TIMEOUT, p.send(Shutdown)).await;
            }
        };
        ctx.spawn(fut.into_actor(self).map(|_, act, ctx| {
            for w in waiters {
                let _ = w.send(());
            }
            act.stop.set();
            ctx.stop();
        }));
    }
}

impl Actor for TraceDispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // After a restart: records may be waiting, or a flush was under way.
        if self.closing {
            self.finish(ctx);
        } else if self.pending() > 0 {
            self.arm(ctx);
        }
    }
}

impl Supervised for TraceDispatcher {
    fn restarting(&mut self, _: &mut Context<Self>) {
        // The sends in flight and the timer went with the old context.
        self.in_flight = 0;
        self.timer = None;
        self.finishing = false;
    }
}

impl Finite for TraceDispatcher {
    fn final_stop(&self) -> &FinalStop {
        &self.stop
    }
}

impl Handler<Wake> for TraceDispatcher {
    type Result = ();
    fn handle(&mut self, msg: Wake, ctx: &mut Context<Self>) {
        match msg.0 {
            Pushed::BatchFull => self.pump(false, ctx),
            Pushed::First | Pushed::Queued => {
                if self.timer.is_none() && !self.closing {
                    self.arm(ctx);
                }
            }
        }
    }
}

impl Handler<FlushTrace> for TraceDispatcher {
    type Result = ResponseFuture<()>;
    fn handle(&mut self, _: FlushTrace, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.flush_waiters.push(tx);
        if !self.closing {
            self.closing = true;
            if let Some(t) = self.timer.take() {
                ctx.cancel_future(t);
            }
            ctx.run_later(FLUSH_TIMEOUT, |act, ctx| act.finish(ctx));
            self.pump(true, ctx);
        }
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Handler<StopUnexpectedly> for TraceDispatcher {
    type Result = ();
    fn handle(&mut self, _: StopUnexpectedly, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
