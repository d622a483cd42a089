//! The page: a [`LakeReport`] as one self-contained HTML file.
//!
//! Owns the markup: inline CSS, inline SVG (the lineage graph, a calendar
//! of each stage's intervals), tables, and no script at all. A
//! Content-Security-Policy forbids scripts and every request, so the page
//! works offline and nothing in it can run; on top of that every string
//! that came from a store (URLs, reasons, record text, names) is written
//! through [`Text`], which escapes it. Knows nothing of stores.

use std::fmt::{self, Display, Write};

use chrono::{Datelike, TimeDelta, Timelike};

use crate::changes::Change;
use crate::lineage::LineageGraph;
use crate::model::{IntervalRow, LakeReport, ShardResults, StageReport, Status, short_name};
use crate::timeline::describe;

/// The most rows of the "all intervals" table, the latest ones.
pub const TABLE_ROWS: usize = 500;

/// Text from outside the report, escaped for HTML (element content and
/// quoted attribute values alike).
pub struct Text<'a>(pub &'a str);

impl Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in binary units: `512 B`, `1.5 KiB`, `2.0 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A fraction as a percentage: `0.0017` → `0.17%`.
pub fn percent(f: f64) -> String {
    if f == 0.0 {
        "0%".into()
    } else {
        format!("{:.2}%", f * 100.0)
    }
}

/// A signed change: `+50.0%` for a relative one, `+2.00 pts` for the rate.
fn signed_change(c: &Change, relative: bool) -> String {
    if relative {
        format!("{:+.1}%", c.change * 100.0)
    } else {
        format!("{:+.2} pts", c.change * 100.0)
    }
}

const STYLE: &str = r#"
:root{--ok:#2e9e4f;--q1:#b6d957;--q2:#f2c12e;--q3:#e8590c;--miss:#c92a2a;--rep:#1c7ed6;--unc:#adb5bd;--bad:#5f3dc4;--fg:#212529;--mut:#6c757d}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0 auto;max-width:1200px;padding:16px 24px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #dee2e6;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.mut{color:var(--mut)}code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f8f9fa;border:1px solid #e9ecef;padding:6px 8px;white-space:pre-wrap;word-break:break-all;margin:4px 0}
table{border-collapse:collapse;margin:6px 0}th,td{border-bottom:1px solid #e9ecef;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;padding-left:10px}.scroll{overflow-x:auto}
dl.totals{display:grid;grid-template-columns:repeat(auto-fill,minmax(130px,1fr));gap:4px 16px;margin:6px 0}
dl.totals div{border-left:3px solid #dee2e6;padding-left:8px}dt{color:var(--mut);font-size:12px}dd{margin:0;font-size:16px;font-weight:600}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px;border-radius:2px}
rect.committed{fill:var(--ok)}rect.q1{fill:var(--q1)}rect.q2{fill:var(--q2)}rect.q3{fill:var(--q3)}
rect.replayed{stroke:var(--rep);stroke-width:2.5}rect.missing{fill:#fff;stroke:var(--miss);stroke-width:1.5;stroke-dasharray:2 1}
rect.uncommitted{fill:var(--unc)}rect.unreadable{fill:var(--bad)}rect.stale{stroke:#000;stroke-width:1.5;stroke-dasharray:1 1}rect.unmerged{stroke:#495057;stroke-width:1.5;stroke-dasharray:3 1}
svg text{font:11px system-ui,sans-serif;fill:var(--mut)}svg .node rect{fill:#f1f3f5;stroke:#495057;stroke-width:1.2}svg .node.ext rect{stroke-dasharray:4 3;fill:#fff}
svg .node text.name{font-size:13px;font-weight:600;fill:var(--fg)}svg path.edge{fill:none;stroke:#495057;stroke-width:1.4}svg text.stale{fill:var(--miss)}
svg.chart path.records{fill:none;stroke:var(--ok);stroke-width:1.5;stroke-linecap:round;stroke-linejoin:round}svg.chart path.gaps{stroke:var(--miss);stroke-width:1}svg.chart path.axis{stroke:#adb5bd;stroke-width:1}
.note{background:#fff9db;border-left:3px solid var(--q2);padding:4px 8px;margin:6px 0}.warn{color:var(--miss)}
"#;

/// The report as a page.
pub fn render(report: &LakeReport) -> String {
    let mut out = String::with_capacity(64 * 1024);
    // Writing to a String cannot fail.
    let _ = page(&mut out, report);
    out
}

fn page(o: &mut String, r: &LakeReport) -> fmt::Result {
    let names: Vec<&str> = r.stages.iter().map(|s| s.name()).collect();
    writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"generator\" content=\"weir report\">\
         <title>Weir report: {}</title><style>{STYLE}</style></head><body>",
        Text(&names.join(", "))
    )?;
    let range = match (r.range.from, r.range.to) {
        (None, None) => "every interval".to_string(),
        (Some(f), None) => format!("intervals from {f}"),
        (None, Some(t)) => format!("intervals up to {t}"),
        (Some(f), Some(t)) => format!("intervals from {f} to {t}"),
    };
    writeln!(
        o,
        "<header><h1>Weir lake report</h1><p class=\"mut\">{} stage{}, {}; made {} from the stages' manifests.</p></header>",
        r.stages.len(),
        if r.stages.len() == 1 { "" } else { "s" },
        Text(&range),
        Text(&r.generated)
    )?;
    lineage(o, &r.lineage)?;
    overview(o, &r.stages)?;
    for (k, s) in r.stages.iter().enumerate() {
        stage(o, k, s)?;
    }
    o.push_str("</body></html>\n");
    Ok(())
}

fn lineage(o: &mut String, g: &LineageGraph) -> fmt::Result {
    const W: usize = 210;
    const H: usize = 46;
    // Room between columns for an edge's two labels.
    const COL: usize = 400;
    const ROW: usize = 70;
    o.push_str("<section id=\"lineage\"><h2>Stages and lineage</h2>\n");
    if g.edges.is_empty() {
        o.push_str("<p class=\"mut\">No manifest in the range names an input stage.</p>\n");
    }
    let mut row_of = vec![0usize; g.nodes.len()];
    let mut per_layer: Vec<usize> = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        if per_layer.len() <= n.layer {
            per_layer.resize(n.layer + 1, 0);
        }
        row_of[i] = per_layer[n.layer];
        per_layer[n.layer] += 1;
    }
    let width = per_layer.len().max(1) * COL;
    let height = per_layer.iter().max().copied().unwrap_or(1) * ROW + 10;
    let pos = |i: usize| (10 + g.nodes[i].layer * COL, 10 + row_of[i] * ROW);
    writeln!(
        o,
        "<div class=\"scroll\"><svg id=\"lineage-graph\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"lineage graph\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0L10,5L0,10z\" fill=\"#495057\"/></marker></defs>"
    )?;
    for e in &g.edges {
        let (x1, y1) = pos(e.from);
        let (x2, y2) = pos(e.to);
        let (ax, ay, bx, by) = (x1 + W, y1 + H / 2, x2, y2 + H / 2);
        let mid = (ax + bx) / 2;
        write!(
            o,
            "<path class=\"edge\" d=\"M{ax},{ay} C{mid},{ay} {mid},{by} {bx},{by}\" marker-end=\"url(#arrow)\"><title>{} → {}</title></path>",
            Text(&g.nodes[e.from].url),
            Text(&g.nodes[e.to].url)
        )?;
        let (lx, ly) = (mid, (ay + by) / 2 - 4);
        write!(
            o,
            "<text x=\"{lx}\" y=\"{ly}\" text-anchor=\"middle\">{} interval{}</text>",
            thousands(e.intervals),
            if e.intervals == 1 { "" } else { "s" }
        )?;
        if e.stale > 0 {
            write!(
                o,
                "<text class=\"stale\" x=\"{lx}\" y=\"{}\" text-anchor=\"middle\">{} from a replaced commit</text>",
                ly + 13,
                thousands(e.stale)
            )?;
        }
        o.push('\n');
    }
    for (i, n) in g.nodes.iter().enumerate() {
        let (x, y) = pos(i);
        let url: String = n.url.chars().take(34).collect();
        let more = if url.len() < n.url.len() { "…" } else { "" };
        writeln!(
            o,
            "<g class=\"node{}\"><title>{}{}</title><rect x=\"{x}\" y=\"{y}\" width=\"{W}\" height=\"{H}\" rx=\"6\"/>\
             <text class=\"name\" x=\"{}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\">{}{more}</text></g>",
            if n.in_report { "" } else { " ext" },
            Text(&n.url),
            if n.in_report {
                ""
            } else {
                " (not in this report)"
            },
            x + 10,
            y + 19,
            Text(short_name(&n.url)),
            x + 10,
            y + 36,
            Text(&url),
        )?;
    }
    o.push_str("</svg></div></section>\n");
    Ok(())
}

fn overview(o: &mut String, stages: &[StageReport]) -> fmt::Result {
    o.push_str(
        "<section id=\"overview\"><h2>Overview</h2><div class=\"scroll\"><table><thead><tr><th>stage</th><th>cadence</th>\
         <th class=\"n\">committed</th><th class=\"n\">replayed</th><th class=\"n\">missing</th><th class=\"n\">uncommitted</th>\
         <th class=\"n\">shards not merged</th><th class=\"n\">records</th><th class=\"n\">bytes</th><th class=\"n\">quarantined</th><th class=\"n\">rate</th></tr></thead><tbody>\n",
    );
    for (k, s) in stages.iter().enumerate() {
        let m = &s.summary;
        writeln!(
            o,
            "<tr data-stage=\"{}\"><td><a href=\"#stage-{k}\">{}</a></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            Text(&s.url),
            Text(s.name()),
            s.every.map(describe).unwrap_or_else(|| "?".into()),
            thousands(m.committed),
            thousands(m.replayed),
            thousands(m.missing),
            thousands(m.not_committed),
            thousands(m.unmerged),
            thousands(m.counts.records),
            bytes(m.counts.bytes),
            thousands(m.counts.quarantined),
            percent(m.counts.quarantine_rate()),
        )?;
    }
    o.push_str("</tbody></table></div></section>\n");
    Ok(())
}

fn stage(o: &mut String, k: usize, s: &StageReport) -> fmt::Result {
    let m = &s.summary;
    write!(
        o,
        "<section class=\"stage\" id=\"stage-{k}\" data-stage=\"{}\"><h2>{}</h2><p><code>{}</code></p>\n<dl class=\"totals\">",
        Text(&s.url),
        Text(s.name()),
        Text(&s.url)
    )?;
    let rate = percent(m.counts.quarantine_rate());
    let items: [(&str, &str, String); 11] = [
        ("committed", "committed intervals", thousands(m.committed)),
        ("replayed", "replayed", thousands(m.replayed)),
        ("missing", "missing", thousands(m.missing)),
        ("uncommitted", "uncommitted", thousands(m.not_committed)),
        (
            "unreadable",
            "unreadable manifests",
            thousands(m.unreadable),
        ),
        ("stale", "from replaced inputs", thousands(m.stale)),
        (
            "unmerged",
            "with shard results not merged",
            thousands(m.unmerged),
        ),
        ("records", "records", thousands(m.counts.records)),
        (
            "bytes",
            "bytes (stored)",
            format!("{} ({})", bytes(m.counts.bytes), bytes(m.counts.stored)),
        ),
        (
            "quarantined",
            "quarantined",
            thousands(m.counts.quarantined),
        ),
        ("rate", "quarantine rate", rate),
    ];
    for (key, label, value) in items {
        write!(
            o,
            "<div><dt>{label}</dt><dd data-k=\"{key}\">{value}</dd></div>"
        )?;
    }
    o.push_str("</dl>\n");
    writeln!(
        o,
        "<p class=\"mut\">Cadence: {}.</p>",
        match s.every {
            Some(e) => format!("one interval every {}", describe(e)),
            None => "unknown".into(),
        }
    )?;
    if let Some(note) = &s.cadence_note {
        writeln!(o, "<p class=\"note\">{}</p>", Text(note))?;
    }
    calendar(o, k, s)?;
    records_chart(o, s)?;
    changes(o, s)?;
    reasons(o, s)?;
    modules(o, s)?;
    intervals_table(o, s)?;
    o.push_str("</section>\n");
    Ok(())
}

/// The class of a cell: its status, and for committed ones how much was
/// quarantined.
fn cell_class(r: &IntervalRow) -> String {
    let mut c = String::from(r.status.word());
    if let Some(counts) = &r.counts {
        let rate = counts.quarantine_rate();
        c.push_str(match rate {
            0.0 => "",
            x if x < 0.01 => " q1",
            x if x < 0.05 => " q2",
            _ => " q3",
        });
    }
    if !r.stale_inputs.is_empty() {
        c.push_str(" stale");
    }
    if r.shards.is_some() {
        c.push_str(" unmerged");
    }
    c
}

/// What waits of a sharded run: `2 of 3 shard results sealed, waiting for
/// weir commit`.
fn shards_waiting(sh: &ShardResults) -> String {
    format!(
        "{} of {} shard results sealed, waiting for weir commit",
        sh.sealed, sh.count
    )
}

