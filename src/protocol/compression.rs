//! Message body compression: zlib streams (RFC 1950) like Java's `Deflater`,
//! chosen by the sysFlag compression-type bits 8-10.
use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::error::ProtocolError;
use super::sys_flag;

/// Compress single-message bodies of at least this many bytes (`compressMsgBodyOverHowmuch`).
pub const DEFAULT_COMPRESS_OVER: usize = 4096;
/// Java's default `rocketmq.message.compressLevel`.
pub const DEFAULT_COMPRESS_LEVEL: u32 = 5;
/// The sysFlag bits a producer sets on a zlib-compressed body (4.9.4+ style).
pub const ZLIB_SYS_FLAG: i32 = sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB;

/// A compression codec named by sysFlag bits 8-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionType {
    /// zlib stream (RFC 1950), sysFlag type `0x300` or 0; the Java default and the only one this crate writes.
    Zlib,
    /// LZ4, sysFlag type `0x100`; recognised but not decoded.
    Lz4,
    /// Zstandard, sysFlag type `0x200`; recognised but not decoded.
    Zstd,
}

impl CompressionType {
    /// The codec of `sys_flag`; type 0 is zlib (senders older than 4.9.4).
    pub fn from_sys_flag(flag: i32) -> Result<Self, ProtocolError> {
        match flag & sys_flag::COMPRESSION_TYPE_MASK {
            0 | sys_flag::COMPRESSION_ZLIB => Ok(CompressionType::Zlib),
            sys_flag::COMPRESSION_LZ4 => Ok(CompressionType::Lz4),
            sys_flag::COMPRESSION_ZSTD => Ok(CompressionType::Zstd),
            other => Err(ProtocolError::Compression(format!(
                "unknown compression type {:#x} in sysFlag {flag:#x}",
                other >> 8
            ))),
        }
    }

    /// The sysFlag bits of this codec (without `COMPRESSED`).
    pub fn sys_flag_bits(self) -> i32 {
        match self {
            CompressionType::Zlib => sys_flag::COMPRESSION_ZLIB,
            CompressionType::Lz4 => sys_flag::COMPRESSION_LZ4,
            CompressionType::Zstd => sys_flag::COMPRESSION_ZSTD,
        }
    }
}

fn zlib_error(what: &str, e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::Compression(format!("zlib {what}: {e}"))
}

/// Compresses `data` as a zlib stream at `level` (0-9; Java's default is 5).
pub fn compress_zlib(data: &[u8], level: u32) -> Result<Bytes, ProtocolError> {
    if level > 9 {
        return Err(ProtocolError::Compression(format!(
            "zlib level {level} is out of range 0-9"
        )));
    }
    let mut c = Compress::new(Compression::new(level), true);
    // Text bodies shrink a lot; start at half and let the loop grow it.
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        let consumed = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or_default();
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        let (in_before, out_before) = (c.total_in(), c.total_out());
        match c
            .compress_vec(input, &mut out, FlushCompress::Finish)
            .map_err(|e| zlib_error("compression failed", e))?
        {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                // Guard against spinning: no progress with room left cannot recover.
                let stuck = c.total_in() == in_before && c.total_out() == out_before;
                if stuck && out.len() < out.capacity() {
                    return Err(zlib_error("compression failed", "no progress"));
                }
            }
        }
    }
    Ok(Bytes::from(out))
}

/// Compresses `body` when it is at least `over` bytes long (Java
/// `tryToCompressMessage`), returning the new body; the caller then ORs
/// [`ZLIB_SYS_FLAG`] into the message's sysFlag.
pub fn maybe_compress(
    body: &[u8],
    over: usize,
    level: u32,
) -> Result<Option<Bytes>, ProtocolError> {
    if body.len() < over {
        return Ok(None);
    }
    compress_zlib(body, level).map(Some)
}

