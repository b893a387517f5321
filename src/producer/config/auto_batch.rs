//! Adaptive auto-batching (group commit): [`AutoBatch`] and
//! [`ProducerConfigBuilder::auto_batch`]. Off unless set, as in Java.
//!
//! While fewer than [`max_in_flight_requests`](AutoBatch::max_in_flight_requests)
//! requests of a key are in flight, a send leaves without waiting for anything:
//! with the other sends the producer handles in the same turn (those already in
//! its mailbox) as one SEND_BATCH_MESSAGE, or alone as a plain SEND_MESSAGE_V2.
//! Beyond that, sends are gathered and leave together as one
//! SEND_BATCH_MESSAGE when a request of that key ends, when the gathered batch
//! is full, or (if set) after [`max_delay`](AutoBatch::max_delay). The key of a
//! send whose queue the producer chooses (`SendMessage`) is its topic (and WAIT
//! flag); a send to a queue the caller chose (`SendToQueue`, `SendWithSelector`)
//! is keyed by that queue and has at most one request in flight per queue, so
//! the queue stores its sends in the order they were made.
use std::time::Duration;

use super::ProducerConfigBuilder;
use crate::error::Error;
use crate::protocol::validation::DEFAULT_MAX_MESSAGE_SIZE;

/// How sends are gathered into batch requests under load (see the module docs
/// and the README's "Auto-batching"). Every member is admitted on its own by
/// the in-flight bounds (`max_in_flight`, `max_in_flight_bytes`) before it is
/// gathered, so `max_in_flight_bytes` also caps the bytes held in gathered
/// batches (Java `totalBatchMaxBytes`).
///
/// | setting | default | Java |
/// | --- | --- | --- |
/// | `max_in_flight_requests` | 4 per topic (1 per queue for sends to a chosen queue) | none: Java always lingers |
/// | `max_batch_bytes` | 32 KiB | `batchMaxBytes` |
/// | `max_batch_messages` | 128 | none |
/// | `max_delay` | none (adaptive only) | `batchMaxDelayMs` (10 ms) |
///
/// ```
/// use std::time::Duration;
/// use actix_rocketmq::{AutoBatch, ProducerConfig};
/// let config = ProducerConfig::builder("g")
///     .auto_batch(AutoBatch::new().max_batch_bytes(64 * 1024).max_delay(Duration::from_millis(2)))
///     .build()?;
/// assert_eq!(config.auto_batch().unwrap().batch_bytes(), 64 * 1024);
/// # Ok::<(), actix_rocketmq::error::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoBatch {
    max_in_flight_requests: usize,
    max_batch_bytes: usize,
    max_batch_messages: usize,
    max_delay: Option<Duration>,
}

/// Largest batch body the broker accepts (its `maxMessageSize`, 4 MiB by default).
pub const BROKER_MAX_BATCH_BYTES: usize = DEFAULT_MAX_MESSAGE_SIZE;

impl Default for AutoBatch {
    fn default() -> Self {
        AutoBatch {
            max_in_flight_requests: 4,
            max_batch_bytes: 32 * 1024,
            // Small messages: 32 KiB holds ~170 of 128 B; 128 keeps a batch's
            // reply (one offset id per member) a few KiB and its fan-out short.
            max_batch_messages: 128,
            max_delay: None,
        }
    }
}

impl AutoBatch {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests of one key (a topic) in flight before later sends are
    /// gathered (> 0). Sends to a queue the caller chose keep at most one
    /// request in flight per queue whatever this says, for their order.
    pub fn max_in_flight_requests(mut self, n: usize) -> Self {
        self.max_in_flight_requests = n;
        self
    }

