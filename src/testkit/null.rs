//! Null-broker mode: every send is answered SUCCESS from a precomputed reply,
//! reading from the request only what that reply needs (opaque, queue id,
//! batch size) — without the full header decode, which costs more than the
//! rest of a round trip.
use std::net::SocketAddr;

use bytes::{BufMut, BytesMut};

use super::SERVER_VERSION;
use super::faults::SEND_CODES;
use crate::protocol::codes::{SerializeType, request_code, response_code};
use crate::protocol::command::{FLAG_ONEWAY, FLAG_RESPONSE, RemotingCommand};
use crate::protocol::headers::{
    CommandHeader, SendMessageRequestHeader, SendMessageResponseHeader,
};
use crate::protocol::message_id::encode_offset_msg_id;
use crate::protocol::serialize::encode_header;

/// `MSG_REGION` the brokers report (the Java default).
pub(crate) const REGION: &str = "DefaultRegion";

/// Keeps a null reply's msgId list well under the 16 MiB header limit.
const MAX_IDS: usize = 100_000;

/// What a null reply needs from a send request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NullSend {
    pub(crate) opaque: i32,
    pub(crate) oneway: bool,
    /// The request's queue id, echoed (0 when absent or negative).
    pub(crate) queue_id: i32,
    /// Message ids to put in the reply: records of a batch, else 1.
    pub(crate) count: usize,
}

/// [`NullSend`] of a fully decoded send request.
pub(crate) fn null_send_of(cmd: &RemotingCommand) -> NullSend {
    let v1 = !SendMessageRequestHeader::uses_v2(cmd.code);
    let queue_id = cmd
        .ext(if v1 { "queueId" } else { "e" })
        .and_then(|q| q.parse::<i32>().ok())
        .filter(|q| *q >= 0)
        .unwrap_or(0);
    let batch = cmd.code == request_code::SEND_BATCH_MESSAGE
        || cmd.ext(if v1 { "batch" } else { "m" }) == Some("true");
    NullSend {
        opaque: cmd.opaque,
        oneway: cmd.is_oneway(),
        queue_id,
        count: if batch { count_records(&cmd.body) } else { 1 },
    }
}

/// Records in a batch body, by their size fields only (at least 1, at most [`MAX_IDS`]).
pub(crate) fn count_records(body: &[u8]) -> usize {
    let mut n = 0;
    let mut pos = 0usize;
    while let Some(s) = pos.checked_add(4).and_then(|end| body.get(pos..end)) {
        let size = i32::from_be_bytes([s[0], s[1], s[2], s[3]]);
        match usize::try_from(size) {
            Ok(size) if size > 0 => pos = pos.saturating_add(size),
            _ => break,
        }
        n += 1;
        if n == MAX_IDS {
            break;
        }
    }
    n.max(1)
}

/// The null reply as a command, for when it cannot come from the template.
pub(crate) fn null_response(store_host: SocketAddr, send: NullSend) -> RemotingCommand {
    let id = encode_offset_msg_id(store_host, 0);
    let header = SendMessageResponseHeader {
        msg_id: vec![id; send.count.clamp(1, MAX_IDS)].join(","),
        queue_id: send.queue_id,
        queue_offset: 0,
        region: Some(REGION.to_owned()),
        trace_on: Some(true),
        ..Default::default()
    };
    let mut r = RemotingCommand::response(response_code::SUCCESS, send.opaque, None);
    r.version = SERVER_VERSION;
    r.ext_fields = Some(header.to_ext_fields());
    r
}

// ---------------------------------------------------------------------------
// The precomputed reply
// ---------------------------------------------------------------------------

/// The null-mode SUCCESS reply split around its three variable parts
/// (opaque, msgId list, queueId), so a reply is a few memcpys.
pub(crate) struct NullReply {
    parts: [Vec<u8>; 4],
    msg_id: Vec<u8>,
}

const OPAQUE_SENTINEL: i32 = i32::MIN;
const MSG_ID_SENTINEL: &str = "MSGIDSENTINEL";
const QUEUE_ID_SENTINEL: &str = "QUEUEIDSENTINEL";

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn put_i32(dst: &mut BytesMut, v: i32) {
    dst.put_slice(itoa::Buffer::new().format(v).as_bytes());
}

