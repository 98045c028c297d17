//! Requests that do not decode are the caller's fault: tonic answers them
//! `INTERNAL` ("failed to decode Protobuf message: …", also for invalid
//! UTF-8 in a string field) before any handler runs. This layer turns every
//! such answer into `INVALID_ARGUMENT` with the typed code in the
//! `tessera-error` metadata, as the handlers' own errors carry it.
//!
//! Which answers: `grpc-status` 13 in the response's headers (a
//! trailers-only answer, as tonic gives before a handler) and no
//! `tessera-error`. The service's own internal errors always carry
//! `tessera-error`, so they are left alone.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tessera_proto::v1 as pb;
use tonic::codegen::http::{self, HeaderValue};

/// The layer: `Server::builder().layer(DecodeErrorsLayer)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DecodeErrorsLayer;

impl<S> tower::Layer<S> for DecodeErrorsLayer {
    type Service = DecodeErrors<S>;
    fn layer(&self, inner: S) -> Self::Service {
        DecodeErrors(inner)
    }
}

#[derive(Clone, Debug)]
pub struct DecodeErrors<S>(S);

impl<S, B, R> tower::Service<http::Request<B>> for DecodeErrors<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let answer = self.0.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            retag(response.headers_mut());
            Ok(response)
        })
    }
}

/// `grpc-status` of `INTERNAL` / `INVALID_ARGUMENT`.
const INTERNAL: &str = "13";
const INVALID_ARGUMENT: &str = "3";

fn retag(headers: &mut http::HeaderMap) {
    let internal = headers
        .get("grpc-status")
        .is_some_and(|s| s.as_bytes() == INTERNAL.as_bytes());
    if !internal || headers.contains_key(pb::ERROR_CODE_METADATA) {
        return;
    }
    headers.insert("grpc-status", HeaderValue::from_static(INVALID_ARGUMENT));
    headers.insert(
        pb::ERROR_CODE_METADATA,
        HeaderValue::from_static(pb::ErrorCode::InvalidArgument.as_str_name()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_untyped_internal_answers_are_retagged() {
        let mut tonic_decode = http::HeaderMap::new();
        tonic_decode.insert("grpc-status", HeaderValue::from_static("13"));
        retag(&mut tonic_decode);
        assert_eq!(tonic_decode["grpc-status"], "3");
        assert_eq!(
            tonic_decode[pb::ERROR_CODE_METADATA],
            "ERROR_CODE_INVALID_ARGUMENT"
        );

        let mut ours = http::HeaderMap::new();
        ours.insert("grpc-status", HeaderValue::from_static("13"));
        ours.insert(
            pb::ERROR_CODE_METADATA,
            HeaderValue::from_static("ERROR_CODE_INTERNAL"),
        );
        retag(&mut ours);
        assert_eq!(ours["grpc-status"], "13");

        let mut other = http::HeaderMap::new();
        other.insert("grpc-status", HeaderValue::from_static("5"));
        retag(&mut other);
        assert_eq!(other["grpc-status"], "5");
        assert!(!other.contains_key(pb::ERROR_CODE_METADATA));
    }
}
