//! SEND_BATCH_MESSAGE bodies (Java `MessageDecoder.encodeMessages`): concatenated records of
//! totalSize | magic 0 | bodyCRC 0 | flag | bodyLen | body | propsLen(2) | props.
use bytes::{BufMut, Bytes, BytesMut};

use super::error::ProtocolError;
use super::message::{
    MAX_PROPERTIES_LEN, Message, encode_properties_into, encode_properties_into_bytes,
    encoded_properties_len, property,
};
use super::message_id::UniqIdGenerator;
use super::validation::{DEFAULT_MAX_MESSAGE_SIZE, RETRY_TOPIC_PREFIX, ValidationError};

/// Fixed bytes of a record: totalSize, magic, bodyCRC, flag, bodyLen (4 each) and propsLen (2).
pub const RECORD_OVERHEAD: usize = 22;

fn props_of(msg: &Message) -> impl Iterator<Item = (&str, &str)> + Clone {
    msg.properties()
}

/// Gives every message without one a fresh `UNIQ_KEY`; existing ids are kept
/// (an id is set once and survives retries).
pub fn stamp_uniq_keys(msgs: &mut [Message], ids: &UniqIdGenerator) {
    for m in msgs {
        m.ensure_uniq_key(|| ids.next_id());
    }
}

/// The Java batch restrictions: non-empty; per message no delay level, no
/// retry topic, same topic and same WAIT as the first, not transactional, and
/// a `UNIQ_KEY` already stamped.
pub fn check_batch(msgs: &[Message]) -> Result<(), ValidationError> {
    let first = msgs.first().ok_or(ValidationError::BatchEmpty)?;
    let first_wait = first.wait_store_msg_ok();
    for (index, m) in msgs.iter().enumerate() {
        if m.delay_level() > 0 {
            return Err(ValidationError::BatchDelayLevel { index });
        }
        if m.topic.starts_with(RETRY_TOPIC_PREFIX) {
            return Err(ValidationError::BatchRetryTopic {
                topic: m.topic.clone(),
            });
        }
        if m.topic != first.topic {
            return Err(ValidationError::BatchMixedTopics {
                expected: first.topic.clone(),
                found: m.topic.clone(),
            });
        }
        if m.wait_store_msg_ok() != first_wait {
            return Err(ValidationError::BatchMixedWait { index });
        }
        if m.is_transaction_prepared() {
            return Err(ValidationError::BatchTransaction { index });
        }
        if m.uniq_key().is_none_or(str::is_empty) {
            return Err(ValidationError::BatchMissingUniqKey { index });
        }
    }
    Ok(())
}

/// Byte length of the encoded batch body, or the first message whose
/// properties string exceeds 32 767 bytes.
pub fn encoded_batch_len(msgs: &[Message]) -> Result<usize, ValidationError> {
    msgs.iter().try_fold(0usize, |acc, m| {
        let props = m.encoded_properties_len();
        if props > MAX_PROPERTIES_LEN {
            return Err(ValidationError::PropertiesTooLong {
                len: props,
                max: MAX_PROPERTIES_LEN,
            });
        }
        Ok(acc
            .saturating_add(RECORD_OVERHEAD)
            .saturating_add(m.body.len())
            .saturating_add(props))
    })
}

/// Checks the batch rules and encodes the body, at most [`DEFAULT_MAX_MESSAGE_SIZE`] bytes.
pub fn encode_batch(msgs: &[Message]) -> Result<Bytes, ValidationError> {
    encode_batch_with_max(msgs, DEFAULT_MAX_MESSAGE_SIZE)
}

/// Checks the batch rules and encodes the body, at most `max_size` bytes
/// (the producer's `maxMessageSize` applies to the whole batch body).
pub fn encode_batch_with_max(msgs: &[Message], max_size: usize) -> Result<Bytes, ValidationError> {
    check_batch(msgs)?;
    encode_checked_batch(msgs, max_size)
}

/// [`encode_batch_with_max`] for messages that already meet [`check_batch`]'s
/// rules (the producer's gathered sends: one key, each classified on the way in).
pub fn encode_checked_batch(msgs: &[Message], max_size: usize) -> Result<Bytes, ValidationError> {
    encode_checked_batch_into(msgs, max_size, BytesMut::new())
}