impl NullReply {
    /// Splits an encoded template reply at the sentinels; `None` if the header writer changed shape.
    pub(crate) fn new(store_host: SocketAddr) -> Option<Self> {
        let mut ext = SendMessageResponseHeader {
            msg_id: MSG_ID_SENTINEL.to_owned(),
            region: Some(REGION.to_owned()),
            trace_on: Some(true),
            ..Default::default()
        }
        .to_ext_fields();
        ext.insert("queueId", QUEUE_ID_SENTINEL);
        let mut cmd = RemotingCommand::response(response_code::SUCCESS, OPAQUE_SENTINEL, None);
        cmd.version = SERVER_VERSION;
        cmd.ext_fields = Some(ext);
        let mut buf = BytesMut::new();
        encode_header(&cmd, SerializeType::Json, &mut buf);
        let opaque = OPAQUE_SENTINEL.to_string();
        let at_opaque = find(&buf, opaque.as_bytes())?;
        let at_msg = find(&buf, MSG_ID_SENTINEL.as_bytes())?;
        let at_queue = find(&buf, QUEUE_ID_SENTINEL.as_bytes())?;
        if !(at_opaque < at_msg && at_msg < at_queue) {
            return None;
        }
        Some(NullReply {
            parts: [
                buf[..at_opaque].to_vec(),
                buf[at_opaque + opaque.len()..at_msg].to_vec(),
                buf[at_msg + MSG_ID_SENTINEL.len()..at_queue].to_vec(),
                buf[at_queue + QUEUE_ID_SENTINEL.len()..].to_vec(),
            ],
            msg_id: encode_offset_msg_id(store_host, 0).into_bytes(),
        })
    }

    /// Appends one complete frame (JSON header, no body).
    pub(crate) fn write(&self, send: NullSend, dst: &mut BytesMut) {
        let count = send.count.clamp(1, MAX_IDS);
        let start = dst.len();
        let fixed: usize = self.parts.iter().map(Vec::len).sum();
        dst.reserve(8 + fixed + 22 + count * (self.msg_id.len() + 1));
        dst.put_u64(0); // length words, filled in below
        dst.put_slice(&self.parts[0]);
        put_i32(dst, send.opaque);
        dst.put_slice(&self.parts[1]);
        for i in 0..count {
            if i > 0 {
                dst.put_u8(b',');
            }
            dst.put_slice(&self.msg_id);
        }
        dst.put_slice(&self.parts[2]);
        put_i32(dst, send.queue_id);
        dst.put_slice(&self.parts[3]);
        let header_len = (dst.len() - start - 8) as u32;
        dst[start..start + 4].copy_from_slice(&(header_len + 4).to_be_bytes());
        dst[start + 4..start + 8].copy_from_slice(&header_len.to_be_bytes());
    }
}

// ---------------------------------------------------------------------------
// Reading a send without decoding its header
// ---------------------------------------------------------------------------

/// The header fields the fast path looks at.
#[derive(Default)]
struct Peeked<'a> {
    code: Option<i32>,
    opaque: Option<i32>,
    flag: Option<i32>,
    queue_id: Option<&'a [u8]>,
    queue_id_v1: Option<&'a [u8]>,
    batch: Option<&'a [u8]>,
    batch_v1: Option<&'a [u8]>,
}

impl<'a> Peeked<'a> {
    fn note_ext(&mut self, key: &[u8], value: &'a [u8]) {
        match key {
            b"e" => self.queue_id = Some(value),
            b"queueId" => self.queue_id_v1 = Some(value),
            b"m" => self.batch = Some(value),
            b"batch" => self.batch_v1 = Some(value),
            _ => {}
        }
    }
}

/// Reads the complete frame at the start of `src` if it is a send request:
/// its length (prefix included) and what the null reply needs. `None` means
/// "not a send, or not sure": use the full decoder, which also reports errors.
pub(crate) fn peek_send(src: &[u8], max_frame_len: usize) -> Option<(usize, NullSend)> {
    let length = u32::from_be_bytes(src.get(0..4)?.try_into().ok()?) as usize;
    let total = length.checked_add(4).filter(|t| *t <= max_frame_len)?;
    let frame = src.get(4..total)?;
    let word = u32::from_be_bytes(frame.get(0..4)?.try_into().ok()?);
    let header_len = (word & 0x00ff_ffff) as usize;
    let header = frame.get(4..4usize.checked_add(header_len)?)?;
    let body = frame.get(4 + header_len..)?;
    let p = match word >> 24 {
        0 => peek_json(header)?,
        1 => peek_binary(header)?,
        _ => return None,
    };
    let (code, opaque, flag) = (p.code?, p.opaque?, p.flag.unwrap_or(0));
    if !SEND_CODES.contains(&code) || flag & FLAG_RESPONSE != 0 {
        return None;
    }
    let v1 = !SendMessageRequestHeader::uses_v2(code);
    let (queue_id, batch) = if v1 {
        (p.queue_id_v1, p.batch_v1)
    } else {
        (p.queue_id, p.batch)
    };
    let queue_id = queue_id
        .and_then(|q| std::str::from_utf8(q).ok())
        .and_then(|q| q.parse::<i32>().ok())
        .filter(|q| *q >= 0)
        .unwrap_or(0);
    let batch = code == request_code::SEND_BATCH_MESSAGE || batch == Some(b"true");
    Some((
        total,
        NullSend {
            opaque,
            oneway: flag & FLAG_ONEWAY != 0,
            queue_id,
            count: if batch { count_records(body) } else { 1 },
        },
    ))
}

