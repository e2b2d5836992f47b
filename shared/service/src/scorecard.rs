//! The cancellation scorecard: a company's own figures per partner, and
//! every pair's for operators, read from the counts the stores keep.

use domain::Company;
use domain::scorecard::{Scorecard, Window, scorecard, scorecards};

use crate::admin::AdminService;
use crate::app::{AppError, OrdersService, now};
use crate::store::{Orders, Store, StoreError};

impl<S: Store> OrdersService<S> {
    /// The company's scorecard over the window ending today (UTC): its
    /// own rows only, in one bounded read.
    pub async fn scorecard(
        &self,
        company: &Company,
        window: Window,
    ) -> Result<Scorecard, AppError> {
        let today = now().date_naive();
        let rows = self
            .store
            .score_rows(&company.id, window.first_day(today), today)
            .await?;
        Ok(scorecard(&company.id, window, today, rows))
    }
}

impl<S: Orders> AdminService<S> {
    /// Every company's scorecard over the window ending today (operators:
    /// a full read of the counters, never on a request's path).
    pub async fn scorecards(&self, window: Window) -> Result<Vec<Scorecard>, StoreError> {
        let today = now().date_naive();
        let rows = self
            .store()
            .all_score_rows(window.first_day(today), today)
            .await?;
        Ok(scorecards(window, today, rows))
    }
}
