//! What a viewer would show: decoded stripes painted into one luma canvas in arrival order, so that
//! after the last stripe of frame `f` the canvas is the picture a client displays for `f` (stripes
//! a frame did not send keep their older, unchanged rows). Quality is the PSNR of that canvas'
//! luma against the reference picture's luma, over the rows painted so far; the reference luma uses
//! the matrix and range of the codec ([`LumaMatrix`]), so colour conversion is not counted as loss.

/// How R'G'B' becomes Y'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LumaMatrix {
    /// BT.601, full range (JFIF; pixelwire's H.264).
    Bt601Full,
    /// BT.709, limited range 16..235 (pixelflux 2.x's H.264).
    Bt709Limited,
}

impl LumaMatrix {
    /// Parses `bt601-full` or `bt709-limited`.
    pub fn parse(s: &str) -> Option<LumaMatrix> {
        match s {
            "bt601-full" => Some(LumaMatrix::Bt601Full),
            "bt709-limited" => Some(LumaMatrix::Bt709Limited),
            _ => None,
        }
    }

    /// Luma of one pixel.
    pub fn luma(self, r: u8, g: u8, b: u8) -> u8 {
        let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
        let y = match self {
            LumaMatrix::Bt601Full => 0.299 * r + 0.587 * g + 0.114 * b,
            LumaMatrix::Bt709Limited => {
                16.0 + (0.2126 * r + 0.7152 * g + 0.0722 * b) * 219.0 / 255.0
            }
        };
        y.round().clamp(0.0, 255.0) as u8
    }

    /// Luma plane of a packed BGRA picture.
    pub fn plane_of_bgra(self, bgra: &[u8]) -> Vec<u8> {
        bgra.chunks_exact(4)
            .map(|p| self.luma(p[2], p[1], p[0]))
            .collect()
    }

    /// Luma plane of a packed RGBA picture.
    pub fn plane_of_rgba(self, rgba: &[u8]) -> Vec<u8> {
        rgba.chunks_exact(4)
            .map(|p| self.luma(p[0], p[1], p[2]))
            .collect()
    }
}

/// The luma canvas.
#[derive(Debug, Clone)]
pub struct Canvas {
    /// Width.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Luma, `width` bytes per row.
    pub luma: Vec<u8>,
    painted: Vec<bool>,
}

impl Canvas {
    /// A black canvas with nothing painted.
    pub fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            luma: vec![0; width * height],
            painted: vec![false; height],
        }
    }

    /// Paints a decoded stripe (`plane` with `stride` bytes per row, `width` x `rows`) at row `y`;
    /// what falls outside the canvas is cut off.
    pub fn paint(&mut self, y: usize, plane: &[u8], stride: usize, width: usize, rows: usize) {
        let w = width.min(self.width);
        for r in 0..rows {
            let (dst, src) = (y + r, r * stride);
            if dst >= self.height || src + w > plane.len() {
                break;
            }
            self.luma[dst * self.width..dst * self.width + w].copy_from_slice(&plane[src..src + w]);
            self.painted[dst] = true;
        }
    }

    /// Rows painted at least once.
    pub fn painted_rows(&self) -> usize {
        self.painted.iter().filter(|&&p| p).count()
    }

    /// PSNR in dB of the painted rows against a reference luma plane of the same size (99 when
    /// identical); `None` when nothing is painted.
    pub fn psnr(&self, reference: &[u8]) -> Option<f64> {
        let mut sum = 0u64;
        let mut n = 0u64;
        for (row, _) in self.painted.iter().enumerate().filter(|(_, p)| **p) {
            let o = row * self.width;
            let (a, b) = (&self.luma[o..o + self.width], &reference[o..o + self.width]);
            sum += a
                .iter()
                .zip(b)
                .map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2))
                .sum::<u64>();
            n += self.width as u64;
        }
        if n == 0 {
            return None;
        }
        let mse = sum as f64 / n as f64;
        Some(if mse == 0.0 {
            99.0
        } else {
            (10.0 * (255.0 * 255.0 / mse).log10()).min(99.0)
        })
    }
}

/// The `q`-quantile (0..=1) of a sample by nearest rank; `None` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    Some(sorted[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_stripes_overwrite_and_unsent_rows_keep_older_content() {
        let mut c = Canvas::new(4, 6);
        // Frame 1: two stripes of 3 rows.
        c.paint(0, &[10; 12], 4, 4, 3);
        assert_eq!(c.painted_rows(), 3);
        c.paint(3, &[20; 12], 4, 4, 3);
        // Frame 2 sends only the top stripe.
        c.paint(0, &[30; 12], 4, 4, 3);
        assert_eq!(&c.luma[..12], &[30; 12]);
        assert_eq!(&c.luma[12..], &[20; 12]);
        assert_eq!(c.painted_rows(), 6);
    }

    #[test]
    fn stripes_are_clipped_to_the_canvas_and_strides_honoured() {
        let mut c = Canvas::new(3, 4);
        // A decoder plane wider (stride 8) and taller (odd trailing row) than the canvas.
        let plane: Vec<u8> = (0..8 * 3).map(|v| v as u8).collect();
        c.paint(2, &plane, 8, 5, 3);
        assert_eq!(&c.luma[6..], &[0, 1, 2, 8, 9, 10]);
        assert_eq!(c.painted_rows(), 2);
    }

    #[test]
    fn psnr_counts_painted_rows_only() {
        let mut c = Canvas::new(2, 2);
        assert_eq!(c.psnr(&[0; 4]), None);
        c.paint(0, &[100, 100], 2, 2, 1);
        assert_eq!(c.psnr(&[100, 100, 7, 7]), Some(99.0));
        let p = c.psnr(&[101, 99, 0, 0]).unwrap();
        assert!((p - 48.13).abs() < 0.01, "{p}");
    }

    #[test]
    fn luma_matrices() {
        assert_eq!(LumaMatrix::Bt601Full.luma(255, 255, 255), 255);
        assert_eq!(LumaMatrix::Bt709Limited.luma(255, 255, 255), 235);
        assert_eq!(LumaMatrix::Bt709Limited.luma(0, 0, 0), 16);
        assert_eq!(LumaMatrix::Bt601Full.plane_of_bgra(&[0, 0, 255, 255]), [76]);
        assert_eq!(quantile(&[1.0, 2.0, 3.0], 0.5), Some(2.0));
    }
}
