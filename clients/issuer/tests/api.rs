//! The HTTP API end to end: the real `tessera-issuer serve` processes on
//! loopback ports, over a SQLite file or a throwaway PostgreSQL cluster,
//! called over HTTP; the device's side computed from the payload with
//! tessera-core, as the authenticator does. Every response is checked
//! against docs/issuer-api.yaml (its status documented for the path, its
//! body of the documented schema).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tessera_core::activation::{DeviceCode, Serial, finalize_code, instance_key};
use tessera_core::otp;
use tessera_core::payload::{self, Payload};
use tessera_testkit::postgres::Cluster;

const BIN: &str = env!("CARGO_BIN_EXE_tessera-issuer");

/// The database the servers share.
struct Db {
    args: Vec<String>,
    dir: tempfile::TempDir,
    _cluster: Option<Cluster>,
}

impl Db {
    fn new(postgres: bool) -> Db {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("master.key");
        cli(&["master-key", "--out", key.to_str().unwrap()]);
        let (mut args, cluster) = if postgres {
            let cluster = Cluster::start();
            let url = cluster.create_database("issuer");
            (vec!["--database-url".to_owned(), url], Some(cluster))
        } else {
            let db = dir.path().join("issuer.db");
            (vec!["--db".to_owned(), db.display().to_string()], None)
        };
        args.extend(["--master-key-file".to_owned(), key.display().to_string()]);
        Db {
            args,
            dir,
            _cluster: cluster,
        }
    }

    fn master_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("master.key")).unwrap()
    }

    /// A client's bearer token, through the command line.
    fn token(&self, name: &str) -> String {
        let mut args = vec!["client"];
        args.extend(self.args.iter().map(String::as_str));
        args.extend(["add", name]);
        cli(&args)["token"].as_str().unwrap().to_owned()
    }

    fn serve(&self, extra: &[&str]) -> Server {
        Server::start(&self.args, extra)
    }
}

/// `tessera-issuer ARGS --json`, which must succeed.
fn cli(args: &[&str]) -> Value {
    let out = Command::new(BIN).args(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One `tessera-issuer serve` process, its address and everything it logged.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(db: &[String], extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(db)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("\"serving\"") {
                    let v: Value = serde_json::from_str(&line).unwrap();
                    let _ = tx.send(v["fields"]["listen"].as_str().unwrap().to_owned());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the server did not start: {}", log.lock().unwrap()));
        Server {
            child,
            base: format!("http://{addr}"),
            log,
            reader: Some(reader),
        }
    }

    /// Stops the server (SIGTERM) and returns everything it logged.
    fn stop(mut self) -> String {
        self.halt();
        self.log.lock().unwrap().clone()
    }

    fn halt(&mut self) {
        unsafe { libc_kill(self.child.id() as i32, 15) };
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.halt();
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// An HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    headers: Vec<(String, String)>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::config::Config::builder()
            .http_status_as_error(false)
            .build(),
    )
}

/// Calls the API and checks the answer against the OpenAPI document.
fn call(
    server: &Server,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Answer {
    let url = format!("{}{path}", server.base);
    let agent = agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut response = match method {
        "GET" => {
            let mut req = agent.get(&url);
            if let Some(a) = &auth {
                req = req.header("Authorization", a);
            }
            req.call().unwrap()
        }
        "POST" => {
            let mut req = agent.post(&url);
            if let Some(a) = &auth {
                req = req.header("Authorization", a);
            }
            req.content_type("application/json")
                .send(body.unwrap_or(""))
                .unwrap()
        }
        _ => unreachable!(),
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let text = response.body_mut().read_to_string().unwrap();
    let body = if path == "/metrics" && status == 200 {
        Value::String(text)
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    };
    let answer = Answer {
        status,
        body,
        headers,
    };
    openapi::check(method, path, &answer);
    answer
}

fn post(server: &Server, token: &str, path: &str, body: Value) -> Answer {
    call(server, Some(token), "POST", path, Some(&body.to_string()))
}

/// The device's side of an activation, from the payload the API returned.
struct Device {
    serial: Serial,
    device_code: String,
    finalize_code: String,
    ik: Vec<u8>,
}

fn device(payload_text: &str, nonce: u32) -> Device {
    let Payload::Tessera(p) = payload::parse(payload_text).unwrap() else {
        panic!("a Tessera payload")
    };
    let ak = p.activation_code.key();
    let serial = p.serial.clone();
    let alg = otp::Algorithm::Sha1;
    let ik = instance_key(&ak, &serial, nonce, alg);
    Device {
        device_code: DeviceCode::new(&ak, &serial, nonce).to_string(),
        finalize_code: finalize_code(&ik, &serial, None).to_string(),
        ik: ik.expose().to_vec(),
        serial,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn totp_now(ik: &[u8]) -> String {
    otp::hotp(ik, otp::Algorithm::Sha1, now() / 30, 6).to_string()
}

/// Create, bind and finalize over HTTP; returns the device.
fn activate(server: &Server, token: &str, body: Value) -> (Device, Answer) {
    let created = post(server, token, "/v1/activations", body);
    assert_eq!(created.status, 201, "{:?}", created.body);
    let d = device(created.body["payload"].as_str().unwrap(), 77);
    let sn = d.serial.to_string();
    let bound = post(
        server,
        token,
        &format!("/v1/activations/{sn}/bind"),
        json!({ "device_code": d.device_code }),
    );
    assert_eq!(
        (bound.status, &bound.body["device_instance"]),
        (200, &json!(77)),
        "{:?}",
        bound.body
    );
    let fin = post(
        server,
        token,
        &format!("/v1/activations/{sn}/finalize"),
        json!({ "code": d.finalize_code }),
    );
    assert_eq!((fin.status, &fin.body["state"]), (200, &json!("active")));
    (d, created)
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

    let shown = call(
        &server,
        Some(&token),
        "GET",
        &format!("/v1/activations/{sn}"),
        None,
    );
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
        text.contains("tessera_issuer_verifications_total{outcome=\"accepted\"} 1"),
        "{text}"
    );
    assert!(text.contains("tessera_issuer_verifications_total{outcome=\"code_replayed\"} 1"));
    assert!(text.contains("tessera_issuer_verifications_total{outcome=\"wrong_state\"} 1"));
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

#[test]
fn bad_requests_get_typed_errors_and_the_server_keeps_serving() {
    let db = Db::new(false);
    let token = db.token("bank-web");
    let server = db.serve(&[]);
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
