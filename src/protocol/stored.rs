//! Stored-message records (Java `MessageExt` bytes, `MessageDecoder.decode`): bodies of
//! CHECK_TRANSACTION_STATE, VIEW_MESSAGE_BY_ID, QUERY_MESSAGE and PULL replies.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::{BufMut, Bytes, BytesMut};

use super::compression::{CompressionType, DEFAULT_COMPRESS_LEVEL, compress, decompress};
use super::error::ProtocolError;
use super::message::{
    MAX_PROPERTIES_LEN, Message, decode_properties, encode_properties_into_bytes, property,
    sys_flag,
};
use super::message_id::encode_offset_msg_id;

/// Magic of records with a 1-byte topic length.
pub const MAGIC_V1: u32 = 0xDAA3_20A7;
/// Magic of records with a 2-byte topic length.
pub const MAGIC_V2: u32 = 0xDAA3_20AB;
/// Default cap on an inflated body when decoding (zip-bomb guard).
pub const DEFAULT_MAX_INFLATED_BODY: usize = 64 * 1024 * 1024;
/// Topics longer than this are written with the V2 magic (Java: > `Byte.MAX_VALUE`).
const V1_MAX_TOPIC_LEN: usize = 127;
/// Bytes of a record before its born host.
const FIXED_HEAD: usize = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8;

/// One stored message as the broker returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The topic it was stored under.
    pub topic: String,
    /// The queue it was stored in.
    pub queue_id: i32,
    /// The user `Message.flag`.
    pub flag: i32,
    /// Logical offset within the queue.
    pub queue_offset: i64,
    /// Physical offset in the commit log (half of the offset message id).
    pub commit_log_offset: i64,
    /// sysFlag bits (compression, transaction type, IPv6 hosts), see [`sys_flag`].
    pub sys_flag: i32,
    /// When the producer sent it, ms since the epoch.
    pub born_timestamp: i64,
    /// The producer's address as the broker saw it.
    pub born_host: SocketAddr,
    /// When the broker stored it, ms since the epoch.
    pub store_timestamp: i64,
    /// The storing broker's address (first half of the offset message id).
    pub store_host: SocketAddr,
    /// How many times it was redelivered to consumers.
    pub reconsume_times: i32,
    /// Commit-log offset of the related half message (transactions), else 0.
    pub prepared_transaction_offset: i64,
    /// The body, already inflated when the record's COMPRESSED bit is set.
    pub body: Bytes,
    /// The message properties in record order (`TAGS`, `KEYS`, `UNIQ_KEY`, user properties...).
    pub properties: Vec<(String, String)>,
}

impl StoredMessage {
    /// A record for `msg` with every broker-assigned number zero (fill them in).
    pub fn from_message(msg: &Message, born_host: SocketAddr, store_host: SocketAddr) -> Self {
        StoredMessage {
            topic: msg.topic.clone(),
            queue_id: 0,
            flag: msg.flag,
            queue_offset: 0,
            commit_log_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host,
            store_timestamp: 0,
            store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: msg.body.clone(),
            properties: msg.properties_owned(),
        }
    }

    /// The offset message id: store host + commit-log offset.
    pub fn msg_id(&self) -> String {
        encode_offset_msg_id(self.store_host, self.commit_log_offset)
    }

    /// The value of property `name`, if set.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The client id (`UNIQ_KEY`), the transaction id of a half message.
    pub fn uniq_key(&self) -> Option<&str> {
        self.property(property::UNIQ_KEY)
    }

    /// The `TAGS` property.
    pub fn tags(&self) -> Option<&str> {
        self.property(property::TAGS)
    }

    /// The `KEYS` property (several keys separated by a space).
    pub fn keys(&self) -> Option<&str> {
        self.property(property::KEYS)
    }

    /// The sendable part: topic, flag, properties and (inflated) body.
    pub fn to_message(&self) -> Message {
        Message::from_parts(
            self.topic.clone(),
            self.flag,
            self.properties.clone(),
            self.body.clone(),
        )
    }
}

fn malformed(reason: String) -> ProtocolError {
    ProtocolError::MalformedBody {
        kind: "stored message",
        reason,
    }
}

