//! The SQLite implementation of [`AccountStore`].

use crate::StoreError;
use crate::accounts::{
    AccountStore, ApiKey, CreatedUser, Member, NewUser, Project, Role, Session, Share, SharedLink,
    User, new_id,
};
use crate::sqlite::SqliteStore;
use agenttrace_core::timefmt::now_us;
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

const USER_COLUMNS: &str = "id, email, password_hash, is_admin, security_stamp, failed_logins, \
    locked_until_us, created_at_us";
const SESSION_COLUMNS: &str = "id, user_id, family_id, kind, token_hash, csrf_hash, \
    created_at_us, expires_at_us, rotated_at_us, revoked_at_us";
const KEY_COLUMNS: &str = "id, project_id, name, prefix, key_hash, scope, created_by, \
    created_at_us, expires_at_us, last_used_at_us, revoked_at_us";
const SHARE_COLUMNS: &str =
    "id, trace_id, token_hash, created_by, created_at_us, expires_at_us, revoked_at_us";

fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        security_stamp: row.try_get("security_stamp")?,
        failed_logins: u32::try_from(row.try_get::<i64, _>("failed_logins")?).unwrap_or(0),
        locked_until_us: row.try_get("locked_until_us")?,
        created_at_us: row.try_get("created_at_us")?,
    })
}

fn session_from_row(row: &SqliteRow) -> Result<Session, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(Session {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        family_id: row.try_get("family_id")?,
        kind: kind.parse()?,
        token_hash: row.try_get("token_hash")?,
        csrf_hash: row.try_get("csrf_hash")?,
        created_at_us: row.try_get("created_at_us")?,
        expires_at_us: row.try_get("expires_at_us")?,
        rotated_at_us: row.try_get("rotated_at_us")?,
        revoked_at_us: row.try_get("revoked_at_us")?,
    })
}

fn project_from_row(row: &SqliteRow) -> Result<Project, StoreError> {
    Ok(Project {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        personal_of: row.try_get("personal_of")?,
        created_at_us: row.try_get("created_at_us")?,
    })
}

fn key_from_row(row: &SqliteRow) -> Result<ApiKey, StoreError> {
    let scope: String = row.try_get("scope")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        key_hash: row.try_get("key_hash")?,
        scope: scope.parse()?,
        created_by: row.try_get("created_by")?,
        created_at_us: row.try_get("created_at_us")?,
        expires_at_us: row.try_get("expires_at_us")?,
        last_used_at_us: row.try_get("last_used_at_us")?,
        revoked_at_us: row.try_get("revoked_at_us")?,
    })
}

