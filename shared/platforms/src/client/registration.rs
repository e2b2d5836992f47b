//! Registering our webhooks over the network (`crate::registration` says
//! which and where): list the store's webhook subscriptions, then create,
//! repair or remove ours, through the platform's `Subscriptions` as the
//! registry gives it.

use domain::Connection;
use url::Url;

use crate::connection::webhook_secret;
use crate::http::PlatformHttp;
use crate::registration::{self as reg, Command, ConnectError, Entry, Platform, Report, State};
use crate::registry;
use crate::subscriptions::{Store, Subscriptions};

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
    let store_platform = registry::get(target.platform);
    let wanted = reg::wanted(store_platform, base, target.company_id)?;
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
    let calls = Calls {
        store,
        api: store_platform.subscriptions(),
    };
    let survey = reg::survey(&wanted, &calls.api.list(&calls.store).await?, base);
    let others = survey.others;
    let (webhooks, connected) = match command {
        Command::Check => {
            let in_place = survey.in_place();
            (survey.entries, in_place)
        }
        Command::Connect => (calls.connect(survey.entries).await?, true),
        Command::Disconnect => (calls.disconnect(survey.entries).await?, false),
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

/// A store and its platform's subscription calls.
struct Calls<'a> {
    store: Store<'a>,
    api: &'static dyn Subscriptions,
}

impl Calls<'_> {
    /// Remove the extra ones, repair the wrong ones, create the missing
    /// ones (in that order: Shopify refuses a second subscription of a
    /// topic at one address).
    async fn connect(&self, mut entries: Vec<Entry>) -> Result<Vec<Entry>, ConnectError> {
        for phase in [State::Extra, State::Wrong, State::Missing] {
            for e in entries.iter_mut().filter(|e| e.state == phase) {
                match (phase, e.id.clone()) {
                    (State::Extra, Some(id)) => {
                        self.api.remove(&self.store, &id).await?;
                        e.state = State::Removed;
                    }
                    (State::Wrong, Some(id)) => {
                        e.id = Some(
                            self.api
                                .repair(&self.store, &id, &e.topic, &e.address)
                                .await?,
                        );
                        e.state = State::Repaired;
                    }
                    (State::Missing, _) => {
                        e.id = Some(self.api.create(&self.store, &e.topic, &e.address).await?);
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
                self.api.remove(&self.store, id).await?;
                e.state = State::Removed;
                removed.push(e);
            }
        }
        Ok(removed)
    }
}
