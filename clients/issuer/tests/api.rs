//! The HTTP API end to end: the real `tessera-issuer serve` processes on
//! loopback ports, over a SQLite file or a throwaway PostgreSQL cluster,
//! called over HTTP (tests/common); the device's side computed from the
//! payload with tessera-core, as the authenticator does. Every response is
//! checked against docs/issuer-api.yaml (its status documented for the
//! path, its body of the documented schema).

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{Answer, Db, Server, activate, agent, cli, request, totp_now};
use serde_json::{Value, json};
use tessera_core::otp::OcraSuite;
use tessera_core::payload::{self, Payload};

/// Calls the API and checks the answer against the OpenAPI document.
fn call(
    server: &Server,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Answer {
    let answer = request(server, token, method, path, body);
    openapi::check(method, path, &answer);
    answer
}

fn post(server: &Server, token: &str, path: &str, body: Value) -> Answer {
    call(server, Some(token), "POST", path, Some(&body.to_string()))
}

fn full_session(postgres: bool) {
    let db = Db::new(postgres);
    let token = db.token("bank-web");
    let server = db.serve(&[]);
    let (d, created) = activate(
        &server,
        &token,
        json!({ "label": "alice@bank", "issuer": "Bank", "image": "png" }),
    );
    // The PNG holds the payload.
    let png = base64_decode(created.body["image"]["data_base64"].as_str().unwrap());
    let img = image::load_from_memory(&png).unwrap().to_luma8();
    let decoded = rxing_read(&img);
    assert_eq!(decoded, created.body["payload"].as_str().unwrap());

    let sn = d.serial.to_string();
    let code = totp_now(&d.ik);
    let ok = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/verify"),
        json!({ "code": code }),
    );
    assert_eq!(
        (ok.status, &ok.body["verified"]),
        (200, &json!(true)),
        "{:?}",
        ok.body
    );
    let again = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/verify"),
        json!({ "code": code }),
    );
    assert_eq!((again.status, again.error_code()), (422, "code_replayed"));

    if let Some(cluster) = &db.cluster {
        // The server closes every pooled connection (a restart, an idle
        // timeout): the next requests are answered on fresh ones.
        let killed = cluster.psql(
            "issuer",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = 'issuer' AND pid <> pg_backend_pid()",
        );
        assert_ne!(killed, "0");
        std::thread::sleep(Duration::from_millis(200));
    }
    let shown = call(
        &server,
        Some(&token),
        "GET",
        &format!("/v1/activations/{sn}"),
        None,
    );
    assert_eq!(shown.status, 200, "{:?}", shown.body);
    assert_eq!(shown.body["state"], "active");
    assert_eq!(shown.body["label"], "alice@bank");
    let text = shown.body.to_string();
    assert!(!text.contains("activation_key") && !text.contains("instance_key"));
    let page = call(
        &server,
        Some(&token),
        "GET",
        "/v1/activations?limit=10",
        None,
    );
    assert_eq!(page.body["activations"].as_array().unwrap().len(), 1);
    assert_eq!(page.body["next"], Value::Null);

    let audit = call(
        &server,
        Some(&token),
        "GET",
        &format!("/v1/activations/{sn}/audit"),
        None,
    );
    let events = audit.body["events"].as_array().unwrap();
    let actions: Vec<&str> = events
        .iter()
        .rev()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["created", "bound", "finalized", "verified", "verify"]
    );
    assert!(events.iter().all(|e| e["actor"] == "bank-web"));

    let revoked = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/revoke"),
        json!({}),
    );
    assert_eq!(revoked.body["state"], "revoked");
    let refused = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/verify"),
        json!({ "code": totp_now(&d.ik) }),
    );
    assert_eq!((refused.status, refused.error_code()), (409, "wrong_state"));

    // Metrics count what happened.
    let metrics = call(&server, None, "GET", "/metrics", None);
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains("tessera_issuer_verifications_total{kind=\"code\",outcome=\"accepted\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "tessera_issuer_verifications_total{kind=\"code\",outcome=\"code_replayed\"} 1"
        )
    );
    assert!(
        text.contains(
            "tessera_issuer_verifications_total{kind=\"code\",outcome=\"wrong_state\"} 1"
        )
    );
    assert!(text.contains(
        "tessera_issuer_requests_total{route=\"/v1/activations/{serial}/verify\",method=\"POST\",status=\"200\"} 1"
    ), "{text}");
    assert!(text.contains("tessera_issuer_request_duration_seconds_bucket"));
    assert_eq!(call(&server, None, "GET", "/readyz", None).status, 200);
}

