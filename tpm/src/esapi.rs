//! The TPM calls, through tss-esapi 7 (ESAPI). Every function opens its own
//! context and drops it at the end, which flushes the transient objects and
//! sessions it made (swtpm without a resource manager keeps them otherwise).

use std::str::FromStr;
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};
use tss_esapi::attributes::{ObjectAttributesBuilder, SessionAttributesBuilder};
use tss_esapi::constants::response_code::Tss2ResponseCodeKind as Rc;
use tss_esapi::constants::{CapabilityType, PropertyTag, SessionType};
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{
    Auth, CapabilityData, Digest, EccParameter, EccPoint, KeyedHashScheme, PcrSelectionList,
    PcrSelectionListBuilder, PcrSlot, Private, Public, PublicBuilder, PublicEccParametersBuilder,
    PublicKeyedHashParameters, SensitiveData, SymmetricDefinition, SymmetricDefinitionObject,
};
use tss_esapi::tcti_ldr::TctiNameConf;
use tss_esapi::traits::{Marshall, UnMarshall};
use tss_esapi::{Context, Error};
use zeroize::Zeroizing;

use crate::{Pcrs, Sealed, Secret, TpmError, TpmStatus};

/// One conversation with the TPM at a time in this process.
static TPM: Mutex<()> = Mutex::new(());

/// `TPMA_PERMANENT` bits (TPM 2.0 Part 2, 8.6).
const OWNER_AUTH_SET: u32 = 1 << 0;
const IN_LOCKOUT: u32 = 1 << 9;

pub(crate) fn seal(
    tcti: &str,
    secret: &Secret,
    auth: &Secret,
    pcrs: &Pcrs,
) -> Result<Sealed, TpmError> {
    let _one = TPM.lock().unwrap_or_else(|p| p.into_inner());
    let mut ctx = connect(tcti)?;
    let srk = storage_key(&mut ctx)?;
    let (pcr_values, pcr_digest) = read_pcrs(&mut ctx, pcrs)?;
    let policy = trial_policy(&mut ctx, pcrs, &pcr_digest)?;

    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_admin_with_policy(true)
        // Only the policy authorises use; wrong authValues are counted.
        .with_user_with_auth(false)
        .with_no_da(false)
        .build()
        .map_err(failed)?;
    let template = PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::KeyedHash)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_auth_policy(Digest::try_from(policy.to_vec()).map_err(failed)?)
        .with_keyed_hash_parameters(PublicKeyedHashParameters::new(KeyedHashScheme::Null))
        .with_keyed_hash_unique_identifier(Digest::default())
        .build()
        .map_err(failed)?;

    // The authValue and the secret travel in TPM2B_SENSITIVE_CREATE, the
    // command's first parameter: a session salted with the SRK encrypts it.
    let session = salted_session(&mut ctx, srk, SessionType::Hmac, true)?;
    let created = ctx
        .execute_with_session(Some(session), |ctx| {
            ctx.create(
                srk,
                template,
                Some(Auth::try_from(auth.to_vec())?),
                Some(SensitiveData::try_from(secret.to_vec())?),
                None,
                None,
            )
        })
        .map_err(|e| tpm_error(&mut ctx, e))?;
    Ok(Sealed {
        public: created.out_public.marshall().map_err(failed)?,
        private: created.out_private.value().to_vec(),
        pcrs: pcrs.clone(),
        pcr_values,
        policy,
    })
}

