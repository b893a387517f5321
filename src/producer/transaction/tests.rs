use super::*;

fn header() -> CheckTransactionStateRequestHeader {
    CheckTransactionStateRequestHeader {
        tran_state_table_offset: 7,
        commit_log_offset: 4096,
        msg_id: Some("HEADER_MSG_ID".into()),
        transaction_id: Some("TX".into()),
        offset_msg_id: Some("7F00000100002A9F0000000000001000".into()),
        topic: Some("T".into()),
        broker_name: Some("broker-a".into()),
    }
}

#[test]
fn a_check_is_answered_with_its_offsets_and_the_uniq_key() {
    let end = check_answer(
        header(),
        Some("UNIQ".into()),
        "g",
        TransactionResolution::Commit,
    );
    assert_eq!(
        end,
        EndTransactionRequestHeader {
            producer_group: "g".into(),
            tran_state_table_offset: 7,
            commit_log_offset: 4096,
            commit_or_rollback: TransactionResolution::Commit,
            from_transaction_check: true,
            msg_id: "UNIQ".into(),
            transaction_id: Some("TX".into()),
            topic: Some("T".into()),
            broker_name: Some("broker-a".into()),
        }
    );
    // Without a UNIQ_KEY the header's msgId stands in (as in Java).
    let end = check_answer(header(), None, "g", TransactionResolution::Rollback);
    assert_eq!(end.msg_id, "HEADER_MSG_ID");
}

#[test]
fn a_half_message_is_marked_and_loses_its_delay() {
    let mut m = Message::new("T", "b").with_delay_level(3);
    mark_half_message(&mut m, "g");
    assert!(m.is_transaction_prepared());
    assert_eq!(m.property(property::PGROUP), Some("g"));
    assert_eq!(m.property(property::DELAY), None);
}

#[actix_rt::test]
async fn a_panicking_checker_answers_unknown() {
    let now = |_: TransactionCheck| -> std::future::Ready<TransactionResolution> {
        panic!("no database")
    };
    let later = |_: TransactionCheck| async { panic!("lost the database") };
    let ok = |_: TransactionCheck| async { TransactionResolution::Rollback };
    let addr = "127.0.0.1:10911".parse().unwrap();
    let stored = StoredMessage::from_message(&Message::new("T", "b"), addr, addr);
    let check = || check_of(&header(), stored.clone());
    let (r, remark) = run_checker(&now, check()).await;
    assert_eq!(r, TransactionResolution::Unknown);
    assert!(remark.unwrap().contains("no database"));
    let (r, remark) = run_checker(&later, check()).await;
    assert_eq!(r, TransactionResolution::Unknown);
    assert!(remark.unwrap().contains("lost the database"));
    assert_eq!(
        run_checker(&ok, check()).await,
        (TransactionResolution::Rollback, None)
    );
    assert_eq!(check().transaction_id, "TX");
}
