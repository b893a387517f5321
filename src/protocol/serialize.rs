//! Header serialization: JSON (type 0) and the compact ROCKETMQ binary form (type 1).
//!
//! The JSON writer is hand-rolled: it runs once per send, and writing the
//! fixed key order straight into the frame buffer avoids a serde round trip.
//! Reading uses serde_json, tolerant of whatever a peer sends.
use std::fmt;

use bytes::{Buf, BufMut, BytesMut};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::codes::{LanguageCode, SerializeType};
use super::command::{EncodedFields, ExtFields, RemotingCommand};
use super::error::ProtocolError;
use super::message::{encode_properties, encode_properties_into_bytes};

/// Allocation size of a header arena block ([`FieldWriter::after_in`]).
const ARENA_BLOCK: usize = 32 * 1024;

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
        SerializeType::Json => decode_json(src),
        SerializeType::RocketMq => decode_binary(src),
    }
}

// ---- JSON ----

/// Same key order as the Java client and RocketMQ-Rust, so captured requests re-encode byte for byte.
fn encode_json(cmd: &RemotingCommand, dst: &mut BytesMut) {
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
fn put_json_entries(ext: &ExtFields, dst: &mut BytesMut) {
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

/// Writes header fields straight into their encoded form, with no `ExtFields`
/// in between (the per-message send path).
pub(crate) struct FieldWriter {
    ty: SerializeType,
    buf: BytesMut,
    empty: bool,
}

impl FieldWriter {
    pub(crate) fn new(ty: SerializeType, capacity: usize) -> Self {
        FieldWriter {
            ty,
            buf: BytesMut::with_capacity(capacity),
            empty: true,
        }
    }

    /// A writer that continues `encoded` in `arena`'s spare room (see
    /// [`FieldWriter::finish_in`]), with room for `extra` more bytes.
    pub(crate) fn after_in(arena: &mut BytesMut, encoded: &EncodedFields, extra: usize) -> Self {
        let mut buf = std::mem::take(arena);
        let need = encoded.bytes.len() + extra;
        if buf.capacity() - buf.len() < need {
            // A block for many headers: a block is freed once its last header is.
            buf.reserve(need.max(ARENA_BLOCK));
        }
        buf.put_slice(&encoded.bytes);
        FieldWriter {
            ty: encoded.ty,
            buf,
            empty: encoded.bytes.is_empty(),
        }
    }

    /// The fields written since [`FieldWriter::after_in`], split off the arena
    /// (shared, not copied); the arena keeps the spare room for the next ones.
    pub(crate) fn finish_in(mut self, arena: &mut BytesMut) -> EncodedFields {
        let bytes = self.buf.split().freeze();
        *arena = self.buf;
        EncodedFields { ty: self.ty, bytes }
    }

    /// A properties field (`name U+0001 value U+0002` pairs) written from the
    /// pairs, without building the string first in the binary form; `len` is
    /// their encoded length (`encoded_properties_len`), which the caller has.
    pub(crate) fn properties<'a, I>(&mut self, key: &str, pairs: I, len: usize)
    where
        I: Iterator<Item = (&'a str, &'a str)>,
    {
        match self.ty {
            SerializeType::Json => self.str(key, &encode_properties(pairs)),
            SerializeType::RocketMq => {
                put_binary_field_head(&mut self.buf, key, len);
                encode_properties_into_bytes(pairs, &mut self.buf);
                self.empty = false;
            }
        }
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) {
        match self.ty {
            SerializeType::Json => {
                if !self.empty {
                    self.buf.put_u8(b',');
                }
                put_json_str(&mut self.buf, key);
                self.buf.put_u8(b':');
                put_json_str(&mut self.buf, value);
            }
            SerializeType::RocketMq => put_binary_field(&mut self.buf, key, value.as_bytes()),
        }
        self.empty = false;
    }

    /// Fields already encoded in this writer's serialization, appended as they are.
    pub(crate) fn encoded(&mut self, fields: &EncodedFields) {
        debug_assert_eq!(fields.ty, self.ty, "fields of another serialization");
        if fields.bytes.is_empty() {
            return;
        }
        if self.ty == SerializeType::Json && !self.empty {
            self.buf.put_u8(b',');
        }
        self.buf.put_slice(&fields.bytes);
        self.empty = false;
    }

    /// A number field: its digits as a string value, as RocketMQ sends numbers.
    pub(crate) fn int(&mut self, key: &str, value: i64) {
        self.str(key, itoa::Buffer::new().format(value));
    }

    pub(crate) fn finish(self) -> EncodedFields {
        EncodedFields {
            ty: self.ty,
            bytes: self.buf.freeze(),
        }
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

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `s` as a JSON string, escaping quotes, backslashes and control characters.
fn put_json_str(dst: &mut BytesMut, s: &str) {
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

fn decode_json(src: &[u8]) -> Result<Header, ProtocolError> {
    // Replies are decoded once per send: the plain shape every server sends is
    // read by a small scanner; anything else (escapes, non-ASCII, unknown keys,
    // odd values) goes through serde_json, which also produces the error text.
    if let Some(h) = fast_json::decode(src) {
        return Ok(h);
    }
    decode_json_serde(src)
}

/// The general JSON path: serde_json, tolerant of key order, escapes and extra keys.
fn decode_json_serde(src: &[u8]) -> Result<Header, ProtocolError> {
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

/// A scanner for the common JSON header: no escapes, known keys, integer
/// numbers, string or null values. `None` means "not that shape".
mod fast_json {
    use super::{Header, intern_key};
    use crate::protocol::codes::LanguageCode;
    use crate::protocol::command::ExtFields;

    /// Scans a `str`: every offset it stops at is next to an ASCII byte (a quote,
    /// a digit, punctuation), so it is a char boundary and slicing cannot fail.
    struct Cursor<'a> {
        s: &'a str,
        i: usize,
    }

    impl<'a> Cursor<'a> {
        fn bytes(&self) -> &'a [u8] {
            self.s.as_bytes()
        }
        fn peek(&mut self) -> Option<u8> {
            let b = self.bytes();
            while let Some(&c) = b.get(self.i) {
                if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                    return Some(c);
                }
                self.i += 1;
            }
            None
        }
        fn eat(&mut self, c: u8) -> Option<()> {
            (self.peek()? == c).then(|| self.i += 1)
        }
        /// A string without escapes or control characters (either declines the header).
        fn string(&mut self) -> Option<&'a str> {
            self.eat(b'"')?;
            let start = self.i;
            let len = string_end(&self.bytes()[start..])?;
            if self.bytes()[start + len] != b'"' {
                return None;
            }
            self.i = start + len + 1;
            self.s.get(start..start + len)
        }
        fn null(&mut self) -> Option<()> {
            if self.bytes()[self.i..].starts_with(b"null") {
                self.i += 4;
                Some(())
            } else {
                None
            }
        }
        fn int(&mut self) -> Option<i32> {
            self.peek()?;
            let b = self.bytes();
            let neg = b[self.i] == b'-';
            if neg {
                self.i += 1;
            }
            let start = self.i;
            let mut n: i64 = 0;
            while let Some(d) = b.get(self.i).filter(|c| c.is_ascii_digit()) {
                n = n * 10 + (d - b'0') as i64;
                if n > 1 << 31 {
                    return None;
                }
                self.i += 1;
            }
            if self.i == start {
                return None;
            }
            i32::try_from(if neg { -n } else { n }).ok()
        }
        fn string_or_null(&mut self) -> Option<Option<&'a str>> {
            if self.peek()? == b'n' {
                self.null().map(|_| None)
            } else {
                self.string().map(Some)
            }
        }
        /// `,` then more, or the closing `}`: `Some(true)` when the object ends.
        fn next_or_end(&mut self) -> Option<bool> {
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    Some(false)
                }
                b'}' => {
                    self.i += 1;
                    Some(true)
                }
                _ => None,
            }
        }
        /// The `extFields` object, whose values go into one shared string.
        fn ext_fields(&mut self) -> Option<ExtFields> {
            self.eat(b'{')?;
            // The values are a fraction of what is left: one allocation for all.
            let mut ext = ExtFields::with_capacity_and_bytes(8, self.s.len() - self.i);
            if self.peek()? == b'}' {
                self.i += 1;
                return Some(ext);
            }
            loop {
                let k = self.string()?;
                self.eat(b':')?;
                if let Some(v) = self.string_or_null()? {
                    ext.push(intern_key(k), v);
                }
                if self.next_or_end()? {
                    return Some(ext);
                }
            }
        }
    }

    /// The index of the first `"`, `\\` or control byte: eight bytes per step.
    fn string_end(b: &[u8]) -> Option<usize> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        // High bit of each byte of `w` below `n` (exact for the lowest such byte,
        // which is all `trailing_zeros` reads; bytes of 0x80 and up never match).
        let below = |w: u64, n: u8| w.wrapping_sub(ONES * n as u64) & !w & HIGH;
        let mut chunks = b.chunks_exact(8);
        let mut at = 0;
        for chunk in &mut chunks {
            let w = u64::from_le_bytes(chunk.try_into().ok()?);
            let hits = below(w ^ (ONES * b'"' as u64), 1)
                | below(w ^ (ONES * b'\\' as u64), 1)
                | below(w, 0x20);
            if hits != 0 {
                return Some(at + (hits.trailing_zeros() / 8) as usize);
            }
            at += 8;
        }
        let tail = chunks.remainder();
        tail.iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
            .map(|p| at + p)
    }

    #[cfg(test)]
    pub(super) fn string_end_for_test(b: &[u8]) -> Option<usize> {
        string_end(b)
    }

    pub(super) fn decode(src: &[u8]) -> Option<Header> {
        let mut c = Cursor {
            s: std::str::from_utf8(src).ok()?,
            i: 0,
        };
        let mut h = Header {
            code: 0,
            language: LanguageCode::default(),
            version: 0,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: None,
        };
        c.eat(b'{')?;
        if c.peek()? == b'}' {
            c.i += 1;
        } else {
            loop {
                let key = c.string()?;
                c.eat(b':')?;
                match key {
                    "code" => h.code = c.int()?,
                    "version" => h.version = c.int()?,
                    "opaque" => h.opaque = c.int()?,
                    "flag" => h.flag = c.int()?,
                    "language" => {
                        h.language = c
                            .string_or_null()?
                            .map(LanguageCode::from_name)
                            .unwrap_or_default()
                    }
                    "remark" => h.remark = c.string_or_null()?.map(str::to_owned),
                    "serializeTypeCurrentRPC" => {
                        c.string_or_null()?;
                    }
                    "extFields" => {
                        h.ext_fields = if c.peek()? == b'n' {
                            c.null()?;
                            None
                        } else {
                            Some(c.ext_fields()?)
                        };
                    }
                    _ => return None,
                }
                if c.next_or_end()? {
                    break;
                }
            }
        }
        (c.peek().is_none()).then_some(h)
    }
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

