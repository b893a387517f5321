//! Typed request and response headers, converted to and from `extFields`.
//!
//! Keys and required-ness follow the Java header classes (`@CFNotNull` = required):
//! a missing required key is [`ProtocolError::MissingField`], a value that does not
//! parse is [`ProtocolError::InvalidField`]; optional fields absent stay `None`.
//!
//! One module per operation, as the Java header classes are grouped; every
//! header is re-exported here. Headers only the test broker uses live in
//! `testkit::headers`.
use super::command::{ExtFields, RemotingCommand};
use super::error::ProtocolError;

mod client;
pub(crate) mod fields;
mod recall;
mod reply;
mod route;
mod send;
mod transaction;

pub use client::{HeartbeatRequestHeader, UnregisterClientRequestHeader};
pub use recall::{RecallHandle, RecallMessageRequestHeader, RecallMessageResponseHeader};
pub use reply::ReplyMessageRequestHeader;
pub use route::GetRouteInfoRequestHeader;
pub use send::{SendMessageRequestHeader, SendMessageResponseHeader};
pub use transaction::{
    CheckTransactionStateRequestHeader, EndTransactionRequestHeader, TransactionResolution,
};

/// A header that maps to and from the `extFields` of a [`RemotingCommand`].
pub trait CommandHeader: Sized {
    /// Encodes the header as extFields (Java field names; absent optional fields omitted).
    fn to_ext_fields(&self) -> ExtFields;
    /// Decodes the header from extFields, checking required keys and value syntax.
    fn from_ext_fields(f: &ExtFields) -> Result<Self, ProtocolError>;

