//! Reads a webhook body: whole within one deadline (not per frame: a body trickled a byte at a
//! time is cut off too), at most `max_bytes`, and only while the shared byte budget has room
//! for it (memory for bodies in flight is bounded whatever the number of connections).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// What one body may take.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Largest body.
    pub max_bytes: usize,
    /// The whole body must have arrived by then.
    pub deadline: Instant,
}

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub(super) enum BodyError {
    /// Over the limit (declared or received).
    #[error("body too large")]
    TooLarge,
    /// Not complete by the deadline.
    #[error("body not received in time")]
    TooSlow,
    /// The byte budget stayed full until the deadline.
    #[error("too many bodies in flight, retry later")]
    Busy,
    /// A broken Content-Length or transfer.
    #[error("cannot read the body: {0}")]
    Broken(String),
}

impl IntoResponse for BodyError {
    fn into_response(self) -> Response {
        let code = match self {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TooSlow => StatusCode::REQUEST_TIMEOUT,
            BodyError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            BodyError::Broken(_) => StatusCode::BAD_REQUEST,
        };
        (code, format!("{self}\n")).into_response()
    }
}

/// The room a body holds in the budget; given back when dropped.
#[derive(Debug, Default)]
pub(super) struct Room(Option<OwnedSemaphorePermit>);

impl Room {
    async fn grow(
        &mut self,
        budget: &Option<Arc<Semaphore>>,
        bytes: usize,
        deadline: Instant,
    ) -> Result<(), BodyError> {
        let Some(budget) = budget else {
            return Ok(());
        };
        if bytes == 0 {
            return Ok(());
        }
        let n = u32::try_from(bytes).map_err(|_| BodyError::TooLarge)?;
        let permit = tokio::time::timeout_at(deadline, budget.clone().acquire_many_owned(n))
            .await
            .map_err(|_| BodyError::Busy)?
            .map_err(|_| BodyError::Busy)?;
        match &mut self.0 {
            Some(p) => p.merge(permit),
            None => self.0 = Some(permit),
        }
        Ok(())
    }
}

fn declared_length(headers: &HeaderMap) -> Result<Option<usize>, BodyError> {
    let mut values = headers.get_all(header::CONTENT_LENGTH).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    let parsed = v
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| BodyError::Broken("bad Content-Length".into()))?;
    Ok(Some(usize::try_from(parsed).unwrap_or(usize::MAX)))
}

