//! The properties string of a message: `name U+0001 value U+0002` per pair
//! (Java `MessageDecoder.messageProperties2String` / `string2messageProperties`).
use bytes::{BufMut, BytesMut};

use super::error::ProtocolError;

/// Separator between a property name and its value (Java `NAME_VALUE_SEPARATOR`).
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Terminator written after every pair, the last included (Java `PROPERTY_SEPARATOR`).
pub const PROPERTY_SEPARATOR: char = '\u{2}';
/// The largest properties string the store accepts (2-byte length on disk).
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;

/// Byte length of the properties string `pairs` encode to (empty values skipped).
pub fn encoded_properties_len<I, K, V>(pairs: I) -> usize
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    pairs
        .into_iter()
        .map(|(k, v)| {
            let v = v.as_ref();
            if v.is_empty() {
                0
            } else {
                k.as_ref().len() + v.len() + 2
            }
        })
        .sum()
}

/// Encodes `pairs` as a properties string: `name U+0001 value U+0002` for every
/// pair (the last too); empty values are skipped (the parser would drop them).
pub fn encode_properties<I, K, V>(pairs: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut out = String::new();
    encode_properties_into(pairs, &mut out);
    out
}

/// Appends the properties string of `pairs` to `out` (no allocation if it has room).
pub fn encode_properties_into<I, K, V>(pairs: I, out: &mut String)
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    for (k, v) in pairs {
        let v = v.as_ref();
        if v.is_empty() {
            continue;
        }
        out.push_str(k.as_ref());
        out.push(NAME_VALUE_SEPARATOR);
        out.push_str(v);
        out.push(PROPERTY_SEPARATOR);
    }
}

/// Appends the properties string of `pairs` to a byte buffer (e.g. a body being built).
pub fn encode_properties_into_bytes<I, K, V>(pairs: I, out: &mut BytesMut)
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    // A short pair is gathered on the stack and appended with one write.
    const SMALL: usize = 64;
    for (k, v) in pairs {
        let (k, v) = (k.as_ref().as_bytes(), v.as_ref().as_bytes());
        if v.is_empty() {
            continue;
        }
        let n = k.len() + v.len() + 2;
        if n <= SMALL {
            let mut pair = [0u8; SMALL];
            pair[..k.len()].copy_from_slice(k);
            pair[k.len()] = NAME_VALUE_SEPARATOR as u8;
            pair[k.len() + 1..n - 1].copy_from_slice(v);
            pair[n - 1] = PROPERTY_SEPARATOR as u8;
            out.put_slice(&pair[..n]);
        } else {
            out.put_slice(k);
            out.put_u8(NAME_VALUE_SEPARATOR as u8);
            out.put_slice(v);
            out.put_u8(PROPERTY_SEPARATOR as u8);
        }
    }
}

/// Parses a properties string like Java's `string2messageProperties`: split on
/// U+0002; keep a segment when it has U+0001 after a non-empty name and before
/// a non-empty value (the value may itself hold U+0001); a repeated name
/// replaces the earlier value; anything else is skipped, never an error.
pub fn decode_properties(s: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for segment in s.split(PROPERTY_SEPARATOR) {
        let Some(sep) = segment.find(NAME_VALUE_SEPARATOR) else {
            continue;
        };
        // Separators are ASCII, so these byte slices are on char boundaries.
        let (name, value) = (&segment[..sep], &segment[sep + 1..]);
        if name.is_empty() || value.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => value.clone_into(&mut slot.1),
            None => out.push((name.to_owned(), value.to_owned())),
        }
    }
    out
}

/// [`decode_properties`] on raw bytes, which must be UTF-8.
pub fn decode_properties_bytes(raw: &[u8]) -> Result<Vec<(String, String)>, ProtocolError> {
    let s = std::str::from_utf8(raw).map_err(|e| ProtocolError::MalformedBody {
        kind: "message properties",
        reason: format!("not UTF-8: {e}"),
    })?;
    Ok(decode_properties(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_spec_example_exactly() {
        let s = encode_properties([
            ("TAGS", "TagA"),
            ("KEYS", "order-1 order-2"),
            ("WAIT", "true"),
            ("UNIQ_KEY", "0A00000930391B6D35860A1B2C3D0001"),
        ]);
        assert_eq!(
            s,
            "TAGS\u{1}TagA\u{2}KEYS\u{1}order-1 order-2\u{2}WAIT\u{1}true\u{2}\
             UNIQ_KEY\u{1}0A00000930391B6D35860A1B2C3D0001\u{2}"
        );
        assert_eq!(encoded_properties_len([("TAGS", "TagA")]), 10);
    }

    #[test]
    fn empty_values_are_skipped_and_every_pair_terminated() {
        assert_eq!(encode_properties([("A", ""), ("B", "1")]), "B\u{1}1\u{2}");
        assert_eq!(encode_properties(Vec::<(&str, &str)>::new()), "");
        let mut buf = BytesMut::new();
        encode_properties_into_bytes([("A", "x"), ("B", "")], &mut buf);
        assert_eq!(&buf[..], b"A\x01x\x02");
    }

    #[test]
    fn decoder_follows_java_rules() {
        let got = decode_properties("A\u{1}1\u{2}\u{1}x\u{2}B\u{1}\u{2}C\u{1}v\u{1}w\u{2}A\u{1}2");
        assert_eq!(
            got,
            vec![
                ("A".to_owned(), "2".to_owned()),
                ("C".to_owned(), "v\u{1}w".to_owned())
            ]
        );
        assert!(decode_properties("").is_empty());
        assert!(decode_properties("\u{2}\u{2}ab\u{2}").is_empty());
        assert!(decode_properties_bytes(&[0xff, 1, 2]).is_err());
    }

    fn props() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::btree_map("[^\u{1}\u{2}]{1,12}", "[^\u{1}\u{2}]{1,24}", 0..8)
            .prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #[test]
        fn properties_round_trip(p in props()) {
            let s = encode_properties(p.iter().map(|(k, v)| (k, v)));
            prop_assert_eq!(s.len(), encoded_properties_len(p.iter().map(|(k, v)| (k, v))));
            prop_assert_eq!(decode_properties(&s), p);
        }

        #[test]
        fn decode_never_panics(s in "[\u{1}\u{2}a-cé]{0,40}") {
            let _ = decode_properties(&s);
        }
    }
}
