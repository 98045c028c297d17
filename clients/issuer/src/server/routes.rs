//! The endpoints (docs/issuer-api.yaml is their contract, checked by
//! `tests/api.rs`). Each parses its input, runs the service call on the
//! blocking pool and answers JSON; every error is
//! `{"error": {"code": …, "message": …}}` with the status of its kind
//! (`error.rs`).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tessera_core::activation::{Challenge, Serial};
use tessera_core::otp::OtpParams;
use tessera_core::payload::Form;

use super::App;
use crate::error::{Error, Result};
use crate::image::{self, ImageKind};
use crate::output;
use crate::service::{
    Actor, CreateRequest, DEFAULT_EXPIRY, Verified, parse_request_id, payment_order,
};
use crate::signing;

/// Request bodies are small JSON objects.
const MAX_BODY: usize = 16 * 1024;
/// `GET /v1/activations`: the page size by default and at most.
const PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/activations", post(create).get(list))
        .route("/v1/activations/{serial}", get(show))
        .route("/v1/activations/{serial}/bind", post(bind))
        .route("/v1/activations/{serial}/finalize", post(finalize))
        .route("/v1/activations/{serial}/verify", post(verify))
        .route("/v1/activations/{serial}/challenges", post(challenge))
        .route(
            "/v1/activations/{serial}/challenges/{id}/verify",
            post(verify_response),
        )
        .route(
            "/v1/activations/{serial}/signing-requests",
            post(sign_request),
        )
        .route(
            "/v1/activations/{serial}/signing-requests/{id}/verify",
            post(verify_signature),
        )
        .route("/v1/activations/{serial}/revoke", post(revoke))
        .route("/v1/activations/{serial}/audit", get(audit))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(app.clone(), observe))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// A response: its status and JSON, or an error.
type Answer = Result<(StatusCode, Value)>;

struct Reply(Answer);

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self.0 {
            Ok((status, body)) => (status, axum::Json(body)).into_response(),
            Err(e) => error_response(&e),
        }
    }
}

fn error_response(e: &Error) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::warn!(code = e.code(), error = %e, "request failed");
    }
    let body = json!({ "error": { "code": e.code(), "message": e.to_string() } });
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    match e {
        Error::Unauthorized(_) => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        Error::RateLimited(_) => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}

/// Counts and times every matched request; logs refusals.
async fn observe(
    State(app): State<Arc<App>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    app.metrics
        .request(&route, &method, status, elapsed.as_secs_f64());
    // Refused credentials and rate limits are what an operator watches
    // for; a wrong or replayed code is routine (and in the audit log), and a
    // line per request would cost more than the request at thousands a
    // second. Server errors are logged where they are answered.
    if matches!(status, 401 | 429) {
        tracing::info!(%route, %method, status, micros = elapsed.as_micros() as u64, "request");
    } else {
        tracing::debug!(%route, %method, status, micros = elapsed.as_micros() as u64, "request");
    }
    response
}

async fn not_found() -> Response {
    error_response(&Error::NotFound(
        "no such endpoint (docs/issuer-api.yaml lists them)".into(),
    ))
}

/// Runs `f` on the blocking pool with the authenticated client's name.
async fn authed<F>(app: Arc<App>, headers: &HeaderMap, f: F) -> Reply
where
    F: FnOnce(&App, &str) -> Answer + Send + 'static,
{
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let joined = tokio::task::spawn_blocking(move || {
        let client = app.guard.authenticate(&app.issuer, auth.as_deref())?;
        app.guard.check_client(&client)?;
        f(&app, &client)
    })
    .await;
    Reply(joined.unwrap_or_else(|e| {
        Err(Error::StoreData(format!(
            "the request's worker failed: {e}"
        )))
    }))
}

/// A body that could not be read (larger than `MAX_BODY`, or cut off).
fn body_rejected(e: BytesRejection) -> Reply {
    Reply(Err(Error::input(format!(
        "request body: {} (at most {} KiB)",
        e.body_text(),
        MAX_BODY / 1024
    ))))
}

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    if bytes.is_empty() {
        return serde_json::from_slice(b"{}")
            .map_err(|e| Error::input(format!("request body: a JSON object is needed ({e})")));
    }
    serde_json::from_slice(bytes).map_err(|e| Error::input(format!("request body: {e}")))
}

fn serial(text: &str) -> Result<Serial> {
    text.parse()
        .map_err(|e| Error::input(format!("serial {text:?} in the path: {e}")))
}

