//! Tessera's daemon API: the messages and the gRPC client and server stubs
//! generated from `proto/tessera/v1/*.proto`.

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("tessera.v1");

    /// The metadata key carrying an [`ErrorCode`]'s name on a failed call.
    pub const ERROR_CODE_METADATA: &str = "tessera-error";

    /// The encoded `google.protobuf.FileDescriptorSet` of the API: every
    /// service, method and message, as compiled.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/tessera_v1_descriptor.bin"));
}