#[test]
fn a_session_over_http_on_sqlite() {
    full_session(false);
}

#[test]
fn a_session_over_http_on_postgres() {
    full_session(true);
}

/// OCRA challenges (random, and an approval's message) and transaction
/// signing, over HTTP on PostgreSQL; the device's side computed as the
/// authenticator does, the request read back from the PNG it scans.
#[test]
fn challenges_and_signing_requests_over_http() {
    let db = Db::new(true);
    let token = db.token("bank-web");
    let server = db.serve(&[]);
    let (d, _) = activate(&server, &token, json!({ "label": "alice@bank" }));
    let sn = d.serial.to_string();
    let suite = OcraSuite::default();
    let respond = |question: &str| d.respond(question);

    let asked = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/challenges"),
        json!({}),
    );
    assert_eq!(asked.status, 201, "{:?}", asked.body);
    assert_eq!(asked.body["suite"], "OCRA-1:HOTP-SHA256-8:QN08");
    let id = asked.body["id"].as_str().unwrap().to_owned();
    let question = asked.body["question"].as_str().unwrap();
    let right = respond(question);
    let verify = format!("/v1/activations/{sn}/challenges/{id}/verify");
    let wrong = post(&server, &token, &verify, json!({ "response": "00000000" }));
    if right != "00000000" {
        assert_eq!((wrong.status, wrong.error_code()), (422, "code_rejected"));
    }
    let ok = post(&server, &token, &verify, json!({ "response": right }));
    assert_eq!(
        (ok.status, &ok.body["verified"]),
        (200, &json!(true)),
        "{:?}",
        ok.body
    );
    let again = post(&server, &token, &verify, json!({ "response": right }));
    assert_eq!((again.status, again.error_code()), (422, "code_replayed"));

    // An approval: the question comes from the message, as the daemon
    // derives it when the user approves the notification.
    let message = "Pay 125.00 EUR to ACME GmbH?";
    let approval = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/challenges"),
        json!({ "message": message, "expires_in": 60 }),
    );
    assert_eq!(approval.status, 201, "{:?}", approval.body);
    assert_eq!(
        approval.body["question"],
        json!(suite.message_question(message))
    );
    let id = approval.body["id"].as_str().unwrap();
    let ok = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/challenges/{id}/verify"),
        json!({ "response": respond(&suite.message_question(message)) }),
    );
    assert_eq!(ok.status, 200, "{:?}", ok.body);

    // A payment, drawn as a PNG.
    let made = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/signing-requests"),
        json!({
            "currency": "EUR",
            "payments": [{ "amount": "125.00", "payee": "ACME GmbH",
                           "account": "DE89 3704 0044 0532 0130 00", "reference": "Invoice 42" }],
            "image": "png",
        }),
    );
    assert_eq!(made.status, 201, "{:?}", made.body);
    assert_eq!(
        (made.body["total"].as_str(), made.body["currency"].as_str()),
        (Some("125.00"), Some("EUR"))
    );
    let png = base64_decode(made.body["image"]["data_base64"].as_str().unwrap());
    let scanned = rxing_read(&image::load_from_memory(&png).unwrap().to_luma8());
    assert_eq!(scanned, made.body["request"].as_str().unwrap());
    let (shown, keys) = d.open(&scanned);
    assert_eq!(shown.payments[0].payee_name, "ACME GmbH");
    let id = made.body["id"].as_str().unwrap();
    let verify = format!("/v1/activations/{sn}/signing-requests/{id}/verify");
    // The response for another amount is refused.
    let mut tampered = shown.clone();
    tampered.payments[0].amount *= 10;
    let refused = post(
        &server,
        &token,
        &verify,
        json!({ "response": keys.respond(&tampered).to_string() }),
    );
    assert_eq!(
        (refused.status, refused.error_code()),
        (422, "code_rejected")
    );
    let response = keys.respond(&shown).to_string();
    let signed = post(&server, &token, &verify, json!({ "response": response }));
    assert_eq!(signed.status, 200, "{:?}", signed.body);
    assert_eq!(signed.body["signed"], true);
    assert_eq!(signed.body["payments"][0]["payee"], "ACME GmbH");
    let again = post(&server, &token, &verify, json!({ "response": response }));
    assert_eq!((again.status, again.error_code()), (422, "code_replayed"));

    // Bad requests name the field; the server keeps serving.
    let bad = [
        (
            format!("/v1/activations/{sn}/challenges"),
            json!({ "expires_in": 5 }),
            "expires_in",
        ),
        (
            format!("/v1/activations/{sn}/challenges"),
            json!({ "message": "" }),
            "message",
        ),
        (
            format!("/v1/activations/{sn}/challenges"),
            json!({ "mesage": "x" }),
            "mesage",
        ),
        (
            format!("/v1/activations/{sn}/challenges/xyz/verify"),
            json!({ "response": "12345678" }),
            "id",
        ),
        (verify.clone(), json!({ "response": "1234" }), "response"),
        (
            format!("/v1/activations/{sn}/signing-requests"),
            json!({ "payments": [] }),
            "payment",
        ),
        (
            format!("/v1/activations/{sn}/signing-requests"),
            json!({ "payments": [{ "amount": "1.001", "payee": "A", "account": "DE89370400440532013000" }] }),
            "1.001",
        ),
        (
            format!("/v1/activations/{sn}/signing-requests"),
            json!({ "currency": "EURO", "payments": [{ "amount": "1", "payee": "A", "account": "X1" }] }),
            "EURO",
        ),
    ];
    for (path, body, named) in bad {
        let a = post(&server, &token, &path, body.clone());
        assert_eq!(
            (a.status, a.error_code()),
            (400, "bad_request"),
            "{body}: {:?}",
            a.body
        );
        let message = a.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{body}: {message}");
    }
    let unknown = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/challenges/{}/verify", "0".repeat(32)),
        json!({ "response": "12345678" }),
    );
    assert_eq!((unknown.status, unknown.error_code()), (404, "not_found"));
    // Only an active account is asked.
    let created = post(&server, &token, "/v1/activations", json!({}));
    let fresh = created.body["serial"].as_str().unwrap();
    let early = post(
        &server,
        &token,
        &format!("/v1/activations/{fresh}/challenges"),
        json!({}),
    );
    assert_eq!((early.status, early.error_code()), (409, "wrong_state"));

    let audit = call(
        &server,
        Some(&token),
        "GET",
        &format!("/v1/activations/{sn}/audit"),
        None,
    );
    let actions: Vec<String> = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            format!(
                "{}:{}",
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect();
    let metrics = call(&server, None, "GET", "/metrics", None);
    let text = metrics.body.as_str().unwrap();
    for line in [
        "tessera_issuer_verifications_total{kind=\"challenge\",outcome=\"accepted\"} 2",
        "tessera_issuer_verifications_total{kind=\"challenge\",outcome=\"code_replayed\"} 1",
        "tessera_issuer_verifications_total{kind=\"signature\",outcome=\"accepted\"} 1",
        "tessera_issuer_verifications_total{kind=\"signature\",outcome=\"code_rejected\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing in {text}");
    }
    for expected in [
        "challenge:ok",
        "verify_response:ok",
        "verify_response:replayed",
        "sign_request:ok",
        "verify_signature:wrong_code",
        "verify_signature:ok",
        "verify_signature:replayed",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing in {actions:?}"
        );
    }
}

