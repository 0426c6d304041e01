//! Frame sources. Built-in generated screens run as one task per stream: the task sleeps while
//! nobody watches the stream, and renders on wall-clock-aligned ticks while someone does (so a 1 fps
//! clock changes exactly on the second).

pub mod dashboard;
pub mod generator;
pub mod render;
pub mod screen;
pub mod system_info;

use crate::bus::Stream;
use crate::config::{SourceKind, StreamConfig};
use crate::shutdown::ShutdownSignal;
use generator::{Generator, RenderInput};
use pixelwire_media::MediaFrame;
use std::sync::Arc;
use std::time::Duration;

/// How often the CPU screen samples usage (the seed's interval).
const CPU_SAMPLE_INTERVAL: Duration = Duration::from_millis(500);

/// A generator plus what feeds it.
enum Screen {
    Bios(render::BiosScreen),
    Cpu(Box<(render::CpuScreen, system_info::CpuSampler)>),
    Pattern(render::PatternScreen),
}

impl Screen {
    /// The screen of a generated stream; `None` for streams that devices push.
    fn new(cfg: &StreamConfig) -> Option<Self> {
        let (w, h) = (cfg.width.get(), cfg.height.get());
        Some(match cfg.kind() {
            SourceKind::Bios => {
                Screen::Bios(render::BiosScreen::new(w, h).with_info(system_info::bios_info()))
            }
            SourceKind::Cpu => {
                let sampler = system_info::CpuSampler::new();
                let (model, cores) = sampler.model_and_cores();
                Screen::Cpu(Box::new((
                    render::CpuScreen::new(w, h, model, cores),
                    sampler,
                )))
            }
            SourceKind::Pattern => Screen::Pattern(render::PatternScreen::new(w, h)),
            // Dashboards and screens run their own tasks (`dashboard.rs`, `screen.rs`); cameras
            // push.
            SourceKind::Dashboard | SourceKind::Camera | SourceKind::Screen => return None,
        })
    }

    fn render(&mut self, input: &RenderInput, rgba: &mut [u8]) {
        match self {
            Screen::Bios(s) => s.render(input, rgba),
            Screen::Cpu(cpu) => {
                let (s, sampler) = &mut **cpu;
                if let Some(sample) = sampler.sample(CPU_SAMPLE_INTERVAL) {
                    s.push_sample(&sample);
                }
                s.render(input, rgba);
            }
            Screen::Pattern(s) => s.render(input, rgba),
        }
    }
}

/// Runs a generated stream until shutdown.
pub async fn run_generated(
    stream: Arc<Stream>,
    cfg: StreamConfig,
    mut shutdown: ShutdownSignal,
    metrics: crate::metrics::Metrics,
) {
    let fps = cfg.fps();
    let period_us = (1e6 / f64::from(fps.max(0.1))) as u64;
    let Some(mut screen) = Screen::new(&cfg) else {
        return;
    };
    let (width, height) = (cfg.width.get(), cfg.height.get());
    let render = metrics.stream(stream.name());
    let started = crate::clock::now();
    let mut index = 0u64;
    let mut still_done = false;
    loop {
        tokio::select! {
            _ = stream.watched() => {}
            _ = shutdown.wait() => return,
        }
        if cfg.still() && still_done {
            // A still image never changes; just wait for shutdown.
            shutdown.wait().await;
            return;
        }
        let now = crate::clock::now();
        let next = if index == 0 {
            now
        } else {
            pixelwire_core::Timestamp::from_micros((now.as_micros() / period_us + 1) * period_us)
        };
        tokio::select! {
            _ = tokio::time::sleep_until(crate::clock::to_instant(next)) => {}
            _ = shutdown.wait() => return,
        }
        if stream.watchers() == 0 {
            continue;
        }
        let t = crate::clock::now();
        let input = RenderInput {
            clock: crate::source::generator::ClockTime::local(t),
            elapsed_ms: t.since(started).as_millis() as u64,
            frame_index: index,
            fps: stream.fps(t.as_micros()),
        };
        let mut rgba = vec![0u8; width as usize * height as usize * 4];
        let t0 = std::time::Instant::now();
        screen.render(&input, &mut rgba);
        render.rendered(t0.elapsed());
        stream.publish(MediaFrame::from_rgba(
            width,
            height,
            rgba,
            index,
            t.as_micros(),
        ));
        index += 1;
        still_done = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{StreamDescription, StreamKind};
    use crate::config::SourceKind;
    use std::time::Duration;

    /// In virtual time (see `clock.rs`): a generated stream renders nothing while unwatched, then
    /// one frame per period on the wall-clock grid while watched, and stops when the last watcher
    /// leaves.
    #[test]
    fn renders_only_while_watched_on_the_wall_clock_grid() {
        crate::clock::tests::paused_runtime().block_on(async {
            let cfg = StreamConfig::builtin("pattern", SourceKind::Pattern);
            let stream = Stream::new(
                "pattern",
                StreamDescription {
                    kind: StreamKind::Generated,
                    source: "pattern".into(),
                    width: cfg.width.get(),
                    height: cfg.height.get(),
                    nominal_fps: 30.0,
                },
            );
            let (trigger, signal) = crate::shutdown::Shutdown::new();
            let task = tokio::spawn(run_generated(
                stream.clone(),
                cfg,
                signal,
                crate::metrics::Metrics::new(),
            ));
            tokio::time::sleep(Duration::from_secs(10)).await;
            assert_eq!(stream.frames(), 0, "nothing rendered while unwatched");

            let watch = stream.watch();
            tokio::time::sleep(Duration::from_secs(2)).await;
            let rendered = stream.frames();
            // The first frame at once, then one per 1/30 s tick: 61 or 62 by where the grid falls.
            assert!((60..=62).contains(&rendered), "{rendered} frames in 2 s");
            let last = stream.latest().expect("a frame");
            let period_us = 1_000_000 / 30;
            // tokio's timer wheel has 1 ms ticks: a frame is rendered within 1 ms after its tick.
            assert!(
                last.capture_time_us % period_us < 1_000,
                "frames sit on the wall-clock grid: {}",
                last.capture_time_us
            );

            drop(watch);
            tokio::time::sleep(Duration::from_millis(100)).await;
            let after = stream.frames();
            tokio::time::sleep(Duration::from_secs(5)).await;
            assert_eq!(stream.frames(), after, "stops when nobody watches");
            trigger.trigger();
            task.await.expect("the source task ends on shutdown");
        });
    }
}
