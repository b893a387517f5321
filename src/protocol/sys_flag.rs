//! Message `sysFlag` bits (Java `MessageSysFlag`): compression type,
//! transaction type and the store's record flags.
/// The body is compressed (type in bits 8-10).
pub const COMPRESSED: i32 = 0x1;
/// Set by the broker for MULTI_TAG topics.
pub const MULTI_TAGS: i32 = 0x2;
/// Not transactional (or: END_TRANSACTION "unknown").
pub const TRANSACTION_NOT_TYPE: i32 = 0;
/// A transactional half message (set when `TRAN_MSG=true`).
pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
/// Transaction committed.
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
/// Transaction rolled back.
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
/// Mask of the transaction type bits 2-3.
pub const TRANSACTION_TYPE_MASK: i32 = 0xC;
/// The born host in a stored record is IPv6 (16 bytes).
pub const BORNHOST_V6: i32 = 0x10;
/// The store host in a stored record is IPv6 (16 bytes).
pub const STOREHOST_V6: i32 = 0x20;
/// The record is an inner batch that must be unwrapped (broker-set).
pub const NEED_UNWRAP: i32 = 0x40;
/// The record is a 5.x inner batch (broker-set).
pub const INNER_BATCH: i32 = 0x80;
/// Compression type LZ4.
pub const COMPRESSION_LZ4: i32 = 0x100;
/// Compression type Zstandard.
pub const COMPRESSION_ZSTD: i32 = 0x200;
/// Zlib; a compression type of 0 also means zlib (pre-4.9.4 senders).
pub const COMPRESSION_ZLIB: i32 = 0x300;
/// Mask of the compression type bits 8-10.
pub const COMPRESSION_TYPE_MASK: i32 = 0x700;

/// The transaction type bits of `flag`.
pub fn transaction_type(flag: i32) -> i32 {
    flag & TRANSACTION_TYPE_MASK
}
