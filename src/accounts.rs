//! The Twilio accounts this appliance acts for: the master account (from the environment,
//! or the demo's sandbox account) held in memory, and the subaccounts it made or adopted,
//! whose auth tokens are stored sealed with the appliance key (SPEC §5.2). Everything that
//! signs a request to Twilio or checks one from it asks here: the webhook signature check,
//! the messenger, number operations and the background jobs.

use crate::crypto::SecretKey;
use crate::db::provider_accounts;
use crate::providers::TwilioCreds;
use rusqlite::Connection;

#[derive(Clone)]
pub struct TwilioAccounts {
    master: Option<TwilioCreds>,
    key: SecretKey,
}

impl TwilioAccounts {
    pub fn new(master: Option<TwilioCreds>, key: SecretKey) -> TwilioAccounts {
        TwilioAccounts { master, key }
    }

    /// The master account, if one is configured.
    pub fn master(&self) -> Option<&TwilioCreds> {
        self.master.as_ref()
    }

    /// The master's credentials when `sid` names it: answered from memory, no database.
    pub fn in_memory(&self, sid: &str) -> Option<&TwilioCreds> {
        self.master.as_ref().filter(|m| m.account_sid == sid)
    }

    /// Credentials of the account `sid` (`None` = the master): the master from memory,
    /// else an active subaccount whose token is stored sealed. `None` for an unknown account
    /// (a stored token that cannot be read is logged, and unknown too).
    pub fn lookup(&self, conn: &Connection, sid: Option<&str>) -> Option<TwilioCreds> {
        let Some(sid) = sid else {
            return self.master.clone();
        };
        if let Some(master) = self.in_memory(sid) {
            return Some(master.clone());
        }
        match provider_accounts::secret(conn, &self.key, "twilio", sid) {
            Ok(Some(token)) => Some(TwilioCreds {
                account_sid: sid.to_string(),
                auth_token: token,
            }),
            Ok(None) => None,
            Err(e) => {
                log::error!("cannot read the stored credentials of Twilio account {sid}: {e}");
                None
            }
        }
    }

    /// Stores a subaccount's token, sealed (the one place tokens are written).
    pub fn store(
        &self,
        conn: &Connection,
        account: &provider_accounts::NewAccount<'_>,
    ) -> rusqlite::Result<i64> {
        provider_accounts::insert(conn, &self.key, account)
    }
}
