//! Message body compression, chosen by the sysFlag compression-type bits 8-10
//! as Java 5.x `compressType` does: zlib streams (RFC 1950, Java `Deflater`),
//! LZ4 frames (Java `LZ4FrameOutputStream`) and Zstandard frames (Java
//! `ZstdOutputStream`). Every inflate is bounded by a caller's output limit.
use std::fmt;
use std::io::Read;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};

use super::error::ProtocolError;
use super::sys_flag;

/// Compress single-message bodies of at least this many bytes (`compressMsgBodyOverHowmuch`).
pub const DEFAULT_COMPRESS_OVER: usize = 4096;
/// Java's default `rocketmq.message.compressLevel`.
pub const DEFAULT_COMPRESS_LEVEL: u32 = 5;
/// The sysFlag bits a producer sets on a zlib-compressed body (4.9.4+ style).
pub const ZLIB_SYS_FLAG: i32 = sys_flag::COMPRESSED | sys_flag::COMPRESSION_ZLIB;
/// The highest Zstandard level (libzstd's `ZSTD_maxCLevel`).
pub const ZSTD_MAX_LEVEL: u32 = 22;
/// LZ4 frame magic number (little-endian on the wire: `04 22 4D 18`).
const LZ4_FRAME_MAGIC: [u8; 4] = 0x184D_2204u32.to_le_bytes();

/// The codec of a compressed message body (Java `CompressionType`), named by
/// sysFlag bits 8-10. The producer's default is [`Zlib`](Self::Zlib), as in Java.
///
/// ```
/// use actix_rocketmq::CompressionType;
/// assert_eq!("lz4".parse::<CompressionType>()?, CompressionType::Lz4);
/// assert_eq!(CompressionType::default(), CompressionType::Zlib);
/// assert_eq!(CompressionType::Zstd.to_string(), "ZSTD");
/// # Ok::<(), actix_rocketmq::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CompressionType {
    /// zlib stream (RFC 1950) at `compress_level` 0-9; sysFlag type `0x300` (0 from senders before 4.9.4).
    #[default]
    Zlib,
    /// LZ4 frame, independent blocks, no checksums, as Java writes it; `compress_level` is ignored; sysFlag type `0x100`.
    Lz4,
    /// Zstandard frame at `compress_level` 1-22 (0: libzstd's default 3); sysFlag type `0x200`.
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

    /// The whole sysFlag of a body compressed with this codec (`COMPRESSED` | type).
    pub fn sys_flag(self) -> i32 {
        sys_flag::COMPRESSED | self.sys_flag_bits()
    }

    /// The Java name (`ZLIB`, `LZ4`, `ZSTD`).
    pub fn as_str(self) -> &'static str {
        match self {
            CompressionType::Zlib => "ZLIB",
            CompressionType::Lz4 => "LZ4",
            CompressionType::Zstd => "ZSTD",
        }
    }

    /// Why `level` does not suit this codec, if it does not (LZ4 ignores it, as Java does).
    pub(crate) fn check_level(self, level: u32) -> Result<(), String> {
        let max = match self {
            CompressionType::Zlib => 9,
            CompressionType::Zstd => ZSTD_MAX_LEVEL,
            CompressionType::Lz4 => return Ok(()),
        };
        if level > max {
            return Err(format!(
                "compress_level {level} is out of range for {self}; use 0 to {max}"
            ));
        }
        Ok(())
    }
}

impl fmt::Display for CompressionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn zlib_error(what: &str, e: impl fmt::Display) -> ProtocolError {
    ProtocolError::Compression(format!("zlib {what}: {e}"))
}

fn too_large(max_output: usize) -> ProtocolError {
    ProtocolError::Compression(format!(
        "inflated body exceeds the limit of {max_output} bytes"
    ))
}