/// [`encode_checked_batch`] into `out` (emptied first), so a caller can
/// reuse the allocation of an earlier body.
pub fn encode_checked_batch_into(
    msgs: &[Message],
    max_size: usize,
    mut out: BytesMut,
) -> Result<Bytes, ValidationError> {
    let total = encoded_batch_len(msgs)?;
    if total > max_size || total > i32::MAX as usize {
        return Err(ValidationError::BatchTooLarge {
            size: total,
            max: max_size.min(i32::MAX as usize),
        });
    }
    // At most one allocation, of the exact size; the lengths were checked above, so the casts hold.
    out.clear();
    out.reserve(total);
    for m in msgs {
        let props_len = m.encoded_properties_len();
        // The fixed fields in one write: each `put_i32` would be a copy call of its own.
        let mut head = [0u8; 20];
        head[0..4]
            .copy_from_slice(&((RECORD_OVERHEAD + m.body.len() + props_len) as i32).to_be_bytes());
        // Bytes 4..12: magic (ignored by the broker) and bodyCRC (computed by it), both 0.
        head[12..16].copy_from_slice(&m.flag.to_be_bytes());
        head[16..20].copy_from_slice(&(m.body.len() as i32).to_be_bytes());
        out.put_slice(&head);
        out.put_slice(&m.body);
        out.put_u16(props_len as u16);
        encode_properties_into_bytes(props_of(m), &mut out);
    }
    Ok(out.freeze())
}

/// The batch header's own properties (`i`/`properties`): the wrapper's
/// `UNIQ_KEY`, then the common `WAIT`, as the Java client sends them.
pub fn batch_header_properties(uniq_key: &str, wait_store_msg_ok: bool) -> String {
    let wait = if wait_store_msg_ok { "true" } else { "false" };
    let pairs = [(property::UNIQ_KEY, uniq_key), (property::WAIT, wait)];
    let mut out = String::with_capacity(encoded_properties_len(pairs));
    encode_properties_into(pairs, &mut out);
    out
}

