//! Compiles the API with protox (pure Rust), so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "tessera/v1/errors.proto",
        "tessera/v1/accounts.proto",
        "tessera/v1/vault.proto",
        "tessera/v1/activation.proto",
        "tessera/v1/plugins.proto",
        "tessera/v1/scanner.proto",
        "tessera/v1/config.proto",
        "tessera/v1/backup.proto",
        "tessera/v1/signing.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    // The descriptors themselves, for clients and tests that walk every
    // service and method (FILE_DESCRIPTOR_SET in lib.rs).
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("tessera_v1_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
