//! What the built-in screens show about the host, read with `sysinfo`: CPU model, per-core usage,
//! memory and host name. Kept apart from the renderers, which stay pure.

use std::time::{Duration, Instant};
use sysinfo::{CpuRefreshKind, RefreshKind, System};

/// Per-core CPU usage sampler.
pub struct CpuSampler {
    sys: Option<System>,
    last: Option<Instant>,
}

impl std::fmt::Debug for CpuSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuSampler")
            .field("last", &self.last)
            .finish()
    }
}

impl CpuSampler {
    /// A sampler; the first sample is available one interval after creation.
    pub fn new() -> Self {
        let sys = System::new_with_specifics(
            RefreshKind::nothing().with_cpu(CpuRefreshKind::everything()),
        )
        .ok();
        Self {
            sys,
            last: Some(Instant::now()),
        }
    }

    /// The CPU model ("brand") and the number of logical cores.
    pub fn model_and_cores(&self) -> (String, usize) {
        match &self.sys {
            Some(s) => (
                s.cpus()
                    .first()
                    .map(|c| c.brand().trim().to_string())
                    .unwrap_or_default(),
                s.cpus().len(),
            ),
            None => (String::new(), 1),
        }
    }

    /// Per-core usage in percent, if at least `interval` passed since the last sample.
    pub fn sample(&mut self, interval: Duration) -> Option<Vec<f32>> {
        let interval = interval.max(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        if self.last.is_some_and(|t| t.elapsed() < interval) {
            return None;
        }
        let sys = self.sys.as_mut()?;
        sys.refresh_cpu_usage();
        self.last = Some(Instant::now());
        Some(sys.cpus().iter().map(|c| c.usage()).collect())
    }
}

impl Default for CpuSampler {
    fn default() -> Self {
        Self::new()
    }
}

/// Facts for the BIOS screen.
pub fn bios_info() -> crate::source::render::BiosInfo {
    let mut sys =
        System::new_with_specifics(RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing())).ok();
    let model = sys
        .as_ref()
        .and_then(|s| s.cpus().first().map(|c| c.brand().trim().to_string()))
        .unwrap_or_default();
    let memory = sys
        .as_mut()
        .map(|s| {
            s.refresh_memory();
            format!("{:.1} GiB", s.total_memory() as f64 / (1u64 << 30) as f64)
        })
        .unwrap_or_default();
    let host = System::host_name().unwrap_or_default();
    crate::source::render::BiosInfo::new(model, memory, host)
}
