//! The write side of a connection: encoded frames wait in one buffer that the
//! [`Flush`] item writes whole, never blocking the actor; requests arriving
//! while the buffer is full wait unencoded, in order, in the [`Backlog`].
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll, Waker};

use actix::prelude::*;
use bytes::{Buf, BytesMut};
use tokio::io::AsyncWrite;
use tokio_util::codec::Encoder;

use super::connect::Break;
use super::{ConnectionActor, HEADER_ALLOWANCE, Submit};
use crate::protocol::{RemotingCodec, RemotingCommand};
use crate::runtime::error::NetError;
use crate::runtime::tls::Writer;

/// Encoded bytes waiting for the socket beyond which requests are parked
/// (unencoded) until the writer catches up: bounds the write buffer.
const WRITE_BUFFER_LIMIT: usize = 256 * 1024;

/// Scheduler passes a flush waits at most for more frames before it writes.
const MAX_FLUSH_DEFERRALS: u32 = 8;

/// Buffered bytes that are written without waiting for more.
const FLUSH_EARLY_AT: usize = 64 * 1024;

/// Room a drained write buffer takes back from its allocation (copying nothing,
/// once the allocation has grown to it): what one write carries, plus a frame.
const WRITE_RECLAIM: usize = FLUSH_EARLY_AT + HEADER_ALLOWANCE;

/// The socket's write half and the encoded frames waiting for it.
pub(super) struct WriteBuffer {
    /// The socket's write half; `Some` while connected.
    writer: Option<Writer>,
    /// Encoded frames not yet written: the flush item writes all of it at once.
    buf: BytesMut,
    codec: RemotingCodec,
    /// The flush item's waker, stored while it idles on an empty buffer.
    waker: Option<Waker>,
    /// Socket writes since the actor was created: frames per write shows batching.
    writes: u64,
    /// Shared with every `Connection` handle: whether a socket is open.
    connected: Arc<AtomicBool>,
}

impl WriteBuffer {
    /// No socket yet; `connected` is the flag the handles read.
    pub(super) fn new(max_frame_len: usize, connected: Arc<AtomicBool>) -> Self {
        WriteBuffer {
            writer: None,
            buf: BytesMut::new(),
            codec: RemotingCodec::new(max_frame_len),
            waker: None,
            writes: 0,
            connected,
        }
    }

    /// Whether a socket is open.
    pub(super) fn is_open(&self) -> bool {
        self.writer.is_some()
    }

    /// The flag `Connection` handles read.
    pub(super) fn connected_flag(&self) -> Arc<AtomicBool> {
        self.connected.clone()
    }

    /// Socket writes so far.
    pub(super) fn writes(&self) -> u64 {
        self.writes
    }

    /// Whether a request may be encoded now rather than parked.
    pub(super) fn has_room(&self) -> bool {
        self.buf.len() <= WRITE_BUFFER_LIMIT
    }

    /// Takes a new connection's write half, with an empty buffer (the caller
    /// spawns its [`Flush`]).
    pub(super) fn open(&mut self, writer: Writer) {
        self.writer = Some(writer);
        self.connected.store(true, Ordering::Relaxed);
        self.buf.clear();
        self.waker = None;
    }

    /// Drops the socket's write half and whatever was not written yet.
    pub(super) fn close(&mut self) {
        self.writer = None;
        self.connected.store(false, Ordering::Relaxed);
        self.buf = BytesMut::new();
        self.waker = None;
    }

    /// Best effort, without waiting, for what is still buffered (responses,
    /// one-way frames) before the socket is dropped.
    pub(super) fn try_write_rest(&self) {
        if let Some(w) = &self.writer {
            w.try_write(&self.buf);
        }
    }

    /// Encodes `cmd` into the buffer, waking the flush item if it idles.
    pub(super) fn encode(&mut self, cmd: &RemotingCommand, remote: &str) -> Result<(), NetError> {
        // On error the codec leaves the buffer as it was: only this frame is lost.
        self.codec
            .encode(cmd, &mut self.buf)
            .map_err(|source| NetError::Encode {
                addr: remote.to_string(),
                source,
            })?;
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
        Ok(())
    }
}

/// Requests waiting for room in the write buffer, in arrival order, each known
/// to its deadline entry by a sequence number; `None` once answered at its deadline.
#[derive(Default)]
pub(super) struct Backlog {
    entries: VecDeque<Option<Submit>>,
    /// Sequence number of the front entry.
    head: u64,
}

impl Backlog {
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Parks `msg` at the back; returns its sequence number.
    pub(super) fn push(&mut self, msg: Submit) -> u64 {
        let seq = self.head + self.entries.len() as u64;
        self.entries.push_back(Some(msg));
        seq
    }

