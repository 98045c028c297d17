//! `cargo bench -p tessera-core`: the hot paths of the protocol core.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera_core::activation::{self, ActivationCode, ActivationKey, Serial};
use tessera_core::otp::{Algorithm, totp};
use tessera_core::payload::{self, Form, TesseraPayload};

fn protocol_payload() -> TesseraPayload {
    let serial: Serial = "TSR0000001".parse().unwrap();
    let key = ActivationKey::from_bytes(core::array::from_fn(|i| i as u8));
    let mut p = TesseraPayload::new(serial.clone(), ActivationCode::new(&serial, &key));
    p.label = Some("alice@example.com".into());
    p.issuer = Some("Example Bank".into());
    p
}

fn benches(c: &mut Criterion) {
    let key = b"12345678901234567890";
    c.bench_function("totp_sha1_6_digits", |b| {
        b.iter(|| {
            totp(
                black_box(key),
                Algorithm::Sha1,
                black_box(1_111_111_109),
                30,
                6,
            )
        })
    });

    let p = protocol_payload();
    let tag = p.write(Form::Tag);
    let uri = p.write(Form::Uri);
    let otpauth = "otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example&algorithm=SHA1&digits=6&period=30";
    let migration = {
        let batch = match payload::parse(otpauth).unwrap() {
            payload::Payload::OtpAuth(a) => payload::MigrationBatch {
                accounts: vec![a.clone(), a],
                version: 1,
                batch_size: 1,
                batch_index: 0,
                batch_id: 7,
            },
            _ => unreachable!(),
        };
        payload::migration::write(&batch).unwrap()
    };
    let mut group = c.benchmark_group("payload_parse");
    for (name, text) in [
        ("tag", tag.as_str()),
        ("uri", uri.as_str()),
        ("otpauth", otpauth),
        ("migration_2_accounts", migration.as_str()),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| payload::parse(black_box(text)).unwrap())
        });
    }
    group.finish();

    let serial: Serial = "TSR0000001".parse().unwrap();
    let ak = ActivationKey::from_bytes(core::array::from_fn(|i| i as u8));
    let ik = activation::instance_key(&ak, &serial, 123_456_789, Algorithm::Sha1);
    c.bench_function("finalize_code", |b| {
        b.iter(|| activation::finalize_code(black_box(&ik), &serial, None))
    });
    c.bench_function("instance_key_sha1", |b| {
        b.iter(|| activation::instance_key(black_box(&ak), &serial, 123_456_789, Algorithm::Sha1))
    });
}

criterion_group!(core, benches);
criterion_main!(core);
