//! Fault application: what one frame gets (capture, the first matching
//! fault rule, then the role's handler) and how a fault bends the reply.
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::conn::{Conn, Next};
use super::wire::{Incoming, Outgoing};
use super::{ReceivedRequest, lock, response};
use crate::protocol::command::RemotingCommand;
use crate::protocol::frame::encode_frame;
use crate::protocol::response_code;
use crate::testkit::faults::{FaultAction, SEND_CODES};
use crate::testkit::null::null_send_of;

impl Conn {
    /// Decides what one frame gets: capture, faults, then the role's handler.
    pub(super) fn process(&mut self, incoming: Incoming) -> Next {
        let core = &*self.core;
        let cmd = match incoming {
            Incoming::Cmd(cmd) => cmd,
            // Only null brokers produce these (other roles answer nothing).
            Incoming::NullSend(send) => {
                return core
                    .role
                    .null_reply(send)
                    .map_or(Next::Nothing, Next::Reply);
            }
        };
        if cmd.is_response() {
            let waiter = {
                let mut st = lock(&core.state);
                st.received.push(ReceivedRequest {
                    connection: self.id,
                    command: cmd.clone(),
                    at: Instant::now(),
                });
                st.pending.remove(&cmd.opaque)
            };
            if let Some((_, tx)) = waiter {
                let _ = tx.send(cmd);
            }
            core.notify.notify_waiters();
            return Next::Nothing;
        }
        // Null-mode sends are only counted: capturing them would grow without bound in benchmarks.
        let null_send = core.role.null_mode() && SEND_CODES.contains(&cmd.code);
        if null_send && core.fault_count.load(Ordering::Acquire) == 0 {
            return core
                .role
                .null_reply(null_send_of(&cmd))
                .map_or(Next::Nothing, Next::Reply);
        }
        let fault = {
            let mut st = lock(&core.state);
            if !null_send {
                st.received.push(ReceivedRequest {
                    connection: self.id,
                    command: cmd.clone(),
                    at: Instant::now(),
                });
            }
            if core.fault_count.load(Ordering::Acquire) > 0 {
                let f = st.faults.take(&cmd);
                core.fault_count.store(st.faults.len(), Ordering::Release);
                f
            } else {
                None
            }
        };
        core.notify.notify_waiters();
        match fault {
            Some(FaultAction::Respond { code, remark }) if stored_not_flushed(code, &cmd) => {
                // A real broker stores the message and says so in the send header:
                // the reply is the normal one with this code and remark.
                match self.handle(&cmd) {
                    Some(mut r) if !cmd.is_oneway() => {
                        r.code = code;
                        r.remark = remark;
                        Next::Reply(Outgoing::Cmd(r))
                    }
                    _ => Next::Nothing,
                }
            }
            Some(FaultAction::Respond { code, remark }) => {
                if cmd.is_oneway() {
                    Next::Nothing
                } else {
                    Next::Reply(Outgoing::Cmd(response(&cmd, code, remark)))
                }
            }
            Some(FaultAction::RespondBody { code, body }) => {
                if cmd.is_oneway() {
                    Next::Nothing
                } else {
                    Next::Reply(Outgoing::Cmd(response(&cmd, code, None).with_body(body)))
                }
            }
            Some(FaultAction::Close) => Next::Close,
            Some(FaultAction::Freeze) => {
                core.mode.send_modify(|m| m.frozen = true);
                Next::Nothing
            }
            other => {
                let reply = self.handle(&cmd);
                match other {
                    None => reply.map_or(Next::Nothing, |r| Next::Reply(Outgoing::Cmd(r))),
                    Some(FaultAction::Delay(d)) => {
                        if let Some(r) = reply {
                            self.delayed.push(Box::pin(async move {
                                tokio::time::sleep(d).await;
                                Outgoing::Cmd(r)
                            }));
                        }
                        Next::Nothing
                    }
                    Some(FaultAction::DropReply) => Next::Nothing,
                    Some(FaultAction::ProcessThenClose) => Next::Close,
                    Some(FaultAction::Garbage(bytes)) => Next::Reply(Outgoing::Raw(bytes)),
                    Some(FaultAction::HalfReply) => match reply.map(|r| encode_frame(&r)) {
                        Some(Ok(frame)) => {
                            Next::ReplyThenClose(Outgoing::Raw(frame.slice(..frame.len() / 2)))
                        }
                        // Oneway (nothing to tear) or unencodable: just close.
                        _ => Next::Close,
                    },
                    Some(FaultAction::Flood(n)) => Next::Flood(n, reply.map(Outgoing::Cmd)),
                    // Matched by the outer arms; listed only because the match must be exhaustive.
                    Some(
                        FaultAction::Respond { .. }
                        | FaultAction::RespondBody { .. }
                        | FaultAction::Close
                        | FaultAction::Freeze,
                    ) => Next::Nothing,
                }
            }
        }
    }
}

/// FLUSH_DISK_TIMEOUT, SLAVE_NOT_AVAILABLE and FLUSH_SLAVE_TIMEOUT answer a
/// send whose message was stored (only its flush or replication fell short).
fn stored_not_flushed(code: i32, cmd: &RemotingCommand) -> bool {
    matches!(
        code,
        response_code::FLUSH_DISK_TIMEOUT
            | response_code::SLAVE_NOT_AVAILABLE
            | response_code::FLUSH_SLAVE_TIMEOUT
    ) && SEND_CODES.contains(&cmd.code)
}
