use std::path::{Path, PathBuf};

use super::*;

#[test]
fn defaults_match_the_design() {
    let c = Config::parse("").unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.vault.auto_lock_minutes, 5);
    assert_eq!(c.pin.min_length, 4);
    assert_eq!(c.pin.free_attempts, 5);
    assert_eq!(c.pin.delay_seconds, 30);
    assert_eq!(c.activation.timeout_minutes, 10);
    assert!(c.accounts.otpauth);
    assert_eq!(c.accounts.algorithms, ["SHA1", "SHA256", "SHA512"]);
    assert_eq!(c.scanner.sources, ["image", "camera", "screen"]);
    assert!(c.check_keys().is_empty());
    assert!(c.check_combined().is_empty());
}

/// Every key of the schema has a value in the defaults (but the two
/// optional plugin keys), and nothing else does.
#[test]
fn keys_list_every_setting() {
    let table = toml::Value::try_from(Config::default()).unwrap();
    let mut listed: Vec<String> = Vec::new();
    for (section, keys) in table.as_table().unwrap() {
        assert!(SECTIONS.contains(&section.as_str()), "{section}");
        for key in keys.as_table().unwrap().keys() {
            listed.push(format!("{section}.{key}"));
        }
    }
    let mut expected: Vec<String> = KEYS
        .iter()
        .map(|k| k.key.to_owned())
        .filter(|k| !["plugins.folders", "plugins.allow", "backup.folder"].contains(&k.as_str()))
        .collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
}

#[test]
fn bad_files_name_the_line_column_and_what_is_allowed() {
    let cases: &[(&str, &str)] = &[
        (
            "[vault]\nauto_lock_minutes = 3\nfoo = 1\n",
            "line 3, column 1: `foo` is not a key of [vault]; its keys are: protection",
        ),
        (
            "[pin]\nmin_length = \"six\"\n",
            "line 2, column 14: pin.min_length must be a whole number from 1 to 64; not the text \"six\"",
        ),
        (
            "[pin]\nmin_length = 0\n",
            "line 2, column 14: pin.min_length must be a whole number from 1 to 64; not 0",
        ),
        (
            "[pin]\nmin_length = 6\n[pin]\n",
            "line 3, column 1: not valid TOML",
        ),
        (
            "[pinn]\nmin_length = 6\n",
            "line 1, column 2: `pinn` is not a section (did you mean [pin]?)",
        ),
        (
            "[accounts]\nalgorithms = [\"SHA1\", \"MD5\"]\n",
            "line 2, column 14: accounts.algorithms must be a list of names from: SHA1, SHA256, SHA512",
        ),
        (
            "[scanner]\nsources = [\"webcam\"]\n",
            "line 2, column 11: scanner.sources must be a list of names from: image, camera, screen",
        ),
        (
            "[vault]\nprotection = \"none\"\n",
            "line 2, column 14: vault.protection must be one of: pin, keyring, tpm, tpm+pin; not \"none\"",
        ),
        (
            "[issuers]\ntrusted = [\"ed25519:xx\"]\n",
            "line 2, column 11: issuers.trusted must be a list of issuer keys",
        ),
        (
            "locked = [\"pin.length\"]\n",
            "line 1, column 10: locked: \"pin.length\" is not a key",
        ),
        (
            "[vault]\nprotection = \"keyring\"\nallow_keyring = false\n",
            "line 2, column 1: vault.protection = \"keyring\" is not allowed",
        ),
        (
            "[vault]\nargon2_memory_kib = 8\nargon2_parallelism = 2\n",
            "vault.argon2_memory_kib must be at least 8 × argon2_parallelism",
        ),
        (
            "[plugins]\nfolders = [\"plugins\"]\n",
            "line 2, column 11: plugins.folders must be a list of folders",
        ),
        (
            "[plugins]\nallow = [{ name = \"Image\" }]\n",
            "entry 0: name \"Image\" is not a plugin name",
        ),
        (
            "[plugins]\nallow = [{ name = \"image\", sha256 = \"00\" }]\n",
            "entry 0: sha256 is not the file's SHA-256",
        ),
        (
            "[plugins]\nimage_timeout_seconds = 0\n",
            "plugins.image_timeout_seconds must be a whole number from 1 to 600; not 0",
        ),
        (
            "[notifications]\napproval_timeout_seconds = 1\n",
            "from 5 to 3600",
        ),
        (
            "[biometrics]\nmax_failures = 0\n",
            "biometrics.max_failures must be a whole number from 1 to 100",
        ),
    ];
    for (text, expected) in cases {
        let e = Config::parse(text).unwrap_err();
        assert!(
            e.contains(expected),
            "{text:?}\n  got: {e}\n  want: {expected}"
        );
    }
}

