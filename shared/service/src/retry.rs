//! The one decide-and-commit loop. Every change to an order is a pure
//! decision the store runs on the order's current state and commits with it
//! (`Store::decide_and_commit`); a store that decides optimistically may
//! report a lost race, and the service then backs off (jittered,
//! exponential, within a time budget) and decides again.

use std::sync::Arc;

use crate::app::{AppError, Core, Idempotent, Outcome, Read, Target, idempotency_record, key_of};
use crate::metrics::Event;
use crate::store::{Commit, Decided, Store, StoreError};
use domain::{Company, Order, Role};

impl<S: Store> Core<S> {
    /// The one decide-and-commit loop: the store decides on the order's
    /// current state and commits; a lost race (`VersionConflict`) waits a
    /// jittered, growing while and decides again, within
    /// `config.race_retry`, then answers `Conflict`. `OrderMissing` is
    /// `OrderNotFound`; the other store refusals are `AppError::Store` for
    /// the caller to read.
    /// The first decision is taken on the order in `target` when it was
    /// read already; every later one on a fresh read.
    pub(crate) async fn decide_with_retries<T, F>(
        &self,
        target: Target,
        decide: F,
    ) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: Fn(&Order) -> Result<Decided<T>, AppError> + Send + Sync + 'static,
    {
        let policy = &self.config.race_retry;
        let decide = Arc::new(decide);
        let started = tokio::time::Instant::now();
        let order_id = target.id.as_str();
        let mut first = Some(target.read);
        let mut attempt: u32 = 0;
        loop {
            attempt = attempt.saturating_add(1);
            let d = Arc::clone(&decide);
            let decided = match first.take() {
                Some(Read::Found(order)) => {
                    self.store
                        .decide_and_commit_on(*order, move |o: &Order| d(o))
                        .await
                }
                Some(Read::Missing) => Err(StoreError::OrderMissing),
                Some(Read::No) | None => {
                    self.store
                        .decide_and_commit(order_id, move |o: &Order| d(o))
                        .await
                }
            };
            match decided {
                Ok(decided) => return decided,
                Err(StoreError::VersionConflict) => self.metrics.count(Event::CommitConflict),
                Err(StoreError::OrderMissing) => {
                    return Err(AppError::OrderNotFound(order_id.to_owned()));
                }
                Err(e) => return Err(AppError::Store(e)),
            }
            let elapsed = started.elapsed();
            let Some(left) = policy
                .budget
                .checked_sub(elapsed)
                .filter(|left| !left.is_zero() && attempt < policy.max_attempts)
            else {
                tracing::warn!(
                    order_id,
                    attempts = attempt,
                    ?elapsed,
                    "giving up after repeated version conflicts"
                );
                self.metrics.count(Event::CommitGaveUp);
                return Err(AppError::Conflict);
            };
            let wait = policy.wait(attempt).min(left);
            tracing::debug!(
                order_id,
                attempt,
                ?elapsed,
                ?wait,
                "lost a race on the order version; deciding again"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// A decision of `company` on one of its orders, answered with the
    /// created record (kept under the idempotency key, if any, in the same
    /// commit). `decide` gets the order and the company's party on it, and
    /// returns the commit, the record and the record's JSON.
    /// A used key is not looked up first: the commit's condition refuses
    /// it, and only then is the stored response read (or taken from the
    /// refusal). A refusal decided before the commit is kept or replayed by
    /// the caller (`remember_reply`).
    pub(crate) async fn decide_on_order<T, F>(
        &self,
        company: &Company,
        target: Target,
        keyed: Option<Idempotent<'_, T>>,
        decide: F,
    ) -> Result<Outcome<T>, AppError>
    where
        T: Send + 'static,
        F: Fn(&Order, Role) -> Result<(Commit, T), AppError> + Send + Sync + 'static,
    {
        let idem = key_of(keyed);
        let order_id = target.id.clone();
        let company_id = company.id.clone();
        let key = keyed.map(|k| (k.key.clone(), k.reply));
        let ttl = self.config.idempotency_ttl;
        let id = order_id.clone();
        let decision = move |order: &Order| {
            let party = order
                .party_of(&company_id)
                .ok_or_else(|| AppError::OrderNotFound(id.clone()))?;
            let (mut commit, created) = decide(order, party)?;
            commit.idempotency = key
                .as_ref()
                .map(|(k, reply)| idempotency_record(&company_id, k, reply(&created), ttl));
            Ok(Decided::Commit(Box::new(commit), created))
        };
        match self.decide_with_retries(target, decision).await {
            Ok(created) => Ok(Outcome::Done(created)),
            Err(AppError::Store(StoreError::IdempotencyKeyExists { stored })) => Ok(
                Outcome::Replayed(self.stored_reply(company, idem, stored).await?),
            ),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