/// What hovering over a cell says.
fn cell_title(r: &IntervalRow) -> String {
    let mut t = r.interval.to_string();
    match &r.status {
        Status::Missing => t.push_str(": missing"),
        Status::NotCommitted => t.push_str(": not committed (a folder without a manifest)"),
        Status::Unreadable(why) => {
            let _ = write!(t, ": unreadable manifest: {why}");
        }
        Status::Committed | Status::Replayed(_) => {}
    }
    if let Some(c) = &r.counts {
        let _ = write!(
            t,
            ": {} records, {}, {} quarantined ({})",
            thousands(c.records),
            bytes(c.bytes),
            thousands(c.quarantined),
            percent(c.quarantine_rate())
        );
    }
    if let Status::Replayed(n) = r.status {
        let _ = write!(t, ", replayed {n}×");
    }
    for input in &r.stale_inputs {
        let _ = write!(t, "; made from a commit of {input} since replaced");
    }
    if let Some(sh) = &r.shards {
        let _ = write!(t, "; {}", shards_waiting(sh));
    }
    t
}

/// Records per interval as a line over the timeline: one point per
/// interval, broken where none is committed (a red tick below the axis),
/// the tallest interval's count on the axis.
fn records_chart(o: &mut String, s: &StageReport) -> fmt::Result {
    const W: f64 = 720.0;
    const H: f64 = 110.0;
    const LEFT: f64 = 64.0;
    const TOP: f64 = 8.0;
    const BOTTOM: f64 = 18.0;
    let n = s.timeline.len();
    let max = s
        .timeline
        .iter()
        .filter_map(|r| r.counts.map(|c| c.records))
        .max()
        .unwrap_or(0);
    if n < 2 || max == 0 {
        return Ok(());
    }
    let x = |i: usize| LEFT + (W - LEFT - 4.0) * i as f64 / (n - 1) as f64;
    let y = |v: u64| TOP + (H - TOP - BOTTOM) * (1.0 - v as f64 / max as f64);
    let base = H - BOTTOM;
    let (mut line, mut gaps, mut pen) = (String::new(), String::new(), false);
    for (i, r) in s.timeline.iter().enumerate() {
        match r.counts {
            // `l0,0` after a move: a lone interval between gaps shows as a dot.
            Some(c) if pen => write!(line, "L{:.1},{:.1}", x(i), y(c.records))?,
            Some(c) => {
                write!(line, "M{:.1},{:.1}l0,0", x(i), y(c.records))?;
                pen = true;
            }
            None => {
                write!(gaps, "M{:.1},{:.1}v5", x(i), base + 1.0)?;
                pen = false;
            }
        }
    }
    writeln!(
        o,
        "<h3>Records per interval</h3>\n<svg class=\"chart\" data-chart=\"records\" data-max=\"{max}\" \
         width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"records per interval, at most {} in one\">\
         <path class=\"axis\" d=\"M{LEFT},{TOP}V{base}H{}\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><text x=\"{}\" y=\"{base}\" text-anchor=\"end\">0</text>\
         <text x=\"{LEFT}\" y=\"{H}\">{}</text><text x=\"{}\" y=\"{H}\" text-anchor=\"end\">{}</text>\
         <path class=\"records\" d=\"{line}\"/><path class=\"gaps\" d=\"{gaps}\"/></svg>",
        thousands(max),
        W - 4.0,
        LEFT - 4.0,
        TOP + 8.0,
        thousands(max),
        LEFT - 4.0,
        s.timeline[0].interval,
        W - 4.0,
        s.timeline[n - 1].interval,
    )
}