#[test]
fn plugin_settings() {
    let c = Config::parse(
        "[plugins]\nfolders = [\"/opt/tessera/plugins\", \"~/plugins\"]\n\
         allow = [{ name = \"image\", sha256 = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\" }, { name = \"camera\" }]\n",
    )
    .unwrap();
    let allow = c.plugins.allow.unwrap();
    assert_eq!(
        allow[1],
        AllowedPlugin {
            name: "camera".into(),
            sha256: None
        }
    );
    assert!(allow[0].sha256.is_some());
    let c = Config::parse("[plugins]\nallow = []\n").unwrap();
    assert_eq!(c.plugins.allow, Some(vec![]));
}

/// A folder tree standing for `/` plus a user's config folder.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn paths(&self) -> Paths {
        Paths::under(
            &self.dir.path().join("root"),
            Some(&self.dir.path().join("home")),
        )
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
}

const VENDOR: &str = "root/usr/share/tessera/tessera.toml";
const ADMIN: &str = "root/etc/tessera/tessera.toml";
const DROP_A: &str = "root/etc/tessera/tessera.d/10-a.toml";
const DROP_B: &str = "root/etc/tessera/tessera.d/20-b.toml";
const USER: &str = "home/tessera/tessera.toml";

/// Layering and locks, table-driven: the files, then the expected
/// `pin.min_length`, the file it came from (None: default), and the
/// warning expected (a substring), if any.
#[test]
fn layers_and_locks() {
    struct Case {
        name: &'static str,
        files: &'static [(&'static str, &'static str)],
        min_length: u32,
        origin: Option<&'static str>,
        warning: Option<&'static str>,
    }
    let cases = [
        Case {
            name: "no files: defaults",
            files: &[],
            min_length: 4,
            origin: None,
            warning: None,
        },
        Case {
            name: "vendor over defaults",
            files: &[(VENDOR, "[pin]\nmin_length = 5\n")],
            min_length: 5,
            origin: Some(VENDOR),
            warning: None,
        },
        Case {
            name: "admin over vendor",
            files: &[
                (VENDOR, "[pin]\nmin_length = 5\n"),
                (ADMIN, "[pin]\nmin_length = 6\n"),
            ],
            min_length: 6,
            origin: Some(ADMIN),
            warning: None,
        },
        Case {
            name: "drop-ins over tessera.toml, in name order",
            files: &[
                (ADMIN, "[pin]\nmin_length = 6\n"),
                (DROP_B, "[pin]\nmin_length = 8\n"),
                (DROP_A, "[pin]\nmin_length = 7\n"),
            ],
            min_length: 8,
            origin: Some(DROP_B),
            warning: None,
        },
        Case {
            name: "user over admin when not locked",
            files: &[
                (ADMIN, "[pin]\nmin_length = 6\n"),
                (USER, "[pin]\nmin_length = 9\n"),
            ],
            min_length: 9,
            origin: Some(USER),
            warning: None,
        },
        Case {
            name: "a locked key refuses the user's value, naming the locking file",
            files: &[
                (
                    ADMIN,
                    "locked = [\"pin.min_length\"]\n[pin]\nmin_length = 6\n",
                ),
                (USER, "[pin]\nmin_length = 9\n"),
            ],
            min_length: 6,
            origin: Some(ADMIN),
            warning: Some("pin.min_length is locked by "),
        },
        Case {
            name: "a lock in a drop-in locks the default",
            files: &[
                (DROP_A, "locked = [\"pin.min_length\"]\n"),
                (USER, "[pin]\nmin_length = 9\n"),
            ],
            min_length: 4,
            origin: None,
            warning: Some("10-a.toml (line 1)"),
        },
        Case {
            name: "a later admin file may change a locked key; it stays locked",
            files: &[
                (
                    ADMIN,
                    "locked = [\"pin.min_length\"]\n[pin]\nmin_length = 6\n",
                ),
                (DROP_A, "[pin]\nmin_length = 10\n"),
                (USER, "[pin]\nmin_length = 4\n"),
            ],
            min_length: 10,
            origin: Some(DROP_A),
            warning: Some("is locked by"),
        },
        Case {
            name: "a bad key of a user file is dropped; the rest applies",
            files: &[
                (ADMIN, "[pin]\nmin_length = 6\n"),
                (USER, "[pin]\nmin_length = 7\nbogus = 1\n"),
            ],
            min_length: 7,
            origin: Some(USER),
            warning: Some("line 3, column 1: `bogus` is not a key of [pin]"),
        },
        Case {
            name: "a user file may not lock",
            files: &[(
                USER,
                "locked = [\"pin.min_length\"]\n[pin]\nmin_length = 7\n",
            )],
            min_length: 7,
            origin: Some(USER),
            warning: Some("only administrator"),
        },
        Case {
            name: "a user value that does not combine with the admin's is ignored",
            files: &[
                (
                    ADMIN,
                    "[vault]\nallow_keyring = false\n[pin]\nmin_length = 6\n",
                ),
                (
                    USER,
                    "[vault]\nprotection = \"keyring\"\n[pin]\nmin_length = 7\n",
                ),
            ],
            min_length: 7,
            origin: Some(USER),
            warning: Some("vault.allow_keyring is false"),
        },
        Case {
            name: "files that are not *.toml in the drop-in folder are not read",
            files: &[
                (ADMIN, "[pin]\nmin_length = 6\n"),
                (
                    "root/etc/tessera/tessera.d/50.toml.dpkg-old",
                    "[pin]\nmin_length = 12\n",
                ),
            ],
            min_length: 6,
            origin: Some(ADMIN),
            warning: None,
        },
    ];
    for case in cases {
        let tree = Tree::new();
        for (rel, text) in case.files {
            tree.write(rel, text);
        }
        let c = load_paths(&tree.paths()).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(c.pin.min_length, case.min_length, "{}", case.name);
        let origin = c
            .provenance
            .origins
            .get("pin.min_length")
            .map(|o| o.path.clone());
        assert_eq!(origin, case.origin.map(|r| tree.path(r)), "{}", case.name);
        let warnings: Vec<String> = c
            .provenance
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect();
        match case.warning {
            Some(w) => assert!(
                warnings.len() == 1 && warnings[0].contains(w),
                "{}: {warnings:?}",
                case.name
            ),
            None => assert!(warnings.is_empty(), "{}: {warnings:?}", case.name),
        }
    }
}

