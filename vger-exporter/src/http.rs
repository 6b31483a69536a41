//! The exporter's HTTP face: `/metrics` for Prometheus and a landing page
//! at `/` for people.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::collect::Exporter;
use crate::metrics;

/// Sent by Prometheus with each scrape: how long it will wait.
const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// The routes, over one exporter.
pub fn router(exporter: Arc<Exporter>) -> Router {
    Router::new()
        .route("/", get(landing))
        .route("/metrics", get(scrape))
        .with_state(exporter)
}

async fn scrape(State(exporter): State<Arc<Exporter>>, headers: HeaderMap) -> impl IntoResponse {
    let limit = scrape_limit(exporter.scrape_timeout(), prometheus_timeout(&headers));
    let reports = exporter.collect(limit).await;
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&reports),
    )
}

/// The scraper's own timeout, when it sent one.
fn prometheus_timeout(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(SCRAPE_TIMEOUT_HEADER)?.to_str().ok()?;
    Duration::try_from_secs_f64(text.trim().parse().ok()?).ok()
}

/// How long this scrape may read servers: the configured limit, or less
/// when the scraper gives up sooner, keeping a margin to render and send
/// (an answer with `vger_up 0` is worth more than a failed scrape).
pub fn scrape_limit(configured: Duration, scraper: Option<Duration>) -> Duration {
    match scraper {
        Some(s) if !s.is_zero() => {
            let margin = (s / 10).min(Duration::from_millis(500));
            configured.min(s - margin)
        }
        _ => configured,
    }
}

async fn landing(State(exporter): State<Arc<Exporter>>) -> Html<String> {
    let mut targets = String::new();
    for (name, url) in exporter.targets() {
        targets.push_str(&format!(
            "<li><code>server=\"{}\"</code>: {}</li>\n",
            escape(name),
            escape(url)
        ));
    }
    Html(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>vger-exporter</title></head>\n\
         <body>\n<h1>vger-exporter {}</h1>\n\
         <p>Prometheus exporter for vger-server: backup freshness, quotas, usage, locks and disk space.</p>\n\
         <p><a href=\"/metrics\">Metrics</a></p>\n<h2>Servers watched</h2>\n<ul>\n{targets}</ul>\n</body></html>\n",
        metrics::VERSION
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn the_configured_limit_applies_without_a_scraper_timeout() {
        assert_eq!(scrape_limit(S(8), None), S(8));
    }

    #[test]
    fn a_shorter_scraper_timeout_wins_with_a_margin() {
        assert_eq!(scrape_limit(S(8), Some(S(5))), Duration::from_millis(4500));
        assert_eq!(scrape_limit(S(8), Some(S(1))), Duration::from_millis(900));
    }

    #[test]
    fn a_longer_scraper_timeout_keeps_the_configured_limit() {
        assert_eq!(scrape_limit(S(8), Some(S(30))), S(8));
    }

    #[test]
    fn the_scraper_header_is_read_as_seconds() {
        let mut h = HeaderMap::new();
        h.insert(SCRAPE_TIMEOUT_HEADER, "2.5".parse().unwrap());
        assert_eq!(prometheus_timeout(&h), Some(Duration::from_millis(2500)));
    }

    #[test]
    fn a_scraper_header_that_is_not_seconds_is_ignored() {
        let mut h = HeaderMap::new();
        h.insert(SCRAPE_TIMEOUT_HEADER, "soon".parse().unwrap());
        assert_eq!(prometheus_timeout(&h), None);
        h.insert(SCRAPE_TIMEOUT_HEADER, "-1".parse().unwrap());
        assert_eq!(prometheus_timeout(&h), None);
    }
}