/// The binary (ROCKETMQ) header: fixed fields, remark, then length-prefixed ext pairs.
fn peek_binary(h: &[u8]) -> Option<Peeked<'_>> {
    let be32 = |at: usize| -> Option<i32> {
        Some(i32::from_be_bytes(h.get(at..at + 4)?.try_into().ok()?))
    };
    let code = i16::from_be_bytes(h.get(0..2)?.try_into().ok()?);
    let mut p = Peeked {
        code: Some(i32::from(code)),
        opaque: Some(be32(5)?),
        flag: Some(be32(9)?),
        ..Default::default()
    };
    let remark_len = usize::try_from(be32(13)?).ok()?;
    let ext_at = 17usize.checked_add(remark_len)?;
    let ext_len = usize::try_from(be32(ext_at)?).ok()?;
    let ext = h.get(ext_at + 4..(ext_at + 4).checked_add(ext_len)?)?;
    let mut pos = 0usize;
    while pos < ext.len() {
        let key_len = u16::from_be_bytes(ext.get(pos..pos + 2)?.try_into().ok()?) as usize;
        let key = ext.get(pos + 2..pos + 2 + key_len)?;
        let at = pos + 2 + key_len;
        let value_len = u32::from_be_bytes(ext.get(at..at + 4)?.try_into().ok()?) as usize;
        let value = ext.get(at + 4..(at + 4).checked_add(value_len)?)?;
        p.note_ext(key, value);
        pos = at + 4 + value_len;
    }
    Some(p)
}

/// A minimal walker over the JSON header object: numbers at the top level,
/// string pairs in `extFields`; anything unexpected gives up (`None`).
fn peek_json(h: &[u8]) -> Option<Peeked<'_>> {
    let mut j = Json { s: h, pos: 0 };
    let mut p = Peeked::default();
    j.expect(b'{')?;
    if j.eat(b'}') {
        return Some(p);
    }
    loop {
        let key = j.string()?;
        j.expect(b':')?;
        match key {
            b"code" => p.code = Some(j.int()?),
            b"opaque" => p.opaque = Some(j.int()?),
            b"flag" => p.flag = Some(j.int()?),
            b"extFields" => {
                if !j.null() {
                    j.expect(b'{')?;
                    if !j.eat(b'}') {
                        loop {
                            let k = j.string()?;
                            j.expect(b':')?;
                            let v = j.string()?;
                            p.note_ext(k, v);
                            if j.eat(b'}') {
                                break;
                            }
                            j.expect(b',')?;
                        }
                    }
                }
            }
            _ => j.skip_scalar()?,
        }
        if j.eat(b'}') {
            return Some(p);
        }
        j.expect(b',')?;
    }
}

