//! A minimal send client without actors: the floor a producer is measured against.
//!
//! [`run`] writes SEND_MESSAGE_V2 frames pipelined on one TCP connection to one
//! broker, keeps at most [`BaselineConfig::concurrency`] of them unanswered,
//! reads and decodes the responses with [`RemotingCodec`] and matches them to
//! their send time by opaque. That is the least a client on one thread must do
//! per message (copy a frame, write it, read and decode the response, find its
//! request), and nothing else a producer does: no route lookup, queue
//! selection, validation, header encoding, retries or per-send timers.
//! `benches/send.rs` and the `--baseline` mode of `examples/benchmark/` put
//! the producer's throughput and CPU per message next to it. Not part of the
//! crate: each of them (and `tests/baseline.rs`, for its tests) includes this
//! file with `#[path = ".../benches/support/baseline.rs"] mod baseline;`.
//!
//! How:
//!
//! * Before the first send a ring of frames is encoded: `min(count, 4096)`
//!   (fewer for large bodies, at most ~64 MiB), each a complete request as a
//!   producer writes it ([`SendMessageRequestHeader`], a [`Message`] with a
//!   UNIQ_KEY from [`UniqIdGenerator`], queue ids round-robin over
//!   [`BaselineConfig::queues`]). Send `n` uses slot `n % ring_len`: a run longer
//!   than the ring sends the same frames (UNIQ_KEY, born timestamp) again.
//! * Each send gets its own opaque, patched into the copy of the frame in the
//!   write buffer, never re-encoded. Opaques run from 1 000 000 000 up, always
//!   10 decimal digits (wrapping after 10⁹ sends), so both header
//!   serializations are patched at a fixed offset: the big-endian `i32` at byte
//!   [`ROCKETMQ_OPAQUE_OFFSET`] of a ROCKETMQ frame, the 10 digits after
//!   `"opaque":` in a JSON one.
//! * The writer waits for room in the window, then copies every frame the
//!   window allows (up to 1 MiB) into one buffer for one `write_all`, all
//!   stamped with one send time. TCP_NODELAY is on.
//! * The reader decodes with `FramedRead` + [`RemotingCodec`] and looks the
//!   opaque up in an `FxHashMap`; a code other than SUCCESS is a failure.
//! * Writer, reader and watchdog are futures of the caller's task (nothing is
//!   spawned), so [`run`] works in any tokio runtime, an actix `System`
//!   included. The future is not `Send`: `block_on` it or await it in a local task.
//!
//! A run always ends by itself: when the count is sent or the duration is over
//! (no send starts after it) and every response is in; when the connection
//! closes or fails ([`End::ConnectionLost`]); or when frames are unanswered and
//! no response at all came for [`BaselineConfig::response_timeout`]
//! ([`End::NoResponse`]). Frames still unanswered then count as failed
//! ([`Failure::Unanswered`]).
//!
//! ```ignore
//! # async fn demo(broker_addr: String) -> std::io::Result<()> {
//! use baseline::BaselineConfig; // the module this file is included as
//!
//! let mut cfg = BaselineConfig::new(broker_addr, "BenchmarkTest");
//! cfg.count = Some(100_000);
//! cfg.concurrency = 256;
//! let report = baseline::run(&cfg, |_latency_or_failure| {}).await?;
//! println!("{:.0} msg/s, p99 {:.1} µs", report.rate(), report.quantile_us(0.99));
//! # Ok(())
//! # }
//! ```
use std::cell::{Cell, RefCell};
use std::io;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use rustc_hash::FxHashMap;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, TryAcquireError};
use tokio_util::codec::{Encoder, FramedRead};

use actix_rocketmq::Message;
use actix_rocketmq::internals::protocol::headers::SendMessageRequestHeader;
use actix_rocketmq::internals::protocol::message_id::{UniqIdGenerator, now_ms};
use actix_rocketmq::internals::protocol::{
    RemotingCodec, SerializeType, request_code, response_code,
};
use actix_rocketmq::testkit::{DEFAULT_BROKER, DEFAULT_TOPIC};

