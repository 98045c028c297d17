//! The same suite against both stores: a SQLite file and a real PostgreSQL
//! server (a throwaway cluster per test, testkit `postgres::Cluster`).
//! "Instances" are separate stores opened on the same database, as
//! separate `tessera-issuer serve` processes would hold: each test that
//! says so races them from threads.

use std::sync::{Arc, Barrier};
use std::thread;

use tessera_core::activation::{ActivationKey, DeviceCode, Serial, finalize_code, instance_key};
use tessera_core::otp::{self, OcraInput, OcraSuite};
use tessera_core::transaction::{Currency, Payment, SignRequest, TransactionKeys};
use tessera_issuer::error::Error;
use tessera_issuer::service::{Actor, CreateRequest, Issuer, Limits, Verified};
use tessera_issuer::store::{self, Location, State, sealing::Kek};
use tessera_testkit::postgres::Cluster;

const KEY: [u8; 16] = *b"0123456789abcdef";
const NONCE: u32 = 4242;

/// One database and a way to open more instances on it.
struct Db {
    location: Location,
    kek_text: String,
    _dir: Option<tempfile::TempDir>,
    cluster: Option<Cluster>,
}

impl Db {
    fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        Db {
            location: Location::Sqlite(dir.path().join("issuer.db")),
            kek_text: Kek::generate().to_text().to_string(),
            _dir: Some(dir),
            cluster: None,
        }
    }

    fn postgres() -> Db {
        let cluster = Cluster::start();
        let url = cluster.create_database("issuer");
        Db {
            location: Location::Postgres(url),
            kek_text: Kek::generate().to_text().to_string(),
            _dir: None,
            cluster: Some(cluster),
        }
    }

    fn kek(&self) -> Kek {
        Kek::parse(&self.kek_text, "test").unwrap()
    }

    /// A new instance: its own connection(s) to the database.
    fn instance(&self) -> Issuer {
        self.instance_with(Limits {
            max_failures: 5,
            lock_seconds: 300,
        })
    }

    fn instance_with(&self, limits: Limits) -> Issuer {
        let opened = store::open(&self.location, Some(self.kek()), true).unwrap();
        Issuer::new(opened.store).with_limits(limits)
    }

    /// The raw bytes of a column, as the database holds them.
    fn raw_column(&self, serial: &str, column: &str) -> Vec<u8> {
        match (&self.location, &self.cluster) {
            (Location::Sqlite(path), _) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.query_row(
                    &format!("SELECT {column} FROM activations WHERE serial = ?1"),
                    [serial],
                    |row| row.get(0),
                )
                .unwrap()
            }
            (Location::Postgres(_), Some(cluster)) => hex::decode(cluster.psql(
                "issuer",
                &format!(
                    "SELECT encode({column}, 'hex') FROM activations WHERE serial = '{serial}'"
                ),
            ))
            .unwrap(),
            _ => unreachable!(),
        }
    }
}

/// Runs each scenario once per store.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&super::Db::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(&super::Db::postgres()); })*
        }
    };
}

both!(
    an_activation_runs_to_its_end_and_codes_verify_once,
    parallel_verifications_of_one_code_accept_exactly_one,
    hotp_counters_never_go_backwards_under_concurrency,
    failed_attempts_are_shared_by_every_instance,
    a_repeated_request_id_gets_the_same_activation,
    keys_at_rest_are_sealed_and_the_master_key_rotates,
    revoked_activations_verify_nothing,
    api_clients_authenticate_until_revoked,
    a_list_pages_through_every_activation,
    a_challenge_is_answered_once_before_it_expires,
    a_signature_counts_once_for_exactly_the_transaction_shown,
);

fn key() -> ActivationKey {
    ActivationKey::from_bytes(KEY)
}

/// Creates, binds and finalizes `serial` through `issuer`; returns the
/// instance key.
fn activate(issuer: &Issuer, serial: &str, otp: Option<&str>) -> Vec<u8> {
    let serial: Serial = serial.parse().unwrap();
    let req = CreateRequest {
        serial: Some(serial.clone()),
        key: Some(key()),
        otp: otp.map(|o| o.parse().unwrap()),
        ..CreateRequest::default()
    };
    let made = issuer.create(Actor("test"), &req, |_| Ok(())).unwrap();
    assert_eq!(made.serial, serial);
    let dc = DeviceCode::new(&key(), &serial, NONCE);
    let bound = issuer
        .bind(Actor("test"), &serial, &dc.to_string())
        .unwrap();
    assert_eq!(bound.device_instance, NONCE);
    let a = issuer.show(&serial).unwrap();
    let ik = instance_key(&key(), &serial, NONCE, a.otp.algorithm());
    let fin = finalize_code(&ik, &serial, None);
    issuer
        .finalize(Actor("test"), &serial, &fin.to_string())
        .unwrap();
    ik.expose().to_vec()
}