struct Json<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Json<'a> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }
    /// A string's raw bytes between the quotes (escapes left as they are).
    fn string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            match self.s.get(self.pos)? {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    return self.s.get(start..self.pos - 1);
                }
                _ => self.pos += 1,
            }
        }
    }
    fn int(&mut self) -> Option<i32> {
        self.ws();
        let start = self.pos;
        if self.s.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        while self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        std::str::from_utf8(self.s.get(start..self.pos)?)
            .ok()?
            .parse()
            .ok()
    }
    fn null(&mut self) -> bool {
        self.ws();
        if self.s.get(self.pos..self.pos + 4) == Some(b"null") {
            self.pos += 4;
            true
        } else {
            false
        }
    }
    /// A string, number, `true`, `false` or `null`; objects and arrays give up.
    fn skip_scalar(&mut self) -> Option<()> {
        self.ws();
        match self.s.get(self.pos)? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => None,
            _ => {
                let start = self.pos;
                while self
                    .s
                    .get(self.pos)
                    .is_some_and(|c| !matches!(c, b',' | b'}' | b' ' | b'\t' | b'\n' | b'\r'))
                {
                    self.pos += 1;
                }
                (self.pos > start).then_some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::command::ExtFields;
    use crate::protocol::frame::{decode_frame, encode_frame};
    use proptest::prelude::*;

    fn send(code: i32, ty: SerializeType, queue: i32, batch: bool) -> RemotingCommand {
        let h = SendMessageRequestHeader {
            producer_group: "pg".into(),
            topic: "T".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: queue,
            properties: Some("UNIQ_KEY\u{1}X\u{2}WAIT\u{1}true\u{2}".into()),
            batch,
            broker_name: Some("b\"x\\".into()),
            ..Default::default()
        };
        let mut cmd = h.to_request(code).with_body(&b"body"[..]);
        cmd.opaque = -77;
        cmd.serialize_type = ty;
        cmd
    }

    #[test]
    fn null_reply_matches_a_built_reply() {
        let addr: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        let null = NullReply::new(addr).expect("template splits");
        for (opaque, queue_id, count) in [(0, 0, 1), (-5, 3, 1), (i32::MAX, 17, 3)] {
            let mut buf = BytesMut::new();
            let s = NullSend {
                opaque,
                oneway: false,
                queue_id,
                count,
            };
            null.write(s, &mut buf);
            let cmd = decode_frame(buf.freeze()).unwrap();
            assert_eq!(cmd.opaque, opaque);
            assert!(cmd.is_response());
            assert_eq!(cmd, null_response(addr, s));
            let h = SendMessageResponseHeader::from_command(&cmd).unwrap();
            assert_eq!(h.msg_id.split(',').count(), count);
            assert_eq!(
                h.msg_id.split(',').next(),
                Some("7F00000100002A9F0000000000000000")
            );
        }
    }

    #[test]
    fn record_counting_stops_on_garbage() {
        assert_eq!(count_records(&[]), 1);
        assert_eq!(count_records(&[0, 0, 0, 4, 0, 0, 0, 4]), 2);
        assert_eq!(count_records(&[0xff, 0, 0, 0]), 1);
        assert_eq!(count_records(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 4]), 1);
    }

    #[test]
    fn peek_agrees_with_the_full_decoder() {
        for ty in [SerializeType::Json, SerializeType::RocketMq] {
            for (code, batch) in [
                (request_code::SEND_MESSAGE, false),
                (request_code::SEND_MESSAGE_V2, false),
                (request_code::SEND_BATCH_MESSAGE, true),
                (request_code::SEND_REPLY_MESSAGE_V2, false),
            ] {
                for queue in [-1, 0, 3] {
                    let mut cmd = send(code, ty, queue, batch);
                    if code == request_code::SEND_MESSAGE_V2 {
                        cmd.mark_oneway();
                    }
                    let frame = encode_frame(&cmd).unwrap();
                    let full = null_send_of(&decode_frame(frame.clone()).unwrap());
                    let mut with_more = frame.to_vec();
                    with_more.extend_from_slice(&[0, 0, 0]);
                    assert_eq!(
                        peek_send(&with_more, 1 << 24),
                        Some((frame.len(), full)),
                        "{ty:?} {code} {queue}"
                    );
                    assert_eq!(peek_send(&frame[..frame.len() - 1], 1 << 24), None);
                }
            }
        }
    }

    #[test]
    fn peek_leaves_everything_else_to_the_decoder() {
        let route =
            RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC, ExtFields::new());
        assert_eq!(peek_send(&encode_frame(&route).unwrap(), 1 << 24), None);
        let mut reply = send(request_code::SEND_MESSAGE_V2, SerializeType::Json, 0, false);
        reply.flag = FLAG_RESPONSE;
        assert_eq!(peek_send(&encode_frame(&reply).unwrap(), 1 << 24), None);
        let frame = encode_frame(&send(310, SerializeType::Json, 1, false)).unwrap();
        assert_eq!(peek_send(&frame, 16), None, "over the frame limit");
        // Non-standard JSON shapes fall back instead of guessing.
        let odd = br#"{"code":310,"opaque":1,"extFields":{"e":1}}"#;
        let mut f = ((odd.len() + 4) as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&(odd.len() as u32).to_be_bytes());
        f.extend_from_slice(odd);
        assert_eq!(peek_send(&f, 1 << 24), None);
    }

    proptest! {
        #[test]
        fn peek_never_panics(data in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = peek_send(&data, 1 << 24);
            let _ = peek_json(&data);
            let _ = peek_binary(&data);
        }

        #[test]
        fn peek_never_panics_on_damaged_sends(cut in 0usize..400, flip in 0usize..400, bit in 0u8..8) {
            let mut f = encode_frame(&send(310, SerializeType::RocketMq, 2, true)).unwrap().to_vec();
            let n = f.len();
            f[flip % n] ^= 1 << bit;
            f.truncate(cut.min(n));
            let _ = peek_send(&f, 1 << 24);
            let mut j = encode_frame(&send(310, SerializeType::Json, 2, true)).unwrap().to_vec();
            let n = j.len();
            j[flip % n] ^= 1 << bit;
            let _ = peek_send(&j, 1 << 24);
        }
    }
}
