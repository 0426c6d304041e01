//! Writes a session's bytes to its socket in a separate task, so reading (acks, pings) goes on while
//! a slow peer drains a frame. Each buffer's completion (or failure) is reported back in order;
//! a write that makes no progress for `stall_timeout` fails, so a peer that never reads cannot hold
//! a session forever.

use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

/// Outcome of one buffer.
pub type WriteResult = Result<usize, String>;

/// The session side of the writer task.
#[derive(Debug)]
pub struct SocketWriter {
    tx: mpsc::Sender<Vec<u8>>,
    /// Completions, one per buffer, in order.
    pub done: mpsc::UnboundedReceiver<WriteResult>,
    pending: usize,
}

impl SocketWriter {
    /// Spawns the writer task over `wr`; at most `queue` buffers may wait.
    pub fn spawn(mut wr: OwnedWriteHalf, queue: usize, stall_timeout: Duration) -> Self {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(queue.max(1));
        let (done_tx, done) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(buf) = rx.recv().await {
                let r = write_with_stall_timeout(&mut wr, &buf, stall_timeout).await;
                let failed = r.is_err();
                if done_tx.send(r).is_err() || failed {
                    break;
                }
            }
            let _ = wr.shutdown().await;
        });
        Self {
            tx,
            done,
            pending: 0,
        }
    }

    /// Queues `buf`; fails if the queue is full (the peer is not reading) or the task ended.
    pub fn send(&mut self, buf: Vec<u8>) -> Result<(), &'static str> {
        match self.tx.try_send(buf) {
            Ok(()) => {
                self.pending += 1;
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err("peer is not reading (send queue full)"),
            Err(mpsc::error::TrySendError::Closed(_)) => Err("socket writer stopped"),
        }
    }

    /// Notes one completion received from `done`.
    pub fn completed(&mut self) {
        self.pending = self.pending.saturating_sub(1);
    }

    /// Buffers queued or being written.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Waits until everything queued is written or `limit` passes (used before closing, so an
    /// ERROR message reaches the peer).
    pub async fn flush(&mut self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.pending > 0 {
            match tokio::time::timeout_at(deadline, self.done.recv()).await {
                Ok(Some(Ok(_))) => self.pending -= 1,
                _ => break,
            }
        }
    }
}

async fn write_with_stall_timeout(
    wr: &mut OwnedWriteHalf,
    buf: &[u8],
    stall: Duration,
) -> WriteResult {
    let mut written = 0;
    while written < buf.len() {
        match tokio::time::timeout(stall, wr.write(&buf[written..])).await {
            Err(_) => return Err(format!("write stalled for {} s", stall.as_secs_f32())),
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(0)) => return Err("connection closed".to_string()),
            Ok(Ok(n)) => written += n,
        }
    }
    Ok(buf.len())
}
