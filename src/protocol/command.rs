//! `RemotingCommand`: one request or response of the remoting protocol.
use std::borrow::Cow;

use bytes::Bytes;

use super::codes::{LanguageCode, SerializeType, CLIENT_VERSION};

/// Header flag bit: this command is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Header flag bit: this request expects no response.
pub const FLAG_ONEWAY: i32 = 2;

/// The `extFields` of a header: string keys to string values, in insertion order.
///
/// A vector, not a map: headers have a dozen fields, lookups are rare, and the
/// order is kept so a decoded frame re-encodes byte for byte.
///
/// Fields can also arrive already encoded ([`ExtFields::with_encoded`]): a
/// producer encodes the fields a message keeps across retries once, and each
/// attempt adds only what changes. Those are written first and are not seen
/// by [`get`](ExtFields::get) or [`iter`](ExtFields::iter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtFields {
    fields: Vec<(Cow<'static, str>, String)>,
    encoded: Option<EncodedFields>,
}

/// Header fields encoded once in one serialization (see
/// `serialize::encode_fields`); cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFields {
    pub(crate) ty: SerializeType,
    pub(crate) bytes: Bytes,
}

impl ExtFields {
    /// An empty field list.
    pub fn new() -> Self {
        ExtFields {
            fields: Vec::new(),
            encoded: None,
        }
    }
    /// An empty field list with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        ExtFields {
            fields: Vec::with_capacity(n),
            encoded: None,
        }
    }
    /// Fields that start with `encoded` (written first), plus room for `n` more.
    pub fn with_encoded(encoded: EncodedFields, n: usize) -> Self {
        ExtFields {
            fields: Vec::with_capacity(n),
            encoded: Some(encoded),
        }
    }
    /// The already-encoded fields, if any.
    pub fn encoded(&self) -> Option<&EncodedFields> {
        self.encoded.as_ref()
    }
    /// Sets `key` to `value`, replacing an earlier value of the same key.
    pub fn insert(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.fields.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((key, value)),
        }
    }
    /// Appends without looking for an existing key (the caller knows it is new).
    pub fn push(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        self.fields.push((key.into(), value.into()));
    }
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Removes `key` and returns its value, if present.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.fields.iter().position(|(k, _)| k == key)?;
        Some(self.fields.remove(pos).1)
    }
    /// The `(key, value)` pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
    }
    /// The number of fields (not counting already-encoded ones).
    pub fn len(&self) -> usize {
        self.fields.len()
    }
    /// `true` when there are no fields, encoded or not.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.encoded.as_ref().is_none_or(|e| e.bytes.is_empty())
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<String>> FromIterator<(K, V)> for ExtFields {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        ExtFields {
            fields: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            encoded: None,
        }
    }
}

/// One remoting command (request or response): header fields plus body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotingCommand {
    /// Request code (`request_code`) or, in a response, the response code (`response_code`).
    pub code: i32,
    /// The sender's language.
    pub language: LanguageCode,
    /// The sender's `MQVersion` ordinal; servers branch on it (e.g. standard JSON routes from 401).
    pub version: i32,
    /// Request id, copied into the response to match it; a new one per attempt.
    pub opaque: i32,
    /// Bit 0 ([`FLAG_RESPONSE`]): response; bit 1 ([`FLAG_ONEWAY`]): no response expected.
    pub flag: i32,
    /// Free-text remark, usually the error message of a failed response.
    pub remark: Option<String>,
    /// `None` is written as an absent/null `extFields`; `Some(empty)` as `{}`.
    pub ext_fields: Option<ExtFields>,
    /// Opaque body bytes (message body, JSON route data, ...); empty when none.
    pub body: Bytes,
    /// How the header was (or will be) serialized; informational in JSON.
    pub serialize_type: SerializeType,
}

impl RemotingCommand {
    /// A request with this client's language and version; opaque is set by the connection.
    pub fn request(code: i32, ext_fields: ExtFields) -> Self {
        RemotingCommand {
            code,
            language: LanguageCode::Rust,
            version: CLIENT_VERSION,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: Some(ext_fields),
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        }
    }

    /// A response to the request with `opaque`.
    pub fn response(code: i32, opaque: i32, remark: Option<String>) -> Self {
        RemotingCommand {
            code,
            language: LanguageCode::Rust,
            version: CLIENT_VERSION,
            opaque,
            flag: FLAG_RESPONSE,
            remark,
            ext_fields: None,
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        }
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// `true` if the response flag bit is set.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }
    /// `true` if the oneway flag bit is set (the sender expects no response).
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }
    /// Sets the oneway flag bit, so the peer sends no response.
    pub fn mark_oneway(&mut self) {
        self.flag |= FLAG_ONEWAY;
    }
    /// An extFields value, if the header has one.
    pub fn ext(&self, key: &str) -> Option<&str> {
        self.ext_fields.as_ref().and_then(|e| e.get(key))
    }
}