#[test]
fn origins_name_the_line_and_locks_the_file() {
    let tree = Tree::new();
    tree.write(
        ADMIN,
        "# fleet\nlocked = [\"accounts.otpauth\"]\n\n[accounts]\notpauth = false\nmax = 3\n",
    );
    tree.write(USER, "[pin]\ndigits_only = true\n");
    let c = load_paths(&tree.paths()).unwrap();
    let o = &c.provenance.origins["accounts.max"];
    assert_eq!((o.layer, o.line), (Layer::Admin, 6));
    assert_eq!(o.to_string(), format!("{}:6", tree.path(ADMIN).display()));
    assert_eq!(c.provenance.origins["pin.digits_only"].layer, Layer::User);
    let lock = &c.provenance.locks["accounts.otpauth"];
    assert_eq!((lock.path.clone(), lock.line), (tree.path(ADMIN), 2));
    assert_eq!(
        c.provenance.files,
        vec![
            (Layer::Admin, tree.path(ADMIN)),
            (Layer::User, tree.path(USER))
        ]
    );
    assert_eq!(c.value_text("accounts.max").as_deref(), Some("3"));
    assert_eq!(
        c.value_text("scanner.sources").as_deref(),
        Some("[\"image\", \"camera\", \"screen\"]")
    );
    assert_eq!(c.value_text("plugins.allow"), None);
}

