//! How values are kept in the embedded store's columns: documents as JSON,
//! timestamps fixed-width (so that text order is time order), and SQLite's
//! errors as the store's.

use serde::de::DeserializeOwned;

use service::store::StoreError;

pub(crate) use service::store::timestamp as ts;

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(StoreError::backend)
}

pub(crate) fn from_json<T: DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(StoreError::backend)
}

pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    StoreError::backend(e)
}
