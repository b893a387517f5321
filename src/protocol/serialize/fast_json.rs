//! A scanner for the common JSON header: no escapes, known keys, integer
//! numbers, string or null values. `None` means "not that shape".
use bytes::Bytes;

use super::{Header, intern_key};
use crate::protocol::codes::LanguageCode;
use crate::protocol::command::ExtFields;

/// Scans a `str`: every offset it stops at is next to an ASCII byte (a quote,
/// a digit, punctuation), so it is a char boundary and slicing cannot fail.
struct Cursor<'a> {
    s: &'a str,
    i: usize,
    /// The frame `s` lies in, when the values may be read in place.
    frame: Option<&'a Bytes>,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }
    fn peek(&mut self) -> Option<u8> {
        let b = self.bytes();
        while let Some(&c) = b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }
    /// A string without escapes or control characters (either declines the header).
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let len = string_end(&self.bytes()[start..])?;
        if self.bytes()[start + len] != b'"' {
            return None;
        }
        self.i = start + len + 1;
        self.s.get(start..start + len)
    }
    fn null(&mut self) -> Option<()> {
        if self.bytes()[self.i..].starts_with(b"null") {
            self.i += 4;
            Some(())
        } else {
            None
        }
    }
    fn int(&mut self) -> Option<i32> {
        self.peek()?;
        let b = self.bytes();
        let neg = b[self.i] == b'-';
        if neg {
            self.i += 1;
        }
        let start = self.i;
        let mut n: i64 = 0;
        while let Some(d) = b.get(self.i).filter(|c| c.is_ascii_digit()) {
            n = n * 10 + (d - b'0') as i64;
            if n > 1 << 31 {
                return None;
            }
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        i32::try_from(if neg { -n } else { n }).ok()
    }
    fn string_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            self.null().map(|_| None)
        } else {
            self.string().map(Some)
        }
    }
    /// `,` then more, or the closing `}`: `Some(true)` when the object ends.
    fn next_or_end(&mut self) -> Option<bool> {
        match self.peek()? {
            b',' => {
                self.i += 1;
                Some(false)
            }
            b'}' => {
                self.i += 1;
                Some(true)
            }
            _ => None,
        }
    }
    /// The `extFields` object: its values read in place from the frame when
    /// there is one, else copied into one shared string.
    fn ext_fields(&mut self) -> Option<ExtFields> {
        self.eat(b'{')?;
        let mut ext = match self.frame {
            Some(frame) => ExtFields::in_frame(frame.clone(), 8),
            // The values are a fraction of what is left: one allocation for all.
            None => ExtFields::with_capacity_and_bytes(8, self.s.len() - self.i),
        };
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(ext);
        }
        loop {
            let k = self.string()?;
            self.eat(b':')?;
            if let Some(v) = self.string_or_null()? {
                ext.push_in_frame(intern_key(k), v);
            }
            if self.next_or_end()? {
                return Some(ext);
            }
        }
    }
}

/// The index of the first `"`, `\\` or control byte: eight bytes per step.
fn string_end(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte of `w` below `n` (exact for the lowest such byte,
    // which is all `trailing_zeros` reads; bytes of 0x80 and up never match).
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * n as u64) & !w & HIGH;
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        let hits = below(w ^ (ONES * b'"' as u64), 1)
            | below(w ^ (ONES * b'\\' as u64), 1)
            | below(w, 0x20);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    tail.iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| at + p)
}

#[cfg(test)]
pub(super) fn string_end_for_test(b: &[u8]) -> Option<usize> {
    string_end(b)
}

#[cfg(test)]
pub(super) fn decode(src: &[u8]) -> Option<Header> {
    decode_in(src, None)
}

/// Decodes `src`; with `frame` (which `src` lies in), the ext fields' values
/// are read from it in place.
pub(super) fn decode_in(src: &[u8], frame: Option<&Bytes>) -> Option<Header> {
    let mut c = Cursor {
        s: std::str::from_utf8(src).ok()?,
        i: 0,
        frame,
    };
    let mut h = Header {
        code: 0,
        language: LanguageCode::default(),
        version: 0,
        opaque: 0,
        flag: 0,
        remark: None,
        ext_fields: None,
    };
    c.eat(b'{')?;
    if c.peek()? == b'}' {
        c.i += 1;
    } else {
        loop {
            let key = c.string()?;
            c.eat(b':')?;
            match key {
                "code" => h.code = c.int()?,
                "version" => h.version = c.int()?,
                "opaque" => h.opaque = c.int()?,
                "flag" => h.flag = c.int()?,
                "language" => {
                    h.language = c
                        .string_or_null()?
                        .map(LanguageCode::from_name)
                        .unwrap_or_default()
                }
                "remark" => h.remark = c.string_or_null()?.map(str::to_owned),
                "serializeTypeCurrentRPC" => {
                    c.string_or_null()?;
                }
                "extFields" => {
                    h.ext_fields = if c.peek()? == b'n' {
                        c.null()?;
                        None
                    } else {
                        Some(c.ext_fields()?)
                    };
                }
                _ => return None,
            }
            if c.next_or_end()? {
                break;
            }
        }
    }
    (c.peek().is_none()).then_some(h)
}