pub(crate) fn unseal(tcti: &str, sealed: &Sealed, auth: &Secret) -> Result<Secret, TpmError> {
    let _one = TPM.lock().unwrap_or_else(|p| p.into_inner());
    let mut ctx = connect(tcti)?;
    let srk = storage_key(&mut ctx)?;
    let object = load(&mut ctx, srk, sealed)?;

    let session = salted_session(&mut ctx, srk, SessionType::Policy, false)?;
    let policy = PolicySession::try_from(session).map_err(failed)?;
    if !sealed.pcrs.is_empty() {
        // An empty digest: the TPM takes the PCRs' current values, and the
        // session's digest only matches the object's policy if they are the
        // values it was sealed with.
        ctx.policy_pcr(policy, Digest::default(), selection(&sealed.pcrs)?)
            .map_err(|e| tpm_error(&mut ctx, e))?;
    }
    ctx.policy_auth_value(policy)
        .map_err(|e| tpm_error(&mut ctx, e))?;
    ctx.tr_set_auth(
        object.into(),
        Auth::try_from(auth.to_vec()).map_err(failed)?,
    )
    .map_err(failed)?;
    let unsealed = ctx.execute_with_session(Some(session), |ctx| ctx.unseal(object.into()));
    match unsealed {
        Ok(data) => {
            let data = Zeroizing::new(data.value().to_vec());
            let mut out = Secret::default();
            if data.len() != out.len() {
                return Err(TpmError::NotLoadable(format!(
                    "it holds {} bytes, not 32",
                    data.len()
                )));
            }
            out.copy_from_slice(&data);
            Ok(out)
        }
        Err(e) if kind(e) == Some(Rc::PolicyFail) => {
            let changed = changed_with(&mut ctx, sealed)?;
            if changed.is_empty() {
                Err(TpmError::Failed(
                    "the policy does not match, though the bound PCRs hold the values they \
                     were sealed with"
                        .into(),
                ))
            } else {
                Err(TpmError::PcrChanged { pcrs: changed })
            }
        }
        Err(e) => Err(tpm_error(&mut ctx, e)),
    }
}

pub(crate) fn changed_pcrs(tcti: &str, sealed: &Sealed) -> Result<Vec<u8>, TpmError> {
    let _one = TPM.lock().unwrap_or_else(|p| p.into_inner());
    let mut ctx = connect(tcti)?;
    changed_with(&mut ctx, sealed)
}

pub(crate) fn status(tcti: &str) -> Result<TpmStatus, TpmError> {
    let _one = TPM.lock().unwrap_or_else(|p| p.into_inner());
    let mut ctx = connect(tcti)?;
    let manufacturer = property(&mut ctx, PropertyTag::Manufacturer)?.unwrap_or(0);
    let permanent = property(&mut ctx, PropertyTag::Permanent)?.unwrap_or(0);
    Ok(TpmStatus {
        tcti: tcti.to_owned(),
        manufacturer: String::from_utf8_lossy(&manufacturer.to_be_bytes())
            .trim_end_matches(['\0', ' '])
            .to_owned(),
        failed_tries: property(&mut ctx, PropertyTag::LockoutCounter)?.unwrap_or(0),
        max_tries: property(&mut ctx, PropertyTag::MaxAuthFail)?.unwrap_or(0),
        recovery_seconds: property(&mut ctx, PropertyTag::LockoutInterval)?.unwrap_or(0),
        in_lockout: permanent & IN_LOCKOUT != 0,
        owner_password: permanent & OWNER_AUTH_SET != 0,
    })
}

// ---- the parts ----

fn connect(tcti: &str) -> Result<Context, TpmError> {
    let unavailable = |reason: String| TpmError::Unavailable {
        tcti: tcti.to_owned(),
        reason,
    };
    let conf = TctiNameConf::from_str(tcti).map_err(|_| {
        unavailable(
            "not a TCTI this build knows (device:PATH, swtpm:host=H,port=P or mssim:…)".into(),
        )
    })?;
    if let TctiNameConf::Device(_) = conf {
        let path = tcti.strip_prefix("device:").unwrap_or("/dev/tpm0");
        if !std::path::Path::new(path).exists() {
            return Err(unavailable(format!("{path} does not exist")));
        }
    }
    Context::new(conf).map_err(|e| unavailable(e.to_string()))
}

