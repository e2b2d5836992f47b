//! Registering our webhooks over the network (`crate::registration` says
//! which and where): list the store's webhooks, then create, repair or
//! remove ours. Lists and removals are retried like reads; a create is
//! not repeated after an ambiguous failure (the next run lists first).

use domain::Connection;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use super::PlatformHttp;
use super::http::{BodyLimit, decode, decode_error, read_body};
use super::shopify::graphql;
use crate::registration::{
    self as reg, Command, ConnectError, Entry, Listed, Platform, Report, SHOPIFY_CREATE_MUTATION,
    SHOPIFY_DELETE_MUTATION, SHOPIFY_LIST_QUERY, State, WOOCOMMERCE_WEBHOOK_NAME,
};
use crate::{
    PlatformError, access_token, bigcommerce_hooks_url, field, id_string, token_matches,
    webhook_secret, woocommerce_webhooks_url,
};

/// Pages of a store's webhook list read at most (a list that never ends
/// is an answer we cannot read).
const MAX_PAGES: u32 = 100;
/// Webhooks asked for per page (WooCommerce's maximum is 100).
const PAGE: usize = 100;
/// The header BigCommerce sends back with every delivery.
const TOKEN_HEADER: &str = "X-Webhook-Token";

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
    let platform = reg::platform_name(target.platform);
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

struct Store<'a> {
    http: &'a PlatformHttp,
    platform: Platform,
    conn: &'a Connection,
    /// The company's webhook secret (not needed to disconnect).
    secret: Option<&'a str>,
}