/// The whole body, and the room it holds in the budget (keep it while the bytes are in use).
pub(super) async fn read(
    headers: &HeaderMap,
    body: Body,
    limits: Limits,
    budget: Option<Arc<Semaphore>>,
) -> Result<(Bytes, Room), BodyError> {
    let declared = declared_length(headers)?;
    if declared.is_some_and(|n| n > limits.max_bytes) {
        return Err(BodyError::TooLarge);
    }
    let mut room = Room::default();
    // A declared length is reserved at once; a chunked body grows its room as it arrives.
    if let Some(n) = declared {
        room.grow(&budget, n, limits.deadline).await?;
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0));
    let mut stream = body.into_data_stream();
    loop {
        let next = tokio::time::timeout_at(limits.deadline, stream.next())
            .await
            .map_err(|_| BodyError::TooSlow)?;
        let chunk = match next {
            None => break,
            Some(Ok(c)) => c,
            Some(Err(e)) => return Err(BodyError::Broken(e.to_string())),
        };
        if buf.len() + chunk.len() > limits.max_bytes {
            return Err(BodyError::TooLarge);
        }
        let beyond_reserved = (buf.len() + chunk.len()).saturating_sub(declared.unwrap_or(0));
        let already_beyond = buf.len().saturating_sub(declared.unwrap_or(0));
        room.grow(&budget, beyond_reserved - already_beyond, limits.deadline)
            .await?;
        buf.extend_from_slice(&chunk);
    }
    Ok((Bytes::from(buf), room))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits(max_bytes: usize, within: Duration) -> Limits {
        Limits {
            max_bytes,
            deadline: Instant::now() + within,
        }
    }

    fn trickle(bytes: &'static [u8], every: Duration) -> Body {
        let s = futures::stream::iter(bytes.iter().copied()).then(move |b| async move {
            tokio::time::sleep(every).await;
            Ok::<_, std::io::Error>(Bytes::from(vec![b]))
        });
        Body::from_stream(s)
    }

    #[tokio::test]
    async fn a_trickled_body_is_cut_off_at_the_deadline_not_per_frame() {
        // Each byte comes well inside any per-frame timeout; the whole would take 5 s.
        let body = trickle(&[b'x'; 100], Duration::from_millis(50));
        let r = read(
            &HeaderMap::new(),
            body,
            limits(1000, Duration::from_millis(300)),
            None,
        )
        .await;
        assert!(matches!(r, Err(BodyError::TooSlow)), "{r:?}");
    }

    #[tokio::test]
    async fn the_budget_bounds_bodies_in_flight_and_is_given_back() {
        let budget = Arc::new(Semaphore::new(10));
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_LENGTH,
            "6".parse().unwrap_or_else(|_| unreachable!()),
        );
        let lim = || limits(100, Duration::from_millis(200));
        let (_, held) = read(&h, Body::from("abcdef"), lim(), Some(budget.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(budget.available_permits(), 4);
        let r = read(&h, Body::from("abcdef"), lim(), Some(budget.clone())).await;
        assert!(matches!(r, Err(BodyError::Busy)), "{r:?}");
        // Chunked (no length): room grows with what arrives.
        let r = read(
            &HeaderMap::new(),
            trickle(b"abcdef", Duration::from_millis(1)),
            lim(),
            Some(budget.clone()),
        )
        .await;
        assert!(matches!(r, Err(BodyError::Busy)), "{r:?}");
        drop(held);
        assert_eq!(budget.available_permits(), 10);
        let (b, _room) = read(
            &HeaderMap::new(),
            trickle(b"abcdef", Duration::from_millis(1)),
            lim(),
            Some(budget.clone()),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((&b[..], budget.available_permits()), (&b"abcdef"[..], 4));
    }

    #[tokio::test]
    async fn a_declared_or_received_excess_is_413() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_LENGTH,
            "5000".parse().unwrap_or_else(|_| unreachable!()),
        );
        let r = read(
            &h,
            Body::empty(),
            limits(1024, Duration::from_secs(1)),
            None,
        )
        .await;
        assert!(matches!(r, Err(BodyError::TooLarge)));
        let r = read(
            &HeaderMap::new(),
            Body::from(vec![0u8; 2000]),
            limits(1024, Duration::from_secs(1)),
            None,
        )
        .await;
        assert!(matches!(r, Err(BodyError::TooLarge)));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_chunking_reads_the_same_bytes_within_the_limit_and_gives_the_budget_back(
            data in prop::collection::vec(any::<u8>(), 0..4096),
            cuts in prop::collection::vec(1usize..600, 0..16),
            max in 1usize..5000,
            declare in any::<bool>(),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut chunks = Vec::new();
            let mut rest = &data[..];
            for c in cuts {
                let (a, b) = rest.split_at(c.min(rest.len()));
                chunks.push(Ok::<_, std::io::Error>(Bytes::copy_from_slice(a)));
                rest = b;
            }
            chunks.push(Ok(Bytes::copy_from_slice(rest)));
            let mut h = HeaderMap::new();
            if declare {
                h.insert(header::CONTENT_LENGTH, data.len().into());
            }
            let budget = Arc::new(Semaphore::new(8192));
            let r = rt.block_on(read(
                &h,
                Body::from_stream(futures::stream::iter(chunks)),
                Limits { max_bytes: max, deadline: Instant::now() + Duration::from_secs(5) },
                Some(budget.clone()),
            ));
            match r {
                Ok((b, room)) => {
                    prop_assert!(data.len() <= max);
                    prop_assert_eq!(&b[..], &data[..]);
                    prop_assert_eq!(budget.available_permits(), 8192 - data.len());
                    drop(room);
                }
                Err(BodyError::TooLarge) => prop_assert!(data.len() > max),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
            prop_assert_eq!(budget.available_permits(), 8192);
        }
    }
}
