//! The browser game's files and the operator's page's (`web-client/admin/`, served only under
//! `/admin` and only with `--admin-token`), embedded in the binary at build time so the server
//! runs from any folder. Knows each file's content type and a strong validator (ETag) for
//! caching.

use std::borrow::Cow;

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web-client/"]
#[exclude = "test/*"]
#[exclude = "*.md"]
#[exclude = "admin/*"]
struct WebClient;

#[derive(RustEmbed)]
#[folder = "web-client/admin/"]
#[exclude = "*.md"]
struct AdminPage;

/// One embedded file, ready to serve.
pub struct Asset {
    pub body: Cow<'static, [u8]>,
    pub content_type: &'static str,
    /// Quoted strong ETag derived from the file's SHA-256.
    pub etag: String,
}

/// The file for a request path (`/` is `index.html`); `None` if there is no such file.
pub fn lookup(path: &str) -> Option<Asset> {
    embedded::<WebClient>(path)
}

/// The operator's page's file for a path below `/admin` (`/` or empty is `index.html`).
pub fn lookup_admin(path: &str) -> Option<Asset> {
    embedded::<AdminPage>(path)
}

fn embedded<Files: RustEmbed>(path: &str) -> Option<Asset> {
    let name = path.trim_start_matches('/');
    let name = if name.is_empty() { "index.html" } else { name };
    let file = Files::get(name)?;
    let hash = file.metadata.sha256_hash();
    let etag = format!(
        "\"{}\"",
        hash[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    Some(Asset {
        body: file.data,
        content_type: content_type(name),
        etag,
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("webmanifest") => "application/manifest+json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_served_for_root_with_html_type() {
        let asset = lookup("/").expect("index.html is embedded");
        assert_eq!(asset.content_type, "text/html; charset=utf-8");
        assert!(asset.etag.starts_with('"') && asset.etag.len() == 26);
    }

    #[test]
    fn unknown_and_test_files_are_not_served() {
        assert!(lookup("/nope.js").is_none());
        assert!(lookup("/../Cargo.toml").is_none());
        assert!(
            lookup("/admin/index.html").is_none(),
            "the admin page only under /admin"
        );
        assert!(lookup_admin("/").is_some());
    }
}