/// The TCG's standard ECC P-256 storage key template ("TCG TPM v2.0
/// Provisioning Guidance", the SRK): the same key each time it is made.
fn storage_key(ctx: &mut Context) -> Result<KeyHandle, TpmError> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_no_da(true)
        .with_restricted(true)
        .with_decrypt(true)
        .build()
        .map_err(failed)?;
    let zero = EccParameter::try_from(vec![0u8; 32]).map_err(failed)?;
    let template = PublicBuilder::new()
        .with_public_algorithm(PublicAlgorithm::Ecc)
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes)
        .with_ecc_parameters(
            PublicEccParametersBuilder::new_restricted_decryption_key(
                SymmetricDefinitionObject::AES_128_CFB,
                EccCurve::NistP256,
            )
            .build()
            .map_err(failed)?,
        )
        .with_ecc_unique_identifier(EccPoint::new(zero.clone(), zero))
        .build()
        .map_err(failed)?;
    ctx.execute_with_nullauth_session(|ctx| {
        ctx.create_primary(Hierarchy::Owner, template, None, None, None, None)
    })
    .map(|r| r.key_handle)
    .map_err(|e| match kind(e) {
        Some(Rc::BadAuth | Rc::AuthFail) => TpmError::OwnerPassword,
        _ => tpm_error(ctx, e),
    })
}

fn load(ctx: &mut Context, srk: KeyHandle, sealed: &Sealed) -> Result<KeyHandle, TpmError> {
    let public = Public::unmarshall(&sealed.public)
        .map_err(|_| TpmError::NotLoadable("its public part does not parse".into()))?;
    let private = Private::try_from(sealed.private.clone())
        .map_err(|_| TpmError::NotLoadable("its private part is too long".into()))?;
    ctx.execute_with_nullauth_session(|ctx| ctx.load(srk, private, public))
        .map_err(|e| match kind(e) {
            Some(Rc::Lockout) => tpm_error(ctx, e),
            _ => TpmError::NotLoadable(e.to_string()),
        })
}

/// A session salted with the SRK (ECDH to its public key), AES-128-CFB
/// parameter encryption of the command (`decrypt`, when its first parameter
/// is secret) and of the response (`encrypt`).
fn salted_session(
    ctx: &mut Context,
    srk: KeyHandle,
    kind: SessionType,
    decrypt: bool,
) -> Result<AuthSession, TpmError> {
    let session = ctx
        .start_auth_session(
            Some(srk),
            None,
            None,
            kind,
            SymmetricDefinition::AES_128_CFB,
            HashingAlgorithm::Sha256,
        )
        .map_err(|e| tpm_error(ctx, e))?
        .ok_or_else(|| TpmError::Failed("the TPM gave no session".into()))?;
    let (attributes, mask) = SessionAttributesBuilder::new()
        .with_continue_session(true)
        .with_decrypt(decrypt)
        .with_encrypt(true)
        .build();
    ctx.tr_sess_set_attributes(session, attributes, mask)
        .map_err(failed)?;
    Ok(session)
}

/// `PolicyPCR` (when there are PCRs) then `PolicyAuthValue`, in a trial
/// session: the digest the object's `authPolicy` gets.
fn trial_policy(ctx: &mut Context, pcrs: &Pcrs, pcr_digest: &[u8]) -> Result<[u8; 32], TpmError> {
    let trial = ctx
        .start_auth_session(
            None,
            None,
            None,
            SessionType::Trial,
            SymmetricDefinition::AES_128_CFB,
            HashingAlgorithm::Sha256,
        )
        .map_err(|e| tpm_error(ctx, e))?
        .ok_or_else(|| TpmError::Failed("the TPM gave no trial session".into()))?;
    let trial = PolicySession::try_from(trial).map_err(failed)?;
    if !pcrs.is_empty() {
        ctx.policy_pcr(
            trial,
            Digest::try_from(pcr_digest.to_vec()).map_err(failed)?,
            selection(pcrs)?,
        )
        .map_err(|e| tpm_error(ctx, e))?;
    }
    ctx.policy_auth_value(trial)
        .map_err(|e| tpm_error(ctx, e))?;
    let digest = ctx.policy_get_digest(trial).map_err(failed)?;
    <[u8; 32]>::try_from(digest.value())
        .map_err(|_| TpmError::Failed("the policy digest is not 32 bytes".into()))
}