/// Keys of send responses and common requests: reused as `&'static str`
/// instead of allocated per frame.
fn intern_key(k: &str) -> std::borrow::Cow<'static, str> {
    use std::borrow::Cow;
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

/// An extFields value: peers should send strings only; scalars are accepted
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

// ---- ROCKETMQ binary ----

/// code(2) language(1) version(2) opaque(4) flag(4) remarkLen(4) extLen(4).
const BINARY_FIXED_LEN: usize = 21;

fn encode_binary(cmd: &RemotingCommand, dst: &mut BytesMut) {
    let remark = cmd.remark.as_deref().unwrap_or_default();
    // code, language, version, opaque, flag, remark length: one write.
    let mut fixed = [0u8; 17];
    fixed[..2].copy_from_slice(&(cmd.code as i16).to_be_bytes());
    fixed[2] = cmd.language.code();
    fixed[3..5].copy_from_slice(&(cmd.version as i16).to_be_bytes());
    fixed[5..9].copy_from_slice(&cmd.opaque.to_be_bytes());
    fixed[9..13].copy_from_slice(&cmd.flag.to_be_bytes());
    fixed[13..17].copy_from_slice(&(remark.len() as u32).to_be_bytes());
    dst.put_slice(&fixed);
    if !remark.is_empty() {
        dst.put_slice(remark.as_bytes());
    }
    let len_at = dst.len();
    dst.put_u32(0); // extFields length, filled in below
    if let Some(ext) = &cmd.ext_fields {
        put_binary_entries(ext, dst);
    }
    let ext_len = (dst.len() - len_at - 4) as u32;
    dst[len_at..len_at + 4].copy_from_slice(&ext_len.to_be_bytes());
}