    /// Decodes the header of `cmd`; a command without extFields is treated as empty.
    fn from_command(cmd: &RemotingCommand) -> Result<Self, ProtocolError> {
        match &cmd.ext_fields {
            Some(f) => Self::from_ext_fields(f),
            None => Self::from_ext_fields(&ExtFields::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::protocol::codes::{SerializeType, request_code};
    use crate::protocol::message::Message;

    fn fields(pairs: &[(&'static str, &str)]) -> ExtFields {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    fn sample_send() -> SendMessageRequestHeader {
        SendMessageRequestHeader {
            producer_group: "g".into(),
            topic: "t".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 3,
            sys_flag: 0,
            born_timestamp: 1_795_307_821_617,
            flag: 0,
            properties: Some("UNIQ_KEY\u{1}X\u{2}".into()),
            reconsume_times: Some(0),
            unit_mode: false,
            max_reconsume_times: None,
            batch: true,
            broker_name: Some("broker-a".into()),
        }
    }

    /// The fields `ext` carries once encoded in `ty` and decoded, sorted.
    fn wire_fields(ext: ExtFields, ty: SerializeType) -> Vec<(String, String)> {
        use crate::protocol::frame::{decode_frame, encode_frame};
        let mut cmd = RemotingCommand::request(310, ext);
        cmd.serialize_type = ty;
        let back = decode_frame(encode_frame(&cmd).unwrap()).unwrap();
        let mut got: Vec<(String, String)> = back
            .ext_fields
            .unwrap()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        got.sort();
        got
    }

    fn v2_header(h: &SendMessageRequestHeader) -> Vec<(String, String)> {
        let mut want: Vec<(String, String)> = h
            .to_ext_fields_v2()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        want.sort();
        want
    }

    /// Fixed fields encoded once plus the per-attempt ones carry exactly the V2 header.
    #[test]
    fn encoded_fixed_plus_attempt_fields_equal_the_v2_header() {
        let h = sample_send();
        for ty in [SerializeType::Json, SerializeType::RocketMq] {
            let fixed = h.encode_fixed_fields_v2(ty);
            let queue =
                SendMessageRequestHeader::encode_queue_fields_v2(ty, h.queue_id, "broker-a");
            let ext = SendMessageRequestHeader::attempt_fields_v2(
                &mut BytesMut::new(),
                &fixed,
                &queue,
                h.born_timestamp,
            );
            assert_eq!(wire_fields(ext, ty), v2_header(&h), "{ty:?}");
        }
    }

    /// Static fields, a message's properties and the per-attempt fields, written
    /// in one shared arena, carry exactly the V2 header of that message.
    #[test]
    fn static_plus_message_attempt_fields_equal_the_v2_header() {
        let mut m = Message::new("t", "body").with_keys("k1 k2");
        m.set_property("UNIQ_KEY", "C0A8000100002A9F0000000000000001");
        let mut h = sample_send();
        h.properties = Some(m.encode_properties());
        let mut arena = BytesMut::new();
        for ty in [SerializeType::Json, SerializeType::RocketMq] {
            let static_fields = h.encode_static_fields_v2(ty);
            let queue =
                SendMessageRequestHeader::encode_queue_fields_v2(ty, h.queue_id, "broker-a");
            let ext = SendMessageRequestHeader::message_attempt_fields_v2(
                &mut arena,
                &static_fields,
                &m,
                &queue,
                h.born_timestamp,
            );
            assert_eq!(wire_fields(ext, ty), v2_header(&h), "{ty:?}");
        }
    }

    #[test]
    fn send_response_reads_every_field_and_needs_msg_id() {
        let h = SendMessageResponseHeader {
            msg_id: "7F00000100007F850000000000001C91".into(),
            queue_id: 1,
            queue_offset: 7,
            transaction_id: Some("C0A8".into()),
            batch_uniq_id: Some("B1".into()),
            recall_handle: Some("R1".into()),
            region: Some("DefaultRegion".into()),
            trace_on: Some(true),
        };
        let mut cmd = RemotingCommand::response(0, 1, None);
        cmd.ext_fields = Some(h.to_ext_fields());
        assert_eq!(SendMessageResponseHeader::from_command(&cmd).unwrap(), h);
        let missing = RemotingCommand::response(0, 1, None);
        assert!(SendMessageResponseHeader::from_command(&missing).is_err());
        let mut no_offset = ExtFields::new();
        no_offset.push("msgId", "X");
        no_offset.push("queueId", "1");
        let mut cmd = RemotingCommand::response(0, 1, None);
        cmd.ext_fields = Some(no_offset);
        assert_eq!(
            SendMessageResponseHeader::from_command(&cmd),
            Err(ProtocolError::MissingField("queueOffset"))
        );
    }

    #[test]
    fn a_stored_reply_writes_its_ids_into_the_buffer_given() {
        let mut f = ExtFields::new();
        f.push("msgId", "A1,B2");
        f.push("queueId", "1");
        f.push("queueOffset", "7");
        let mut cmd = RemotingCommand::response(0, 1, None);
        cmd.ext_fields = Some(f);
        let mut ids = String::with_capacity(4096);
        ids.push_str("left over");
        let at = ids.as_ptr();
        let (h, defect) = SendMessageResponseHeader::from_stored_reply(&cmd, 3, ids);
        assert_eq!(
            (h.msg_id.as_str(), h.queue_offset, defect),
            ("A1,B2", 7, None)
        );
        assert_eq!(h.msg_id.as_ptr(), at, "the buffer itself, not a copy");
        // Undecodable: what decodes is kept, the defect named.
        let mut cmd = RemotingCommand::response(0, 1, None);
        let mut f = ExtFields::new();
        f.push("msgId", "A1");
        f.push("queueId", "x");
        cmd.ext_fields = Some(f);
        let (h, defect) = SendMessageResponseHeader::from_stored_reply(&cmd, 3, String::new());
        assert_eq!(
            (h.msg_id.as_str(), h.queue_id, h.queue_offset),
            ("A1", 3, -1)
        );
        assert!(defect.is_some());
    }

    #[test]
    fn send_header_v1_and_v2_round_trip() {
        let h = sample_send();
        let v1 = h.to_ext_fields_v1();
        assert_eq!(v1.get("batch"), Some("true"));
        assert_eq!(v1.get("bname"), Some("broker-a"));
        assert_eq!(v1.get("maxReconsumeTimes"), None);
        assert_eq!(SendMessageRequestHeader::from_ext_fields(&v1).unwrap(), h);
        let v2 = h.to_ext_fields_v2();
        assert_eq!(v2.get("m"), Some("true"));
        assert_eq!(v2.get("n"), Some("broker-a"));
        assert_eq!(v2.get("bname"), Some("broker-a"));
        assert_eq!(v2.get("g"), Some("1795307821617"));
        assert_eq!(SendMessageRequestHeader::from_ext_fields(&v2).unwrap(), h);
    }

    #[test]
    fn send_header_v2_accepts_bname_without_n() {
        let mut v2 = sample_send().to_ext_fields_v2();
        v2.remove("n");
        let h = SendMessageRequestHeader::from_ext_fields(&v2).unwrap();
        assert_eq!(h.broker_name.as_deref(), Some("broker-a"));
    }

    #[test]
    fn send_request_form_follows_code() {
        let h = sample_send();
        assert!(
            h.to_request(request_code::SEND_MESSAGE)
                .ext("producerGroup")
                .is_some()
        );
        assert!(
            h.to_request(request_code::SEND_MESSAGE_V2)
                .ext("a")
                .is_some()
        );
        assert!(
            h.to_request(request_code::SEND_BATCH_MESSAGE)
                .ext("a")
                .is_some()
        );
        assert!(
            h.to_request(request_code::SEND_REPLY_MESSAGE)
                .ext("topic")
                .is_some()
        );
        assert!(
            h.to_request(request_code::SEND_REPLY_MESSAGE_V2)
                .ext("b")
                .is_some()
        );
    }

    #[test]
    fn reply_push_header_round_trips() {
        let h = ReplyMessageRequestHeader {
            producer_group: "replier".into(),
            topic: "DefaultCluster_REPLY_TOPIC".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 1,
            sys_flag: 0,
            born_timestamp: 1_795_307_821_617,
            flag: 0,
            properties: Some("CORRELATION_ID\u{1}c-1\u{2}".into()),
            reconsume_times: Some(0),
            unit_mode: false,
            born_host: "127.0.0.1:50000".into(),
            store_host: "127.0.0.1:10911".into(),
            store_timestamp: 1_795_307_821_620,
        };
        let back = ReplyMessageRequestHeader::from_ext_fields(&h.to_ext_fields()).unwrap();
        assert_eq!(back, h);
        let mut f = h.to_ext_fields();
        f.remove("storeHost");
        assert!(ReplyMessageRequestHeader::from_ext_fields(&f).is_err());
    }

    #[test]
    fn missing_required_field_is_named() {
        let mut v1 = sample_send().to_ext_fields_v1();
        v1.remove("bornTimestamp");
        assert_eq!(
            SendMessageRequestHeader::from_ext_fields(&v1),
            Err(ProtocolError::MissingField("bornTimestamp"))
        );
        let mut v2 = sample_send().to_ext_fields_v2();
        v2.remove("d");
        assert_eq!(
            SendMessageRequestHeader::from_ext_fields(&v2),
            Err(ProtocolError::MissingField("d"))
        );
        assert_eq!(
            SendMessageRequestHeader::from_ext_fields(&ExtFields::new()),
            Err(ProtocolError::MissingField("producerGroup"))
        );
        assert_eq!(
            SendMessageResponseHeader::from_ext_fields(&fields(&[
                ("msgId", "x"),
                ("queueId", "1")
            ])),
            Err(ProtocolError::MissingField("queueOffset"))
        );
        assert_eq!(
            UnregisterClientRequestHeader::from_ext_fields(&fields(&[("producerGroup", "g")])),
            Err(ProtocolError::MissingField("clientID"))
        );
        assert_eq!(
            GetRouteInfoRequestHeader::from_ext_fields(&ExtFields::new()),
            Err(ProtocolError::MissingField("topic"))
        );
        assert_eq!(
            CheckTransactionStateRequestHeader::from_ext_fields(&fields(&[(
                "tranStateTableOffset",
                "1"
            )])),
            Err(ProtocolError::MissingField("commitLogOffset"))
        );
    }

    #[test]
    fn invalid_numbers_and_bools_are_rejected() {
        let mut v1 = sample_send().to_ext_fields_v1();
        v1.insert("queueId", "three");
        assert_eq!(
            SendMessageRequestHeader::from_ext_fields(&v1),
            Err(ProtocolError::InvalidField {
                field: "queueId",
                value: "three".into()
            })
        );
        let mut v2 = sample_send().to_ext_fields_v2();
        v2.insert("m", "yes");
        assert_eq!(
            SendMessageRequestHeader::from_ext_fields(&v2),
            Err(ProtocolError::InvalidField {
                field: "m",
                value: "yes".into()
            })
        );
        // Out of i32 range is invalid too, not truncated.
        let mut v1 = sample_send().to_ext_fields_v1();
        v1.insert("flag", "4294967296");
        assert!(matches!(
            SendMessageRequestHeader::from_ext_fields(&v1),
            Err(ProtocolError::InvalidField { field: "flag", .. })
        ));
        assert!(matches!(
            GetRouteInfoRequestHeader::from_ext_fields(&fields(&[
                ("topic", "t"),
                ("acceptStandardJsonOnly", "1")
            ])),
            Err(ProtocolError::InvalidField {
                field: "acceptStandardJsonOnly",
                ..
            })
        ));
    }

    #[test]
    fn end_transaction_codes() {
        let h = EndTransactionRequestHeader {
            producer_group: "g".into(),
            tran_state_table_offset: 7,
            commit_log_offset: 1234,
            commit_or_rollback: TransactionResolution::Rollback,
            from_transaction_check: true,
            msg_id: "U".into(),
            transaction_id: Some("U".into()),
            topic: None,
            broker_name: Some("broker-a".into()),
        };
        let f = h.to_ext_fields();
        assert_eq!(f.get("commitOrRollback"), Some("12"));
        assert_eq!(f.get("fromTransactionCheck"), Some("true"));
        assert_eq!(EndTransactionRequestHeader::from_ext_fields(&f).unwrap(), h);
        let req = h.clone().into_request();
        assert!(req.is_oneway());
        assert_eq!(req.code, request_code::END_TRANSACTION);
        let mut bad = f.clone();
        bad.insert("commitOrRollback", "1");
        assert!(matches!(
            EndTransactionRequestHeader::from_ext_fields(&bad),
            Err(ProtocolError::InvalidField {
                field: "commitOrRollback",
                ..
            })
        ));
        assert_eq!(TransactionResolution::Commit.code(), 8);
        assert_eq!(
            TransactionResolution::from_code(0),
            Some(TransactionResolution::Unknown)
        );
        assert_eq!(TransactionResolution::from_code(4), None);
    }

    #[test]
    fn other_headers_round_trip() {
        let c = CheckTransactionStateRequestHeader {
            tran_state_table_offset: 1,
            commit_log_offset: 2,
            msg_id: Some("m".into()),
            transaction_id: Some("m".into()),
            offset_msg_id: Some("o".into()),
            topic: Some("t".into()),
            broker_name: Some("b".into()),
        };
        assert_eq!(
            CheckTransactionStateRequestHeader::from_ext_fields(&c.to_ext_fields()).unwrap(),
            c
        );
        let u = UnregisterClientRequestHeader::producer("c", "g");
        let uf = u.to_ext_fields();
        assert_eq!(uf.len(), 2);
        assert_eq!(
            UnregisterClientRequestHeader::from_ext_fields(&uf).unwrap(),
            u
        );
        let hb = HeartbeatRequestHeader.into_request();
        assert_eq!(hb.ext_fields, Some(ExtFields::new()));
        let r = GetRouteInfoRequestHeader::new("T").into_request();
        assert_eq!(r.code, request_code::GET_ROUTEINFO_BY_TOPIC);
        assert_eq!(r.ext("topic"), Some("T"));
    }

    #[test]
    fn from_command_without_ext_fields() {
        let cmd = RemotingCommand::response(0, 1, None);
        assert_eq!(
            HeartbeatRequestHeader::from_command(&cmd),
            Ok(HeartbeatRequestHeader)
        );
    }
}
