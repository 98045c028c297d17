//! Opening one plugin library and reading its descriptor, on a thread of its
//! own (a library's constructors or entry function may hang).

use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
use tessera_plugin_api::abi::*;
use tessera_plugin_api::{valid_name, valid_version};

use crate::{PluginKind, ScannerInput};

/// A scanner's `scan` function.
pub(crate) type ScanFn =
    unsafe extern "C" fn(*const TesseraScanRequest, *const TesseraScanSink) -> i32;

/// A biometric plugin's functions, copied from its static table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BiometricFns {
    pub availability: unsafe extern "C" fn(
        *const TesseraBiometricRequest,
        *const TesseraBiometricEvents,
        *mut TesseraBiometricInfo,
    ) -> i32,
    pub enroll:
        unsafe extern "C" fn(*const TesseraBiometricRequest, *const TesseraBiometricEvents) -> i32,
    pub verify:
        unsafe extern "C" fn(*const TesseraBiometricRequest, *const TesseraBiometricEvents) -> i32,
    pub cancel: unsafe extern "C" fn(u64),
}

/// What a loaded plugin told about itself, copied and checked.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    pub scanner: Option<(ScannerInput, ScanFn)>,
    pub biometric: Option<BiometricFns>,
}

/// Loads `path` within `timeout`. A library that is loaded is never
/// unloaded: code of a plugin may still run on an abandoned thread, and Rust
/// libraries with thread-local destructors crash when unloaded.
pub(crate) fn load(path: &Path, timeout: Duration) -> Result<Loaded, String> {
    let (tx, rx) = mpsc::channel();
    let owned: PathBuf = path.to_owned();
    std::thread::Builder::new()
        .name("tessera-plugin-load".into())
        .spawn(move || {
            let _ = tx.send(load_now(&owned));
        })
        .map_err(|e| format!("cannot start a thread to load it: {e}"))?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "loading it took longer than {} ms; abandoned",
            timeout.as_millis()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err("loading it crashed the loader thread".to_owned())
        }
    }
}

fn load_now(path: &Path) -> Result<Loaded, String> {
    // SAFETY: loading runs the library's constructors; the file passed the
    // ownership and permission checks, which is all that can be checked.
    // RTLD_NOW: a missing symbol fails here, not in a later call.
    let library = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
        .map_err(|e| format!("cannot be loaded: {e}"))?;
    let library: &'static Library = Box::leak(Box::new(library));
    // SAFETY: the symbol's type is the ABI's entry type; a library that
    // exports something else under this name breaks the ABI.
    let entry: TesseraPluginEntry =
        unsafe { library.get::<TesseraPluginEntry>(c"tessera_plugin_entry") }
            .map(|symbol| *symbol)
            .map_err(|_| "exports no `tessera_plugin_entry` function".to_owned())?;
    // SAFETY: the ABI's entry function; the library stays loaded for ever.
    let descriptor = unsafe { entry(TESSERA_PLUGIN_ABI_VERSION) };
    // SAFETY: a non-NULL, aligned descriptor pointer is valid static data
    // per the ABI; NULL and misaligned pointers are refused first.
    unsafe { read_descriptor(descriptor) }
}

/// Reads a descriptor: the ABI version first, the rest only when it matches.
///
/// # Safety
///
/// `descriptor` is NULL, misaligned, or points to a readable `u32` followed,
/// when that is an ABI version the host speaks, by the rest of a `TesseraPlugin`.
pub(crate) unsafe fn read_descriptor(descriptor: *const TesseraPlugin) -> Result<Loaded, String> {
    if descriptor.is_null() {
        return Err("its entry function returned no plugin (it could not start)".to_owned());
    }
    if !descriptor.is_aligned() {
        return Err("its entry function returned a misaligned pointer".to_owned());
    }
    // SAFETY: the caller's contract; abi_version is the first field.
    let abi_version = unsafe { descriptor.cast::<u32>().read() };
    if !(TESSERA_PLUGIN_ABI_OLDEST..=TESSERA_PLUGIN_ABI_VERSION).contains(&abi_version) {
        return Err(format!(
            "it was built for plugin ABI version {abi_version}; this tesserad speaks versions \
             {TESSERA_PLUGIN_ABI_OLDEST} to {TESSERA_PLUGIN_ABI_VERSION}"
        ));
    }
    // SAFETY: the caller's contract.
    let d = unsafe { &*descriptor };
    // SAFETY: the ABI's NUL-terminated static strings; reading stops at the
    // NUL or after the limit.
    let name = unsafe { read_c_str(d.name, TESSERA_MAX_NAME_BYTES) }
        .map_err(|e| format!("its name {e}"))?;
    if !valid_name(&name) {
        return Err(format!(
            "its name {name:?} is not 1 to {TESSERA_MAX_NAME_BYTES} bytes of [a-z0-9._-]"
        ));
    }
    // SAFETY: as above.
    let version = unsafe { read_c_str(d.version, TESSERA_MAX_VERSION_BYTES) }
        .map_err(|e| format!("its version {e}"))?;
    if !valid_version(&version) {
        return Err(format!(
            "its version {version:?} is not 1 to {TESSERA_MAX_VERSION_BYTES} bytes of printable ASCII"
        ));
    }
    let mut biometric = None;
    let (kind, scanner) = match d.kind {
        TESSERA_PLUGIN_KIND_SCANNER => {
            if d.scanner.is_null() || !d.scanner.is_aligned() {
                return Err("it is a scanner without a valid scanner table".to_owned());
            }
            // SAFETY: non-NULL and aligned, static per the ABI.
            let table = unsafe { &*d.scanner };
            let input = match table.input {
                TESSERA_SCANNER_INPUT_IMAGE => ScannerInput::Image,
                TESSERA_SCANNER_INPUT_CAPTURE => ScannerInput::Capture,
                other => return Err(format!("its scanner input {other} is unknown")),
            };
            let scan = table
                .scan
                .ok_or_else(|| "its scanner table has no scan function".to_owned())?;
            (PluginKind::Scanner, Some((input, scan as ScanFn)))
        }
        TESSERA_PLUGIN_KIND_BIOMETRIC => {
            if d.biometric.is_null() || !d.biometric.is_aligned() {
                return Err("it is a biometric plugin without a valid biometric table".to_owned());
            }
            // SAFETY: non-NULL and aligned, static per the ABI.
            let table = unsafe { &*d.biometric };
            let missing = |f: &str| format!("its biometric table has no {f} function");
            biometric = Some(BiometricFns {
                availability: table.availability.ok_or_else(|| missing("availability"))?,
                enroll: table.enroll.ok_or_else(|| missing("enroll"))?,
                verify: table.verify.ok_or_else(|| missing("verify"))?,
                cancel: table.cancel.ok_or_else(|| missing("cancel"))?,
            });
            (PluginKind::Biometric, None)
        }
        other => return Err(format!("its kind {other} is unknown")),
    };
    Ok(Loaded {
        name,
        version,
        kind,
        scanner,
        biometric,
    })
}

