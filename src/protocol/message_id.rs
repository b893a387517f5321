//! Message ids: the client id `UNIQ_KEY` (Java `MessageClientIDSetter`) and the
//! broker's offset message id (Java `MessageDecoder.createMessageId`), both uppercase hex.
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::error::ProtocolError;

const HEX: &[u8; 16] = b"0123456789ABCDEF";
const MS_PER_DAY: i64 = 86_400_000;
/// Longest id: 16-byte IPv6 + 12 bytes, in hex.
const MAX_ID_LEN: usize = 56;

fn hex_into(bytes: &[u8], out: &mut [u8]) {
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[(b >> 4) as usize];
        pair[1] = HEX[(b & 0xF) as usize];
    }
}

fn push_hex(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xF) as usize] as char);
    }
}

fn hex_nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes hex (either case) into `out`, which must be exactly half as long.
fn unhex(s: &str, out: &mut [u8]) -> Option<()> {
    let s = s.as_bytes();
    if s.len() != out.len() * 2 {
        return None;
    }
    for (b, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *b = (hex_nibble(pair[0])? << 4) | hex_nibble(pair[1])?;
    }
    Some(())
}

fn invalid(field: &'static str, value: &str) -> ProtocolError {
    ProtocolError::InvalidField {
        field,
        value: value.to_owned(),
    }
}

fn ip_octets(ip: IpAddr, out: &mut [u8; 16]) -> usize {
    match ip {
        IpAddr::V4(v4) => {
            out[..4].copy_from_slice(&v4.octets());
            4
        }
        IpAddr::V6(v6) => {
            out.copy_from_slice(&v6.octets());
            16
        }
    }
}

fn ip_from(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| Ipv4Addr::from(b).into()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| Ipv6Addr::from(b).into()),
        _ => None,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1..=12) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m)
}

/// Start of the UTC month holding `now_ms` and of the next one, epoch ms.
///
/// UTC, not local time as in Java: std has no time-zone database, and the
/// field is opaque (only Java's "nearly time" decoder reads it, off by the
/// zone offset at worst).
pub fn month_bounds_ms(now_ms: i64) -> (i64, i64) {
    let (y, m) = civil_from_days(now_ms.div_euclid(MS_PER_DAY));
    // Saturating: `next_at` accepts any i64, even one near the end of time.
    let start = days_from_civil(y, m, 1).saturating_mul(MS_PER_DAY);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (start, days_from_civil(ny, nm, 1).saturating_mul(MS_PER_DAY))
}

/// The wall clock in epoch milliseconds (0 before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The wall clock (epoch ms) at a monotonic instant, read from the system
/// clock at most once per [`WallClock::REFRESH`]: a send's born time costs no
/// clock read of its own, yet follows a stepped system clock within that time.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    at: Option<(Instant, i64)>,
}

impl WallClock {
    /// How long one reading of the system clock is used.
    pub const REFRESH: Duration = Duration::from_secs(1);

    /// A clock not read yet.
    pub const fn new() -> Self {
        WallClock { at: None }
    }

    /// Epoch ms at `instant` (an instant of the last second or so).
    pub fn ms_at(&mut self, instant: Instant) -> i64 {
        // One subtraction per reading, not a compare and a subtraction.
        let ahead = self
            .at
            .map(|(base, ms)| (instant.checked_duration_since(base), base, ms));
        match ahead {
            Some((Some(d), _, ms)) if d < Self::REFRESH => ms + millis(d),
            Some((None, base, ms)) if base - instant < Self::REFRESH => ms - millis(base - instant),
            _ => {
                let (now, wall) = (Instant::now(), now_ms());
                let ms = if instant <= now {
                    wall - (now - instant).as_millis() as i64
                } else {
                    wall + (instant - now).as_millis() as i64
                };
                self.at = Some((instant, ms));
                ms
            }
        }
    }
}

/// Whole milliseconds of a short span, in 64-bit arithmetic (`as_millis` is 128-bit).
fn millis(d: std::time::Duration) -> i64 {
    d.as_secs() as i64 * 1000 + i64::from(d.subsec_millis())
}

impl Default for WallClock {
    fn default() -> Self {
        Self::new()
    }
}