/// The calendar: one cell per interval. Daily intervals lie in weeks
/// (a column a week, Monday on top), shorter ones in days (a column a
/// day), others in columns of 12.
/// Where an interval's cell sits in the calendar: its row and column.
type CellPlace = dyn Fn(usize, &IntervalRow) -> (i64, i64);

fn calendar(o: &mut String, k: usize, s: &StageReport) -> fmt::Result {
    const CELL: i64 = 11;
    const GAP: i64 = 2;
    const LEFT: i64 = 44;
    const TOP: i64 = 16;
    o.push_str("<h3>Intervals</h3>\n<p class=\"legend\"><span><i style=\"background:var(--ok)\"></i>committed</span>\
        <span><i style=\"background:var(--q1)\"></i>&lt;1% quarantined</span><span><i style=\"background:var(--q2)\"></i>&lt;5%</span>\
        <span><i style=\"background:var(--q3)\"></i>≥5%</span><span><i style=\"background:#fff;border:2px solid var(--rep)\"></i>replayed</span>\
        <span><i style=\"background:#fff;border:1.5px dashed var(--miss)\"></i>missing</span><span><i style=\"background:var(--unc)\"></i>uncommitted</span>\
        <span><i style=\"background:var(--unc);border:1.5px dashed #495057\"></i>shards not merged</span>\
        <span><i style=\"background:var(--bad)\"></i>unreadable</span></p>\n");
    if s.timeline.is_empty() {
        o.push_str("<p class=\"mut\">No interval in the range.</p>\n");
        return Ok(());
    }
    let day = TimeDelta::days(1);
    let first = s.timeline[0].interval.start();
    let (rows, place): (i64, Box<CellPlace>) = match s.every {
        Some(e) if e == day => {
            let monday = first.date_naive()
                - chrono::Days::new(u64::from(first.weekday().num_days_from_monday()));
            (
                7,
                Box::new(move |_, r| {
                    let d = r.interval.start().date_naive();
                    (
                        (d - monday).num_days() / 7,
                        i64::from(d.weekday().num_days_from_monday()),
                    )
                }),
            )
        }
        Some(e)
            if e < day
                && e.num_seconds() > 0
                && 86_400 % e.num_seconds() == 0
                && 86_400 / e.num_seconds() <= 96 =>
        {
            let step = e.num_seconds();
            let day0 = first.date_naive();
            (
                86_400 / step,
                Box::new(move |_, r| {
                    let t = r.interval.start();
                    (
                        (t.date_naive() - day0).num_days(),
                        i64::from(t.num_seconds_from_midnight()) / step,
                    )
                }),
            )
        }
        _ => (12, Box::new(|i, _| (i as i64 / 12, i as i64 % 12))),
    };
    let cols = s
        .timeline
        .iter()
        .enumerate()
        .map(|(i, r)| place(i, r).0)
        .max()
        .unwrap_or(0)
        + 1;
    // At least room for one column label (a date).
    let width = (LEFT + cols * (CELL + GAP) + 4).max(LEFT + 80);
    let height = TOP + rows * (CELL + GAP) + 4;
    writeln!(
        o,
        "<div class=\"scroll\"><svg class=\"calendar\" id=\"calendar-{k}\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"intervals of {}\">",
        Text(s.name())
    )?;
    // Row labels: weekdays, or times of day.
    let every_row = (rows / 4).max(1);
    for row in (0..rows).step_by(every_row as usize) {
        let label = match s.every {
            Some(e) if e == day => {
                ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][row as usize % 7].to_string()
            }
            Some(e) if rows != 12 || e < day => {
                let secs = row * e.num_seconds();
                format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
            }
            _ => String::new(),
        };
        write!(
            o,
            "<text x=\"0\" y=\"{}\">{label}</text>",
            TOP + row * (CELL + GAP) + CELL - 1
        )?;
    }
    // Column labels: the date where the month (or, for short intervals, the
    // week) turns.
    let mut last_label: Option<(i32, u32)> = None;
    let mut last_col = -10;
    for (i, r) in s.timeline.iter().enumerate() {
        let (col, _) = place(i, r);
        let d = r.interval.start().date_naive();
        let key = (
            d.year(),
            if s.every == Some(day) {
                d.month()
            } else {
                d.iso_week().week()
            },
        );
        if last_label != Some(key) && col - last_col >= 4 {
            write!(
                o,
                "<text x=\"{}\" y=\"11\">{}</text>",
                LEFT + col * (CELL + GAP),
                d.format("%Y-%m-%d")
            )?;
            last_label = Some(key);
            last_col = col;
        }
    }
    o.push('\n');
    for (i, r) in s.timeline.iter().enumerate() {
        let (col, row) = place(i, r);
        write!(
            o,
            "<rect x=\"{}\" y=\"{}\" width=\"{CELL}\" height=\"{CELL}\" rx=\"2\" class=\"{}\" data-interval=\"{}\"><title>{}</title></rect>",
            LEFT + col * (CELL + GAP),
            TOP + row * (CELL + GAP),
            cell_class(r),
            r.interval,
            Text(&cell_title(r))
        )?;
        if i % 16 == 15 {
            o.push('\n');
        }
    }
    o.push_str("\n</svg></div>\n");
    Ok(())
}