/// Key (2-byte length) and value (4-byte length) for every field, the already-encoded ones first.
fn put_binary_entries(ext: &ExtFields, dst: &mut BytesMut) {
    if let Some(enc) = ext.encoded() {
        match enc.ty {
            SerializeType::RocketMq => dst.put_slice(&enc.bytes),
            // Encoded for the other form (never by this crate's producer): re-encode.
            SerializeType::Json => put_binary_entries(&decode_fields(enc), dst),
        }
    }
    for (k, v) in ext.iter() {
        put_binary_field(dst, k, v.as_bytes());
    }
}

/// Longest key and value [`put_binary_field`] gathers on the stack.
const SMALL_KEY: usize = 24;
const SMALL_VALUE: usize = 40;

/// A binary-form field: key (2-byte length) and value (4-byte length). A short
/// field is gathered on the stack and appended with one write: every
/// `BytesMut` write costs a call and a capacity check, and these are a few bytes.
fn put_binary_field(dst: &mut BytesMut, key: &str, value: &[u8]) {
    let (k, v) = (key.len(), value.len());
    if k > SMALL_KEY || v > SMALL_VALUE {
        put_binary_field_head(dst, key, v);
        dst.put_slice(value);
        return;
    }
    let mut field = [0u8; 6 + SMALL_KEY + SMALL_VALUE];
    field[..2].copy_from_slice(&(k as u16).to_be_bytes());
    field[2..2 + k].copy_from_slice(key.as_bytes());
    field[2 + k..6 + k].copy_from_slice(&(v as u32).to_be_bytes());
    field[6 + k..6 + k + v].copy_from_slice(value);
    dst.put_slice(&field[..6 + k + v]);
}

