//! The mail port over Amazon SES (`SendRawEmail`, v1 API): one client per
//! process, built when the first email is sent. The message is the same
//! RFC 5322 document the local outbox writes (`email::rfc5322`), so
//! every send of a notification carries its stable reference headers.

use aws_config::SdkConfig;
use aws_sdk_ses::Client;
use aws_sdk_ses::config::http::HttpResponse;
use aws_sdk_ses::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ses::operation::send_raw_email::SendRawEmailError;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::RawMessage;

use email::rfc5322;
use service::email::{Email, MailError, Mailer};

/// Error codes SES answers when it is busy or failing, not refusing.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalFailure",
    "RequestTimeout",
];

#[derive(Clone, Debug)]
pub struct SesMailer {
    client: aws::OnFirstUse<Client>,
}

impl SesMailer {
    pub fn new(client: Client) -> Self {
        SesMailer {
            client: aws::OnFirstUse::built(client),
        }
    }

    /// A mailer whose SES client is built from `sdk` when the first email
    /// is sent. Creating an SDK client parses the SDK's endpoint partitions
    /// and compiles their patterns (about as much as the rest of the
    /// notifier's init together, see BENCHMARKS.md); a batch with nothing
    /// to send (every email already in the ledger) never needs it.
    pub fn on_first_use(sdk: &SdkConfig) -> Self {
        SesMailer {
            client: aws::OnFirstUse::new(sdk, Client::new),
        }
    }

    pub fn client(&self) -> &Client {
        self.client.get()
    }
}

/// Permanent refusals versus failures a later attempt may fix. Sending is
/// paused account- or configuration-set-wide by an operator, and resumed:
/// that is worth retrying. An SES answer without a known code is judged by
/// its HTTP status (4xx: refused; anything else: retry).
fn classify(e: SdkError<SendRawEmailError, HttpResponse>) -> MailError {
    let status = e.raw_response().map(|r| r.status().as_u16());
    match e.as_service_error() {
        Some(
            SendRawEmailError::MessageRejected(_)
            | SendRawEmailError::MailFromDomainNotVerifiedException(_)
            | SendRawEmailError::ConfigurationSetDoesNotExistException(_),
        ) => MailError::Rejected(describe(&e)),
        Some(
            SendRawEmailError::AccountSendingPausedException(_)
            | SendRawEmailError::ConfigurationSetSendingPausedException(_),
        ) => MailError::Unavailable(describe(&e)),
        Some(se) => {
            let code = se.code().unwrap_or("");
            let client_error = status.is_some_and(|s| (400..500).contains(&s));
            if TRANSIENT_CODES.contains(&code) || !client_error {
                MailError::Unavailable(describe(&e))
            } else {
                MailError::Rejected(describe(&e))
            }
        }
        None => MailError::Unavailable(describe(&e)),
    }
}

fn describe<E, R>(e: &SdkError<E, R>) -> String
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(se) => format!(
            "SES SendRawEmail: {}: {}",
            se.code().unwrap_or("error"),
            se.message().unwrap_or("")
        ),
        None => format!("SES SendRawEmail: {}", DisplayErrorContext(e)),
    }
}

impl Mailer for SesMailer {
    /// The ledger keeps the answer's SES message id, so a duplicate sent
    /// after a crash can be traced to the original.
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        let raw = RawMessage::builder()
            .data(Blob::new(rfc5322(email)?))
            .build()
            .map_err(|e| MailError::Rejected(e.to_string()))?;
        let out = self
            .client()
            .send_raw_email()
            .source(&email.from)
            .destinations(&email.to)
            .raw_message(raw)
            .send()
            .await
            .map_err(classify)?;
        Ok(format!("SES message {}", out.message_id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mailer_built_on_first_use_builds_its_client_once_from_the_given_config() {
        let sdk = SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-2"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let mailer = SesMailer::on_first_use(&sdk);
        assert!(!mailer.client.is_built(), "nothing built at creation");
        let copy = mailer.clone();
        let region = mailer.client().config().region().map(ToString::to_string);
        assert_eq!(region.as_deref(), Some("eu-west-2"));
        // Clones share the one client.
        assert!(std::ptr::eq(copy.client(), mailer.client()));
    }
}
