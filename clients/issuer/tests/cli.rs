//! Runs the real `tessera-issuer` binary on temporary files. The device's
//! side of each session (device code, finalize code, one-time codes) is
//! computed here with tessera-core, as an authenticator would.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tessera_core::SecretBytes;
use tessera_core::activation::{
    ActivationCode, ActivationKey, Challenge, DeviceCode, Serial, finalize_code, instance_key,
};
use tessera_core::otp::{Algorithm, hotp, totp};
use tessera_core::payload::{self, Payload};
use tessera_core::signature::{self, IssuerPublicKey};

const BIN: &str = env!("CARGO_BIN_EXE_tessera-issuer");

/// PROTOCOL.md §8.
const SN: &str = "TSR0000001";
const AK_HEX: &str = "000102030405060708090a0b0c0d0e0f";
const AC: &str = "00000523310060624280605095539573136129562";
const NONCE: u32 = 123_456_789;
const DC: &str = "012345678998";
const FIN: &str = "35535829";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    fn fails(self, code: i32, message: &str) -> Self {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(message),
            "expected {message:?} in stderr:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run tessera-issuer");
    Run {
        code: out.status.code().expect("exited"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

/// A temporary directory with an issuer database path in it.
struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("issuer.db");
        Self { dir, db }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn db(&self) -> &str {
        self.db.to_str().unwrap()
    }

    /// `tessera-issuer COMMAND --db DB ARGS…`
    fn cmd(&self, command: &str, args: &[&str]) -> Run {
        let mut all = vec![command, "--db", self.db()];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `new` with the §8 serial and key, writing `a.png`.
    fn new_vector(&self, extra: &[&str]) -> Run {
        let image = self.path("a.png");
        let mut args = vec![
            "--image",
            image.to_str().unwrap(),
            "--serial",
            SN,
            "--key-hex",
            AK_HEX,
        ];
        args.extend_from_slice(extra);
        self.cmd("new", &args)
    }

    fn state(&self, serial: &str) -> String {
        let show = self
            .cmd("show", &["--serial", serial, "--json"])
            .ok()
            .json();
        show["activations"][0]["state"].as_str().unwrap().to_owned()
    }

    /// `show --json`'s object for `serial`.
    fn activation(&self, serial: &str) -> Value {
        let show = self
            .cmd("show", &["--serial", serial, "--json"])
            .ok()
            .json();
        show["activations"][0].clone()
    }

    fn bytes(&self) -> Vec<u8> {
        fs::read(&self.db).unwrap()
    }
}

fn serial(text: &str) -> Serial {
    text.parse().unwrap()
}

fn key_from_hex(text: &str) -> ActivationKey {
    let mut bytes = [0u8; 16];
    hex::decode_to_slice(text, &mut bytes).unwrap();
    ActivationKey::from_bytes(bytes)
}

fn vector_ik(alg: Algorithm) -> SecretBytes {
    instance_key(&key_from_hex(AK_HEX), &serial(SN), NONCE, alg)
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// PROTOCOL.md §8 end to end: new → bind → finalize → code → verify.
#[test]
fn protocol_vector_session() {
    let env = Env::new();
    let new = env
        .new_vector(&[
            "--otp",
            "totp:SHA1:8:30",
            "--label",
            "alice@example.com",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(new["serial"], SN);
    assert_eq!(new["activation_code"], AC);
    assert_eq!(
        new["activation_code_grouped"],
        "00000-52331-00606-24280-60509-55395-73136-12956-2"
    );
    assert_eq!(
        new["payload"],
        format!(
            "<QRCode><SN>{SN}</SN><AC>{AC}</AC><LBL>alice@example.com</LBL><OTP>totp:SHA1:8:30</OTP></QRCode>"
        )
    );
    assert_eq!(new["state"], "created");
    assert_eq!(env.state(SN), "created");
    assert_eq!(mode(&env.db), 0o600);
    assert_eq!(mode(&env.path("a.png")), 0o600);

    // Hyphens and spaces in the device code are fine.
    let bind = env
        .cmd(
            "bind",
            &["--serial", SN, "--device-code", "0123-4567 8998", "--json"],
        )
        .ok()
        .json();
    assert_eq!(bind["state"], "bound");
    assert_eq!(bind["device_instance"], NONCE);
    assert_eq!(env.state(SN), "bound");

    env.cmd("finalize", &["--serial", SN, "--code", "3553-5829"])
        .ok();
    assert_eq!(env.state(SN), "active");

    let code = env
        .cmd("code", &["--serial", SN, "--at", "59", "--json"])
        .ok()
        .json();
    assert_eq!(code["code"], "39718867");
    assert_eq!(code["step"], 1);
    assert_eq!(code["valid_for"], 1);
    let human = env.cmd("code", &["--serial", SN, "--at", "59"]).ok();
    assert!(human.stdout.starts_with("39718867 "), "{}", human.stdout);

    let ok = env
        .cmd(
            "verify",
            &["--serial", SN, "--code", "39718867", "--at", "59", "--json"],
        )
        .ok()
        .json();
    assert_eq!(ok["verified"], true);
    assert_eq!(ok["step"], 1);
    // The same code again is a replay, also half a minute later.
    let before = env.activation(SN);
    env.cmd(
        "verify",
        &["--serial", SN, "--code", "39718867", "--at", "59"],
    )
    .fails(1, "code already used");
    env.cmd(
        "verify",
        &["--serial", SN, "--code", "39718867", "--at", "89"],
    )
    .fails(1, "code already used");
    env.cmd(
        "verify",
        &["--serial", SN, "--code", "00000000", "--at", "59"],
    )
    .fails(1, "code does not match");
    // Refused codes change nothing but the failure count.
    let after = env.activation(SN);
    assert_eq!(after["last_accepted"], before["last_accepted"]);
    assert_eq!(after["failed_attempts"], 1, "replays are not guesses");

    // The next step's code is fresh.
    let ik = vector_ik(Algorithm::Sha1);
    let next = totp(ik.expose(), Algorithm::Sha1, 89, 30, 8);
    env.cmd(
        "verify",
        &["--serial", SN, "--code", next.as_str(), "--at", "89"],
    )
    .ok();
}

#[test]
fn vector_with_a_challenge_and_with_sha256() {
    let env = Env::new();
    env.new_vector(&["--challenge", "12345678"]).ok();
    env.cmd("bind", &["--serial", SN, "--device-code", DC]).ok();
    // Without the challenge the code is another one.
    env.cmd("finalize", &["--serial", SN, "--code", FIN])
        .fails(1, "finalize code does not match");
    env.cmd("finalize", &["--serial", SN, "--code", "19468555"])
        .ok();

    let env = Env::new();
    env.new_vector(&["--otp", "totp:SHA256:8:30"]).ok();
    env.cmd("bind", &["--serial", SN, "--device-code", DC]).ok();
    env.cmd("finalize", &["--serial", SN, "--code", "84382008"])
        .ok();
    let ik = vector_ik(Algorithm::Sha256);
    let want = totp(ik.expose(), Algorithm::Sha256, 1_000_000, 30, 8);
    let code = env
        .cmd("code", &["--serial", SN, "--at", "1000000", "--json"])
        .ok()
        .json();
    assert_eq!(code["code"], want.as_str());
}

/// A session as in production: random serial and key, read back from the
/// activation code the way an authenticator does.
#[test]
fn totp_session_with_random_serial_and_key() {
    let env = Env::new();
    let image = env.path("act.svg");
    let new = env
        .cmd(
            "new",
            &[
                "--image",
                image.to_str().unwrap(),
                "--json",
                "--form",
                "uri",
            ],
        )
        .ok()
        .json();
    let sn = new["serial"].as_str().unwrap().to_owned();
    assert_eq!(sn.len(), 10);
    assert!(
        sn.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{sn}"
    );
    let text = new["payload"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("tessera://activate?sn={sn}&ac=")),
        "{text}"
    );
    let Payload::Tessera(p) = payload::parse(text).unwrap() else {
        panic!("not a Tessera payload")
    };
    assert_eq!(
        p.activation_code.expose(),
        new["activation_code"].as_str().unwrap()
    );
    let svg = fs::read_to_string(&image).unwrap();
    assert!(svg.contains("<svg"), "{svg}");

    let ak = p.activation_code.key();
    let nonce = 4_000_000_000;
    let dc = DeviceCode::new(&ak, &p.serial, nonce);
    env.cmd("bind", &["--serial", &sn, "--device-code", &dc.grouped()])
        .ok();
    let ik = instance_key(&ak, &p.serial, nonce, Algorithm::Sha1);
    let fin = finalize_code(&ik, &p.serial, None);
    env.cmd("finalize", &["--serial", &sn, "--code", fin.as_str()])
        .ok();

    let t = 1_750_000_000u64;
    let at = t.to_string();
    let code = env
        .cmd("code", &["--serial", &sn, "--at", &at, "--json"])
        .ok()
        .json();
    assert_eq!(
        code["code"],
        totp(ik.expose(), Algorithm::Sha1, t, 30, 6).as_str()
    );
    // Two steps ahead is outside the default window of one step…
    let ahead = totp(ik.expose(), Algorithm::Sha1, t + 60, 30, 6);
    env.cmd(
        "verify",
        &["--serial", &sn, "--code", ahead.as_str(), "--at", &at],
    )
    .fails(1, "code does not match");
    // …and inside a window of two.
    let ok = env
        .cmd(
            "verify",
            &[
                "--serial",
                &sn,
                "--code",
                ahead.as_str(),
                "--at",
                &at,
                "--window",
                "2",
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(ok["drift"], 2);
    // An older step than the one accepted is refused as used.
    let now = totp(ik.expose(), Algorithm::Sha1, t, 30, 6);
    env.cmd(
        "verify",
        &["--serial", &sn, "--code", now.as_str(), "--at", &at],
    )
    .fails(1, "code already used");
}

#[test]
fn hotp_session_resynchronises_and_refuses_replays() {
    let env = Env::new();
    env.new_vector(&["--otp", "hotp:SHA1:6"]).ok();
    env.cmd("bind", &["--serial", SN, "--device-code", DC]).ok();
    env.cmd("finalize", &["--serial", SN, "--code", FIN]).ok();
    let ik = vector_ik(Algorithm::Sha1);
    let at = |c: u64| hotp(ik.expose(), Algorithm::Sha1, c, 6).to_string();

    let code = env.cmd("code", &["--serial", SN, "--json"]).ok().json();
    assert_eq!(
        (code["code"].as_str().unwrap(), &code["counter"]),
        (at(0).as_str(), &0.into())
    );

    // The device pressed ahead three times: the issuer resynchronises.
    let ok = env
        .cmd("verify", &["--serial", SN, "--code", &at(3), "--json"])
        .ok()
        .json();
    assert_eq!(
        (&ok["counter"], &ok["skipped"], &ok["next_counter"]),
        (&3.into(), &3.into(), &4.into())
    );
    let human = env.cmd("show", &["--serial", SN]).ok().stdout;
    assert!(human.contains("Next counter:    4"), "{human}");
    env.cmd("verify", &["--serial", SN, "--code", &at(3)])
        .fails(1, "code already used");
    env.cmd("verify", &["--serial", SN, "--code", &at(1)])
        .fails(1, "code already used");
    let after = env.activation(SN);
    assert_eq!(
        (&after["hotp_counter"], &after["failed_attempts"]),
        (&4.into(), &0.into()),
        "replays never move the counter back"
    );
    env.cmd("verify", &["--serial", SN, "--code", &at(4)]).ok();
    // Expected 5 now; 16 is 11 ahead, beyond the default look-ahead of 10.
    env.cmd("verify", &["--serial", SN, "--code", &at(16)])
        .fails(1, "code does not match");
    let ok = env
        .cmd(
            "verify",
            &["--serial", SN, "--code", &at(16), "--window", "11"],
        )
        .ok();
    assert!(
        ok.stdout.contains("resynchronised, 11 skipped"),
        "{}",
        ok.stdout
    );
    let show = env.cmd("show", &["--json"]).ok().json();
    assert_eq!(show["activations"][0]["hotp_counter"], 17);
    assert_eq!(show["activations"][0]["last_accepted"], 16);
}

/// Every refusal: its exit code, its message, and the database unchanged.
#[test]
fn errors_have_their_exit_code_and_leave_the_database_unchanged() {
    let env = Env::new();
    env.new_vector(&[]).ok();
    let other_sn = "TSR0000002";
    let other_key = "ffeeddccbbaa99887766554433221100";
    let img2 = env.path("b.png");
    env.cmd(
        "new",
        &[
            "--image",
            img2.to_str().unwrap(),
            "--serial",
            other_sn,
            "--key-hex",
            other_key,
        ],
    )
    .ok();
    let before = env.bytes();
    let unchanged = |what: &str| assert_eq!(env.bytes(), before, "{what}: database changed");

    // Finalize, code and verify before bind.
    env.cmd("finalize", &["--serial", SN, "--code", FIN])
        .fails(2, "not bound yet");
    unchanged("finalize before bind");
    env.cmd("code", &["--serial", SN]).fails(2, "not bound yet");
    env.cmd("verify", &["--serial", SN, "--code", "123456"])
        .fails(2, "not bound yet");

    // Device codes: a typo, another activation's code, malformed, unknown serial.
    env.cmd("bind", &["--serial", SN, "--device-code", "012345678999"])
        .fails(2, "check digits do not match");
    unchanged("wrong check digits");
    let theirs = DeviceCode::new(&key_from_hex(other_key), &serial(other_sn), NONCE);
    env.cmd(
        "bind",
        &["--serial", SN, "--device-code", &theirs.to_string()],
    )
    .fails(2, "belongs to another activation");
    unchanged("another activation's device code");
    env.cmd("bind", &["--serial", SN, "--device-code", "12345"])
        .fails(2, "must be 12 digits");
    env.cmd("bind", &["--serial", SN, "--device-code", "0123456789ab"])
        .fails(2, "only digits");
    env.cmd("bind", &["--serial", "TSR0000009", "--device-code", DC])
        .fails(2, "TSR0000009: no such activation");
    unchanged("unknown serial");

    // A duplicate serial, bad keys, bad fields, bad images.
    let img3 = env.path("c.png");
    let img = img3.to_str().unwrap();
    env.cmd("new", &["--image", img, "--serial", SN])
        .fails(2, "already exists");
    assert!(!img3.exists(), "no image for a refused activation");
    env.cmd("new", &["--image", img, "--key-hex", "0011"])
        .fails(2, "--key-hex: must be 32 hex digits");
    env.cmd("new", &["--image", img, "--label", &"x".repeat(65)])
        .fails(2, "LBL");
    env.cmd("new", &["--image", &env.path("c.jpg").to_string_lossy()])
        .fails(2, ".png or .svg");
    let nowhere = env.path("no/such/dir/c.png");
    env.cmd("new", &["--image", nowhere.to_str().unwrap()])
        .fails(2, "c.png");
    env.cmd("new", &["--image", img, "--sign-key", env.db()])
        .fails(2, "signing key");
    unchanged("refused new");
    assert!(!img3.exists());

    // Bound: verify needs finalize; a wrong finalize code is exit 1.
    env.cmd("bind", &["--serial", SN, "--device-code", DC]).ok();
    let before = env.bytes();
    env.cmd("verify", &["--serial", SN, "--code", "123456"])
        .fails(2, "not finalized yet");
    env.cmd("finalize", &["--serial", SN, "--code", "1234"])
        .fails(2, "must be 8 digits");
    assert_eq!(env.bytes(), before);
    // A wrong finalize code is counted (the lock-out is shared by every
    // instance through the database); the activation stays bound.
    env.cmd("finalize", &["--serial", SN, "--code", "1234-5678"])
        .fails(1, "finalize code does not match");
    let show = env.cmd("show", &["--serial", SN, "--json"]).ok().json();
    assert_eq!(show["activations"][0]["state"], "bound");
    assert_eq!(show["activations"][0]["failed_attempts"], 1);

    // Active: no second bind or finalize; codes must have the right length.
    env.cmd("finalize", &["--serial", SN, "--code", FIN]).ok();
    let before = env.bytes();
    env.cmd("bind", &["--serial", SN, "--device-code", DC])
        .fails(2, "already active");
    env.cmd("finalize", &["--serial", SN, "--code", FIN])
        .fails(2, "already active");
    env.cmd("verify", &["--serial", SN, "--code", "12345"])
        .fails(2, "must be 6 digits");
    assert_eq!(env.bytes(), before);

    // Usage errors from clap.
    env.cmd("bind", &["--serial", "tsr1", "--device-code", DC])
        .fails(2, "SN:");
    env.cmd("new", &["--image", img, "--otp", "totp:MD5:6"])
        .fails(2, "OTP: algorithm");
    env.cmd("new", &["--image", img, "--challenge", "12ab"])
        .fails(2, "CHALLENGE");
    env.cmd(
        "verify",
        &["--serial", SN, "--code", "1", "--window", "101"],
    )
    .fails(2, "101");
    run(&["bind", "--db", env.db()]).fails(2, "--serial");
    run(&["frobnicate"]).fails(2, "unrecognized subcommand");
    assert_eq!(env.bytes(), before);
}

#[test]
fn a_rebind_before_finalize_replaces_the_device() {
    let env = Env::new();
    env.new_vector(&[]).ok();
    env.cmd("bind", &["--serial", SN, "--device-code", DC]).ok();
    let ak = key_from_hex(AK_HEX);
    let dc2 = DeviceCode::new(&ak, &serial(SN), 7);
    let rebind = env
        .cmd(
            "bind",
            &["--serial", SN, "--device-code", &dc2.to_string(), "--json"],
        )
        .ok()
        .json();
    assert_eq!(rebind["replaced_device_instance"], NONCE);
    // The first device's finalize code no longer fits.
    env.cmd("finalize", &["--serial", SN, "--code", FIN])
        .fails(1, "does not match");
    let ik = instance_key(&ak, &serial(SN), 7, Algorithm::Sha1);
    let fin = finalize_code(&ik, &serial(SN), None::<&Challenge>);
    env.cmd("finalize", &["--serial", SN, "--code", fin.as_str()])
        .ok();
}

#[test]
fn files_that_are_not_an_issuer_database_are_refused() {
    let env = Env::new();
    let text = env.path("notes.txt");
    fs::write(&text, "These are notes, not a database.\n".repeat(64)).unwrap();
    let foreign = env.path("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE activations (serial TEXT); PRAGMA user_version = 1;")
        .unwrap();
    let img = env.path("x.png");
    for path in [&text, &foreign] {
        let before = fs::read(path).unwrap();
        let db = path.to_str().unwrap();
        let want = format!("{db} is not a tessera-issuer database");
        run(&["show", "--db", db]).fails(2, &want);
        run(&["bind", "--db", db, "--serial", SN, "--device-code", DC]).fails(2, &want);
        run(&["new", "--db", db, "--image", img.to_str().unwrap()]).fails(2, &want);
        assert_eq!(fs::read(path).unwrap(), before);
        assert!(!img.exists());
    }
    let missing = env.path("missing.db");
    run(&["show", "--db", missing.to_str().unwrap()]).fails(2, "no such issuer database");
    assert!(!missing.exists());
    // A `new` that fails does not leave a database behind either.
    run(&[
        "new",
        "--db",
        missing.to_str().unwrap(),
        "--image",
        env.path("no/dir/x.png").to_str().unwrap(),
    ])
    .fails(2, "x.png");
    assert!(!missing.exists());
}

#[test]
fn the_database_is_marked_and_versioned() {
    let env = Env::new();
    env.new_vector(&[]).ok();
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    let id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    let version: i32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!((id, version), (0x5453_5249, 4));
    drop(conn);
    rusqlite::Connection::open(&env.db)
        .unwrap()
        .pragma_update(None, "user_version", 5)
        .unwrap();
    env.cmd("show", &[]).fails(2, "newer tessera-issuer");
}

/// A version 1 file (before signing requests) is migrated in place when
/// opened, its activations kept.
#[test]
fn a_version_1_database_is_migrated() {
    // A version 1 file as version 1 made it: its schema (the first
    // migration, unchanged since), one activation with its key as bytes.
    let env = Env::new();
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.execute_batch(include_str!(
        "../src/store/migrations/sqlite/001_activations.sql"
    ))
    .unwrap();
    conn.execute(
        "INSERT INTO activations (serial, activation_key, otp, state, created_at) \
         VALUES (?1, ?2, 'totp:SHA1:6:30', 'created', 1)",
        rusqlite::params![SN, hex::decode(AK_HEX).unwrap()],
    )
    .unwrap();
    conn.execute_batch("PRAGMA application_id = 1414746697; PRAGMA user_version = 1;")
        .unwrap();
    drop(conn);
    assert_eq!(env.state(SN), "created");
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    let version: i32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 4);
    let requests: i64 = conn
        .query_row("SELECT count(*) FROM sign_requests", [], |r| r.get(0))
        .unwrap();
    assert_eq!(requests, 0);
    drop(conn);
    // The migrated row's key still checks the protocol vector's device code.
    env.cmd("bind", &["--serial", SN, "--device-code", DC]).ok();
    env.cmd("finalize", &["--serial", SN, "--code", FIN]).ok();
}

#[test]
fn keygen_writes_a_private_key_and_new_signs_with_it() {
    let env = Env::new();
    let key = env.path("issuer.pem");
    let k = key.to_str().unwrap();
    let out = run(&["keygen", "--out", k, "--json"]).ok().json();
    assert_eq!(mode(&key), 0o600);
    let pem = fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
    let public: IssuerPublicKey = out["public_key"].as_str().unwrap().parse().unwrap();

    // No overwrite without --force.
    run(&["keygen", "--out", k]).fails(2, "already exists");
    assert_eq!(fs::read_to_string(&key).unwrap(), pem);

    let img = env.path("signed.png");
    for form in ["tag", "uri"] {
        let new = env
            .cmd(
                "new",
                &[
                    "--image",
                    img.to_str().unwrap(),
                    "--sign-key",
                    k,
                    "--form",
                    form,
                    "--json",
                    "--issuer",
                    "Example Bank",
                ],
            )
            .ok()
            .json();
        assert_eq!(new["signed_by"], public.to_string());
        let Payload::Tessera(p) = payload::parse(new["payload"].as_str().unwrap()).unwrap() else {
            panic!("not a Tessera payload")
        };
        assert_eq!(p.issuer.as_deref(), Some("Example Bank"));
        assert_eq!(signature::verify(&p, &[public]), Ok(public));
    }

    let human = run(&["keygen", "--out", k, "--force"]).ok().stdout;
    assert_eq!(mode(&key), 0o600);
    assert_ne!(fs::read_to_string(&key).unwrap(), pem);
    let line = human
        .lines()
        .find(|l| l.trim().starts_with("ed25519:"))
        .unwrap();
    assert_ne!(line.trim(), public.to_string());
}

/// The PNG is a real QR code of the payload: decode it back.
#[test]
fn the_png_decodes_to_the_payload() {
    let env = Env::new();
    let new = env
        .new_vector(&["--label", "alice@example.com", "--json"])
        .ok();
    assert!(
        !new.stdout.contains('\u{2588}'),
        "no terminal drawing with --json"
    );
    let payload_text = new.json()["payload"].as_str().unwrap().to_owned();
    let png = fs::read(env.path("a.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let img = image::load_from_memory(&png).unwrap().to_luma8();
    let (w, h) = img.dimensions();
    let decoded =
        rxing::helpers::detect_in_luma(img.into_raw(), w, h, Some(rxing::BarcodeFormat::QR_CODE))
            .expect("a QR code in the image");
    assert_eq!(decoded.getText(), payload_text);
    let Payload::Tessera(p) = payload::parse(decoded.getText()).unwrap() else {
        panic!("not a Tessera payload")
    };
    assert_eq!(p.activation_code.expose(), AC);
    assert_eq!(
        ActivationCode::parse(&serial(SN), AC).unwrap().key(),
        key_from_hex(AK_HEX)
    );
}

#[test]
fn a_colour_image_and_its_plain_fallback_hold_the_payload() {
    let env = Env::new();
    let new = env
        .new_vector(&["--label", "alice@example.com", "--colour", "--json"])
        .ok();
    let json = new.json();
    let payload_text = json["payload"].as_str().unwrap().to_owned();
    assert_eq!(json["colour"], true);
    let plain_path = env.path("a.plain.png");
    assert_eq!(json["plain_image"], plain_path.to_str().unwrap());
    let colour = fs::read(env.path("a.png")).unwrap();
    let img = image::load_from_memory(&colour).unwrap().to_rgb8();
    let colours: std::collections::HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    assert_eq!(colours.len(), 8, "the eight colours of the palette");
    assert_eq!(
        tessera_scan::decode(&colour).unwrap(),
        vec![payload_text.clone()]
    );
    let plain = fs::read(&plain_path).unwrap();
    assert_eq!(tessera_scan::decode(&plain).unwrap(), vec![payload_text]);
    for path in [env.path("a.png"), plain_path] {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    // An SVG cannot be a colour code.
    let svg = env.path("b.svg");
    run(&[
        "new",
        "--db",
        env.db(),
        "--image",
        svg.to_str().unwrap(),
        "--colour",
    ])
    .fails(2, "a colour code is written as PNG");
}

#[test]
fn human_output_of_new() {
    let env = Env::new();
    let out = env
        .new_vector(&["--label", "alice@example.com"])
        .ok()
        .stdout;
    assert!(out.contains(&format!("Serial:          {SN}")), "{out}");
    assert!(
        out.contains("Activation code: 00000-52331-00606-24280-60509-55395-73136-12956-2"),
        "{out}"
    );
    assert!(
        out.contains(&format!("Payload:         <QRCode><SN>{SN}</SN>")),
        "{out}"
    );
    assert!(out.contains('\u{2588}'), "the QR code is drawn: {out}");
    assert!(out.contains("tessera-issuer bind --db"), "{out}");
}

#[test]
fn show_lists_states() {
    let env = Env::new();
    env.new_vector(&[]).ok();
    assert!(
        env.cmd("show", &[])
            .ok()
            .stdout
            .contains("TSR0000001  created")
    );
    let ak = key_from_hex(AK_HEX);
    for (i, sn) in ["TSR0000002", "TSR0000003"].iter().enumerate() {
        let img = env.path(&format!("{i}.png"));
        env.cmd(
            "new",
            &[
                "--image",
                img.to_str().unwrap(),
                "--serial",
                sn,
                "--key-hex",
                AK_HEX,
                "--user-id",
                "alice",
            ],
        )
        .ok();
        let dc = DeviceCode::new(&ak, &serial(sn), 1);
        env.cmd("bind", &["--serial", sn, "--device-code", &dc.to_string()])
            .ok();
    }
    let ik = instance_key(&ak, &serial("TSR0000003"), 1, Algorithm::Sha1);
    let fin = finalize_code(&ik, &serial("TSR0000003"), None);
    env.cmd(
        "finalize",
        &["--serial", "TSR0000003", "--code", fin.as_str()],
    )
    .ok();

    let show = env.cmd("show", &["--json"]).ok().json();
    let states: Vec<(&str, &str)> = show["activations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["serial"].as_str().unwrap(), a["state"].as_str().unwrap()))
        .collect();
    let mut states = states;
    states.sort();
    assert_eq!(
        states,
        [
            ("TSR0000001", "created"),
            ("TSR0000002", "bound"),
            ("TSR0000003", "active")
        ]
    );
    let table = env.cmd("show", &[]).ok().stdout;
    assert!(table.starts_with("SERIAL "), "{table}");
    assert!(table.contains("TSR0000002  bound "), "{table}");
    assert!(table.contains("TSR0000003  active"), "{table}");
    let one = env.cmd("show", &["--serial", "TSR0000002"]).ok().stdout;
    assert!(one.contains("State:           bound"), "{one}");
    assert!(one.contains("User ID:         alice"), "{one}");
    // Never any key material.
    let all = format!("{table}{one}{show}");
    assert!(!all.contains(AC) && !all.contains(AK_HEX), "{all}");
    env.cmd("show", &["--serial", "TSR0000009"])
        .fails(2, "no such activation");
}

/// `new` creates its database as an empty file first; it initializes such a
/// file, and the other commands refuse it.
#[test]
fn a_zero_byte_file_is_initialized_only_by_new() {
    let env = Env::new();
    fs::write(&env.db, b"").unwrap();
    fs::set_permissions(&env.db, fs::Permissions::from_mode(0o644)).unwrap();
    env.cmd("show", &[])
        .fails(2, "not a tessera-issuer database");
    assert_eq!(env.bytes(), b"");
    env.new_vector(&[]).ok();
    assert_eq!(mode(&env.db), 0o600);
    assert_eq!(env.state(SN), "created");
}

#[test]
fn json_errors_are_objects_too() {
    let env = Env::new();
    env.new_vector(&[]).ok();
    let out = env
        .cmd("finalize", &["--serial", SN, "--code", FIN, "--json"])
        .fails(2, "not bound yet");
    let err = out.json();
    assert_eq!(err["exit_code"], 2);
    assert!(err["error"].as_str().unwrap().contains("not bound yet"));
}

#[test]
fn every_command_has_help() {
    let all = run(&["--help"]).ok().stdout;
    for command in [
        "keygen", "new", "bind", "finalize", "code", "verify", "show",
    ] {
        assert!(all.contains(command), "{command} in\n{all}");
        let help = run(&[command, "--help"]).ok().stdout;
        assert!(help.contains("Usage: tessera-issuer"), "{help}");
        if command != "keygen" {
            assert!(help.contains("--db <FILE>"), "{command}:\n{help}");
        }
        assert!(help.contains("--json"), "{command}:\n{help}");
    }
    assert!(run(&["help", "verify"]).ok().stdout.contains("--window"));
    assert!(
        run(&["--version"])
            .ok()
            .stdout
            .starts_with("tessera-issuer ")
    );
}

/// The §8 activation, made active.
fn active_vector(env: &Env) {
    env.new_vector(&[]).ok();
    env.cmd("bind", &["--serial", SN, "--device-code", DC]).ok();
    env.cmd("finalize", &["--serial", SN, "--code", FIN]).ok();
}

/// The device's side of a signing request: the request text opened with
/// the §8 instance key, and its response.
fn device_opens(request: &str) -> (tessera_core::transaction::Transaction, String) {
    use tessera_core::transaction::{SignRequest, TransactionKeys};
    let keys = TransactionKeys::derive(&serial(SN), vector_ik(Algorithm::Sha1).expose());
    let tx = keys.open(&SignRequest::parse(request).unwrap()).unwrap();
    let response = keys.respond(&tx).as_str().to_owned();
    (tx, response)
}

#[test]
fn a_signing_request_is_signed_once_for_exactly_what_was_shown() {
    let env = Env::new();
    active_vector(&env);
    let image = env.path("pay.png");
    let made = env
        .cmd(
            "sign-request",
            &[
                "--serial",
                SN,
                "--amount",
                "125.00",
                "--currency",
                "EUR",
                "--payee",
                "Müller & Söhne GmbH",
                "--iban",
                "DE89 3704 0044 0532 0130 00",
                "--reference",
                "Invoice 117",
                "--image",
                image.to_str().unwrap(),
                "--json",
            ],
        )
        .ok()
        .json();
    assert_eq!(mode(&image), 0o600);
    let request = made["request"].as_str().unwrap().to_owned();
    assert_eq!(
        tessera_scan::decode(&fs::read(&image).unwrap()).unwrap(),
        vec![request.clone()]
    );
    let (tx, response) = device_opens(&request);
    assert_eq!(tx.payments[0].amount, 12_500);
    assert_eq!(tx.payments[0].payee_name, "Müller & Söhne GmbH");
    assert_eq!(tx.payments[0].payee_account, "DE89370400440532013000");
    assert_eq!(made["total"], "125.00");

    // A wrong code first (counted), then the right one, then a replay.
    let wrong = if response == "00000000" {
        "11111111"
    } else {
        "00000000"
    };
    env.cmd("verify-signature", &["--serial", SN, "--code", wrong])
        .fails(1, "does not match");
    let ok = env
        .cmd(
            "verify-signature",
            &["--serial", SN, "--code", &response, "--json"],
        )
        .ok()
        .json();
    assert_eq!(ok["signed"], true);
    assert_eq!(ok["payments"][0]["payee"], "Müller & Söhne GmbH");
    env.cmd("verify-signature", &["--serial", SN, "--code", &response])
        .fails(1, "accepted before");
    let show = env.cmd("show", &["--serial", SN, "--json"]).ok().json();
    assert_eq!(show["signing_requests"][0]["state"], "signed");
    assert_eq!(show["signing_requests"][0]["wrong_responses"], 1);
}

#[test]
fn signing_requests_expire_and_wrong_codes_refuse_them() {
    let env = Env::new();
    active_vector(&env);
    let image = env.path("pay.png");
    let args = |amount: &'static str| {
        vec![
            "--serial",
            SN,
            "--amount",
            amount,
            "--payee",
            "ACME",
            "--iban",
            "GB82WEST12345698765432",
            "--expires-in",
            "60",
            "--image",
            image.to_str().unwrap(),
            "--colour",
            "--json",
        ]
    };
    let made = env.cmd("sign-request", &args("10")).ok().json();
    assert_eq!(made["colour"], true);
    let (_, response) = device_opens(made["request"].as_str().unwrap());
    let later = (made["expires_at"].as_u64().unwrap() + 1).to_string();
    env.cmd(
        "verify-signature",
        &["--serial", SN, "--code", &response, "--at", &later],
    )
    .fails(1, "expired");

    let made = env.cmd("sign-request", &args("20")).ok().json();
    let (_, response) = device_opens(made["request"].as_str().unwrap());
    for _ in 0..3 {
        env.cmd("verify-signature", &["--serial", SN, "--code", "12345678"])
            .fails(1, "does not match");
    }
    env.cmd("verify-signature", &["--serial", SN, "--code", &response])
        .fails(1, "refused after 3 wrong responses");
}

#[test]
fn signing_input_is_checked_before_anything_is_written() {
    let env = Env::new();
    env.new_vector(&[]).ok();
    let image = env.path("pay.png");
    let img = image.to_str().unwrap();
    let base = [
        "--serial",
        SN,
        "--payee",
        "ACME",
        "--iban",
        "GB82WEST12345698765432",
        "--image",
        img,
    ];
    let with = |extra: &[&str]| {
        let mut all = base.to_vec();
        all.extend_from_slice(extra);
        env.cmd("sign-request", &all)
    };
    with(&["--amount", "1.001"]).fails(2, "at most 2 decimals");
    with(&["--amount", "5", "--currency", "eur"]).fails(2, "ISO 4217");
    with(&["--amount", "5", "--amount", "6"]).fails(2, "once per payment");
    with(&["--amount", "5"]).fails(2, "only an active account signs");
    let mut bad_iban = base.to_vec();
    bad_iban[5] = "GB82WEST12345698765433";
    let mut all = bad_iban;
    all.extend_from_slice(&["--amount", "5"]);
    env.cmd("sign-request", &all).fails(2, "not a valid IBAN");
    assert!(!image.exists(), "no image written");
    env.cmd("verify-signature", &["--serial", SN, "--code", "1234"])
        .fails(2, "8 digits");
}
