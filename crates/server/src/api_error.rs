//! The one API error type, mapped to an HTTP status and a JSON body `{"error": "..."}` in one place.
//! Internal details go to the log, not to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Errors a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No such stream, display, ...
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (a body that is not the JSON asked for).
    #[error("{0}")]
    BadRequest(String),
    /// The body is not JSON (`Content-Type` must be `application/json`).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed, but names something that does not exist (an unknown stream in a body).
    #[error("{0}")]
    Unprocessable(String),
    /// A byte range outside the resource (`416`; the handler adds `Content-Range`).
    #[error("{0}")]
    RangeNotSatisfiable(String),
    /// The client holds too much already (a per-peer cap).
    #[error("{0}")]
    TooMany(String),
    /// The thing exists but cannot answer now (no frame yet, session busy).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the detail is logged only.
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error in an API handler");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

impl From<crate::bus::NoFrame> for ApiError {
    fn from(e: crate::bus::NoFrame) -> Self {
        match e {
            crate::bus::NoFrame::NoStream(_) => ApiError::NotFound(e.to_string()),
            crate::bus::NoFrame::NotYet(_) => ApiError::Unavailable(e.to_string()),
        }
    }
}
