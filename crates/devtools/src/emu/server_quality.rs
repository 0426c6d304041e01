//! `--server-http`: the quality the server measured for this display, for the summary. The
//! emulator has no source frame to compare its panel with; the server has both, and publishes the
//! mean PSNR of what it sent this display in `GET /api/displays` (`psnr_db_mean`).

use crate::load::http_get;
use tokio::io::AsyncReadExt;

/// Largest `/api/displays` body read.
const MAX_BODY_BYTES: usize = 4 << 20;

/// The server's `psnr_db_mean` for display `id`, from `/api/displays` at `server` (host:port).
pub async fn mean_psnr_db(server: &str, id: &str) -> anyhow::Result<Option<f64>> {
    let addr = tokio::net::lookup_host(server)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("--server-http {server}: no address"))?;
    let mut r = http_get::get(addr, "/api/displays", true).await?;
    anyhow::ensure!(r.status == 200, "GET /api/displays: HTTP {}", r.status);
    let mut body = r.body_start;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = r.socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
        anyhow::ensure!(body.len() <= MAX_BODY_BYTES, "/api/displays over 4 MiB");
    }
    Ok(psnr_of(&body, id))
}

/// `psnr_db_mean` of the display `id` in an `/api/displays` body.
fn psnr_of(body: &[u8], id: &str) -> Option<f64> {
    let list: serde_json::Value = serde_json::from_slice(body).ok()?;
    list.as_array()?
        .iter()
        .find(|d| d["id"] == id)?
        .get("psnr_db_mean")?
        .as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_displays_figure() {
        let body = br#"[{"id":"a","psnr_db_mean":31.5},{"id":"b","psnr_db_mean":null}]"#;
        assert_eq!(psnr_of(body, "a"), Some(31.5));
        assert_eq!(psnr_of(body, "b"), None);
        assert_eq!(psnr_of(body, "c"), None);
        assert_eq!(psnr_of(b"not json", "a"), None);
    }
}
