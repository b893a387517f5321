//! Encode and decode of a SEND_MESSAGE_V2 request (1 KiB body) and of its
//! SUCCESS response through `RemotingCodec`, in both header serializations;
//! and compressing / inflating a 16 KiB JSON-like body with each codec at level 5.
//!
//! ```text
//! cargo bench --bench codec
//! cargo bench --bench codec -- --quick
//! ```
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio_util::codec::{Decoder, Encoder};

use actix_rocketmq::CompressionType;
use actix_rocketmq::internals::protocol::compression::{compress, decompress};
use actix_rocketmq::internals::protocol::headers::{
    CommandHeader, SendMessageRequestHeader, SendMessageResponseHeader,
};
use actix_rocketmq::internals::protocol::message::Message;
use actix_rocketmq::internals::protocol::message_id::UniqIdGenerator;
use actix_rocketmq::internals::protocol::{
    RemotingCodec, RemotingCommand, SerializeType, request_code, response_code,
};

/// The request the producer writes for a tagged, keyed 1 KiB message.
fn send_request(ty: SerializeType) -> RemotingCommand {
    let ids = UniqIdGenerator::new([127, 0, 0, 1].into());
    let mut msg = Message::new("BenchmarkTest", Bytes::from(vec![b'x'; 1024]))
        .with_tags("TagA")
        .with_keys("KEY-000000001");
    msg.ensure_uniq_key(|| ids.next_id());
    let header = SendMessageRequestHeader {
        producer_group: "benchmark_producer".into(),
        topic: msg.topic.clone(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_795_307_821_617,
        flag: 0,
        properties: Some(msg.encode_properties()),
        reconsume_times: Some(0),
        unit_mode: false,
        max_reconsume_times: None,
        batch: false,
        broker_name: Some("broker-a".into()),
    };
    let mut cmd = header
        .to_request(request_code::SEND_MESSAGE_V2)
        .with_body(msg.body.clone());
    cmd.opaque = 123_456;
    cmd.serialize_type = ty;
    cmd
}

/// The broker's SUCCESS answer to it.
fn send_response(ty: SerializeType) -> RemotingCommand {
    let mut cmd = RemotingCommand::response(response_code::SUCCESS, 123_456, None);
    cmd.ext_fields = Some(
        SendMessageResponseHeader {
            msg_id: "7F00000100002A9F0000000000001F40".into(),
            queue_id: 3,
            queue_offset: 8_000,
            transaction_id: Some("7F0000010F2C18B4AAC2178A08E50000".into()),
            region: Some("DefaultRegion".into()),
            trace_on: Some(true),
            ..Default::default()
        }
        .to_ext_fields(),
    );
    cmd.serialize_type = ty;
    cmd
}

fn encoded(cmd: &RemotingCommand) -> Bytes {
    let mut buf = BytesMut::new();
    RemotingCodec::default()
        .encode(cmd, &mut buf)
        .expect("encodes");
    buf.freeze()
}

fn bench_codec(c: &mut Criterion) {
    for ty in [SerializeType::Json, SerializeType::RocketMq] {
        let name = ty.name().to_ascii_lowercase();
        for (what, cmd) in [
            ("send_v2_request_1k", send_request(ty)),
            ("send_v2_response", send_response(ty)),
        ] {
            let frame = encoded(&cmd);
            // Round trip sanity, so the benchmark measures what it claims.
            let decoded = RemotingCodec::default()
                .decode(&mut BytesMut::from(&frame[..]))
                .expect("decodes")
                .expect("complete frame");
            assert_eq!(decoded.serialize_type, ty);
            assert_eq!(decoded.code, cmd.code);
            assert_eq!(decoded.body, cmd.body);

            let mut group = c.benchmark_group(format!("codec/{what}/{name}"));
            group.throughput(Throughput::Bytes(frame.len() as u64));
            let mut codec = RemotingCodec::default();
            let mut buf = BytesMut::with_capacity(frame.len() * 2);
            group.bench_function("encode", |b| {
                b.iter(|| {
                    buf.clear();
                    codec.encode(&cmd, &mut buf).expect("encodes");
                    criterion::black_box(buf.len())
                })
            });
            group.bench_function("decode", |b| {
                b.iter_batched_ref(
                    || BytesMut::from(&frame[..]),
                    |src| codec.decode(src).expect("decodes"),
                    BatchSize::SmallInput,
                )
            });
            group.finish();
        }
    }
}

/// Each codec on a 16 KiB body of JSON-like orders (what the producer does to a body over
/// `compress_msg_body_over`, and what a consumer does to it).
fn bench_compression(c: &mut Criterion) {
    let mut body = String::new();
    for i in 0.. {
        if body.len() >= 16 * 1024 {
            break;
        }
        body.push_str(&format!(
            r#"{{"order":{i},"state":"paid","amount":{},"sku":"SKU-{}"}},"#,
            i * 37 % 1000,
            i % 97
        ));
    }
    let body = Bytes::from(body);
    for codec in [
        CompressionType::Zlib,
        CompressionType::Lz4,
        CompressionType::Zstd,
    ] {
        let packed = compress(&body, codec, 5).expect("compresses");
        let back = decompress(&packed, codec.sys_flag(), body.len()).expect("inflates");
        assert_eq!(back, body);
        println!(
            "compression/{codec}: {} -> {} bytes ({:.1}x)",
            body.len(),
            packed.len(),
            body.len() as f64 / packed.len() as f64
        );
        let mut group = c.benchmark_group(format!(
            "compression/16k/{}",
            codec.as_str().to_ascii_lowercase()
        ));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("compress", |b| {
            b.iter(|| compress(&body, codec, 5).expect("compresses"))
        });
        group.bench_function("inflate", |b| {
            b.iter(|| decompress(&packed, codec.sys_flag(), body.len()).expect("inflates"))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_codec, bench_compression
}
criterion_main!(benches);
