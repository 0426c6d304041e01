//! The two text formats of `/metrics`, chosen by the scraper's `Accept` header ([`Format`]):
//! OpenMetrics 1.0
//! (<https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md>), which
//! Prometheus asks for and `prometheus-client` writes, or the classic Prometheus text format 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>) for everything
//! else, such as `curl` piped into `promtool check metrics`, rewritten from the OpenMetrics text.

/// An exposition format of `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 text, what Prometheus asks for first.
    OpenMetrics,
    /// The classic Prometheus text format 0.0.4, for every other client (and what
    /// `promtool check metrics` reads).
    Text,
}

impl Format {
    /// Chooses the format for a request's `Accept` header: OpenMetrics when the client accepts
    /// `application/openmetrics-text` at least as much as plain text (`text/plain`, `text/*`,
    /// `*/*`), else the 0.0.4 text format. Anything unparsable counts as not accepted; no header
    /// means plain text.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let (mut openmetrics, mut text) = (0.0f32, 0.0f32);
        for range in accept.unwrap_or("").split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = Some(1.0f32);
            for param in parts {
                if let Some((k, v)) = param.split_once('=')
                    && k.trim().eq_ignore_ascii_case("q")
                {
                    q = v
                        .trim()
                        .parse()
                        .ok()
                        .filter(|q: &f32| (0.0..=1.0).contains(q));
                }
            }
            let Some(q) = q else { continue };
            match media.as_str() {
                "application/openmetrics-text" => openmetrics = openmetrics.max(q),
                "text/plain" | "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics >= text {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Rewrites OpenMetrics text, as `prometheus-client` writes it, into the Prometheus text format
/// 0.0.4. The samples stay as they are; what differs is around them:
///
/// * a counter family `x` has samples `x_total` and is described as `x`; 0.0.4 describes it by
///   the sample name, `# HELP x_total` / `# TYPE x_total counter` (likewise `_info` for info
///   metrics, which become gauges);
/// * `_created` samples, `# UNIT` lines, exemplars and `# EOF` do not exist in 0.0.4;
/// * `unknown` is `untyped`, timestamps are integer milliseconds instead of float seconds, and
///   `HELP` escapes only `\\` and `\n`.
///
/// Histograms and gauges pass unchanged.
pub(super) fn openmetrics_to_text(om: &str) -> String {
    use std::collections::HashMap;
    let types: HashMap<&str, &str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .collect();
    let suffix = |family: &str| match types.get(family) {
        Some(&"counter") => "_total",
        Some(&"info") => "_info",
        _ => "",
    };
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" || line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let help = help_to_text(help);
            out.push_str(&format!("# HELP {name}{} {help}\n", suffix(name)));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let kind = match kind {
                "unknown" => "untyped",
                "info" => "gauge",
                k => k,
            };
            out.push_str(&format!("# TYPE {name}{} {kind}\n", suffix(name)));
        } else if line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
        } else if let Some(sample) = sample_to_text(line, &types) {
            out.push_str(&sample);
            out.push('\n');
        }
    }
    out
}

/// OpenMetrics escapes `\\`, `\n` and `\"` in HELP; 0.0.4 only the first two (and rejects any
/// other escape, so a stray backslash is escaped).
fn help_to_text(help: &str) -> String {
    let mut out = String::with_capacity(help.len());
    let mut chars = help.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', Some('"')) => {
                out.push('"');
                chars.next();
            }
            ('\\', Some(next @ ('\\' | 'n'))) => {
                out.push('\\');
                out.push(next);
                chars.next();
            }
            ('\\', _) => out.push_str("\\\\"),
            (c, _) => out.push(c),
        }
    }
    out
}

