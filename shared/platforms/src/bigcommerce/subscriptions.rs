//! BigCommerce's webhook subscriptions (the deliveries our intake gets)
//! over its V3 REST API (`/v3/hooks`).

use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::{BigCommerce, TOKEN_HEADER, hooks_url};
use crate::PlatformError;
use crate::connection::access_token;
use crate::http::Call;
use crate::inbound::id_string;
use crate::signature::token_matches;
use crate::subscriptions::{
    Auth, Listed, MAX_PAGES, PAGE, Request, Store, Subscriptions, too_many_pages,
};

impl Subscriptions for BigCommerce {
    fn list<'a>(&'a self, s: &'a Store<'a>) -> Call<'a, Vec<Listed>> {
        Box::pin(s.bigcommerce_list())
    }

    fn create<'a>(
        &'a self,
        s: &'a Store<'a>,
        topic: &'a str,
        address: &'a str,
    ) -> Call<'a, String> {
        Box::pin(async move {
            let body = json!({
                "scope": topic,
                "destination": address,
                "is_active": true,
                "headers": { TOKEN_HEADER: s.secret()? },
            });
            let url = hooks_url(s.conn, None)?;
            let hook: BcOne = s
                .send_once(s.bigcommerce(reqwest::Method::POST, &url, Some(&body))?)
                .await?;
            Ok(hook.data.id)
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
            let body = json!({ "is_active": true, "headers": { TOKEN_HEADER: s.secret()? } });
            let url = hooks_url(s.conn, Some(id))?;
            s.send_json::<Value>(s.bigcommerce(reqwest::Method::PUT, &url, Some(&body))?)
                .await?;
            Ok(id.to_owned())
        })
    }

    fn remove<'a>(&'a self, s: &'a Store<'a>, id: &'a str) -> Call<'a, ()> {
        Box::pin(async move {
            let url = hooks_url(s.conn, Some(id))?;
            s.remove_rest(s.bigcommerce(reqwest::Method::DELETE, &url, None)?)
                .await
        })
    }
}

impl Store<'_> {
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

    async fn bigcommerce_list(&self) -> Result<Vec<Listed>, PlatformError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut url = hooks_url(self.conn, None)?;
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

#[derive(Deserialize, Default)]
pub(crate) struct BcList {
    #[serde(default)]
    data: Vec<BcHook>,
    #[serde(default)]
    meta: Option<BcMeta>,
}

#[derive(Deserialize)]
pub(crate) struct BcMeta {
    #[serde(default)]
    pagination: Option<BcPagination>,
}

#[derive(Deserialize)]
pub(crate) struct BcPagination {
    #[serde(default)]
    total_pages: Option<u64>,
}

#[derive(Deserialize)]
pub(crate) struct BcOne {
    data: BcHook,
}

#[derive(Deserialize)]
pub(crate) struct BcHook {
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
    pub(crate) fn listed(self, secret: Option<&str>) -> Listed {
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
