//! Bad input gets Better Auth's 4xx JSON errors, never a 500, and writes nothing.

use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

async fn user_count(app: &castellan_e2e::TestApp) -> u64 {
    castellan_data::entity::user::Entity::find()
        .count(&app.db().await)
        .await
        .unwrap()
}

both_backends! {
    async fn malformed_bodies_are_rejected_cleanly(app: TestApp) {
        let b = app.browser();
        let r = b.post_raw("/sign-up/email", "application/json", "{bad").await;
        assert_eq!((r.status, r.json.clone()), (400, json!({"message": "Invalid JSON in request body", "code": "BAD_REQUEST"})));
        let r = b.post_raw("/sign-up/email", "text/plain", "{}").await;
        assert_eq!((r.status, r.code()), (415, "UNSUPPORTED_MEDIA_TYPE"));
        assert_eq!(r.json["message"], "Content-Type \"text/plain\" is not allowed. Allowed types: application/x-www-form-urlencoded, application/json");
        let r = b.post_raw("/update-user", "application/x-www-form-urlencoded", "name=x").await;
        assert_eq!(r.status, 415, "only the credential forms accept form posts");
        let r = b.post("/sign-up/email", &json!([])).await;
        assert_eq!(r.json["message"], "[body] Invalid input: expected object, received array");
        let huge = format!("{{\"email\":\"{}\"}}", "a".repeat(2_000_000));
        let r = b.post_raw("/sign-in/email", "application/json", huge).await;
        assert_eq!((r.status, r.code()), (413, "PAYLOAD_TOO_LARGE"));
        assert_eq!(user_count(&app).await, 0);
    }

    async fn wrong_types_and_values_are_validation_errors(app: TestApp) {
        let b = app.browser();
        let r = b.post("/sign-up/email", &json!({"email": 5, "password": true, "name": null, "rememberMe": "yes"})).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json["message"], "[body.name] Invalid input: expected string, received null; \
            [body.email] Invalid input: expected string, received number; \
            [body.password] Invalid input: expected string, received boolean; \
            [body.rememberMe] Invalid input: expected boolean, received string");
        let r = b.post("/sign-up/email", &json!({"email": "not-an-email", "password": "x", "name": "n"})).await;
        assert_eq!(r.json["message"], "[body.email] Invalid email address");
        let r = app.browser().post("/sign-up/email", &json!({"email": "long@e2e.test", "password": "x".repeat(129), "name": "n"})).await;
        assert_eq!((r.status, r.code()), (400, "PASSWORD_TOO_LONG"));
        let r = app.browser().post("/sign-up/email", &json!({"email": "role@e2e.test", "password": "Long-enough-1", "name": "n", "role": "admin"})).await;
        assert_eq!((r.code(), r.json["message"].as_str().unwrap()), ("FIELD_NOT_ALLOWED", "role is not allowed to be set"));
        let r = app.browser().post("/sign-in/email", &json!({"email": "not-an-email", "password": "Long-enough-1"})).await;
        assert_eq!((r.status, r.code()), (400, "INVALID_EMAIL"));
        assert_eq!(user_count(&app).await, 0, "nothing half-written");
    }

    async fn unknown_fields_are_ignored(app: TestApp) {
        let r = app.browser().post("/sign-up/email", &json!({"email": "extra@e2e.test", "password": "Long-enough-1", "name": "n", "favouriteColour": "blue"})).await;
        assert_eq!(r.status, 200);
        assert!(r.json["user"].get("favouriteColour").is_none());
    }

    async fn unknown_routes_and_methods_are_empty_404s(app: TestApp) {
        let b = app.browser();
        for r in [b.get("/sign-in/email").await, b.get("/no-such-endpoint").await, b.get("/sign-out/").await] {
            assert_eq!((r.status, r.text.as_str()), (404, ""));
        }
        assert_eq!(b.get("/set-password").await.status, 404, "set-password is server-side only");
        let ok = b.get("/ok").await;
        assert_eq!(ok.json, json!({"ok": true}));
    }

    async fn callback_parameters_of_the_wrong_type(app: TestApp) {
        let r = app.browser().post("/sign-in/email", &json!({"email": "a@e2e.test", "password": "x", "callbackURL": 5})).await;
        assert_eq!((r.status, r.json.clone()), (400, json!({"message": "Invalid callbackURL: expected a string"})));
    }
}