#[test]
fn bad_requests_get_typed_errors_and_the_server_keeps_serving() {
    let db = Db::new(false);
    let token = db.token("bank-web");
    let server = db.serve(&[]);
    // A body over 16 KiB, to create and to a serial's endpoint.
    let big = json!({ "label": "x".repeat(20_000) }).to_string();
    for path in ["/v1/activations", "/v1/activations/TSR0000001/verify"] {
        let a = call(&server, Some(&token), "POST", path, Some(&big));
        assert_eq!(
            (a.status, a.error_code()),
            (400, "bad_request"),
            "{path}: {:?}",
            a.body
        );
        assert!(
            a.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("16 KiB")
        );
    }
    let none = call(&server, None, "POST", "/v1/activations", Some("{}"));
    assert_eq!((none.status, none.error_code()), (401, "unauthorized"));
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    let wrong = call(&server, Some("tsi_nope"), "GET", "/v1/activations", None);
    assert_eq!((wrong.status, wrong.error_code()), (401, "unauthorized"));

    let cases: [(&str, &str, &str, u16, &str, &str); 9] = [
        (
            "POST",
            "/v1/activations",
            "{\"label\": ",
            400,
            "bad_request",
            "request body: EOF",
        ),
        (
            "POST",
            "/v1/activations",
            "{\"lable\": \"x\"}",
            400,
            "bad_request",
            "unknown field `lable`",
        ),
        (
            "POST",
            "/v1/activations",
            "{\"otp\": \"totp:MD5:6\"}",
            400,
            "bad_request",
            "otp: ",
        ),
        (
            "POST",
            "/v1/activations",
            "{\"image\": \"gif\"}",
            400,
            "bad_request",
            "not png, svg or colour",
        ),
        (
            "POST",
            "/v1/activations",
            "{\"label\": \"x\\u0007\"}",
            400,
            "bad_request",
            "LBL",
        ),
        (
            "POST",
            "/v1/activations/tsr1/bind",
            "{\"device_code\": \"1\"}",
            400,
            "bad_request",
            "serial \"tsr1\" in the path",
        ),
        (
            "POST",
            "/v1/activations/TSR0000009/bind",
            "{\"device_code\": \"012345678998\"}",
            404,
            "not_found",
            "TSR0000009: no such activation",
        ),
        (
            "GET",
            "/v1/activations?limit=0",
            "",
            400,
            "bad_request",
            "limit: \"0\" is not 1 to 1000",
        ),
        (
            "GET",
            "/v1/nothing",
            "",
            404,
            "not_found",
            "no such endpoint",
        ),
    ];
    for (method, path, body, status, code, message) in cases {
        let a = match method {
            "GET" => get_unchecked(&server, &token, path),
            _ => call(&server, Some(&token), method, path, Some(body)),
        };
        assert_eq!(
            (a.status, a.error_code()),
            (status, code),
            "{path} {body}: {:?}",
            a.body
        );
        let text = a.body["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{path} {body}: {text}");
    }
    // State errors: a fresh activation cannot verify or finalize.
    let created = post(&server, &token, "/v1/activations", json!({}));
    let sn = created.body["serial"].as_str().unwrap();
    let early = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/verify"),
        json!({ "code": "123456" }),
    );
    assert_eq!((early.status, early.error_code()), (409, "wrong_state"));
    let typo = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/bind"),
        json!({ "device_code": "012345678999" }),
    );
    assert_eq!((typo.status, typo.error_code()), (400, "bad_request"));
    assert!(
        typo.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("check digits")
    );
    assert_eq!(call(&server, None, "GET", "/healthz", None).status, 200);
}

