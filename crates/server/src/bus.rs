//! The frame bus: named streams where the newest frame wins. A stream holds only its latest frame
//! (a `tokio::sync::watch` slot); each consumer reads the newest one when it is ready, so a slow
//! consumer skips frames and never slows the source or the other consumers. Consumers hold a
//! [`StreamWatch`], and the number of watches tells generated sources whether to render at all.

use pixelwire_media::MediaFrame;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{Notify, watch};

/// Where a stream's frames come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// Rendered by pixelwire (built-in screens, dashboards): renders only while watched.
    Generated,
    /// Pushed by a camera: frames arrive whether or not anyone watches.
    Camera,
}

impl StreamKind {
    /// The name the API shows.
    pub fn name(self) -> &'static str {
        match self {
            Self::Generated => "generated",
            Self::Camera => "camera",
        }
    }
}

/// What a stream is, for the API (and for other cluster nodes, `cluster/`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamDescription {
    /// Where its frames come from.
    pub kind: StreamKind,
    /// The source name ("bios", ...).
    pub source: String,
    /// Nominal width.
    pub width: u32,
    /// Nominal height.
    pub height: u32,
    /// Nominal frames per second.
    pub nominal_fps: f32,
}

/// Frames per second over the last two seconds.
#[derive(Debug, Default)]
struct RateMeter {
    times_us: std::collections::VecDeque<u64>,
}

impl RateMeter {
    /// Counts a frame captured at `now_us`. Capture times come from the source (a camera, another
    /// node) and may go backwards; such a frame counts without evicting anything.
    fn tick(&mut self, now_us: u64) {
        self.times_us.push_back(now_us);
        while self
            .times_us
            .front()
            .is_some_and(|t| now_us.saturating_sub(*t) > 2_000_000)
        {
            self.times_us.pop_front();
        }
        // A source whose clock jumped back far would otherwise keep every later frame queued.
        while self.times_us.len() > 4096 {
            self.times_us.pop_front();
        }
    }

    fn fps(&self, now_us: u64) -> f32 {
        let recent = self
            .times_us
            .iter()
            .filter(|t| now_us.saturating_sub(**t) <= 2_000_000)
            .count();
        recent as f32 / 2.0
    }
}

/// One named stream.
#[derive(Debug)]
pub struct Stream {
    name: String,
    description: StreamDescription,
    tx: watch::Sender<Option<Arc<MediaFrame>>>,
    watchers: AtomicUsize,
    watched: Notify,
    frames: AtomicU64,
    next_seq: AtomicU64,
    meter: Mutex<RateMeter>,
    /// The cluster node this stream comes from, for a stream relayed from another node
    /// (`cluster/`); `None` for a stream of this process.
    origin: Option<String>,
    /// False while a relayed stream's origin is unreachable (always true for a local one).
    online: AtomicBool,
}

