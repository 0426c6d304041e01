//! The hand-off between the capture thread and the encode thread: one slot where the newest
//! frame wins. Capture never waits for encoding; a frame the encoder has not taken yet is
//! replaced by the next one, whose damage then covers both (so change detection that trusts
//! damage still sees everything that changed since the last frame it encoded).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Something that can absorb the frame it supersedes.
pub trait Supersede {
    /// `self` replaces `older`, which nobody consumed: carry over what it must not lose.
    fn supersede(self, older: Self) -> Self;
}

struct State<T> {
    item: Option<T>,
    superseded: u64,
    closed: bool,
}

/// A one-item mailbox; see the module docs.
pub struct NewestSlot<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T: Supersede> NewestSlot<T> {
    /// An empty, open slot.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                item: None,
                superseded: 0,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A panic while holding this lock leaves plain data behind: keep going with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts an item, superseding the one waiting (never blocks on the consumer).
    pub fn put(&self, item: T) {
        let mut s = self.lock();
        let item = match s.item.take() {
            Some(older) => {
                s.superseded += 1;
                item.supersede(older)
            }
            None => item,
        };
        s.item = Some(item);
        drop(s);
        self.ready.notify_one();
    }

    /// Waits up to `timeout` for an item; `None` on timeout or once closed and empty.
    pub fn take(&self, timeout: Duration) -> Option<T> {
        let mut s = self.lock();
        if s.item.is_none() && !s.closed {
            s = self
                .ready
                .wait_timeout_while(s, timeout, |s| s.item.is_none() && !s.closed)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        s.item.take()
    }

    /// Wakes the consumer for good.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// True once closed (the producer ended).
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Items replaced before anyone took them.
    pub fn superseded(&self) -> u64 {
        self.lock().superseded
    }
}

impl<T: Supersede> Default for NewestSlot<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl Supersede for pixelwire_media::MediaFrame {
    fn supersede(self, older: Self) -> Self {
        if older.width != self.width || older.height != self.height {
            return self;
        }
        match (older.damage(), self.damage()) {
            (Some(old), Some(new)) => {
                let merged: Vec<_> = old.iter().chain(new).copied().collect();
                self.with_damage(merged)
            }
            _ => self.without_damage(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixelwire_core::Rect;
    use pixelwire_media::MediaFrame;

    fn frame(seq: u64, damage: Option<Vec<Rect>>) -> MediaFrame {
        let f = MediaFrame::from_rgba(8, 8, vec![0; 8 * 8 * 4], seq, 0);
        match damage {
            Some(d) => f.with_damage(d),
            None => f,
        }
    }

    fn r(x: u32) -> Rect {
        Rect {
            x,
            y: 0,
            w: 1,
            h: 1,
        }
    }

    #[test]
    fn the_newest_frame_wins_and_carries_the_damage_of_those_it_replaced() {
        let slot = NewestSlot::new();
        slot.put(frame(1, Some(vec![r(1)])));
        slot.put(frame(2, Some(vec![r(2)])));
        slot.put(frame(3, Some(vec![r(3)])));
        let got = slot.take(Duration::ZERO).expect("a frame");
        assert_eq!(got.seq, 3);
        assert_eq!(got.damage(), Some(&[r(1), r(2), r(3)][..]));
        assert_eq!(slot.superseded(), 2);
        assert!(slot.take(Duration::from_millis(1)).is_none());
    }

    #[test]
    fn unknown_damage_anywhere_makes_the_survivor_a_full_frame() {
        let slot = NewestSlot::new();
        slot.put(frame(1, None));
        slot.put(frame(2, Some(vec![r(2)])));
        assert_eq!(slot.take(Duration::ZERO).unwrap().damage(), None);
    }

    #[test]
    fn close_wakes_a_waiting_consumer() {
        let slot = std::sync::Arc::new(NewestSlot::<MediaFrame>::new());
        let s2 = slot.clone();
        let t = std::thread::spawn(move || s2.take(Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        slot.close();
        assert!(t.join().unwrap().is_none());
    }
}
