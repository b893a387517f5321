use super::*;

#[test]
fn error_is_small_clone_and_send() {
    fn assert_traits<T: Clone + Send + Sync + std::error::Error + 'static>() {}
    assert_traits::<Error>();
    assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
}

#[test]
fn error_conversions() {
    let e: Error = ValidationError::BodyEmpty.into();
    assert_eq!(e.kind(), &ErrorKind::Validation(ValidationError::BodyEmpty));
    assert_eq!(e.client_error_code(), None);
    assert!(!e.is_retriable());

    let e: Error = NetError::Shutdown.into();
    assert_eq!(e.kind(), &ErrorKind::ShutDown);
    let e: Error = RouteError::Shutdown.into();
    assert_eq!(e.kind(), &ErrorKind::ShutDown);
    let e: Error = InstanceError::ShutDown.into();
    assert_eq!(e.kind(), &ErrorKind::ShutDown);
    let e: Error = InstanceError::DuplicateGroup("g".into()).into();
    assert!(matches!(e.kind(), ErrorKind::Instance(_)));
    assert!(!e.is_retriable() && e.client_error_code().is_none());
    assert!(e.to_string().contains("already registered"));

    let e: Error = RouteError::NoRoute { topic: "T".into() }.into();
    assert_eq!(e.client_error_code(), Some(10005));
    assert!(!e.is_retriable());
    assert!(e.to_string().contains("create the topic"));

    let unreachable = RouteError::NameServerUnreachable {
        topic: "T".into(),
        last: NetError::Timeout {
            addr: "n:9876".into(),
        },
    };
    let e: Error = unreachable.into();
    assert!(e.is_retriable());
    assert_eq!(e.client_error_code(), Some(10005));

    let e: Error = ProtocolError::MissingField("msgId").into();
    assert!(e.is_retriable());
    assert_eq!(e.client_error_code(), Some(10003));
}

#[test]
fn error_client_codes_follow_java() {
    let connect: Error = NetError::Connect {
        addr: "a:1".into(),
        reason: "refused".into(),
    }
    .into();
    let closed: Error = NetError::Closed {
        addr: "a:1".into(),
        reason: "reset".into(),
    }
    .into();
    let timeout: Error = NetError::Timeout { addr: "a:1".into() }.into();
    assert_eq!(connect.client_error_code(), Some(10001));
    assert_eq!(closed.client_error_code(), Some(10001));
    assert_eq!(timeout.client_error_code(), Some(10002));
    assert!(timeout.is_timeout() && !connect.is_timeout());
    assert!(connect.is_retriable() && closed.is_retriable() && timeout.is_retriable());
    assert_eq!(
        Error::timeout(Duration::from_secs(3), 3, vec![]).client_error_code(),
        Some(10002)
    );
    assert_eq!(Error::forbidden("h", "no").client_error_code(), Some(10003));
    assert_eq!(Error::broker(1, "x", "b").client_error_code(), None);
    assert_eq!(Error::shut_down().client_error_code(), None);
}

#[test]
fn error_retriable_broker_codes() {
    for code in [1, 2, 14, 16, 17, 204, 205, 215, 1500] {
        assert!(Error::broker(code, "", "b").is_retriable(), "{code}");
    }
    for code in [3, 13, 15, 29, 604] {
        assert!(!Error::broker(code, "", "b").is_retriable(), "{code}");
    }
    assert!(!Error::config("x").is_retriable());
    assert!(!Error::shut_down().is_retriable());
    assert!(!Error::forbidden("h", "r").is_retriable());
}

#[test]
fn error_attempt_context() {
    let e = Error::broker(17, "topic[T] not exist", "broker-b")
        .after_attempts(2, vec!["broker-a".into(), "broker-b".into()]);
    assert_eq!(e.attempts(), 2);
    assert_eq!(e.brokers_tried(), ["broker-a", "broker-b"]);
    assert_eq!(
        e.to_string(),
        "broker `broker-b` answered 17 (TOPIC_NOT_EXIST): topic[T] not exist; create the topic \
         on this broker, or enable autoCreateTopicEnable (after 2 attempt(s), brokers tried: \
         [broker-a, broker-b])"
    );

    let t = Error::timeout(Duration::from_millis(3000), 1, vec!["x".into()])
        .after_attempts(3, vec!["a".into(), "b".into(), "a".into()]);
    assert_eq!(t.attempts(), 3);
    assert_eq!(t.brokers_tried(), ["a", "b", "a"]);
    assert_eq!(
        t.to_string(),
        "send timed out after 3s waiting for the broker's reply (3 attempt(s), brokers tried: \
         [a, b, a]); raise send_timeout or check the brokers' health"
    );
    let r = Error::timeout(Duration::from_secs(1), 0, vec![]).waiting_for(WaitingFor::Route);
    assert!(
        r.to_string()
            .contains("waiting for the topic's route from the name servers")
    );
    assert!(r.to_string().contains("name servers are up"));
}

