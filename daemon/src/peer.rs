//! The one place that decides whether a caller may talk to the daemon: only
//! processes of the user the daemon runs as. Both IPC adapters ask here:
//! gRPC with the socket's `SO_PEERCRED`, D-Bus with the uid the bus reports
//! for the sender (`GetConnectionUnixUser`).

use crate::error::{ErrorCode, ServiceError};

/// The uid the daemon serves.
pub fn own_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Admits a caller with `peer_uid` (from SO_PEERCRED or the bus), or says
/// why not.
pub fn admit(peer_uid: Option<u32>) -> Result<(), ServiceError> {
    let own = own_uid();
    match peer_uid {
        Some(uid) if uid == own => Ok(()),
        Some(uid) => {
            tracing::warn!(peer_uid = uid, "refused a caller of another user");
            Err(ServiceError::new(
                ErrorCode::PermissionDenied,
                format!("tesserad serves only uid {own}; the caller is uid {uid}"),
            ))
        }
        None => Err(ServiceError::new(
            ErrorCode::PermissionDenied,
            "the caller's credentials are unknown; connect over the daemon's Unix socket \
             or through the session bus",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_uid_is_admitted() {
        assert!(admit(Some(own_uid())).is_ok());
        let e = admit(Some(own_uid().wrapping_add(1))).unwrap_err();
        assert_eq!(e.code, ErrorCode::PermissionDenied);
        assert!(e.message.contains("serves only uid"));
        assert_eq!(admit(None).unwrap_err().code, ErrorCode::PermissionDenied);
    }
}
