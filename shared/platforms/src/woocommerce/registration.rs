//! WooCommerce, registration: the topic we register and our webhooks' name.

/// The WooCommerce topic the intake acts on (`woocommerce::parse`).
pub const WOOCOMMERCE_TOPICS: [&str; 1] = ["order.updated"];

/// The name our WooCommerce webhooks are given (shown in its admin).
pub const WOOCOMMERCE_WEBHOOK_NAME: &str = "Dropship order cancellations";