fn share_from_row(row: &SqliteRow) -> Result<Share, StoreError> {
    Ok(Share {
        id: row.try_get("id")?,
        trace_id: row.try_get("trace_id")?,
        token_hash: row.try_get("token_hash")?,
        created_by: row.try_get("created_by")?,
        created_at_us: row.try_get("created_at_us")?,
        expires_at_us: row.try_get("expires_at_us")?,
        revoked_at_us: row.try_get("revoked_at_us")?,
    })
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn create_user(&self, new: NewUser<'_>) -> Result<CreatedUser, StoreError> {
        let now = now_us();
        let user_id = new_id();
        let project_id = new_id();
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&mut *tx)
            .await?;
        let first = existing == 0;
        if new.only_if_first && !first {
            return Ok(CreatedUser::NotFirst);
        }
        let is_admin = new.is_admin || first;
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, password_hash, is_admin, security_stamp, created_at_us) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&user_id)
        .bind(new.email)
        .bind(new.password_hash)
        .bind(i64::from(is_admin))
        .bind(new.security_stamp)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Ok(CreatedUser::EmailTaken),
            other => {
                other?;
            }
        }
        let project_name = format!("{}'s traces", new.email);
        sqlx::query(
            "INSERT INTO projects (id, name, personal_of, created_at_us) VALUES (?, ?, ?, ?)",
        )
        .bind(&project_id)
        .bind(&project_name)
        .bind(&user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO members (project_id, user_id, role, created_at_us) VALUES (?, ?, 'owner', ?)")
            .bind(&project_id)
            .bind(&user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if first {
            // Traces stored before the first account (imports, older versions) stay reachable.
            sqlx::query(
                "INSERT OR IGNORE INTO members (project_id, user_id, role, created_at_us) \
                 SELECT id, ?, 'owner', ? FROM projects WHERE id = 'default'",
            )
            .bind(&user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let user = User {
            id: user_id.clone(),
            email: new.email.to_owned(),
            password_hash: new.password_hash.to_owned(),
            is_admin,
            security_stamp: new.security_stamp.to_owned(),
            failed_logins: 0,
            locked_until_us: None,
            created_at_us: now,
        };
        let project = Project {
            id: project_id,
            name: project_name,
            personal_of: Some(user_id),
            created_at_us: now,
        };
        Ok(CreatedUser::Created(user, project))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(email)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn set_login_state(
        &self,
        user_id: &str,
        failed_logins: u32,
        locked_until_us: Option<i64>,
        new_stamp: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET failed_logins = ?, locked_until_us = ?, \
             security_stamp = COALESCE(?, security_stamp) WHERE id = ?",
        )
        .bind(i64::from(failed_logins))
        .bind(locked_until_us)
        .bind(new_stamp)
        .bind(user_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn record_login_failure(
        &self,
        user_id: &str,
        threshold: u32,
        now_us: i64,
        window_us: i64,
        new_stamp: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let failures: Option<i64> = sqlx::query_scalar(
            "UPDATE users SET failed_logins = CASE \
                 WHEN last_failed_at_us IS NULL OR last_failed_at_us < ? THEN 1 \
                 ELSE failed_logins + 1 END, \
             last_failed_at_us = ? WHERE id = ? RETURNING failed_logins",
        )
        .bind(now_us.saturating_sub(window_us))
        .bind(now_us)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let lock_until_us = now_us.saturating_add(window_us);
        let locked = failures.is_some_and(|f| f >= i64::from(threshold));
        if locked {
            sqlx::query(
                "UPDATE users SET failed_logins = 0, locked_until_us = ?, security_stamp = ? \
                 WHERE id = ?",
            )
            .bind(lock_until_us)
            .bind(new_stamp)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE sessions SET revoked_at_us = ? WHERE user_id = ? AND revoked_at_us IS NULL",
            )
            .bind(now_us)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(locked)
    }

    async fn reset_login_failures(&self, user_id: &str, now_us: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE users SET failed_logins = 0, locked_until_us = NULL \
             WHERE id = ? AND (locked_until_us IS NULL OR locked_until_us <= ?)",
        )
        .bind(user_id)
        .bind(now_us)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        new_stamp: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = ?, security_stamp = ? WHERE id = ?")
            .bind(password_hash)
            .bind(new_stamp)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(user_id)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        insert_session(self.pool(), session).await
    }

    async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn rotate_session(
        &self,
        old_id: &str,
        new: &Session,
        now_us: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let marked = sqlx::query(
            "UPDATE sessions SET rotated_at_us = ? \
             WHERE id = ? AND rotated_at_us IS NULL AND revoked_at_us IS NULL",
        )
        .bind(now_us)
        .bind(old_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        insert_session(&mut *tx, new).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn revoke_session_family(&self, family_id: &str, now_us: i64) -> Result<u64, StoreError> {
        let revoked = sqlx::query(
            "UPDATE sessions SET revoked_at_us = ? WHERE family_id = ? AND revoked_at_us IS NULL",
        )
        .bind(now_us)
        .bind(family_id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(revoked)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep_family: Option<&str>,
        now_us: i64,
    ) -> Result<u64, StoreError> {
        let revoked = sqlx::query(
            "UPDATE sessions SET revoked_at_us = ? WHERE user_id = ? AND revoked_at_us IS NULL \
             AND (? IS NULL OR family_id <> ?)",
        )
        .bind(now_us)
        .bind(user_id)
        .bind(keep_family)
        .bind(keep_family)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(revoked)
    }

    async fn create_project(&self, name: &str, owner_id: &str) -> Result<Project, StoreError> {
        let now = now_us();
        let id = new_id();
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT INTO projects (id, name, personal_of, created_at_us) VALUES (?, ?, NULL, ?)",
        )
        .bind(&id)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO members (project_id, user_id, role, created_at_us) VALUES (?, ?, 'owner', ?)")
            .bind(&id)
            .bind(owner_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Project {
            id,
            name: name.to_owned(),
            personal_of: None,
            created_at_us: now,
        })
    }

    async fn project(&self, id: &str) -> Result<Option<Project>, StoreError> {
        let row =
            sqlx::query("SELECT id, name, personal_of, created_at_us FROM projects WHERE id = ?")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    async fn projects_of(&self, user_id: &str) -> Result<Vec<(Project, Role)>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.name, p.personal_of, p.created_at_us, m.role FROM projects p \
             JOIN members m ON m.project_id = p.id WHERE m.user_id = ? \
             ORDER BY p.created_at_us, p.id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let role: String = row.try_get("role")?;
                Ok((project_from_row(row)?, role.parse()?))
            })
            .collect()
    }

    async fn role_of(&self, project_id: &str, user_id: &str) -> Result<Option<Role>, StoreError> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM members WHERE project_id = ? AND user_id = ?")
                .bind(project_id)
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        role.map(|r| r.parse()).transpose()
    }

    async fn members(&self, project_id: &str) -> Result<Vec<Member>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.email, m.role, m.created_at_us FROM members m \
             JOIN users u ON u.id = m.user_id WHERE m.project_id = ? ORDER BY m.created_at_us, u.email",
        )
        .bind(project_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let role: String = row.try_get("role")?;
                Ok(Member {
                    user_id: row.try_get("user_id")?,
                    email: row.try_get("email")?,
                    role: role.parse()?,
                    created_at_us: row.try_get("created_at_us")?,
                })
            })
            .collect()
    }

    async fn set_member(
        &self,
        project_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<bool, StoreError> {
        // One statement, so two owners demoting each other at once cannot both succeed.
        let changed = sqlx::query(
            "INSERT INTO members (project_id, user_id, role, created_at_us) VALUES (?, ?, ?, ?) \
             ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role \
             WHERE members.role <> 'owner' OR excluded.role = 'owner' \
             OR (SELECT COUNT(*) FROM members WHERE project_id = excluded.project_id AND role = 'owner') > 1",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(now_us())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    async fn remove_member(&self, project_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let removed = sqlx::query(
            "DELETE FROM members WHERE project_id = ? AND user_id = ? \
             AND (role <> 'owner' OR (SELECT COUNT(*) FROM members WHERE project_id = ? AND role = 'owner') > 1)",
        )
        .bind(project_id)
        .bind(user_id)
        .bind(project_id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(removed > 0)
    }

    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_keys (id, project_id, name, prefix, key_hash, scope, created_by, \
             created_at_us, expires_at_us, last_used_at_us, revoked_at_us) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&key.id)
        .bind(&key.project_id)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&key.key_hash)
        .bind(key.scope.as_str())
        .bind(&key.created_by)
        .bind(key.created_at_us)
        .bind(key.expires_at_us)
        .bind(key.last_used_at_us)
        .bind(key.revoked_at_us)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key_hash)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn api_keys(&self, project_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE project_id = ? ORDER BY created_at_us, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    async fn revoke_api_key(
        &self,
        project_id: &str,
        id: &str,
        now_us: i64,
    ) -> Result<bool, StoreError> {
        let revoked = sqlx::query(
            "UPDATE api_keys SET revoked_at_us = COALESCE(revoked_at_us, ?) \
             WHERE project_id = ? AND id = ?",
        )
        .bind(now_us)
        .bind(project_id)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(revoked > 0)
    }

    async fn touch_api_key(&self, id: &str, now_us: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_keys SET last_used_at_us = ? WHERE id = ?")
            .bind(now_us)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn insert_share(&self, share: &Share) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO shares (id, trace_id, token_hash, created_by, created_at_us, \
             expires_at_us, revoked_at_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&share.id)
        .bind(&share.trace_id)
        .bind(&share.token_hash)
        .bind(&share.created_by)
        .bind(share.created_at_us)
        .bind(share.expires_at_us)
        .bind(share.revoked_at_us)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn share_by_token_hash(&self, token_hash: &str) -> Result<Option<Share>, StoreError> {
        let sql = format!("SELECT {SHARE_COLUMNS} FROM shares WHERE token_hash = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(share_from_row).transpose()
    }

    async fn revoke_share(
        &self,
        trace_id: &str,
        token_hash: &str,
        now_us: i64,
    ) -> Result<bool, StoreError> {
        let revoked = sqlx::query(
            "UPDATE shares SET revoked_at_us = COALESCE(revoked_at_us, ?) \
             WHERE trace_id = ? AND token_hash = ?",
        )
        .bind(now_us)
        .bind(trace_id)
        .bind(token_hash)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(revoked > 0)
    }

    async fn revoke_share_by_id(
        &self,
        trace_id: &str,
        share_id: &str,
        now_us: i64,
    ) -> Result<bool, StoreError> {
        let revoked = sqlx::query(
            "UPDATE shares SET revoked_at_us = COALESCE(revoked_at_us, ?) \
             WHERE trace_id = ? AND id = ?",
        )
        .bind(now_us)
        .bind(trace_id)
        .bind(share_id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(revoked > 0)
    }

    async fn live_shares(
        &self,
        project_ids: &[String],
        now_us: i64,
        limit: u32,
    ) -> Result<Vec<SharedLink>, StoreError> {
        if project_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT s.id, s.trace_id, s.token_hash, s.created_by, s.created_at_us, \
             s.expires_at_us, s.revoked_at_us, t.name AS trace_name, t.project_id \
             FROM shares s JOIN traces t ON t.id = s.trace_id \
             WHERE s.revoked_at_us IS NULL AND (s.expires_at_us IS NULL OR s.expires_at_us > ",
        );
        query.push_bind(now_us).push(") AND t.project_id IN (");
        let mut separated = query.separated(", ");
        for id in project_ids {
            separated.push_bind(id);
        }
        query
            .push(") ORDER BY s.created_at_us DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows = query.build().fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(SharedLink {
                    share: share_from_row(row)?,
                    trace_name: row.try_get("trace_name")?,
                    project_id: row.try_get("project_id")?,
                })
            })
            .collect()
    }
}

async fn insert_session<'e, E>(executor: E, session: &Session) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO sessions (id, user_id, family_id, kind, token_hash, csrf_hash, created_at_us, \
         expires_at_us, rotated_at_us, revoked_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&session.id)
    .bind(&session.user_id)
    .bind(&session.family_id)
    .bind(session.kind.as_str())
    .bind(&session.token_hash)
    .bind(&session.csrf_hash)
    .bind(session.created_at_us)
    .bind(session.expires_at_us)
    .bind(session.rotated_at_us)
    .bind(session.revoked_at_us)
    .execute(executor)
    .await?;
    Ok(())
}
