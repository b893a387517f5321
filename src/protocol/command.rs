//! `RemotingCommand`: one request or response of the remoting protocol.
use std::borrow::Cow;

use bytes::Bytes;

use super::codes::{CLIENT_VERSION, LanguageCode, SerializeType, response_code};

/// Header flag bit: this command is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Header flag bit: this request expects no response.
pub const FLAG_ONEWAY: i32 = 2;

/// The `extFields` of a header: string keys to string values, in insertion order.
///
/// A vector, not a map: headers have a dozen fields, lookups are rare, and the
/// order is kept so a decoded frame re-encodes byte for byte. The values share
/// one string, or are read in place from the frame they were decoded from (a
/// decoded reply allocates nothing for them: a batch reply's `msgId` list is
/// ~4 KiB, and an allocation of that size made glibc consolidate its free
/// lists once per reply).
///
/// Fields can also arrive already encoded ([`ExtFields::with_encoded`]): a
/// producer encodes the fields a message keeps across retries once, and each
/// attempt adds only what changes. Those are written first and are not seen
/// by [`get`](ExtFields::get) or [`iter`](ExtFields::iter).
#[derive(Clone, Default)]
pub struct ExtFields {
    /// Each key with the byte range of its value in `values`.
    fields: Vec<(Cow<'static, str>, u32, u32)>,
    values: Values,
    encoded: Option<EncodedFields>,
}

/// A value read in place: made of `&str`s, so valid, but checked rather than trusted.
fn frame_str(frame: &Bytes, start: u32, end: u32) -> &str {
    frame
        .get(start as usize..end as usize)
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or("")
}

/// Where the values' bytes are.
#[derive(Clone)]
enum Values {
    Owned(String),
    /// A decoded frame: each range is a value's UTF-8 bytes in place.
    Frame(Bytes),
}

impl Default for Values {
    fn default() -> Self {
        Values::Owned(String::new())
    }
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
        ExtFields::default()
    }
    /// An empty field list with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        ExtFields {
            fields: Vec::with_capacity(n),
            values: Values::default(),
            encoded: None,
        }
    }
    /// An empty field list with room for `n` fields whose values total `bytes`.
    pub fn with_capacity_and_bytes(n: usize, bytes: usize) -> Self {
        ExtFields {
            fields: Vec::with_capacity(n),
            values: Values::Owned(String::with_capacity(bytes)),
            encoded: None,
        }
    }
    /// An empty field list with room for `n` fields whose values are slices
    /// of `frame` (see [`push_in_frame`](ExtFields::push_in_frame)).
    pub(crate) fn in_frame(frame: Bytes, n: usize) -> Self {
        ExtFields {
            fields: Vec::with_capacity(n),
            values: Values::Frame(frame),
            encoded: None,
        }
    }
    /// Appends `value`, read where it lies in the frame of
    /// [`in_frame`](ExtFields::in_frame) (copied if it lies elsewhere).
    pub(crate) fn push_in_frame(&mut self, key: Cow<'static, str>, value: &str) {
        if let Values::Frame(frame) = &self.values {
            // A slice of the frame is found by its address; anything else is copied.
            let start = (value.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize);
            let end = start.wrapping_add(value.len());
            if start <= end && end <= frame.len() && end <= u32::MAX as usize {
                self.fields.push((key, start as u32, end as u32));
                return;
            }
        }
        self.push(key, value);
    }
    /// Fields that start with `encoded` (written first), plus room for `n` more.
    pub fn with_encoded(encoded: EncodedFields, n: usize) -> Self {
        ExtFields {
            fields: Vec::with_capacity(n),
            values: Values::default(),
            encoded: Some(encoded),
        }
    }
    /// The already-encoded fields, if any.
    pub fn encoded(&self) -> Option<&EncodedFields> {
        self.encoded.as_ref()
    }
    fn value(&self, start: u32, end: u32) -> &str {
        match &self.values {
            // Ranges are only ever made by `push_str`, on char boundaries.
            Values::Owned(s) => s.get(start as usize..end as usize).unwrap_or(""),
            Values::Frame(b) => frame_str(b, start, end),
        }
    }
    fn push_str(&mut self, value: &str) -> (u32, u32) {
        let mut values = match std::mem::take(&mut self.values) {
            Values::Owned(s) => s,
            // Changed after decoding (rare): the values move out of their frame first.
            Values::Frame(frame) => {
                let mut owned = String::new();
                for field in &mut self.fields {
                    let start = owned.len() as u32;
                    owned.push_str(frame_str(&frame, field.1, field.2));
                    (field.1, field.2) = (start, owned.len() as u32);
                }
                owned
            }
        };
        let start = values.len() as u32;
        values.push_str(value);
        let end = values.len() as u32;
        self.values = Values::Owned(values);
        (start, end)
    }
    /// Sets `key` to `value`, replacing an earlier value of the same key.
    pub fn insert(&mut self, key: impl Into<Cow<'static, str>>, value: impl AsRef<str>) {
        let key = key.into();
        let (start, end) = self.push_str(value.as_ref());
        match self.fields.iter_mut().find(|(k, _, _)| *k == key) {
            // The old value stays in `values` as dead bytes: replacing is rare.
            Some(slot) => (slot.1, slot.2) = (start, end),
            None => self.fields.push((key, start, end)),
        }
    }
    /// Appends without looking for an existing key (the caller knows it is new).
    pub fn push(&mut self, key: impl Into<Cow<'static, str>>, value: impl AsRef<str>) {
        let (start, end) = self.push_str(value.as_ref());
        self.fields.push((key.into(), start, end));
    }
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|&(_, s, e)| self.value(s, e))
    }
    /// Removes `key` and returns its value, if present.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.fields.iter().position(|(k, _, _)| k == key)?;
        let (_, s, e) = self.fields.remove(pos);
        Some(self.value(s, e).to_owned())
    }
    /// The `(key, value)` pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(k, s, e)| (k.as_ref(), self.value(*s, *e)))
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

/// The fields as a map (and the encoded part's size): never the frame they
/// may be read from, which holds the body too.
impl std::fmt::Debug for ExtFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        if let Some(enc) = &self.encoded {
            m.entry(&"(encoded bytes)", &enc.bytes.len());
        }
        m.entries(self.iter()).finish()
    }
}

/// Equal when the encoded part and the fields, in order, are equal (not the storage).
impl PartialEq for ExtFields {
    fn eq(&self, other: &Self) -> bool {
        self.encoded == other.encoded && self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for ExtFields {}

impl<K: Into<Cow<'static, str>>, V: AsRef<str>> FromIterator<(K, V)> for ExtFields {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let mut out = ExtFields::new();
        for (k, v) in iter {
            out.push(k, v);
        }
        out
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

    /// The REQUEST_CODE_NOT_SUPPORTED answer to `req`, a request the peer
    /// initiated that this client does not serve (in `req`'s serialization).
    pub fn not_supported(req: &RemotingCommand) -> Self {
        let mut resp = RemotingCommand::response(
            response_code::REQUEST_CODE_NOT_SUPPORTED,
            req.opaque,
            Some(format!(
                "request code {} not supported by this producer",
                req.code
            )),
        );
        resp.serialize_type = req.serialize_type;
        resp
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