/// A GET whose path is not documented (the unknown-endpoint case).
fn get_unchecked(server: &Server, token: &str, path: &str) -> Answer {
    if path.starts_with("/v1/nothing") {
        let mut r = agent()
            .get(format!("{}{path}", server.base))
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .unwrap();
        let status = r.status().as_u16();
        let body = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        return Answer {
            status,
            body,
            headers: Vec::new(),
        };
    }
    call(server, Some(token), "GET", path, None)
}

#[test]
fn instances_over_one_postgres_accept_a_code_once() {
    let db = Db::new(true);
    let token = db.token("bank-web");
    let servers: Vec<Server> = (0..3).map(|_| db.serve(&["--connections", "4"])).collect();
    let (d, _) = activate(&servers[0], &token, json!({}));
    let sn = d.serial.to_string();
    let code = totp_now(&d.ik);
    // Twelve verifications of one code at once, four per instance.
    let barrier = Arc::new(Barrier::new(12));
    let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let server = &servers[i % 3];
                let barrier = barrier.clone();
                let (token, sn, code) = (token.clone(), sn.clone(), code.clone());
                s.spawn(move || {
                    barrier.wait();
                    let a = post(
                        server,
                        &token,
                        &format!("/v1/activations/{sn}/verify"),
                        json!({ "code": code }),
                    );
                    (a.status, a.error_code().to_owned())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|(s, c)| *s == 200 || (*s == 422 && c == "code_replayed")),
        "{statuses:?}"
    );
    // Failures counted on one instance lock the serial on the others.
    let wrong = if code == "111111" { "222222" } else { "111111" };
    for i in 0..5 {
        let a = post(
            &servers[i % 3],
            &token,
            &format!("/v1/activations/{sn}/verify"),
            json!({ "code": wrong, "window": 0 }),
        );
        assert_eq!(a.status, 422, "{:?}", a.body);
    }
    for server in &servers {
        let a = post(
            server,
            &token,
            &format!("/v1/activations/{sn}/verify"),
            json!({ "code": totp_now(&d.ik) }),
        );
        assert_eq!((a.status, a.error_code()), (423, "locked"), "{:?}", a.body);
    }
    // A revoked client is refused by every instance within the token cache's 5 s.
    let mut args = vec!["client"];
    args.extend(db.args.iter().map(String::as_str));
    args.extend(["revoke", "bank-web"]);
    cli(&args);
    std::thread::sleep(Duration::from_secs(6));
    for server in &servers {
        let a = call(server, Some(&token), "GET", "/v1/activations", None);
        assert_eq!(a.status, 401);
    }
}

