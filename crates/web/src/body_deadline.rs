//! The deadline a request body must arrive by (`--read-timeout-secs`): a client that sends
//! headers and then stalls or trickles its body cannot hold a connection, and is answered
//! `408` (`problem::request_timeout`). The time runs from the first moment the body has to be
//! waited for, and is not reset by the bytes that trickle in after.
//!
//! Why not tower-http's `TimeoutBody`: it arms a timer in tokio's wheel before every read of
//! the body and drops it after, even when the bytes are already there, as they nearly always
//! are (a JSON body arrives with its headers): twice per POST, a microsecond of every order
//! and join. Its timer also starts again with each piece, so a body sent a byte at a time
//! was never cut off. Here the body is read first, and a timer is armed only when it has to
//! be waited for.

use axum::body::{Bytes, HttpBody};
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// A body that fails with [`BodyStalled`] once it has kept its reader waiting for `timeout`
/// and is still not complete.
pub struct DeadlineBody<B> {
    body: B,
    timeout: Duration,
    /// Armed the first time the body keeps the reader waiting; boxed, so the body stays
    /// `Unpin`, and allocated only then.
    deadline: Option<Pin<Box<Sleep>>>,
    /// The deadline passed: the body ends here, not read further.
    stalled: bool,
}

impl<B> DeadlineBody<B> {
    pub fn new(body: B, timeout: Duration) -> Self {
        DeadlineBody { body, timeout, deadline: None, stalled: false }
    }
}

/// The body stopped arriving before it was complete.
#[derive(Debug)]
pub struct BodyStalled;

impl std::fmt::Display for BodyStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body stopped arriving before it was complete")
    }
}

impl std::error::Error for BodyStalled {}

impl BodyStalled {
    /// Whether `error` (a body's, as an extractor or `to_bytes` wraps it) came of a stall.
    pub fn caused(error: &(dyn std::error::Error + 'static)) -> bool {
        std::iter::successors(Some(error), |e| e.source()).any(|e| e.is::<BodyStalled>())
    }
}

impl<B> HttpBody for DeadlineBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.stalled {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let deadline = this.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.stalled = true;
                Poll::Ready(Some(Err(Box::new(BodyStalled))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stalled || self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tokio::sync::mpsc;

    /// A body whose bytes come when a test sends them.
    struct Trickle(mpsc::Receiver<Bytes>);

    impl HttpBody for Trickle {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0.poll_recv(cx).map(|bytes| bytes.map(|b| Ok(Frame::data(b))))
        }
    }

    async fn next<B: HttpBody + Unpin>(body: &mut B) -> Option<Result<Frame<B::Data>, B::Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
    }

    #[tokio::test]
    async fn a_body_that_is_there_is_read_whole_with_no_timer() {
        let mut body = DeadlineBody::new(Body::from("{\"userId\":\"a\"}"), Duration::from_millis(1));
        assert_eq!(body.size_hint().exact(), Some(14));
        let frame = next(&mut body).await.expect("a frame").expect("no error");
        assert_eq!(frame.into_data().unwrap(), "{\"userId\":\"a\"}");
        assert!(body.deadline.is_none(), "nothing was waited for");
        assert!(next(&mut body).await.is_none(), "then the end");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_still_incomplete_when_the_timeout_has_passed_since_the_first_wait_fails_as_stalled() {
        let (tx, rx) = mpsc::channel(1);
        let mut body = DeadlineBody::new(Trickle(rx), Duration::from_secs(5));
        let began = tokio::time::Instant::now();
        tokio::spawn(async move {
            // A piece every 4 s: each in time for a per-piece timer, the whole never in time.
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                tx.send(Bytes::from_static(b"x")).await.unwrap();
            }
        });
        let first = next(&mut body).await.expect("a frame").expect("in time");
        assert_eq!(first.into_data().unwrap(), "x");
        let err = next(&mut body).await.expect("an error").expect_err("stalled");
        assert!(BodyStalled::caused(&*err), "{err}");
        assert!(BodyStalled::caused(&axum::Error::new(err)), "found under the wrapper axum puts round a body's error");
        assert!(!BodyStalled::caused(&std::io::Error::other("reset")), "and only a stall");
        assert_eq!(began.elapsed(), Duration::from_secs(5), "counted from the first wait, not reset by the piece");
        assert!(next(&mut body).await.is_none(), "and the body ends there");
    }
}
