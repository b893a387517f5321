//! Fault injection: rules that change how a test server treats matching requests.
//!
//! A [`Fault`] is an action ([`FaultAction`]) plus a filter (request codes,
//! topic), an optional number of matching requests to let through first
//! ([`Fault::after`]) and how many matching requests it applies to
//! ([`Fault::times`], default 1, or [`Fault::forever`]). Inject it with
//! [`ServerHandle::inject`](super::ServerHandle::inject); rules can be added
//! and removed at any time, including while clients are connected.
use std::time::Duration;

use bytes::Bytes;

use crate::protocol::codes::request_code;
use crate::protocol::command::RemotingCommand;

/// What a server does with a request a [`Fault`] matched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with this response code and remark; the request is not processed
    /// (a send is not stored). Oneway requests get no answer. Except, on a send,
    /// FLUSH_DISK_TIMEOUT (10), SLAVE_NOT_AVAILABLE (11) and FLUSH_SLAVE_TIMEOUT
    /// (12): as on a real broker the message is stored and the reply carries its
    /// send header (msgId, queue, offset), with this code and remark.
    Respond {
        /// The response code, e.g. `SYSTEM_BUSY` (2).
        code: i32,
        /// The response's remark.
        remark: Option<String>,
    },
    /// Process the request at once, send its reply after this delay.
    Delay(Duration),
    /// Process the request (a send is stored) but never reply: a lost reply.
    DropReply,
    /// Process the request, then close the connection without replying.
    ProcessThenClose,
    /// Close the connection at once, without processing or replying.
    Close,
    /// Process the request, then write these bytes instead of its reply.
    Garbage(Bytes),
    /// Freeze the whole server (a black hole, see
    /// [`ServerHandle::freeze`](super::ServerHandle::freeze)); this request is not processed.
    Freeze,
    /// Process the request, write the first half of its encoded reply frame,
    /// then close the connection (a oneway request is processed, then closed).
    HalfReply,
    /// Push this many unsolicited server requests to the client on the
    /// connection, then process and answer the request normally. They
    /// alternate: even ones are code [`FLOOD_CODE`] (unknown, expecting an
    /// answer), odd ones NOTIFY_CONSUMER_IDS_CHANGED oneway. The client's
    /// answers show up in [`ServerHandle::received`](super::ServerHandle::received).
    Flood(usize),
    /// Answer with this response code and this raw body (no remark); the
    /// request is not processed. Oneway requests get no answer. For bodies a
    /// client must survive: not JSON, wrong types, not UTF-8, empty.
    RespondBody {
        /// The response code.
        code: i32,
        /// The body, verbatim.
        body: Bytes,
    },
}

/// The request code of the non-oneway requests of [`FaultAction::Flood`]: no RocketMQ code.
pub const FLOOD_CODE: i32 = 9999;

/// One fault-injection rule. Build it from an action, then narrow it.
///
/// ```
/// use std::time::Duration;
/// use actix_rocketmq::internals::protocol::codes::{request_code, response_code};
/// use actix_rocketmq::testkit::Fault;
///
/// // The next two sends are answered SYSTEM_BUSY.
/// let busy = Fault::respond(response_code::SYSTEM_BUSY, "[REJECTREQUEST]system busy")
///     .on_sends()
///     .times(2);
/// // Every heartbeat reply arrives 200 ms late, until the rule is removed.
/// let slow = Fault::delay(Duration::from_millis(200))
///     .on(request_code::HEART_BEAT)
///     .forever();
/// // Three requests of any kind pass, then the connection is closed mid-request.
/// let cut = Fault::close().after(3);
/// // Route look-ups get a body that is not a route.
/// let junk = Fault::respond_body(response_code::SUCCESS, &b"not json"[..])
///     .on(request_code::GET_ROUTEINFO_BY_TOPIC)
///     .forever();
/// # let _ = (busy, slow, cut, junk);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub(crate) action: FaultAction,
    pub(crate) codes: Vec<i32>,
    pub(crate) topic: Option<String>,
    pub(crate) skip: usize,
    pub(crate) times: Option<usize>,
}