impl Stream {
    /// A stream with no frame yet.
    pub fn new(name: impl Into<String>, description: StreamDescription) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            description,
            tx: watch::Sender::new(None),
            watchers: AtomicUsize::new(0),
            watched: Notify::new(),
            frames: AtomicU64::new(0),
            next_seq: AtomicU64::new(0),
            meter: Mutex::new(RateMeter::default()),
            origin: None,
            online: AtomicBool::new(true),
        })
    }

    /// A stream whose frames come from the cluster node `origin` (`cluster/`), offline until
    /// [`Stream::set_online`].
    pub fn new_remote(
        name: impl Into<String>,
        description: StreamDescription,
        origin: impl Into<String>,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            description,
            tx: watch::Sender::new(None),
            watchers: AtomicUsize::new(0),
            watched: Notify::new(),
            frames: AtomicU64::new(0),
            next_seq: AtomicU64::new(0),
            meter: Mutex::new(RateMeter::default()),
            origin: Some(origin.into()),
            online: AtomicBool::new(false),
        })
    }

    /// The cluster node a relayed stream comes from; `None` for a stream of this process.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// False while a relayed stream's origin is unreachable.
    pub fn online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Marks a relayed stream reachable or not; true if that changed.
    pub fn set_online(&self, online: bool) -> bool {
        self.online.swap(online, Ordering::AcqRel) != online
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it is.
    pub fn description(&self) -> &StreamDescription {
        &self.description
    }

    /// Replaces the newest frame; every watcher sees it (or a newer one) next.
    pub fn publish(&self, frame: MediaFrame) {
        let now = frame.capture_time_us;
        self.tx.send_replace(Some(Arc::new(frame)));
        self.frames.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut m) = self.meter.lock() {
            m.tick(now);
        }
    }

    /// The newest frame, if any.
    pub fn latest(&self) -> Option<Arc<MediaFrame>> {
        self.tx.borrow().clone()
    }

    /// A sequence number for the next frame of a pushed stream.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Frames published so far.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Measured frames per second.
    pub fn fps(&self, now_us: u64) -> f32 {
        self.meter.lock().map_or(0.0, |m| m.fps(now_us))
    }

    /// Consumers watching now.
    pub fn watchers(&self) -> usize {
        self.watchers.load(Ordering::Acquire)
    }

    /// Starts watching: the first [`StreamWatch::next`] returns the current frame if there is one.
    pub fn watch(self: &Arc<Self>) -> StreamWatch {
        let mut rx = self.tx.subscribe();
        rx.mark_changed();
        self.watchers.fetch_add(1, Ordering::AcqRel);
        self.watched.notify_waiters();
        StreamWatch {
            rx,
            stream: self.clone(),
        }
    }

    /// Returns once at least one consumer watches.
    pub async fn watched(&self) {
        loop {
            let notified = self.watched.notified();
            if self.watchers() > 0 {
                return;
            }
            notified.await;
        }
    }
}

/// A consumer's hold on a stream; dropping it stops watching.
#[derive(Debug)]
pub struct StreamWatch {
    rx: watch::Receiver<Option<Arc<MediaFrame>>>,
    stream: Arc<Stream>,
}

impl StreamWatch {
    /// The next frame newer than the last one returned (skipping any in between).
    pub async fn next(&mut self) -> Option<Arc<MediaFrame>> {
        loop {
            self.rx.changed().await.ok()?;
            if let Some(f) = self.rx.borrow_and_update().clone() {
                return Some(f);
            }
        }
    }

    /// The stream watched.
    pub fn stream(&self) -> &Arc<Stream> {
        &self.stream
    }
}