    /// A gathered batch leaves once its encoded body would pass this many bytes
    /// (> 0, at most 4 MiB, the broker's limit; default 32 KiB as Java's
    /// `batchMaxBytes`). A message larger than this goes alone.
    pub fn max_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes;
        self
    }

    /// A gathered batch leaves once it holds this many messages (> 0, default 128).
    pub fn max_batch_messages(mut self, n: usize) -> Self {
        self.max_batch_messages = n;
        self
    }

    /// Also sends a gathered batch this long after its first member was
    /// gathered, even if no request slot freed (Java's fixed linger,
    /// `batchMaxDelayMs`; > 0). Default none: batches leave when a request
    /// ends or they are full, so an idle producer never waits.
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = Some(d);
        self
    }

    /// See [`AutoBatch::max_in_flight_requests`].
    pub fn in_flight_requests(&self) -> usize {
        self.max_in_flight_requests
    }

    /// See [`AutoBatch::max_batch_bytes`].
    pub fn batch_bytes(&self) -> usize {
        self.max_batch_bytes
    }

    /// See [`AutoBatch::max_batch_messages`].
    pub fn batch_messages(&self) -> usize {
        self.max_batch_messages
    }

    /// See [`AutoBatch::max_delay`].
    pub fn delay(&self) -> Option<Duration> {
        self.max_delay
    }

    /// The range checks of [`ProducerConfigBuilder::build`]; `max_message_size`
    /// also bounds a batch body (the client checks it against batches).
    pub(super) fn check(&self, max_message_size: usize) -> Result<(), Error> {
        for (name, v) in [
            ("max_in_flight_requests", self.max_in_flight_requests),
            ("max_batch_bytes", self.max_batch_bytes),
            ("max_batch_messages", self.max_batch_messages),
        ] {
            if v == 0 {
                return Err(Error::config(format!(
                    "auto_batch: {name} must be greater than zero"
                )));
            }
        }
        if self.max_batch_bytes > BROKER_MAX_BATCH_BYTES {
            return Err(Error::config(format!(
                "auto_batch: max_batch_bytes {} is over the broker's batch limit of {} bytes",
                self.max_batch_bytes, BROKER_MAX_BATCH_BYTES
            )));
        }
        if self.max_batch_bytes > max_message_size {
            return Err(Error::config(format!(
                "auto_batch: max_batch_bytes {} is over max_message_size {}, which bounds a batch body",
                self.max_batch_bytes, max_message_size
            )));
        }
        if self.max_delay == Some(Duration::ZERO) {
            return Err(Error::config(
                "auto_batch: max_delay must be greater than zero (leave it unset for none)",
            ));
        }
        Ok(())
    }
}

impl ProducerConfigBuilder {
    /// Turns adaptive auto-batching on (off unless called, as in Java). See
    /// [`AutoBatch`] and the README's "Auto-batching" for when it pays.
    ///
    /// ```
    /// use actix_rocketmq::{AutoBatch, ProducerConfig};
    /// let c = ProducerConfig::builder("g").auto_batch(AutoBatch::new()).build()?;
    /// assert_eq!(c.auto_batch(), Some(&AutoBatch::default()));
    /// assert!(ProducerConfig::builder("g").build()?.auto_batch().is_none());
    /// assert!(ProducerConfig::builder("g").auto_batch(AutoBatch::new().max_batch_bytes(5 << 20)).build().is_err());
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn auto_batch(mut self, auto_batch: AutoBatch) -> Self {
        self.config.auto_batch = Some(auto_batch);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::producer::config::ProducerConfig;

    fn refused(a: AutoBatch) -> String {
        let err = ProducerConfig::builder("g")
            .auto_batch(a)
            .build()
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Config(_)), "{err}");
        err.to_string()
    }

    #[test]
    fn build_checks_auto_batch() {
        assert!(
            refused(AutoBatch::new().max_in_flight_requests(0)).contains("max_in_flight_requests")
        );
        assert!(refused(AutoBatch::new().max_batch_bytes(0)).contains("max_batch_bytes"));
        assert!(refused(AutoBatch::new().max_batch_messages(0)).contains("max_batch_messages"));
        assert!(refused(AutoBatch::new().max_batch_bytes(4 * 1024 * 1024 + 1)).contains("broker"));
        assert!(refused(AutoBatch::new().max_delay(Duration::ZERO)).contains("max_delay"));
        let small = ProducerConfig::builder("g")
            .max_message_size(1024)
            .auto_batch(AutoBatch::new())
            .build()
            .unwrap_err();
        assert!(small.to_string().contains("max_message_size"), "{small}");
        let ok = ProducerConfig::builder("g")
            .auto_batch(
                AutoBatch::new()
                    .max_batch_bytes(4 * 1024 * 1024)
                    .max_in_flight_requests(1),
            )
            .build()
            .unwrap();
        let a = ok.auto_batch().unwrap();
        assert_eq!((a.batch_bytes(), a.in_flight_requests()), (4 << 20, 1));
        assert_eq!(a.delay(), None);
    }
}
