//! The one shape of the chat webhooks (Slack, Discord): `POST <secret url>` with a JSON body
//! the channel's `payload` function makes; 2xx is success. The URL is the credential and is
//! never printed (transport errors lose it, see [`super::http_error`]).

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};

use super::{Message, Notifier, http_error};
use crate::error::AlertError;

/// A channel that POSTs `payload(message)` as JSON to a webhook URL.
pub(crate) struct JsonPost {
    name: &'static str,
    client: reqwest::Client,
    url: SecretString,
    payload: fn(&Message) -> serde_json::Value,
}

impl JsonPost {
    /// The channel `name` posting `payload(message)` to `url`.
    pub(crate) fn new(
        name: &'static str,
        client: reqwest::Client,
        url: SecretString,
        payload: fn(&Message) -> serde_json::Value,
    ) -> Self {
        JsonPost {
            name,
            client,
            url,
            payload,
        }
    }
}

impl Notifier for JsonPost {
    fn name(&self) -> &str {
        self.name
    }

    fn takes_warnings(&self) -> bool {
        true
    }

    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            let r = self
                .client
                .post(self.url.expose_secret())
                .json(&(self.payload)(msg))
                .send()
                .await;
            http_error(self.name, r).await
        })
    }
}