/// One OpenMetrics sample line in 0.0.4 form, or `None` for a sample 0.0.4 does not have.
fn sample_to_text(line: &str, types: &std::collections::HashMap<&str, &str>) -> Option<String> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    if let Some(family) = name.strip_suffix("_created")
        && matches!(
            types.get(family),
            Some(&"counter" | &"histogram" | &"summary")
        )
    {
        return None;
    }
    // The label set ends at the first `}` outside a quoted value.
    let mut end = name_end;
    if line[name_end..].starts_with('{') {
        let (mut quoted, mut escaped) = (false, false);
        for (i, c) in line[name_end..].char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '}' if !quoted => {
                    end = name_end + i + 1;
                    break;
                }
                _ => {}
            }
        }
    }
    let (series, rest) = line.split_at(end);
    // After the series: the value, an optional timestamp, an optional ` # {…}` exemplar.
    let rest = rest.split(" # ").next().unwrap_or("");
    let mut fields = rest.split_whitespace();
    let value = fields.next()?;
    match fields.next().and_then(|t| t.parse::<f64>().ok()) {
        Some(seconds) => Some(format!(
            "{series} {value} {}",
            (seconds * 1000.0).round() as i64
        )),
        None => Some(format!("{series} {value}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_the_accept_header() {
        // Prometheus 2.x's scrape Accept header.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text; version=1.0.0")),
            Format::OpenMetrics
        );
        for plain in [
            None,
            Some(""),
            Some("*/*"),
            Some("text/plain;version=0.0.4"),
            Some("text/html,application/xhtml+xml,*/*;q=0.8"),
            Some("application/openmetrics-text;q=0.2,text/plain;q=0.9"),
            Some("application/openmetrics-text;q=0"),
            Some("application/openmetrics-text;q=banana"),
            Some(";;,,=;q=;"),
        ] {
            assert_eq!(Format::negotiate(plain), Format::Text, "{plain:?}");
        }
    }

    #[test]
    fn counters_get_their_total_names_and_openmetrics_only_lines_go() {
        let om = concat!(
            "# HELP app_requests Requests \\\"served\\\".\n",
            "# TYPE app_requests counter\n",
            "app_requests_total{path=\"/a b}\\\" # {x}\"} 3 # {trace=\"1\"} 1.0 1700000000.5\n",
            "app_requests_created{path=\"/a\"} 1700000000.0\n",
            "# HELP app_wait_seconds Wait.\n",
            "# TYPE app_wait_seconds histogram\n",
            "# UNIT app_wait_seconds seconds\n",
            "app_wait_seconds_sum 0.5\n",
            "app_wait_seconds_count 2\n",
            "app_wait_seconds_bucket{le=\"0.1\"} 1\n",
            "app_wait_seconds_bucket{le=\"+Inf\"} 2\n",
            "# HELP app_level Level.\n",
            "# TYPE app_level gauge\n",
            "app_level 2.5 1700000000.25\n",
            "# HELP app_build Build.\n",
            "# TYPE app_build info\n",
            "app_build_info{version=\"1\"} 1\n",
            "# HELP app_other Other.\n",
            "# TYPE app_other unknown\n",
            "app_other NaN\n",
            "# EOF\n",
        );
        let expected = concat!(
            "# HELP app_requests_total Requests \"served\".\n",
            "# TYPE app_requests_total counter\n",
            "app_requests_total{path=\"/a b}\\\" # {x}\"} 3\n",
            "# HELP app_wait_seconds Wait.\n",
            "# TYPE app_wait_seconds histogram\n",
            "app_wait_seconds_sum 0.5\n",
            "app_wait_seconds_count 2\n",
            "app_wait_seconds_bucket{le=\"0.1\"} 1\n",
            "app_wait_seconds_bucket{le=\"+Inf\"} 2\n",
            "# HELP app_level Level.\n",
            "# TYPE app_level gauge\n",
            "app_level 2.5 1700000000250\n",
            "# HELP app_build_info Build.\n",
            "# TYPE app_build_info gauge\n",
            "app_build_info{version=\"1\"} 1\n",
            "# HELP app_other Other.\n",
            "# TYPE app_other untyped\n",
            "app_other NaN\n",
        );
        assert_eq!(openmetrics_to_text(om), expected);
    }

    #[test]
    fn help_escapes_become_0_0_4_escapes() {
        assert_eq!(help_to_text(r#"a\\b\nc\"d\xe\"#), r#"a\\b\nc"d\\xe\\"#);
    }
}
