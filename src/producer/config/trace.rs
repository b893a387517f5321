//! Message trace settings (Java `enableMsgTrace` / `enableTrace` and
//! `customizedTraceTopic` / `traceTopic`): whether every send attempt leaves a
//! Pub record in the trace topic, which topic, and how many records may wait.
use std::time::Duration;

use super::{ProducerConfig, ProducerConfigBuilder};
use crate::protocol::trace_data::DEFAULT_TRACE_TOPIC;
use crate::protocol::validation::is_legal_name;

/// Records waiting to be sent, at most (the oldest are dropped past it).
pub const DEFAULT_TRACE_BUFFER: usize = 8192;

/// The message trace part of a [`ProducerConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceSettings {
    pub(crate) enabled: bool,
    pub(crate) topic: String,
    pub(crate) buffer: usize,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            enabled: false,
            topic: DEFAULT_TRACE_TOPIC.to_owned(),
            buffer: DEFAULT_TRACE_BUFFER,
        }
    }
}

impl TraceSettings {
    pub(crate) fn check(&self) -> Result<(), String> {
        if !is_legal_name(&self.topic) {
            return Err(format!(
                "customized_trace_topic `{}` is not a legal topic name",
                crate::protocol::peer_text::bounded_owned(self.topic.clone())
            ));
        }
        if self.buffer == 0 {
            return Err("msg_trace_buffer must be greater than zero".to_owned());
        }
        Ok(())
    }
}

impl ProducerConfigBuilder {
    /// Turns message trace on (Java `enableMsgTrace`): every send attempt's
    /// outcome goes, as a Pub record in the Java trace format, to the trace
    /// topic (default `RMQ_SYS_TRACE_TOPIC`), where the RocketMQ dashboard shows
    /// it. Records are sent in batches by a trace producer of their own; they
    /// never delay or fail a send.
    ///
    /// ```
    /// let c = actix_rocketmq::ProducerConfig::builder("g").enable_msg_trace().build()?;
    /// assert!(c.msg_trace_enabled());
    /// assert_eq!(c.trace_topic(), "RMQ_SYS_TRACE_TOPIC");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn enable_msg_trace(self) -> Self {
        self.msg_trace(true)
    }

    /// Message trace on or off (Java `enableTrace`).
    pub fn msg_trace(mut self, enable: bool) -> Self {
        self.config.trace.enabled = enable;
        self
    }

    /// The topic trace records go to (Java `customizedTraceTopic`); the
    /// default is `RMQ_SYS_TRACE_TOPIC`. It takes effect with trace on.
    ///
    /// ```
    /// let c = actix_rocketmq::ProducerConfig::builder("g")
    ///     .enable_msg_trace()
    ///     .customized_trace_topic("MyTrace")
    ///     .build()?;
    /// assert_eq!(c.trace_topic(), "MyTrace");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn customized_trace_topic(mut self, topic: impl Into<String>) -> Self {
        self.config.trace.topic = topic.into();
        self
    }

    /// How many trace records may wait to be sent (default 8192, > 0); past
    /// it the oldest are dropped and counted
    /// ([`ProducerStats::trace_dropped`](crate::ProducerStats::trace_dropped)).
    pub fn msg_trace_buffer(mut self, records: usize) -> Self {
        self.config.trace.buffer = records;
        self
    }
}

impl ProducerConfig {
    /// Whether message trace is on.
    pub fn msg_trace_enabled(&self) -> bool {
        self.trace.enabled
    }

    /// The trace topic (without namespace: Java sends trace records outside it).
    pub fn trace_topic(&self) -> &str {
        &self.trace.topic
    }

    /// How many trace records may wait to be sent.
    pub fn msg_trace_buffer_size(&self) -> usize {
        self.trace.buffer
    }

    /// The config of this producer's trace producer (Java
    /// `AsyncTraceDispatcher.getAndCreateTraceProducer`): group `group`, the
    /// same client instance, 5 s send timeout, 128 000-byte messages, bodies
    /// not compressed (Java compresses past 4 KiB), no namespace, hooks,
    /// transactions or trace of its own.
    pub(crate) fn trace_producer_config(&self, group: String) -> ProducerConfig {
        let mut c = self.clone();
        c.producer_group = group;
        c.namespace = None;
        c.hooks = Default::default();
        c.transaction_checker = None;
        c.transaction_listener = None;
        c.trace = TraceSettings::default();
        c.send_timeout = TRACE_SEND_TIMEOUT;
        c.vip_channel_enabled = false;
        // The dispatcher batches records itself; a user's batch cap could exceed the trace limit.
        c.auto_batch = None;
        c.limits.max_message_size = TRACE_MAX_MESSAGE_SIZE;
        // Compressing trace bodies would double trace's CPU per send (BENCHMARKS.md).
        c.limits.compress_msg_body_over = usize::MAX;
        c
    }
}

/// The trace producer's send timeout (Java sets 5000 ms).
const TRACE_SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// The trace producer's largest message (Java `maxMsgSize`).
const TRACE_MAX_MESSAGE_SIZE: usize = 128_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_producer_never_auto_batches() {
        let c = ProducerConfig::builder("g")
            .enable_msg_trace()
            .auto_batch(crate::AutoBatch::new().max_batch_bytes(1 << 20))
            .build()
            .unwrap();
        let t = c.trace_producer_config("trace_group".into());
        assert!(t.auto_batch().is_none());
        assert_eq!(t.max_message_size(), TRACE_MAX_MESSAGE_SIZE);
    }

    #[test]
    fn trace_settings_default_and_validation() {
        let c = ProducerConfig::builder("g").build().unwrap();
        assert!(!c.msg_trace_enabled());
        assert_eq!(c.trace_topic(), DEFAULT_TRACE_TOPIC);
        assert_eq!(c.msg_trace_buffer_size(), DEFAULT_TRACE_BUFFER);
        let err = ProducerConfig::builder("g")
            .enable_msg_trace()
            .customized_trace_topic("bad topic!")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("customized_trace_topic"), "{err}");
        let err = ProducerConfig::builder("g")
            .msg_trace_buffer(0)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("msg_trace_buffer"), "{err}");
    }
}
