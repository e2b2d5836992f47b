//! Registering our webhooks over the network (`crate::registration` says
//! which and where): list the store's webhooks, then create, repair or
//! remove ours, through each platform's `Hooks`. Lists and removals are retried like reads; a create is
//! not repeated after an ambiguous failure (the next run lists first).

use domain::Connection;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::PlatformHttp;
use super::http::{BodyLimit, decode, decode_error, read_body};
use crate::platform::Call;
use crate::registration::{
    self as reg, Command, ConnectError, Entry, Listed, Platform, Report, State,
};
use crate::{PlatformError, webhook_secret};

/// Pages of a store's webhook list read at most (a list that never ends
/// is an answer we cannot read).
pub(crate) const MAX_PAGES: u32 = 100;
/// Webhooks asked for per page (WooCommerce's maximum is 100).
pub(crate) const PAGE: usize = 100;

/// A platform's webhook API: list the store's webhooks, create, repair
/// (make sound again; returns the id, which may be new) and remove one.
pub trait Hooks: Sync {
    fn list<'a>(&'a self, s: &'a Store<'a>) -> Call<'a, Vec<Listed>>;
    fn create<'a>(&'a self, s: &'a Store<'a>, topic: &'a str, address: &'a str)
    -> Call<'a, String>;
    fn repair<'a>(
        &'a self,
        s: &'a Store<'a>,
        id: &'a str,
        topic: &'a str,
        address: &'a str,
    ) -> Call<'a, String>;
    fn remove<'a>(&'a self, s: &'a Store<'a>, id: &'a str) -> Call<'a, ()>;
}

/// A company's store, as the operator commands act on it.
pub struct Target<'a> {
    pub platform: Platform,
    pub company_id: &'a str,
    pub connection: &'a Connection,
}

/// Run `command` for the company's store against base URL `base`.
pub async fn run(
    http: &PlatformHttp,
    command: Command,
    target: &Target<'_>,
    base: &Url,
) -> Result<Report, ConnectError> {
    let platform = target.platform.as_str();
    let wanted = reg::wanted(target.platform, base, target.company_id)?;
    // Disconnecting needs only the API credentials.
    let secret = match command {
        Command::Connect | Command::Check => Some(webhook_secret(platform, target.connection)?),
        Command::Disconnect => None,
    };
    let store = Store {
        http,
        platform: target.platform,
        conn: target.connection,
        secret,
    };
    let survey = reg::survey(&wanted, &store.list().await?, base);
    let others = survey.others;
    let (webhooks, connected) = match command {
        Command::Check => {
            let in_place = survey.in_place();
            (survey.entries, in_place)
        }
        Command::Connect => (store.connect(survey.entries).await?, true),
        Command::Disconnect => (store.disconnect(survey.entries).await?, false),
    };
    Ok(Report {
        command,
        company_id: target.company_id.to_owned(),
        platform,
        base_url: base.to_string(),
        connected,
        webhooks,
        other_webhooks: others,
        api_drift: http.api_drift(),
    })
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

    fn hooks(&self) -> &'static dyn Hooks {
        crate::platform::get(self.platform).hooks()
    }

    pub(crate) fn secret(&self) -> Result<&str, PlatformError> {
        self.secret.ok_or(PlatformError::MissingConnection {
            platform: self.name(),
            field: "webhook_secret",
        })
    }

    /// Remove the extra ones, repair the wrong ones, create the missing
    /// ones (in that order: Shopify refuses a second subscription of a
    /// topic at one address).
    async fn connect(&self, mut entries: Vec<Entry>) -> Result<Vec<Entry>, ConnectError> {
        for phase in [State::Extra, State::Wrong, State::Missing] {
            for e in entries.iter_mut().filter(|e| e.state == phase) {
                match (phase, e.id.clone()) {
                    (State::Extra, Some(id)) => {
                        self.remove(&id).await?;
                        e.state = State::Removed;
                    }
                    (State::Wrong, Some(id)) => {
                        e.id = Some(self.repair(&id, &e.topic, &e.address).await?);
                        e.state = State::Repaired;
                    }
                    (State::Missing, _) => {
                        e.id = Some(self.create(&e.topic, &e.address).await?);
                        e.state = State::Created;
                    }
                    _ => {}
                }
            }
        }
        Ok(entries)
    }

    /// Remove every webhook of ours; the missing ones are not reported.
    async fn disconnect(&self, entries: Vec<Entry>) -> Result<Vec<Entry>, ConnectError> {
        let mut removed = Vec::new();
        for mut e in entries.into_iter().filter(|e| e.state != State::Missing) {
            if let Some(id) = &e.id {
                self.remove(id).await?;
                e.state = State::Removed;
                removed.push(e);
            }
        }
        Ok(removed)
    }

    async fn list(&self) -> Result<Vec<Listed>, PlatformError> {
        self.hooks().list(self).await
    }

    async fn create(&self, topic: &str, address: &str) -> Result<String, PlatformError> {
        self.hooks().create(self, topic, address).await
    }

    async fn repair(&self, id: &str, topic: &str, address: &str) -> Result<String, PlatformError> {
        self.hooks().repair(self, id, topic, address).await
    }

    async fn remove(&self, id: &str) -> Result<(), PlatformError> {
        self.hooks().remove(self, id).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bigcommerce::hooks::BcHook;
    use crate::shopify::hooks::ShopifySubscription;
    use crate::woocommerce::hooks::WooHook;
    use serde_json::json;

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