/// The send request codes [`Fault::on_sends`] matches.
pub const SEND_CODES: [i32; 5] = [
    request_code::SEND_MESSAGE,
    request_code::SEND_MESSAGE_V2,
    request_code::SEND_BATCH_MESSAGE,
    request_code::SEND_REPLY_MESSAGE,
    request_code::SEND_REPLY_MESSAGE_V2,
];

impl Fault {
    /// A rule with `action` matching the next request of any code.
    pub fn new(action: FaultAction) -> Self {
        Fault {
            action,
            codes: Vec::new(),
            topic: None,
            skip: 0,
            times: Some(1),
        }
    }
    /// Answer with `code` and `remark` instead of processing the request.
    pub fn respond(code: i32, remark: impl Into<String>) -> Self {
        Fault::new(FaultAction::Respond {
            code,
            remark: Some(remark.into()),
        })
    }
    /// Process the request, reply after `delay`.
    pub fn delay(delay: Duration) -> Self {
        Fault::new(FaultAction::Delay(delay))
    }
    /// Process the request, never reply.
    pub fn drop_reply() -> Self {
        Fault::new(FaultAction::DropReply)
    }
    /// Process the request, then close the connection without replying.
    pub fn process_then_close() -> Self {
        Fault::new(FaultAction::ProcessThenClose)
    }
    /// Close the connection without processing the request.
    pub fn close() -> Self {
        Fault::new(FaultAction::Close)
    }
    /// Process the request, then write `bytes` (see [`garbage`]) instead of the reply.
    pub fn garbage(bytes: impl Into<Bytes>) -> Self {
        Fault::new(FaultAction::Garbage(bytes.into()))
    }
    /// Freeze the server when the request arrives.
    pub fn freeze() -> Self {
        Fault::new(FaultAction::Freeze)
    }
    /// Process the request, write half of its reply frame, then close the connection.
    pub fn half_reply() -> Self {
        Fault::new(FaultAction::HalfReply)
    }
    /// Push `n` unsolicited requests to the client, then answer normally (see [`FaultAction::Flood`]).
    pub fn flood(n: usize) -> Self {
        Fault::new(FaultAction::Flood(n))
    }
    /// Answer with `code` and the raw `body` instead of processing the request.
    pub fn respond_body(code: i32, body: impl Into<Bytes>) -> Self {
        Fault::new(FaultAction::RespondBody {
            code,
            body: body.into(),
        })
    }

    /// Only requests with this code (call again to add codes; none = any code).
    pub fn on(mut self, code: i32) -> Self {
        self.codes.push(code);
        self
    }
    /// Only send requests (codes 10, 310, 320, 324, 325).
    pub fn on_sends(mut self) -> Self {
        self.codes.extend_from_slice(&SEND_CODES);
        self
    }
    /// Only requests for this topic (`topic` header field, or `b` of a V2 send).
    pub fn on_topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }
    /// Let the first `n` matching requests through untouched.
    pub fn after(mut self, n: usize) -> Self {
        self.skip = n;
        self
    }
    /// Apply to `n` matching requests, then remove the rule (default 1).
    pub fn times(mut self, n: usize) -> Self {
        self.times = Some(n);
        self
    }
    /// Apply to every matching request until the rule is removed.
    pub fn forever(mut self) -> Self {
        self.times = None;
        self
    }

    /// What the rule does to a matched request.
    pub fn action(&self) -> &FaultAction {
        &self.action
    }

    fn matches(&self, code: i32, topic: Option<&str>) -> bool {
        (self.codes.is_empty() || self.codes.contains(&code))
            && self.topic.as_deref().is_none_or(|t| Some(t) == topic)
    }
}

/// Identifies an injected fault, for [`ServerHandle::remove_fault`](super::ServerHandle::remove_fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FaultId(pub(crate) u64);

struct ActiveFault {
    id: FaultId,
    fault: Fault,
    seen: usize,
    applied: usize,
}

/// The rules of one server, in injection order.
#[derive(Default)]
pub(crate) struct FaultTable {
    next_id: u64,
    rules: Vec<ActiveFault>,
}

impl FaultTable {
    pub(crate) fn add(&mut self, fault: Fault) -> FaultId {
        self.next_id += 1;
        let id = FaultId(self.next_id);
        // A rule that may apply zero times is done before it starts.
        if fault.times != Some(0) {
            self.rules.push(ActiveFault {
                id,
                fault,
                seen: 0,
                applied: 0,
            });
        }
        id
    }

