//! Shopify's webhook subscriptions (the deliveries our intake gets) over
//! the Admin GraphQL API.

use serde::Deserialize;
use serde_json::json;

use super::Shopify;
use super::client::graphql;
use super::registration::{
    SHOPIFY_CREATE_MUTATION, SHOPIFY_DELETE_MUTATION, SHOPIFY_LIST_QUERY, shopify_create_variables,
};
use crate::PlatformError;
use crate::http::Call;
use crate::http::decode_error;
use crate::subscriptions::{Listed, MAX_PAGES, Store, Subscriptions, too_many_pages};

impl Subscriptions for Shopify {
    fn list<'a>(&'a self, s: &'a Store<'a>) -> Call<'a, Vec<Listed>> {
        Box::pin(s.shopify_list())
    }

    fn create<'a>(
        &'a self,
        s: &'a Store<'a>,
        topic: &'a str,
        address: &'a str,
    ) -> Call<'a, String> {
        Box::pin(s.shopify_create(topic, address))
    }

    // A subscription's format, filter and fields are fixed at its
    // creation as far as we rely on: recreate it.
    fn repair<'a>(
        &'a self,
        s: &'a Store<'a>,
        id: &'a str,
        topic: &'a str,
        address: &'a str,
    ) -> Call<'a, String> {
        Box::pin(async move {
            s.shopify_delete(id).await?;
            s.shopify_create(topic, address).await
        })
    }

    fn remove<'a>(&'a self, s: &'a Store<'a>, id: &'a str) -> Call<'a, ()> {
        Box::pin(s.shopify_delete(id))
    }
}

impl Store<'_> {
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
            shopify_create_variables(topic, address),
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
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShopifySubscriptions {
    webhook_subscriptions: ShopifyPage,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShopifyPage {
    nodes: Vec<ShopifySubscription>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShopifySubscription {
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
    pub(crate) fn listed(self) -> Listed {
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
pub(crate) struct ShopifyCreate {
    webhook_subscription_create: Option<ShopifyPayload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShopifyDelete {
    webhook_subscription_delete: Option<ShopifyPayload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShopifyPayload {
    #[serde(default)]
    webhook_subscription: Option<IdOnly>,
    #[serde(default)]
    user_errors: Vec<UserError>,
}

#[derive(Deserialize)]
pub(crate) struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
pub(crate) struct UserError {
    message: String,
}

fn shopify_payload(op: &str, p: Option<ShopifyPayload>) -> Result<ShopifyPayload, PlatformError> {
    let p = p.ok_or_else(|| decode_error(super::PLATFORM, &format!("{op} returned no payload")))?;
    if p.user_errors.is_empty() {
        return Ok(p);
    }
    Err(PlatformError::Rejected {
        platform: super::PLATFORM,
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
