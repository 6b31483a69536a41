//! Counts every client API request and the body bytes it moves (see
//! `crate::traffic`). Bytes are counted as they pass, so an upload cut
//! short counts what really arrived.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

use crate::app::App;

/// Which way a body goes.
#[derive(Debug, Clone, Copy)]
enum Way {
    In,
    Out,
}

/// A body that counts its data frames and keeps its size hint, so a
/// response keeps its `Content-Length`.
struct Counted {
    inner: Body,
    app: Arc<App>,
    way: Way,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                let n = data.len() as u64;
                match self.way {
                    Way::In => self.app.traffic.add_received(n),
                    Way::Out => self.app.traffic.add_sent(n),
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware that counts the request, and its bytes each way.
pub async fn count(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let method = crate::traffic::method_index(req.method().as_str());
    // An empty body (most GETs and HEADs, and their answers when
    // bodiless) has nothing to count and is left as it is.
    let empty = |b: &Body| b.size_hint().exact() == Some(0);
    let req = if empty(req.body()) {
        req
    } else {
        let counter = app.clone();
        req.map(|inner| {
            Body::new(Counted {
                inner,
                app: counter,
                way: Way::In,
            })
        })
    };
    let res = next.run(req).await;
    app.traffic.count_request(method, res.status().as_u16());
    if empty(res.body()) {
        return res;
    }
    res.map(|inner| {
        Body::new(Counted {
            inner,
            app,
            way: Way::Out,
        })
    })
}
