//! Errors of the wire layer: malformed frames, headers and bodies.
use thiserror::Error;

/// Why bytes from the wire (or a value to be written) do not form valid protocol data.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame announces more bytes than the codec accepts (the peer would be cut off).
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// Announced frame size in bytes, length prefix included.
        len: usize,
        /// The codec's limit in bytes (default 16 MiB, prefix included).
        max: usize,
    },
    /// The frame layout is broken (bad lengths, trailing or missing bytes).
    #[error("malformed frame: {0}")]
    MalformedFrame(String),
    /// The top byte of the header-length word is neither 0 (JSON) nor 1 (ROCKETMQ).
    #[error("unknown header serialize type {0}")]
    UnknownSerializeType(u8),
    /// The header could not be decoded.
    #[error("malformed {kind} header: {reason}")]
    MalformedHeader {
        /// Which serialization was being decoded: `"JSON"` or `"ROCKETMQ"`.
        kind: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A required extFields key (Java `@CFNotNull`) is absent.
    #[error("header field `{0}` is required but missing")]
    MissingField(&'static str),
    /// A header or record field holds a value that does not parse or is out of range.
    #[error("header field `{field}` has invalid value `{value}`")]
    InvalidField {
        /// The field's name (extFields key or record field).
        field: &'static str,
        /// The offending value as text.
        value: String,
    },
    /// A body (route data, heartbeat, stored message, batch, properties) could not be decoded.
    #[error("malformed {kind} body: {reason}")]
    MalformedBody {
        /// What the body should have been, e.g. `"TopicRouteData"`.
        kind: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Compressing or inflating a body failed, or its codec is unsupported.
    #[error("compression failed: {0}")]
    Compression(String),
    /// A socket error surfaced through the codec (kept as text so the error stays `Clone`).
    #[error("i/o error ({kind:?}): {message}")]
    Io {
        /// The original `std::io::ErrorKind`.
        kind: std::io::ErrorKind,
        /// The original error's text.
        message: String,
    },
}

impl From<std::io::Error> for ProtocolError {
    fn from(e: std::io::Error) -> Self {
        ProtocolError::Io {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}
