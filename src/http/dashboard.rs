//! The dashboard: files from `static/` compiled into the binary, served with the right
//! content type, a strong ETag (304 on `If-None-Match`) and `Cache-Control: no-cache` so a
//! new binary's files are picked up at once while unchanged ones cost a 304.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

#[derive(rust_embed::RustEmbed)]
#[folder = "static/"]
struct Assets;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/{path:.*}", web::get().to(asset));
}

async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, "index.html")
}

async fn asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    serve(&req, &path)
}

fn serve(req: &HttpRequest, path: &str) -> HttpResponse {
    let Some(file) = Assets::get(path) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!("Not found: /{path}\nThe dashboard is at /\n"));
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if matches {
        return resp.finish();
    }
    let mime = file.metadata.mimetype();
    let content_type = if mime.starts_with("text/")
        || mime == "application/javascript"
        || mime == "text/javascript"
    {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    resp.content_type(content_type).body(file.data.into_owned())
}
