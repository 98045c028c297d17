//! The socket's connections, served one HTTP/2 connection per task.
//!
//! Hand-written rather than tonic's `Server::serve_with_incoming` for one
//! reason: a connection must be closable on its own. hyper and h2 read each
//! connection into buffers they reuse, so the bytes of its earlier requests
//! (the PIN of an `Unlock`, the secret of an activation) stay in a live
//! buffer for as long as the connection is open, out of reach of the
//! wiping allocator (`crate::memory`). When the vault is locked, every
//! connection is shut down gracefully (HTTP/2 GOAWAY: calls in flight,
//! the `Lock` itself included, finish first) as soon as it has been idle
//! for [`CLOSE_WHEN_IDLE`]; the buffers are freed and wiped, and clients
//! connect again on their next call (tonic's channels do so by
//! themselves; the CLI connects per command anyway).
//!
//! Why wait for idleness: a client that sends its next call while the
//! GOAWAY is on its way has that call cancelled by its HTTP/2 library
//! ("connection closed") without it ever reaching us, and tonic does not
//! retry it. Calls in quick succession (Lock, then Status) are the usual
//! case; closing only after a pause keeps them on the connection.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::codegen::http;
use tonic::transport::server::UdsConnectInfo;
use tower::ServiceExt;

/// What serves each request: the routes of every gRPC service, with the
/// layers of [`super`].
pub trait Routes:
    tower::Service<
        http::Request<Incoming>,
        Response = http::Response<tonic::body::Body>,
        Error = Infallible,
        Future: Send,
    > + Clone
    + Send
    + 'static
{
}

impl<S> Routes for S where
    S: tower::Service<
            http::Request<Incoming>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
            Future: Send,
        > + Clone
        + Send
        + 'static
{
}

/// How long a connection must have had no call under way before a lock
/// closes it.
pub const CLOSE_WHEN_IDLE: Duration = Duration::from_millis(250);

/// Accepts connections on `listener` until `shutdown`, closes each one
/// (gracefully) whenever `locks` changes, and at the end closes them all
/// and waits for them.
pub async fn serve(
    listener: UnixListener,
    routes: impl Routes,
    locks: watch::Receiver<u64>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stopping, stop) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {
                // The last client went: what the connections used goes
                // back to the system, so an idle daemon stays small.
                if connections.is_empty() {
                    crate::memory::give_back_freed();
                }
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: say so, and go on.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        connections.spawn(connection(
            stream,
            routes.clone(),
            locks.clone(),
            stop.clone(),
        ));
    }
    let _ = stopping.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Serves one connection; the peer's credentials go into every request's
/// extensions, where [`super::admit`] checks them.
async fn connection(
    stream: UnixStream,
    routes: impl Routes,
    mut locks: watch::Receiver<u64>,
    mut stop: watch::Receiver<bool>,
) {
    let info = UdsConnectInfo {
        peer_addr: stream.peer_addr().ok().map(Arc::new),
        peer_cred: stream.peer_cred().ok(),
    };
    let activity = Activity::default();
    let tracker = activity.clone();
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(info.clone());
        let call = tracker.start();
        let response = routes.clone().oneshot(request);
        async move {
            let response = response.await;
            drop(call);
            response
        }
    });
    let builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    locks.mark_unchanged();
    // Locked since this connection's last call: close it once idle.
    let mut close_when_idle = false;
    // The activity count at the last look.
    let mut seen = activity.events();
    loop {
        let idle = async {
            if close_when_idle {
                tokio::time::sleep(CLOSE_WHEN_IDLE).await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            done = &mut conn => {
                if let Err(e) = done {
                    tracing::debug!("a connection ended with an error: {e}");
                }
                break;
            }
            Ok(()) = locks.changed() => close_when_idle = true,
            Ok(()) = stop.changed() => conn.as_mut().graceful_shutdown(),
            () = idle => {
                let events = activity.events();
                let quiet = std::mem::replace(&mut seen, events) == events;
                if quiet && activity.under_way() == 0 {
                    conn.as_mut().graceful_shutdown();
                    close_when_idle = false;
                }
            }
        }
    }
}

/// The calls under way on one connection, and how many started or ended
/// so far (two equal counts: nothing happened in between).
#[derive(Clone, Default)]
struct Activity {
    under_way: Arc<AtomicUsize>,
    events: Arc<AtomicUsize>,
}

/// One call under way; it ends when dropped.
struct Call(Activity);

impl Activity {
    fn start(&self) -> Call {
        self.under_way.fetch_add(1, Ordering::SeqCst);
        self.events.fetch_add(1, Ordering::SeqCst);
        Call(self.clone())
    }

    fn under_way(&self) -> usize {
        self.under_way.load(Ordering::SeqCst)
    }

    fn events(&self) -> usize {
        self.events.load(Ordering::SeqCst)
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.0.under_way.fetch_sub(1, Ordering::SeqCst);
        self.0.events.fetch_add(1, Ordering::SeqCst);
    }
}
