//! Golden checks of the message layer against real captured frames
//! (tests/data, copied from shared/data/wire; see MANIFEST.md there).
use actix_rocketmq::internals::protocol::batch::{
    batch_header_properties, decode_batch_for_topic, encode_batch,
};
use actix_rocketmq::internals::protocol::message::{property, sys_flag};
use actix_rocketmq::internals::protocol::message_id::{decode_offset_msg_id, decode_uniq_id};
use actix_rocketmq::internals::protocol::stored::{decode_stored_messages, encode_stored_message};

/// Splits a frame (u32 len | u32 type<<24|headerLen | header | body) by hand,
/// independent of the crate's frame codec.
fn split_frame(frame: &[u8]) -> (&[u8], &[u8]) {
    let len = u32::from_be_bytes(frame[0..4].try_into().unwrap()) as usize;
    assert_eq!(
        len + 4,
        frame.len(),
        "length prefix counts the rest of the frame"
    );
    let word = u32::from_be_bytes(frame[4..8].try_into().unwrap());
    assert_eq!(word >> 24, 0, "JSON header");
    let header_len = (word & 0x00FF_FFFF) as usize;
    (&frame[8..8 + header_len], &frame[8 + header_len..])
}

#[test]
fn golden_batch_decodes_and_reencodes_byte_for_byte() {
    let frame = std::fs::read("tests/data/mx-send-batch-request.bin").unwrap();
    let (header, body) = split_frame(&frame);
    assert_eq!(body.len(), 656);
    let header = std::str::from_utf8(header).unwrap();
    assert!(header.contains(r#""code":320"#) && header.contains(r#""b":"WireSync""#));

    let msgs = decode_batch_for_topic(body, "WireSync").unwrap();
    assert_eq!(msgs.len(), 4);
    let tags = ["TagA", "TagB", "TagA", "TagB"];
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(m.topic, "WireSync");
        assert_eq!(m.flag, 0);
        assert_eq!(m.body.len(), 64);
        assert!(m.body.starts_with(b"xxxx"));
        assert_eq!(m.tags(), Some(tags[i]));
        assert_eq!(m.keys(), Some(format!("rust-key-{i}").as_str()));
        assert!(m.wait_store_msg_ok());
        assert_eq!(m.delay_level(), 0);
        let id = m.uniq_key().unwrap();
        assert_eq!(id, format!("C0000202253EAC4C820C6C47F9C1000{}", i + 1));
        let info = decode_uniq_id(id).unwrap();
        assert_eq!(info.ip.to_string(), "192.0.2.2");
        assert_eq!(info.counter as usize, i + 1);
        // bornTimestamp `g` of the request, recovered from the month offset.
        assert_eq!(
            info.nearly_timestamp_ms(1_795_307_856_321 + 1),
            1_795_307_856_321
        );
    }
    assert_eq!(
        msgs[2].properties().next().map(|p| p.0),
        Some(property::UNIQ_KEY)
    );

    let again = encode_batch(&msgs).unwrap();
    assert_eq!(&again[..], body);

    // The header `i` holds the wrapper's own id and WAIT in this order.
    let wrapper = batch_header_properties("C0000202253EAC4C820C6C47F9C10005", true);
    let escaped = wrapper
        .replace('\u{1}', "\\u0001")
        .replace('\u{2}', "\\u0002");
    assert!(header.contains(&format!(r#""i":"{escaped}""#)), "{escaped}");
}

#[test]
fn golden_pull_body_decodes_stored_records() {
    let frame = std::fs::read("tests/data/broker-pull-found-response.bin").unwrap();
    let (_, body) = split_frame(&frame);
    let msgs = decode_stored_messages(body).unwrap();
    assert_eq!(msgs.len(), 2);

    let m0 = &msgs[0];
    assert_eq!(m0.topic, "WireAlions");
    assert_eq!(
        (m0.queue_id, m0.queue_offset, m0.commit_log_offset),
        (0, 0, 8250)
    );
    assert_eq!(m0.sys_flag, 0);
    assert_eq!(
        (m0.born_timestamp, m0.store_timestamp),
        (1_795_307_873_138, 1_795_307_873_139)
    );
    assert_eq!(m0.body.len(), 48);
    assert_eq!(m0.tags(), Some("TagB"));
    assert_eq!(m0.keys(), Some("alions-key-1 mwr3ycm47l0-1"));
    assert_eq!(m0.uniq_key(), Some("C000020222A1AC4C820C6C483B720001"));
    assert_eq!(m0.property("verifySeq"), Some("1"));
    let (store, offset) = decode_offset_msg_id(&m0.msg_id()).unwrap();
    assert_eq!((store, offset), (m0.store_host, 8250));

    // Uncompressed record: our encoder reproduces the broker's bytes exactly (CRC included).
    let first_len = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
    assert_eq!(first_len, 331);
    assert_eq!(&encode_stored_message(m0).unwrap()[..], &body[..first_len]);

    // The second record was zlib-compressed by ali-ons (sysFlag 1, type 0 = zlib).
    let m1 = &msgs[1];
    assert_eq!(m1.sys_flag & sys_flag::COMPRESSED, sys_flag::COMPRESSED);
    assert_eq!(m1.body.len(), 8192);
    assert_eq!(m1.tags(), Some("TagA"));
    assert_eq!(m1.queue_offset, 1);
    assert_eq!(m1.commit_log_offset, 8581);
    let back = decode_stored_messages(&encode_stored_message(m1).unwrap()).unwrap();
    assert_eq!(back, vec![m1.clone()]);
}
