//! One answer per inbound file, whatever the moment of a crash. The
//! control numbers of our replies (997, 824, TA1) to a file are kept under
//! the file's identity (`source`: its object version, or its name, size
//! and time locally) before the replies are written; a file processed
//! again (the host died before moving it aside, S3 delivered its event
//! twice) is answered under the same numbers, so the partner receives the
//! same documents again, never new ones. What a file changes is applied
//! absolutely, so processing it again changes nothing more.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::ledger::Ledger;
use crate::store::Store;

use super::{EdiError, EdiService, InterchangeReport};

/// The control numbers our replies to one file take: those kept from an
/// earlier run first, in order, then fresh ones; each number used is noted.
#[derive(Debug, Default)]
pub struct Numbering {
    kept: Mutex<VecDeque<u32>>,
    used: Mutex<Vec<u32>>,
}

impl Numbering {
    fn reusing(numbers: Vec<u32>) -> Self {
        Numbering {
            kept: Mutex::new(numbers.into()),
            used: Mutex::new(Vec::new()),
        }
    }

    /// The next kept number, if any is left.
    pub(crate) fn kept(&self) -> Option<u32> {
        self.kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    pub(crate) fn used(&self, n: u32) {
        self.used.lock().unwrap_or_else(|p| p.into_inner()).push(n);
    }

    fn all_used(&self) -> Vec<u32> {
        self.used.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// What a host read of an inbound file.
pub enum Inbound<'a> {
    Whole(&'a [u8]),
    /// Over the limit: its first bytes and its size.
    TooLarge(&'a [u8], u64),
}

impl<S: Store + Ledger> EdiService<S> {
    /// Process inbound file `source` of `company_id` and answer it, once:
    /// a file seen before (the same `source`) is answered under the
    /// control numbers its replies were first given.
    pub async fn edi_file(
        &self,
        company_id: &str,
        source: &str,
        file: Inbound<'_>,
    ) -> Result<InterchangeReport, EdiError> {
        let ports = &self.ports;
        let unavailable = |e: crate::store::StoreError| EdiError::Unavailable(e.to_string());
        let kept = ports
            .sent
            .reply_numbers(company_id, source)
            .await
            .map_err(unavailable)?;
        let again = kept.is_some();
        let numbering = Numbering::reusing(kept.unwrap_or_default());
        let report = self
            .edi_file_numbered(company_id, &file, &numbering)
            .await?;
        if again {
            tracing::info!(
                company_id,
                "an inbound file seen before; answered under its first numbers"
            );
            return Ok(report);
        }
        let used = numbering.all_used();
        let standing = ports
            .sent
            .keep_reply_numbers(company_id, source, &used)
            .await
            .map_err(unavailable)?;
        if standing == used {
            return Ok(report);
        }
        // Another run of the same file kept its numbers first: answer as it
        // does (nothing written yet under ours).
        let numbering = Numbering::reusing(standing);
        self.edi_file_numbered(company_id, &file, &numbering).await
    }

    async fn edi_file_numbered(
        &self,
        company_id: &str,
        file: &Inbound<'_>,
        numbering: &Numbering,
    ) -> Result<InterchangeReport, EdiError> {
        match file {
            Inbound::Whole(bytes) => {
                self.edi_interchange_numbered(company_id, bytes, numbering)
                    .await
            }
            Inbound::TooLarge(head, size) => {
                self.edi_too_large_numbered(company_id, head, *size, numbering)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_numbers_come_first_then_none() {
        let n = Numbering::reusing(vec![4, 9]);
        assert_eq!((n.kept(), n.kept(), n.kept()), (Some(4), Some(9), None));
        n.used(4);
        n.used(12);
        assert_eq!(n.all_used(), [4, 12]);
    }
}
