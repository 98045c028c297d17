//! The named D-Bus errors: one per [`ErrorCode`], under
//! `org.tessera.Authenticator1.Error.`, carrying the service's message.

use crate::error::{ErrorCode, ServiceError};

/// The prefix of every error name.
pub const PREFIX: &str = "org.tessera.Authenticator1.Error";

/// An error of a D-Bus call. The variant's name is the error name's last
/// part (`VaultLocked` → `org.tessera.Authenticator1.Error.VaultLocked`).
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.tessera.Authenticator1.Error")]
pub enum Error {
    #[zbus(error)]
    ZBus(zbus::Error),
    InvalidArgument(String),
    InvalidPayload(String),
    InvalidImage(String),
    NotFound(String),
    VaultLocked(String),
    NoVault(String),
    WrongPin(String),
    PinDelayed(String),
    PinPolicy(String),
    InvalidEvent(String),
    ActivationEnded(String),
    AlreadyExists(String),
    PermissionDenied(String),
    Unsupported(String),
    Internal(String),
    PluginFailed(String),
    Policy(String),
    NoMatch(String),
    BiometricsUnavailable(String),
    Ambiguous(String),
    Busy(String),
    WrongPassword(String),
    VaultUnusable(String),
    Expired(String),
    Tpm(String),
}

/// Every code, for the tests that check names against the XML.
pub const ALL_CODES: [ErrorCode; 25] = [
    ErrorCode::InvalidArgument,
    ErrorCode::InvalidPayload,
    ErrorCode::InvalidImage,
    ErrorCode::NotFound,
    ErrorCode::VaultLocked,
    ErrorCode::NoVault,
    ErrorCode::WrongPin,
    ErrorCode::PinDelayed,
    ErrorCode::PinPolicy,
    ErrorCode::InvalidEvent,
    ErrorCode::ActivationEnded,
    ErrorCode::AlreadyExists,
    ErrorCode::PermissionDenied,
    ErrorCode::Unsupported,
    ErrorCode::Internal,
    ErrorCode::PluginFailed,
    ErrorCode::Policy,
    ErrorCode::NoMatch,
    ErrorCode::BiometricsUnavailable,
    ErrorCode::Ambiguous,
    ErrorCode::Busy,
    ErrorCode::WrongPassword,
    ErrorCode::VaultUnusable,
    ErrorCode::Expired,
    ErrorCode::Tpm,
];

/// The last part of the error name of `code`.
pub fn short_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidArgument => "InvalidArgument",
        ErrorCode::InvalidPayload => "InvalidPayload",
        ErrorCode::InvalidImage => "InvalidImage",
        ErrorCode::NotFound => "NotFound",
        ErrorCode::VaultLocked => "VaultLocked",
        ErrorCode::NoVault => "NoVault",
        ErrorCode::WrongPin => "WrongPin",
        ErrorCode::PinDelayed => "PinDelayed",
        ErrorCode::PinPolicy => "PinPolicy",
        ErrorCode::InvalidEvent => "InvalidEvent",
        ErrorCode::ActivationEnded => "ActivationEnded",
        ErrorCode::AlreadyExists => "AlreadyExists",
        ErrorCode::PermissionDenied => "PermissionDenied",
        ErrorCode::Unsupported => "Unsupported",
        ErrorCode::Internal => "Internal",
        ErrorCode::PluginFailed => "PluginFailed",
        ErrorCode::Policy => "Policy",
        ErrorCode::NoMatch => "NoMatch",
        ErrorCode::BiometricsUnavailable => "BiometricsUnavailable",
        ErrorCode::Ambiguous => "Ambiguous",
        ErrorCode::Busy => "Busy",
        ErrorCode::WrongPassword => "WrongPassword",
        ErrorCode::VaultUnusable => "VaultUnusable",
        ErrorCode::Expired => "Expired",
        ErrorCode::Tpm => "Tpm",
    }
}

/// The full error name of `code`.
pub fn name(code: ErrorCode) -> String {
    format!("{PREFIX}.{}", short_name(code))
}

pub(crate) fn from_service(e: ServiceError) -> Error {
    let m = e.message;
    match e.code {
        ErrorCode::InvalidArgument => Error::InvalidArgument(m),
        ErrorCode::InvalidPayload => Error::InvalidPayload(m),
        ErrorCode::InvalidImage => Error::InvalidImage(m),
        ErrorCode::NotFound => Error::NotFound(m),
        ErrorCode::VaultLocked => Error::VaultLocked(m),
        ErrorCode::NoVault => Error::NoVault(m),
        ErrorCode::WrongPin => Error::WrongPin(m),
        ErrorCode::PinDelayed => Error::PinDelayed(m),
        ErrorCode::PinPolicy => Error::PinPolicy(m),
        ErrorCode::InvalidEvent => Error::InvalidEvent(m),
        ErrorCode::ActivationEnded => Error::ActivationEnded(m),
        ErrorCode::AlreadyExists => Error::AlreadyExists(m),
        ErrorCode::PermissionDenied => Error::PermissionDenied(m),
        ErrorCode::Unsupported => Error::Unsupported(m),
        ErrorCode::Internal => Error::Internal(m),
        ErrorCode::PluginFailed => Error::PluginFailed(m),
        ErrorCode::Policy => Error::Policy(m),
        ErrorCode::NoMatch => Error::NoMatch(m),
        ErrorCode::BiometricsUnavailable => Error::BiometricsUnavailable(m),
        ErrorCode::Ambiguous => Error::Ambiguous(m),
        ErrorCode::Busy => Error::Busy(m),
        ErrorCode::WrongPassword => Error::WrongPassword(m),
        ErrorCode::VaultUnusable => Error::VaultUnusable(m),
        ErrorCode::Expired => Error::Expired(m),
        ErrorCode::Tpm => Error::Tpm(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::DBusError;

    #[test]
    fn each_code_has_its_named_error_and_the_xml_documents_it() {
        let xml = super::super::INTERFACE_XML;
        for code in ALL_CODES {
            let e = from_service(ServiceError::new(code, "what to do"));
            assert_eq!(e.name().as_str(), name(code));
            assert_eq!(e.description(), Some("what to do"));
            assert!(
                xml.contains(&format!("<doc:error name=\"{}\"", name(code))),
                "{} is not documented in the XML",
                name(code)
            );
        }
        // And the XML documents no error that does not exist.
        let documented = xml.matches("<doc:error name=\"").count();
        let unique: std::collections::HashSet<_> = xml
            .split("<doc:error name=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap())
            .collect();
        for n in &unique {
            assert!(
                ALL_CODES.iter().any(|c| name(*c) == *n),
                "the XML documents {n}, which the daemon never sends"
            );
        }
        assert!(documented >= ALL_CODES.len());
    }
}