/// Bounds-checked big-endian reader over one record.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    index: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], ProtocolError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let slice = end.and_then(|e| self.buf.get(self.pos..e)).ok_or_else(|| {
            malformed(format!(
                "record {}: {field} ({n} bytes at {}) runs past the record of {} bytes",
                self.index,
                self.pos,
                self.buf.len()
            ))
        })?;
        self.pos += n;
        Ok(slice)
    }
    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], ProtocolError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, field)?);
        Ok(a)
    }
    fn i32(&mut self, field: &str) -> Result<i32, ProtocolError> {
        self.array(field).map(i32::from_be_bytes)
    }
    fn i64(&mut self, field: &str) -> Result<i64, ProtocolError> {
        self.array(field).map(i64::from_be_bytes)
    }
    fn host(&mut self, v6: bool, field: &str) -> Result<SocketAddr, ProtocolError> {
        let ip: IpAddr = if v6 {
            Ipv6Addr::from(self.array::<16>(field)?).into()
        } else {
            Ipv4Addr::from(self.array::<4>(field)?).into()
        };
        let port = self.i32(field)?;
        let port = u16::try_from(port)
            .map_err(|_| malformed(format!("record {}: {field} port {port}", self.index)))?;
        Ok(SocketAddr::new(ip, port))
    }
    fn len(&mut self, n: usize, field: &str) -> Result<usize, ProtocolError> {
        let raw = self.take(n, field)?;
        let v = raw.iter().fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
        // 4-byte lengths are signed ints in Java; a negative one is garbage.
        let v = if n == 4 {
            i64::from(v as u32 as i32)
        } else {
            v
        };
        usize::try_from(v)
            .map_err(|_| malformed(format!("record {}: negative {field} {v}", self.index)))
    }
}

/// Decodes concatenated records, inflating compressed bodies up to
/// [`DEFAULT_MAX_INFLATED_BODY`] bytes each.
pub fn decode_stored_messages(data: &[u8]) -> Result<Vec<StoredMessage>, ProtocolError> {
    decode_stored_messages_with_limit(data, DEFAULT_MAX_INFLATED_BODY)
}

/// Decodes concatenated records; an inflated body may be at most `max_body` bytes.
pub fn decode_stored_messages_with_limit(
    data: &[u8],
    max_body: usize,
) -> Result<Vec<StoredMessage>, ProtocolError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
        let index = out.len();
        let mut head = Reader {
            buf: rest,
            pos: 0,
            index,
        };
        let total = head.len(4, "totalSize")?;
        if total < FIXED_HEAD || total > rest.len() {
            return Err(malformed(format!(
                "record {index}: totalSize {total} outside {FIXED_HEAD}..={}",
                rest.len()
            )));
        }
        let record = rest.get(..total).unwrap_or_default();
        out.push(decode_record(record, index, max_body)?);
        pos += total;
    }
    Ok(out)
}

fn decode_record(
    record: &[u8],
    index: usize,
    max_body: usize,
) -> Result<StoredMessage, ProtocolError> {
    let mut r = Reader {
        buf: record,
        pos: 4,
        index,
    };
    let magic = r.i32("magicCode")? as u32;
    let topic_len_size = match magic {
        MAGIC_V1 => 1,
        MAGIC_V2 => 2,
        other => {
            return Err(malformed(format!(
                "record {index}: unknown magic {other:#010X}"
            )));
        }
    };
    let _body_crc = r.i32("bodyCRC")?;
    let queue_id = r.i32("queueId")?;
    let flag = r.i32("flag")?;
    let queue_offset = r.i64("queueOffset")?;
    let commit_log_offset = r.i64("physicalOffset")?;
    let sys_flag = r.i32("sysFlag")?;
    let born_timestamp = r.i64("bornTimestamp")?;
    let born_host = r.host(sys_flag & sys_flag::BORNHOST_V6 != 0, "bornHost")?;
    let store_timestamp = r.i64("storeTimestamp")?;
    let store_host = r.host(sys_flag & sys_flag::STOREHOST_V6 != 0, "storeHost")?;
    let reconsume_times = r.i32("reconsumeTimes")?;
    let prepared_transaction_offset = r.i64("preparedTransactionOffset")?;
    let body_len = r.len(4, "bodyLen")?;
    let raw_body = r.take(body_len, "body")?;
    let topic_len = r.len(topic_len_size, "topicLen")?;
    let topic = std::str::from_utf8(r.take(topic_len, "topic")?)
        .map_err(|e| malformed(format!("record {index}: topic is not UTF-8: {e}")))?
        .to_owned();
    let props_len = r.len(2, "propertiesLen")?;
    let props = std::str::from_utf8(r.take(props_len, "properties")?)
        .map_err(|e| malformed(format!("record {index}: properties are not UTF-8: {e}")))?;
    if r.pos != record.len() {
        return Err(malformed(format!(
            "record {index}: totalSize {} but the fields end at {}",
            record.len(),
            r.pos
        )));
    }
    let body = if sys_flag & sys_flag::COMPRESSED != 0 {
        decompress(raw_body, sys_flag, max_body)?
    } else {
        Bytes::copy_from_slice(raw_body)
    };
    Ok(StoredMessage {
        topic,
        queue_id,
        flag,
        queue_offset,
        commit_log_offset,
        sys_flag,
        born_timestamp,
        born_host,
        store_timestamp,
        store_host,
        reconsume_times,
        prepared_transaction_offset,
        body,
        properties: decode_properties(props),
    })
}