fn malformed(reason: String) -> ProtocolError {
    ProtocolError::MalformedBody {
        kind: "batch",
        reason,
    }
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Decodes a batch body into messages with an empty topic (records carry none;
/// it is in the request header). See [`decode_batch_for_topic`].
pub fn decode_batch(body: &[u8]) -> Result<Vec<Message>, ProtocolError> {
    decode_batch_for_topic(body, "")
}

/// Decodes a batch body, giving every message `topic`.
pub fn decode_batch_for_topic(body: &[u8], topic: &str) -> Result<Vec<Message>, ProtocolError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < body.len() {
        let rest = &body[pos..];
        let index = out.len();
        let total = be_i32(rest, 0)
            .ok_or_else(|| malformed(format!("record {index}: truncated size field")))?;
        let total = usize::try_from(total)
            .ok()
            .filter(|t| *t >= RECORD_OVERHEAD && *t <= rest.len())
            .ok_or_else(|| {
                malformed(format!(
                    "record {index}: size {total} outside {RECORD_OVERHEAD}..={}",
                    rest.len()
                ))
            })?;
        let rec = &rest[..total];
        let flag = be_i32(rec, 12).unwrap_or_default();
        let body_len = be_i32(rec, 16)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| RECORD_OVERHEAD + n <= total)
            .ok_or_else(|| malformed(format!("record {index}: body length beyond the record")))?;
        let msg_body = &rec[20..20 + body_len];
        let props_at = 20 + body_len;
        let props_len = rec
            .get(props_at..props_at + 2)
            .map(|s| u16::from_be_bytes([s[0], s[1]]) as usize)
            .unwrap_or_default();
        if props_at + 2 + props_len != total {
            return Err(malformed(format!(
                "record {index}: size {total} does not match body {body_len} + properties {props_len}"
            )));
        }
        let raw_props = &rec[props_at + 2..];
        let props = std::str::from_utf8(raw_props)
            .map_err(|e| malformed(format!("record {index}: properties are not UTF-8: {e}")))?;
        let properties = super::message::decode_properties(props);
        out.push(Message::from_parts(
            topic,
            flag,
            properties,
            Bytes::copy_from_slice(msg_body),
        ));
        pos += total;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn msg(i: u32) -> Message {
        let mut m = Message::new("T", format!("body-{i}")).with_tags("TagA");
        m.set_property(property::UNIQ_KEY, format!("ID{i}"));
        m
    }

    #[test]
    fn record_layout_is_exact() {
        let body = encode_batch(&[msg(1).with_flag(9)]).unwrap();
        let props = b"WAIT\x01true\x02TAGS\x01TagA\x02UNIQ_KEY\x01ID1\x02";
        let mut want = Vec::new();
        want.extend_from_slice(&((22 + 6 + props.len()) as i32).to_be_bytes());
        want.extend_from_slice(&[0; 8]);
        want.extend_from_slice(&9i32.to_be_bytes());
        want.extend_from_slice(&6i32.to_be_bytes());
        want.extend_from_slice(b"body-1");
        want.extend_from_slice(&(props.len() as u16).to_be_bytes());
        want.extend_from_slice(props);
        assert_eq!(&body[..], &want[..]);
        let back = decode_batch_for_topic(&body, "T").unwrap();
        assert_eq!(back, vec![msg(1).with_flag(9)]);
    }

    #[test]
    fn batch_rules() {
        use ValidationError::*;
        assert_eq!(encode_batch(&[]), Err(BatchEmpty));
        let mut other = msg(2);
        other.topic = "U".into();
        assert!(matches!(
            encode_batch(&[msg(1), other]),
            Err(BatchMixedTopics { .. })
        ));
        assert_eq!(
            encode_batch(&[msg(1), msg(2).with_wait_store_msg_ok(false)]),
            Err(BatchMixedWait { index: 1 })
        );
        assert_eq!(
            encode_batch(&[msg(1), msg(2).with_delay_level(2)]),
            Err(BatchDelayLevel { index: 1 })
        );
        let mut retry = msg(1);
        retry.topic = "%RETRY%g".into();
        assert!(matches!(
            encode_batch(&[retry]),
            Err(BatchRetryTopic { .. })
        ));
        let mut tran = msg(1);
        tran.set_property(property::TRAN_MSG, "true");
        assert_eq!(encode_batch(&[tran]), Err(BatchTransaction { index: 0 }));
        assert_eq!(
            encode_batch(&[Message::new("T", "x")]),
            Err(BatchMissingUniqKey { index: 0 })
        );
        assert!(matches!(
            encode_batch_with_max(&[msg(1), msg(2)], 50),
            Err(BatchTooLarge { max: 50, .. })
        ));
        let mut long = msg(1);
        long.set_property("big", "x".repeat(40_000));
        assert!(matches!(
            encode_batch(&[long]),
            Err(PropertiesTooLong { .. })
        ));
    }

    #[test]
    fn stamping_keeps_existing_ids() {
        let ids = UniqIdGenerator::with_parts("10.0.0.1".parse().unwrap(), 1, 2);
        let mut msgs = vec![msg(1), Message::new("T", "x")];
        stamp_uniq_keys(&mut msgs, &ids);
        assert_eq!(msgs[0].uniq_key(), Some("ID1"));
        assert_eq!(msgs[1].uniq_key().map(str::len), Some(32));
        assert!(encode_batch(&msgs).is_ok());
    }

    #[test]
    fn header_properties_match_capture() {
        assert_eq!(
            batch_header_properties("C0000202253EAC4C820C6C47F9C10005", true),
            "UNIQ_KEY\u{1}C0000202253EAC4C820C6C47F9C10005\u{2}WAIT\u{1}true\u{2}"
        );
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let good = encode_batch(&[msg(1), msg(2)]).unwrap();
        for cut in 1..good.len() {
            if cut == good.len() / 2 {
                continue; // exactly one whole record
            }
            assert!(decode_batch(&good[..cut]).is_err(), "cut {cut}");
        }
        assert_eq!(decode_batch(&[]).unwrap(), vec![]);
        let mut bad = good.to_vec();
        bad[3] = 21;
        assert!(decode_batch(&bad).is_err());
    }

    fn message() -> impl Strategy<Value = Message> {
        (
            any::<i32>(),
            proptest::collection::vec(any::<u8>(), 1..64),
            proptest::collection::btree_map("[a-z]{1,6}", "[^\u{1}\u{2}]{1,10}", 0..4),
            "[A-F0-9]{32}",
            any::<bool>(),
        )
            .prop_map(|(flag, body, props, id, tags)| {
                let mut m = Message::new("Topic", body).with_flag(flag);
                if tags {
                    m = m.with_tags("TagA");
                }
                for (k, v) in props {
                    m = m.with_property(k, v);
                }
                m.set_property(property::UNIQ_KEY, id);
                m
            })
    }

    proptest! {
        #[test]
        fn batch_round_trip(msgs in proptest::collection::vec(message(), 1..6)) {
            let body = encode_batch(&msgs).unwrap();
            prop_assert_eq!(body.len(), encoded_batch_len(&msgs).unwrap());
            let back = decode_batch_for_topic(&body, "Topic").unwrap();
            prop_assert_eq!(&back, &msgs);
            prop_assert_eq!(encode_batch(&back).unwrap(), body);
        }

        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode_batch(&data);
        }
    }
}
