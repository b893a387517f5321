//! The remoting frame codec for `tokio_util::codec::Framed`.
//!
//! `u32 length` (excluding itself) | `u32 serializeType << 24 | headerLen` | header | body.
use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::codes::SerializeType;
use super::command::RemotingCommand;
use super::error::ProtocolError;
use super::serialize::{decode_header_in, encode_header};

/// The Java client's `com.rocketmq.remoting.frameMaxLength`, including the length prefix.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Encodes and decodes remoting frames; decodes both header serializations on every frame.
#[derive(Debug, Clone)]
pub struct RemotingCodec {
    max_frame_len: usize,
}

impl Default for RemotingCodec {
    fn default() -> Self {
        RemotingCodec {
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
        }
    }
}

impl RemotingCodec {
    /// A codec refusing frames larger than `max_frame_len` bytes (prefix included).
    pub fn new(max_frame_len: usize) -> Self {
        RemotingCodec { max_frame_len }
    }

    /// The largest accepted frame in bytes, length prefix included.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }
}

/// Decodes one complete frame (prefix included) from `frame`.
pub fn decode_frame(frame: Bytes) -> Result<RemotingCommand, ProtocolError> {
    let mut codec = RemotingCodec::default();
    let mut buf = BytesMut::from(&frame[..]);
    match codec.decode(&mut buf)? {
        Some(cmd) if buf.is_empty() => Ok(cmd),
        Some(_) => Err(ProtocolError::MalformedFrame(format!(
            "{} trailing bytes",
            buf.len()
        ))),
        None => Err(ProtocolError::MalformedFrame("incomplete frame".into())),
    }
}

/// Encodes `cmd` as one complete frame.
pub fn encode_frame(cmd: &RemotingCommand) -> Result<Bytes, ProtocolError> {
    let mut buf = BytesMut::new();
    RemotingCodec::default().encode(cmd, &mut buf)?;
    Ok(buf.freeze())
}

impl Decoder for RemotingCodec {
    type Item = RemotingCommand;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RemotingCommand>, ProtocolError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let length = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        // Checked before any buffer grows to the announced size.
        if length.saturating_add(4) > self.max_frame_len {
            return Err(ProtocolError::FrameTooLarge {
                len: length + 4,
                max: self.max_frame_len,
            });
        }
        if length < 4 {
            return Err(ProtocolError::MalformedFrame(format!(
                "length {length} is shorter than the header-length word"
            )));
        }
        if src.len() < 4 + length {
            src.reserve(4 + length - src.len());
            return Ok(None);
        }
        src.advance(4);
        let mut frame = src.split_to(length).freeze();
        let word = frame.get_u32();
        let ty_code = (word >> 24) as u8;
        let header_len = (word & 0x00ff_ffff) as usize;
        let ty = SerializeType::from_code(ty_code)
            .ok_or(ProtocolError::UnknownSerializeType(ty_code))?;
        if header_len > frame.len() {
            return Err(ProtocolError::MalformedFrame(format!(
                "header length {header_len} exceeds the {} bytes left in the frame",
                frame.len()
            )));
        }
        let header = decode_header_in(&frame, header_len, ty)?;
        frame.advance(header_len);
        Ok(Some(RemotingCommand {
            code: header.code,
            language: header.language,
            version: header.version,
            opaque: header.opaque,
            flag: header.flag,
            remark: header.remark,
            ext_fields: header.ext_fields,
            body: frame,
            serialize_type: ty,
        }))
    }
}

impl Encoder<&RemotingCommand> for RemotingCodec {
    type Error = ProtocolError;

    fn encode(&mut self, cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        let start = dst.len();
        dst.reserve(8 + 256 + cmd.body.len());
        dst.put_u64(0); // length and header-length words, filled in below
        encode_header(cmd, cmd.serialize_type, dst);
        let header_len = dst.len() - start - 8;
        let total = 8 + header_len + cmd.body.len();
        if total > self.max_frame_len || header_len > 0x00ff_ffff {
            dst.truncate(start);
            return Err(ProtocolError::FrameTooLarge {
                len: total,
                max: self.max_frame_len,
            });
        }
        dst.put_slice(&cmd.body);
        let word = ((cmd.serialize_type.code() as u32) << 24) | header_len as u32;
        dst[start..start + 4].copy_from_slice(&((total - 4) as u32).to_be_bytes());
        dst[start + 4..start + 8].copy_from_slice(&word.to_be_bytes());
        Ok(())
    }
}

impl Encoder<RemotingCommand> for RemotingCodec {
    type Error = ProtocolError;

