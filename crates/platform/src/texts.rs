//! Text messages (SMS) to one person, and the gateway that sends them. The server hands
//! [`Accounts`](crate::accounts::Accounts) the notifier's webhook gateway when one is configured;
//! password recovery sends its codes through it.

use serde::Serialize;

use crate::ids::UserId;

/// A text message to one person (an SMS through the gateway).
#[derive(Debug, Clone, Serialize)]
pub struct TextMessage {
    /// Stable across retries: the gateway's idempotency key.
    pub id: uuid::Uuid,
    /// `password_reset_code`.
    pub kind: &'static str,
    pub user_id: UserId,
    pub phone: String,
    /// In Chinese.
    pub text: String,
}

/// Sends text messages (the server gives it the notifier's webhook gateway).
#[async_trait::async_trait]
pub trait TextGateway: Send + Sync + std::fmt::Debug {
    async fn send_text(&self, message: &TextMessage) -> anyhow::Result<()>;
}
