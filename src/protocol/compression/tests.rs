use super::*;
use proptest::prelude::*;

const ALL: [CompressionType; 3] = [
    CompressionType::Zlib,
    CompressionType::Lz4,
    CompressionType::Zstd,
];

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
fn lz4_is_a_frame_as_java_writes_it() {
    let body = b"order-created ".repeat(600);
    let z = compress_lz4(&body).unwrap();
    // Magic 0x184D2204 (LE), FLG: version 01, independent blocks, no checksums or size.
    assert_eq!(z[..4], [0x04, 0x22, 0x4D, 0x18]);
    assert_eq!(z[4], 0x60);
    // BD: a standard block size (64 KiB..4 MiB: 4..=7), reserved bits clear.
    assert!(
        (4..=7).contains(&(z[5] >> 4)) && z[5] & 0x8F == 0,
        "{:#x}",
        z[5]
    );
    // EndMark: the frame ends with a zero block size.
    assert_eq!(z[z.len() - 4..], [0, 0, 0, 0]);
    assert!(z.len() < body.len() / 4);
    let flag = CompressionType::Lz4.sys_flag();
    assert_eq!(flag, 0x101);
    assert_eq!(decompress(&z, flag, body.len()).unwrap(), body);
}

#[test]
fn lz4_size_prepended_blocks_are_read_too() {
    // RocketMQ-Rust's client writes a u32 LE length and a raw block.
    let body = b"abcabcabcabc-rust-client".repeat(300);
    let z = lz4_flex::block::compress_prepend_size(&body);
    assert_eq!(decompress_lz4(&z, body.len()).unwrap(), body);
    assert!(decompress_lz4(&z, body.len() - 1).is_err());
    // A length far beyond what the block could hold is refused before allocating.
    let mut lying = z.clone();
    lying[..4].copy_from_slice(&(60u32 << 20).to_le_bytes());
    assert!(decompress_lz4(&lying, 64 << 20).is_err());
}

#[test]
fn zstd_is_a_zstandard_frame_at_the_level() {
    let body = b"{\"order\":42,\"state\":\"paid\"}".repeat(300);
    let z5 = compress_zstd(&body, 5).unwrap();
    // Zstandard frame magic 0xFD2FB528 (LE).
    assert_eq!(z5[..4], [0x28, 0xB5, 0x2F, 0xFD]);
    assert_eq!(CompressionType::Zstd.sys_flag(), 0x201);
    assert_eq!(decompress(&z5, 0x201, body.len()).unwrap(), body);
    for level in [0, 1, 19, ZSTD_MAX_LEVEL] {
        let z = compress_zstd(&body, level).unwrap();
        assert_eq!(
            decompress_zstd(&z, body.len()).unwrap(),
            body,
            "level {level}"
        );
    }
    assert!(compress_zstd(&body, ZSTD_MAX_LEVEL + 1).is_err());
    // Java's ZstdOutputStream states no content size: the stream path reads it, bounded.
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 5).unwrap();
    for piece in body.chunks(1000) {
        std::io::Write::write_all(&mut enc, piece).unwrap();
    }
    let streamed = enc.finish().unwrap();
    assert!(matches!(
        zstd::zstd_safe::get_frame_content_size(&streamed),
        Ok(None)
    ));
    assert_eq!(decompress_zstd(&streamed, body.len()).unwrap(), body);
    assert!(decompress_zstd(&streamed, body.len() - 1).is_err());
    // Two frames back to back inflate to both bodies.
    let two = [z5.to_vec(), streamed].concat();
    assert_eq!(
        decompress_zstd(&two, 2 * body.len()).unwrap(),
        body.repeat(2)
    );
}