/// The SHA-256 values of `pcrs`, in order, and the digest of their
/// concatenation (PolicyPCR's `pcrDigest`).
fn read_pcrs(ctx: &mut Context, pcrs: &Pcrs) -> Result<(Vec<[u8; 32]>, Vec<u8>), TpmError> {
    let mut values = Vec::with_capacity(pcrs.numbers().len());
    for &n in pcrs.numbers() {
        let one = selection(&Pcrs::new(&[u32::from(n)]).expect("a PCR of a selection"))?;
        let (_, _, digests) = ctx
            .execute_without_session(|ctx| ctx.pcr_read(one))
            .map_err(|e| tpm_error(ctx, e))?;
        let value = digests
            .value()
            .first()
            .and_then(|d| <[u8; 32]>::try_from(d.value()).ok())
            .ok_or_else(|| TpmError::Failed(format!("the TPM has no SHA-256 value for PCR {n}")))?;
        values.push(value);
    }
    let mut hash = Sha256::new();
    for v in &values {
        hash.update(v);
    }
    Ok((values, hash.finalize().to_vec()))
}

fn changed_with(ctx: &mut Context, sealed: &Sealed) -> Result<Vec<u8>, TpmError> {
    let (now, _) = read_pcrs(ctx, &sealed.pcrs)?;
    Ok(sealed
        .pcrs
        .numbers()
        .iter()
        .zip(now.iter().zip(&sealed.pcr_values))
        .filter(|(_, (a, b))| a != b)
        .map(|(n, _)| *n)
        .collect())
}

fn selection(pcrs: &Pcrs) -> Result<PcrSelectionList, TpmError> {
    let slots = pcrs
        .numbers()
        .iter()
        .map(|&n| PcrSlot::try_from(1u32 << n).map_err(failed))
        .collect::<Result<Vec<_>, _>>()?;
    PcrSelectionListBuilder::new()
        .with_selection(HashingAlgorithm::Sha256, &slots)
        .build()
        .map_err(failed)
}

fn property(ctx: &mut Context, tag: PropertyTag) -> Result<Option<u32>, TpmError> {
    // Not `Context::get_tpm_property`: it caches, and the lock-out counter
    // changes.
    let (data, _) = ctx
        .get_capability(CapabilityType::TpmProperties, tag.into(), 1)
        .map_err(|e| tpm_error(ctx, e))?;
    Ok(match data {
        CapabilityData::TpmProperties(list) => list.find(tag).map(|p| p.value()),
        _ => None,
    })
}

fn kind(e: Error) -> Option<Rc> {
    match e {
        Error::Tss2Error(rc) => rc.kind(),
        Error::WrapperError(_) => None,
    }
}

/// A TPM failure as one of ours; a wrong authValue and the lock-out read
/// the counters for the message.
fn tpm_error(ctx: &mut Context, e: Error) -> TpmError {
    match kind(e) {
        Some(Rc::AuthFail | Rc::BadAuth) => TpmError::WrongAuth {
            failed_tries: property(ctx, PropertyTag::LockoutCounter).ok().flatten(),
            max_tries: property(ctx, PropertyTag::MaxAuthFail).ok().flatten(),
        },
        Some(Rc::Lockout) => TpmError::Lockout {
            recovery_seconds: property(ctx, PropertyTag::LockoutInterval).ok().flatten(),
        },
        _ => TpmError::Failed(e.to_string()),
    }
}

fn failed(e: Error) -> TpmError {
    TpmError::Failed(e.to_string())
}
