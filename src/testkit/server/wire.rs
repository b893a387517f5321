//! The wire codec of a test server: [`RemotingCodec`] for reading (with the
//! null broker's shortcut for sends); commands, raw bytes or the precomputed
//! null-broker reply for writing.
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::ServerCore;
use crate::protocol::command::RemotingCommand;
use crate::protocol::{ProtocolError, RemotingCodec};
use crate::testkit::null::{NullReply, NullSend, peek_send};

pub(crate) enum Outgoing {
    Cmd(RemotingCommand),
    Raw(Bytes),
    NullOk(NullSend),
}

/// A decoded frame, or (null mode) just what the null reply to a send needs.
pub(super) enum Incoming {
    Cmd(RemotingCommand),
    NullSend(NullSend),
}

pub(super) struct WireCodec {
    pub(super) inner: RemotingCodec,
    pub(super) null: Option<Arc<NullReply>>,
    /// Set for null brokers: sends skip the full decode while no fault rule is active.
    pub(super) fast: Option<Arc<ServerCore>>,
}

impl Decoder for WireCodec {
    type Item = Incoming;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Incoming>, ProtocolError> {
        if let Some(core) = &self.fast {
            if core.fault_count.load(Ordering::Acquire) == 0 {
                if let Some((len, send)) = peek_send(src, self.inner.max_frame_len()) {
                    src.advance(len);
                    return Ok(Some(Incoming::NullSend(send)));
                }
            }
        }
        Ok(self.inner.decode(src)?.map(Incoming::Cmd))
    }
}

impl Encoder<Outgoing> for WireCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: Outgoing, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match item {
            Outgoing::Cmd(cmd) => self.inner.encode(&cmd, dst),
            Outgoing::Raw(bytes) => {
                dst.put_slice(&bytes);
                Ok(())
            }
            Outgoing::NullOk(send) => match &self.null {
                Some(null) => {
                    null.write(send, dst);
                    Ok(())
                }
                None => Err(ProtocolError::MalformedFrame(
                    "null reply on a server without null mode".into(),
                )),
            },
        }
    }
}