#[test]
fn a_bad_admin_file_stops_loading_with_its_place() {
    let tree = Tree::new();
    tree.write(ADMIN, "[pin]\nmin_length = 6\n");
    tree.write(DROP_A, "[pin]\nmin_lenght = 6\n");
    let e = load_paths(&tree.paths()).unwrap_err();
    assert_eq!(e.path(), Some(tree.path(DROP_A).as_path()));
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: line 2, column 1: `min_lenght` is not a key of [pin] (did you mean min_length?)",
            tree.path(DROP_A).display()
        )),
        "{msg}"
    );

    // A vendor file too.
    let tree = Tree::new();
    tree.write(VENDOR, "[vault]\nauto_lock_minutes = -1\n");
    let e = load_paths(&tree.paths()).unwrap_err();
    assert!(e.to_string().contains("line 2, column 21"), "{e}");
}

#[test]
fn single_file_mode_reads_only_that_file_and_requires_it() {
    let tree = Tree::new();
    let f = tree.write("only.toml", "[pin]\nmin_length = 7\n");
    tree.write(USER, "[pin]\nmin_length = 9\n");
    let c = load_paths(&Paths::single(&f)).unwrap();
    assert_eq!(c.pin.min_length, 7);
    assert_eq!(c.provenance.files, vec![(Layer::Admin, f)]);
    let e = load_paths(&Paths::single(Path::new("/nonexistent/tessera.toml"))).unwrap_err();
    assert!(matches!(e, ConfigError::File(_)), "{e}");
}

#[test]
fn check_file_checks_as_the_layer_given() {
    let tree = Tree::new();
    let f = tree.write(
        "policy.toml",
        "locked = [\"pin.min_length\"]\n[pin]\nmin_length = 6\n",
    );
    let c = check_file(&f, Layer::Admin).unwrap();
    assert!(c.provenance.locks.contains_key("pin.min_length"));
    let e = check_file(&f, Layer::User).unwrap_err();
    assert!(e.to_string().contains("only administrator"), "{e}");
}

/// The example policy shipped in examples/ (docs/admin.md) passes the
/// check an administrator runs before a rollout.
#[test]
fn the_example_policy_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join("examples/debian/tessera-policy/etc/tessera/tessera.d/50-policy.toml");
    let c = check_file(&path, Layer::Admin).unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.provenance.locks.is_empty(), "the example locks keys");
}

/// docs/admin.md documents every key (in its tables) and every section.
#[test]
fn the_admin_guide_documents_every_key() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/admin.md"))
            .unwrap();
    for k in KEYS {
        let row = format!("| `{}` |", k.key);
        let line = doc
            .lines()
            .find(|l| l.starts_with(&row))
            .unwrap_or_else(|| panic!("docs/admin.md has no row for {}", k.key));
        let restart = line.contains("| **restart** |");
        assert_eq!(restart, k.applies == Applies::Restart, "{}: {line}", k.key);
        if let Some(default) = Config::default().value_text(k.key) {
            assert!(
                line.contains(&format!("`{default}`")),
                "{}: default {default} not in {line}",
                k.key
            );
        }
    }
    for s in SECTIONS {
        assert!(doc.contains(&format!("### `[{s}]`")), "{s}");
    }
}

#[test]
fn protection_names_are_the_settings_spelling() {
    for p in [
        ProtectionConfig::Pin,
        ProtectionConfig::Keyring,
        ProtectionConfig::Tpm,
        ProtectionConfig::TpmPin,
    ] {
        let toml = format!("protection = \"{}\"", p.as_str());
        #[derive(serde::Deserialize)]
        struct V {
            protection: ProtectionConfig,
        }
        assert_eq!(toml::from_str::<V>(&toml).unwrap().protection, p);
    }
}
