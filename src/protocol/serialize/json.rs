//! The JSON header form (type 0): a hand-rolled writer (it runs once per send,
//! and writing the fixed key order straight into the frame buffer avoids a serde
//! round trip) and a serde reader, tolerant of whatever a peer sends, behind
//! the fast scanner of `fast_json`.
use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::binary::decode_binary_entries;
use super::{Header, fast_json, intern_key};
use crate::protocol::codes::{LanguageCode, SerializeType};
use crate::protocol::command::{ExtFields, RemotingCommand};
use crate::protocol::error::ProtocolError;

/// Same key order as the Java client and RocketMQ-Rust, so captured requests re-encode byte for byte.
pub(super) fn encode_json(cmd: &RemotingCommand, dst: &mut BytesMut) {
    let mut num = itoa::Buffer::new();
    dst.put_slice(b"{\"code\":");
    dst.put_slice(num.format(cmd.code).as_bytes());
    dst.put_slice(b",\"language\":\"");
    dst.put_slice(cmd.language.name().as_bytes());
    dst.put_slice(b"\",\"version\":");
    dst.put_slice(num.format(cmd.version).as_bytes());
    dst.put_slice(b",\"opaque\":");
    dst.put_slice(num.format(cmd.opaque).as_bytes());
    dst.put_slice(b",\"flag\":");
    dst.put_slice(num.format(cmd.flag).as_bytes());
    dst.put_slice(b",\"remark\":");
    match &cmd.remark {
        Some(r) => put_json_str(dst, r),
        None => dst.put_slice(b"null"),
    }
    dst.put_slice(b",\"extFields\":");
    match &cmd.ext_fields {
        Some(ext) => {
            dst.put_u8(b'{');
            put_json_entries(ext, dst);
            dst.put_u8(b'}');
        }
        None => dst.put_slice(b"null"),
    }
    // Real servers drop the connection silently when this key is missing.
    dst.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\"}");
}

/// `"k":"v",...` for every field, the already-encoded ones first.
pub(super) fn put_json_entries(ext: &ExtFields, dst: &mut BytesMut) {
    let mut first = true;
    if let Some(enc) = ext.encoded() {
        match enc.ty {
            SerializeType::Json => dst.put_slice(&enc.bytes),
            // Encoded for the other form (never by this crate's producer): re-encode.
            SerializeType::RocketMq => put_json_entries(&decode_binary_entries(&enc.bytes), dst),
        }
        first = enc.bytes.is_empty();
    }
    for (k, v) in ext.iter() {
        if !first {
            dst.put_u8(b',');
        }
        first = false;
        put_json_str(dst, k);
        dst.put_u8(b':');
        put_json_str(dst, v);
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `s` as a JSON string, escaping quotes, backslashes and control characters.
pub(super) fn put_json_str(dst: &mut BytesMut, s: &str) {
    dst.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        dst.put_slice(&bytes[start..i]);
        if esc.is_empty() {
            dst.put_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]);
        } else {
            dst.put_slice(esc);
        }
        start = i + 1;
    }
    dst.put_slice(&bytes[start..]);
    dst.put_u8(b'"');
}

#[derive(Deserialize)]
struct JsonHeader<'a> {
    #[serde(default)]
    code: i32,
    #[serde(default, borrow)]
    language: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    opaque: i32,
    #[serde(default)]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default, rename = "extFields")]
    ext_fields: Option<ExtFields>,
}

#[cfg(test)]
pub(super) fn decode_json(src: &[u8]) -> Result<Header, ProtocolError> {
    decode_json_in(src, None)
}

/// Decodes `src`; with `frame` (which `src` lies in), the ext fields' values
/// are read from it in place when the fast path takes the header.
pub(super) fn decode_json_in(src: &[u8], frame: Option<&Bytes>) -> Result<Header, ProtocolError> {
    // Replies are decoded once per send: the plain shape every server sends is
    // read by a small scanner; anything else (escapes, non-ASCII, unknown keys,
    // odd values) goes through serde_json, which also produces the error text.
    if let Some(h) = fast_json::decode_in(src, frame) {
        return Ok(h);
    }
    decode_json_serde(src)
}

/// The general JSON path: serde_json, tolerant of key order, escapes and extra keys.
pub(super) fn decode_json_serde(src: &[u8]) -> Result<Header, ProtocolError> {
    let h: JsonHeader =
        serde_json::from_slice(src).map_err(|e| ProtocolError::MalformedHeader {
            kind: "JSON",
            reason: e.to_string(),
        })?;
    Ok(Header {
        code: h.code,
        language: h
            .language
            .as_deref()
            .map(LanguageCode::from_name)
            .unwrap_or_default(),
        version: h.version,
        opaque: h.opaque,
        flag: h.flag,
        remark: h.remark,
        ext_fields: h.ext_fields,
    })
}

impl<'de> Deserialize<'de> for ExtFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExtFields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExtFields, A::Error> {
                let mut out = ExtFields::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if let Some(v) = map.next_value::<Scalar>()?.0 {
                        out.push(intern_key(&k), v);
                    }
                }
                Ok(out)
            }
            fn visit_unit<E: de::Error>(self) -> Result<ExtFields, E> {
                Ok(ExtFields::new())
            }
        }
        d.deserialize_any(V)
    }
}

/// as text rather than dropping the frame, `null` means absent.
struct Scalar(Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}