impl Store<'_> {
    fn name(&self) -> &'static str {
        reg::platform_name(self.platform)
    }

    fn secret(&self) -> Result<&str, PlatformError> {
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
        match self.platform {
            Platform::Shopify => self.shopify_list().await,
            Platform::WooCommerce => self.woocommerce_list().await,
            Platform::BigCommerce => self.bigcommerce_list().await,
        }
    }

    async fn create(&self, topic: &str, address: &str) -> Result<String, PlatformError> {
        match self.platform {
            Platform::Shopify => self.shopify_create(topic, address).await,
            Platform::WooCommerce => {
                let body = json!({
                    "name": WOOCOMMERCE_WEBHOOK_NAME,
                    "topic": topic,
                    "delivery_url": address,
                    "secret": self.secret()?,
                    "status": "active",
                });
                let url = woocommerce_webhooks_url(self.conn, None)?;
                let hook: WooHook = self
                    .send_once(self.woocommerce(reqwest::Method::POST, &url, Some(&body))?)
                    .await?;
                Ok(hook.id)
            }
            Platform::BigCommerce => {
                let body = json!({
                    "scope": topic,
                    "destination": address,
                    "is_active": true,
                    "headers": { TOKEN_HEADER: self.secret()? },
                });
                let url = bigcommerce_hooks_url(self.conn, None)?;
                let hook: BcOne = self
                    .send_once(self.bigcommerce(reqwest::Method::POST, &url, Some(&body))?)
                    .await?;
                Ok(hook.data.id)
            }
        }
    }

    /// Make a wrong webhook sound; returns its id (Shopify's is new).
    async fn repair(&self, id: &str, topic: &str, address: &str) -> Result<String, PlatformError> {
        match self.platform {
            // A subscription's format, filter and fields are fixed at its
            // creation as far as we rely on: recreate it.
            Platform::Shopify => {
                self.remove(id).await?;
                self.shopify_create(topic, address).await
            }
            Platform::WooCommerce => {
                // Its secret cannot be read back, so it is set again too.
                let body = json!({ "status": "active", "secret": self.secret()? });
                let url = woocommerce_webhooks_url(self.conn, Some(id))?;
                self.send_json::<Value>(self.woocommerce(
                    reqwest::Method::PUT,
                    &url,
                    Some(&body),
                )?)
                .await?;
                Ok(id.to_owned())
            }
            Platform::BigCommerce => {
                let body =
                    json!({ "is_active": true, "headers": { TOKEN_HEADER: self.secret()? } });
                let url = bigcommerce_hooks_url(self.conn, Some(id))?;
                self.send_json::<Value>(self.bigcommerce(
                    reqwest::Method::PUT,
                    &url,
                    Some(&body),
                )?)
                .await?;
                Ok(id.to_owned())
            }
        }
    }

    async fn remove(&self, id: &str) -> Result<(), PlatformError> {
        let request = match self.platform {
            Platform::Shopify => return self.shopify_delete(id).await,
            Platform::WooCommerce => {
                let mut url = woocommerce_webhooks_url(self.conn, Some(id))?;
                url.query_pairs_mut().append_pair("force", "true");
                self.woocommerce(reqwest::Method::DELETE, &url, None)?
            }
            Platform::BigCommerce => {
                let url = bigcommerce_hooks_url(self.conn, Some(id))?;
                self.bigcommerce(reqwest::Method::DELETE, &url, None)?
            }
        };
        match self.send_json::<Value>(request).await {
            // Gone already: what removing it wanted.
            Ok(_) | Err(PlatformError::Rejected { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    // The requests: a method, a URL built by the crate's builders, the
    // platform's credentials and a JSON body.

    fn woocommerce(
        &self,
        method: reqwest::Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<Request, PlatformError> {
        let platform = self.name();
        Ok(Request {
            method,
            url: url.clone(),
            auth: Auth::Basic {
                key: field(platform, "consumer_key", &self.conn.consumer_key)?.to_owned(),
                secret: field(platform, "consumer_secret", &self.conn.consumer_secret)?.to_owned(),
            },
            body: body.cloned(),
        })
    }

    fn bigcommerce(
        &self,
        method: reqwest::Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<Request, PlatformError> {
        Ok(Request {
            method,
            url: url.clone(),
            auth: Auth::Token(access_token(self.name(), self.conn)?.to_owned()),
            body: body.cloned(),
        })
    }

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

    async fn send_json<T: DeserializeOwned>(&self, r: Request) -> Result<Option<T>, PlatformError> {
        match self.send(self.http, r).await? {
            Some(bytes) => decode(self.name(), &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// A create: not repeated after an ambiguous failure.
    async fn send_once<T: DeserializeOwned>(&self, r: Request) -> Result<T, PlatformError> {
        let bytes = self.send(&self.http.for_non_idempotent(), r).await?;
        decode(self.name(), bytes.as_deref().unwrap_or_default())
    }

    // Shopify: the Admin GraphQL API.

    async fn shopify_list(&self) -> Result<Vec<Listed>, PlatformError> {
        let mut after: Option<String> = None;
        let mut out = Vec::new();
        for _ in 0..MAX_PAGES {
            let data: ShopifySubscriptions = graphql(
                self.http,
                self.conn,
                SHOPIFY_LIST_QUERY,
                json!({ "after": after }),
            )
            .await?;
            let page = data.webhook_subscriptions;
            out.extend(page.nodes.into_iter().map(ShopifySubscription::listed));
            match (page.page_info.has_next_page, page.page_info.end_cursor) {
                (true, Some(c)) if after.as_deref() != Some(c.as_str()) => after = Some(c),
                _ => return Ok(out),
            }
        }
        Err(too_many_pages(self.name()))
    }

    async fn shopify_create(&self, topic: &str, address: &str) -> Result<String, PlatformError> {
        let data: ShopifyCreate = graphql(
            &self.http.for_non_idempotent(),
            self.conn,
            SHOPIFY_CREATE_MUTATION,
            reg::shopify_create_variables(topic, address),
        )
        .await?;
        let payload = shopify_payload(
            "webhookSubscriptionCreate",
            data.webhook_subscription_create,
        )?;
        payload.webhook_subscription.map(|s| s.id).ok_or_else(|| {
            decode_error(
                self.name(),
                "webhookSubscriptionCreate returned no subscription",
            )
        })
    }

    async fn shopify_delete(&self, id: &str) -> Result<(), PlatformError> {
        let data: ShopifyDelete = graphql(
            self.http,
            self.conn,
            SHOPIFY_DELETE_MUTATION,
            json!({ "id": id }),
        )
        .await?;
        shopify_payload(
            "webhookSubscriptionDelete",
            data.webhook_subscription_delete,
        )?;
        Ok(())
    }

    // WooCommerce and BigCommerce: REST lists, a page at a time.

    async fn woocommerce_list(&self) -> Result<Vec<Listed>, PlatformError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut url = woocommerce_webhooks_url(self.conn, None)?;
            url.query_pairs_mut()
                .append_pair("per_page", &PAGE.to_string())
                .append_pair("page", &page.to_string());
            let hooks: Vec<WooHook> = self
                .send_json(self.woocommerce(reqwest::Method::GET, &url, None)?)
                .await?
                .unwrap_or_default();
            let n = hooks.len();
            out.extend(hooks.into_iter().map(WooHook::listed));
            if n < PAGE {
                return Ok(out);
            }
        }
        Err(too_many_pages(self.name()))
    }

    async fn bigcommerce_list(&self) -> Result<Vec<Listed>, PlatformError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut url = bigcommerce_hooks_url(self.conn, None)?;
            url.query_pairs_mut()
                .append_pair("limit", &PAGE.to_string())
                .append_pair("page", &page.to_string());
            let list: BcList = self
                .send_json(self.bigcommerce(reqwest::Method::GET, &url, None)?)
                .await?
                .unwrap_or_default();
            let n = list.data.len();
            out.extend(list.data.into_iter().map(|h| h.listed(self.secret)));
            let last = match list
                .meta
                .and_then(|m| m.pagination)
                .and_then(|p| p.total_pages)
            {
                Some(total) => u64::from(page) >= total,
                None => n < PAGE,
            };
            if last {
                return Ok(out);
            }
        }
        Err(too_many_pages(self.name()))
    }
}

enum Auth {
    Basic { key: String, secret: String },
    Token(String),
}

struct Request {
    method: reqwest::Method,
    url: Url,
    auth: Auth,
    body: Option<Value>,
}

fn too_many_pages(platform: &'static str) -> PlatformError {
    decode_error(
        platform,
        &format!("the webhook list goes on beyond {MAX_PAGES} pages"),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShopifySubscriptions {
    webhook_subscriptions: ShopifyPage,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShopifyPage {
    nodes: Vec<ShopifySubscription>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShopifySubscription {
    id: String,
    topic: String,
    uri: String,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    include_fields: Vec<String>,
}

impl ShopifySubscription {
    fn listed(self) -> Listed {
        let mut problems = Vec::new();
        if let Some(f) = self.format.as_deref().filter(|f| *f != "JSON") {
            problems.push(format!("format {f}, not JSON"));
        }
        if let Some(f) = self.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            problems.push(format!("filtered ({f}): some deliveries are not sent"));
        }
        if !self.include_fields.is_empty() {
            problems.push("only some fields are included".to_owned());
        }
        Listed {
            id: self.id,
            topic: self.topic,
            address: self.uri,
            problems,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShopifyCreate {
    webhook_subscription_create: Option<ShopifyPayload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShopifyDelete {
    webhook_subscription_delete: Option<ShopifyPayload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShopifyPayload {
    #[serde(default)]
    webhook_subscription: Option<IdOnly>,
    #[serde(default)]
    user_errors: Vec<UserError>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct UserError {
    message: String,
}

fn shopify_payload(op: &str, p: Option<ShopifyPayload>) -> Result<ShopifyPayload, PlatformError> {
    let p = p.ok_or_else(|| {
        decode_error(
            crate::shopify::PLATFORM,
            &format!("{op} returned no payload"),
        )
    })?;
    if p.user_errors.is_empty() {
        return Ok(p);
    }
    Err(PlatformError::Rejected {
        platform: crate::shopify::PLATFORM,
        status: 200,
        body: format!(
            "{op}: {}",
            p.user_errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    })
}

#[derive(Deserialize)]
struct WooHook {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    delivery_url: String,
}

impl WooHook {
    fn listed(self) -> Listed {
        let problems = if self.status == "active" {
            vec![]
        } else {
            vec![format!("status {}, not active", self.status)]
        };
        Listed {
            id: self.id,
            topic: self.topic,
            address: self.delivery_url,
            problems,
        }
    }
}

#[derive(Deserialize, Default)]
struct BcList {
    #[serde(default)]
    data: Vec<BcHook>,
    #[serde(default)]
    meta: Option<BcMeta>,
}

#[derive(Deserialize)]
struct BcMeta {
    #[serde(default)]
    pagination: Option<BcPagination>,
}

#[derive(Deserialize)]
struct BcPagination {
    #[serde(default)]
    total_pages: Option<u64>,
}

#[derive(Deserialize)]
struct BcOne {
    data: BcHook,
}

#[derive(Deserialize)]
struct BcHook {
    #[serde(deserialize_with = "id_string")]
    id: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    destination: String,
    #[serde(default)]
    is_active: Option<bool>,
    /// The custom headers sent with each delivery; our token among them.
    #[serde(default)]
    headers: Option<serde_json::Map<String, Value>>,
}

impl BcHook {
    /// Sound when active and sending the company's secret as its token
    /// (checked only when the list shows the headers and we know the
    /// secret).
    fn listed(self, secret: Option<&str>) -> Listed {
        let mut problems = Vec::new();
        if self.is_active == Some(false) {
            problems.push("inactive".to_owned());
        }
        if let (Some(headers), Some(secret)) = (&self.headers, secret) {
            let token = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(TOKEN_HEADER))
                .map(|(_, v)| v.as_str().unwrap_or_default());
            match token {
                None => problems.push(format!("no {TOKEN_HEADER} header")),
                Some(t) if !token_matches(secret, t) => {
                    problems.push(format!(
                        "{TOKEN_HEADER} is not the company's webhook secret"
                    ));
                }
                Some(_) => {}
            }
        }
        Listed {
            id: self.id,
            topic: self.scope,
            address: self.destination,
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