impl Drop for StreamWatch {
    fn drop(&mut self) {
        self.stream.watchers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// All streams by name.
#[derive(Debug, Default)]
pub struct Bus {
    streams: RwLock<BTreeMap<String, Arc<Stream>>>,
}

impl Bus {
    /// Adds a stream (replacing one of the same name).
    pub fn insert(&self, stream: Arc<Stream>) {
        if let Ok(mut m) = self.streams.write() {
            m.insert(stream.name().to_string(), stream);
        }
    }

    /// The stream called `name`, created with `describe()` if it does not exist yet (cameras
    /// create their streams on their first frame).
    pub fn get_or_create(
        &self,
        name: &str,
        describe: impl FnOnce() -> StreamDescription,
    ) -> Arc<Stream> {
        if let Some(s) = self.get(name) {
            return s;
        }
        match self.streams.write() {
            Ok(mut m) => m
                .entry(name.to_string())
                .or_insert_with(|| Stream::new(name, describe()))
                .clone(),
            // A poisoned lock means a panic elsewhere; serve an unregistered stream rather than none.
            Err(_) => Stream::new(name, describe()),
        }
    }

    /// Removes the stream called `name` (consumers holding it keep their `Arc` until they let
    /// go); true if it was there.
    pub fn remove(&self, name: &str) -> bool {
        self.streams
            .write()
            .map(|mut m| m.remove(name).is_some())
            .unwrap_or(false)
    }

    /// The stream called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Stream>> {
        self.streams.read().ok()?.get(name).cloned()
    }

    /// Every stream, by name.
    pub fn all(&self) -> Vec<Arc<Stream>> {
        self.streams
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// Why [`fresh_frame`] has no frame to give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoFrame {
    /// No stream has that name.
    #[error("no stream named {0:?}")]
    NoStream(String),
    /// The stream exists but has produced nothing yet.
    #[error("stream {0:?} has no frame yet")]
    NotYet(String),
}

/// The newest frame of `name`. A generated or relayed stream nobody watches is watched until a
/// fresh frame comes (at most 3 s), so a snapshot of an idle stream is never stale.
pub async fn fresh_frame(bus: &Bus, name: &str) -> Result<Arc<MediaFrame>, NoFrame> {
    let stream = bus
        .get(name)
        .ok_or_else(|| NoFrame::NoStream(name.to_string()))?;
    match stream.latest() {
        // A relayed stream's newest frame may be stale (nobody here watched it): like a generated
        // one, it is watched until a fresh frame arrives.
        Some(f)
            if stream.watchers() > 0
                || (stream.description().kind != StreamKind::Generated
                    && stream.origin().is_none()) =>
        {
            Ok(f)
        }
        latest => {
            let mut w = stream.watch();
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
            while let Ok(Some(f)) = tokio::time::timeout_at(deadline, w.next()).await {
                if latest
                    .as_ref()
                    .is_none_or(|l| l.seq != f.seq || l.capture_time_us != f.capture_time_us)
                {
                    return Ok(f);
                }
            }
            latest.ok_or_else(|| NoFrame::NotYet(name.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A capture clock that goes backwards (a frame from another node, a camera that reset) is
    /// counted, not a panic (the cluster test hit `now - t` underflowing).
    #[test]
    fn rate_meter_takes_capture_times_that_go_backwards() {
        let mut m = RateMeter::default();
        m.tick(10_000_000);
        m.tick(9_000_000);
        m.tick(5_000);
        assert_eq!(m.times_us.len(), 3);
        m.tick(12_500_000);
        // the 10 s and 9 s frames are over 2 s older than 12.5 s: evicted from the front
        assert!(m.times_us.len() <= 3);
        assert!((m.fps(12_500_000) - 0.5).abs() < 1e-6);
        for t in 0..10_000u64 {
            m.tick(t);
        }
        assert!(m.times_us.len() <= 4096);
    }

    fn desc() -> StreamDescription {
        StreamDescription {
            kind: StreamKind::Generated,
            source: "test".into(),
            width: 1,
            height: 1,
            nominal_fps: 1.0,
        }
    }

    fn frame(seq: u64) -> MediaFrame {
        MediaFrame::from_rgba(1, 1, vec![0, 0, 0, 255], seq, seq)
    }

    #[tokio::test]
    async fn newest_frame_wins_and_slow_watchers_skip() {
        let s = Stream::new("t", desc());
        let mut fast = s.watch();
        let mut slow = s.watch();
        assert_eq!(s.watchers(), 2);
        for i in 1..=5 {
            s.publish(frame(i));
            assert_eq!(fast.next().await.unwrap().seq, i);
        }
        // the slow watcher wakes up once and sees only the newest
        assert_eq!(slow.next().await.unwrap().seq, 5);
        drop(fast);
        drop(slow);
        assert_eq!(s.watchers(), 0);
    }

    #[tokio::test]
    async fn a_new_watcher_gets_the_current_frame_at_once() {
        let s = Stream::new("t", desc());
        s.publish(frame(7));
        let mut w = s.watch();
        assert_eq!(w.next().await.unwrap().seq, 7);
    }

    #[tokio::test]
    async fn watched_waits_for_a_watcher() {
        let s = Stream::new("t", desc());
        let s2 = s.clone();
        let waiter = tokio::spawn(async move { s2.watched().await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let _w = s.watch();
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
