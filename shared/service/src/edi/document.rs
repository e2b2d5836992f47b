//! One tracing span per EDI document read.

use tracing::Instrument;

use super::{EdiError, EdiService, InterchangeReport, Numbering};
use crate::store::Store;

impl<S: Store + crate::ledger::Ledger> EdiService<S> {
    /// Read one interchange inside its span: every line logged while reading
    /// it carries the partner and how it ended.
    pub(crate) async fn edi_interchange_numbered(
        &self,
        company_id: &str,
        bytes: &[u8],
        numbering: &Numbering,
    ) -> Result<InterchangeReport, EdiError> {
        let span = tracing::info_span!(
            "edi_document",
            op = "edi_interchange",
            company_id,
            outcome = tracing::field::Empty,
        );
        let result = self
            .edi_interchange_in_span(company_id, bytes, numbering)
            .instrument(span.clone())
            .await;
        let outcome = match &result {
            Ok(r) if r.refused.is_some() => "refused",
            Ok(_) => "read",
            Err(_) => "failed",
        };
        span.record("outcome", outcome);
        result
    }
}
