//! WooCommerce's webhook subscriptions (the deliveries our intake gets)
//! over its REST API (`/wp-json/wc/v3/webhooks`).

use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::WooCommerce;
use super::registration::WOOCOMMERCE_WEBHOOK_NAME;
use super::webhooks_url;
use crate::PlatformError;
use crate::connection::field;
use crate::http::Call;
use crate::inbound::id_string;
use crate::subscriptions::{
    Auth, Listed, MAX_PAGES, PAGE, Request, Store, Subscriptions, too_many_pages,
};

impl Subscriptions for WooCommerce {
    fn list<'a>(&'a self, s: &'a Store<'a>) -> Call<'a, Vec<Listed>> {
        Box::pin(s.woocommerce_list())
    }

    fn create<'a>(
        &'a self,
        s: &'a Store<'a>,
        topic: &'a str,
        address: &'a str,
    ) -> Call<'a, String> {
        Box::pin(async move {
            let body = json!({
                "name": WOOCOMMERCE_WEBHOOK_NAME,
                "topic": topic,
                "delivery_url": address,
                "secret": s.secret()?,
                "status": "active",
            });
            let url = webhooks_url(s.conn, None)?;
            let hook: WooHook = s
                .send_once(s.woocommerce(reqwest::Method::POST, &url, Some(&body))?)
                .await?;
            Ok(hook.id)
        })
    }

    fn repair<'a>(
        &'a self,
        s: &'a Store<'a>,
        id: &'a str,
        _topic: &'a str,
        _address: &'a str,
    ) -> Call<'a, String> {
        Box::pin(async move {
            // Its secret cannot be read back, so it is set again too.
            let body = json!({ "status": "active", "secret": s.secret()? });
            let url = webhooks_url(s.conn, Some(id))?;
            s.send_json::<Value>(s.woocommerce(reqwest::Method::PUT, &url, Some(&body))?)
                .await?;
            Ok(id.to_owned())
        })
    }

    fn remove<'a>(&'a self, s: &'a Store<'a>, id: &'a str) -> Call<'a, ()> {
        Box::pin(async move {
            let mut url = webhooks_url(s.conn, Some(id))?;
            url.query_pairs_mut().append_pair("force", "true");
            s.remove_rest(s.woocommerce(reqwest::Method::DELETE, &url, None)?)
                .await
        })
    }
}

impl Store<'_> {
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

    async fn woocommerce_list(&self) -> Result<Vec<Listed>, PlatformError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut url = webhooks_url(self.conn, None)?;
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
}

#[derive(Deserialize)]
pub(crate) struct WooHook {
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
    pub(crate) fn listed(self) -> Listed {
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