fn totp(ik: &[u8], t: u64) -> String {
    otp::hotp(ik, otp::Algorithm::Sha1, t / 30, 6).to_string()
}

fn an_activation_runs_to_its_end_and_codes_verify_once(db: &Db) {
    let issuer = db.instance();
    let ik = activate(&issuer, "TSR0000001", None);
    let serial: Serial = "TSR0000001".parse().unwrap();
    assert_eq!(issuer.show(&serial).unwrap().state, State::Active);
    let t = 1_700_000_000;
    let code = totp(&ik, t);
    match issuer
        .verify(Actor("test"), &serial, &code, None, Some(t))
        .unwrap()
    {
        Verified::Totp { step, drift } => assert_eq!((step, drift), (t / 30, 0)),
        Verified::Hotp { .. } => panic!("a TOTP activation"),
    }
    let again = issuer
        .verify(Actor("test"), &serial, &code, None, Some(t + 20))
        .unwrap_err();
    assert!(matches!(again, Error::Replayed(_)), "{again}");
    let wrong = issuer
        .verify(Actor("test"), &serial, "000000", None, Some(t + 30))
        .unwrap_err();
    // 000000 could be the right code one time in a million.
    assert!(
        matches!(wrong, Error::Rejected(_)) || totp(&ik, t + 30) == "000000",
        "{wrong}"
    );
    let actions: Vec<(String, String)> = issuer
        .audit_log(Some(&serial), 10)
        .unwrap()
        .into_iter()
        .rev()
        .map(|e| (e.action, e.outcome))
        .collect();
    let expected: Vec<(String, String)> = [
        ("created", "ok"),
        ("bound", "ok"),
        ("finalized", "ok"),
        ("verified", "ok"),
        ("verify", "replayed"),
        ("verify", "wrong_code"),
    ]
    .iter()
    .map(|(a, o)| (a.to_string(), o.to_string()))
    .collect();
    assert_eq!(actions, expected);
}

