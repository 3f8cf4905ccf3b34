use crate::helpers::{client, spawn_app};

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary_with_type_etag_cache_control_and_csp() {
    let app = spawn_app().await;
    let resp = client().get(app.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-cache");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let etag = h["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.len() > 10);
    let body = resp.text().await.unwrap();
    assert!(body.contains("<script type=\"module\" src=\"/app.js\">"));
    assert!(
        !body.contains("http://") && !body.contains("https://"),
        "no CDN or external resources"
    );

    let again = client()
        .get(app.url("/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn scripts_and_styles_get_their_content_types() {
    let app = spawn_app().await;
    for (path, ty) in [
        ("/app.js", "text/javascript"),
        ("/api.js", "text/javascript"),
        ("/style.css", "text/css"),
    ] {
        let resp = client().get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(ty), "{path}: {ct}");
    }
}

#[tokio::test]
async fn an_unknown_file_is_404_and_paths_cannot_escape_the_embedded_files() {
    let app = spawn_app().await;
    assert_eq!(
        client()
            .get(app.url("/nope.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        client()
            .get(app.url("/..%2FCargo.toml"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
