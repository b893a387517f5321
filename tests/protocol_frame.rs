//! The frame codec against real captured frames, round trips and garbage.
use actix_rocketmq::internals::protocol::codes::{LanguageCode, SerializeType};
use actix_rocketmq::internals::protocol::frame::{
    DEFAULT_MAX_FRAME_LEN, decode_frame, encode_frame,
};
use actix_rocketmq::internals::protocol::{ExtFields, RemotingCodec, RemotingCommand};
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use tokio_util::codec::Decoder;

fn golden(name: &str) -> Bytes {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn all_golden() -> Vec<(String, Bytes)> {
    let dir = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(String, Bytes)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bin"))
        .map(|n| {
            let b = golden(&n);
            (n, b)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_captured_frame_decodes() {
    let frames = all_golden();
    assert!(
        frames.len() >= 40,
        "expected the captured frames in tests/data"
    );
    for (name, bytes) in frames {
        let cmd = decode_frame(bytes.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ty = if bytes[4] == 1 {
            SerializeType::RocketMq
        } else {
            SerializeType::Json
        };
        assert_eq!(cmd.serialize_type, ty, "{name}");
        let header_len = u32::from_be_bytes([0, bytes[5], bytes[6], bytes[7]]) as usize;
        assert_eq!(
            cmd.body.len(),
            bytes.len() - 8 - header_len,
            "{name}: body length"
        );
        assert_eq!(cmd.is_response(), name.contains("response"), "{name}: flag");
    }
}

/// Requests of rocketmq-client-rust and responses of the RocketMQ-Rust servers use
/// the same key order as our encoder, so they must come out byte for byte.
#[test]
fn captured_frames_reencode_byte_for_byte() {
    let mut checked = 0;
    for (name, bytes) in all_golden() {
        // ali-ons and the rig probe order their JSON keys differently.
        if name.starts_with("alions-") || name.starts_with("probe-") {
            continue;
        }
        let cmd = decode_frame(bytes.clone()).unwrap();
        let again = encode_frame(&cmd).unwrap();
        assert_eq!(
            again,
            bytes,
            "{name} re-encoded differently:\n ours: {}\n real: {}",
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&bytes)
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} frames compared");
}

#[test]
fn captured_binary_route_request_has_expected_fields() {
    let cmd = decode_frame(golden("mx-get-route-request-rocketmq.bin")).unwrap();
    assert_eq!(cmd.code, 105);
    assert_eq!(cmd.language, LanguageCode::Rust);
    assert_eq!(cmd.version, 474);
    assert_eq!(cmd.ext("topic"), Some("WireSync"));
}

#[test]
fn many_frames_in_one_read_and_split_reads() {
    let mut all = BytesMut::new();
    let frames = all_golden();
    for (_, b) in &frames {
        all.extend_from_slice(b);
    }
    // One read holding every frame.
    let mut codec = RemotingCodec::default();
    let mut buf = all.clone();
    let mut n = 0;
    while let Some(_cmd) = codec.decode(&mut buf).unwrap() {
        n += 1;
    }
    assert_eq!(n, frames.len());
    assert!(buf.is_empty());
    // Reads of 7 bytes at a time.
    let mut buf = BytesMut::new();
    let mut n = 0;
    for chunk in all.chunks(7) {
        buf.extend_from_slice(chunk);
        while let Some(_cmd) = codec.decode(&mut buf).unwrap() {
            n += 1;
        }
    }
    assert_eq!(n, frames.len());
}

fn arb_command() -> impl Strategy<Value = RemotingCommand> {
    (
        any::<i16>(),
        0u8..14,
        any::<i16>(),
        any::<i32>(),
        0i32..4,
        proptest::option::of("[^\u{0}]{1,40}"),
        proptest::option::of(proptest::collection::vec(
            ("[a-zA-Z_]{1,12}", ".{1,30}"),
            0..8,
        )),
        proptest::collection::vec(any::<u8>(), 0..256),
        any::<bool>(),
    )
        .prop_map(
            |(code, lang, version, opaque, flag, remark, ext, body, binary)| {
                // Keys are unique in a header; the binary form cannot carry empty ones.
                let ext = ext.map(|pairs| {
                    let mut f = ExtFields::new();
                    for (k, v) in pairs {
                        f.insert(k, v);
                    }
                    f
                });
                RemotingCommand {
                    code: code as i32,
                    language: LanguageCode::from_code(lang),
                    version: version as i32,
                    opaque,
                    flag,
                    remark,
                    ext_fields: ext.filter(|e| !binary || !e.is_empty()),
                    body: Bytes::from(body),
                    serialize_type: if binary {
                        SerializeType::RocketMq
                    } else {
                        SerializeType::Json
                    },
                }
            },
        )
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(cmd in arb_command()) {
        let frame = encode_frame(&cmd).unwrap();
        let back = decode_frame(frame).unwrap();
        prop_assert_eq!(back, cmd);
    }

    /// Garbage never panics, and no buffer grows past the frame limit.
    #[test]
    fn garbage_never_panics_or_overallocates(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16),
        limit in 8usize..4096,
    ) {
        let mut codec = RemotingCodec::new(limit);
        let mut buf = BytesMut::new();
        for chunk in chunks {
            buf.extend_from_slice(&chunk);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(_)) => continue,
                    Ok(None) => break,
                    Err(_) => { buf.clear(); break; }
                }
            }
            prop_assert!(buf.capacity() <= limit.max(64) * 4 + 1024, "capacity {}", buf.capacity());
        }
    }

    /// A valid frame with bytes flipped decodes or fails cleanly.
    #[test]
    fn corrupted_frames_fail_cleanly(idx in 0usize..400, byte in any::<u8>()) {
        let mut frame = golden("mx-send-v2-request-1k.bin").to_vec();
        let i = idx % frame.len();
        frame[i] = byte;
        let mut codec = RemotingCodec::new(DEFAULT_MAX_FRAME_LEN);
        let mut buf = BytesMut::from(&frame[..]);
        let _ = codec.decode(&mut buf);
    }
}