/// Inflates a zlib stream, refusing output larger than `max_output` bytes
/// (zip-bomb guard) and truncated or corrupt streams.
pub fn decompress_zlib(data: &[u8], max_output: usize) -> Result<Bytes, ProtocolError> {
    let mut d = Decompress::new(true);
    let limit = max_output.saturating_add(1);
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).max(64).min(limit));
    loop {
        let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or_default();
        if out.len() == out.capacity() {
            if out.len() >= limit {
                return Err(ProtocolError::Compression(format!(
                    "inflated body exceeds the limit of {max_output} bytes"
                )));
            }
            let grow = out.capacity().min(limit - out.len());
            out.reserve_exact(grow);
        }
        let (in_before, out_before) = (d.total_in(), d.total_out());
        match d
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|e| zlib_error("stream is corrupt", e))?
        {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                // No progress with room left means the input ended mid-stream.
                let stuck = d.total_in() == in_before && d.total_out() == out_before;
                if stuck && out.len() < out.capacity() {
                    return Err(ProtocolError::Compression(
                        "zlib stream is truncated".to_owned(),
                    ));
                }
            }
        }
    }
    if out.len() > max_output {
        return Err(ProtocolError::Compression(format!(
            "inflated body exceeds the limit of {max_output} bytes"
        )));
    }
    Ok(Bytes::from(out))
}

/// Decompresses a body by the codec in `sys_flag` (zlib only; LZ4/ZSTD are refused).
pub fn decompress(data: &[u8], sys_flag: i32, max_output: usize) -> Result<Bytes, ProtocolError> {
    match CompressionType::from_sys_flag(sys_flag)? {
        CompressionType::Zlib => decompress_zlib(data, max_output),
        other => Err(ProtocolError::Compression(format!(
            "{other:?} compressed bodies are not supported (sysFlag {sys_flag:#x}); only zlib is"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zlib_stream_header_and_round_trip() {
        let body = vec![b'x'; 8192];
        let z = compress_zlib(&body, DEFAULT_COMPRESS_LEVEL).unwrap();
        // RFC 1950 header: CM=8, CINFO=7 (0x78), FCHECK makes it a multiple of 31.
        assert_eq!(z[0], 0x78);
        assert_eq!(u16::from_be_bytes([z[0], z[1]]) % 31, 0);
        assert!(z.len() < 100);
        assert_eq!(decompress(&z, ZLIB_SYS_FLAG, 8192).unwrap(), body);
        assert_eq!(decompress(&z, sys_flag::COMPRESSED, 8192).unwrap(), body);
        assert_eq!(
            compress_zlib(b"", 0).map(|z| decompress_zlib(&z, 0)),
            Ok(Ok(Bytes::new()))
        );
    }

    #[test]
    fn zip_bomb_and_garbage_are_refused() {
        let z = compress_zlib(&vec![0u8; 1 << 20], 9).unwrap();
        assert!(matches!(
            decompress_zlib(&z, 1 << 19),
            Err(ProtocolError::Compression(_))
        ));
        assert!(decompress_zlib(&z, 1 << 20).is_ok());
        assert!(decompress_zlib(&z[..z.len() / 2], 1 << 20).is_err());
        assert!(decompress_zlib(b"not zlib at all", 1024).is_err());
        assert!(decompress_zlib(b"", 1024).is_err());
        assert!(compress_zlib(b"x", 10).is_err());
    }

    #[test]
    fn other_codecs_are_unsupported() {
        for flag in [0x101, 0x201] {
            let err = decompress(b"x", flag, 10).unwrap_err();
            assert!(err.to_string().contains("not supported"), "{err}");
        }
        assert!(decompress(b"x", 0x401, 10).is_err());
        assert_eq!(
            CompressionType::from_sys_flag(0x301),
            Ok(CompressionType::Zlib)
        );
    }

    #[test]
    fn threshold() {
        assert_eq!(
            maybe_compress(&[1; 4095], DEFAULT_COMPRESS_OVER, 5),
            Ok(None)
        );
        assert!(
            maybe_compress(&[1; 4096], DEFAULT_COMPRESS_OVER, 5)
                .unwrap()
                .is_some()
        );
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..5000), level in 0u32..=9) {
            let z = compress_zlib(&data, level).unwrap();
            prop_assert_eq!(decompress_zlib(&z, data.len()).unwrap(), data);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decompress_zlib(&data, 4096);
        }
    }
}