/// Most frames pre-encoded (fewer when `count` is smaller or bodies are large).
pub const MAX_RING: usize = 4096;
/// Bound on the ring's memory.
const MAX_RING_BYTES: usize = 64 << 20;
/// Bound on one `write_all` (always at least one frame).
const MAX_WRITE_BYTES: usize = 1 << 20;
/// First opaque; every opaque has 10 decimal digits.
const OPAQUE_BASE: i32 = 1_000_000_000;
const OPAQUE_SPAN: u64 = 1_000_000_000;
/// Byte offset of the opaque (big-endian `i32`) in a frame with a ROCKETMQ
/// header: length (4), serialize type + header length (4), code (2),
/// language (1), version (2).
pub const ROCKETMQ_OPAQUE_OFFSET: usize = 13;

/// What to send where; [`BaselineConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BaselineConfig {
    /// `host:port` of the broker (a master) the frames go to.
    pub broker_addr: String,
    /// Topic of every message.
    pub topic: String,
    /// Broker name put in the header (`n` of SEND_MESSAGE_V2). Default [`DEFAULT_BROKER`].
    pub broker_name: String,
    /// Queue ids, used round-robin; must not be empty. Default `0..4`.
    pub queues: Vec<i32>,
    /// Producer group in the header. Default `baseline_producer`.
    pub group: String,
    /// Body size in bytes. Default 128.
    pub size: usize,
    /// Frames unanswered at most (the window). Default 64; must be at least 1.
    pub concurrency: usize,
    /// Stop after this many sends.
    pub count: Option<u64>,
    /// Start no send after this long (from the first send). Default 10 s when
    /// `count` is not set either; with both set, whichever comes first.
    pub duration: Option<Duration>,
    /// Header serialization. Default ROCKETMQ, as the producer sends.
    pub serialize: SerializeType,
    /// Give up when frames are unanswered and no response came for this long;
    /// also the connect timeout. Default 3 s.
    pub response_timeout: Duration,
    /// Keep every successful latency for [`BaselineReport::latencies_ns`]
    /// (8 bytes per message). Default `true`.
    pub keep_latencies: bool,
}

impl BaselineConfig {
    /// Sends of 128 B to `topic` on queues 0..4 of [`DEFAULT_BROKER`] at
    /// `broker_addr`, 64 in flight, for 10 s, ROCKETMQ headers.
    pub fn new(broker_addr: impl Into<String>, topic: impl Into<String>) -> Self {
        BaselineConfig {
            broker_addr: broker_addr.into(),
            topic: topic.into(),
            broker_name: DEFAULT_BROKER.to_owned(),
            queues: (0..4).collect(),
            group: "baseline_producer".to_owned(),
            size: 128,
            concurrency: 64,
            count: None,
            duration: Some(Duration::from_secs(10)),
            serialize: SerializeType::RocketMq,
            response_timeout: Duration::from_secs(3),
            keep_latencies: true,
        }
    }
}

/// Why a send counts as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The broker answered with this code instead of SUCCESS.
    Broker(i32),
    /// No response before the run gave up (connection lost or no response in time).
    Unanswered,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum End {
    /// Every send started got its response.
    Complete,
    /// The connection closed or failed (the reason); the rest went unanswered.
    ConnectionLost(String),
    /// Frames were unanswered and no response came for `response_timeout`.
    NoResponse,
}

/// The outcome of [`run`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BaselineReport {
    /// Frames written (or handed to a `write_all` that failed).
    pub sent: u64,
    /// Responses with SUCCESS.
    pub ok: u64,
    /// Every other send: non-SUCCESS responses plus `unanswered`.
    pub failed: u64,
    /// Sends without a response when the run ended.
    pub unanswered: u64,
    /// From the first send to the end of the run (normally the last response).
    pub elapsed: Duration,
    /// Latency of each successful send in ns, sorted; empty unless
    /// [`BaselineConfig::keep_latencies`].
    pub latencies_ns: Vec<u64>,
    /// Why the run ended.
    pub end: End,
}

