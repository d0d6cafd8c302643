//! The runs a search answered with, kept until they are moved so that moving them costs no
//! second request. Each is kept as the JSON text the server sent, minified: about 600 bytes
//! for a small run, 60 MB for an experiment of 100,000. The first [`IN_MEMORY`] stay on the
//! heap; the texts of the others go to an anonymous temporary file (removed from its folder as
//! it is made, so nothing is left behind even by a killed job), and only where each one is
//! stays in memory. Reading one back is a read of the operating system's page cache, which
//! gives its memory back under pressure; the job's heap does not.

use std::{
    collections::HashMap,
    fs::File,
    io::{Read, Seek, SeekFrom, Write},
};

use crate::{Error, Result};

/// Runs kept on the heap before the others go to the file: a job of up to this many runs
/// writes no file.
const IN_MEMORY: usize = 10_000;

enum Slot {
    Memory(Box<str>),
    File { at: u64, len: usize },
}

#[derive(Default)]
pub(super) struct KeptRuns {
    slots: HashMap<String, Slot>,
    in_memory: usize,
    file: Option<File>,
    end: u64,
}

impl KeptRuns {
    /// Keeps `text` as run `id`'s, in place of any kept before.
    pub(super) fn insert(&mut self, id: String, text: Box<str>) -> Result<()> {
        let slot = if self.in_memory < IN_MEMORY {
            self.in_memory += 1;
            Slot::Memory(text)
        } else {
            let file = match &mut self.file {
                Some(f) => f,
                None => self.file.insert(tempfile::tempfile().map_err(spill_error)?),
            };
            file.seek(SeekFrom::Start(self.end)).and_then(|_| file.write_all(text.as_bytes())).map_err(spill_error)?;
            let slot = Slot::File { at: self.end, len: text.len() };
            self.end += text.len() as u64;
            slot
        };
        if let Some(old) = self.slots.insert(id, slot) {
            self.forget(&old);
        }
        Ok(())
    }

    /// Run `id`'s text, still kept.
    pub(super) fn get(&mut self, id: &str) -> Result<Option<String>> {
        match self.slots.get(id) {
            None => Ok(None),
            Some(Slot::Memory(text)) => Ok(Some(text.to_string())),
            Some(&Slot::File { at, len }) => self.read(at, len).map(Some),
        }
    }

    /// Run `id`'s text, no longer kept.
    pub(super) fn remove(&mut self, id: &str) -> Result<Option<String>> {
        let Some(slot) = self.slots.remove(id) else { return Ok(None) };
        self.forget(&slot);
        match slot {
            Slot::Memory(text) => Ok(Some(text.into_string())),
            Slot::File { at, len } => self.read(at, len).map(Some),
        }
    }

    /// Stops keeping run `id` (its bytes in the file stay, unread, until the job ends).
    pub(super) fn drop_run(&mut self, id: &str) {
        if let Some(slot) = self.slots.remove(id) {
            self.forget(&slot);
        }
    }

    fn forget(&mut self, slot: &Slot) {
        if let Slot::Memory(_) = slot {
            self.in_memory -= 1;
        }
    }

    fn read(&mut self, at: u64, len: usize) -> Result<String> {
        let file = self.file.as_mut().expect("a run kept in the file was written to it");
        let mut buf = vec![0; len];
        file.seek(SeekFrom::Start(at)).and_then(|_| file.read_exact(&mut buf)).map_err(spill_error)?;
        String::from_utf8(buf)
            .map_err(|e| Error::Input(format!("a searched run read back from its temporary file: {e}")))
    }
}

fn spill_error(e: std::io::Error) -> Error {
    Error::io(std::env::temp_dir().join("(the temporary file of searched runs)"), e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_past_the_first_ten_thousand_are_kept_in_a_file_and_read_back_whole() {
        let mut kept = KeptRuns::default();
        let text = |i: usize| {
            format!(
                r#"{{"info":{{"run_id":"r{i}"}},"data":{{"params":[{{"key":"p","value":"{}"}}]}}}}"#,
                "é".repeat(i % 7)
            )
        };
        let n = IN_MEMORY + 2_000;
        for i in 0..n {
            kept.insert(format!("r{i}"), text(i).into()).unwrap();
        }
        assert!(kept.file.is_some());
        assert_eq!(kept.in_memory, IN_MEMORY);
        // Kept again under the same id (one from the heap to the file, one the other way):
        // the later text wins.
        kept.insert("r5".into(), text(6).into()).unwrap();
        kept.insert(format!("r{}", n - 1), text(1).into()).unwrap();
        let expected = |i: usize| match i {
            5 => text(6),
            i if i == n - 1 => text(1),
            i => text(i),
        };
        for i in 0..n {
            let id = format!("r{i}");
            assert_eq!(kept.get(&id).unwrap(), Some(expected(i)), "{id}");
            if i % 2 == 0 {
                assert_eq!(kept.remove(&id).unwrap(), Some(expected(i)), "{id}");
                assert_eq!(kept.remove(&id).unwrap(), None, "{id}");
            } else {
                kept.drop_run(&id);
            }
            assert_eq!(kept.get(&id).unwrap(), None, "{id}");
        }
        assert_eq!(kept.in_memory, 0);
        assert!(kept.slots.is_empty());
    }

    #[test]
    fn a_small_job_writes_no_file() {
        let mut kept = KeptRuns::default();
        for i in 0..100 {
            kept.insert(format!("r{i}"), "{}".into()).unwrap();
        }
        assert!(kept.file.is_none());
    }
}