#[test]
fn sys_flag_bits_name_each_codec() {
    for codec in ALL {
        let flag = codec.sys_flag();
        assert_eq!(flag & sys_flag::COMPRESSED, sys_flag::COMPRESSED);
        assert_eq!(CompressionType::from_sys_flag(flag), Ok(codec));
        // Other bits (transaction type, IPv6 hosts) do not change the codec.
        assert_eq!(
            CompressionType::from_sys_flag(flag | sys_flag::TRANSACTION_PREPARED_TYPE | 0x30),
            Ok(codec)
        );
    }
    assert_eq!(CompressionType::Zlib.sys_flag_bits(), 0x300);
    assert_eq!(CompressionType::Lz4.sys_flag_bits(), 0x100);
    assert_eq!(CompressionType::Zstd.sys_flag_bits(), 0x200);
    // Type 0 is zlib (senders before 4.9.4); 4..=7 are unknown.
    assert_eq!(
        CompressionType::from_sys_flag(0x1),
        Ok(CompressionType::Zlib)
    );
    for t in 4..=7 {
        let err = decompress(b"x", (t << 8) | 1, 10).unwrap_err();
        assert!(
            err.to_string().contains("unknown compression type"),
            "{err}"
        );
    }
}

#[test]
fn levels_per_codec() {
    assert!(CompressionType::Zlib.check_level(9).is_ok());
    assert!(CompressionType::Zlib.check_level(10).is_err());
    assert!(CompressionType::Zstd.check_level(22).is_ok());
    assert!(CompressionType::Zstd.check_level(23).is_err());
    // LZ4 ignores the level, as Java does: the same bytes at any level.
    assert!(CompressionType::Lz4.check_level(u32::MAX).is_ok());
    let body = vec![7u8; 10_000];
    assert_eq!(
        compress(&body, CompressionType::Lz4, 0).unwrap(),
        compress(&body, CompressionType::Lz4, 99).unwrap()
    );
    assert!(compress(&body, CompressionType::Zlib, 10).is_err());
}

#[test]
fn bombs_are_refused_for_every_codec() {
    let big = vec![0u8; 1 << 20];
    for codec in ALL {
        let z = compress(&big, codec, 9).unwrap();
        assert!(z.len() < 64 << 10, "{codec}: {} bytes", z.len());
        let err = decompress(&z, codec.sys_flag(), (1 << 19) - 1).unwrap_err();
        assert!(
            err.to_string().contains("exceeds the limit"),
            "{codec}: {err}"
        );
        assert_eq!(
            decompress(&z, codec.sys_flag(), 1 << 20).unwrap().len(),
            1 << 20
        );
    }
}

#[test]
fn garbage_and_truncation_are_typed_errors() {
    let body = b"truncate me please ".repeat(500);
    for codec in ALL {
        let flag = codec.sys_flag();
        let z = compress(&body, codec, 5).unwrap();
        let cut = decompress(&z[..z.len() / 2], flag, 1 << 20);
        assert!(
            matches!(cut, Err(ProtocolError::Compression(_))),
            "{codec}: {cut:?}"
        );
        for junk in [&b""[..], b"no", b"not compressed at all, just text"] {
            let r = decompress(junk, flag, 1 << 20);
            assert!(
                matches!(r, Err(ProtocolError::Compression(_))),
                "{codec} {junk:?}: {r:?}"
            );
        }
        // Bounded error text whatever the input.
        let r = decompress(&vec![0xAB; 100_000], flag, 1 << 20);
        assert!(r.is_err_and(|e| e.to_string().len() < 200), "{codec}");
    }
    assert!(compress_zlib(b"x", 10).is_err());
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

fn codec() -> impl Strategy<Value = CompressionType> {
    prop_oneof![
        Just(CompressionType::Zlib),
        Just(CompressionType::Lz4),
        Just(CompressionType::Zstd)
    ]
}

proptest! {
    #[test]
    fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..5000), level in 0u32..=9) {
        let z = compress_zlib(&data, level).unwrap();
        prop_assert_eq!(decompress_zlib(&z, data.len()).unwrap(), data);
    }

    #[test]
    fn every_codec_round_trips(
        data in proptest::collection::vec(prop_oneof![Just(b'a'), any::<u8>()], 0..20_000),
        codec in codec(),
        level in 0u32..=9,
    ) {
        let z = compress(&data, codec, level).unwrap();
        let back = decompress(&z, codec.sys_flag(), data.len()).unwrap();
        prop_assert_eq!(back, data);
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), codec in codec()) {
        let _ = decompress(&data, codec.sys_flag(), 4096);
        // Garbage behind a valid LZ4 frame magic reaches the frame decoder.
        let mut framed = LZ4_FRAME_MAGIC.to_vec();
        framed.extend_from_slice(&data);
        let _ = decompress_lz4(&framed, 4096);
    }
}
