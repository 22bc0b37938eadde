//! Version 2: `GET /api/counters/{name}/history` (JSON pages, newest first) and
//! `…/history.csv` (everything, oldest first, streamed page by page). An owned counter's
//! history is its owner's; an open counter's is anyone's.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use shared::{CounterName, ErrorCode, HistoryEntry, HistoryPage};

use super::counter_name;
use crate::access::{self, KeyHash};
use crate::counters::Counters;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::HistoryQuery;

/// Entries per page when the client does not say.
const DEFAULT_PAGE: usize = 100;

/// Most entries per page, and per read of the CSV export.
const MAX_PAGE: usize = 1000;

/// `GET /api/counters/{name}/history?before=<cursor>&limit=<n>`.
pub async fn page(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Json<HistoryPage>, AppError> {
    let name = counter_name(name)?;
    let Query(query) =
        query.map_err(|err| AppError::new(ErrorCode::BadRequest, err.body_text()))?;
    let limit = match query.get("limit") {
        None => DEFAULT_PAGE,
        Some(limit) => limit
            .parse()
            .ok()
            .filter(|limit| (1..=MAX_PAGE).contains(limit))
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::BadRequest,
                    format!("limit must be an integer from 1 to {MAX_PAGE}"),
                )
            })?,
    };
    let query = HistoryQuery {
        newest_first: true,
        after: query.get("before").cloned(),
        limit,
    };
    let key = access::bearer(&headers);
    let (entries, next) = app.counters.history(&name, key, &query).await?;
    Ok(Json(HistoryPage { entries, next }))
}

/// `GET /api/counters/{name}/history.csv`: a header row, then every entry oldest first,
/// read and sent a page at a time (the export of a long history is never held whole).
pub async fn csv(
    State(app): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let name = counter_name(name)?;
    let key = access::bearer(&headers);
    // The first page is read before answering, so a refusal is a proper error status.
    let first = read(&app.counters, &name, key, None).await?;
    let header_row = "at,kind,delta,value,version,op_id,label\r\n".to_owned();
    let rows = stream::unfold(
        (app.counters.clone(), name.clone(), key, Some(first)),
        |(counters, name, key, page)| async move {
            let (entries, next) = page?;
            let text: String = entries.iter().map(csv_row).collect();
            let following = match next {
                None => None,
                Some(cursor) => match read(&counters, &name, key, Some(cursor)).await {
                    Ok(page) => Some(page),
                    Err(err) => {
                        // The status is sent already: the export ends short, and the log says so.
                        tracing::warn!(counter = %name, error = %err.0, "history export cut short");
                        None
                    }
                },
            };
            Some((
                Ok::<_, std::io::Error>(text),
                (counters, name, key, following),
            ))
        },
    );
    let body = Body::from_stream(stream::iter([Ok(header_row)]).chain_rows(rows));
    let disposition = format!("attachment; filename=\"{name}-history.csv\"");
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn read(
    counters: &Counters,
    name: &CounterName,
    key: Option<KeyHash>,
    after: Option<String>,
) -> Result<(Vec<HistoryEntry>, Option<String>), AppError> {
    let query = HistoryQuery {
        newest_first: false,
        after,
        limit: MAX_PAGE,
    };
    Ok(counters.history(name, key, &query).await?)
}

/// Chains two streams; a name that reads better at the call site than `StreamExt::chain`.
trait ChainRows: futures_util::Stream + Sized {
    fn chain_rows<S: futures_util::Stream<Item = Self::Item>>(
        self,
        rows: S,
    ) -> futures_util::stream::Chain<Self, S> {
        futures_util::StreamExt::chain(self, rows)
    }
}

impl<T: futures_util::Stream> ChainRows for T {}

/// One CSV row (RFC 4180, CRLF).
fn csv_row(entry: &HistoryEntry) -> String {
    format!(
        "{},{},{},{},{},{},{}\r\n",
        entry.at,
        entry.kind.as_str(),
        entry.delta,
        entry.value,
        entry.version,
        text_cell(entry.op_id.as_deref()),
        text_cell(entry.label.as_deref()),
    )
}

/// A text cell: quoted when it holds a comma, a quote or a line break; and a cell a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) starts with `'`, since
/// labels are typed by staff.
fn text_cell(text: Option<&str>) -> String {
    let Some(text) = text else {
        return String::new();
    };
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(text_cell(None), "");
        assert_eq!(text_cell(Some("north door")), "north door");
        assert_eq!(text_cell(Some("a,b")), "\"a,b\"");
        assert_eq!(text_cell(Some("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(text_cell(Some("=1+1")), "'=1+1");
    }
}