/// A write to one activation, as a handler takes it: the serial (and a
/// request's id) from the path, the headers and the body. Rejections of the
/// path or the body are typed JSON errors like any other.
struct OnSerial {
    app: Arc<App>,
    headers: HeaderMap,
    serial: String,
    id: Option<String>,
    bytes: Bytes,
}

impl FromRequest<Arc<App>> for OnSerial {
    type Rejection = Reply;

    async fn from_request(request: Request, app: &Arc<App>) -> std::result::Result<Self, Reply> {
        let (mut parts, body) = request.into_parts();
        let Path(mut params) =
            Path::<std::collections::HashMap<String, String>>::from_request_parts(&mut parts, app)
                .await
                .map_err(|e| Reply(Err(Error::input(format!("the path: {e}")))))?;
        let headers = parts.headers.clone();
        let bytes = Bytes::from_request(Request::from_parts(parts, body), app)
            .await
            .map_err(body_rejected)?;
        Ok(OnSerial {
            app: app.clone(),
            headers,
            serial: params.remove("serial").unwrap_or_default(),
            id: params.remove("id"),
            bytes,
        })
    }
}

impl OnSerial {
    /// Runs `f` authenticated, with the serial parsed and within its rate
    /// limit and the body parsed as `B`.
    async fn run<B, F>(self, f: F) -> Reply
    where
        B: DeserializeOwned,
        F: FnOnce(&App, &str, Serial, B) -> Answer + Send + 'static,
    {
        let OnSerial {
            app,
            headers,
            serial: sn,
            bytes,
            ..
        } = self;
        authed(app, &headers, move |app, client| {
            let serial = serial(&sn)?;
            app.guard.check_serial(serial.as_str())?;
            f(app, client, serial, body(&bytes)?)
        })
        .await
    }

    /// The request's id in the path (`…/{id}/verify`), parsed.
    fn request_id(&self) -> Result<[u8; 16]> {
        parse_request_id(self.id.as_deref().unwrap_or_default())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    serial: Option<String>,
    label: Option<String>,
    issuer: Option<String>,
    user_id: Option<String>,
    challenge: Option<String>,
    otp: Option<String>,
    form: Option<String>,
    image: Option<String>,
    request_id: Option<String>,
}

async fn create(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    bytes: std::result::Result<Bytes, BytesRejection>,
) -> Reply {
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(e) => return body_rejected(e),
    };
    authed(app, &headers, move |app, client| {
        let b: CreateBody = body(&bytes)?;
        let field = |name: &str, e: &dyn std::fmt::Display| Error::input(format!("{name}: {e}"));
        let req = CreateRequest {
            serial: b
                .serial
                .as_deref()
                .map(|s| s.parse::<Serial>().map_err(|e| field("serial", &e)))
                .transpose()?,
            key: None,
            label: b.label,
            issuer: b.issuer,
            user_id: b.user_id,
            challenge: b
                .challenge
                .as_deref()
                .map(|s| s.parse::<Challenge>().map_err(|e| field("challenge", &e)))
                .transpose()?,
            otp: b
                .otp
                .as_deref()
                .map(|s| s.parse::<OtpParams>().map_err(|e| field("otp", &e)))
                .transpose()?,
            form: match b.form.as_deref() {
                None | Some("tag") => Some(Form::Tag),
                Some("uri") => Some(Form::Uri),
                Some(other) => {
                    return Err(Error::input(format!("form: {other:?} is not tag or uri")));
                }
            },
            request_id: b.request_id,
        };
        let picture = Picture::parse(b.image.as_deref())?;
        let made = app.issuer.create(Actor(client), &req, |_| Ok(()))?;
        let mut out = json!({
            "serial": made.serial.as_str(),
            "activation_code": made.code.expose(),
            "activation_code_grouped": made.code.grouped(),
            "payload": made.payload,
            "form": match made.form { Form::Tag => "tag", Form::Uri => "uri" },
            "otp": made.otp.to_string(),
            "state": "created",
            "signed_by": made.signed_by,
            "repeated": made.repeated,
        });
        if let Some(picture) = picture {
            out["image"] = picture.render(&made.payload)?;
        }
        let status = if made.repeated {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        Ok((status, out))
    })
    .await
}

/// The image an answer carries inline (`"image": "png" | "svg" | "colour"`).
#[derive(Clone, Copy)]
struct Picture {
    kind: ImageKind,
    colour: bool,
    name: &'static str,
}

impl Picture {
    fn parse(name: Option<&str>) -> Result<Option<Picture>> {
        let (kind, colour, name) = match name {
            None => return Ok(None),
            Some("png") => (ImageKind::Png, false, "png"),
            Some("svg") => (ImageKind::Svg, false, "svg"),
            Some("colour") => (ImageKind::Png, true, "colour"),
            Some(other) => {
                return Err(Error::input(format!(
                    "image: {other:?} is not png, svg or colour"
                )));
            }
        };
        Ok(Some(Picture { kind, colour, name }))
    }