#[test]
fn rate_limits_answer_429() {
    let db = Db::new(false);
    let token = db.token("bank-web");
    let server = db.serve(&["--serial-rate", "3"]);
    let created = post(&server, &token, "/v1/activations", json!({}));
    let sn = created.body["serial"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let a = post(
            &server,
            &token,
            &format!("/v1/activations/{sn}/verify"),
            json!({ "code": "123456" }),
        );
        statuses.push(a.status);
        if a.status == 429 {
            assert_eq!(a.error_code(), "rate_limited");
            assert_eq!(a.header("retry-after"), Some("1"));
        }
    }
    assert_eq!(statuses, [409, 409, 409, 429]);
    // Another serial is not limited by this one.
    let other = post(&server, &token, "/v1/activations", json!({}));
    let osn = other.body["serial"].as_str().unwrap();
    let a = post(
        &server,
        &token,
        &format!("/v1/activations/{osn}/verify"),
        json!({ "code": "123456" }),
    );
    assert_eq!(a.status, 409);

    let tight = db.serve(&["--client-rate", "1"]);
    let burst: Vec<u16> = (0..4)
        .map(|_| call(&tight, Some(&token), "GET", "/v1/activations", None).status)
        .collect();
    assert!(burst.contains(&429), "{burst:?}");
}

#[test]
fn no_secret_reaches_the_logs() {
    let db = Db::new(true);
    let token = db.token("bank-web");
    let server = db.serve(&[]);
    let (d, created) = activate(&server, &token, json!({ "otp": "totp:SHA1:6:30" }));
    let sn = d.serial.to_string();
    let code = totp_now(&d.ik);
    post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/verify"),
        json!({ "code": code }),
    );
    post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/verify"),
        json!({ "code": code }),
    );
    post(
        &server,
        &token,
        "/v1/activations",
        json!({ "request_id": "r-1" }),
    );
    // A challenge's response and a signature's.
    let asked = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/challenges"),
        json!({}),
    );
    let question = asked.body["question"].as_str().unwrap();
    let response = d.respond(question);
    let id = asked.body["id"].as_str().unwrap();
    let ok = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/challenges/{id}/verify"),
        json!({ "response": response }),
    );
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let made = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/signing-requests"),
        json!({ "payments": [{ "amount": "9.99", "payee": "A", "account": "DE89370400440532013000" }] }),
    );
    let request = made.body["request"].as_str().unwrap().to_owned();
    let (tx, keys) = d.open(&request);
    let signature = keys.respond(&tx).to_string();
    let id = made.body["id"].as_str().unwrap();
    let ok = post(
        &server,
        &token,
        &format!("/v1/activations/{sn}/signing-requests/{id}/verify"),
        json!({ "response": signature }),
    );
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let log = server.stop();
    assert!(log.contains("\"serving\""), "the log was captured");
    assert!(
        log.contains("\"stopped\""),
        "the whole log was captured:\n{log}"
    );
    let Payload::Tessera(p) = payload::parse(created.body["payload"].as_str().unwrap()).unwrap()
    else {
        panic!("a Tessera payload")
    };
    let secrets = [
        ("bearer token", token.trim_start_matches("tsi_").to_owned()),
        ("master key", db.master_key().trim().to_owned()),
        ("activation code", p.activation_code.expose().to_owned()),
        (
            "activation key",
            hex::encode(p.activation_code.key().expose()),
        ),
        ("instance key", hex::encode(&d.ik)),
        ("device code", d.device_code.clone()),
        ("finalize code", d.finalize_code.clone()),
        ("one-time code", format!("\"{code}\"")),
        // Quoted, as a JSON log would write them: a bare 8-digit run could
        // turn up in a timestamp's nanoseconds.
        ("challenge response", format!("\"{response}\"")),
        ("signature", format!("\"{signature}\"")),
        ("signing request", request),
    ];
    for (what, secret) in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the {what} is in the log:\n{log}"
        );
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn rxing_read(img: &image::GrayImage) -> String {
    let (w, h) = img.dimensions();
    let results = rxing::helpers::detect_multiple_in_luma(img.as_raw().clone(), w, h).unwrap();
    results[0].getText().to_owned()
}

