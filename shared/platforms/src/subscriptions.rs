//! A store's webhook subscriptions as its API shows them (`Listed`), and,
//! with the `client` feature, the trait each platform's subscription calls
//! implement (`Subscriptions`) and the store handle they go through: its
//! connection, secret and requests. Lists and removals are retried like
//! reads; a create is not repeated after an ambiguous failure (the next run
//! lists first). `registration` says which subscriptions are wanted.

#[cfg(feature = "client")]
pub use calls::*;

/// A webhook as the store lists it. `problems` are what the platform's
/// client found wrong with it as one of ours (inactive, not JSON, a token
/// that is not the company's secret); empty when it is sound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub topic: String,
    pub address: String,
    pub problems: Vec<String>,
}

#[cfg(feature = "client")]
mod calls {
    use domain::{Connection, Platform};
    use serde::de::DeserializeOwned;
    use serde_json::Value;
    use url::Url;

    use super::Listed;
    use crate::PlatformError;
    use crate::http::{BodyLimit, Call, PlatformHttp, decode, decode_error, read_body};

    /// Pages of a store's webhook list read at most (a list that never ends
    /// is an answer we cannot read).
    pub(crate) const MAX_PAGES: u32 = 100;
    /// Webhooks asked for per page (WooCommerce's maximum is 100).
    pub(crate) const PAGE: usize = 100;

    /// A platform's webhook-subscription API: list the store's webhooks,
    /// create, repair (make sound again; returns the id, which may be new)
    /// and remove one.
    pub trait Subscriptions: Sync {
        fn list<'a>(&'a self, s: &'a Store<'a>) -> Call<'a, Vec<Listed>>;
        fn create<'a>(
            &'a self,
            s: &'a Store<'a>,
            topic: &'a str,
            address: &'a str,
        ) -> Call<'a, String>;
        fn repair<'a>(
            &'a self,
            s: &'a Store<'a>,
            id: &'a str,
            topic: &'a str,
            address: &'a str,
        ) -> Call<'a, String>;
        fn remove<'a>(&'a self, s: &'a Store<'a>, id: &'a str) -> Call<'a, ()>;
    }

    /// A company's store as the webhook calls reach it.
    pub struct Store<'a> {
        pub(crate) http: &'a PlatformHttp,
        pub(crate) platform: Platform,
        pub(crate) conn: &'a Connection,
        /// The company's webhook secret (not needed to disconnect).
        pub(crate) secret: Option<&'a str>,
    }

    impl Store<'_> {
        pub(crate) fn name(&self) -> &'static str {
            self.platform.as_str()
        }

        pub(crate) fn secret(&self) -> Result<&str, PlatformError> {
            self.secret.ok_or(PlatformError::MissingConnection {
                platform: self.name(),
                field: "webhook_secret",
            })
        }

        /// Remove a webhook over REST: one already gone is what removing it wanted.
        pub(crate) async fn remove_rest(&self, request: Request) -> Result<(), PlatformError> {
            match self.send_json::<Value>(request).await {
                Ok(_) | Err(PlatformError::Rejected { status: 404, .. }) => Ok(()),
                Err(e) => Err(e),
            }
        }

        // The requests: a method, a URL built by the crate's builders, the
        // platform's credentials and a JSON body.

        /// Send, retrying what the client retries; `None` for an empty body.
        async fn send(
            &self,
            http: &PlatformHttp,
            r: Request,
        ) -> Result<Option<Vec<u8>>, PlatformError> {
            let platform = self.name();
            let resp = http
                .send(platform, |c| {
                    let mut b = c
                        .request(r.method.clone(), r.url.clone())
                        .header("Accept", "application/json");
                    b = match &r.auth {
                        Auth::Basic { key, secret } => b.basic_auth(key, Some(secret)),
                        Auth::Token(t) => b.header("X-Auth-Token", t),
                    };
                    if let Some(body) = &r.body {
                        b = b.json(body);
                    }
                    b
                })
                .await?;
            let bytes = read_body(platform, resp, BodyLimit::Webhooks).await?;
            Ok((!bytes.is_empty()).then_some(bytes))
        }

        pub(crate) async fn send_json<T: DeserializeOwned>(
            &self,
            r: Request,
        ) -> Result<Option<T>, PlatformError> {
            match self.send(self.http, r).await? {
                Some(bytes) => decode(self.name(), &bytes).map(Some),
                None => Ok(None),
            }
        }

        /// A create: not repeated after an ambiguous failure.
        pub(crate) async fn send_once<T: DeserializeOwned>(
            &self,
            r: Request,
        ) -> Result<T, PlatformError> {
            let bytes = self.send(&self.http.for_non_idempotent(), r).await?;
            decode(self.name(), bytes.as_deref().unwrap_or_default())
        }
    }

    pub(crate) enum Auth {
        Basic { key: String, secret: String },
        Token(String),
    }

    pub(crate) struct Request {
        pub(crate) method: reqwest::Method,
        pub(crate) url: Url,
        pub(crate) auth: Auth,
        pub(crate) body: Option<Value>,
    }

    pub(crate) fn too_many_pages(platform: &'static str) -> PlatformError {
        decode_error(
            platform,
            &format!("the webhook list goes on beyond {MAX_PAGES} pages"),
        )
    }
}

#[cfg(all(test, feature = "client"))]
mod tests {
    use crate::bigcommerce::subscriptions::BcHook;
    use crate::shopify::subscriptions::ShopifySubscription;
    use crate::woocommerce::subscriptions::WooHook;
    use serde_json::{Value, json};

    #[test]
    fn listed_webhooks_say_what_is_wrong() {
        let sub: ShopifySubscription = serde_json::from_value(json!({
            "id": "gid://shopify/WebhookSubscription/1", "topic": "ORDERS_UPDATED",
            "uri": "https://x/webhooks/shopify", "format": "XML", "filter": "id:1", "includeFields": ["id"]
        }))
        .unwrap();
        assert_eq!(sub.listed().problems.len(), 3);
        let woo: WooHook = serde_json::from_value(json!({
            "id": 7, "topic": "order.updated", "status": "disabled", "delivery_url": "https://x/"
        }))
        .unwrap();
        let l = woo.listed();
        assert_eq!(
            (l.id.as_str(), l.problems.as_slice()),
            ("7", &["status disabled, not active".to_owned()][..])
        );
        let bc = |headers: Value| -> BcHook {
            serde_json::from_value(json!({
                "id": 9, "scope": "store/order/updated", "destination": "https://x/",
                "is_active": true, "headers": headers
            }))
            .unwrap()
        };
        assert!(
            bc(json!({"x-webhook-token": "s3cret"}))
                .listed(Some("s3cret"))
                .problems
                .is_empty()
        );
        let wrong = bc(json!({"X-Webhook-Token": "old"})).listed(Some("s3cret"));
        assert_eq!(
            wrong.problems,
            ["X-Webhook-Token is not the company's webhook secret"]
        );
        assert!(
            !wrong.problems.concat().contains("old"),
            "never the token itself"
        );
        assert_eq!(
            bc(json!({})).listed(Some("s3cret")).problems,
            ["no X-Webhook-Token header"]
        );
        assert!(
            bc(Value::Null).listed(Some("s3cret")).problems.is_empty(),
            "headers not shown"
        );
        assert!(
            bc(json!({})).listed(None).problems.is_empty(),
            "not checked without the secret"
        );
    }
}
