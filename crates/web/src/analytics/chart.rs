//! Bar and line charts as inline SVG, drawn on the server: no script, no library, and the
//! page's strict CSP is untouched (colours come from the stylesheet through classes).
//! A pure function of its input, so scaling and markup are unit-tested.
//!
//! There is no `viewBox`: horizontal positions are percentages of the chart's width and
//! vertical ones pixels, so the chart fills a 360 px phone or a desktop column while its
//! text keeps its size instead of shrinking with the drawing. Y-axis labels sit on their
//! grid lines inside the plot, which needs no left margin of a fixed width.

use std::fmt::Write;

/// Height of the whole chart in pixels.
const HEIGHT: f64 = 240.0;
/// Room above the top grid line for its label.
const TOP: f64 = 18.0;
/// Room under the axis for the x labels.
const BOTTOM: f64 = 24.0;
const PLOT_H: f64 = HEIGHT - TOP - BOTTOM;
/// Grid lines above zero; the axis top is `TICKS` steps.
const TICKS: i64 = 4;
/// Most labels under the x axis before they would overlap on a phone.
const MAX_X_LABELS: usize = 8;

/// Bars for amounts per bucket, a line for counts over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bars,
    Line,
}

/// One value of the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// Short text under the axis, e.g. `10:00` or `20 Nov`.
    pub label: String,
    /// Full name of the bucket for the tooltip and description, e.g. `Fri 20 Nov 10:00 UTC`.
    pub name: String,
    /// Negative values are drawn as zero: the charts show revenue and counts.
    pub value: i64,
}

/// What to draw.
pub struct Chart<'a> {
    /// Unique on the page: the SVG's title and description ids derive from it.
    pub id: &'a str,
    pub title: &'a str,
    pub kind: Kind,
    pub points: &'a [Point],
    /// How a value reads on the axis and in tooltips, e.g. `$150` or `12`.
    pub format: &'a dyn Fn(i64) -> String,
    /// The least the y axis covers, so an empty or nearly empty chart reads in sensible
    /// units ($0–$20, 0–4 orders) instead of scaling up from nothing ($0–$0.04).
    pub floor: i64,
}

/// The smallest 1, 2 or 5 times a power of ten that is at least `n` (and at least 1), so
/// axis steps are round numbers in the value's own unit (cents, orders).
pub fn nice_step(n: i64) -> i64 {
    let mut power = 1i64;
    loop {
        for m in [1, 2, 5] {
            let step = m * power;
            if step >= n {
                return step;
            }
        }
        match power.checked_mul(10) {
            Some(p) => power = p,
            None => return i64::MAX / TICKS,
        }
    }
}

/// The value at the top of the y axis: `TICKS` round steps covering the largest value.
pub fn axis_top(max: i64) -> i64 {
    let step = nice_step(max.max(0).saturating_add(TICKS - 1) / TICKS);
    step.saturating_mul(TICKS)
}

