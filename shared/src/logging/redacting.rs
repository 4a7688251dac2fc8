//! [`Redacting`]: a `MakeWriter` that masks known secrets in every formatted event before it
//! reaches stderr or the log file. tracing-subscriber's fmt layer formats an event into one
//! buffer and writes it with one `write_all`, so each event is masked whole.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

use crate::redact::Redactor;

/// Wraps a `MakeWriter` so what it writes passes through a [`Redactor`].
#[derive(Clone, Debug)]
pub struct Redacting<M> {
    inner: M,
    redactor: Redactor,
}

impl<M> Redacting<M> {
    /// `inner` with `redactor` applied to every event.
    pub fn new(inner: M, redactor: Redactor) -> Self {
        Redacting { inner, redactor }
    }
}

/// One event's writer.
#[derive(Debug)]
pub struct RedactingWriter<'a, W> {
    inner: W,
    redactor: &'a Redactor,
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<'a, M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer(),
            redactor: &self.redactor,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        RedactingWriter {
            inner: self.inner.make_writer_for(meta),
            redactor: &self.redactor,
        }
    }
}

impl<W: Write> Write for RedactingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.redactor.is_empty() {
            return self.inner.write(buf);
        }
        let text = String::from_utf8_lossy(buf);
        self.inner
            .write_all(self.redactor.redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
