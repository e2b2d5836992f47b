//! `GET /v1/scorecard`: the caller's cancellation figures per partner.

use lambda_http::http::{HeaderValue, StatusCode, header};

use domain::Company;
use domain::scorecard::Window;
use service::app::OrdersService;
use service::store::Store;

use super::app_problem;
use super::orders::Query;
use crate::response::{Code, HttpResponse, Problem, json, raw};
use crate::scorecard::{ScorecardView, csv};

/// Days a scorecard covers when the query names none.
const DEFAULT_DAYS: u32 = 30;

pub(super) async fn scorecard<S: Store>(
    app: &OrdersService<S>,
    company: &Company,
    q: &Query,
) -> Result<HttpResponse, Problem> {
    let bad = |d: String| Problem::new(Code::InvalidQuery, d);
    let window = match q.get("days") {
        None => Window::of_days(DEFAULT_DAYS),
        Some(v) => v.parse().ok().and_then(Window::of_days),
    }
    .ok_or_else(|| {
        bad(format!(
            "days must be 7, 30 or 90, got {:?}",
            q.get("days")
                .unwrap_or_default()
                .chars()
                .take(16)
                .collect::<String>()
        ))
    })?;
    let as_csv = match q.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(v) => {
            return Err(bad(format!(
                "format must be json or csv, got {:?}",
                v.chars().take(16).collect::<String>()
            )));
        }
    };
    let card = app
        .scorecard(company, window)
        .await
        .map_err(|e| app_problem(&e))?;
    if !as_csv {
        return Ok(json(StatusCode::OK, &ScorecardView::of(&card)));
    }
    let text = csv(std::slice::from_ref(&card)).map_err(|e| {
        Problem::new(
            Code::InternalError,
            format!("the CSV could not be written: {e}"),
        )
    })?;
    let mut r = raw(StatusCode::OK, "text/csv; charset=utf-8", text);
    let name = format!("attachment; filename=\"scorecard-{}d.csv\"", window.days());
    if let Ok(v) = HeaderValue::from_str(&name) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