/// The chart as an `<svg>` element, with `<title>`, `<desc>` and a tooltip per value.
pub fn render(chart: &Chart<'_>) -> String {
    let points = chart.points;
    let max = points.iter().map(|p| p.value.max(0)).max().unwrap_or(0);
    // A share of the width per value, in percent.
    let plot = Plot { top: axis_top(max.max(chart.floor)), slot: 100.0 / points.len().max(1) as f64 };
    let id = escape(chart.id);
    let mut svg = String::with_capacity(1024 + points.len() * 160);
    let _ = write!(
        svg,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="100%" height="{HEIGHT}" role="img" aria-labelledby="{id}-title {id}-desc"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(chart.title),
        escape(&describe(chart, max)),
    );
    for tick in 0..=TICKS {
        let ty = plot.y(plot.top / TICKS * tick);
        let _ = write!(svg, r#"<line class="grid" x1="0" x2="100%" y1="{ty:.1}" y2="{ty:.1}"/>"#);
    }
    if points.is_empty() {
        let _ = write!(
            svg,
            r#"<text class="empty" x="50%" y="{:.1}" text-anchor="middle">No data</text>"#,
            TOP + PLOT_H / 2.0
        );
    }
    match chart.kind {
        Kind::Bars => bars(&mut svg, chart, &plot),
        Kind::Line => line(&mut svg, chart, &plot),
    }
    // Axis labels last, so they are drawn over the bars (with a halo from the stylesheet).
    labels(&mut svg, chart, &plot);
    let base = plot.y(0);
    let _ = write!(svg, r#"<line class="axis" x1="0" x2="100%" y1="{base:.1}" y2="{base:.1}"/></svg>"#);
    svg
}

/// Where values and slots fall on the drawing.
struct Plot {
    /// The value at the top of the axis.
    top: i64,
    /// The share of the width per value, in percent.
    slot: f64,
}

impl Plot {
    /// The y of value `v`, in pixels.
    fn y(&self, v: i64) -> f64 {
        TOP + PLOT_H - (v.max(0) as f64) * PLOT_H / (self.top as f64)
    }

    /// The x of the middle of the `i`th value's slot, in percent of the width.
    fn center(&self, i: usize) -> f64 {
        self.slot * (i as f64 + 0.5)
    }
}

fn bars(svg: &mut String, chart: &Chart<'_>, plot: &Plot) {
    let width = plot.slot * 0.7;
    for (i, p) in chart.points.iter().enumerate() {
        let (top_y, base) = (plot.y(p.value), plot.y(0));
        let _ = write!(
            svg,
            r#"<rect class="bar" x="{:.3}%" y="{top_y:.1}" width="{width:.3}%" height="{:.1}"><title>{}</title></rect>"#,
            plot.center(i) - width / 2.0,
            base - top_y,
            tooltip(chart, p),
        );
    }
}

fn line(svg: &mut String, chart: &Chart<'_>, plot: &Plot) {
    // Segments rather than one polyline: `points` takes no percentages.
    for (i, pair) in chart.points.windows(2).enumerate() {
        let _ = write!(
            svg,
            r#"<line class="line" x1="{:.3}%" y1="{:.1}" x2="{:.3}%" y2="{:.1}"/>"#,
            plot.center(i),
            plot.y(pair[0].value),
            plot.center(i + 1),
            plot.y(pair[1].value),
        );
    }
    for (i, p) in chart.points.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<circle class="dot" cx="{:.3}%" cy="{:.1}" r="3.5"><title>{}</title></circle>"#,
            plot.center(i),
            plot.y(p.value),
            tooltip(chart, p),
        );
    }
}

/// The value axis's labels, and at most `MAX_X_LABELS` of the points' labels.
fn labels(svg: &mut String, chart: &Chart<'_>, plot: &Plot) {
    for tick in 0..=TICKS {
        let value = plot.top / TICKS * tick;
        let _ = write!(
            svg,
            r#"<text class="y-label" x="2" y="{:.1}">{}</text>"#,
            plot.y(value) - 4.0,
            escape(&(chart.format)(value)),
        );
    }
    let every = chart.points.len().div_ceil(MAX_X_LABELS).max(1);
    for (i, p) in chart.points.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let _ = write!(
            svg,
            r#"<text class="x-label" x="{:.3}%" y="{}" text-anchor="middle">{}</text>"#,
            plot.center(i),
            HEIGHT - 6.0,
            escape(&p.label),
        );
    }
}

fn tooltip(chart: &Chart<'_>, p: &Point) -> String {
    escape(&format!("{}: {}", p.name, (chart.format)(p.value)))
}

/// One sentence for screen readers: the span and the peak; the table below has every value.
fn describe(chart: &Chart<'_>, max: i64) -> String {
    let (Some(first), Some(last)) = (chart.points.first(), chart.points.last()) else {
        return "No data for this range.".into();
    };
    let peak = chart.points.iter().find(|p| p.value.max(0) == max).map_or("", |p| p.name.as_str());
    format!(
        "{} values from {} to {}; the highest is {} ({}).",
        chart.points.len(),
        first.name,
        last.name,
        (chart.format)(max),
        peak
    )
}

