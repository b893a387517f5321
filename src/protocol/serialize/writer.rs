//! Header fields written straight into their encoded form, with no `ExtFields`
//! in between: the per-message send path (see `headers::send`).
use bytes::{BufMut, BytesMut};

use super::binary::{put_binary_field, put_binary_field_head};
use super::json::put_json_str;
use crate::protocol::codes::SerializeType;
use crate::protocol::command::EncodedFields;
use crate::protocol::properties::{encode_properties, encode_properties_into_bytes};

/// Allocation size of a header arena block ([`FieldWriter::after_in`]).
const ARENA_BLOCK: usize = 32 * 1024;

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
