//! [`JsonLines`]: a JSON-lines reader that skips blank lines and reports
//! malformed ones with their line numbers.
use serde::de::DeserializeOwned;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::marker::PhantomData;
use std::path::Path;

/// A line buffer grown past this by one huge line is shrunk back, so one
/// outlier does not hold its memory for the rest of the file.
const KEEP_BUFFER: usize = 64 * 1024;

/// Reads JSON-lines (one JSON value per line) as an iterator of records,
/// one line in memory at a time.
///
/// Blank (all-whitespace) lines are skipped. A line that is not valid JSON
/// for `T` (or not UTF-8) yields an `Err` carrying its 1-based line number,
/// and reading goes on with the next line. An I/O error is yielded once and
/// ends the iteration.
///
/// ```
/// use latchwork::pipeline::JsonLines;
///
/// let text = "{\"n\":1}\n\n{\"n\":oops}\n{\"n\":3}\n";
/// let records: Vec<_> = JsonLines::<serde_json::Value, _>::new(text.as_bytes()).collect();
/// assert_eq!(records.len(), 3); // the blank line is skipped
/// assert_eq!(records[1].as_ref().unwrap_err().line(), 3);
/// assert_eq!(records[2].as_ref().unwrap()["n"], 3);
/// ```
pub struct JsonLines<T, R = BufReader<File>> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
    done: bool,
    _record: PhantomData<fn() -> T>,
}

impl<T, R> fmt::Debug for JsonLines<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLines")
            .field("line", &self.line)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned> JsonLines<T, BufReader<File>> {
    /// Opens a JSON-lines file.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self::new(BufReader::with_capacity(
            64 * 1024,
            File::open(path)?,
        )))
    }
}

impl<T: DeserializeOwned, R: BufRead> JsonLines<T, R> {
    /// Reads JSON-lines from any buffered reader.
    pub fn new(reader: R) -> Self {
        JsonLines {
            reader,
            line: 0,
            buf: Vec::new(),
            done: false,
            _record: PhantomData,
        }
    }

    /// The 1-based number of the last line read (0 before the first).
    pub fn line_number(&self) -> u64 {
        self.line
    }
}

impl<T: DeserializeOwned, R: BufRead> Iterator for JsonLines<T, R> {
    type Item = Result<T, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            if self.buf.capacity() > KEEP_BUFFER {
                self.buf = Vec::new();
            }
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    self.line += 1;
                    if self.buf.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    return Some(serde_json::from_slice(&self.buf).map_err(|e| LineError {
                        line: self.line,
                        kind: LineErrorKind::Parse(e),
                    }));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(LineError {
                        line: self.line + 1,
                        kind: LineErrorKind::Io(e),
                    }));
                }
            }
        }
        None
    }
}

/// A line [`JsonLines`] could not turn into a record.
#[derive(Debug)]
pub struct LineError {
    line: u64,
    kind: LineErrorKind,
}

/// What went wrong with a line.
#[derive(Debug)]
#[non_exhaustive]
pub enum LineErrorKind {
    /// The line is not valid JSON for the record type (or not UTF-8).
    Parse(serde_json::Error),
    /// Reading failed; the reader stops after this.
    Io(io::Error),
}

impl LineError {
    /// The 1-based line number in the input.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// What went wrong.
    pub fn kind(&self) -> &LineErrorKind {
        &self.kind
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LineErrorKind::Parse(e) => write!(f, "line {}: malformed record: {e}", self.line),
            LineErrorKind::Io(e) => write!(f, "line {}: read failed: {e}", self.line),
        }
    }
}

impl std::error::Error for LineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            LineErrorKind::Parse(e) => Some(e),
            LineErrorKind::Io(e) => Some(e),
        }
    }
}
