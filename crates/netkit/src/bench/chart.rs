//! Charts for `--svg`, drawn by plotters' SVG backend (no fonts needed: the
//! SVG carries text, the viewer renders it).

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use std::path::Path;

/// One model's line: (connections, requests/s, p99 ms) points.
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64, f64)>,
}

/// One group of bars (a job), one bar per mode.
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) bars: Vec<(String, f64)>,
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing the chart: {e}")
}

fn color(i: usize) -> RGBColor {
    // One colour per model: nine, so no two models' lines share one.
    const COLORS: [RGBColor; 9] = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0xff, 0x7f, 0x0e),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0xd6, 0x27, 0x28),
        RGBColor(0x94, 0x67, 0xbd),
        RGBColor(0x8c, 0x56, 0x4b),
        RGBColor(0xe3, 0x77, 0xc2),
        RGBColor(0x17, 0xbe, 0xcf),
        RGBColor(0xbc, 0xbd, 0x22),
    ];
    COLORS[i % COLORS.len()]
}

/// Two panels against connections (log scale): requests/s and p99 latency.
pub(crate) fn ladder(path: &Path, title: &str, series: &[Series]) -> Result<()> {
    let root = SVGBackend::new(path, (1100, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 20)).map_err(err)?;
    let panels = root.split_evenly((1, 2));
    let all = || series.iter().flat_map(|s| s.points.iter());
    let max_x = all().map(|p| p.0).fold(1.0, f64::max) * 1.5;
    let max_rps = all().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let max_p99 = all().map(|p| p.2).fold(0.001, f64::max) * 1.5;
    let min_p99 = all()
        .map(|p| p.2)
        .fold(f64::MAX, f64::min)
        .clamp(0.001, max_p99 / 2.0)
        / 1.5;
    let mut rps = panel(&panels[0], "requests per second")
        .build_cartesian_2d((0.8f64..max_x).log_scale(), 0f64..max_rps)
        .map_err(err)?;
    let y_rps: &dyn Fn(&f64) -> String = &|y| format!("{y:.0}");
    draw_panel(&mut rps, "req/s", y_rps, series, |p| p.1, false)?;
    let mut p99 = panel(&panels[1], "p99 latency (ms, log scale)")
        .build_cartesian_2d((0.8f64..max_x).log_scale(), (min_p99..max_p99).log_scale())
        .map_err(err)?;
    let y_ms: &dyn Fn(&f64) -> String = &|y| format!("{y:.2}");
    draw_panel(&mut p99, "ms", y_ms, series, |p| p.2, true)?;
    legend_and_save(&mut p99, SeriesLabelPosition::UpperLeft, &root)
}

/// A ladder panel's frame: its caption and room for the axis labels.
fn panel<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: &str,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60);
    builder
}

/// One ladder panel's axes (connections across, `y_desc` up) and a line with
/// dots per series, `y` picking the panel's value from a point; with `legend`
/// each line is labelled with its series' name.
fn draw_panel<X, Y>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X, Y>>,
    y_desc: &str,
    y_format: &dyn Fn(&f64) -> String,
    series: &[Series],
    y: fn(&(f64, f64, f64)) -> f64,
    legend: bool,
) -> Result<()>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc("connections")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(y_format)
        .draw()
        .map_err(err)?;
    for (i, s) in series.iter().enumerate() {
        let c = color(i);
        let line = chart
            .draw_series(LineSeries::new(
                s.points.iter().map(|p| (p.0, y(p))),
                c.stroke_width(2),
            ))
            .map_err(err)?;
        if legend {
            line.label(s.name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
            });
        }
        chart
            .draw_series(
                s.points
                    .iter()
                    .map(|p| Circle::new((p.0, y(p)), 3, c.filled())),
            )
            .map_err(err)?;
    }
    Ok(())
}

/// Grouped bars of seconds: one group per job, one bar per mode.
pub(crate) fn bars(path: &Path, title: &str, groups: &[Group]) -> Result<()> {
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let max = groups
        .iter()
        .flat_map(|g| g.bars.iter().map(|b| b.1))
        .fold(0.001, f64::max)
        * 1.15;
    let n = groups.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..n, 0f64..max)
        .map_err(err)?;
    let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 0.01 {
                names.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc("wall time (s)")
        .draw()
        .map_err(err)?;
    for (gi, g) in groups.iter().enumerate() {
        let width = 0.8 / g.bars.len().max(1) as f64;
        for (bi, (label, secs)) in g.bars.iter().enumerate() {
            let x0 = gi as f64 + 0.1 + bi as f64 * width;
            let c = color(bi);
            let bar = chart
                .draw_series([Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, *secs)],
                    c.filled(),
                )])
                .map_err(err)?;
            if gi == 0 {
                bar.label(label.clone()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
                });
            }
            chart
                .draw_series([Text::new(
                    format!("{secs:.2} s"),
                    (x0, *secs + max * 0.02),
                    ("sans-serif", 13),
                )])
                .map_err(err)?;
        }
    }
    legend_and_save(&mut chart, SeriesLabelPosition::UpperRight, &root)
}

/// Draws `chart`'s legend box at `at` and writes the SVG file behind `root`.
fn legend_and_save<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, CT>,
    at: SeriesLabelPosition,
    root: &DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