    fn encode(&mut self, cmd: RemotingCommand, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        self.encode(&cmd, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::command::ExtFields;

    fn sample(ty: SerializeType, body: &'static [u8]) -> RemotingCommand {
        let mut ext = ExtFields::new();
        ext.push("topic", "TopicTest");
        let mut cmd = RemotingCommand::request(105, ext).with_body(body);
        cmd.version = 479;
        cmd.opaque = 1;
        cmd.serialize_type = ty;
        cmd
    }

    #[test]
    fn frame_prefix_matches_protocol_example() {
        let f = encode_frame(&sample(SerializeType::RocketMq, b"")).unwrap();
        assert_eq!(&f[..8], &[0, 0, 0, 0x2d, 1, 0, 0, 0x29]);
        assert_eq!(f.len(), 0x2d + 4);
    }

    #[test]
    fn partial_and_multiple_frames() {
        let a = encode_frame(&sample(SerializeType::Json, b"hello")).unwrap();
        let b = encode_frame(&sample(SerializeType::RocketMq, b"")).unwrap();
        let mut all = BytesMut::new();
        all.extend_from_slice(&a);
        all.extend_from_slice(&b);
        let mut codec = RemotingCodec::default();
        let mut buf = BytesMut::new();
        let mut out = vec![];
        for byte in all.iter() {
            buf.put_u8(*byte);
            while let Some(cmd) = codec.decode(&mut buf).unwrap() {
                out.push(cmd);
            }
        }
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], sample(SerializeType::Json, b"hello"));
        assert_eq!(out[1], sample(SerializeType::RocketMq, b""));
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_frame_is_rejected_before_allocation() {
        let mut codec = RemotingCodec::new(1024);
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0][..]);
        let cap = buf.capacity();
        assert!(matches!(
            codec.decode(&mut buf),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        assert_eq!(buf.capacity(), cap);
        let mut out = BytesMut::new();
        let big = sample(SerializeType::Json, &[0u8; 2048]);
        assert!(matches!(
            codec.encode(&big, &mut out),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        assert!(out.is_empty());
    }

    /// A decoded header's values are read where they lie in the frame, in
    /// both serializations; changing them afterwards moves them out intact.
    #[test]
    fn decoded_values_are_read_in_place_and_stay_right_when_changed() {
        for ty in [SerializeType::Json, SerializeType::RocketMq] {
            let mut ext = ExtFields::new();
            ext.push("msgId", "A".repeat(4096));
            ext.push("queueId", "3");
            ext.push("queueOffset", "70");
            let mut cmd = RemotingCommand::request(10, ext);
            cmd.serialize_type = ty;
            let frame = encode_frame(&cmd).unwrap();
            let mut buf = BytesMut::from(&frame[..]);
            let mut got = RemotingCodec::default().decode(&mut buf).unwrap().unwrap();
            assert_eq!(got, cmd, "{ty:?}");
            let fields = got.ext_fields.as_mut().unwrap();
            let id = fields.get("msgId").unwrap();
            let in_frame = |p: *const u8| {
                let range = buf.as_ptr() as usize - frame.len()..buf.as_ptr() as usize;
                range.contains(&(p as usize))
            };
            assert!(in_frame(id.as_ptr()), "{ty:?}: msgId was copied");
            fields.insert("queueId", "5");
            fields.push("extra", "x");
            let now: Vec<_> = fields
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let want = [
                ("msgId", "A".repeat(4096)),
                ("queueId", "5".into()),
                ("queueOffset", "70".into()),
                ("extra", "x".into()),
            ]
            .map(|(k, v)| (k.to_owned(), v));
            assert_eq!(now, want, "{ty:?}");
            assert!(!in_frame(fields.get("msgId").unwrap().as_ptr()), "{ty:?}");
        }
    }

    /// Fields read in place print as a map of their own, not the frame (which
    /// holds the body too).
    #[test]
    fn decoded_fields_print_as_a_map() {
        let mut ext = ExtFields::new();
        ext.push("queueId", "3");
        let cmd = RemotingCommand::request(10, ext).with_body(&b"the-body-bytes"[..]);
        let frame = encode_frame(&cmd).unwrap();
        let got = RemotingCodec::default()
            .decode(&mut BytesMut::from(&frame[..]))
            .unwrap()
            .unwrap();
        let shown = format!("{:?}", got.ext_fields.unwrap());
        assert_eq!(shown, r#"{"queueId": "3"}"#);
    }

    #[test]
    fn bad_words_are_errors() {
        let mut codec = RemotingCodec::default();
        let mut short = BytesMut::from(&[0, 0, 0, 2, 0, 0][..]);
        assert!(codec.decode(&mut short).is_err());
        let mut bad_type = BytesMut::from(&[0, 0, 0, 4, 9, 0, 0, 0][..]);
        assert!(matches!(
            codec.decode(&mut bad_type),
            Err(ProtocolError::UnknownSerializeType(9))
        ));
        let mut bad_len = BytesMut::from(&[0, 0, 0, 4, 0, 0, 0, 9][..]);
        assert!(codec.decode(&mut bad_len).is_err());
    }
}
