//! The OpenAPI document lists exactly the mounted routes, with the error shape each answers
//! in, and the reference page renders it.

both_backends! {
    async fn the_document_lists_every_mounted_route(app: TestApp) {
        let doc = app.browser().get("/open-api/generate-schema").await.json;
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["servers"][0]["url"], app.auth_url.as_str());
        let routes = castellan::route_table();
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            operations += item.as_object().unwrap().len();
            for (method, op) in item.as_object().unwrap() {
                assert!(
                    routes.iter().any(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method)),
                    "{method} {path} is documented but not mounted"
                );
                // Better Auth's error shape, or on SCIM's routes RFC 7644's error object.
                let (media, schema) = if path.starts_with("/scim/v2/") {
                    ("application/scim+json", "#/components/schemas/ScimError")
                } else {
                    ("application/json", "#/components/schemas/Error")
                };
                assert_eq!(op["responses"]["400"]["content"][media]["schema"]["$ref"], schema, "{method} {path}");
            }
        }
        for route in &routes {
            let op = &doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} is mounted but not documented", route.method, route.path);
        }
        assert_eq!(operations, routes.len(), "one operation per route");
        let reset = &doc["paths"]["/reset-password/{token}"]["get"]["parameters"][0];
        assert_eq!((reset["name"].as_str(), reset["in"].as_str()), (Some("token"), Some("path")));
        let schemes: Vec<&String> = doc["components"]["securitySchemes"].as_object().unwrap().keys().collect();
        assert_eq!(schemes, ["sessionCookie", "bearerAuth", "apiKey"]);

        let page = app.browser().get("/reference").await;
        assert_eq!(page.status, 200);
        assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(page.text.contains(r#"data-url="/api/auth/open-api/generate-schema""#), "{}", page.text);
    }
}
