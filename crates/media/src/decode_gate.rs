//! A bound on large JPEG decodes running at once, process-wide: a decode of at least
//! [`LARGE_PIXELS`] pixels waits for one of [`LARGE_DECODES`] permits. Decoding costs memory in
//! proportion to the pixels (a 4096x4096 frame is 64 MiB of RGBA while it decodes), so ten
//! snapshots of a huge frame requested at once must not all decode at once; small frames (every
//! seed camera's) never wait.

use std::sync::{Condvar, Mutex};

/// Frames of at least this many pixels count as large (a little over 1920x1080).
pub const LARGE_PIXELS: u64 = 2_100_000;
/// Large decodes that may run at once.
pub const LARGE_DECODES: usize = 2;

struct Gate {
    running: Mutex<usize>,
    freed: Condvar,
}

static GATE: Gate = Gate {
    running: Mutex::new(0),
    freed: Condvar::new(),
};

/// Held while a large decode runs.
#[derive(Debug)]
pub struct Permit {
    counted: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.counted {
            let mut n = GATE.running.lock().unwrap_or_else(|p| p.into_inner());
            *n = n.saturating_sub(1);
            drop(n);
            GATE.freed.notify_one();
        }
    }
}

/// A permit to decode `width × height` pixels: at once for small frames, after waiting for one
/// of the [`LARGE_DECODES`] slots for large ones.
pub fn enter(width: u32, height: u32) -> Permit {
    if u64::from(width) * u64::from(height) < LARGE_PIXELS {
        return Permit { counted: false };
    }
    let mut n = GATE.running.lock().unwrap_or_else(|p| p.into_inner());
    while *n >= LARGE_DECODES {
        n = GATE.freed.wait(n).unwrap_or_else(|p| p.into_inner());
    }
    *n += 1;
    Permit { counted: true }
}

/// Large decodes running now.
pub fn running() -> usize {
    *GATE.running.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn at_most_two_large_decodes_run_at_once_and_small_ones_never_wait() {
        let peak = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let peak = peak.clone();
                std::thread::spawn(move || {
                    let _p = enter(4096, 4096);
                    peak.fetch_max(running(), Ordering::Relaxed);
                    // A small decode inside never waits for the large ones.
                    let _small = enter(640, 480);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let peak = peak.load(Ordering::Relaxed);
        assert!((1..=LARGE_DECODES).contains(&peak), "peak {peak}");
        assert_eq!(running(), 0);
    }
}
