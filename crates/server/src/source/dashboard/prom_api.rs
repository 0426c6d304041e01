//! Asking Prometheus: instant queries (`/api/v1/query`) and range queries (`/api/v1/query_range`)
//! of the HTTP API v1 (<https://prometheus.io/docs/prometheus/latest/querying/api/>), sent as
//! form-encoded POSTs so long PromQL never meets a URL length limit.
//!
//! [`parse_instant`] and [`parse_range`] are pure: status code and body in, series or a
//! [`QueryError`] out, so every shape of broken answer is tested without a server. The error says
//! whose fault it is: [`QueryError::Unreachable`] (no answer, a timeout, or an answer that is not
//! the Prometheus API) makes the dashboard back off, [`QueryError::Rejected`] (Prometheus refused
//! this query, say a PromQL syntax error) only marks that one query's panel.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::{Request, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

/// Answers larger than this are refused (a dashboard query returns a few series).
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// Why a query has no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Prometheus did not answer, timed out, or answered something that is not its API.
    #[error("{0}")]
    Unreachable(String),
    /// Prometheus answered with an error for this query.
    #[error("{kind}: {message}")]
    Rejected {
        /// Prometheus's `errorType` ("bad_data", "execution", "timeout", ...).
        kind: String,
        /// Prometheus's message.
        message: String,
    },
}

/// One series of an instant query.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSeries {
    /// Its labels (empty for scalars and aggregates without `by`).
    pub labels: BTreeMap<String, String>,
    /// The value (NaN and ±Inf are legal PromQL values).
    pub value: f64,
}

/// One series of a range query.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// (Unix time in seconds, value), oldest first; steps without data are absent.
    pub points: Vec<(f64, f64)>,
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Option<serde_json::Value>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<VectorItem>),
    Matrix(Vec<MatrixItem>),
    Scalar((f64, String)),
    String(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct VectorItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// Absent for native histograms, which a dashboard value cannot show.
    value: Option<(f64, String)>,
}

#[derive(Deserialize)]
struct MatrixItem {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

fn garbage(what: &str) -> QueryError {
    QueryError::Unreachable(format!("not a Prometheus answer ({what})"))
}

/// A sample value as Prometheus writes it: decimal, "NaN", "+Inf", "-Inf".
fn sample_value(text: &str) -> Result<f64, QueryError> {
    text.parse::<f64>()
        .map_err(|_| garbage(&format!("sample value {:?}", truncate(text, 24))))
}

fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max_chars).collect();
        out.push('…');
        out
    }
}

/// The `data` of a successful answer, or the error it carries.
fn envelope(status: u16, body: &[u8]) -> Result<Data, QueryError> {
    let Ok(env) = serde_json::from_slice::<Envelope>(body) else {
        return Err(if (200..300).contains(&status) {
            garbage("body is not the API's JSON")
        } else {
            QueryError::Unreachable(format!("HTTP {status}"))
        });
    };
    match env.status.as_str() {
        "success" => {
            let data = env.data.ok_or_else(|| garbage("no data"))?;
            serde_json::from_value(data).map_err(|_| garbage("unexpected result shape"))
        }
        "error" => Err(QueryError::Rejected {
            kind: env.error_type.unwrap_or_else(|| "error".into()),
            message: truncate(&env.error.unwrap_or_default(), 200),
        }),
        other => Err(garbage(&format!("status {:?}", truncate(other, 16)))),
    }
}

/// Parses an instant query's answer.
pub fn parse_instant(status: u16, body: &[u8]) -> Result<Vec<InstantSeries>, QueryError> {
    match envelope(status, body)? {
        Data::Vector(items) => items
            .into_iter()
            .filter_map(|i| i.value.map(|v| (i.metric, v)))
            .map(|(labels, (_, v))| {
                Ok(InstantSeries {
                    labels,
                    value: sample_value(&v)?,
                })
            })
            .collect(),
        Data::Scalar((_, v)) => Ok(vec![InstantSeries {
            labels: BTreeMap::new(),
            value: sample_value(&v)?,
        }]),
        Data::String(_) => Err(QueryError::Rejected {
            kind: "bad_data".into(),
            message: "the query returns a string, not a number".into(),
        }),
        Data::Matrix(_) => Err(QueryError::Rejected {
            kind: "bad_data".into(),
            message: "the query returns a range vector; wrap it in a function such as rate()"
                .into(),
        }),
    }
}

/// Parses a range query's answer.
pub fn parse_range(status: u16, body: &[u8]) -> Result<Vec<RangeSeries>, QueryError> {
    match envelope(status, body)? {
        Data::Matrix(items) => items
            .into_iter()
            .map(|i| {
                let points = i
                    .values
                    .into_iter()
                    .map(|(t, v)| Ok((t, sample_value(&v)?)))
                    .collect::<Result<_, QueryError>>()?;
                Ok(RangeSeries {
                    labels: i.metric,
                    points,
                })
            })
            .collect(),
        _ => Err(garbage("a range query must answer a matrix")),
    }
}

/// A Prometheus HTTP API client with one timeout for every request (hyper's pooled HTTP/1.1
/// client; keep-alive connections are reused between polls).
#[derive(Clone)]
pub struct PromClient {
    http: Client<HttpConnector, Full<Bytes>>,
    base: String,
    timeout: Duration,
}

