//! Orders: create, read, list, and set the caller's store references.

use std::sync::Arc;

use crate::app::{
    AppError, Idempotent, OrdersService, Outcome, Read, Target, idempotency_record, key_of, new_id,
    now,
};
use crate::ledger::LedgerEntry;
use crate::store::{
    Commit, Decided, OrderCursor, OrderPage, OrderRecord, StatusFilter, Store, StoreError,
};
use domain::{Company, NewOrder, NotPermitted, Order, Role, StoreRefs};

impl<S: Store> OrdersService<S> {
    pub async fn create_order(
        &self,
        buyer: &Company,
        seller_id: &str,
        request: NewOrder,
        keyed: Option<Idempotent<'_, OrderRecord>>,
    ) -> Result<Outcome<OrderRecord>, AppError> {
        let idem = key_of(keyed);
        if buyer.role != Role::Buyer {
            return Err(NotPermitted::OnlyBuyersCreateOrders.into());
        }
        domain::refs::buyer_sets_own_refs(&request)?;
        let seller = match self.store.company(seller_id).await? {
            Some(s) if s.role == Role::Seller => s,
            _ => return Err(AppError::UnknownSeller(seller_id.to_owned())),
        };
        let order = domain::create_order(buyer, &seller, request, new_id("ord"), now())?;
        let record = OrderRecord {
            order,
            cancellations: Vec::new(),
        };
        let mut commit = Commit::create(record.order.clone());
        commit.idempotency = keyed.map(|k| self.record(buyer, k.key, (k.reply)(&record)));
        match self.store.commit(&commit).await {
            Ok(()) => Ok(Outcome::Done(record)),
            Err(StoreError::IdempotencyKeyExists { stored }) => Ok(Outcome::Replayed(
                self.stored_reply(buyer, idem, stored).await?,
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Load an order the company is party to; anything else is "not found".
    pub(crate) async fn visible_order(
        &self,
        company: &Company,
        target: Target,
    ) -> Result<(Order, Role), AppError> {
        let missing = || AppError::OrderNotFound(target.id.clone());
        let order = match target.read {
            Read::Found(o) => *o,
            Read::Missing => return Err(missing()),
            Read::No => self.store.order(&target.id).await?.ok_or_else(missing)?,
        };
        let party = order.party_of(&company.id).ok_or_else(missing)?;
        Ok((order, party))
    }

    /// An order the company is party to, with its notification records.
    pub async fn order_with_notifications(
        &self,
        company: &Company,
        order_id: &str,
    ) -> Result<(OrderRecord, Vec<LedgerEntry>), AppError> {
        self.store
            .order_with_notifications(order_id)
            .await?
            .filter(|(r, _)| r.order.party_of(&company.id).is_some())
            .ok_or_else(|| AppError::OrderNotFound(order_id.to_owned()))
    }

    pub async fn order(&self, company: &Company, order_id: &str) -> Result<OrderRecord, AppError> {
        let record = self
            .store
            .order_record(order_id)
            .await?
            .filter(|r| r.order.party_of(&company.id).is_some())
            .ok_or_else(|| AppError::OrderNotFound(order_id.to_owned()))?;
        Ok(record)
    }

    pub async fn list_orders(
        &self,
        company: &Company,
        filter: StatusFilter,
        limit: usize,
        after: Option<&OrderCursor>,
    ) -> Result<OrderPage, AppError> {
        Ok(self
            .store
            .list_orders(&company.id, filter, limit, after)
            .await?)
    }

    /// Set the caller's own store references on an order (its side only),
    /// answered with the order as clients see it. The answer lists the
    /// order's cancellations, so it is decided only on the version those
    /// were read at: when the order moved on meanwhile, read it again.
    pub async fn set_store_refs(
        &self,
        company: &Company,
        order_id: &str,
        request: &StoreRefs,
        keyed: Option<Idempotent<'_, OrderRecord>>,
    ) -> Result<Outcome<OrderRecord>, AppError> {
        let idem = key_of(keyed);
        for _ in 0..self.config.race_retry.max_attempts {
            let read = self.order(company, order_id).await?;
            let read_version = read.order.version;
            let cancellations = Arc::new(read.cancellations);
            let (company_id, integration) = (company.id.clone(), company.integration);
            let (key, ttl, id) = (
                keyed.map(|k| (k.key.clone(), k.reply)),
                self.config.idempotency_ttl,
                order_id.to_owned(),
            );
            let request = request.clone();
            let decision = move |order: &Order| {
                if order.version != read_version {
                    return Ok(Decided::Unchanged(None));
                }
                let party = order
                    .party_of(&company_id)
                    .ok_or_else(|| AppError::OrderNotFound(id.clone()))?;
                let next = domain::set_store_refs(order, party, integration, &request, now())?;
                let updated = OrderRecord {
                    order: next.clone(),
                    cancellations: cancellations.to_vec(),
                };
                let mut commit = Commit::update(next).replacing_refs_of(order);
                commit.idempotency = key
                    .as_ref()
                    .map(|(k, reply)| idempotency_record(&company_id, k, reply(&updated), ttl));
                Ok(Decided::Commit(Box::new(commit), Some(updated)))
            };
            let target = Target::found(read.order);
            match self.decide_with_retries(target, decision).await {
                Ok(Some(updated)) => return Ok(Outcome::Done(updated)),
                // A cancellation landed after the read: read again.
                Ok(None) => continue,
                Err(AppError::Store(StoreError::IdempotencyKeyExists { stored })) => {
                    return Ok(Outcome::Replayed(
                        self.stored_reply(company, idem, stored).await?,
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        Err(AppError::Conflict)
    }
}
