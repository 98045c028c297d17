//! Typed errors at the gRPC edge for requests a client library would never
//! send: bytes that are not protobuf, a string field that is not UTF-8 (on
//! every method of the API), an id far longer than any account's. Each is the caller's mistake, so each
//! is `INVALID_ARGUMENT` or `NOT_FOUND` with our error code, never
//! `INTERNAL`, and the daemon keeps serving. (An over-long id is in
//! `grpc_e2e.rs`, which has the activation helpers.)

mod common;

use common::*;
use tessera_proto::v1 as pb;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Sends raw bytes as a request body and gives the answer's raw bytes:
/// the only way to put malformed protobuf on the wire.
#[derive(Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut as _;
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf as _;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// Calls `path` (`/tessera.v1.Service/Method`) with `body`; a streaming
/// method's first message or error.
async fn raw_call(
    d: &Daemon,
    path: &str,
    streaming: bool,
    body: Vec<u8>,
) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(d.channel().await);
    grpc.ready().await.expect("the channel is ready");
    let path = tonic::codegen::http::uri::PathAndQuery::try_from(path).unwrap();
    let request = tonic::Request::new(body);
    if streaming {
        let mut stream = grpc
            .server_streaming(request, path, RawCodec)
            .await?
            .into_inner();
        stream.message().await.map(Option::unwrap_or_default)
    } else {
        grpc.unary(request, path, RawCodec)
            .await
            .map(|r| r.into_inner())
    }
}

async fn raw_code_call(d: &Daemon, body: Vec<u8>) -> tonic::Status {
    raw_call(d, "/tessera.v1.Accounts/Code", false, body)
        .await
        .expect_err("a malformed request is refused")
}

/// Every method of the API, with its input message: (path, streaming,
/// input), from the compiled descriptors.
fn every_method() -> Vec<(String, bool, prost_types::DescriptorProto)> {
    use prost::Message;
    let fds = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let messages: std::collections::HashMap<String, prost_types::DescriptorProto> = fds
        .file
        .iter()
        .flat_map(|f| {
            f.message_type
                .iter()
                .map(move |m| (format!(".{}.{}", f.package(), m.name()), m.clone()))
        })
        .collect();
    let mut methods = Vec::new();
    for file in &fds.file {
        for service in &file.service {
            for m in &service.method {
                methods.push((
                    format!("/{}.{}/{}", file.package(), service.name(), m.name()),
                    m.server_streaming(),
                    messages[m.input_type()].clone(),
                ));
            }
        }
    }
    methods
}

/// Bytes that are not protobuf, and a string field that is not UTF-8,
/// sent to every method: each is INVALID_ARGUMENT with our code, and the
/// daemon serves on.
#[tokio::test]
async fn every_method_refuses_bytes_that_are_not_its_message() {
    let d = Daemon::start(FAST_CONFIG);
    let methods = every_method();
    assert!(methods.len() >= 25, "{} methods", methods.len());
    let mut strings = 0;
    for (path, streaming, input) in &methods {
        // Field 1, length-delimited, with a length that is not a varint.
        let garbage = [&[0x0a][..], &[0xff; 10]].concat();
        let status = raw_call(&d, path, *streaming, garbage)
            .await
            .expect_err(path);
        assert_eq!(status.code(), Code::InvalidArgument, "{path}: {status:?}");
        assert_eq!(error_code(&status), "ERROR_CODE_INVALID_ARGUMENT", "{path}");
        assert!(!status.message().is_empty(), "{path}");

        let string_field = input
            .field
            .iter()
            .find(|f| f.r#type() == prost_types::field_descriptor_proto::Type::String);
        if let Some(field) = string_field {
            let tag = (field.number() as u8) << 3 | 2;
            let status = raw_call(&d, path, *streaming, vec![tag, 2, 0xff, 0xfe])
                .await
                .expect_err(path);
            assert_eq!(status.code(), Code::InvalidArgument, "{path}: {status:?}");
            assert_eq!(error_code(&status), "ERROR_CODE_INVALID_ARGUMENT", "{path}");
            strings += 1;
        }
    }
    assert!(strings > 10, "only {strings} methods had a string field");
    println!(
        "figures: bad gRPC input: {} methods refused non-protobuf bytes, {strings} refused invalid UTF-8",
        methods.len()
    );
    let s = d.vault().await.status(pb::VaultStatusRequest {}).await;
    assert!(s.is_ok(), "{s:?}");
}

#[tokio::test]
async fn bytes_that_are_not_protobuf_are_an_invalid_argument() {
    let d = Daemon::start(FAST_CONFIG);
    // Field 1, length-delimited, claiming 100 bytes where 2 follow.
    let status = raw_code_call(&d, vec![0x0a, 100, b'x', b'y']).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(error_code(&status), "ERROR_CODE_INVALID_ARGUMENT");
    // Still serving.
    let s = d.vault().await.status(pb::VaultStatusRequest {}).await;
    assert!(s.is_ok(), "{s:?}");
}

#[tokio::test]
async fn a_string_that_is_not_utf8_is_an_invalid_argument() {
    let d = Daemon::start(FAST_CONFIG);
    // AccountRef { account: [0xff, 0xfe] }: valid protobuf, invalid UTF-8.
    let status = raw_code_call(&d, vec![0x0a, 2, 0xff, 0xfe]).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(error_code(&status), "ERROR_CODE_INVALID_ARGUMENT");
}
