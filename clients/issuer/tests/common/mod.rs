//! The harness of the issuer API's tests and load benchmark: the real
//! `tessera-issuer serve` processes over a SQLite file or a throwaway
//! PostgreSQL cluster, an HTTP client, and the device's side of an
//! activation computed from the payload with tessera-core.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tessera_core::activation::{DeviceCode, Serial, finalize_code, instance_key};
use tessera_core::otp::{self, OcraInput, OcraSuite};
use tessera_core::payload::{self, Payload};
use tessera_core::transaction::{SignRequest, Transaction, TransactionKeys};
use tessera_testkit::postgres::Cluster;

pub const BIN: &str = env!("CARGO_BIN_EXE_tessera-issuer");

/// The database the servers share.
pub struct Db {
    pub args: Vec<String>,
    pub dir: tempfile::TempDir,
    pub cluster: Option<Cluster>,
}

impl Db {
    /// A database; PostgreSQL with `fsync` off (a test's data need not
    /// survive a power cut).
    pub fn new(postgres: bool) -> Db {
        Self::new_with(postgres, &["-c", "fsync=off"])
    }

    /// A database; PostgreSQL started with these server options.
    pub fn new_with(postgres: bool, pg_options: &[&str]) -> Db {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("master.key");
        cli(&["master-key", "--out", key.to_str().unwrap()]);
        let (mut args, cluster) = if postgres {
            let cluster = Cluster::start_with(pg_options);
            let url = cluster.create_database("issuer");
            (vec!["--database-url".to_owned(), url], Some(cluster))
        } else {
            let db = dir.path().join("issuer.db");
            (vec!["--db".to_owned(), db.display().to_string()], None)
        };
        args.extend(["--master-key-file".to_owned(), key.display().to_string()]);
        Db { args, dir, cluster }
    }

    pub fn master_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("master.key")).unwrap()
    }

    /// A client's bearer token, through the command line.
    pub fn token(&self, name: &str) -> String {
        let mut args = vec!["client"];
        args.extend(self.args.iter().map(String::as_str));
        args.extend(["add", name]);
        cli(&args)["token"].as_str().unwrap().to_owned()
    }

    /// A server logging everything (`RUST_LOG=trace`: the no-secret test
    /// reads it all).
    pub fn serve(&self, extra: &[&str]) -> Server {
        Server::start(&self.args, extra, "trace")
    }

    /// A server logging at its shipped default (info), as the load
    /// benchmark measures it.
    pub fn serve_quietly(&self, extra: &[&str]) -> Server {
        Server::start(&self.args, extra, "info")
    }
}

/// `tessera-issuer ARGS --json`, which must succeed.
pub fn cli(args: &[&str]) -> Value {
    let out = Command::new(BIN).args(args).arg("--json").output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One `tessera-issuer serve` process, its address and everything it logged.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(db: &[String], extra: &[&str], log_level: &str) -> Server {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(db)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", log_level)
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server (SIGTERM) and returns everything it logged.
    pub fn stop(mut self) -> String {
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
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::config::Config::builder()
            .http_status_as_error(false)
            .build(),
    )
}

/// Calls the API.
pub fn request(
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
    Answer {
        status,
        body,
        headers,
    }
}

pub fn post(server: &Server, token: &str, path: &str, body: Value) -> Answer {
    request(server, Some(token), "POST", path, Some(&body.to_string()))
}

/// The device's side of an activation, from the payload the API returned.
pub struct Device {
    pub serial: Serial,
    pub device_code: String,
    pub finalize_code: String,
    pub ik: Vec<u8>,
}

impl Device {
    /// The OCRA response the authenticator gives to `question`.
    pub fn respond(&self, question: &str) -> String {
        OcraSuite::default()
            .respond(&self.ik, &OcraInput::new(question))
            .unwrap()
            .to_string()
    }

    /// A signing request as the authenticator opens it: what it shows, and
    /// the keys its response is made with.
    pub fn open(&self, request: &str) -> (Transaction, TransactionKeys) {
        let keys = TransactionKeys::derive(&self.serial, &self.ik);
        let shown = keys.open(&SignRequest::parse(request).unwrap()).unwrap();
        (shown, keys)
    }
}

pub fn device(payload_text: &str, nonce: u32) -> Device {
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

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn totp_now(ik: &[u8]) -> String {
    otp::hotp(ik, otp::Algorithm::Sha1, now() / 30, 6).to_string()
}

/// Create, bind and finalize over HTTP; returns the device.
pub fn activate(server: &Server, token: &str, body: Value) -> (Device, Answer) {
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
