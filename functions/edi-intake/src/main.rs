//! The `edi-intake` Lambda entry point: the app once per execution
//! environment (its clients built on first use), then one `invoked` per S3
//! event or schedule.

use std::sync::Arc;

use dynamodb::DynamoStore;
use edi_intake::{Invocation, invoked};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use s3::S3Edi;
use service::Core;
use service::edi::{EdiPorts, EdiService};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let settings = aws::Settings::from_env();
    settings.init_logging();
    let sdk = aws::sdk_config(&settings).await;
    let table = settings.table_name()?;
    let our_id =
        edi::IsaId::new("ZZ", &settings.isa_id).map_err(|e| format!("DROPSHIP_ISA_ID: {e}"))?;
    let store = DynamoStore::on_first_use(&sdk, table);
    // Each event names its bucket; the client is shared.
    let s3 = S3Edi::on_first_use(&sdk, "");
    let ports = EdiPorts {
        our_id,
        numbers: Arc::new(store.clone()),
        sent: Arc::new(store.clone()),
        ack_window: service::edi::DEFAULT_ACK_WINDOW,
        // 997s are written by `handle`, to the event's bucket.
        outbox: Arc::new(s3.clone()),
    };
    let core = Core::new(store).with_metrics(aws::emf::metrics());
    let app = EdiService::new(core, ports);
    let (app, s3) = (&app, &s3);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Invocation>| async move {
            invoked(app, s3, event.payload).await.map_err(Error::from)
        },
    ))
    .await
}
