//! The memory budget all display sessions share (`limits.display_memory_bytes`,
//! `docs/security.md`, "Displays"). A session reserves what `pixelwire-core` estimates its panel
//! costs before anything is allocated for it (at HELLO, or when a sketch is recognised); the
//! [`Reservation`] lives as long as the session's sink and gives the bytes back on drop, so no
//! way out of a connection task leaks them.

use std::sync::{Arc, Mutex};

/// Bytes reserved by the display sessions; the limit is configuration, passed to each reservation.
#[derive(Debug, Default)]
pub struct MemoryBudget {
    used: Mutex<u64>,
}

/// A reservation refused: what was asked and what was left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted {
    /// Bytes asked for.
    pub need: u64,
    /// Bytes left under the limit.
    pub available: u64,
    /// The limit.
    pub limit: u64,
}

impl std::fmt::Display for Exhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "display memory budget: needs {} MiB, {} of {} MiB left",
            self.need.div_ceil(1 << 20),
            self.available >> 20,
            self.limit >> 20
        )
    }
}

/// Bytes held in a [`MemoryBudget`]; released on drop.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl MemoryBudget {
    /// Reserves `bytes` if the total stays within `limit`.
    pub fn reserve(self: &Arc<Self>, bytes: u64, limit: u64) -> Result<Reservation, Exhausted> {
        // A poisoned lock only means a panic elsewhere while holding it; the count is still valid.
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let available = limit.saturating_sub(*used);
        if bytes > available {
            return Err(Exhausted {
                need: bytes,
                available,
                limit,
            });
        }
        *used += bytes;
        Ok(Reservation {
            budget: self.clone(),
            bytes,
        })
    }

    /// Bytes reserved now.
    pub fn used(&self) -> u64 {
        *self.used.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Reservation {
    /// Bytes this reservation holds.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stay_within_the_limit_and_give_back_on_drop() {
        let b = Arc::new(MemoryBudget::default());
        let a = b.reserve(600, 1000).unwrap();
        let e = b.reserve(500, 1000).unwrap_err();
        assert_eq!((e.need, e.available, e.limit), (500, 400, 1000));
        let c = b.reserve(400, 1000).unwrap();
        assert_eq!(b.used(), 1000);
        drop(a);
        assert_eq!(b.used(), 400);
        drop(c);
        assert_eq!(b.used(), 0);
        assert!(b.reserve(1, 0).is_err());
    }
}