/// Escapes text for SVG/HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(values: &[i64]) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Point { label: format!("L{i}"), name: format!("Bucket {i}"), value: *v })
            .collect()
    }

    fn draw(kind: Kind, values: &[i64]) -> String {
        let pts = points(values);
        render(&Chart { id: "c", title: "Revenue <USD>", kind, points: &pts, format: &|v| v.to_string(), floor: 0 })
    }

    /// The `height` attributes of the bars, in order.
    fn bar_heights(svg: &str) -> Vec<f64> {
        svg.split("<rect ")
            .skip(1)
            .map(|r| {
                let h = r.split("height=\"").nth(1).unwrap();
                h[..h.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn an_empty_chart_starts_from_its_floor() {
        let pts: Vec<Point> = (0..3).map(|i| Point { label: i.to_string(), name: i.to_string(), value: 0 }).collect();
        let money = |v: i64| format!("${}", v / 100);
        let svg =
            render(&Chart { id: "e", title: "Revenue", kind: Kind::Bars, points: &pts, format: &money, floor: 2_000 });
        for tick in ["$0", "$5", "$10", "$15", "$20"] {
            assert!(svg.contains(&format!(">{tick}</text>")), "tick {tick} in {svg}");
        }
        assert!(!svg.contains(">$0.04<"));
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!([0, 1, 3, 4, 6, 11, 49, 51, 3863].map(nice_step), [1, 1, 5, 5, 10, 20, 50, 100, 5000]);
        assert_eq!(axis_top(15_450), 20_000);
        assert_eq!(axis_top(0), 4);
        assert_eq!(axis_top(4), 4);
        assert_eq!(axis_top(5), 8);
        assert!(axis_top(i64::MAX) > 0);
    }

    #[test]
    fn bars_scale_to_the_axis_top() {
        let svg = draw(Kind::Bars, &[15_450, 0, 5_000]);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        let heights = bar_heights(&svg);
        // Axis top 20,000 over the plot's height.
        assert_eq!(
            heights,
            [PLOT_H * 15_450.0 / 20_000.0, 0.0, PLOT_H * 5_000.0 / 20_000.0].map(|h| (h * 10.0).round() / 10.0)
        );
        assert_eq!(svg.matches("class=\"grid\"").count(), 5);
        // Three values share the width: each bar is 70 % of its third, centred in it.
        assert!(svg.contains(r#"<rect class="bar" x="5.000%""#) && svg.contains(r#"width="23.333%""#), "{svg}");
        assert!(svg.contains(r#"<rect class="bar" x="71.667%""#));
        for tick in ["0", "5000", "10000", "15000", "20000"] {
            assert!(svg.contains(&format!(">{tick}</text>")), "tick {tick}");
        }
        assert!(svg.contains("<title>Bucket 0: 15450</title>"));
    }

    #[test]
    fn it_is_labelled_for_assistive_technology_and_escapes_text() {
        let svg = draw(Kind::Bars, &[1, 7, 3]);
        assert!(svg.contains(r#"role="img" aria-labelledby="c-title c-desc""#));
        assert!(svg.contains(r#"<title id="c-title">Revenue &lt;USD&gt;</title>"#));
        assert!(svg.contains("3 values from Bucket 0 to Bucket 2; the highest is 7 (Bucket 1)."));
        assert!(!svg.contains("<USD>"));
    }

    #[test]
    fn empty_and_all_zero_data_draw_without_dividing_by_zero() {
        let empty = draw(Kind::Bars, &[]);
        assert!(empty.contains(">No data</text>") && !empty.contains("<rect"));
        assert!(empty.contains("No data for this range."));
        let zeros = draw(Kind::Bars, &[0, 0]);
        assert_eq!(bar_heights(&zeros), [0.0, 0.0]);
        assert!(!zeros.contains("NaN") && !zeros.contains("inf"));
        let negative = draw(Kind::Line, &[-5, 2]);
        let base = TOP + PLOT_H;
        assert!(
            !negative.contains("NaN") && negative.contains(&format!(r#"x1="25.000%" y1="{base:.1}""#)),
            "{negative}"
        );
    }

    #[test]
    fn lines_have_one_vertex_and_dot_per_value_and_labels_thin_out() {
        let values: Vec<i64> = (0..30).collect();
        let svg = draw(Kind::Line, &values);
        assert_eq!(svg.matches(r#"<line class="line""#).count(), 29);
        assert!(svg.contains(r#"<circle class="dot" cx="1.667%""#) && svg.contains(r#"cx="98.333%""#));
        assert_eq!(svg.matches("<circle").count(), 30);
        let labels = svg.matches("class=\"x-label\"").count();
        assert!((1..=MAX_X_LABELS).contains(&labels), "{labels} labels");
        assert!(svg.contains(">L0</text>") && !svg.contains(">L1</text>"));
    }
}
