//! Seed 004's Raspberry Pi client (`seed-protocols.md` §D; `jmlb/RPi_libraries`
//! `vidstream_picamera/client.py`): the Pi connects to the server and, for every captured frame,
//! writes `struct.pack('<L', len)` (u32 little-endian), flushes, then writes the frame bytes. At
//! the end it writes a zero length (`00 00 00 00`) and closes. Payloads are JPEG or Picamera's raw
//! `yuv`/`rgb` buffers (see [`super::content`]). The original has no reconnect; this one
//! reconnects after `--reconnect-delay` like the other protocols.

use super::runner::Run;
use super::target::Endpoint;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::sleep_until;

/// The end-of-stream marker.
pub const END_OF_STREAM: [u8; 4] = [0; 4];

/// One frame as it appears on the wire: length (u32 LE) then the bytes.
pub fn frame_bytes(payload: &[u8]) -> std::io::Result<Vec<u8>> {
    let len = u32::try_from(payload.len())
        .map_err(|_| std::io::Error::other("frame larger than 4 GiB"))?;
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// A connected Picamera client.
pub struct PicameraClient {
    stream: TcpStream,
}

impl PicameraClient {
    /// Connects to the server.
    pub async fn connect(host: &str, port: u16) -> std::io::Result<Self> {
        let stream = TcpStream::connect((host, port)).await?;
        Ok(Self { stream })
    }

    /// Sends one frame: the length, a flush, then the bytes (two writes, as `client.py` does).
    pub async fn send_frame(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let wire = frame_bytes(payload)?;
        let (len, data) = wire.split_at(4);
        self.stream.write_all(len).await?;
        self.stream.flush().await?;
        self.stream.write_all(data).await?;
        self.stream.flush().await
    }

    /// Writes the zero length and closes.
    pub async fn finish(mut self) -> std::io::Result<()> {
        self.stream.write_all(&END_OF_STREAM).await?;
        self.stream.shutdown().await
    }
}

/// Runs the Picamera client until the run ends.
pub(super) async fn run(run: &mut Run, ep: &Endpoint) -> anyhow::Result<()> {
    let what = format!("tcp://{}:{}", ep.url_host(), ep.port);
    'connect: while !run.done() {
        let connected = tokio::select! {
            r = PicameraClient::connect(&ep.host, ep.port) => r,
            () = run.until_done() => break,
        };
        let mut client = match connected {
            Ok(c) => c,
            Err(e) => {
                if !run.connect_failed(&what, &e) || !run.backoff().await {
                    break;
                }
                continue;
            }
        };
        run.connected();
        tracing::info!("mock-camera: connected to {what}");
        while !run.done() {
            let frame_at = run.pacer.next_at();
            tokio::select! {
                () = run.until_done() => break,
                () = sleep_until(frame_at) => {}
            }
            let frame = run.take_frame()?;
            if let Err(e) = client.send_frame(&frame).await {
                run.failed();
                tracing::warn!("mock-camera: connection to {what} lost: {e}");
                if !run.backoff().await {
                    break 'connect;
                }
                continue 'connect;
            }
            run.delivered(frame.len());
        }
        if let Err(e) = client.finish().await {
            tracing::warn!("mock-camera: ending the stream failed: {e}");
        }
        break;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Format, MockCameraOptions, run_until};
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    #[test]
    fn frames_are_length_prefixed_little_endian() {
        assert_eq!(
            frame_bytes(b"\xff\xd8ab").unwrap(),
            b"\x04\x00\x00\x00\xff\xd8ab"
        );
        assert_eq!(
            frame_bytes(&[7u8; 0x0102]).unwrap()[..4],
            [0x02, 0x01, 0x00, 0x00]
        );
    }

    #[tokio::test]
    async fn client_bytes_on_the_wire() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).await.unwrap();
            all
        });
        let mut c = PicameraClient::connect("127.0.0.1", port).await.unwrap();
        c.send_frame(b"\xff\xd8\xff\xe0JFIF\xff\xd9").await.unwrap();
        c.send_frame(&[0x10; 300]).await.unwrap();
        c.finish().await.unwrap();
        let mut expected = b"\x0a\x00\x00\x00\xff\xd8\xff\xe0JFIF\xff\xd9\x2c\x01\x00\x00".to_vec();
        expected.extend_from_slice(&[0x10; 300]);
        expected.extend_from_slice(b"\x00\x00\x00\x00");
        assert_eq!(server.await.unwrap(), expected);
    }

    /// Reads `len LE + payload` records up to the zero marker; returns the payload sizes.
    async fn picamera_server(listener: TcpListener) -> (Vec<usize>, Vec<u8>) {
        let (mut s, _) = listener.accept().await.unwrap();
        let (mut sizes, mut first) = (Vec::new(), Vec::new());
        loop {
            let len = s.read_u32_le().await.unwrap() as usize;
            if len == 0 {
                let mut rest = Vec::new();
                s.read_to_end(&mut rest).await.unwrap();
                assert!(rest.is_empty(), "bytes after the end marker");
                return (sizes, first);
            }
            let mut buf = vec![0; len];
            s.read_exact(&mut buf).await.unwrap();
            if first.is_empty() {
                first = buf;
            }
            sizes.push(len);
        }
    }

    #[tokio::test]
    async fn raw_yuv_and_rgb_frames_at_320x240() {
        for (format, size) in [(Format::Yuv, 115_200), (Format::Rgb, 230_400)] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = tokio::spawn(picamera_server(listener));
            let mut o = MockCameraOptions::new(format!("tcp://127.0.0.1:{port}"));
            (o.size, o.format, o.frames, o.fps) = ((320, 240), format, Some(3), 200.0);
            let summary = run_until(o, std::future::pending()).await.unwrap();
            let (sizes, first) = server.await.unwrap();
            assert_eq!(sizes, vec![size; 3]);
            assert_eq!((summary.frames, summary.bytes), (3, 3 * size as u64));
            assert_eq!((summary.protocol, summary.failures), ("tcp", 0));
            if format == Format::Yuv {
                // The Y plane comes first, so the server can show it as greyscale (§D).
                assert!(pixelwire_media::yuv::I420::from_padded(&first, 320, 240).is_some());
            }
        }
    }

    #[tokio::test]
    async fn jpeg_frames_end_with_the_marker_when_stopped() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(picamera_server(listener));
        let mut o = MockCameraOptions::new(format!("tcp://127.0.0.1:{port}"));
        (o.size, o.fps) = ((160, 120), 50.0);
        let stop = tokio::time::sleep(std::time::Duration::from_millis(150));
        let summary = run_until(o, stop).await.unwrap();
        let (sizes, first) = server.await.unwrap();
        assert!(!sizes.is_empty());
        assert_eq!(sizes.len() as u64, summary.frames);
        assert_eq!(&first[..3], &[0xFF, 0xD8, 0xFF]);
    }
}