fn changes(o: &mut String, s: &StageReport) -> fmt::Result {
    o.push_str(&format!(
        "<h3>Largest changes</h3><p class=\"mut\">Each committed interval against the median of the {} committed intervals before it.</p>\n",
        crate::changes::BASELINE
    ));
    let table = |o: &mut String,
                 title: &str,
                 id: &str,
                 list: &[Change],
                 rate: bool|
     -> fmt::Result {
        write!(o, "<h4>{title}</h4>")?;
        if list.is_empty() {
            o.push_str("<p class=\"mut\">No change.</p>\n");
            return Ok(());
        }
        write!(
            o,
            "<table class=\"changes\" id=\"{id}\"><thead><tr><th>interval</th><th class=\"n\">{}</th><th class=\"n\">baseline</th><th class=\"n\">change</th></tr></thead><tbody>",
            if rate { "quarantine rate" } else { "records" }
        )?;
        for c in list {
            let (v, b) = if rate {
                (percent(c.value), percent(c.baseline))
            } else {
                (thousands(c.value as u64), format!("{:.0}", c.baseline))
            };
            write!(
                o,
                "<tr><td>{}</td><td class=\"n\">{v}</td><td class=\"n\">{b}</td><td class=\"n\">{}</td></tr>",
                c.interval,
                signed_change(c, !rate)
            )?;
        }
        o.push_str("</tbody></table>\n");
        Ok(())
    };
    let k = s.name();
    table(
        o,
        "Records",
        &format!("records-{}", Text(k)),
        &s.record_changes,
        false,
    )?;
    table(
        o,
        "Quarantine rate",
        &format!("rate-{}", Text(k)),
        &s.rate_changes,
        true,
    )
}