fn parallel_verifications_of_one_code_accept_exactly_one(db: &Db) {
    let ik = activate(&db.instance(), "TSR0000002", None);
    let t = 1_700_000_000;
    let code = totp(&ik, t);
    let instances: Vec<Issuer> = (0..8).map(|_| db.instance()).collect();
    let barrier = Arc::new(Barrier::new(instances.len()));
    let results: Vec<Result<(), Error>> = thread::scope(|s| {
        let handles: Vec<_> = instances
            .iter()
            .map(|issuer| {
                let barrier = barrier.clone();
                let code = code.clone();
                s.spawn(move || {
                    let serial: Serial = "TSR0000002".parse().unwrap();
                    barrier.wait();
                    issuer
                        .verify(Actor("race"), &serial, &code, None, Some(t))
                        .map(drop)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 1, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, Error::Replayed(_)), "{r}");
    }
}

fn hotp_counters_never_go_backwards_under_concurrency(db: &Db) {
    let ik = activate(&db.instance(), "TSR0000003", Some("hotp:SHA1:6"));
    let instances: Vec<Issuer> = (0..6).map(|_| db.instance()).collect();
    let barrier = Arc::new(Barrier::new(instances.len()));
    // Counters 0..6 typed at once on six instances, in any order.
    let accepted: Vec<u64> = thread::scope(|s| {
        let handles: Vec<_> = instances
            .iter()
            .enumerate()
            .map(|(i, issuer)| {
                let barrier = barrier.clone();
                let code = otp::hotp(&ik, otp::Algorithm::Sha1, i as u64, 6).to_string();
                s.spawn(move || {
                    let serial: Serial = "TSR0000003".parse().unwrap();
                    barrier.wait();
                    match issuer.verify(Actor("race"), &serial, &code, None, None) {
                        Ok(Verified::Hotp { counter, .. }) => Some(counter),
                        Ok(Verified::Totp { .. }) => panic!("an HOTP activation"),
                        Err(Error::Replayed(_)) => None,
                        Err(e) => panic!("{e}"),
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(!accepted.is_empty());
    // Each accepted counter is above every one accepted before it: the
    // counter only moved forward.
    let mut sorted = accepted.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), accepted.len(), "a counter accepted twice");
    let serial: Serial = "TSR0000003".parse().unwrap();
    let a = db.instance().show(&serial).unwrap();
    assert_eq!(a.hotp_counter(), Some(sorted.last().unwrap() + 1));
    let events = db.instance().audit_log(Some(&serial), 100).unwrap();
    let oks = events.iter().filter(|e| e.action == "verified").count();
    assert_eq!(oks, accepted.len());
}

fn failed_attempts_are_shared_by_every_instance(db: &Db) {
    let limits = Limits {
        max_failures: 5,
        lock_seconds: 3600,
    };
    let ik = activate(&db.instance(), "TSR0000004", None);
    let serial: Serial = "TSR0000004".parse().unwrap();
    let (a, b) = (db.instance_with(limits), db.instance_with(limits));
    let t = 1_700_000_000;
    let right = totp(&ik, t);
    let wrong = if right == "111111" {
        "222222"
    } else {
        "111111"
    };
    for (i, issuer) in [&a, &b, &a, &b].into_iter().enumerate() {
        let e = issuer
            .verify(Actor("x"), &serial, wrong, Some(0), Some(t))
            .unwrap_err();
        assert!(matches!(e, Error::Rejected(_)), "failure {i}: {e}");
    }
    let e = b
        .verify(Actor("x"), &serial, wrong, Some(0), Some(t))
        .unwrap_err();
    assert!(
        e.to_string().contains("5 failed codes: locked until"),
        "{e}"
    );
    // Locked on every instance, even for the right code.
    for issuer in [&a, &b] {
        let e = issuer
            .verify(Actor("x"), &serial, &right, None, Some(t))
            .unwrap_err();
        assert!(matches!(e, Error::Locked(_)), "{e}");
        assert!(e.to_string().contains("locked after 5 failed codes"), "{e}");
    }
    let shown = a.show(&serial).unwrap();
    assert_eq!(shown.failed_attempts, 5);
    assert!(shown.locked_until.is_some());
    assert!(shown.last_accepted.is_none(), "nothing was accepted");
}

fn a_repeated_request_id_gets_the_same_activation(db: &Db) {
    let instances: Vec<Issuer> = (0..4).map(|_| db.instance()).collect();
    let barrier = Arc::new(Barrier::new(instances.len()));
    let made: Vec<(String, String, bool)> = thread::scope(|s| {
        let handles: Vec<_> = instances
            .iter()
            .map(|issuer| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    let req = CreateRequest {
                        label: Some("alice".into()),
                        request_id: Some("order-77".into()),
                        ..CreateRequest::default()
                    };
                    barrier.wait();
                    let made = issuer.create(Actor("bank"), &req, |_| Ok(())).unwrap();
                    (
                        made.serial.to_string(),
                        made.code.expose().to_owned(),
                        made.repeated,
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let first = &made[0];
    for m in &made {
        assert_eq!((&m.0, &m.1), (&first.0, &first.1), "one activation");
    }
    assert_eq!(made.iter().filter(|m| !m.2).count(), 1, "made once");
    assert_eq!(db.instance().list(None, None).unwrap().len(), 1);
    // The same id from another client is another request.
    let other = db
        .instance()
        .create(
            Actor("shop"),
            &CreateRequest {
                request_id: Some("order-77".into()),
                ..CreateRequest::default()
            },
            |_| Ok(()),
        )
        .unwrap();
    assert_ne!(other.serial.to_string(), first.0);
    // Once bound, the id cannot make it again.
    let serial: Serial = first.0.parse().unwrap();
    let issuer = db.instance();
    let key = issuer.show(&serial).unwrap().activation_key.unwrap();
    let dc = DeviceCode::new(&key, &serial, NONCE);
    issuer
        .bind(Actor("bank"), &serial, &dc.to_string())
        .unwrap();
    let again = issuer
        .create(
            Actor("bank"),
            &CreateRequest {
                request_id: Some("order-77".into()),
                ..CreateRequest::default()
            },
            |_| Ok(()),
        )
        .err()
        .unwrap();
    assert!(matches!(again, Error::Conflict(_)), "{again}");
    assert!(again.to_string().contains("which is bound now"), "{again}");
}

fn keys_at_rest_are_sealed_and_the_master_key_rotates(db: &Db) {
    let issuer = db.instance();
    let ik = activate(&issuer, "TSR0000005", None);
    let created = issuer
        .create(
            Actor("test"),
            &CreateRequest {
                serial: Some("TSR0000006".parse().unwrap()),
                key: Some(key()),
                ..CreateRequest::default()
            },
            |_| Ok(()),
        )
        .unwrap();
    drop(issuer);
    let stored_ik = db.raw_column("TSR0000005", "instance_key");
    let stored_ak = db.raw_column("TSR0000006", "activation_key");
    assert!(
        !stored_ik.windows(ik.len()).any(|w| w == ik),
        "the instance key is not stored as it is"
    );
    assert!(!stored_ak.windows(16).any(|w| w == KEY));
    assert_eq!(stored_ak.len(), 1 + 4 + 12 + 16 + 16);

    // Another master key is named as such.
    let err = store::open(&db.location, Some(Kek::generate()), false)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("is wrapped by master key"), "{err}");
    let err = store::open(&db.location, None, false).err().unwrap();
    assert!(
        err.to_string().contains("give it with --master-key-file"),
        "{err}"
    );

    // Rotation: the new key opens, the old one no longer does, and the
    // codes and the unbound activation still work.
    let new = Kek::generate();
    let new_text = new.to_text().to_string();
    let opened = store::open(&db.location, Some(db.kek()), false).unwrap();
    let rotated = store::rotate(&*opened.store, &new, true).unwrap();
    assert_eq!((rotated.data_keys, rotated.resealed), (2, 2));
    drop(opened);
    assert!(store::open(&db.location, Some(db.kek()), false).is_err());
    let issuer = Issuer::new(
        store::open(
            &db.location,
            Some(Kek::parse(&new_text, "new").unwrap()),
            false,
        )
        .unwrap()
        .store,
    );
    let serial: Serial = "TSR0000005".parse().unwrap();
    let t = 1_700_000_000;
    issuer
        .verify(Actor("test"), &serial, &totp(&ik, t), None, Some(t))
        .unwrap();
    let unbound: Serial = "TSR0000006".parse().unwrap();
    let key_back = issuer.show(&unbound).unwrap().activation_key.unwrap();
    assert_eq!(key_back.expose(), KEY);
    assert_ne!(db.raw_column("TSR0000006", "activation_key"), stored_ak);
    assert_eq!(created.serial, unbound);
}

fn revoked_activations_verify_nothing(db: &Db) {
    let issuer = db.instance();
    let ik = activate(&issuer, "TSR0000007", None);
    let serial: Serial = "TSR0000007".parse().unwrap();
    issuer.revoke(Actor("test"), &serial).unwrap();
    let a = issuer.show(&serial).unwrap();
    assert_eq!(a.state, State::Revoked);
    assert!(a.instance_key.is_none(), "the key is erased");
    let t = 1_700_000_000;
    let e = issuer
        .verify(Actor("test"), &serial, &totp(&ik, t), None, Some(t))
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    assert!(e.to_string().contains("revoked"), "{e}");
    assert!(issuer.revoke(Actor("test"), &serial).is_err());
}

fn api_clients_authenticate_until_revoked(db: &Db) {
    let issuer = db.instance();
    let token = issuer.add_client("bank-web").unwrap();
    assert!(token.starts_with("tsi_") && token.len() == 68);
    assert_eq!(issuer.authenticate(&token).unwrap(), "bank-web");
    let e = issuer.authenticate("tsi_00").unwrap_err();
    assert!(matches!(e, Error::Unauthorized(_)), "{e}");
    let e = issuer.add_client("bank-web").err().unwrap();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    // Another instance sees the client, and its revocation.
    let other = db.instance();
    assert_eq!(other.authenticate(&token).unwrap(), "bank-web");
    other.revoke_client("bank-web").unwrap();
    assert!(issuer.authenticate(&token).is_err());
    assert!(matches!(
        issuer.revoke_client("bank-web"),
        Err(Error::NotFound(_))
    ));
    let clients = issuer.clients().unwrap();
    assert_eq!(clients.len(), 1);
    assert!(clients[0].revoked_at.is_some());
}

fn a_list_pages_through_every_activation(db: &Db) {
    let issuer = db.instance();
    let mut made = Vec::new();
    for _ in 0..7 {
        made.push(
            issuer
                .create(Actor("test"), &CreateRequest::default(), |_| Ok(()))
                .unwrap()
                .serial,
        );
    }
    let mut seen = Vec::new();
    let mut after: Option<Serial> = None;
    loop {
        let page = issuer.list(after.as_ref(), Some(3)).unwrap();
        seen.extend(page.iter().map(|a| a.serial.clone()));
        if page.len() < 3 {
            break;
        }
        after = page.last().map(|a| a.serial.clone());
    }
    let mut expected = made.clone();
    expected.sort_by_key(|s| s.to_string());
    let mut got = seen.clone();
    got.sort_by_key(|s| s.to_string());
    assert_eq!(got, expected, "every activation once");
    let unknown: Serial = "ZZZZZZZZZZ".parse().unwrap();
    assert!(matches!(
        issuer.list(Some(&unknown), Some(3)),
        Err(Error::NotFound(_))
    ));
}

/// The device's response to a question: OCRA under its instance key.
fn ocra(ik: &[u8], question: &str) -> String {
    OcraSuite::default()
        .respond(ik, &OcraInput::new(question))
        .unwrap()
        .to_string()
}

/// A response that is not `right`.
fn other_than(right: &str) -> String {
    let last = (right.as_bytes()[right.len() - 1] - b'0' + 1) % 10;
    format!("{}{last}", &right[..right.len() - 1])
}

fn a_challenge_is_answered_once_before_it_expires(db: &Db) {
    let issuer = db.instance();
    let ik = activate(&issuer, "TSR0000010", None);
    let serial: Serial = "TSR0000010".parse().unwrap();
    let asked = issuer.challenge(Actor("test"), &serial, None, 300).unwrap();
    assert_eq!(asked.question.len(), 8);
    assert!(asked.question.bytes().all(|b| b.is_ascii_digit()));
    let right = ocra(&ik, &asked.question);
    let wrong = issuer
        .verify_response(
            Actor("test"),
            &serial,
            &asked.nonce,
            &other_than(&right),
            None,
        )
        .unwrap_err();
    assert!(matches!(wrong, Error::Rejected(_)), "{wrong}");
    assert_eq!(issuer.show(&serial).unwrap().failed_attempts, 1);

    // Eight instances answer it at once: one is accepted, seven are replays.
    let instances: Vec<Issuer> = (0..8).map(|_| db.instance()).collect();
    let barrier = Arc::new(Barrier::new(instances.len()));
    let results: Vec<Result<(), Error>> = thread::scope(|s| {
        let handles: Vec<_> = instances
            .iter()
            .map(|i| {
                let (barrier, serial, right) = (barrier.clone(), serial.clone(), right.clone());
                let nonce = asked.nonce;
                s.spawn(move || {
                    barrier.wait();
                    i.verify_response(Actor("race"), &serial, &nonce, &right, None)
                        .map(drop)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, Error::Replayed(_)), "{r}");
    }
    // The accepted response cleared the failure count.
    assert_eq!(issuer.show(&serial).unwrap().failed_attempts, 0);

    // A message's question is the one the daemon's approval answers.
    let message = "Log in to Bank from Firefox on Linux?";
    let approval = issuer
        .challenge(Actor("test"), &serial, Some(message), 60)
        .unwrap();
    assert_eq!(
        approval.question,
        OcraSuite::default().message_question(message)
    );
    let late = approval.expires_at;
    let expired = issuer
        .verify_response(
            Actor("test"),
            &serial,
            &approval.nonce,
            &ocra(&ik, &approval.question),
            Some(late),
        )
        .unwrap_err();
    assert!(
        matches!(&expired, Error::Rejected(m) if m.contains("expired")),
        "{expired}"
    );
    issuer
        .verify_response(
            Actor("test"),
            &serial,
            &approval.nonce,
            &ocra(&ik, &approval.question),
            Some(late - 1),
        )
        .unwrap();

    // Three wrong responses refuse a challenge for good; the right one
    // after them is refused, not counted.
    let third = issuer.challenge(Actor("test"), &serial, None, 300).unwrap();
    let right = ocra(&ik, &third.question);
    for _ in 0..3 {
        issuer
            .verify_response(
                Actor("test"),
                &serial,
                &third.nonce,
                &other_than(&right),
                None,
            )
            .unwrap_err();
    }
    let refused = issuer
        .verify_response(Actor("test"), &serial, &third.nonce, &right, None)
        .unwrap_err();
    assert!(
        matches!(&refused, Error::Rejected(m) if m.contains("refused")),
        "{refused}"
    );
    // Bad input names what was wrong; an unknown id is not found.
    let unknown = issuer
        .verify_response(
            Actor("test"),
            &serial,
            &[7; 16],
            &ocra(&ik, "12345678"),
            None,
        )
        .unwrap_err();
    assert!(matches!(unknown, Error::NotFound(_)), "{unknown}");
    for (message, expires) in [(Some(" "), 300), (None, 5), (None, 100_000)] {
        let e = issuer
            .challenge(Actor("test"), &serial, message, expires)
            .unwrap_err();
        assert!(matches!(e, Error::Input(_)), "{e}");
    }
    // Wrong responses count toward the serial's limit like wrong codes:
    // two more lock it, for one-time codes too.
    let fourth = issuer.challenge(Actor("test"), &serial, None, 300).unwrap();
    let right = ocra(&ik, &fourth.question);
    for _ in 0..2 {
        issuer
            .verify_response(
                Actor("test"),
                &serial,
                &fourth.nonce,
                &other_than(&right),
                None,
            )
            .unwrap_err();
    }
    let locked = issuer
        .verify(Actor("test"), &serial, &totp(&ik, now()), None, None)
        .unwrap_err();
    assert!(matches!(locked, Error::Locked(_)), "{locked}");
}

fn a_signature_counts_once_for_exactly_the_transaction_shown(db: &Db) {
    let issuer = db.instance();
    let ik = activate(&issuer, "TSR0000011", None);
    let serial: Serial = "TSR0000011".parse().unwrap();
    let eur = Currency::new("EUR").unwrap();
    let payment = Payment {
        amount: eur.parse_amount("125.00").unwrap(),
        payee_name: "ACME GmbH".into(),
        payee_account: "DE89370400440532013000".into(),
        reference: "Invoice 42".into(),
    };
    let (made, rendered) = issuer
        .sign_request(Actor("test"), &serial, eur, vec![payment], 300, |text| {
            Ok(text.len())
        })
        .unwrap();
    assert_eq!(rendered, made.text.len());
    // The device opens what it scanned and shows that.
    let keys = TransactionKeys::derive(&serial, &ik);
    let shown = keys.open(&SignRequest::parse(&made.text).unwrap()).unwrap();
    assert_eq!(shown.payments[0].payee_name, "ACME GmbH");
    assert_eq!(eur.format(shown.total()), eur.format(12_500));

    // A response for another amount (what a tampered page would have
    // shown) does not verify.
    let mut tampered = shown.clone();
    tampered.payments[0].amount = eur.parse_amount("925.00").unwrap();
    let e = issuer
        .verify_signature(
            Actor("test"),
            &serial,
            Some(&made.nonce),
            keys.respond(&tampered).as_str(),
            None,
        )
        .unwrap_err();
    assert!(matches!(e, Error::Rejected(_)), "{e}");
    let response = keys.respond(&shown).to_string();
    let signed = issuer
        .verify_signature(Actor("test"), &serial, Some(&made.nonce), &response, None)
        .unwrap();
    assert_eq!(signed.nonce, made.nonce.to_vec());
    assert_eq!(
        signed.transaction.unwrap().payments[0].payee_name,
        "ACME GmbH"
    );
    // Once only, also when no id is given (the CLI's way).
    let again = issuer
        .verify_signature(Actor("test"), &serial, None, &response, None)
        .unwrap_err();
    assert!(matches!(again, Error::Replayed(_)), "{again}");

    // A render that fails stores nothing.
    let before = issuer.audit_log(Some(&serial), 100).unwrap().len();
    let failed = issuer.sign_request(
        Actor("test"),
        &serial,
        eur,
        vec![small_payment()],
        300,
        |_| -> Result<(), Error> { Err(Error::input("the image could not be drawn")) },
    );
    assert!(failed.is_err());
    assert_eq!(issuer.audit_log(Some(&serial), 100).unwrap().len(), before);
    // Only an active account signs.
    issuer.revoke(Actor("test"), &serial).unwrap();
    let e = issuer
        .sign_request(
            Actor("test"),
            &serial,
            eur,
            vec![small_payment()],
            300,
            |_| Ok(()),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
}

/// 1.00 to B.
fn small_payment() -> Payment {
    Payment {
        amount: 100,
        payee_name: "B".into(),
        payee_account: "DE89370400440532013000".into(),
        reference: String::new(),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