/// One client id, on the stack (no allocation); derefs to `&str`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UniqId {
    buf: [u8; MAX_ID_LEN],
    len: u8,
}

impl UniqId {
    /// The id as uppercase hex (32 chars for IPv4, 56 for IPv6).
    pub fn as_str(&self) -> &str {
        // Only ASCII hex is ever written, so this cannot fail.
        std::str::from_utf8(self.buf.get(..self.len as usize).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl std::ops::Deref for UniqId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for UniqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for UniqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UniqId({})", self.as_str())
    }
}

/// Generates `UNIQ_KEY` client ids: IP | pid low 16 bits | random 4 bytes |
/// ms since the month start (signed 4 bytes) | counter (2 bytes), uppercase hex.
///
/// Shared by `&self` and lock-free: the fixed prefix is hex-encoded once, the
/// counter is an `AtomicU32`, and the month bounds sit in one `AtomicU64` so a
/// reader never sees a start from one month and an end from another. Month
/// recomputation on rollover is idempotent, so racing threads may both do it.
#[derive(Debug)]
pub struct UniqIdGenerator {
    prefix: [u8; MAX_ID_LEN],
    prefix_len: usize,
    /// (month start day << 32) | next month start day, days since the epoch.
    month_days: AtomicU64,
    counter: AtomicU32,
}

impl UniqIdGenerator {
    /// A generator for this host's `ip`, this process's id and a random 4 bytes
    /// (Java uses a class-loader hash; any per-process random value works).
    pub fn new(ip: IpAddr) -> Self {
        Self::with_parts(ip, std::process::id() as u16, rand::random())
    }

    /// A generator with every fixed part given (deterministic, for tests).
    pub fn with_parts(ip: IpAddr, pid: u16, random: u32) -> Self {
        let mut fixed = [0u8; 22];
        let mut ip_bytes = [0u8; 16];
        let n = ip_octets(ip, &mut ip_bytes);
        fixed[..n].copy_from_slice(&ip_bytes[..n]);
        fixed[n..n + 2].copy_from_slice(&pid.to_be_bytes());
        fixed[n + 2..n + 6].copy_from_slice(&random.to_be_bytes());
        let fixed_len = n + 6;
        let mut prefix = [0u8; MAX_ID_LEN];
        hex_into(&fixed[..fixed_len], &mut prefix[..fixed_len * 2]);
        UniqIdGenerator {
            prefix,
            prefix_len: fixed_len * 2,
            month_days: AtomicU64::new(0),
            counter: AtomicU32::new(0),
        }
    }

    /// Length of the ids this generator makes: 32 (IPv4) or 56 (IPv6).
    pub fn id_len(&self) -> usize {
        self.prefix_len + 12
    }

    /// The next id, on the stack.
    pub fn next(&self) -> UniqId {
        self.next_at(now_ms())
    }

    /// The next id as a `String`.
    pub fn next_id(&self) -> String {
        self.next().as_str().to_owned()
    }

    /// Appends the next id to `out` (no allocation when it has room).
    pub fn write_next(&self, out: &mut String) {
        out.push_str(self.next().as_str());
    }

    /// The next id as if the clock read `now_ms` (epoch ms).
    pub fn next_at(&self, now_ms: i64) -> UniqId {
        let start = self.month_start(now_ms);
        // Java: (int)(current - startTime), wrapping after ~24.8 days; small
        // negative values (clock stepped back) clamp to 0.
        let mut diff = now_ms.wrapping_sub(start) as i32;
        if diff < 0 && diff > -1_000_000 {
            diff = 0;
        }
        let count = self.counter.fetch_add(1, Ordering::Relaxed) as u16;
        let mut tail = [0u8; 6];
        tail[..4].copy_from_slice(&diff.to_be_bytes());
        tail[4..].copy_from_slice(&count.to_be_bytes());
        let mut id = UniqId {
            buf: self.prefix,
            len: (self.prefix_len + 12) as u8,
        };
        hex_into(&tail, &mut id.buf[self.prefix_len..self.prefix_len + 12]);
        id
    }