mod openapi {
    //! The checks of an answer against docs/issuer-api.yaml.

    use super::Answer;
    use serde_json::Value;
    use std::sync::OnceLock;

    fn doc() -> &'static Value {
        static DOC: OnceLock<Value> = OnceLock::new();
        DOC.get_or_init(|| {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/issuer-api.yaml");
            serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        })
    }

    fn resolve(v: &Value) -> &Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let mut at = doc();
                for part in r.trim_start_matches("#/").split('/') {
                    at = &at[part];
                }
                resolve(at)
            }
            None => v,
        }
    }

    /// The documented path template a concrete path matches.
    fn template(path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap();
        let paths = doc()["paths"].as_object().unwrap();
        paths.keys().find_map(|t| {
            let (a, b): (Vec<&str>, Vec<&str>) =
                (t.split('/').collect(), path.split('/').collect());
            (a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.starts_with('{') || x == y))
                .then(|| t.clone())
        })
    }

    pub fn check(method: &str, path: &str, answer: &Answer) {
        let Some(t) = template(path) else {
            return; // an undocumented path: the unknown-endpoint test.
        };
        let op = &doc()["paths"][&t][method.to_lowercase()];
        assert!(op.is_object(), "{method} {t} is not documented");
        let status = answer.status.to_string();
        let responses = &op["responses"];
        let response = match responses.get(&status) {
            Some(r) => resolve(r),
            // 5xx: the documented default (an Error).
            None if answer.status >= 500 => resolve(&responses["default"]),
            None => &Value::Null,
        };
        assert!(
            response.is_object(),
            "{method} {t} answered {status}, which is not documented: {:?}",
            answer.body
        );
        if let Some(schema) = response["content"]["application/json"].get("schema") {
            conforms(
                &answer.body,
                resolve(schema),
                &format!("{method} {t} {status}"),
            );
        }
    }

    fn conforms(value: &Value, schema: &Value, at: &str) {
        let schema = resolve(schema);
        if value.is_null() {
            assert!(
                schema["nullable"] == true,
                "{at}: null where the schema does not allow it"
            );
            return;
        }
        match schema["type"].as_str() {
            Some("object") => {
                let obj = value
                    .as_object()
                    .unwrap_or_else(|| panic!("{at}: not an object: {value}"));
                for r in schema["required"].as_array().into_iter().flatten() {
                    let r = r.as_str().unwrap();
                    assert!(obj.contains_key(r), "{at}: `{r}` missing in {value}");
                }
                if let Some(props) = schema["properties"].as_object() {
                    for (k, v) in obj {
                        match props.get(k) {
                            Some(s) => conforms(v, s, &format!("{at}.{k}")),
                            None => panic!("{at}: `{k}` is not documented"),
                        }
                    }
                }
            }
            Some("array") => {
                for (i, v) in value.as_array().unwrap().iter().enumerate() {
                    conforms(v, &schema["items"], &format!("{at}[{i}]"));
                }
            }
            Some("string") => {
                let s = value
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: not a string: {value}"));
                if let Some(options) = schema["enum"].as_array() {
                    assert!(
                        options.iter().any(|o| o == s),
                        "{at}: {s:?} is not one of {options:?}"
                    );
                }
            }
            Some("integer") => assert!(value.is_i64() || value.is_u64(), "{at}: not an integer"),
            Some("boolean") => assert!(value.is_boolean(), "{at}: not a boolean"),
            other => panic!("{at}: schema type {other:?} unknown to the checker"),
        }
    }
}
