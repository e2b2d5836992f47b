//! The HTTP layer: the API, webhook and web-app handlers, each a function
//! from a `lambda_http::Request` to a response, so the Lambda functions and
//! `dropship serve` host the same code. Problems are RFC 9457
//! problem+json; views are what clients see of orders; replies kept under
//! idempotency keys are rendered here, never in the service.
//!
//! (The package is `handlers`: `http` is the HTTP types crate everything
//! here depends on.)

pub mod api;
pub mod assets;
pub mod intake;
pub mod response;
pub mod scorecard;
pub(crate) mod views;
