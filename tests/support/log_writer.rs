//! A `Write` that keeps what tracing writes in a shared buffer, for tests that read their logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Appends everything written to the shared buffer.
#[derive(Clone, Default)]
pub struct SharedWriter(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