/// Java `UtilAll.crc32`: CRC-32 (IEEE) masked to a non-negative int.
pub fn body_crc(body: &[u8]) -> i32 {
    let mut crc = flate2::Crc::new();
    crc.update(body);
    (crc.sum() & 0x7FFF_FFFF) as i32
}

fn host_len(h: &SocketAddr) -> usize {
    if h.is_ipv4() { 8 } else { 20 }
}

fn put_host(out: &mut BytesMut, h: &SocketAddr) {
    match h.ip() {
        IpAddr::V4(ip) => out.put_slice(&ip.octets()),
        IpAddr::V6(ip) => out.put_slice(&ip.octets()),
    }
    out.put_i32(i32::from(h.port()));
}

/// Encodes one record (what a broker stores and returns).
///
/// The host bits of `sys_flag` follow the address families; when the
/// COMPRESSED bit is set the body is compressed here by the sysFlag's codec (level 5); the V2
/// magic is used for topics longer than 127 bytes.
pub fn encode_stored_message(msg: &StoredMessage) -> Result<Bytes, ProtocolError> {
    let mut out = BytesMut::new();
    encode_stored_message_into(msg, &mut out)?;
    Ok(out.freeze())
}

/// Appends one record to `out` (concatenate several for a multi-message body).
pub fn encode_stored_message_into(
    msg: &StoredMessage,
    out: &mut BytesMut,
) -> Result<(), ProtocolError> {
    let invalid = |field: &'static str, value: String| ProtocolError::InvalidField { field, value };
    let mut flag = msg.sys_flag & !(sys_flag::BORNHOST_V6 | sys_flag::STOREHOST_V6);
    if msg.born_host.is_ipv6() {
        flag |= sys_flag::BORNHOST_V6;
    }
    if msg.store_host.is_ipv6() {
        flag |= sys_flag::STOREHOST_V6;
    }
    let compressed;
    let body: &[u8] = if flag & sys_flag::COMPRESSED != 0 {
        let codec = CompressionType::from_sys_flag(flag)?;
        compressed = compress(&msg.body, codec, DEFAULT_COMPRESS_LEVEL)?;
        &compressed
    } else {
        &msg.body
    };
    let (magic, topic_len_size) = if msg.topic.len() <= V1_MAX_TOPIC_LEN {
        (MAGIC_V1, 1)
    } else {
        (MAGIC_V2, 2)
    };
    if msg.topic.len() > usize::from(u16::MAX) {
        return Err(invalid("topic", format!("{} bytes long", msg.topic.len())));
    }
    let pairs = || msg.properties.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let props_len = super::message::encoded_properties_len(pairs());
    if props_len > MAX_PROPERTIES_LEN {
        return Err(invalid("properties", format!("{props_len} bytes long")));
    }
    let total = FIXED_HEAD
        + host_len(&msg.born_host)
        + 8
        + host_len(&msg.store_host)
        + 4
        + 8
        + 4
        + body.len()
        + topic_len_size
        + msg.topic.len()
        + 2
        + props_len;
    let total_i32 = i32::try_from(total).map_err(|_| invalid("totalSize", total.to_string()))?;
    out.reserve(total);
    out.put_i32(total_i32);
    out.put_u32(magic);
    out.put_i32(body_crc(body));
    out.put_i32(msg.queue_id);
    out.put_i32(msg.flag);
    out.put_i64(msg.queue_offset);
    out.put_i64(msg.commit_log_offset);
    out.put_i32(flag);
    out.put_i64(msg.born_timestamp);
    put_host(out, &msg.born_host);
    out.put_i64(msg.store_timestamp);
    put_host(out, &msg.store_host);
    out.put_i32(msg.reconsume_times);
    out.put_i64(msg.prepared_transaction_offset);
    out.put_i32(body.len() as i32);
    out.put_slice(body);
    if topic_len_size == 1 {
        out.put_u8(msg.topic.len() as u8);
    } else {
        out.put_u16(msg.topic.len() as u16);
    }
    out.put_slice(msg.topic.as_bytes());
    out.put_u16(props_len as u16);
    encode_properties_into_bytes(pairs(), out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> StoredMessage {
        let m = Message::new("TopicA", "hello")
            .with_tags("TagA")
            .with_keys("k1");
        let mut s = StoredMessage::from_message(
            &m,
            "192.0.2.2:50000".parse().unwrap(),
            "10.0.0.5:10911".parse().unwrap(),
        );
        s.queue_id = 3;
        s.queue_offset = 7;
        s.commit_log_offset = 0x1234;
        s.born_timestamp = 1_795_307_856_321;
        s.store_timestamp = 1_795_307_856_322;
        s
    }

    #[test]
    fn record_layout_is_exact() {
        let s = sample();
        let bytes = encode_stored_message(&s).unwrap();
        let props = b"WAIT\x01true\x02TAGS\x01TagA\x02KEYS\x01k1\x02";
        let mut want: Vec<u8> = Vec::new();
        let total =
            4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 5 + 1 + 6 + 2 + props.len();
        want.extend_from_slice(&(total as i32).to_be_bytes());
        want.extend_from_slice(&0xDAA3_20A7u32.to_be_bytes());
        // CRC-32 of "hello" is 0x3610A686.
        want.extend_from_slice(&0x3610_A686i32.to_be_bytes());
        want.extend_from_slice(&3i32.to_be_bytes());
        want.extend_from_slice(&0i32.to_be_bytes());
        want.extend_from_slice(&7i64.to_be_bytes());
        want.extend_from_slice(&0x1234i64.to_be_bytes());
        want.extend_from_slice(&0i32.to_be_bytes());
        want.extend_from_slice(&1_795_307_856_321i64.to_be_bytes());
        want.extend_from_slice(&[192, 0, 2, 2, 0, 0, 0xC3, 0x50]);
        want.extend_from_slice(&1_795_307_856_322i64.to_be_bytes());
        want.extend_from_slice(&[10, 0, 0, 5, 0, 0, 0x2A, 0x9F]);
        want.extend_from_slice(&0i32.to_be_bytes());
        want.extend_from_slice(&0i64.to_be_bytes());
        want.extend_from_slice(&5i32.to_be_bytes());
        want.extend_from_slice(b"hello");
        want.push(6);
        want.extend_from_slice(b"TopicA");
        want.extend_from_slice(&(props.len() as u16).to_be_bytes());
        want.extend_from_slice(props);
        assert_eq!(&bytes[..], &want[..]);
        let back = decode_stored_messages(&bytes).unwrap();
        assert_eq!(back, vec![s]);
        assert_eq!(back[0].msg_id(), "0A00000500002A9F0000000000001234");
        assert_eq!(back[0].tags(), Some("TagA"));
    }

    #[test]
    fn compressed_ipv6_and_v2_topic() {
        let mut s = sample();
        s.sys_flag =
            sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB | sys_flag::TRANSACTION_PREPARED_TYPE;
        s.body = Bytes::from(vec![b'z'; 10_000]);
        s.born_host = "[2001:db8::1]:1".parse().unwrap();
        s.topic = "t".repeat(200);
        let bytes = encode_stored_message(&s).unwrap();
        assert!(bytes.len() < 1000);
        assert_eq!(&bytes[4..8], &MAGIC_V2.to_be_bytes());
        let back = decode_stored_messages(&bytes).unwrap();
        assert_eq!(back[0].sys_flag, s.sys_flag | sys_flag::BORNHOST_V6);
        s.sys_flag |= sys_flag::BORNHOST_V6;
        assert_eq!(back, vec![s.clone()]);
        assert!(decode_stored_messages_with_limit(&bytes, 9_999).is_err());
        // LZ4 and ZSTD records round-trip by their sysFlag too; an unknown type is refused.
        for codec in [sys_flag::COMPRESSION_LZ4, sys_flag::COMPRESSION_ZSTD] {
            s.sys_flag = sys_flag::COMPRESSED | codec | sys_flag::BORNHOST_V6;
            let bytes = encode_stored_message(&s).unwrap();
            assert!(bytes.len() < 1000, "{codec:#x}");
            assert_eq!(decode_stored_messages(&bytes).unwrap(), vec![s.clone()]);
        }
        s.sys_flag = sys_flag::COMPRESSED | 0x400;
        assert!(encode_stored_message(&s).is_err());
    }

    #[test]
    fn truncated_and_garbage_are_errors() {
        let mut two = BytesMut::new();
        encode_stored_message_into(&sample(), &mut two).unwrap();
        let one_len = two.len();
        encode_stored_message_into(&sample(), &mut two).unwrap();
        assert_eq!(decode_stored_messages(&two).unwrap().len(), 2);
        for cut in 1..two.len() {
            if cut != one_len {
                assert!(decode_stored_messages(&two[..cut]).is_err(), "cut {cut}");
            }
        }
        let mut bad = two.to_vec();
        bad[4] = 0;
        assert!(decode_stored_messages(&bad).is_err());
        assert_eq!(decode_stored_messages(&[]).unwrap(), vec![]);
    }

    fn host() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(ip, p)| SocketAddr::new(Ipv4Addr::from(ip).into(), p)),
            (any::<[u8; 16]>(), any::<u16>())
                .prop_map(|(ip, p)| SocketAddr::new(Ipv6Addr::from(ip).into(), p)),
        ]
    }

    fn stored() -> impl Strategy<Value = StoredMessage> {
        (
            ("[a-zA-Z0-9_%|-]{1,140}", any::<(i32, i32, i64, i64)>()),
            (
                prop_oneof![Just(0), Just(1), Just(0x301)],
                0i32..4,
                host(),
                host(),
            ),
            any::<(i64, i64, i32, i64)>(),
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::btree_map("[A-Za-z_]{1,8}", "[^\u{1}\u{2}]{1,12}", 0..5),
        )
            .prop_map(
                |(
                    (topic, (qid, flag, qoff, coff)),
                    (comp, tran, born, store),
                    (bts, sts, rt, pto),
                    body,
                    props,
                )| {
                    let mut sys = comp | (tran << 2);
                    if born.is_ipv6() {
                        sys |= sys_flag::BORNHOST_V6;
                    }
                    if store.is_ipv6() {
                        sys |= sys_flag::STOREHOST_V6;
                    }
                    StoredMessage {
                        topic,
                        queue_id: qid,
                        flag,
                        queue_offset: qoff,
                        commit_log_offset: coff,
                        sys_flag: sys,
                        born_timestamp: bts,
                        born_host: born,
                        store_timestamp: sts,
                        store_host: store,
                        reconsume_times: rt,
                        prepared_transaction_offset: pto,
                        body: Bytes::from(body),
                        properties: props.into_iter().collect(),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn stored_round_trip(msgs in proptest::collection::vec(stored(), 1..4)) {
            let mut buf = BytesMut::new();
            for m in &msgs {
                encode_stored_message_into(m, &mut buf).unwrap();
            }
            prop_assert_eq!(decode_stored_messages(&buf).unwrap(), msgs);
        }

        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_stored_messages(&data);
        }

        #[test]
        fn decode_never_panics_on_corrupted_record(m in stored(), at in any::<prop::sample::Index>(), byte: u8) {
            let mut bytes = encode_stored_message(&m).unwrap().to_vec();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            let _ = decode_stored_messages(&bytes);
        }
    }
}
