//! Changes to an order from the app or the API: cancel (or preview it),
//! fulfill; and what clients read back about them.

use crate::app::{AppError, Idempotent, OrdersService, Outcome, Target, new_id, now};
use crate::ledger::LedgerEntry;
use crate::metrics::Event;
use crate::store::{Commit, Store};
use domain::{Actor, CancelRequest, Cancellation, Company, FulfillRequest, Fulfillment, Source};

impl<S: Store> OrdersService<S> {
    /// Create a cancellation from the app or the API, or preview it.
    pub async fn cancel(
        &self,
        company: &Company,
        order: impl Into<Target>,
        request: &CancelRequest,
        source: Source,
        keyed: Option<Idempotent<'_, Cancellation>>,
    ) -> Result<Outcome<Cancellation>, AppError> {
        let id = new_id("can");
        let integration = company.integration;
        let request = request.clone();
        let outcome = self
            .decide_on_order(company, order.into(), keyed, move |order, party| {
                let actor = Actor {
                    party,
                    integration,
                    source,
                };
                let d = domain::cancel(order, actor, &request, id.clone(), now())?;
                let mut commit = Commit::update(d.order);
                commit.cancellation = Some(d.record.clone());
                Ok((commit, d.record))
            })
            .await?;
        if let Outcome::Done(c) = &outcome {
            self.count_cancellation(c);
        }
        Ok(outcome)
    }

    pub(crate) fn count_cancellation(&self, c: &Cancellation) {
        self.metrics.count(Event::CancellationCreated {
            source: c.source.as_str(),
            kind: c.kind.as_str(),
        });
    }

    /// The cancellation that `cancel` would create now; nothing is written.
    pub async fn preview_cancel(
        &self,
        company: &Company,
        order: impl Into<Target>,
        request: &CancelRequest,
        source: Source,
    ) -> Result<Cancellation, AppError> {
        let (order, party) = self.visible_order(company, order.into()).await?;
        let actor = Actor {
            party,
            integration: company.integration,
            source,
        };
        Ok(domain::cancel(&order, actor, request, new_id("can"), now())?.record)
    }

    pub async fn fulfill(
        &self,
        company: &Company,
        order: impl Into<Target>,
        request: &FulfillRequest,
        keyed: Option<Idempotent<'_, Fulfillment>>,
    ) -> Result<Outcome<Fulfillment>, AppError> {
        let id = new_id("ful");
        let request = request.clone();
        self.decide_on_order(company, order.into(), keyed, move |order, party| {
            let d = domain::fulfill(order, party, &request, id.clone(), now())?;
            let mut commit = Commit::update(d.order);
            commit.fulfillment = Some(d.record.clone());
            Ok((commit, d.record))
        })
        .await
    }

    /// The order's cancellations, with their notification ledger records.
    pub async fn cancellations(
        &self,
        company: &Company,
        order_id: &str,
    ) -> Result<(Vec<Cancellation>, Vec<LedgerEntry>), AppError> {
        let (record, entries) = self.order_with_notifications(company, order_id).await?;
        Ok((record.cancellations, entries))
    }
}