/// A binary-form field's key and value length, the value to follow.
fn put_binary_field_head(dst: &mut BytesMut, key: &str, value_len: usize) {
    dst.reserve(6 + key.len() + value_len);
    dst.put_u16(key.len() as u16);
    dst.put_slice(key.as_bytes());
    dst.put_u32(value_len as u32);
}

/// The fields of an encoded binary extFields block (malformed entries end it).
fn decode_binary_entries(ext: &[u8]) -> ExtFields {
    let mut fields = ExtFields::with_capacity(16);
    for (k, v) in BinaryEntries(ext) {
        match (std::str::from_utf8(k), std::str::from_utf8(v)) {
            (Ok(k), Ok(v)) => fields.push(k.to_owned(), v),
            _ => break,
        }
    }
    fields
}

/// The key and value bytes of an encoded ROCKETMQ-form block, in order and
/// borrowed from it, without decoding (malformed entries end it); `None` for a
/// JSON block, which [`decode_fields`] reads.
pub fn binary_entries(enc: &EncodedFields) -> Option<impl Iterator<Item = (&[u8], &[u8])>> {
    (enc.ty == SerializeType::RocketMq).then(|| BinaryEntries(&enc.bytes))
}

/// Key (2-byte length) and value (4-byte length) entries of a binary block.
struct BinaryEntries<'a>(&'a [u8]);

impl<'a> Iterator for BinaryEntries<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let mut rest = self.0;
        let klen = take(&mut rest, 2, "key length").ok()?.get_u16() as usize;
        let k = take(&mut rest, klen, "key").ok()?;
        let vlen = take(&mut rest, 4, "value length").ok()?.get_u32() as usize;
        let v = take(&mut rest, vlen, "value").ok()?;
        self.0 = rest;
        Some((k, v))
    }
}

fn malformed(reason: impl Into<String>) -> ProtocolError {
    ProtocolError::MalformedHeader {
        kind: "ROCKETMQ",
        reason: reason.into(),
    }
}

fn take<'a>(src: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], ProtocolError> {
    if src.len() < n {
        return Err(malformed(format!(
            "truncated {what}: need {n} bytes, have {}",
            src.len()
        )));
    }
    let (head, rest) = src.split_at(n);
    *src = rest;
    Ok(head)
}

fn utf8_str<'a>(b: &'a [u8], what: &str) -> Result<&'a str, ProtocolError> {
    std::str::from_utf8(b).map_err(|_| malformed(format!("{what} is not UTF-8")))
}

fn utf8(b: &[u8], what: &str) -> Result<String, ProtocolError> {
    utf8_str(b, what).map(str::to_owned)
}

fn decode_binary(src: &[u8]) -> Result<Header, ProtocolError> {
    if src.len() < BINARY_FIXED_LEN {
        return Err(malformed(format!(
            "{} bytes is shorter than the fixed 21",
            src.len()
        )));
    }
    let mut s = src;
    let code = s.get_i16() as i32;
    let language = LanguageCode::from_code(s.get_u8());
    let version = s.get_i16() as i32;
    let opaque = s.get_i32();
    let flag = s.get_i32();
    let remark_len = s.get_u32() as usize;
    let remark = take(&mut s, remark_len, "remark")?;
    // Java reads an empty string as null.
    let remark = if remark.is_empty() {
        None
    } else {
        Some(utf8(remark, "remark")?)
    };
    let ext_len = take(&mut s, 4, "extFields length")?.get_u32() as usize;
    let mut ext = take(&mut s, ext_len, "extFields")?;
    let ext_fields = if ext_len == 0 {
        None
    } else {
        let mut fields = ExtFields::with_capacity_and_bytes(16, ext_len);
        while !ext.is_empty() {
            let klen = take(&mut ext, 2, "key length")?.get_u16() as usize;
            let k = utf8_str(take(&mut ext, klen, "key")?, "key")?;
            let vlen = take(&mut ext, 4, "value length")?.get_u32() as usize;
            let v = utf8_str(take(&mut ext, vlen, "value")?, "value")?;
            fields.push(intern_key(k), v);
        }
        Some(fields)
    };
    Ok(Header {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields,
    })
}

#[cfg(test)]
mod tests {
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