    /// Start of the current month, recomputed only when `now_ms` reaches the next one.
    fn month_start(&self, now_ms: i64) -> i64 {
        let packed = self.month_days.load(Ordering::Relaxed);
        let (start_day, next_day) = ((packed >> 32) as i64, (packed & 0xFFFF_FFFF) as i64);
        // Like Java, roll forward only: a clock stepping back keeps the month
        // (the diff then goes slightly negative and clamps to 0).
        if now_ms < next_day * MS_PER_DAY {
            return start_day * MS_PER_DAY;
        }
        let (start, next) = month_bounds_ms(now_ms);
        let (sd, nd) = (start / MS_PER_DAY, next / MS_PER_DAY);
        // Cache only dates that fit the packing (1970..~11 million years).
        if let (Ok(sd32), Ok(nd32)) = (u32::try_from(sd), u32::try_from(nd)) {
            self.month_days
                .store((u64::from(sd32) << 32) | u64::from(nd32), Ordering::Relaxed);
        }
        start
    }
}

/// The parts of a decoded `UNIQ_KEY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqIdInfo {
    /// The producer host's IP address.
    pub ip: IpAddr,
    /// Low 16 bits of the producer's process id.
    pub pid: u16,
    /// The per-process random (Java: class-loader hash).
    pub random: u32,
    /// Milliseconds since the start of the month it was made in (raw bits).
    pub ms_in_month: u32,
    /// Per-process sequence number (wraps at 65 535).
    pub counter: u16,
}

impl UniqIdInfo {
    /// Java's `getNearlyTimeFromID`: the time relative to the month of `now_ms`,
    /// or of the previous month if that would lie in the future.
    pub fn nearly_timestamp_ms(&self, now_ms: i64) -> i64 {
        let span = i64::from(self.ms_in_month);
        let (start, _) = month_bounds_ms(now_ms);
        if start.saturating_add(span) >= now_ms {
            let (prev, _) = month_bounds_ms(start.saturating_sub(1));
            prev.saturating_add(span)
        } else {
            start + span
        }
    }
}

/// Splits a `UNIQ_KEY` (32 hex chars for IPv4, 56 for IPv6) into its parts.
pub fn decode_uniq_id(id: &str) -> Result<UniqIdInfo, ProtocolError> {
    let mut bytes = [0u8; 28];
    let n = match id.len() {
        32 => 16,
        56 => 28,
        _ => return Err(invalid("UNIQ_KEY", id)),
    };
    let bytes = &mut bytes[..n];
    unhex(id, bytes).ok_or_else(|| invalid("UNIQ_KEY", id))?;
    let ip_len = n - 12;
    let (ip, rest) = bytes.split_at(ip_len);
    let ip = ip_from(ip).ok_or_else(|| invalid("UNIQ_KEY", id))?;
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    // rest is exactly 12 bytes: pid 2 | random 4 | time 4 | counter 2.
    Ok(UniqIdInfo {
        ip,
        pid: be16(&rest[0..2]),
        random: be32(&rest[2..6]),
        ms_in_month: be32(&rest[6..10]),
        counter: be16(&rest[10..12]),
    })
}

/// The broker's offset message id: store IP | port (4 bytes) | commit-log offset (8 bytes).
pub fn encode_offset_msg_id(store_host: SocketAddr, offset: i64) -> String {
    let mut out = String::with_capacity(MAX_ID_LEN);
    write_offset_msg_id(store_host, offset, &mut out);
    out
}

/// Appends the offset message id to `out`.
pub fn write_offset_msg_id(store_host: SocketAddr, offset: i64, out: &mut String) {
    let mut buf = [0u8; 28];
    let mut ip = [0u8; 16];
    let n = ip_octets(store_host.ip(), &mut ip);
    buf[..n].copy_from_slice(&ip[..n]);
    buf[n..n + 4].copy_from_slice(&i32::from(store_host.port()).to_be_bytes());
    buf[n + 4..n + 12].copy_from_slice(&offset.to_be_bytes());
    push_hex(&buf[..n + 12], out);
}

