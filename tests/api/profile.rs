//! Profile updates, password change and account deletion.

use castellan_e2e::PASSWORD;
use serde_json::{Value, json};

both_backends! {
    async fn update_name_and_image(app: TestApp) {
        let (b, email) = app.new_user("prof").await;
        let r = b.post("/update-user", &json!({"name": "Renamed", "image": "https://img.test/a.png"})).await;
        assert_eq!(r.json, json!({"status": true}));
        let s = b.session().await;
        assert_eq!(s["user"]["name"], "Renamed");
        assert_eq!(s["user"]["image"], "https://img.test/a.png");
        assert_eq!(b.post("/update-user", &json!({"image": null})).await.status, 200);
        let s = b.session().await;
        assert_eq!(s["user"]["image"], Value::Null);
        assert_eq!(s["user"]["name"], "Renamed");

        let r = b.post("/update-user", &json!({"email": "other@e2e.test"})).await;
        assert_eq!((r.status, r.code()), (400, "EMAIL_CAN_NOT_BE_UPDATED"));
        let r = b.post("/update-user", &json!({})).await;
        assert_eq!((r.status, r.json.clone()), (400, json!({"message": "No fields to update"})));
        assert_eq!(b.session().await["user"]["email"], email.as_str());
    }

    async fn change_password_revoking_other_sessions(app: TestApp) {
        let (a, email) = app.new_user("pw").await;
        let other = app.browser();
        other.post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        let wrong = a.post("/change-password", &json!({"currentPassword": "nope-nope-nope", "newPassword": "New-password-1"})).await;
        assert_eq!((wrong.status, wrong.code()), (400, "INVALID_PASSWORD"));
        let short = a.post("/change-password", &json!({"currentPassword": PASSWORD, "newPassword": "short"})).await;
        assert_eq!(short.code(), "PASSWORD_TOO_SHORT");

        let r = a.post("/change-password", &json!({"currentPassword": PASSWORD, "newPassword": "New-password-1", "revokeOtherSessions": true})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token = r.json["token"].as_str().unwrap();
        assert_eq!(a.session().await["session"]["token"], token);
        assert_eq!(other.session().await, Value::Null);
        let old = app.browser().post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(old.status, 401);
        let new = app.browser().post("/sign-in/email", &json!({"email": email, "password": "New-password-1"})).await;
        assert_eq!(new.status, 200);
    }

    async fn change_password_without_revocation_returns_no_token(app: TestApp) {
        let (a, _) = app.new_user("pw2").await;
        let r = a.post("/change-password", &json!({"currentPassword": PASSWORD, "newPassword": "New-password-2"})).await;
        assert_eq!(r.json["token"], Value::Null);
        assert!(a.session().await.is_object());
    }

    async fn delete_user_with_password(app: TestApp) {
        let (a, email) = app.new_user("del").await;
        let empty = a.post("/delete-user", &json!({"password": ""})).await;
        assert_eq!((empty.status, empty.code()), (400, "INVALID_PASSWORD"), "an empty password never deletes");
        let wrong = a.post("/delete-user", &json!({"password": "wrong-password"})).await;
        assert_eq!(wrong.code(), "INVALID_PASSWORD");
        let r = a.post("/delete-user", &json!({"password": PASSWORD})).await;
        assert_eq!(r.json, json!({"success": true, "message": "User deleted"}));
        assert_eq!(a.session().await, Value::Null);
        let again = app.browser().post("/sign-in/email", &json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(again.status, 401);
    }

    async fn verify_password(app: TestApp) {
        let (a, _) = app.new_user("vp").await;
        assert_eq!(a.post("/verify-password", &json!({"password": PASSWORD})).await.json, json!({"status": true}));
        assert_eq!(a.post("/verify-password", &json!({"password": "nope-nope"})).await.code(), "INVALID_PASSWORD");
    }

    async fn list_accounts_shows_the_credential_account(app: TestApp) {
        let (a, _) = app.new_user("acct").await;
        let r = a.get("/list-accounts").await;
        let accounts = r.json.as_array().unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0]["providerId"], "credential");
        assert!(accounts[0].get("password").is_none());
        assert_eq!(accounts[0]["accountId"], a.session().await["user"]["id"]);
    }
}

mod deletion_by_link {
    use castellan_e2e::{Backend, TestApp};
    use serde_json::{Value, json};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deletion_waits_for_the_mailed_link() {
        let app = TestApp::spawn_with(Backend::Sqlite, &[("DELETE_ACCOUNT_VERIFICATION", "1")])
            .await
            .unwrap();
        let (a, email) = app.new_user("dellink").await;
        let r = a.post("/delete-user", &json!({})).await;
        assert_eq!(
            r.json,
            json!({"success": true, "message": "Verification email sent"})
        );
        let mail = app.wait_mail("delete-account", &email).await;
        let token = mail["token"].as_str().unwrap();
        // Another user's session cannot use the link.
        let (m, _) = app.new_user("mallory").await;
        let stolen = m.get(&format!("/delete-user/callback?token={token}")).await;
        assert_eq!((stolen.status, stolen.code()), (404, "INVALID_TOKEN"));
        assert!(a.session().await.is_object());
        let r = a.get(&format!("/delete-user/callback?token={token}")).await;
        assert_eq!(
            r.json,
            json!({"success": true, "message": "User deleted"}),
            "{}",
            r.text
        );
        assert_eq!(a.session().await, Value::Null);
    }
}
