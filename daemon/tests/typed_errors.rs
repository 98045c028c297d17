//! Typed errors at the gRPC edge for requests a client library would never
//! send: bytes that are not protobuf, a string field that is not UTF-8, an
//! id far longer than any account's. Each is the caller's mistake, so each
//! is `INVALID_ARGUMENT` or `NOT_FOUND` with our error code, never
//! `INTERNAL`, and the daemon keeps serving. (An over-long id is in
//! `grpc_e2e.rs`, which has the activation helpers.)

mod common;

use common::*;
use tessera_proto::v1 as pb;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Sends raw bytes as a request body and decodes the answer as
/// `CodeResponse`: the only way to put malformed protobuf on the wire.
#[derive(Default)]
struct RawCodec;

struct RawEncoder;
struct ResponseDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut as _;
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = pb::CodeResponse;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut DecodeBuf<'_>,
    ) -> Result<Option<pb::CodeResponse>, tonic::Status> {
        use prost::Message;
        pb::CodeResponse::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = pb::CodeResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

async fn raw_code_call(d: &Daemon, body: Vec<u8>) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(d.channel().await);
    grpc.ready().await.expect("the channel is ready");
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/tessera.v1.Accounts/Code");
    grpc.unary(tonic::Request::new(body), path, RawCodec)
        .await
        .expect_err("a malformed request is refused")
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
