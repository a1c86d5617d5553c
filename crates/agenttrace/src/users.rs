//! `agenttrace user create`: accounts without a server, through the same checks as the API.

use crate::cli::UserCreateArgs;
use crate::say;
use agenttrace_server::auth::password::{check_password_policy, hash_password};
use agenttrace_store::{AccountStore, CreatedUser, NewUser, SqliteStore, TraceStore, new_id};
use std::io::BufRead;
use std::process::ExitCode;

pub async fn create(args: UserCreateArgs) -> ExitCode {
    match try_create(&args).await {
        Ok(message) => {
            say!("{message}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn try_create(args: &UserCreateArgs) -> Result<String, String> {
    let email = args.email.trim().to_lowercase();
    if !email.contains('@') {
        return Err("--email must be an email address".to_owned());
    }
    let password = match std::env::var("AGENTTRACE_PASSWORD") {
        Ok(password) if !password.is_empty() => password,
        _ => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    check_password_policy(&password, &email).map_err(|e| e.to_string())?;
    let hash = hash_password(password).await.map_err(|e| e.to_string())?;
    let store = SqliteStore::open(&args.data_dir)
        .await
        .map_err(|e| e.to_string())?;
    let stamp = new_id();
    let created = store
        .create_user(NewUser {
            email: &email,
            password_hash: &hash,
            security_stamp: &stamp,
            is_admin: args.admin,
            only_if_first: false,
        })
        .await
        .map_err(|e| e.to_string());
    store.close().await;
    match created? {
        CreatedUser::Created(user, _) => Ok(format!(
            "created {}{} ({})",
            user.email,
            if user.is_admin {
                ", instance admin"
            } else {
                ""
            },
            user.id
        )),
        CreatedUser::EmailTaken | CreatedUser::NotFirst => {
            Err(format!("an account with the email {email} already exists"))
        }
    }
}