impl std::fmt::Debug for PromClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromClient")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl PromClient {
    /// A client for the server at `base_url` (`http://host:port`, optionally with a path prefix
    /// when Prometheus runs behind a proxy).
    pub fn new(base_url: &str, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            timeout,
        }
    }

    /// The value of `query` at `at_s` (Unix seconds).
    pub async fn instant(&self, query: &str, at_s: f64) -> Result<Vec<InstantSeries>, QueryError> {
        let form = [("query", query.to_owned()), ("time", format!("{at_s:.3}"))];
        let (status, body) = self.post("/api/v1/query", &form).await?;
        parse_instant(status, &body)
    }

    /// `query` evaluated every `step_s` from `start_s` to `end_s` (Unix seconds).
    pub async fn range(
        &self,
        query: &str,
        start_s: f64,
        end_s: f64,
        step_s: f64,
    ) -> Result<Vec<RangeSeries>, QueryError> {
        let form = [
            ("query", query.to_owned()),
            ("start", format!("{start_s:.3}")),
            ("end", format!("{end_s:.3}")),
            ("step", format!("{step_s:.3}")),
        ];
        let (status, body) = self.post("/api/v1/query_range", &form).await?;
        parse_range(status, &body)
    }

    /// POSTs `form` to `path` and reads the whole answer, all within the timeout.
    async fn post(&self, path: &str, form: &[(&str, String)]) -> Result<(u16, Bytes), QueryError> {
        let bad_url = || QueryError::Unreachable(format!("bad Prometheus URL {:?}", self.base));
        let body = serde_urlencoded::to_string(form).map_err(|_| bad_url())?;
        let request = Request::post(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(
                header::USER_AGENT,
                concat!("pixelwire/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| bad_url())?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| describe(&e))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<LengthLimitError>() {
                        garbage("answer larger than 4 MiB")
                    } else {
                        QueryError::Unreachable("connection broke while reading the answer".into())
                    }
                })?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(QueryError::Unreachable(format!(
                    "no answer within {:.1} s",
                    self.timeout.as_secs_f64()
                )))
            })
    }
}

/// A short reason for the screen and the log.
fn describe(e: &hyper_util::client::legacy::Error) -> QueryError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return QueryError::Unreachable(match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => "connection reset".into(),
                std::io::ErrorKind::TimedOut => "connect timed out".into(),
                _ => io.to_string(),
            });
        }
        source = s.source();
    }
    QueryError::Unreachable(if e.is_connect() {
        "cannot connect".into()
    } else {
        "connection failed".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_vector_scalar_and_special_values() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"job":"node"},"value":[1700000000.5,"42.5"]},
            {"metric":{"job":"b"},"value":[1700000000.5,"NaN"]},
            {"metric":{},"value":[1700000000.5,"+Inf"]}]}}"#;
        let s = parse_instant(200, body).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].value, 42.5);
        assert_eq!(s[0].labels["job"], "node");
        assert!(s[1].value.is_nan());
        assert_eq!(s[2].value, f64::INFINITY);

        let scalar =
            br#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"-Inf"]}}"#;
        assert_eq!(
            parse_instant(200, scalar).unwrap()[0].value,
            f64::NEG_INFINITY
        );
        let empty = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(parse_instant(200, empty).unwrap().is_empty());
    }

    #[test]
    fn rejected_queries_carry_prometheus_words() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected end of input"}"#;
        let e = parse_instant(400, body).unwrap_err();
        assert_eq!(
            e,
            QueryError::Rejected {
                kind: "bad_data".into(),
                message: "1:5: parse error: unexpected end of input".into()
            }
        );
        let s = br#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#;
        assert!(matches!(
            parse_instant(200, s),
            Err(QueryError::Rejected { .. })
        ));
    }

    #[test]
    fn garbage_is_unreachable_not_a_panic() {
        for (status, body) in [
            (200, &b""[..]),
            (200, b"<html>hello</html>"),
            (200, b"{\"status\":\"success\"}"),
            (200, b"{\"status\":\"maybe\",\"data\":{}}"),
            (200, br#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"x"]}]}}"#),
            (200, br#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}}"#),
            (200, br#"{"status":"success","data":{"resultType":"nope","result":[]}}"#),
            (502, b"Bad Gateway"),
        ] {
            let e = parse_instant(status, body).unwrap_err();
            assert!(matches!(e, QueryError::Unreachable(_)), "{status} {body:?}: {e:?}");
        }
        assert_eq!(
            parse_instant(503, b"busy").unwrap_err(),
            QueryError::Unreachable("HTTP 503".into())
        );
        // Every prefix of a valid answer is an error, never a panic.
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]}]}}"#;
        for n in 0..body.len() {
            assert!(parse_instant(200, &body[..n]).is_err());
        }
    }

    #[test]
    fn range_matrix() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"device":"sda"},"values":[[100,"1"],[101,"2"],[103,"NaN"]]}]}}"#;
        let r = parse_range(200, body).unwrap();
        assert_eq!(r[0].points.len(), 3);
        assert_eq!(r[0].points[1], (101.0, 2.0));
        let vector = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(parse_range(200, vector).is_err());
    }
}