    fn render(self, text: &str) -> Result<Value> {
        let rendered = image::render(text, self.kind, self.colour)?;
        let media_type = match self.kind {
            ImageKind::Svg => "image/svg+xml",
            _ => "image/png",
        };
        Ok(json!({
            "format": self.name,
            "media_type": media_type,
            "data_base64": STANDARD.encode(&rendered.image),
            "plain_png_base64": rendered.fallback.as_ref().map(|f| STANDARD.encode(f)),
        }))
    }
}

async fn list(State(app): State<Arc<App>>, headers: HeaderMap, RawQuery(query): RawQuery) -> Reply {
    authed(app, &headers, move |app, _| {
        let mut after = None;
        let mut limit = PAGE;
        for pair in query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
        {
            match pair.split_once('=') {
                Some(("after", value)) => after = Some(serial(value)?),
                Some(("limit", value)) => {
                    limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE).contains(n))
                        .ok_or_else(|| {
                            Error::input(format!("limit: {value:?} is not 1 to {MAX_PAGE}"))
                        })?;
                }
                _ => {
                    return Err(Error::input(format!(
                        "query {pair:?}: the parameters are after=SERIAL and limit=N"
                    )));
                }
            }
        }
        let page = app.issuer.list(after.as_ref(), Some(limit))?;
        let next = (page.len() == limit as usize)
            .then(|| page.last().map(|a| a.serial.as_str().to_owned()))
            .flatten();
        Ok((
            StatusCode::OK,
            json!({
                "activations": page.iter().map(output::activation_json).collect::<Vec<_>>(),
                "next": next,
            }),
        ))
    })
    .await
}

