//! `mock-camera`'s pictures: the server's `pattern` test screen (seed 001's mock_camera.py
//! look-alike), with the local wall clock on screen, as a dev-tools [`Painter`].

use pixelwire_devtools::mock_camera::{PaintInput, Painter, PainterFactory};
use pixelwire_server::source::generator::{ClockTime, Generator, RenderInput};
use pixelwire_server::source::render::PatternScreen;

/// Paints [`PatternScreen`].
struct PatternPainter(PatternScreen);

impl Painter for PatternPainter {
    fn paint(&mut self, input: &PaintInput, rgba: &mut [u8]) {
        let input = RenderInput {
            clock: ClockTime::local(pixelwire_server::clock::now()),
            elapsed_ms: input.elapsed_ms,
            frame_index: input.frame_index,
            fps: input.fps,
        };
        self.0.render(&input, rgba);
    }
}

/// Paints the `pattern` screen at each requested size.
pub fn pattern() -> PainterFactory {
    PainterFactory::new(|w, h| Box::new(PatternPainter(PatternScreen::new(w, h))))
}
