//! Accounts: the named owners of mailboxes, POP3 locations and sync runs.
//!
//! Owns: the `accounts` table (get-or-create by name, look-up, listing).
//!
//! Must never: delete an account (its mail would go with it; not a sync operation).

use rusqlite::OptionalExtension;

use crate::error::{Result, SqlContext, StoreError};
use crate::ids::AccountId;
use crate::store::{now, Store};

impl Store {
    /// The account called `name`, created if it does not exist yet.
    pub fn account(&mut self, name: &str) -> Result<AccountId> {
        // Almost always it exists: a read, without a write transaction and its commit.
        if let Some(id) = self.find_account(name)? {
            return Ok(id);
        }
        let now = now();
        let tx = self.write_tx("creating an account")?;
        tx.prepare_cached(
            "INSERT INTO accounts (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        )
        .and_then(|mut s| s.execute(rusqlite::params![name, now]))
        .ctx(|| format!("creating account {name:?}"))?;
        let id = tx
            .prepare_cached("SELECT id FROM accounts WHERE name = ?1")
            .and_then(|mut s| s.query_row([name], |r| r.get(0)))
            .ctx(|| format!("reading account {name:?}"))?;
        tx.commit().ctx(|| format!("committing account {name:?}"))?;
        Ok(id)
    }

    /// The account called `name`, if it exists (never creates one; for read-only commands).
    pub fn find_account(&self, name: &str) -> Result<Option<AccountId>> {
        self.conn
            .prepare_cached("SELECT id FROM accounts WHERE name = ?1")
            .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
            .ctx(|| format!("reading account {name:?}"))
    }

    /// Every account, by name.
    pub fn accounts(&self) -> Result<Vec<(AccountId, String)>> {
        self.conn
            .prepare_cached("SELECT id, name FROM accounts ORDER BY name")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .ctx(|| "listing accounts")
    }

    /// Fails with [`StoreError::UnknownAccount`] unless `account` exists.
    pub(crate) fn check_account(conn: &rusqlite::Connection, account: AccountId) -> Result<()> {
        let exists: bool = conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?1)")
            .and_then(|mut s| s.query_row([account], |r| r.get(0)))
            .ctx(|| format!("checking account {account}"))?;
        if exists {
            Ok(())
        } else {
            Err(StoreError::UnknownAccount(account))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_is_get_or_create() {
        let mut store = Store::open_in_memory().unwrap();
        let work = store.account("work").unwrap();
        let home = store.account("home").unwrap();
        assert_ne!(work, home);
        assert_eq!(store.account("work").unwrap(), work);
        assert_eq!(store.find_account("work").unwrap(), Some(work));
        assert_eq!(store.find_account("nope").unwrap(), None);
        assert_eq!(store.accounts().unwrap(), vec![(home, "home".to_owned()), (work, "work".to_owned())]);
    }
}
