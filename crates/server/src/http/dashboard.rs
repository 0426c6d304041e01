//! `GET /api/streams/{name}/dashboard`: what a dashboard stream knows (every panel's readings,
//! history, range and why data is missing), the same model its frames are drawn from.

use axum::Json;
use axum::extract::{Path, State};

use super::AppState;
use crate::api_error::ApiError;
use crate::source::dashboard::DashboardView;

/// The dashboard's current view; 404 for unknown streams and streams that are not dashboards.
pub async fn dashboard(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<DashboardView>, ApiError> {
    if state.bus.get(&name).is_none() {
        return Err(ApiError::NotFound(format!("no stream named {name:?}")));
    }
    state
        .dashboards
        .get(&name)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("stream {name:?} is not a dashboard")))
}
