//! Message trace (Java `enableMsgTrace`): a Pub record per send attempt, in
//! the Java trace format, sent in batches to the trace topic by a trace
//! producer of its own.
//!
//! | module | idea |
//! | --- | --- |
//! | `hook` | `TraceHook`: the send hook that makes each attempt's record |
//! | `buffer` | `TraceBuffer`: bounded, drops the oldest, cuts batches; [`TraceStats`] |
//! | `dispatcher` | `TraceDispatcher`: the actor that sends batches and flushes at shutdown |
//!
//! The record layout is `protocol::trace_data`.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix::Addr;

use super::ProducerActor;
use super::config::ProducerConfig;
use crate::error::Error;
use crate::runtime::supervise;

mod buffer;
mod dispatcher;
mod hook;

/// The record format, to read the trace topic back.
pub use crate::protocol::trace_data::{
    DEFAULT_TRACE_TOPIC, MessageType, PubTrace, TRACE_GROUP_PREFIX, decode_pub,
};
pub use buffer::TraceStats;
pub(crate) use dispatcher::{FlushTrace, TraceDispatcher};

use buffer::TraceBuffer;
use hook::TraceHook;

/// Numbers trace producer groups within the process (Java `AsyncTraceDispatcher.COUNTER`).
static TRACE_PRODUCERS: AtomicU64 = AtomicU64::new(0);

/// Test hook: the producer's trace dispatcher (`None` with trace off), to
/// stop it with [`StopUnexpectedly`](crate::runtime::StopUnexpectedly); its
/// supervisor restarts it.
#[doc(hidden)]
pub struct GetTraceDispatcher;

impl actix::Message for GetTraceDispatcher {
    type Result = Option<actix::Recipient<crate::runtime::StopUnexpectedly>>;
}

/// A producer's message trace: its dispatcher and the buffer its hook fills.
pub(crate) struct Tracer {
    pub(crate) dispatcher: Addr<TraceDispatcher>,
    buffer: Arc<Mutex<TraceBuffer>>,
}

impl Tracer {
    /// Starts the trace producer (group `_INNER_TRACE_PRODUCER-<group>-PRODUCE-<n>`,
    /// in the same client instance) and its supervised dispatcher, and adds the
    /// trace hook to `cfg`.
    pub(crate) async fn start(cfg: &mut ProducerConfig) -> Result<Tracer, Error> {
        let n = TRACE_PRODUCERS.fetch_add(1, Ordering::Relaxed) + 1;
        let group = format!("{TRACE_GROUP_PREFIX}-{}-PRODUCE-{n}", cfg.producer_group());
        let trace_cfg = cfg.trace_producer_config(group);
        let producer = Box::pin(ProducerActor::start(trace_cfg)).await?;
        let buffer = Arc::new(Mutex::new(TraceBuffer::new(cfg.msg_trace_buffer_size())));
        let dispatcher = supervise::start(TraceDispatcher::new(
            buffer.clone(),
            producer,
            cfg.trace_topic().to_owned(),
        ));
        let hook = TraceHook {
            buffer: buffer.clone(),
            dispatcher: dispatcher.clone(),
            trace_topic: cfg.trace_topic().to_owned(),
            client_host: cfg.client_ip().to_string(),
        };
        cfg.hooks_mut().add_send_hook(Arc::new(hook));
        Ok(Tracer { dispatcher, buffer })
    }

    /// Test hook: the dispatcher, to stop it as a fault would.
    pub(crate) fn stopper(&self) -> actix::Recipient<crate::runtime::StopUnexpectedly> {
        self.dispatcher.clone().recipient()
    }

    pub(crate) fn stats(&self) -> TraceStats {
        self.buffer.lock().map(|b| b.stats()).unwrap_or_default()
    }
}
