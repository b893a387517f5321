//! Header serialization: JSON (type 0) and the compact ROCKETMQ binary form (type 1).
//!
//! One module per form (`json` with its fast reader `fast_json`, `binary`),
//! plus the field writer the send path uses to encode header fields ahead;
//! this module picks the form of a frame.
use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

use super::codes::{LanguageCode, SerializeType};
use super::command::{EncodedFields, ExtFields, RemotingCommand};
use super::error::ProtocolError;

mod binary;
mod fast_json;
mod json;
mod writer;

pub use binary::binary_entries;
pub(crate) use writer::FieldWriter;

#[cfg(test)]
use binary::decode_binary;
use binary::{decode_binary_entries, decode_binary_in, encode_binary, put_binary_entries};
#[cfg(test)]
use json::decode_json;
use json::{decode_json_in, encode_json, put_json_entries};

/// The decoded header fields of one frame (the body is handled by the frame codec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Request or response code.
    pub code: i32,
    /// The sender's language.
    pub language: LanguageCode,
    /// The sender's `MQVersion` ordinal.
    pub version: i32,
    /// Request id that matches a response to its request.
    pub opaque: i32,
    /// Flag bits: 1 = response, 2 = oneway.
    pub flag: i32,
    /// Free-text remark (error text in failed responses).
    pub remark: Option<String>,
    /// The header's `extFields`; `None` when absent or null.
    pub ext_fields: Option<ExtFields>,
}

/// Writes the header of `cmd` in `ty` to `dst`.
pub fn encode_header(cmd: &RemotingCommand, ty: SerializeType, dst: &mut BytesMut) {
    match ty {
        SerializeType::Json => encode_json(cmd, dst),
        SerializeType::RocketMq => encode_binary(cmd, dst),
    }
}

/// Reads a header of type `ty` from `src`.
pub fn decode_header(src: &[u8], ty: SerializeType) -> Result<Header, ProtocolError> {
    match ty {
        SerializeType::Json => decode_json_in(src, None),
        SerializeType::RocketMq => decode_binary_in(src, None),
    }
}

/// [`decode_header`] of the first `len` bytes of `frame`, whose ext fields'
/// values are read in place from `frame` (which they keep alive) instead of
/// copied.
pub fn decode_header_in(
    frame: &Bytes,
    len: usize,
    ty: SerializeType,
) -> Result<Header, ProtocolError> {
    let src = frame.get(..len).unwrap_or_default();
    match ty {
        SerializeType::Json => decode_json_in(src, Some(frame)),
        SerializeType::RocketMq => decode_binary_in(src, Some(frame)),
    }
}

/// The fields of an encoded block, as plain fields (what a peer will read).
pub fn decode_fields(enc: &EncodedFields) -> ExtFields {
    match enc.ty {
        SerializeType::RocketMq => decode_binary_entries(&enc.bytes),
        SerializeType::Json => {
            let mut obj = Vec::with_capacity(enc.bytes.len() + 2);
            obj.push(b'{');
            obj.extend_from_slice(&enc.bytes);
            obj.push(b'}');
            serde_json::from_slice(&obj).unwrap_or_default()
        }
    }
}

/// Encodes `fields` once, for [`ExtFields::with_encoded`].
pub fn encode_fields(fields: &ExtFields, ty: SerializeType) -> EncodedFields {
    let mut buf = BytesMut::new();
    match ty {
        SerializeType::Json => put_json_entries(fields, &mut buf),
        SerializeType::RocketMq => put_binary_entries(fields, &mut buf),
    }
    EncodedFields {
        ty,
        bytes: buf.freeze(),
    }
}