/// Decodes an offset message id: IPv4 when 32 chars, IPv6 when 56.
pub fn decode_offset_msg_id(id: &str) -> Result<(SocketAddr, i64), ProtocolError> {
    let n = match id.len() {
        32 => 16,
        56 => 28,
        _ => return Err(invalid("offsetMsgId", id)),
    };
    let mut bytes = [0u8; 28];
    let bytes = &mut bytes[..n];
    unhex(id, bytes).ok_or_else(|| invalid("offsetMsgId", id))?;
    let (ip, rest) = bytes.split_at(n - 12);
    let ip = ip_from(ip).ok_or_else(|| invalid("offsetMsgId", id))?;
    let port = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let port = u16::try_from(port).map_err(|_| invalid("offsetMsgId", id))?;
    let mut off = [0u8; 8];
    off.copy_from_slice(&rest[4..12]);
    Ok((SocketAddr::new(ip, port), i64::from_be_bytes(off)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wall_clock_follows_the_system_clock_between_readings() {
        let mut clock = WallClock::new();
        let t0 = Instant::now();
        let before = now_ms();
        let ms0 = clock.ms_at(t0);
        assert!((ms0 - before).abs() <= 2, "{ms0} vs {before}");
        // Within the refresh time: derived from the reading, exact to the ms.
        assert_eq!(clock.ms_at(t0 + Duration::from_millis(250)), ms0 + 250);
        assert_eq!(clock.ms_at(t0 - Duration::from_millis(40)), ms0 - 40);
        // Past it: read again (here the instant is in the future, so it is rebased on it).
        let later = t0 + WallClock::REFRESH + Duration::from_millis(5);
        let ms = clock.ms_at(later);
        assert!((ms - (now_ms() + (later - Instant::now()).as_millis() as i64)).abs() <= 2);
    }

    #[test]
    fn offset_msg_id_spec_example() {
        let addr: SocketAddr = "10.0.0.5:10911".parse().unwrap();
        let id = encode_offset_msg_id(addr, 0x1234);
        assert_eq!(id, "0A00000500002A9F0000000000001234");
        assert_eq!(decode_offset_msg_id(&id), Ok((addr, 0x1234)));
        assert_eq!(
            decode_offset_msg_id("0a00000500002a9f0000000000001234"),
            Ok((addr, 0x1234))
        );
        let golden = decode_offset_msg_id("7F00000100007F850000000000001705").unwrap();
        assert_eq!(golden, ("127.0.0.1:32645".parse().unwrap(), 0x1705));
    }

    #[test]
    fn offset_msg_id_ipv6_and_errors() {
        let addr: SocketAddr = "[2001:db8::1]:10911".parse().unwrap();
        let id = encode_offset_msg_id(addr, -1);
        assert_eq!(id.len(), 56);
        assert_eq!(decode_offset_msg_id(&id), Ok((addr, -1)));
        assert!(decode_offset_msg_id("").is_err());
        assert!(decode_offset_msg_id("0A00000500002A9F000000000000123").is_err());
        assert!(decode_offset_msg_id("0A00000500002A9F000000000000123G").is_err());
        assert!(decode_offset_msg_id("0A000005FFFFFFFF0000000000001234").is_err());
        assert!(decode_offset_msg_id("ÄÄ00000500002A9F00000000000012").is_err());
    }

    #[test]
    fn uniq_id_layout_matches_golden_capture() {
        // mx client, 2026-11-22: C0000202 253E AC4C820C 6C47F9C1 0005, born 1795307856321.
        let ids = UniqIdGenerator::with_parts("192.0.2.2".parse().unwrap(), 0x253E, 0xAC4C_820C);
        let now = 1_795_307_856_321;
        for _ in 0..5 {
            ids.next_at(now);
        }
        let id = ids.next_at(now);
        assert_eq!(id.as_str(), "C0000202253EAC4C820C6C47F9C10005");
        assert_eq!(ids.id_len(), 32);
        let info = decode_uniq_id(&id).unwrap();
        assert_eq!(info.ip, "192.0.2.2".parse::<IpAddr>().unwrap());
        assert_eq!(
            (info.pid, info.random, info.counter),
            (0x253E, 0xAC4C_820C, 5)
        );
        assert_eq!(info.nearly_timestamp_ms(now + 10), now);
    }

    #[test]
    fn uniq_id_spec_example_and_ipv6() {
        let ids = UniqIdGenerator::with_parts("10.0.0.9".parse().unwrap(), 0x3039, 0x1B6D_3586);
        let (start, _) = month_bounds_ms(1_700_000_000_000);
        ids.counter.store(1, Ordering::Relaxed);
        let id = ids.next_at(start + 0x0A1B_2C3D);
        assert_eq!(id.to_string(), "0A00000930391B6D35860A1B2C3D0001");
        let gen6 = UniqIdGenerator::with_parts("2001:db8::2".parse().unwrap(), 1, 2);
        let id = gen6.next_id();
        assert_eq!(id.len(), 56);
        assert!(id.starts_with("20010DB8000000000000000000000002"));
        assert_eq!(decode_uniq_id(&id).unwrap().pid, 1);
        assert!(decode_uniq_id("XYZ").is_err());
        let mut buf = String::new();
        ids.write_next(&mut buf);
        ids.write_next(&mut buf);
        assert_eq!(buf.len(), 64);
    }

    #[test]
    fn month_bounds_and_clamp() {
        // 2026-11-01T00:00Z and 2026-12-01T00:00Z.
        assert_eq!(
            month_bounds_ms(1_795_307_856_321),
            (1_793_491_200_000, 1_793_491_200_000 + 30 * MS_PER_DAY)
        );
        // December rolls into the next year; Feb 2024 has 29 days.
        let dec = days_from_civil(2025, 12, 15) * MS_PER_DAY;
        assert_eq!(
            month_bounds_ms(dec).1,
            days_from_civil(2026, 1, 1) * MS_PER_DAY
        );
        let feb = days_from_civil(2024, 2, 10) * MS_PER_DAY;
        let (s, e) = month_bounds_ms(feb);
        assert_eq!((e - s) / MS_PER_DAY, 29);
        // A clock stepping back across the month start gives 0, not a negative time.
        let ids = UniqIdGenerator::with_parts(Ipv4Addr::LOCALHOST.into(), 0, 0);
        let (start, _) = month_bounds_ms(1_795_307_856_321);
        ids.next_at(start + 5);
        let info = decode_uniq_id(&ids.next_at(start - 3)).unwrap();
        assert_eq!(info.ms_in_month, 0);
        let after_roll = decode_uniq_id(&ids.next_at(start + 30 * MS_PER_DAY + 7)).unwrap();
        assert_eq!(after_roll.ms_in_month, 7);
    }

    #[test]
    fn ids_are_unique_across_threads_and_extreme_clocks_do_not_panic() {
        let ids = std::sync::Arc::new(UniqIdGenerator::new(Ipv4Addr::LOCALHOST.into()));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let ids = ids.clone();
                std::thread::spawn(move || (0..5000).map(|_| ids.next_id()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<String> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 20_000);
        for now in [i64::MIN, -1, 0, i64::MAX] {
            let id = ids.next_at(now);
            let _ = decode_uniq_id(&id).unwrap().nearly_timestamp_ms(now);
        }
    }

    proptest! {
        #[test]
        fn offset_msg_id_round_trip(a in any::<[u8; 4]>(), b in any::<[u8; 16]>(), port: u16, off: i64, v6: bool) {
            let ip: IpAddr = if v6 { Ipv6Addr::from(b).into() } else { Ipv4Addr::from(a).into() };
            let addr = SocketAddr::new(ip, port);
            prop_assert_eq!(decode_offset_msg_id(&encode_offset_msg_id(addr, off)), Ok((addr, off)));
        }

        #[test]
        fn month_bounds_hold(now in 0i64..4_102_444_800_000) {
            let (s, e) = month_bounds_ms(now);
            prop_assert!(s <= now && now < e);
            prop_assert!((28..=31).contains(&((e - s) / MS_PER_DAY)));
            prop_assert_eq!(civil_from_days(s / MS_PER_DAY).1 % 12 + 1, civil_from_days(e / MS_PER_DAY).1);
        }

        #[test]
        fn decoders_never_panic(s in "\\PC{0,60}") {
            let _ = decode_offset_msg_id(&s);
            let _ = decode_uniq_id(&s);
        }
    }
}