#[test]
fn error_response_codes() {
    assert_eq!(Error::broker(215, "", "b").response_code(), Some(215));
    let rejected: Error = RouteError::Rejected {
        topic: "T".into(),
        namesrv: "n:9876".into(),
        code: 1,
        remark: "x".into(),
    }
    .into();
    assert_eq!(rejected.response_code(), Some(1));
    assert_eq!(Error::shut_down().response_code(), None);
}

#[test]
fn error_texts_are_bounded() {
    let e = Error::broker(1, "r".repeat(10_000_000), "b");
    let ErrorKind::Broker { remark, .. } = e.kind() else {
        unreachable!()
    };
    assert!(remark.len() < 600, "{}", remark.len());
    let many = (0..10_000).map(|i| format!("broker-{i}")).collect();
    let t = Error::timeout(Duration::from_secs(1), 10_000, many);
    let text = t.to_string();
    assert!(
        text.len() <= ERROR_TEXT_MAX + 16 && text.ends_with("… (cut)"),
        "{}",
        text.len()
    );
    let p: Error = NetError::Protocol {
        addr: "1.2.3.4:10911".into(),
        source: ProtocolError::MalformedFrame("x".into()),
    }
    .into();
    assert!(matches!(p.kind(), ErrorKind::Protocol { peer: Some(a), .. } if a == "1.2.3.4:10911"));
    assert!(p.to_string().contains("not speaking RocketMQ remoting"));
    assert!(p.is_retriable());
}

#[test]
fn error_source_chain_reaches_the_root_cause() {
    use std::error::Error as _;
    // Error -> RouteError -> NetError -> ProtocolError: every link is reachable.
    let e: Error = RouteError::NameServerUnreachable {
        topic: "T".into(),
        last: NetError::Encode {
            addr: "n:9876".into(),
            source: ProtocolError::MissingField("topic"),
        },
    }
    .into();
    let mut chain = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(link) = cur {
        chain.push(link.to_string());
        cur = link.source();
    }
    assert_eq!(chain.len(), 4, "{chain:#?}");
    assert!(chain[1].starts_with("no name server reachable for topic `T`"));
    assert!(chain[2].starts_with("cannot encode the request for n:9876"));
    assert_eq!(chain[3], "header field `topic` is required but missing");
    let root = e.source().unwrap().source().unwrap().source().unwrap();
    assert_eq!(
        root.downcast_ref::<ProtocolError>(),
        Some(&ProtocolError::MissingField("topic"))
    );

    let malformed: Error = RouteError::Malformed {
        topic: "T".into(),
        namesrv: "n:9876".into(),
        source: ProtocolError::Compression("x".into()),
    }
    .into();
    let inner = malformed.source().and_then(|r| r.source()).unwrap();
    assert!(inner.downcast_ref::<ProtocolError>().is_some());

    let v: Error = ValidationError::BodyEmpty.into();
    assert!(
        v.source()
            .unwrap()
            .downcast_ref::<ValidationError>()
            .is_some()
    );
    let i: Error = InstanceError::DuplicateGroup("g".into()).into();
    assert!(
        i.source()
            .unwrap()
            .downcast_ref::<InstanceError>()
            .is_some()
    );
    let p: Error = ProtocolError::MissingField("msgId").into();
    assert!(
        p.source()
            .unwrap()
            .downcast_ref::<ProtocolError>()
            .is_some()
    );
    let c: Error = NetError::Timeout { addr: "a:1".into() }.into();
    assert!(c.source().unwrap().downcast_ref::<NetError>().is_some());
    // Kinds with no wrapped error end the chain at once.
    assert!(Error::shut_down().source().is_none());
    assert!(Error::broker(1, "x", "b").source().is_none());
}

#[test]
fn mailbox_errors_convert() {
    let closed = Error::from(actix::MailboxError::Closed);
    assert_eq!(closed.kind(), &ErrorKind::ShutDown);
    let timeout = Error::from(actix::MailboxError::Timeout);
    assert!(timeout.is_timeout() && timeout.attempts() == 0);
}

#[test]
fn error_messages_say_what_to_do() {
    assert!(
        Error::backpressure(1, 2, 3, 4)
            .to_string()
            .contains("raise max_in_flight")
    );
    assert!(Error::shut_down().to_string().contains("create and start"));
    assert!(
        Error::broker(2, "[REJECTREQUEST]", "b")
            .to_string()
            .contains("slow down")
    );
    let v: Error = ValidationError::BodyEmpty.into();
    assert!(v.to_string().contains("empty bodies"));
    assert!(format!("{v:?}").contains("BodyEmpty"));
}