fn reasons(o: &mut String, s: &StageReport) -> fmt::Result {
    o.push_str("<h3>Top quarantine reasons</h3>\n");
    let c = &s.reasons_read;
    if c.records == 0 {
        o.push_str("<p class=\"mut\">Nothing quarantined in the range.</p>\n");
        return Ok(());
    }
    writeln!(
        o,
        "<p class=\"mut\">From {} of {} quarantine part{} ({} entries read of {} quarantined records; the intervals with the most first).{}</p>",
        thousands(c.parts_read),
        thousands(c.parts),
        if c.parts == 1 { "" } else { "s" },
        thousands(c.entries_read),
        thousands(c.records),
        if c.bad_lines > 0 {
            format!(
                " <span class=\"warn\">{} lines were not quarantine entries.</span>",
                thousands(c.bad_lines)
            )
        } else {
            String::new()
        }
    )?;
    o.push_str("<table class=\"reasons\"><thead><tr><th class=\"n\">records</th><th>rejected by</th><th>reason, and examples</th></tr></thead><tbody>\n");
    for g in &s.reasons {
        write!(
            o,
            "<tr><td class=\"n\">{}</td><td>{}</td><td><div class=\"reason\">{}</div>",
            thousands(g.count),
            Text(g.transform.as_deref().unwrap_or("weir stage")),
            Text(&g.reason)
        )?;
        for e in &g.examples {
            write!(
                o,
                "<div class=\"mut\">{} · {} line {} · {}</div><pre class=\"record\">{}{}</pre>",
                e.interval,
                Text(&e.object),
                e.line,
                Text(&e.reason),
                Text(&e.text),
                if e.cut { " …" } else { "" }
            )?;
        }
        o.push_str("</td></tr>\n");
    }
    o.push_str("</tbody></table>\n");
    Ok(())
}

