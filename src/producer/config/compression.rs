//! When and how single-message bodies are compressed: the threshold, the codec
//! (Java 5.x `compressType`) and its level. Batches are never compressed, as in Java.
use std::str::FromStr;

use super::{ProducerConfig, ProducerConfigBuilder};
use crate::error::Error;
use crate::protocol::compression::CompressionType;

impl FromStr for CompressionType {
    type Err = Error;

    /// Java's `CompressionType.of`: the name (`ZLIB`, `LZ4`, `ZSTD`), trimmed, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        [
            CompressionType::Zlib,
            CompressionType::Lz4,
            CompressionType::Zstd,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let shown: String = name.chars().take(32).collect();
            Error::config(format!(
                "unknown compression type {shown:?}; use ZLIB, LZ4 or ZSTD"
            ))
        })
    }
}

impl ProducerConfigBuilder {
    /// Sets the compression threshold in bytes: single-message bodies at least
    /// this long are compressed (4096, Java `compressMsgBodyOverHowmuch`);
    /// `usize::MAX` turns compression off.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").compress_msg_body_over(1024).build()?;
    /// assert_eq!(c.compress_msg_body_over(), 1024);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn compress_msg_body_over(mut self, bytes: usize) -> Self {
        self.config.limits.compress_msg_body_over = bytes;
        self
    }

    /// Sets the level of the [`compress_type`](Self::compress_type) codec
    /// (default 5, Java `compressLevel`): zlib 0..=9, zstd 0..=22 (0 is
    /// libzstd's default, 3); LZ4 ignores it, as Java does. Checked by `build`.
    ///
    /// ```
    /// use actix_rocketmq::{CompressionType, ProducerConfig};
    /// assert!(ProducerConfig::builder("g").compress_level(10).build().is_err());
    /// let zstd = ProducerConfig::builder("g").compress_type(CompressionType::Zstd).compress_level(19).build()?;
    /// assert_eq!(zstd.compress_level(), 19);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn compress_level(mut self, level: u32) -> Self {
        self.config.limits.compress_level = level;
        self
    }

    /// Sets the codec of compressed single-message bodies (Java 5.x
    /// `compressType`, default [`CompressionType::Zlib`]). The sysFlag of each
    /// compressed message names its codec, so the broker and every consumer
    /// (Java 4.9.4+ / 5.x) inflate it; older consumers read only zlib.
    ///
    /// ```
    /// use actix_rocketmq::{CompressionType, ProducerConfig};
    /// let c = ProducerConfig::builder("g").compress_type(CompressionType::Lz4).build()?;
    /// assert_eq!(c.compress_type(), CompressionType::Lz4);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn compress_type(mut self, codec: CompressionType) -> Self {
        self.config.limits.compress_type = codec;
        self
    }
}

impl ProducerConfig {
    /// Bodies of at least this many bytes are compressed (4096); `usize::MAX` disables it.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.compress_msg_body_over(), 4096);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn compress_msg_body_over(&self) -> usize {
        self.limits.compress_msg_body_over
    }

    /// The codec's level (5).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.compress_level(), 5);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn compress_level(&self) -> u32 {
        self.limits.compress_level
    }

    /// The codec of compressed bodies (ZLIB).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").build()?;
    /// assert_eq!(c.compress_type(), actix_rocketmq::CompressionType::Zlib);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn compress_type(&self) -> CompressionType {
        self.limits.compress_type
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_names_parse_in_any_case() {
        for (name, codec) in [
            ("ZLIB", CompressionType::Zlib),
            (" lz4 ", CompressionType::Lz4),
            ("Zstd", CompressionType::Zstd),
        ] {
            assert_eq!(name.parse::<CompressionType>().unwrap(), codec);
            assert_eq!(codec.to_string().parse::<CompressionType>().unwrap(), codec);
        }
        let err = "snappy".parse::<CompressionType>().unwrap_err();
        assert!(matches!(err.kind(), crate::error::ErrorKind::Config(_)));
        assert!(err.to_string().contains("snappy"), "{err}");
        let long = "x".repeat(10_000).parse::<CompressionType>().unwrap_err();
        assert!(long.to_string().len() < 200);
    }

    #[test]
    fn the_level_is_checked_for_the_codec() {
        let build = |t, l| {
            ProducerConfig::builder("g")
                .compress_type(t)
                .compress_level(l)
                .build()
        };
        assert!(build(CompressionType::Zlib, 9).is_ok());
        assert!(build(CompressionType::Zlib, 10).is_err());
        assert!(build(CompressionType::Zstd, 22).is_ok());
        let err = build(CompressionType::Zstd, 23).unwrap_err();
        assert!(err.to_string().contains("ZSTD"), "{err}");
        assert!(build(CompressionType::Lz4, 1000).is_ok());
        assert_eq!(
            ProducerConfig::builder("g")
                .build()
                .unwrap()
                .compress_type(),
            CompressionType::Zlib
        );
    }
}
