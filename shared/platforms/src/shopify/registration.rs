//! Shopify, registration: the topics we subscribe to and the GraphQL
//! documents that list, create and delete subscriptions.

/// The Shopify topics the intake acts on (`shopify::parse`), as
/// `webhookSubscriptionCreate` names them.
pub const SHOPIFY_TOPICS: [&str; 4] = [
    "ORDERS_CANCELLED",
    "ORDERS_UPDATED",
    "ORDERS_EDITED",
    "REFUNDS_CREATE",
];

/// Lists the app's webhook subscriptions of the shop, a page at a time.
pub const SHOPIFY_LIST_QUERY: &str = r#"query DropshipWebhookSubscriptions($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    nodes {
      id
      topic
      uri
      format
      filter
      includeFields
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}"#;

pub const SHOPIFY_CREATE_MUTATION: &str = r#"mutation DropshipWebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription {
      id
      topic
      uri
    }
    userErrors {
      field
      message
    }
  }
}"#;

pub const SHOPIFY_DELETE_MUTATION: &str = r#"mutation DropshipWebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors {
      field
      message
    }
  }
}"#;

/// The variables of `SHOPIFY_CREATE_MUTATION`: `uri`, as 2026-10 has it
/// (`callbackUrl` is deprecated), and JSON, which the intake parses.
pub fn shopify_create_variables(topic: &str, address: &str) -> serde_json::Value {
    serde_json::json!({
        "topic": topic,
        "webhookSubscription": { "uri": address, "format": "JSON" },
    })
}
