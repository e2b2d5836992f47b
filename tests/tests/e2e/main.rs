//! The end-to-end tests, one module per subject, in one test binary: one
//! link and one run with every test on the harness's threads, instead of a
//! binary each. The request-span test keeps a binary of its own (see there).

#[path = "../common/mod.rs"]
mod common;

mod api_errors;
mod api_handler;
mod dynamodb_calls;
mod edi_acknowledgments;
mod edi_attacks;
mod edi_local;
mod event_webhooks;
mod fuzz;
mod http_races;
mod idempotency_keys;
mod intake;
mod lambda_events_dynamodb;
mod metrics;
mod notify_worker;
mod openapi;
mod races;
mod reason_codes;
mod redrive;
mod sam_template;
mod shopify_graphql;
mod store_refs;
mod store_sync_platforms;
mod webhook_addresses;
mod x12_validator;
