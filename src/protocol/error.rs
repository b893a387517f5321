//! Errors of the wire layer: malformed frames, headers and bodies.
use thiserror::Error;

/// Why bytes from the wire (or a value to be written) do not form valid protocol data.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    #[error("frame of {len} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge { len: usize, max: usize },
    #[error("malformed frame: {0}")]
    MalformedFrame(String),
    #[error("unknown header serialize type {0}")]
    UnknownSerializeType(u8),
    #[error("malformed {kind} header: {reason}")]
    MalformedHeader { kind: &'static str, reason: String },
    #[error("header field `{0}` is required but missing")]
    MissingField(&'static str),
    #[error("header field `{field}` has invalid value `{value}`")]
    InvalidField { field: &'static str, value: String },
    #[error("malformed {kind} body: {reason}")]
    MalformedBody { kind: &'static str, reason: String },
    #[error("compression failed: {0}")]
    Compression(String),
    /// A socket error surfaced through the codec (kept as text so the error stays `Clone`).
    #[error("i/o error ({kind:?}): {message}")]
    Io {
        kind: std::io::ErrorKind,
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
