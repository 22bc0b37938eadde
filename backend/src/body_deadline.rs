//! A request body that must arrive whole within a set time after its head.
//!
//! A timeout on each read would not do: a client sending a byte a second never leaves one
//! read waiting long, and holds the connection for as long as its body lasts. This bounds
//! the whole body, from the moment its head was read.

use std::error::Error;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::BoxError;
use axum::body::Body;
use hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use tokio::time::{Sleep, sleep};

/// A body that fails with [`BodyTimedOut`] once its time is up.
#[pin_project::pin_project]
struct DeadlineBody {
    /// The body as the connection receives it.
    #[pin]
    inner: Incoming,
    /// When the body's time is up, set once when the head was read.
    #[pin]
    deadline: Sleep,
}

/// The error a body that came too slowly ends with; handlers answer it with 408.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

/// The request's body, bounded to arrive within `within`. A request without a body (every
/// GET, the WebSocket upgrade) gets no timer.
pub fn limit(body: Incoming, within: Duration) -> Body {
    if body.is_end_stream() {
        Body::new(body)
    } else {
        Body::new(DeadlineBody {
            inner: body,
            deadline: sleep(within),
        })
    }
}

/// Whether reading a body failed because its time was up (looked for along the error's
/// sources, where axum's rejections keep it).
pub fn timed_out(err: &(dyn Error + 'static)) -> bool {
    std::iter::successors(Some(err), |&err| err.source()).any(|err| err.is::<BodyTimedOut>())
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(BoxError::from)));
        }
        ready!(this.deadline.poll(cx));
        Poll::Ready(Some(Err(BodyTimedOut.into())))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