    pub(crate) fn remove(&mut self, id: FaultId) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.rules.len() != before
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.rules.len()
    }

    /// The action for a request: the first matching rule past its `after`
    /// count fires (and is used up after `times`); rules still counting
    /// their `after` requests count this one.
    pub(crate) fn take(&mut self, cmd: &RemotingCommand) -> Option<FaultAction> {
        let topic = request_topic(cmd);
        let mut fired: Option<(usize, FaultAction)> = None;
        for (i, rule) in self.rules.iter_mut().enumerate() {
            if !rule.fault.matches(cmd.code, topic) {
                continue;
            }
            if rule.seen < rule.fault.skip {
                rule.seen += 1;
            } else if fired.is_none() {
                rule.applied += 1;
                fired = Some((i, rule.fault.action.clone()));
            }
        }
        let (i, action) = fired?;
        if self.rules[i].fault.times == Some(self.rules[i].applied) {
            self.rules.remove(i);
        }
        Some(action)
    }
}

/// The topic a request is about: `topic`, or `b` in a V2 send header.
pub(crate) fn request_topic(cmd: &RemotingCommand) -> Option<&str> {
    cmd.ext("topic").or_else(|| {
        if SEND_CODES.contains(&cmd.code) {
            cmd.ext("b")
        } else {
            None
        }
    })
}

/// Malformed frames for [`Fault::garbage`] and
/// [`ServerHandle::send_raw`](super::ServerHandle::send_raw).
pub mod garbage {
    use bytes::Bytes;

    /// A frame whose header length runs past the end of the frame.
    pub fn header_overrun() -> Bytes {
        Bytes::from_static(&[0, 0, 0, 8, 0, 0, 0, 100, 0, 0, 0, 0])
    }

    /// A complete frame whose JSON header is not JSON.
    pub fn bad_json_header() -> Bytes {
        Bytes::from_static(&[0, 0, 0, 9, 0, 0, 0, 5, b'{', b'x', b'y', b'z', b'!'])
    }

    /// A frame announcing itself larger than the 16 MiB frame limit.
    pub fn oversized() -> Bytes {
        Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 2, b'{', b'}'])
    }

    /// A frame with an unknown serialize type (9) in its header-length word.
    pub fn unknown_serialize_type() -> Bytes {
        Bytes::from_static(&[0, 0, 0, 6, 9, 0, 0, 2, b'{', b'}'])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::command::ExtFields;

    fn req(code: i32, topic: Option<&str>) -> RemotingCommand {
        let mut ext = ExtFields::new();
        if let Some(t) = topic {
            ext.push("b", t);
        }
        RemotingCommand::request(code, ext)
    }

    #[test]
    fn after_times_and_filters() {
        let mut t = FaultTable::default();
        t.add(
            Fault::drop_reply()
                .on_sends()
                .on_topic("T")
                .after(1)
                .times(2),
        );
        let send = req(request_code::SEND_MESSAGE_V2, Some("T"));
        assert_eq!(t.take(&req(request_code::HEART_BEAT, None)), None);
        assert_eq!(t.take(&req(request_code::SEND_MESSAGE_V2, Some("U"))), None);
        assert_eq!(t.take(&send), None, "first one passes");
        assert_eq!(t.take(&send), Some(FaultAction::DropReply));
        assert_eq!(t.take(&send), Some(FaultAction::DropReply));
        assert_eq!(t.len(), 0);
        assert_eq!(t.take(&send), None);
    }

    #[test]
    fn first_rule_wins_and_forever_stays() {
        let mut t = FaultTable::default();
        let a = t.add(Fault::close().forever());
        t.add(Fault::drop_reply());
        let any = req(1, None);
        assert_eq!(t.take(&any), Some(FaultAction::Close));
        assert_eq!(t.take(&any), Some(FaultAction::Close));
        assert!(t.remove(a));
        assert_eq!(t.take(&any), Some(FaultAction::DropReply));
        assert_eq!(t.len(), 0);
        t.add(Fault::close().times(0));
        assert_eq!(t.len(), 0);
    }
}