fn modules(o: &mut String, s: &StageReport) -> fmt::Result {
    o.push_str("<h3>Produced by</h3>\n<ul>");
    for p in &s.producers {
        write!(
            o,
            "<li><code>{} {}</code>: {} interval{}</li>",
            Text(&p.producer),
            Text(&p.command),
            thousands(p.intervals),
            if p.intervals == 1 { "" } else { "s" }
        )?;
    }
    o.push_str("</ul>\n");
    if s.modules.is_empty() {
        o.push_str("<p class=\"mut\">No transform module made these intervals.</p>\n");
        return Ok(());
    }
    o.push_str("<table class=\"modules\"><thead><tr><th>transform</th><th>module sha256</th><th class=\"n\">intervals</th><th>first</th><th>last</th></tr></thead><tbody>\n");
    for m in &s.modules {
        writeln!(
            o,
            "<tr><td>{}{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            Text(&m.name),
            if m.replay { " (replay)" } else { "" },
            Text(&m.sha256),
            thousands(m.intervals),
            m.first,
            m.last
        )?;
    }
    o.push_str("</tbody></table>\n");
    if s.module_changes.is_empty() {
        o.push_str("<p class=\"mut\">The modules did not change in the range.</p>\n");
        return Ok(());
    }
    o.push_str("<h4>Module changes</h4><ul class=\"module-changes\">");
    let short = |sha: &Option<String>| match sha {
        Some(s) => s.chars().take(12).collect(),
        None => "(none)".to_string(),
    };
    for c in &s.module_changes {
        write!(
            o,
            "<li>{}: <b>{}</b> <code>{}</code> → <code>{}</code> <span class=\"mut\">(after {})</span></li>",
            c.interval,
            Text(&c.name),
            Text(&short(&c.from)),
            Text(&short(&c.to)),
            c.previous
        )?;
    }
    o.push_str("</ul>\n");
    Ok(())
}