/// Compresses `data` with `codec` at `level` (see [`CompressionType`] for what each makes of it).
pub fn compress(data: &[u8], codec: CompressionType, level: u32) -> Result<Bytes, ProtocolError> {
    match codec {
        CompressionType::Zlib => compress_zlib(data, level),
        CompressionType::Lz4 => compress_lz4(data),
        CompressionType::Zstd => compress_zstd(data, level),
    }
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

/// Compresses `data` as one LZ4 frame: independent blocks, no content size, no
/// checksums (Java's `LZ4FrameOutputStream` defaults; its reader takes any block size).
pub fn compress_lz4(data: &[u8]) -> Result<Bytes, ProtocolError> {
    let info = FrameInfo::new()
        .block_mode(BlockMode::Independent)
        // The smallest standard block size that fits: no 4 MiB buffers for a 5 KiB body.
        .block_size(BlockSize::Auto);
    let mut enc = FrameEncoder::with_frame_info(info, Vec::with_capacity(data.len() / 2 + 32));
    std::io::Write::write_all(&mut enc, data)
        .map_err(|e| ProtocolError::Compression(format!("lz4 compression failed: {e}")))?;
    enc.finish()
        .map(Bytes::from)
        .map_err(|e| ProtocolError::Compression(format!("lz4 compression failed: {e}")))
}

/// Compresses `data` as one Zstandard frame at `level` (1-22; 0 is libzstd's default).
pub fn compress_zstd(data: &[u8], level: u32) -> Result<Bytes, ProtocolError> {
    if level > ZSTD_MAX_LEVEL {
        return Err(ProtocolError::Compression(format!(
            "zstd level {level} is out of range 0-{ZSTD_MAX_LEVEL}"
        )));
    }
    // In range by the check above; the frame carries its content size, which any reader accepts.
    let level = i32::try_from(level).unwrap_or(zstd::DEFAULT_COMPRESSION_LEVEL);
    let err =
        |e: std::io::Error| ProtocolError::Compression(format!("zstd compression failed: {e}"));
    // A context per thread: making one costs more than compressing a 16 KiB body.
    ZSTD_COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let ctx = match &mut *slot {
            Some((l, ctx)) if *l == level => ctx,
            _ => {
                &mut slot
                    .insert((level, zstd::bulk::Compressor::new(level).map_err(err)?))
                    .1
            }
        };
        ctx.compress(data).map(Bytes::from).map_err(err)
    })
}

thread_local! {
    static ZSTD_COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Compresses `body` with zlib when it is at least `over` bytes long (Java
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
                return Err(too_large(max_output));
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
        return Err(too_large(max_output));
    }
    Ok(Bytes::from(out))
}

/// Reads `reader` to its end, stopping one byte past `max_output` (bomb guard).
fn read_bounded(
    reader: impl Read,
    codec: &str,
    compressed_len: usize,
    max_output: usize,
) -> Result<Bytes, ProtocolError> {
    let limit = u64::try_from(max_output)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut out = Vec::with_capacity(
        compressed_len
            .saturating_mul(4)
            .clamp(64, max_output.max(64)),
    );
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| ProtocolError::Compression(format!("{codec} body is corrupt: {e}")))?;
    if out.len() > max_output {
        return Err(too_large(max_output));
    }
    Ok(Bytes::from(out))
}

/// Inflates an LZ4 body: a frame as Java writes it, or a block prefixed with its
/// little-endian u32 length, as RocketMQ-Rust's own client writes it.
pub fn decompress_lz4(data: &[u8], max_output: usize) -> Result<Bytes, ProtocolError> {
    if data.starts_with(&LZ4_FRAME_MAGIC) {
        return read_bounded(FrameDecoder::new(data), "lz4", data.len(), max_output);
    }
    let Some((len, block)) = data.split_first_chunk::<4>() else {
        return Err(ProtocolError::Compression(format!(
            "lz4 body of {} bytes is neither a frame nor a sized block",
            data.len()
        )));
    };
    let len = usize::try_from(u32::from_le_bytes(*len)).unwrap_or(usize::MAX);
    if len > max_output {
        return Err(too_large(max_output));
    }
    // LZ4 expands at most 255:1; a larger claim is garbage, not worth allocating for.
    if len > block.len().saturating_mul(255).saturating_add(16) {
        return Err(ProtocolError::Compression(format!(
            "lz4 block of {} bytes cannot inflate to the {len} bytes it claims",
            block.len()
        )));
    }
    lz4_flex::block::decompress(block, len)
        .map(Bytes::from)
        .map_err(|e| ProtocolError::Compression(format!("lz4 body is corrupt: {e}")))
}

/// Inflates a Zstandard body (one or more frames), refusing more than `max_output` bytes.
pub fn decompress_zstd(data: &[u8], max_output: usize) -> Result<Bytes, ProtocolError> {
    if data.is_empty() {
        return Err(ProtocolError::Compression("zstd body is empty".to_owned()));
    }
    // A frame that states its size (this crate's) inflates in one call into a buffer of
    // that size; one that does not (Java's stream) or disagrees goes through the stream.
    if let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(data) {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > max_output {
            return Err(too_large(max_output));
        }
        if let Ok(out) = zstd::bulk::decompress(data, size) {
            return Ok(Bytes::from(out));
        }
    }
    let decoder = zstd::stream::read::Decoder::with_buffer(data)
        .map_err(|e| ProtocolError::Compression(format!("zstd decoder failed: {e}")))?;
    read_bounded(decoder, "zstd", data.len(), max_output)
}

/// Decompresses a body by the codec in `sys_flag`, refusing more than `max_output` bytes.
pub fn decompress(data: &[u8], sys_flag: i32, max_output: usize) -> Result<Bytes, ProtocolError> {
    match CompressionType::from_sys_flag(sys_flag)? {
        CompressionType::Zlib => decompress_zlib(data, max_output),
        CompressionType::Lz4 => decompress_lz4(data, max_output),
        CompressionType::Zstd => decompress_zstd(data, max_output),
    }
}

#[cfg(test)]
mod tests;
