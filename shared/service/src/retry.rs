//! The one decide-and-commit loop. Every change to an order is a pure
//! decision the store runs on the order's current state and commits with it
//! (`Store::decide_and_commit`); a store that decides optimistically may
//! report a lost race, and the service then backs off (jittered,
//! exponential, within a time budget) and decides again.

use std::sync::Arc;

use crate::app::{App, AppError, Idempotent, Outcome, idempotency_record, key_of};
use crate::store::{Commit, Decided, Store, StoreError};
use domain::{Company, Order, Role};

impl<S: Store> App<S> {
    /// The one decide-and-commit loop: the store decides on the order's
    /// current state and commits; a lost race (`VersionConflict`) waits a
    /// jittered, growing while and decides again, within
    /// `config.race_retry`, then answers `Conflict`. `OrderMissing` is
    /// `OrderNotFound`; the other store refusals are `AppError::Store` for
    /// the caller to read.
    pub(crate) async fn decide_with_retries<T, F>(
        &self,
        order_id: &str,
        decide: F,
    ) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: Fn(&Order) -> Result<Decided<T>, AppError> + Send + Sync + 'static,
    {
        let policy = &self.config.race_retry;
        let decide = Arc::new(decide);
        let started = tokio::time::Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt = attempt.saturating_add(1);
            let d = Arc::clone(&decide);
            match self
                .store
                .decide_and_commit(order_id, move |o: &Order| d(o))
                .await
            {
                Ok(decided) => return decided,
                Err(StoreError::VersionConflict) => {}
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
    pub(crate) async fn decide_on_order<T, F>(
        &self,
        company: &Company,
        order_id: &str,
        keyed: Option<Idempotent<'_, T>>,
        decide: F,
    ) -> Result<Outcome<T>, AppError>
    where
        T: Send + 'static,
        F: Fn(&Order, Role) -> Result<(Commit, T), AppError> + Send + Sync + 'static,
    {
        let idem = key_of(keyed);
        if let Some(rec) = self.replay(company, idem).await? {
            return Ok(Outcome::Replayed(rec));
        }
        let company_id = company.id.clone();
        let key = keyed.map(|k| (k.key.clone(), k.reply));
        let ttl = self.config.idempotency_ttl;
        let id = order_id.to_owned();
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
        match self.decide_with_retries(order_id, decision).await {
            Ok(created) => Ok(Outcome::Done(created)),
            Err(AppError::Store(StoreError::IdempotencyKeyExists)) => Ok(Outcome::Replayed(
                self.replay_after_race(company, idem).await?,
            )),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