fn intervals_table(o: &mut String, s: &StageReport) -> fmt::Result {
    let n = s.timeline.len();
    let shown = &s.timeline[n.saturating_sub(TABLE_ROWS)..];
    writeln!(
        o,
        "<details><summary>All intervals ({}{})</summary><div class=\"scroll\"><table class=\"intervals\"><thead><tr><th>interval</th><th>state</th>\
         <th class=\"n\">records</th><th class=\"n\">bytes</th><th class=\"n\">quarantined</th><th class=\"n\">rate</th><th>committed at</th></tr></thead><tbody>",
        thousands(n as u64),
        if shown.len() < n {
            format!("; the latest {TABLE_ROWS}")
        } else {
            String::new()
        }
    )?;
    for r in shown.iter().rev() {
        let mut state = match &r.status {
            Status::Replayed(k) => format!("replayed {k}×"),
            other => other.word().to_string(),
        };
        if let Some(sh) = &r.shards {
            let _ = write!(state, "; {}", shards_waiting(sh));
        }
        write!(
            o,
            "<tr class=\"{}\"><td>{}</td><td>{}</td>",
            r.status.word(),
            r.interval,
            state
        )?;
        match &r.counts {
            Some(c) => write!(
                o,
                "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
                thousands(c.records),
                bytes(c.bytes),
                thousands(c.quarantined),
                percent(c.quarantine_rate())
            )?,
            None => o.push_str("<td></td><td></td><td></td><td></td>"),
        }
        writeln!(
            o,
            "<td>{}</td></tr>",
            Text(r.created.as_deref().unwrap_or(""))
        )?;
    }
    o.push_str("</tbody></table></div></details>\n");
    Ok(())
}
