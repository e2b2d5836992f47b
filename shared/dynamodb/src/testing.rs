//! For tests: a fresh table on a local DynamoDB endpoint (ministack).
//! Refuses any endpoint that is not on loopback, so it can never create
//! tables in a real account.
// Behind the `testing` feature: other crates' tests enable it, no binary does.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::DynamoStore;

/// Panics when the endpoint is missing or not local, or the table cannot be
/// created: a test cannot go on without its store.
pub async fn fresh_store() -> DynamoStore {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    if endpoint.is_empty() {
        panic!(
            "AWS_ENDPOINT_URL is not set: the DynamoDB store tests need ministack. \
             Run them through the project's test script: `scripts/ministack.sh test` \
             (or `eval \"$(scripts/ministack.sh start)\"` once, then `cargo test`)."
        );
    }
    if !(endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:")) {
        panic!(
            "AWS_ENDPOINT_URL={endpoint} is not a local endpoint; refusing to create test tables there"
        );
    }
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let table = format!(
        "t-{}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let store = DynamoStore::from_env(table).await;
    store
        .ensure_table()
        .await
        .unwrap_or_else(|e| panic!("creating the test table at {endpoint}: {e}"));
    store
}

/// A fresh table whose client counts every DynamoDB operation it sends and
/// the capacity each consumed (it asks for `ReturnConsumedCapacity=TOTAL`).
pub async fn counted_store() -> (DynamoStore, Counter) {
    let plain = fresh_store().await;
    let counter = Counter::default();
    let conf = plain
        .client()
        .config()
        .to_builder()
        .interceptor(counter.clone())
        .build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), plain.table());
    (store, counter)
}

/// One operation as sent: its name (`GetItem`, ...) and the capacity units
/// the table reported (read or write, indexes included; 0 when refused),
/// `None` when the answer carried none (ministack reports none for
/// BatchGetItem).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub op: String,
    pub units: Option<f64>,
}

/// A read as sent: its operation and whether it asked for a strongly
/// consistent read (`ConsistentRead=true`; for a BatchGetItem, on every
/// table it reads; TransactGetItems always is).
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub op: &'static str,
    pub consistent: bool,
}

/// Records the operations of one client, for tests that count round trips,
/// and the reads it sent, for tests that check their consistency.
#[derive(Debug, Clone, Default)]
pub struct Counter {
    calls: std::sync::Arc<std::sync::Mutex<Vec<Call>>>,
    reads: std::sync::Arc<std::sync::Mutex<Vec<Read>>>,
}

impl Counter {
    /// The operations since the last `take`, oldest first.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The reads since the last `take_reads`, oldest first.
    pub fn take_reads(&self) -> Vec<Read> {
        std::mem::take(&mut *self.reads.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

mod intercept {
    use aws_sdk_dynamodb::config::interceptors::{
        BeforeSerializationInterceptorContextMut, FinalizerInterceptorContextRef,
    };
    use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
    use aws_sdk_dynamodb::error::BoxError;
    use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
    use aws_sdk_dynamodb::operation::batch_write_item::{
        BatchWriteItemInput, BatchWriteItemOutput,
    };
    use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
    use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
    use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
    use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
    use aws_sdk_dynamodb::operation::scan::{ScanInput, ScanOutput};
    use aws_sdk_dynamodb::operation::transact_get_items::{
        TransactGetItemsInput, TransactGetItemsOutput,
    };
    use aws_sdk_dynamodb::operation::transact_write_items::{
        TransactWriteItemsInput, TransactWriteItemsOutput,
    };
    use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
    use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
    use aws_smithy_runtime_api::client::orchestrator::Metadata;

    use super::{Call, Counter, Read};

    fn total(c: Option<&ConsumedCapacity>) -> Option<f64> {
        c.and_then(|c| c.capacity_units())
    }

    fn sum(cs: &[ConsumedCapacity]) -> Option<f64> {
        (!cs.is_empty()).then(|| cs.iter().filter_map(|c| c.capacity_units()).sum())
    }

    impl Intercept for Counter {
        fn name(&self) -> &'static str {
            "CallCounter"
        }

        fn modify_before_serialization(
            &self,
            ctx: &mut BeforeSerializationInterceptorContextMut<'_>,
            _: &RuntimeComponents,
            _: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let rcc = Some(ReturnConsumedCapacity::Total);
            let input = ctx.input_mut();
            let strong = |c: Option<bool>| c == Some(true);
            let read = if let Some(i) = input.downcast_ref::<GetItemInput>() {
                Some(("GetItem", strong(i.consistent_read)))
            } else if let Some(i) = input.downcast_ref::<QueryInput>() {
                Some(("Query", strong(i.consistent_read)))
            } else if let Some(i) = input.downcast_ref::<ScanInput>() {
                Some(("Scan", strong(i.consistent_read)))
            } else if let Some(i) = input.downcast_ref::<BatchGetItemInput>() {
                let tables = i.request_items.as_ref();
                let all = tables.is_some_and(|t| {
                    !t.is_empty() && t.values().all(|k| strong(k.consistent_read))
                });
                Some(("BatchGetItem", all))
            } else if input.downcast_ref::<TransactGetItemsInput>().is_some() {
                Some(("TransactGetItems", true))
            } else {
                None
            };
            if let Some((op, consistent)) = read {
                self.reads
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Read { op, consistent });
            }
            macro_rules! ask {
                ($($t:ty),*) => {$(
                    if let Some(i) = input.downcast_mut::<$t>() {
                        i.return_consumed_capacity = rcc.clone();
                    }
                )*};
            }
            ask!(
                GetItemInput,
                PutItemInput,
                UpdateItemInput,
                DeleteItemInput,
                QueryInput,
                ScanInput,
                BatchGetItemInput,
                BatchWriteItemInput,
                TransactGetItemsInput,
                TransactWriteItemsInput
            );
            Ok(())
        }

        fn read_after_execution(
            &self,
            ctx: &FinalizerInterceptorContextRef<'_>,
            _: &RuntimeComponents,
            cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let op = cfg
                .load::<Metadata>()
                .map_or_else(|| "?".to_owned(), |m| m.name().to_owned());
            let mut units = Some(0.0);
            if let Some(Ok(out)) = ctx.output_or_error() {
                if let Some(o) = out.downcast_ref::<GetItemOutput>() {
                    units = total(o.consumed_capacity());
                } else if let Some(o) = out.downcast_ref::<PutItemOutput>() {
                    units = total(o.consumed_capacity());
                } else if let Some(o) = out.downcast_ref::<UpdateItemOutput>() {
                    units = total(o.consumed_capacity());
                } else if let Some(o) = out.downcast_ref::<DeleteItemOutput>() {
                    units = total(o.consumed_capacity());
                } else if let Some(o) = out.downcast_ref::<QueryOutput>() {
                    units = total(o.consumed_capacity());
                } else if let Some(o) = out.downcast_ref::<ScanOutput>() {
                    units = total(o.consumed_capacity());
                } else if let Some(o) = out.downcast_ref::<BatchGetItemOutput>() {
                    units = sum(o.consumed_capacity());
                } else if let Some(o) = out.downcast_ref::<BatchWriteItemOutput>() {
                    units = sum(o.consumed_capacity());
                } else if let Some(o) = out.downcast_ref::<TransactGetItemsOutput>() {
                    units = sum(o.consumed_capacity());
                } else if let Some(o) = out.downcast_ref::<TransactWriteItemsOutput>() {
                    units = sum(o.consumed_capacity());
                }
            }
            self.calls
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Call { op, units });
            Ok(())
        }
    }
}
