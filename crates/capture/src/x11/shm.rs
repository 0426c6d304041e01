//! MIT-SHM segments the X server writes captured pixels into, pooled: a grab fills a free
//! segment, and the filled segment is handed out as [`Bytes`] without a copy. When the last
//! holder drops those bytes, the segment returns to the pool. While every pooled segment is held
//! (slow consumers), a grab goes to a scratch segment and is copied out, so capture never waits.
//!
//! Segments are memfds passed to the server with `ShmAttachFd` (MIT-SHM 1.2), so nothing is left
//! behind in the SysV namespace if the process dies.

use bytes::Bytes;
use memmap2::MmapMut;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use x11rb::connection::Connection;
use x11rb::protocol::shm::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

/// Segments kept at most (one being filled, one held as the newest frame, two in consumers).
pub const MAX_SEGMENTS: usize = 4;

/// One attached segment.
pub struct Segment {
    /// The server's id of the segment.
    pub id: u32,
    map: MmapMut,
}

impl Segment {
    fn create(conn: &RustConnection, len: usize) -> Result<Self, String> {
        let fd: OwnedFd =
            rustix::fs::memfd_create("pixelwire-capture", rustix::fs::MemfdFlags::CLOEXEC)
                .map_err(|e| format!("memfd_create: {e}"))?;
        rustix::fs::ftruncate(&fd, len as u64).map_err(|e| format!("ftruncate: {e}"))?;
        let file = std::fs::File::from(fd);
        // SAFETY: the memfd was created above and is private to this process and the X server.
        // The server writes into it only while a ShmGetImage request on this segment is in
        // flight, and the capture thread issues those only for segments it owns (not leased out
        // as `Bytes`), waiting for the reply before reading. Nothing truncates the memfd.
        #[allow(unsafe_code)]
        let map = unsafe { MmapMut::map_mut(&file) }.map_err(|e| format!("mmap: {e}"))?;
        let id = conn.generate_id().map_err(|e| e.to_string())?;
        conn.shm_attach_fd(id, file, false)
            .map_err(|e| e.to_string())?
            .check()
            .map_err(|e| format!("ShmAttachFd: {e}"))?;
        Ok(Self { id, map })
    }

    /// The segment's bytes (the server's last write).
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The segment's bytes for in-place edits (compositing the cursor) before it is handed out.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.map
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        self.map.len()
    }
}

/// Free segments of one size, shared with the leases that return them.
#[derive(Default)]
struct Free {
    len: usize,
    segments: Vec<Segment>,
    /// Segments of an old size returned by leases: detached on the next take.
    stale: Vec<u32>,
}

/// A pool of segments of one size.
pub struct SegmentPool {
    free: Arc<Mutex<Free>>,
    created: usize,
    scratch: Option<Segment>,
}

/// A segment taken from the pool for one grab.
pub enum Taken {
    /// A pooled segment: handed out without copying.
    Pooled(Segment),
    /// Every pooled segment is held: the scratch segment, copied out after the grab.
    Scratch(Segment),
}

impl Taken {
    /// The segment.
    pub fn segment(&mut self) -> &mut Segment {
        match self {
            Taken::Pooled(s) | Taken::Scratch(s) => s,
        }
    }
}

impl SegmentPool {
    /// An empty pool; segments are created on demand.
    pub fn new() -> Self {
        Self {
            free: Arc::new(Mutex::new(Free::default())),
            created: 0,
            scratch: None,
        }
    }

    /// Segments created since the last resize (for statistics).
    pub fn created(&self) -> usize {
        self.created
    }

    /// A segment of at least `len` bytes. Segments of another size (the capture area changed)
    /// are detached and dropped.
    pub fn take(&mut self, conn: &RustConnection, len: usize) -> Result<Taken, String> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        for id in free.stale.drain(..) {
            let _ = conn.shm_detach(id);
        }
        if free.len != len {
            for s in free.segments.drain(..) {
                let _ = conn.shm_detach(s.id);
            }
            if let Some(s) = self.scratch.take() {
                let _ = conn.shm_detach(s.id);
            }
            free.len = len;
            self.created = 0;
        }
        if let Some(s) = free.segments.pop() {
            return Ok(Taken::Pooled(s));
        }
        drop(free);
        if self.created < MAX_SEGMENTS {
            self.created += 1;
            return Segment::create(conn, len).map(Taken::Pooled);
        }
        match self.scratch.take() {
            Some(s) => Ok(Taken::Scratch(s)),
            None => Segment::create(conn, len).map(Taken::Scratch),
        }
    }

    /// The first `len` bytes of a filled segment as [`Bytes`]: pooled segments are lent out and
    /// come back when the bytes are dropped; the scratch segment is copied and kept.
    pub fn hand_out(&mut self, taken: Taken, len: usize) -> Bytes {
        match taken {
            Taken::Pooled(segment) => Bytes::from_owner(Lease {
                segment: Some(segment),
                len,
                free: Arc::clone(&self.free),
            }),
            Taken::Scratch(segment) => {
                let bytes = Bytes::copy_from_slice(&segment.bytes()[..len]);
                self.scratch = Some(segment);
                bytes
            }
        }
    }
}

impl Default for SegmentPool {
    fn default() -> Self {
        Self::new()
    }
}

/// A filled segment lent out as `Bytes`; dropping it returns the segment to its pool (or frees
/// it if the pool moved on to another size; the capture thread then detaches it).
struct Lease {
    segment: Option<Segment>,
    len: usize,
    free: Arc<Mutex<Free>>,
}

impl AsRef<[u8]> for Lease {
    fn as_ref(&self) -> &[u8] {
        self.segment
            .as_ref()
            .map_or(&[], |s| &s.bytes()[..self.len])
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(s) = self.segment.take() {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            if free.len == s.size() {
                free.segments.push(s);
            } else {
                free.stale.push(s.id);
            }
        }
    }
}
