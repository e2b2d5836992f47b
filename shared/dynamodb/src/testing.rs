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

/// Records the operations of one client, for tests that count round trips.
#[derive(Debug, Clone, Default)]
pub struct Counter(std::sync::Arc<std::sync::Mutex<Vec<Call>>>);

impl Counter {
    /// The operations since the last `take`, oldest first.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
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

    use super::{Call, Counter};

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
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Call { op, units });
            Ok(())
        }
    }
}