/// Copies a NUL-terminated UTF-8 string of at most `max` bytes.
///
/// # Safety
///
/// `ptr` is NULL or readable up to its NUL or `max + 1` bytes, whichever is first.
unsafe fn read_c_str(ptr: *const c_char, max: usize) -> Result<String, String> {
    if ptr.is_null() {
        return Err("is missing (NULL)".to_owned());
    }
    let mut bytes = Vec::new();
    loop {
        // SAFETY: the caller's contract: no byte past the NUL or the limit is read.
        let b = unsafe { ptr.add(bytes.len()).cast::<u8>().read() };
        if b == 0 {
            break;
        }
        if bytes.len() == max {
            return Err(format!("is longer than {max} bytes or not terminated"));
        }
        bytes.push(b);
    }
    String::from_utf8(bytes).map_err(|_| "is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr::null;

    unsafe extern "C" fn scan(_: *const TesseraScanRequest, _: *const TesseraScanSink) -> i32 {
        TESSERA_STATUS_NOT_FOUND
    }

    fn table() -> &'static TesseraScanner {
        Box::leak(Box::new(TesseraScanner {
            input: TESSERA_SCANNER_INPUT_IMAGE,
            scan: Some(scan),
        }))
    }

    fn plugin(name: &'static [u8], version: &'static [u8]) -> TesseraPlugin {
        TesseraPlugin {
            abi_version: TESSERA_PLUGIN_ABI_VERSION,
            kind: TESSERA_PLUGIN_KIND_SCANNER,
            name: name.as_ptr().cast(),
            version: version.as_ptr().cast(),
            scanner: table(),
            biometric: null(),
        }
    }

    fn read(p: &TesseraPlugin) -> Result<Loaded, String> {
        // SAFETY: a valid descriptor built above.
        unsafe { read_descriptor(p) }
    }

    #[test]
    fn reads_a_good_descriptor() {
        let loaded = read(&plugin(b"good\0", b"1.0\0")).unwrap();
        assert_eq!(
            (loaded.name.as_str(), loaded.version.as_str()),
            ("good", "1.0")
        );
        assert_eq!(loaded.kind, PluginKind::Scanner);
        assert_eq!(loaded.scanner.unwrap().0, ScannerInput::Image);
    }

    #[test]
    fn refuses_bad_descriptors() {
        // SAFETY: NULL is allowed by the contract.
        assert!(
            unsafe { read_descriptor(null()) }
                .unwrap_err()
                .contains("no plugin")
        );
        let mut p = plugin(b"good\0", b"1.0\0");
        p.abi_version = 7;
        assert!(
            read(&p)
                .unwrap_err()
                .contains("ABI version 7; this tesserad speaks versions 1 to 2")
        );
        p.abi_version = 0;
        assert!(read(&p).unwrap_err().contains("ABI version 0"));
        // A version-1 plugin still loads: version 2 only added to the sink's end.
        p.abi_version = 1;
        assert!(read(&p).is_ok());
        let long = Box::leak(vec![b'a'; 200].into_boxed_slice());
        long[199] = 0;
        assert!(
            read(&plugin(long, b"1\0"))
                .unwrap_err()
                .contains("longer than 64")
        );
        assert!(
            read(&plugin(b"Bad Name\0", b"1\0"))
                .unwrap_err()
                .contains("[a-z0-9._-]")
        );
        assert!(
            read(&plugin(b"ok\0", b"\xff\xfe\0"))
                .unwrap_err()
                .contains("not UTF-8")
        );
        assert!(
            read(&plugin(b"ok\0", b"\0"))
                .unwrap_err()
                .contains("printable")
        );
        let mut p = plugin(b"ok\0", b"1\0");
        p.name = null();
        assert!(read(&p).unwrap_err().contains("NULL"));
        let mut p = plugin(b"ok\0", b"1\0");
        p.kind = 9;
        assert!(read(&p).unwrap_err().contains("kind 9"));
        let mut p = plugin(b"ok\0", b"1\0");
        p.scanner = null();
        assert!(read(&p).unwrap_err().contains("scanner table"));
        let mut p = plugin(b"ok\0", b"1\0");
        p.scanner = Box::leak(Box::new(TesseraScanner {
            input: 3,
            scan: None,
        }));
        assert!(read(&p).unwrap_err().contains("input 3"));
    }
}
