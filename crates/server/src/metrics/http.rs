//! HTTP listener metrics (`docs/security.md`): connections open across the HTTP listeners
//! (`pixelwire_http_connections`), connections refused at accept by the caps
//! (`pixelwire_http_connections_refused_total`) and connections closed because their request head
//! did not arrive in time (`pixelwire_http_header_timeouts_total`), and on the HTTPS listener the
//! TLS handshakes that failed or did not finish in that time
//! (`pixelwire_http_tls_handshake_failures_total`). No addresses in labels.

use super::label::label_values;
use super::{Metrics, register};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

label_values! {
    /// Why a connection was refused at accept.
    pub enum HttpRefusal {
        /// The listener held `server.max_connections`.
        ListenerFull => "listener_full",
        /// The peer address held `server.max_connections_per_peer`.
        PeerFull => "peer_full",
    }
}

/// `{reason}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabel {
    reason: HttpRefusal,
}

/// The HTTP families.
pub(super) struct HttpFamilies {
    connections: Gauge,
    refused: Family<RefusalLabel, Counter>,
    header_timeouts: Counter,
    tls_failures: Counter,
}

impl HttpFamilies {
    pub(super) fn register(r: &mut Registry) -> Self {
        let families = Self {
            connections: register(
                r,
                "pixelwire_http_connections",
                "Connections open on the HTTP listeners",
                Gauge::default(),
            ),
            refused: register(
                r,
                "pixelwire_http_connections_refused",
                "Connections refused at accept by a connection cap, by reason",
                Family::default(),
            ),
            header_timeouts: register(
                r,
                "pixelwire_http_header_timeouts",
                "Connections closed because a request head did not arrive within server.header_read_timeout_ms",
                Counter::default(),
            ),
            tls_failures: register(
                r,
                "pixelwire_http_tls_handshake_failures",
                "HTTPS connections closed because their TLS handshake failed or did not finish within server.header_read_timeout_ms",
                Counter::default(),
            ),
        };
        // Two reasons: exported from 0, so alerts on `rate()` see the series before the first refusal.
        for &reason in HttpRefusal::ALL {
            let _ = families
                .refused
                .get_or_create_owned(&RefusalLabel { reason });
        }
        families
    }
}

/// Counts one open HTTP connection while it lives.
#[derive(Debug)]
pub struct HttpConnectionGuard {
    gauge: Gauge,
}

impl Drop for HttpConnectionGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

impl Metrics {
    /// An HTTP connection was accepted; it is counted until the guard drops.
    pub fn http_connection(&self) -> HttpConnectionGuard {
        let gauge = self.inner.http.connections.clone();
        gauge.inc();
        HttpConnectionGuard { gauge }
    }

    /// A connection was refused at accept.
    pub fn http_refused(&self, reason: HttpRefusal) {
        self.inner
            .http
            .refused
            .get_or_create(&RefusalLabel { reason })
            .inc();
    }

    /// A connection's request head did not arrive in time.
    pub fn http_header_timeout(&self) {
        self.inner.http.header_timeouts.inc();
    }

    /// An HTTPS connection's TLS handshake failed or timed out.
    pub fn http_tls_handshake_failed(&self) {
        self.inner.http.tls_failures.inc();
    }
}