    /// Dequeues the front entry (`None` inside: answered at its deadline).
    pub(super) fn pop_front(&mut self) -> Option<Option<Submit>> {
        let entry = self.entries.pop_front()?;
        self.head += 1;
        Some(entry)
    }

    fn slot(&self, seq: u64) -> Option<&Option<Submit>> {
        let idx = usize::try_from(seq.checked_sub(self.head)?).ok()?;
        self.entries.get(idx)
    }

    /// Whether the request with sequence number `seq` still waits here.
    pub(super) fn is_parked(&self, seq: u64) -> bool {
        self.slot(seq).is_some_and(Option::is_some)
    }

    /// Takes the request with sequence number `seq` out, if it still waits here.
    pub(super) fn take(&mut self, seq: u64) -> Option<Submit> {
        let idx = usize::try_from(seq.checked_sub(self.head)?).ok()?;
        self.entries.get_mut(idx)?.take()
    }

    /// Drops answered entries at the front: they need not wait for the writer.
    pub(super) fn trim_answered(&mut self) {
        while matches!(self.entries.front(), Some(None)) {
            self.entries.pop_front();
            self.head += 1;
        }
    }

    /// Takes every waiting request out, in order.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = Submit> + '_ {
        self.head += self.entries.len() as u64;
        self.entries.drain(..).flatten()
    }
}

/// Writes the actor's buffer to the socket, all of it per write, and refills it
/// from the backlog. A full socket makes it return `Pending`, never `ctx.wait`:
/// the actor's timers and mailbox run while the peer does not read.
pub(super) struct Flush {
    /// The connection (`connects` count) it writes for; it ends with it.
    connection: u64,
    /// How many times it let the other ready tasks run since the buffer filled.
    deferrals: u32,
    /// The buffer's length at the last deferral: it writes once a pass adds nothing.
    len_at_deferral: usize,
}

impl Flush {
    /// The flush item of connection number `connection`.
    pub(super) fn new(connection: u64) -> Self {
        Flush {
            connection,
            deferrals: 0,
            len_at_deferral: 0,
        }
    }
}

impl ActorFuture<ConnectionActor> for Flush {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut ConnectionActor,
        ctx: &mut Context<ConnectionActor>,
        task: &mut TaskContext<'_>,
    ) -> Poll<()> {
        let this = self.get_mut();
        loop {
            if act.link.connects() != this.connection {
                return Poll::Ready(());
            }
            let w = &mut act.writer;
            let Some(writer) = w.writer.as_mut() else {
                return Poll::Ready(());
            };
            if w.buf.is_empty() {
                // TLS keeps records written but not yet sent: push them out (a plain
                // socket has nothing to flush).
                match Pin::new(&mut *writer).poll_flush(task) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        act.break_connection(Break::Closed(format!("flush failed: {e}")), ctx);
                        return Poll::Ready(());
                    }
                }
                this.deferrals = 0;
                if !w.waker.as_ref().is_some_and(|k| k.will_wake(task.waker())) {
                    w.waker = Some(task.waker().clone());
                }
                return Poll::Pending;
            }
            let len = w.buf.len();
            let growing = this.deferrals == 0 || len > this.len_at_deferral;
            if growing && this.deferrals < MAX_FLUSH_DEFERRALS && len < FLUSH_EARLY_AT {
                // Yield while frames keep coming: the tasks already woken (replies
                // being handled, new sends) add theirs first, so one write carries
                // them all. A lone request waits one pass, as before.
                this.deferrals += 1;
                this.len_at_deferral = len;
                task.waker().wake_by_ref();
                return Poll::Pending;
            }
            // Until the buffer empties, whatever is left is written at once.
            this.deferrals = MAX_FLUSH_DEFERRALS;
            let reason = match Pin::new(writer).poll_write(task, &w.buf) {
                // The socket registered our waker.
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => "write failed: the socket took no bytes".to_string(),
                Poll::Ready(Ok(n)) => {
                    w.buf.advance(n);
                    if w.buf.is_empty() {
                        // Back to the start of the allocation while nothing is left
                        // to move: else frames appended later shift the unwritten
                        // bytes forward whenever the allocation's tail is reached.
                        w.buf.reserve(WRITE_RECLAIM);
                    }
                    w.writes += 1;
                    act.drain_backlog(ctx);
                    continue;
                }
                Poll::Ready(Err(e)) => format!("write failed: {e}"),
            };
            act.break_connection(Break::Closed(reason), ctx);
            return Poll::Ready(());
        }
    }
}
