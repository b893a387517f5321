//! The ROCKETMQ binary header form (type 1): fixed fields, then
//! length-prefixed remark and extFields entries.
use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{Header, decode_fields, intern_key};
use crate::protocol::codes::{LanguageCode, SerializeType};
use crate::protocol::command::{EncodedFields, ExtFields, RemotingCommand};
use crate::protocol::error::ProtocolError;

/// code(2) language(1) version(2) opaque(4) flag(4) remarkLen(4) extLen(4).
const BINARY_FIXED_LEN: usize = 21;

pub(super) fn encode_binary(cmd: &RemotingCommand, dst: &mut BytesMut) {
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
pub(super) fn put_binary_entries(ext: &ExtFields, dst: &mut BytesMut) {
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
pub(super) fn put_binary_field(dst: &mut BytesMut, key: &str, value: &[u8]) {
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
pub(super) fn put_binary_field_head(dst: &mut BytesMut, key: &str, value_len: usize) {
    dst.reserve(6 + key.len() + value_len);
    dst.put_u16(key.len() as u16);
    dst.put_slice(key.as_bytes());
    dst.put_u32(value_len as u32);
}

/// The fields of an encoded binary extFields block (malformed entries end it).
pub(super) fn decode_binary_entries(ext: &[u8]) -> ExtFields {
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

#[cfg(test)]
pub(super) fn decode_binary(src: &[u8]) -> Result<Header, ProtocolError> {
    decode_binary_in(src, None)
}

/// Decodes `src`; with `frame` (which `src` lies in), the ext fields' values
/// are read from it in place.
pub(super) fn decode_binary_in(src: &[u8], frame: Option<&Bytes>) -> Result<Header, ProtocolError> {
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
        let mut fields = match frame {
            Some(frame) => ExtFields::in_frame(frame.clone(), 16),
            None => ExtFields::with_capacity_and_bytes(16, ext_len),
        };
        while !ext.is_empty() {
            let klen = take(&mut ext, 2, "key length")?.get_u16() as usize;
            let k = utf8_str(take(&mut ext, klen, "key")?, "key")?;
            let vlen = take(&mut ext, 4, "value length")?.get_u32() as usize;
            let v = utf8_str(take(&mut ext, vlen, "value")?, "value")?;
            fields.push_in_frame(intern_key(k), v);
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