async fn show(State(app): State<Arc<App>>, headers: HeaderMap, Path(sn): Path<String>) -> Reply {
    authed(app, &headers, move |app, _| {
        let a = app.issuer.show(&serial(&sn)?)?;
        Ok((StatusCode::OK, output::activation_json(&a)))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindBody {
    device_code: String,
}

async fn bind(call: OnSerial) -> Reply {
    call.run(|app, client, serial, b: BindBody| {
        let bound = app.issuer.bind(Actor(client), &serial, &b.device_code)?;
        Ok((
            StatusCode::OK,
            json!({
                "serial": serial.as_str(),
                "state": "bound",
                "device_instance": bound.device_instance,
                "replaced_device_instance": bound.replaced,
            }),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
    window: Option<u32>,
}

async fn finalize(call: OnSerial) -> Reply {
    call.run(|app, client, serial, b: CodeBody| {
        if b.window.is_some() {
            return Err(Error::input("window: finalize takes no window"));
        }
        app.issuer.finalize(Actor(client), &serial, &b.code)?;
        Ok((
            StatusCode::OK,
            json!({ "serial": serial.as_str(), "state": "active" }),
        ))
    })
    .await
}

async fn verify(call: OnSerial) -> Reply {
    call.run(|app, client, serial, b: CodeBody| {
        if b.window.is_some_and(|w| w > 100) {
            return Err(Error::input("window: at most 100"));
        }
        let verified = app
            .issuer
            .verify(Actor(client), &serial, &b.code, b.window, None);
        let out = match app.metrics.verification("code", verified)? {
            Verified::Totp { step, drift } => json!({
                "serial": serial.as_str(), "verified": true, "step": step, "drift": drift as i64,
            }),
            Verified::Hotp { counter, skipped } => json!({
                "serial": serial.as_str(), "verified": true, "counter": counter,
                "skipped": skipped, "next_counter": counter.saturating_add(1),
            }),
        };
        Ok((StatusCode::OK, out))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeBody {
    message: Option<String>,
    expires_in: Option<u64>,
}

async fn challenge(call: OnSerial) -> Reply {
    call.run(|app, client, serial, b: ChallengeBody| {
        let made = app.issuer.challenge(
            Actor(client),
            &serial,
            b.message.as_deref(),
            b.expires_in.unwrap_or(DEFAULT_EXPIRY),
        )?;
        Ok((
            StatusCode::CREATED,
            json!({
                "serial": serial.as_str(),
                "id": hex::encode(made.nonce),
                "suite": made.suite.to_string(),
                "question": made.question,
                "expires_at": made.expires_at,
            }),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseBody {
    response: String,
}

async fn verify_response(call: OnSerial) -> Reply {
    let nonce = call.request_id();
    call.run(move |app, client, serial, b: ResponseBody| {
        let nonce = nonce?;
        let answered =
            app.issuer
                .verify_response(Actor(client), &serial, &nonce, &b.response, None);
        app.metrics.verification("challenge", answered)?;
        Ok((
            StatusCode::OK,
            json!({ "serial": serial.as_str(), "id": hex::encode(nonce), "verified": true }),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentBody {
    amount: String,
    payee: String,
    account: String,
    reference: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignBody {
    currency: Option<String>,
    payments: Vec<PaymentBody>,
    expires_in: Option<u64>,
    image: Option<String>,
}

async fn sign_request(call: OnSerial) -> Reply {
    call.run(|app, client, serial, b: SignBody| {
        let picture = Picture::parse(b.image.as_deref())?;
        let (amounts, payees, accounts, references): (Vec<_>, Vec<_>, Vec<_>, Vec<_>) = b
            .payments
            .into_iter()
            .fold(Default::default(), |(mut a, mut p, mut c, mut r), pay| {
                a.push(pay.amount);
                p.push(pay.payee);
                c.push(pay.account);
                r.push(pay.reference.unwrap_or_default());
                (a, p, c, r)
            });
        let (currency, payments) = payment_order(
            b.currency.as_deref().unwrap_or("EUR"),
            &amounts,
            &payees,
            &accounts,
            &references,
        )?;
        let (made, image) = app.issuer.sign_request(
            Actor(client),
            &serial,
            currency,
            payments,
            b.expires_in.unwrap_or(DEFAULT_EXPIRY),
            |text| picture.map(|p| p.render(text)).transpose(),
        )?;
        let mut out = signing::request_json(&made);
        if let Some(image) = image {
            out["image"] = image;
        }
        Ok((StatusCode::CREATED, out))
    })
    .await
}

async fn verify_signature(call: OnSerial) -> Reply {
    let nonce = call.request_id();
    call.run(move |app, client, serial, b: ResponseBody| {
        let nonce = nonce?;
        let answered =
            app.issuer
                .verify_signature(Actor(client), &serial, Some(&nonce), &b.response, None);
        let answered = app.metrics.verification("signature", answered)?;
        let tx = answered
            .transaction
            .as_ref()
            .ok_or_else(|| Error::store_data("a signature without its transaction"))?;
        Ok((
            StatusCode::OK,
            signing::signed_json(&serial, &answered.nonce, tx),
        ))
    })
    .await
}

async fn revoke(State(app): State<Arc<App>>, headers: HeaderMap, Path(sn): Path<String>) -> Reply {
    authed(app, &headers, move |app, client| {
        let serial = serial(&sn)?;
        app.issuer.revoke(Actor(client), &serial)?;
        Ok((
            StatusCode::OK,
            json!({ "serial": serial.as_str(), "state": "revoked" }),
        ))
    })
    .await
}

async fn audit(State(app): State<Arc<App>>, headers: HeaderMap, Path(sn): Path<String>) -> Reply {
    authed(app, &headers, move |app, _| {
        let serial = serial(&sn)?;
        // An unknown serial is a 404, not an empty log.
        app.issuer.show(&serial)?;
        let lines = app.issuer.audit_log(Some(&serial), 1000)?;
        let lines: Vec<Value> = lines
            .iter()
            .map(|e| {
                json!({ "at": e.at, "actor": e.actor, "action": e.action, "outcome": e.outcome })
            })
            .collect();
        Ok((
            StatusCode::OK,
            json!({ "serial": serial.as_str(), "events": lines }),
        ))
    })
    .await
}

async fn health() -> Reply {
    Reply(Ok((StatusCode::OK, json!({ "status": "ok" }))))
}

async fn ready(State(app): State<Arc<App>>) -> Reply {
    let joined = tokio::task::spawn_blocking(move || app.issuer.store().ping()).await;
    Reply(match joined {
        Ok(Ok(())) => Ok((StatusCode::OK, json!({ "status": "ready" }))),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(Error::StoreData(format!("the readiness check failed: {e}"))),
    })
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}