/// Keys of send responses and common requests: reused as `&'static str`
/// instead of allocated per frame.
fn intern_key(k: &str) -> Cow<'static, str> {
    Cow::Borrowed(match k {
        "msgId" => "msgId",
        "queueId" => "queueId",
        "queueOffset" => "queueOffset",
        "transactionId" => "transactionId",
        "MSG_REGION" => "MSG_REGION",
        "TRACE_ON" => "TRACE_ON",
        "batchUniqId" => "batchUniqId",
        "recallHandle" => "recallHandle",
        "topic" => "topic",
        "clientID" => "clientID",
        "producerGroup" => "producerGroup",
        _ => return Cow::Owned(k.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::json::decode_json_serde;
    use super::*;

    fn route_request() -> RemotingCommand {
        let mut ext = ExtFields::new();
        ext.push("topic", "TopicTest");
        let mut cmd = RemotingCommand::request(105, ext);
        cmd.version = 479;
        cmd.opaque = 1;
        cmd
    }

    #[test]
    fn binary_header_matches_protocol_example() {
        let mut buf = BytesMut::new();
        encode_binary(&route_request(), &mut buf);
        let expected: &[u8] = &[
            0x00, 0x69, 0x0c, 0x01, 0xdf, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x14, 0, 5,
            b't', b'o', b'p', b'i', b'c', 0, 0, 0, 9, b'T', b'o', b'p', b'i', b'c', b'T', b'e',
            b's', b't',
        ];
        assert_eq!(&buf[..], expected);
        let h = decode_binary(&buf).unwrap();
        assert_eq!(h.code, 105);
        assert_eq!(h.language, LanguageCode::Rust);
        assert_eq!(h.version, 479);
        assert_eq!(h.ext_fields.unwrap().get("topic"), Some("TopicTest"));
    }

    #[test]
    fn json_header_has_java_shape() {
        let mut buf = BytesMut::new();
        encode_json(&route_request(), &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf).unwrap(),
            r#"{"code":105,"language":"RUST","version":479,"opaque":1,"flag":0,"remark":null,"extFields":{"topic":"TopicTest"},"serializeTypeCurrentRPC":"JSON"}"#
        );
    }

    #[test]
    fn json_escapes_control_characters() {
        let mut ext = ExtFields::new();
        ext.push("i", "TAGS\u{1}A\u{2}\"q\"\\");
        let cmd = RemotingCommand::request(310, ext);
        let mut buf = BytesMut::new();
        encode_json(&cmd, &mut buf);
        let text = std::str::from_utf8(&buf).unwrap();
        assert!(text.contains(r#""i":"TAGS\u0001A\u0002\"q\"\\""#), "{text}");
        let h = decode_json(&buf).unwrap();
        assert_eq!(
            h.ext_fields.unwrap().get("i"),
            Some("TAGS\u{1}A\u{2}\"q\"\\")
        );
    }

    #[test]
    fn json_accepts_missing_and_null_fields() {
        let h = decode_json(br#"{"code":0,"flag":1,"language":"JAVA","opaque":7,"version":479}"#)
            .unwrap();
        assert_eq!((h.code, h.flag, h.opaque), (0, 1, 7));
        assert_eq!(h.language, LanguageCode::Java);
        assert!(h.remark.is_none() && h.ext_fields.is_none());
        let h = decode_json(br#"{"code":1,"remark":null,"extFields":null}"#).unwrap();
        assert!(h.ext_fields.is_none());
        let h = decode_json(br#"{"code":1,"extFields":{"n":3,"b":true,"z":null}}"#).unwrap();
        let ext = h.ext_fields.unwrap();
        assert_eq!(
            (ext.get("n"), ext.get("b"), ext.get("z")),
            (Some("3"), Some("true"), None)
        );
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert!(decode_json(b"{not json").is_err());
        assert!(decode_json(br#"{"extFields":{"a":[1]}}"#).is_err());
        assert!(decode_binary(&[0; 20]).is_err());
        let mut bad = vec![0u8; 21];
        bad[13..17].copy_from_slice(&100u32.to_be_bytes());
        assert!(decode_binary(&bad).is_err());
    }

    fn serde_decode(src: &[u8]) -> Header {
        decode_json_serde(src).unwrap()
    }

    #[test]
    fn fast_json_string_end_finds_the_first_stop_byte() {
        for len in 0..40 {
            for stop in [b'"', b'\\', 0x00, 0x1f] {
                for at in 0..len {
                    let mut b: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    // Bytes that must not stop the scan, around the real stop.
                    if at > 0 {
                        b[at - 1] = 0x80 | b'"';
                    }
                    b[at] = stop;
                    if at + 1 < len {
                        b[at + 1] = b'"';
                    }
                    assert_eq!(fast_json::string_end_for_test(&b), Some(at), "{b:?}");
                }
                let plain: Vec<u8> = (0..len)
                    .map(|i| 0x20 + (i % 90) as u8)
                    .filter(|c| *c != b'"' && *c != b'\\')
                    .collect();
                assert_eq!(fast_json::string_end_for_test(&plain), None);
            }
        }
    }

    #[test]
    fn fast_json_agrees_with_serde_and_declines_what_it_cannot_read() {
        let samples: &[&[u8]] = &[
            br#"{"code":0,"language":"RUST","version":474,"opaque":2,"flag":1,"remark":null,"extFields":{"MSG_REGION":"DefaultRegion","msgId":"7F00","queueId":"3","queueOffset":"0"},"serializeTypeCurrentRPC":"JSON"}"#,
            br#" { "code" : -17 , "flag":1, "remark":"Topic route was not found","extFields":null } "#,
            br#"{"code":1,"extFields":{},"opaque":2147483647}"#,
            br#"{}"#,
            "{\"remark\":\"é\",\"extFields\":{\"k\":\"ünï\"}}".as_bytes(),
        ];
        for s in samples {
            assert_eq!(
                fast_json::decode(s),
                Some(serde_decode(s)),
                "{}",
                String::from_utf8_lossy(s)
            );
        }
        let declined: &[&[u8]] = &[
            br#"{"code":1,"extFields":{"i":"A\u0001B"}}"#,
            br#"{"code":1.5}"#,
            br#"{"code":1,"other":2}"#,
            br#"{"code":1,"extFields":{"n":3}}"#,
            br#"{"code":99999999999}"#,
            br#"{"code":1} x"#,
            b"{\"remark\":\"a\tb\"}",
            br#"{"code":-}"#,
        ];
        for s in declined {
            assert_eq!(fast_json::decode(s), None, "{}", String::from_utf8_lossy(s));
        }
        // Declined input still decodes through serde where it is valid.
        assert_eq!(
            decode_json(declined[0])
                .unwrap()
                .ext_fields
                .unwrap()
                .get("i"),
            Some("A\u{1}B")
        );
        assert_eq!(
            decode_json(declined[3])
                .unwrap()
                .ext_fields
                .unwrap()
                .get("n"),
            Some("3")
        );
    }

    #[test]
    fn encoded_fields_are_written_first_in_either_form() {
        let mut fixed = ExtFields::new();
        fixed.push("a", "group");
        fixed.push("i", "TAGS\u{1}A\u{2}");
        for enc_ty in [SerializeType::Json, SerializeType::RocketMq] {
            let encoded = encode_fields(&fixed, enc_ty);
            for frame_ty in [SerializeType::Json, SerializeType::RocketMq] {
                let mut ext = ExtFields::with_encoded(encoded.clone(), 2);
                ext.push("e", "3");
                let mut cmd = RemotingCommand::request(310, ext);
                cmd.serialize_type = frame_ty;
                let mut buf = BytesMut::new();
                encode_header(&cmd, frame_ty, &mut buf);
                let back = decode_header(&buf, frame_ty).unwrap().ext_fields.unwrap();
                let pairs: Vec<(&str, &str)> = back.iter().collect();
                assert_eq!(
                    pairs,
                    [("a", "group"), ("i", "TAGS\u{1}A\u{2}"), ("e", "3")],
                    "{enc_ty:?} fields in a {frame_ty:?} frame"
                );
            }
        }
        // Only encoded fields, and none at all.
        let only = ExtFields::with_encoded(encode_fields(&fixed, SerializeType::Json), 0);
        let mut buf = BytesMut::new();
        encode_json(&RemotingCommand::request(310, only), &mut buf);
        assert_eq!(decode_json(&buf).unwrap().ext_fields.unwrap().len(), 2);
        let empty =
            ExtFields::with_encoded(encode_fields(&ExtFields::new(), SerializeType::Json), 0);
        assert!(empty.is_empty());
        let mut buf = BytesMut::new();
        encode_json(&RemotingCommand::request(310, empty), &mut buf);
        assert!(
            std::str::from_utf8(&buf)
                .unwrap()
                .contains(r#""extFields":{}"#)
        );
    }
}
