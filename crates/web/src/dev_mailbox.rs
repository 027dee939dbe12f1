//! `/dev/mailbox`: the customer email the dev mailbox channel stored, newest first, so a new
//! user sees their receipt without a mail server. Mounted only while that channel is on.

use crate::extract::ApiPath;
use crate::timefmt::rfc3339;
use crate::{AppState, Problem};
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use stampede_store::MailMessage;

/// How many messages the list shows.
const PAGE: u32 = 100;

/// The mailbox routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/dev/mailbox", get(list)).route("/dev/mailbox/{id}", get(show))
}

struct Row {
    id: String,
    to: String,
    subject: String,
    at: String,
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct ListPage {
    messages: Vec<Row>,
}

#[derive(Template)]
#[template(path = "mail.html")]
struct MailPage {
    to: String,
    subject: String,
    at: String,
    event_id: String,
    text: String,
    html: String,
}

fn page(rendered: Result<String, askama::Error>) -> Response {
    match rendered {
        Ok(body) => Html(body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "mailbox page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the mailbox page failed to render").into_response()
        }
    }
}

async fn list(State(app): State<AppState>) -> Result<Response, Problem> {
    let messages = app.store.mailbox(PAGE).await?;
    let rows = messages
        .into_iter()
        .map(|m: MailMessage| Row { id: m.id, to: m.recipient, subject: m.subject, at: rfc3339(m.created_at) })
        .collect();
    Ok(page(ListPage { messages: rows }.render()))
}

async fn show(State(app): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, Problem> {
    let m = app.store.mail(&id).await?.ok_or_else(|| Problem::not_found("message", &id))?;
    Ok(page(
        MailPage {
            to: m.recipient,
            subject: m.subject,
            at: rfc3339(m.created_at),
            event_id: m.event_id,
            text: m.text_body,
            html: m.html_body,
        }
        .render(),
    ))
}
