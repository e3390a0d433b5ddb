//! Log output captured in memory, for tests that read what a `tracing` subscriber wrote.
//! Included with `#[path]` by the tests that need it alone.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A writer whose clones append to one buffer: give the subscriber
/// `move || captured.clone()`, then read [`text`](Self::text).
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
