//! The fake broker: stores sends, answers like RocketMQ-Rust 1.0 (JSON headers,
//! Java response fields), and lets tests look at what it stored. This module
//! holds the broker's state, its request dispatch and the client
//! registration requests (heartbeat, unregister); one module per other idea.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use super::null::{NullReply, NullSend, null_response, null_send_of};
use super::server::{ConnectionId, Handler, Outgoing, ServerCore, lock, response};
use crate::protocol::codes::{request_code, response_code};
use crate::protocol::command::{ExtFields, RemotingCommand};
use crate::protocol::headers::{CommandHeader, UnregisterClientRequestHeader};
use crate::protocol::heartbeat::HeartbeatData;

mod handle;
mod message;
mod read;
mod recall;
mod send;
mod topic;
mod transaction;

pub use handle::BrokerHandle;
pub use message::{BrokerMessage, TransactionState};

use read::{max_offset, view_message};
use recall::recall;
use send::{reply, send};
use topic::create_topic;
use transaction::end_transaction;

/// Queues of an auto-created topic are capped by TBW102's, 8 on the real servers.
pub(crate) const DEFAULT_TOPIC_QUEUES: i32 = 8;

#[derive(Default)]
pub(crate) struct BrokerStore {
    messages: Vec<BrokerMessage>,
    queue_offsets: HashMap<(String, i32), i64>,
    commit_offset: i64,
    heartbeats: usize,
    last_heartbeat: Option<HeartbeatData>,
    unregisters: Vec<UnregisterClientRequestHeader>,
}

/// One broker: its name and address, null mode, and what it stored.
pub(crate) struct BrokerCore {
    pub(crate) name: String,
    addr: SocketAddr,
    null_mode: bool,
    /// Precomputed reply of null mode; `None` falls back to building each reply.
    null: Option<Arc<NullReply>>,
    store: Mutex<BrokerStore>,
    sends: AtomicU64,
}

impl BrokerCore {
    pub(crate) fn new(name: String, addr: SocketAddr, null_mode: bool) -> Self {
        BrokerCore {
            name,
            addr,
            null_mode,
            null: if null_mode {
                NullReply::new(addr).map(Arc::new)
            } else {
                None
            },
            store: Mutex::new(BrokerStore::default()),
            sends: AtomicU64::new(0),
        }
    }
}

impl Handler for BrokerCore {
    fn handle(
        &self,
        core: &ServerCore,
        conn: ConnectionId,
        peer: SocketAddr,
        req: &RemotingCommand,
    ) -> Option<RemotingCommand> {
        use request_code::*;
        let b = self;
        let reply = match req.code {
            SEND_MESSAGE
            | SEND_MESSAGE_V2
            | SEND_BATCH_MESSAGE
            | SEND_REPLY_MESSAGE
            | SEND_REPLY_MESSAGE_V2 => {
                b.sends.fetch_add(1, Ordering::Relaxed);
                if b.null_mode {
                    // Reached only while fault rules are active; otherwise null_reply answered.
                    null_response(core.addr, null_send_of(req))
                } else if matches!(req.code, SEND_REPLY_MESSAGE | SEND_REPLY_MESSAGE_V2) {
                    reply(core, b, conn, peer, req)
                } else {
                    send(core, b, conn, peer, req)
                }
            }
            HEART_BEAT => heartbeat(core, b, conn, req),
            UNREGISTER_CLIENT => unregister(core, b, req),
            END_TRANSACTION => end_transaction(b, req),
            GET_MAX_OFFSET => max_offset(b, req),
            VIEW_MESSAGE_BY_ID => view_message(b, req),
            UPDATE_AND_CREATE_TOPIC => create_topic(core, b, req),
            RECALL_MESSAGE => recall(b, req),
            code => error(
                req,
                response_code::REQUEST_CODE_NOT_SUPPORTED,
                format!("request type {code} not supported"),
            ),
        };
        (!req.is_oneway()).then_some(reply)
    }

    fn null_mode(&self) -> bool {
        self.null_mode
    }

    fn null_reply_template(&self) -> Option<Arc<NullReply>> {
        self.null.clone()
    }

    /// Counts a null-mode send and gives its reply (none for oneway).
    fn null_reply(&self, send: NullSend) -> Option<Outgoing> {
        self.sends.fetch_add(1, Ordering::Relaxed);
        if send.oneway {
            return None;
        }
        Some(match &self.null {
            Some(_) => Outgoing::NullOk(send),
            None => Outgoing::Cmd(null_response(self.addr, send)),
        })
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn error(req: &RemotingCommand, code: i32, remark: impl Into<String>) -> RemotingCommand {
    response(req, code, Some(remark.into()))
}

fn ok(req: &RemotingCommand, ext: Option<ExtFields>) -> RemotingCommand {
    let mut r = response(req, response_code::SUCCESS, None);
    r.ext_fields = ext;
    r
}

fn heartbeat(
    core: &ServerCore,
    b: &BrokerCore,
    conn: ConnectionId,
    req: &RemotingCommand,
) -> RemotingCommand {
    let hb = match HeartbeatData::decode(&req.body) {
        Ok(hb) => hb,
        // What RocketMQ-Rust 1.0 answers for a body it cannot read.
        Err(e) => {
            return error(
                req,
                response_code::SYSTEM_ERROR,
                format!("Serialization failed: {e}"),
            );
        }
    };
    if let Some(c) = lock(&core.state).conns.get_mut(&conn) {
        c.client_id = Some(hb.client_id.clone());
        c.groups = hb
            .producer_data_set
            .iter()
            .map(|p| p.group_name.clone())
            .collect();
    }
    {
        let mut st = lock(&b.store);
        st.heartbeats += 1;
        st.last_heartbeat = Some(hb);
    }
    let mut ext = ExtFields::with_capacity(2);
    ext.push("IS_SUPPORT_HEART_BEAT_V2", "true");
    ext.push("IS_SUB_CHANGE", "false");
    ok(req, Some(ext))
}

fn unregister(core: &ServerCore, b: &BrokerCore, req: &RemotingCommand) -> RemotingCommand {
    let h = match UnregisterClientRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return error(req, response_code::SYSTEM_ERROR, e.to_string()),
    };
    if let Some(group) = &h.producer_group {
        for c in lock(&core.state).conns.values_mut() {
            if c.client_id.as_deref() == Some(h.client_id.as_str()) {
                c.groups.remove(group);
            }
        }
    }
    lock(&b.store).unregisters.push(h);
    ok(req, None)
}