impl BaselineReport {
    /// Successful sends per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile of [`latencies_ns`](Self::latencies_ns) in µs (0 when empty).
    pub fn quantile_us(&self, q: f64) -> f64 {
        let n = self.latencies_ns.len();
        if n == 0 {
            return 0.0;
        }
        let i = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.latencies_ns[i - 1] as f64 / 1000.0
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

/// The opaque of send number `seq`.
fn opaque_of(seq: u64) -> i32 {
    OPAQUE_BASE + (seq % OPAQUE_SPAN) as i32
}

/// A send request as a producer builds it, with opaque [`OPAQUE_BASE`].
fn send_command(
    cfg: &BaselineConfig,
    i: usize,
    body: &Bytes,
    ids: &UniqIdGenerator,
    born_ms: i64,
) -> actix_rocketmq::internals::protocol::RemotingCommand {
    let mut msg = Message::new(cfg.topic.as_str(), body.clone());
    msg.ensure_uniq_key(|| ids.next_id());
    let header = SendMessageRequestHeader {
        producer_group: cfg.group.clone(),
        topic: cfg.topic.clone(),
        default_topic: DEFAULT_TOPIC.into(),
        default_topic_queue_nums: 4,
        queue_id: cfg.queues[i % cfg.queues.len()],
        sys_flag: 0,
        born_timestamp: born_ms,
        flag: 0,
        properties: Some(msg.encode_properties()),
        reconsume_times: Some(0),
        unit_mode: false,
        max_reconsume_times: None,
        batch: false,
        broker_name: Some(cfg.broker_name.clone()),
    };
    let mut cmd = header
        .to_request(request_code::SEND_MESSAGE_V2)
        .with_body(body.clone());
    cmd.opaque = OPAQUE_BASE;
    cmd.serialize_type = cfg.serialize;
    cmd
}

/// Where the opaque of `frame` (encoded with opaque [`OPAQUE_BASE`]) sits.
fn opaque_offset(frame: &[u8], ty: SerializeType) -> Option<usize> {
    match ty {
        SerializeType::RocketMq => {
            let at = ROCKETMQ_OPAQUE_OFFSET;
            let raw = frame.get(at..at + 4)?;
            (*frame.get(4)? == SerializeType::RocketMq.code()
                && i32::from_be_bytes(raw.try_into().ok()?) == OPAQUE_BASE)
                .then_some(at)
        }
        SerializeType::Json => {
            let word = u32::from_be_bytes(frame.get(4..8)?.try_into().ok()?);
            let header = frame.get(8..8 + (word & 0x00ff_ffff) as usize)?;
            let key = b"\"opaque\":";
            let pos = header.windows(key.len()).position(|w| w == key)? + key.len();
            let digits = OPAQUE_BASE.to_string();
            let after = header.get(pos + digits.len()).copied();
            (header.get(pos..pos + digits.len())? == digits.as_bytes()
                && !after.is_some_and(|b| b.is_ascii_digit()))
            .then_some(8 + pos)
        }
    }
}

/// Writes `opaque` (10 digits) at the start of `dst`.
fn patch_opaque(dst: &mut [u8], ty: SerializeType, opaque: i32) {
    match ty {
        SerializeType::RocketMq => dst[..4].copy_from_slice(&opaque.to_be_bytes()),
        SerializeType::Json => {
            let mut v = opaque as u32;
            for b in dst[..10].iter_mut().rev() {
                *b = b'0' + (v % 10) as u8;
                v /= 10;
            }
        }
    }
}

/// The pre-encoded frames, each with the offset of its opaque.
fn encode_ring(cfg: &BaselineConfig) -> io::Result<Vec<(Bytes, usize)>> {
    let per_frame = cfg.size + 512;
    let len = cfg
        .count
        .map_or(MAX_RING, |c| c.min(MAX_RING as u64) as usize)
        .min(MAX_RING_BYTES / per_frame)
        .max(1);
    let ids = UniqIdGenerator::new([127, 0, 0, 1].into());
    let body = Bytes::from(vec![b'x'; cfg.size]);
    let born_ms = now_ms();
    let mut codec = RemotingCodec::default();
    (0..len)
        .map(|i| {
            let cmd = send_command(cfg, i, &body, &ids, born_ms);
            let mut buf = BytesMut::new();
            codec
                .encode(&cmd, &mut buf)
                .map_err(|e| invalid(format!("cannot encode a send frame: {e}")))?;
            let at = opaque_offset(&buf, cfg.serialize)
                .ok_or_else(|| invalid("no opaque found in an encoded frame"))?;
            Ok((buf.freeze(), at))
        })
        .collect()
}

/// Runs the load described by `cfg` on one connection to `cfg.broker_addr`.
///
/// `on_response` is called once per send, as its outcome is known: the
/// latency (write to response) of a successful send, or the [`Failure`]
/// (unanswered sends are reported when the run ends).
///
/// Errors: an invalid `cfg` (`InvalidInput`), or the connection could not be
/// made (`TimedOut` after `response_timeout`). Everything after connecting is
/// in the report.
pub async fn run(
    cfg: &BaselineConfig,
    mut on_response: impl FnMut(Result<Duration, Failure>),
) -> io::Result<BaselineReport> {
    if cfg.concurrency == 0 {
        return Err(invalid("concurrency must be at least 1"));
    }
    if cfg.queues.is_empty() {
        return Err(invalid("no queues to send to"));
    }
    let (count, duration) = match (cfg.count, cfg.duration) {
        (None, None) => (None, Some(Duration::from_secs(10))),
        other => other,
    };
    let ring = encode_ring(cfg)?;
    let ring_len = ring.len() as u64;
    let ty = cfg.serialize;

    let mut stream = tokio::time::timeout(
        cfg.response_timeout,
        TcpStream::connect(cfg.broker_addr.as_str()),
    )
    .await
    .map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connecting to {} timed out", cfg.broker_addr),
        )
    })??;
    stream.set_nodelay(true)?;
    let (rd, mut wr) = stream.split();

    let window = Semaphore::new(cfg.concurrency);
    let in_flight: RefCell<FxHashMap<i32, Instant>> = RefCell::new(
        FxHashMap::with_capacity_and_hasher(cfg.concurrency.min(1 << 20) * 2, Default::default()),
    );
    let sent = Cell::new(0u64);
    let ok = Cell::new(0u64);
    let refused = Cell::new(0u64);
    let latencies = RefCell::new(if cfg.keep_latencies {
        Vec::with_capacity(count.unwrap_or(1 << 16).min(1 << 24) as usize)
    } else {
        Vec::new()
    });
    let writer_done = Cell::new(false);
    let stop_reader = Notify::new();
    let end: RefCell<Option<End>> = RefCell::new(None);
    let lost = |why: String| {
        end.borrow_mut().get_or_insert(End::ConnectionLost(why));
    };

    let start = Instant::now();
    let last_response = Cell::new(start);
    let deadline = duration.map(|d| start + d);

    let writer = async {
        let mut buf = BytesMut::with_capacity(
            (cfg.concurrency.saturating_mul(ring[0].0.len())).min(MAX_WRITE_BYTES)
                + ring[0].0.len(),
        );
        // Count-only runs never hit this one.
        let sleep = tokio::time::sleep_until(
            deadline
                .unwrap_or(start + Duration::from_secs(86_400 * 365))
                .into(),
        );
        tokio::pin!(sleep);
        let mut seq = 0u64;
        loop {
            let remaining = count.map_or(u64::MAX, |c| c.saturating_sub(seq));
            if remaining == 0 {
                break;
            }
            match window.try_acquire() {
                Ok(p) => p.forget(),
                Err(TryAcquireError::Closed) => break,
                Err(TryAcquireError::NoPermits) => tokio::select! {
                    biased;
                    p = window.acquire() => match p {
                        Ok(p) => p.forget(),
                        Err(_) => break,
                    },
                    _ = &mut sleep, if deadline.is_some() => break,
                },
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break;
            }
            buf.clear();
            {
                let mut map = in_flight.borrow_mut();
                let mut n = 0u64;
                loop {
                    let (frame, at) = &ring[(seq % ring_len) as usize];
                    let opaque = opaque_of(seq);
                    let base = buf.len();
                    buf.extend_from_slice(frame);
                    patch_opaque(&mut buf[base + at..], ty, opaque);
                    map.insert(opaque, now);
                    seq += 1;
                    n += 1;
                    if n == remaining || buf.len() >= MAX_WRITE_BYTES {
                        break;
                    }
                    match window.try_acquire() {
                        Ok(p) => p.forget(),
                        Err(_) => break,
                    }
                }
            }
            sent.set(seq);
            if let Err(e) = wr.write_all(&buf).await {
                lost(format!("write failed: {e}"));
                break;
            }
        }
        writer_done.set(true);
        if end.borrow().is_some() || in_flight.borrow().is_empty() {
            stop_reader.notify_one();
        }
    };

    let on_response = &mut on_response;
    let reader = async {
        let mut frames = FramedRead::with_capacity(rd, RemotingCodec::default(), 64 * 1024);
        let stopped = stop_reader.notified();
        tokio::pin!(stopped);
        loop {
            let item = tokio::select! {
                biased;
                item = frames.next() => item,
                _ = &mut stopped => break,
            };
            let resp = match item {
                Some(Ok(resp)) => resp,
                Some(Err(e)) => {
                    lost(format!("bad response frame: {e}"));
                    break;
                }
                None => {
                    lost("connection closed by the broker".into());
                    break;
                }
            };
            let now = Instant::now();
            last_response.set(now);
            // Not a response to one of ours (or a duplicate): ignored.
            let Some(t0) = in_flight.borrow_mut().remove(&resp.opaque) else {
                continue;
            };
            window.add_permits(1);
            if resp.code == response_code::SUCCESS {
                let latency = now.saturating_duration_since(t0);
                ok.set(ok.get() + 1);
                if cfg.keep_latencies {
                    latencies
                        .borrow_mut()
                        .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
                }
                on_response(Ok(latency));
            } else {
                refused.set(refused.get() + 1);
                on_response(Err(Failure::Broker(resp.code)));
            }
            if writer_done.get() && in_flight.borrow().is_empty() {
                break;
            }
        }
        // Wakes a writer waiting for room.
        window.close();
    };

    let watchdog = async {
        let tick =
            (cfg.response_timeout / 8).clamp(Duration::from_millis(5), Duration::from_millis(250));
        loop {
            tokio::time::sleep(tick).await;
            if !in_flight.borrow().is_empty()
                && last_response.get().elapsed() >= cfg.response_timeout
            {
                break;
            }
        }
    };

    tokio::select! {
        biased;
        _ = futures::future::join(writer, reader) => {}
        _ = watchdog => {
            end.borrow_mut().get_or_insert(End::NoResponse);
        }
    }
    let elapsed = start.elapsed();

    let unanswered = in_flight.borrow().len() as u64;
    for _ in 0..unanswered {
        on_response(Err(Failure::Unanswered));
    }
    let mut latencies_ns = latencies.into_inner();
    latencies_ns.sort_unstable();
    let end = end.into_inner().unwrap_or(End::Complete);
    Ok(BaselineReport {
        sent: sent.get(),
        ok: ok.get(),
        failed: refused.get() + unanswered,
        unanswered,
        elapsed,
        latencies_ns,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_rocketmq::testkit::TestCluster;
    // Only #[test] fns use these, and a bench checked with cfg(test) strips them.
    #[allow(unused_imports)]
    use actix_rocketmq::{
        internals::protocol::frame::decode_frame, internals::protocol::headers::CommandHeader,
        internals::protocol::response_code::SYSTEM_BUSY, testkit::Fault,
    };

    const TOPIC: &str = "BaselineTest";

    async fn cluster(null: bool) -> TestCluster {
        TestCluster::builder()
            .broker(DEFAULT_BROKER)
            .topic(TOPIC, 4)
            .null_brokers(null)
            .start()
            .await
            .expect("test cluster starts")
    }

    fn config(cluster: &TestCluster, count: u64, concurrency: usize) -> BaselineConfig {
        let mut cfg = BaselineConfig::new(cluster.broker_addr(DEFAULT_BROKER), TOPIC);
        cfg.count = Some(count);
        cfg.duration = None;
        cfg.concurrency = concurrency;
        cfg
    }

    #[test]
    fn opaque_is_patched_in_place_in_both_serializations() {
        for ty in [SerializeType::RocketMq, SerializeType::Json] {
            let mut cfg = BaselineConfig::new("127.0.0.1:1", TOPIC);
            cfg.serialize = ty;
            cfg.count = Some(3);
            let ring = encode_ring(&cfg).unwrap();
            assert_eq!(ring.len(), 3);
            if ty == SerializeType::RocketMq {
                assert!(ring.iter().all(|(_, at)| *at == ROCKETMQ_OPAQUE_OFFSET));
            }
            for (seq, expected) in [
                (0, 1_000_000_000),
                (1, 1_000_000_001),
                (234_567_890, 1_234_567_890),
                (OPAQUE_SPAN - 1, 1_999_999_999),
                (OPAQUE_SPAN, 1_000_000_000),
            ] {
                let opaque = opaque_of(seq);
                assert_eq!(opaque, expected);
                let (frame, at) = &ring[(seq % 3) as usize];
                let mut patched = frame.to_vec();
                patch_opaque(&mut patched[*at..], ty, opaque);
                let decoded = decode_frame(Bytes::from(patched.clone())).unwrap();
                let mut original = decode_frame(frame.clone()).unwrap();
                assert_eq!(original.opaque, OPAQUE_BASE);
                assert_eq!(decoded.serialize_type, ty);
                assert_eq!(decoded.opaque, opaque, "{ty:?}");
                original.opaque = opaque;
                assert_eq!(decoded, original, "{ty:?}: only the opaque changes");
                // Byte for byte what encoding with that opaque gives.
                let mut again = BytesMut::new();
                RemotingCodec::default()
                    .encode(&original, &mut again)
                    .unwrap();
                assert_eq!(&again[..], &patched[..], "{ty:?}");
            }
        }
    }

    #[test]
    fn frames_are_the_producers_send_requests() {
        let mut cfg = BaselineConfig::new("127.0.0.1:1", TOPIC);
        cfg.queues = vec![5, 7];
        cfg.size = 10;
        cfg.count = Some(10_000);
        let ring = encode_ring(&cfg).unwrap();
        assert_eq!(ring.len(), MAX_RING);
        let mut keys = std::collections::HashSet::new();
        for (i, (frame, _)) in ring.iter().take(4).enumerate() {
            let cmd = decode_frame(frame.clone()).unwrap();
            assert_eq!(cmd.code, request_code::SEND_MESSAGE_V2);
            assert_eq!(cmd.body.len(), 10);
            let header = SendMessageRequestHeader::from_command(&cmd).unwrap();
            assert_eq!(header.topic, TOPIC);
            assert_eq!(header.queue_id, [5, 7][i % 2]);
            assert_eq!(header.broker_name.as_deref(), Some(DEFAULT_BROKER));
            let props = actix_rocketmq::internals::protocol::message::decode_properties(
                header.properties.as_deref().unwrap_or(""),
            );
            let key = props
                .iter()
                .find(|(k, _)| k == "UNIQ_KEY")
                .map(|(_, v)| v.clone());
            assert!(keys.insert(key.expect("a UNIQ_KEY")));
        }
        cfg.size = 1 << 20;
        assert!(
            encode_ring(&cfg).unwrap().len() < MAX_RING,
            "bounded memory"
        );
    }

    #[tokio::test]
    async fn count_run_gets_every_response() {
        let cluster = cluster(true).await;
        // Past the ring (4096) so frames are reused with new opaques.
        for (count, concurrency, ty) in [
            (5_000, 64, SerializeType::RocketMq),
            (30, 1, SerializeType::RocketMq),
            (700, 16, SerializeType::Json),
        ] {
            let mut cfg = config(&cluster, count, concurrency);
            cfg.serialize = ty;
            let mut seen = 0u64;
            let report = run(&cfg, |r| {
                assert!(r.is_ok(), "{r:?}");
                seen += 1;
            })
            .await
            .unwrap();
            assert_eq!(report.end, End::Complete, "{ty:?}");
            assert_eq!(report.sent, count);
            assert_eq!(report.ok, count);
            assert_eq!(report.failed, 0);
            assert_eq!(seen, count);
            assert_eq!(report.latencies_ns.len() as u64, count);
            assert!(report.latencies_ns.windows(2).all(|w| w[0] <= w[1]));
        }
        assert_eq!(cluster.broker(DEFAULT_BROKER).send_requests(), 5_730);
        cluster.shutdown().await;
    }

    #[tokio::test]
    async fn duration_run_ends_and_answers_everything() {
        let cluster = cluster(true).await;
        let mut cfg = config(&cluster, 0, 32);
        cfg.count = None;
        cfg.duration = Some(Duration::from_millis(200));
        cfg.keep_latencies = false;
        let report = run(&cfg, |_| {}).await.unwrap();
        assert_eq!(report.end, End::Complete);
        assert!(report.ok > 0);
        assert_eq!(report.ok, report.sent);
        assert_eq!(report.failed, 0);
        assert!(report.latencies_ns.is_empty());
        cluster.shutdown().await;
    }

    #[tokio::test]
    async fn refused_sends_are_failures() {
        let cluster = cluster(true).await;
        cluster.broker(DEFAULT_BROKER).inject(
            Fault::respond(SYSTEM_BUSY, "[REJECTREQUEST]busy")
                .on_sends()
                .after(5)
                .times(3),
        );
        let cfg = config(&cluster, 50, 4);
        let mut codes = Vec::new();
        let report = run(&cfg, |r| {
            if let Err(f) = r {
                codes.push(f);
            }
        })
        .await
        .unwrap();
        assert_eq!(report.end, End::Complete);
        assert_eq!((report.ok, report.failed, report.unanswered), (47, 3, 0));
        assert_eq!(codes, vec![Failure::Broker(SYSTEM_BUSY); 3]);
        cluster.shutdown().await;
    }

    #[tokio::test]
    async fn frozen_broker_ends_the_run() {
        let cluster = cluster(true).await;
        cluster
            .broker(DEFAULT_BROKER)
            .inject(Fault::freeze().on_sends().after(10));
        let mut cfg = config(&cluster, 1_000, 8);
        cfg.response_timeout = Duration::from_millis(200);
        let mut unanswered = 0;
        let report = run(&cfg, |r| {
            unanswered += u64::from(r == Err(Failure::Unanswered))
        })
        .await
        .unwrap();
        assert_eq!(report.end, End::NoResponse);
        assert!(report.ok <= 10, "{report:?}");
        assert_eq!(report.unanswered, report.sent - report.ok);
        assert_eq!(report.failed, report.unanswered);
        assert_eq!(unanswered, report.unanswered);
        cluster.shutdown().await;
    }

    #[tokio::test]
    async fn closed_connection_ends_the_run() {
        let cluster = cluster(true).await;
        cluster
            .broker(DEFAULT_BROKER)
            .inject(Fault::close().on_sends().after(20));
        let cfg = config(&cluster, 1_000, 8);
        let report = run(&cfg, |_| {}).await.unwrap();
        assert!(matches!(report.end, End::ConnectionLost(_)), "{report:?}");
        assert!(report.ok <= 20, "{report:?}");
        assert_eq!(report.ok + report.failed, report.sent);
        cluster.shutdown().await;
    }

    #[tokio::test]
    async fn bad_config_and_dead_address_are_errors() {
        let mut cfg = BaselineConfig::new("127.0.0.1:1", TOPIC);
        cfg.concurrency = 0;
        assert_eq!(
            run(&cfg, |_| {}).await.unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        cfg.concurrency = 1;
        cfg.queues.clear();
        assert!(run(&cfg, |_| {}).await.is_err());
        cfg.queues = vec![0];
        // Nothing listens on port 1.
        assert!(run(&cfg, |_| {}).await.is_err());
    }
}
