#![cfg(all(not(loom), feature = "pipeline", feature = "serde"))]
//! The JSON-lines reader: blank lines skipped, malformed lines reported
//! with their line numbers, reading going on after them.

use latchwork::pipeline::{JsonLines, LineErrorKind, Pipeline};
use serde::Deserialize;
use std::io::{self, BufRead, Read};
use std::ops::ControlFlow;

#[derive(Debug, Deserialize, PartialEq)]
struct Rec {
    id: u32,
}

#[test]
fn blank_and_malformed_lines() {
    let mut text = b"{\"id\":1}\r\n\n   \t\n{\"id\":2}\n{\"id\":\n".to_vec();
    text.extend_from_slice(b"{\"id\":\"\xff\"}\n"); // not UTF-8
    text.extend_from_slice(b"[1,2]\n{\"id\":3}"); // wrong shape; last line without newline
    let mut reader = JsonLines::<Rec, _>::new(&text[..]);
    let got: Vec<Result<u32, u64>> = reader
        .by_ref()
        .map(|r| r.map(|r| r.id).map_err(|e| e.line()))
        .collect();
    assert_eq!(got, vec![Ok(1), Ok(2), Err(5), Err(6), Err(7), Ok(3)]);
    assert_eq!(reader.line_number(), 8);
    assert!(reader.next().is_none());
}

#[test]
fn errors_name_the_line() {
    let mut r = JsonLines::<Rec, _>::new(&b"\n{oops}\n"[..]);
    let e = r.next().unwrap().unwrap_err();
    assert_eq!(e.line(), 2);
    assert!(matches!(e.kind(), LineErrorKind::Parse(_)));
    assert!(e.to_string().starts_with("line 2: malformed record"), "{e}");
    assert!(std::error::Error::source(&e).is_some());
}

/// Yields one good line, then fails.
struct Failing(bool);
impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        unreachable!()
    }
}
impl BufRead for Failing {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.0 {
            Err(io::Error::other("disk gone"))
        } else {
            Ok(b"{\"id\":9}\n")
        }
    }
    fn consume(&mut self, _: usize) {
        self.0 = true;
    }
}

#[test]
fn io_error_is_reported_once_and_ends_reading() {
    let got: Vec<_> = JsonLines::<Rec, _>::new(Failing(false)).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].as_ref().unwrap(), &Rec { id: 9 });
    let e = got[1].as_ref().unwrap_err();
    assert!(matches!(e.kind(), LineErrorKind::Io(_)));
    assert_eq!(e.line(), 2);
}

#[test]
fn json_lines_source_stage() {
    let dir = std::env::temp_dir().join(format!("latchwork-jsonl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("in.jsonl");
    std::fs::write(&path, "{\"id\":1}\n\nnot json\n{\"id\":2}\n").unwrap();
    let mut ids = Vec::new();
    let mut failed = Vec::new();
    let (tx, rx) = crossbeam_channel::unbounded();
    let report = Pipeline::<Rec>::json_lines(&path)
        .unwrap()
        .map("id", 1, |r| r.id)
        .on_error(move |f| tx.send((f.position, f.error.to_string())).unwrap())
        .run(|id| {
            ids.push(id);
            ControlFlow::Continue(())
        })
        .unwrap();
    failed.extend(rx.try_iter());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, 1, "position among the records read");
    assert!(failed[0].1.starts_with("line 3:"), "{}", failed[0].1);
    assert_eq!((report.read, report.source_failed), (3, 1));
    assert!(Pipeline::<Rec>::json_lines(dir.join("missing")).is_err());
}
