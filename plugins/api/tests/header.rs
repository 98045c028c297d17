//! `include/tessera_plugin.h` is generated from `src/abi.rs` by cbindgen and
//! checked in, so C plugin authors have it without Rust. This test
//! regenerates it and fails when the checked-in copy differs. To update it:
//! `TESSERA_BLESS=1 cargo test -p tessera-plugin-api --test header`.

use std::path::Path;

#[test]
fn header_matches_the_abi() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/abi.rs"))
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");
    let path = dir.join("include/tessera_plugin.h");
    if std::env::var_os("TESSERA_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{} is out of date with src/abi.rs; regenerate it with \
         `TESSERA_BLESS=1 cargo test -p tessera-plugin-api --test header`",
        path.display()
    );
}
