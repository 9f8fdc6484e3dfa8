//! The results as markdown tables, a CSV of every sample, and a PNG of the
//! outage distributions.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, Context as _, Result};
use plotters::coord::combinators::BindKeyPoints as _;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::pair::Samples;
use crate::scale::ScaleResult;
use crate::stats::{summarize, Summary};
use crate::systems::{Setting, System};

/// The system font the plot's text is drawn with (Debian package fonts-dejavu-core).
pub const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Everything one run measured.
pub struct Results {
    /// What was run: the command line, mode, date, machine load.
    pub header: Vec<String>,
    /// Per system and setting.
    pub pairs: Vec<(System, Setting, Samples)>,
    /// Per cluster size.
    pub scale: Vec<ScaleResult>,
}

impl Results {
    /// Every failure of every part.
    pub fn failures(&self) -> Vec<String> {
        let mut all = Vec::new();
        for (sys, set, s) in &self.pairs {
            for f in &s.failures {
                all.push(format!("{} {}: {f}", sys.key(), set.name));
            }
        }
        for r in &self.scale {
            all.extend(r.failures.iter().cloned());
        }
        all
    }
}

fn cells(s: Option<Summary>) -> String {
    match s {
        Some(s) => format!(
            "{} | {} | {} | {} | {}",
            s.n,
            fmt_ms(s.min),
            fmt_ms(s.median),
            fmt_ms(s.p90),
            fmt_ms(s.max)
        ),
        None => "0 | – | – | – | –".into(),
    }
}

/// `12.3`, `540`, `12 345`: milliseconds with sensible precision.
fn fmt_ms(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// The tables.
pub fn markdown(r: &Results) -> String {
    let mut out = String::new();
    for line in &r.header {
        let _ = writeln!(out, "{line}  ");
    }
    if !r.pairs.is_empty() {
        out.push_str(
            "\n#### Two nodes: client-observed times (ms)\n\n\
             | measurement | system | setting | n | min | median | p90 | max |\n\
             | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
        );
        type Pick = fn(&Samples) -> &Vec<f64>;
        let kinds: [(&str, Pick); 4] = [
            ("cold start", |s| &s.cold),
            ("hard failover (power loss)", |s| &s.hard),
            ("graceful switchover", |s| &s.graceful),
            ("failback (longest gap)", |s| &s.failback),
        ];
        for (kind, pick) in kinds {
            for (sys, set, s) in &r.pairs {
                let _ = writeln!(
                    out,
                    "| {kind} | {} | {} ({}) | {} |",
                    sys.label(),
                    set.name,
                    set.describe(*sys),
                    cells(summarize(pick(s)))
                );
            }
        }
        out.push_str(
            "\n#### Two nodes: idle cost of the daemon's processes\n\n\
             | system | setting | node | processes | CPU % of one core | RSS MiB | PSS MiB | deaths / state changes | late heartbeats |\n\
             | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for (sys, set, s) in &r.pairs {
            for (node, idle) in &s.idle {
                let _ = writeln!(
                    out,
                    "| {} | {} ({}) | {node} | {} | {:.3} | {:.1} | {} | {} | {} |",
                    sys.label(),
                    set.name,
                    set.describe(*sys),
                    idle.processes,
                    idle.cpu_percent,
                    idle.memory.rss_kib as f64 / 1024.0,
                    idle.memory
                        .pss_kib
                        .map_or("–".into(), |p| format!("{:.1}", p as f64 / 1024.0)),
                    idle.flaps,
                    idle.late,
                );
            }
        }
    }
    if !r.scale.is_empty() {
        out.push_str(
            "\n#### Scale: ours, N nodes on one bridge, keepalive 100 ms, deadtime 500 ms\n\n\
             | nodes | CPU % per node, mean | max | RSS MiB per node | deaths | all survivors logged it dead (ms): min | median | p90 | max | each survivor: median | p90 | node dead, link not logged dead |\n\
             | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for s in &r.scale {
            let mean = s.cpu.iter().sum::<f64>() / s.cpu.len().max(1) as f64;
            let max = s.cpu.iter().cloned().fold(0.0, f64::max);
            let rss = s.rss_kib.iter().sum::<u64>() as f64 / s.rss_kib.len().max(1) as f64 / 1024.0;
            let all = summarize(&s.detect_all);
            let each = summarize(&s.detect_each);
            let f = |v: Option<f64>| v.map_or("–".into(), fmt_ms);
            let _ = writeln!(
                out,
                "| {} | {mean:.2} | {max:.2} | {rss:.1} | {} | {} | {} | {} | {} | {} | {} | {} of {} |",
                s.nodes,
                s.detect_all.len(),
                f(all.map(|a| a.min)),
                f(all.map(|a| a.median)),
                f(all.map(|a| a.p90)),
                f(all.map(|a| a.max)),
                f(each.map(|a| a.median)),
                f(each.map(|a| a.p90)),
                s.link_dead_missing,
                s.detect_each.len(),
            );
        }
    }
    let failures = r.failures();
    if !failures.is_empty() {
        out.push_str("\n#### Measurements that could not be made\n\n");
        for f in failures {
            let first = f.lines().next().unwrap_or_default();
            let _ = writeln!(out, "- {first}");
        }
    }
    out
}

/// Every sample, one per line: `kind,system,setting,keepalive_ms,deadtime_ms,value`,
/// after the header lines as `# ` comments. [`read_csv`] reads it back.
pub fn csv(r: &Results) -> String {
    let mut out = String::new();
    for line in &r.header {
        let _ = writeln!(out, "# {line}");
    }
    out.push_str("kind,system,setting,keepalive_ms,deadtime_ms,value\n");
    for (sys, set, s) in &r.pairs {
        let row = |out: &mut String, kind: &str, v: &dyn std::fmt::Display| {
            let _ = writeln!(
                out,
                "{kind},{},{},{},{},{v}",
                sys.key(),
                set.name,
                set.keepalive.as_millis(),
                set.deadtime.as_millis()
            );
        };
        for (kind, v) in [
            ("cold_ms", &s.cold),
            ("hard_ms", &s.hard),
            ("graceful_ms", &s.graceful),
            ("failback_gap_ms", &s.failback),
        ] {
            for x in v {
                row(&mut out, kind, &format!("{x:.3}"));
            }
        }
        for (node, idle) in &s.idle {
            row(&mut out, &format!("idle_processes_{node}"), &idle.processes);
            row(
                &mut out,
                &format!("idle_cpu_percent_{node}"),
                &format!("{:.4}", idle.cpu_percent),
            );
            row(
                &mut out,
                &format!("idle_rss_kib_{node}"),
                &idle.memory.rss_kib,
            );
            if let Some(p) = idle.memory.pss_kib {
                row(&mut out, &format!("idle_pss_kib_{node}"), &p);
            }
            row(&mut out, &format!("idle_flaps_{node}"), &idle.flaps);
            row(&mut out, &format!("idle_late_{node}"), &idle.late);
        }
        for f in &s.failures {
            row(&mut out, "failure", &one_line(f));
        }
    }
    for s in &r.scale {
        let n = s.nodes;
        let mut row = |kind: &str, v: &dyn std::fmt::Display| {
            let _ = writeln!(out, "{kind},ours,{n}nodes,100,500,{v}");
        };
        for v in &s.cpu {
            row("scale_cpu_percent", &format!("{v:.4}"));
        }
        for v in &s.rss_kib {
            row("scale_rss_kib", v);
        }
        for v in &s.detect_all {
            row("scale_detect_all_ms", &format!("{v:.3}"));
        }
        for v in &s.detect_each {
            row("scale_detect_each_ms", &format!("{v:.3}"));
        }
        row("scale_link_dead_missing", &s.link_dead_missing);
        for f in &s.failures {
            row("failure", &one_line(f));
        }
    }
    out
}

/// A failure's text on one CSV line: first line only, commas as semicolons.
fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().replace(',', ";")
}

/// Reads the files [`csv`] wrote (several runs merge: samples of the same
/// system and setting, or of the same cluster size, are pooled).
pub fn read_csv(paths: &[std::path::PathBuf]) -> Result<Results> {
    use crate::cost::{Idle, Memory};
    let mut r = Results {
        header: Vec::new(),
        pairs: Vec::new(),
        scale: Vec::new(),
    };
    for path in paths {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        r.header.push(format!("From `{}`:", path.display()));
        for (n, line) in text.lines().enumerate() {
            if let Some(h) = line.strip_prefix("# ") {
                r.header.push(h.to_owned());
                continue;
            }
            let f: Vec<&str> = line.splitn(6, ',').collect();
            if n == 0 || f.len() < 6 || f[0] == "kind" {
                continue;
            }
            let bad = || anyhow!("{}:{}: {line:?}", path.display(), n + 1);
            let (kind, value) = (f[0], f[5]);
            if let Some(nodes) = f[2].strip_suffix("nodes") {
                let nodes: usize = nodes.parse().map_err(|_| bad())?;
                let i = match r.scale.iter().position(|s| s.nodes == nodes) {
                    Some(i) => i,
                    None => {
                        r.scale.push(ScaleResult {
                            nodes,
                            ..ScaleResult::default()
                        });
                        r.scale.len() - 1
                    }
                };
                let s = &mut r.scale[i];
                let v = || value.parse::<f64>().map_err(|_| bad());
                match kind {
                    "scale_cpu_percent" => s.cpu.push(v()?),
                    "scale_rss_kib" => s.rss_kib.push(v()? as u64),
                    "scale_detect_all_ms" => s.detect_all.push(v()?),
                    "scale_detect_each_ms" => s.detect_each.push(v()?),
                    "scale_link_dead_missing" => s.link_dead_missing += v()? as usize,
                    "failure" => s.failures.push(format!("{nodes} nodes: {value}")),
                    _ => return Err(bad()),
                }
                continue;
            }
            let sys = System::parse(f[1])?;
            let ms = |v: &str| v.parse::<u64>().map(std::time::Duration::from_millis);
            let setting = Setting {
                name: f[2].to_owned(),
                keepalive: ms(f[3]).map_err(|_| bad())?,
                deadtime: ms(f[4]).map_err(|_| bad())?,
                ha_cf_extra: String::new(),
                debian_host: f[2].starts_with("debian"),
            };
            let i = match r
                .pairs
                .iter()
                .position(|(s2, set2, _)| *s2 == sys && *set2 == setting)
            {
                Some(i) => i,
                None => {
                    r.pairs.push((sys, setting, Samples::default()));
                    r.pairs.len() - 1
                }
            };
            let s = &mut r.pairs[i].2;
            let v = || value.parse::<f64>().map_err(|_| bad());
            match kind {
                "cold_ms" => s.cold.push(v()?),
                "hard_ms" => s.hard.push(v()?),
                "graceful_ms" => s.graceful.push(v()?),
                "failback_gap_ms" => s.failback.push(v()?),
                "failure" => s.failures.push(value.to_owned()),
                k => {
                    let Some((what, node)) = k
                        .strip_prefix("idle_")
                        .and_then(|rest| rest.rsplit_once('_'))
                    else {
                        return Err(bad());
                    };
                    let j = match s.idle.iter().position(|(n2, _)| n2 == node) {
                        Some(j) => j,
                        None => {
                            s.idle.push((
                                node.to_owned(),
                                Idle {
                                    processes: 0,
                                    cpu_percent: 0.0,
                                    memory: Memory {
                                        rss_kib: 0,
                                        pss_kib: None,
                                    },
                                    flaps: 0,
                                    late: 0,
                                },
                            ));
                            s.idle.len() - 1
                        }
                    };
                    let idle = &mut s.idle[j].1;
                    match what {
                        "processes" => idle.processes = v()? as usize,
                        "cpu_percent" => idle.cpu_percent = v()?,
                        "rss_kib" => idle.memory.rss_kib = v()? as u64,
                        "pss_kib" => idle.memory.pss_kib = Some(v()? as u64),
                        "flaps" => idle.flaps = v()? as usize,
                        "late" => idle.late = v()? as usize,
                        _ => return Err(bad()),
                    }
                }
            }
        }
    }
    Ok(r)
}

/// 1, 2, 5, 10, 20, 50, ... within `lo..hi`: the y axis's labelled lines.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut decade = 10f64.powi(lo.log10().floor() as i32);
    while decade <= hi {
        for m in [1.0, 2.0, 5.0] {
            let v = decade * m;
            if (lo..=hi).contains(&v) {
                out.push(v);
            }
        }
        decade *= 10.0;
    }
    out
}

fn color(sys: System) -> RGBColor {
    match sys {
        System::Ours => RGBColor(31, 119, 180),
        System::Hb306 => RGBColor(214, 39, 40),
        System::Keepalived => RGBColor(44, 160, 44),
    }
}

/// Draws the hard-failover and graceful-switchover outages of every system and
/// setting: every sample as a dot, the box from the 25th to the 75th
/// percentile, the median as a bar with its value, on a log scale.
pub fn plot(r: &Results, path: &Path) -> Result<()> {
    let font = std::fs::read(FONT)
        .with_context(|| format!("{FONT} (Debian package fonts-dejavu-core)"))?;
    plotters::style::register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(font.into_boxed_slice()),
    )
    .map_err(|_| anyhow!("{FONT} is not a usable font"))?;
    type Pick = fn(&Samples) -> &Vec<f64>;
    let panels: [(&str, Pick); 2] = [
        (
            "Hard failover: power loss of the owner (client outage, ms, log scale)",
            |s| &s.hard,
        ),
        (
            "Graceful switchover: the owner's daemon stopped (client outage, ms, log scale)",
            |s| &s.graceful,
        ),
    ];
    let groups: Vec<&(System, Setting, Samples)> = r.pairs.iter().collect();
    let k = groups.len().max(1);
    let width = (220 + 150 * k).max(900) as u32;
    let root = BitMapBackend::new(path, (width, 1100)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let areas = root.split_evenly((2, 1));
    let all: Vec<f64> = groups
        .iter()
        .flat_map(|g| g.2.hard.iter().chain(&g.2.graceful))
        .copied()
        .filter(|v| *v > 0.0)
        .collect();
    let lo = all.iter().cloned().fold(f64::INFINITY, f64::min).max(0.5) / 1.6;
    let hi = all.iter().cloned().fold(1.0, f64::max) * 1.6;
    let lo = if lo.is_finite() { lo } else { 1.0 };
    let labels: Vec<String> = groups
        .iter()
        .map(|(sys, set, _)| format!("{} {}", sys.key(), set.name))
        .collect();
    for ((title, pick), area) in panels.into_iter().zip(areas.iter()) {
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(10)
            .y_label_area_size(70)
            .build_cartesian_2d(
                0f64..k as f64,
                (lo..hi).log_scale().with_key_points(ticks(lo, hi)),
            )
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .light_line_style(TRANSPARENT)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .y_label_style(("sans-serif", 15))
            .y_desc("ms")
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (i, (sys, _, s)) in groups.iter().enumerate() {
            let c = color(*sys);
            let x = i as f64 + 0.5;
            // The column's name at its top (plotters places axis labels on its
            // own ticks, not on categories).
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((x, hi))
                        + Text::new(
                            labels[i].clone(),
                            (0, 6),
                            ("sans-serif", 15)
                                .into_font()
                                .color(&c)
                                .pos(Pos::new(HPos::Center, VPos::Top)),
                        ),
                ))
                .map_err(|e| anyhow!("{e}"))?;
            let mut v: Vec<f64> = pick(s).iter().copied().filter(|x| *x > 0.0).collect();
            if v.is_empty() {
                continue;
            }
            v.sort_by(f64::total_cmp);
            let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - 0.22, q(0.25)), (x + 0.22, q(0.75))],
                    c.mix(0.25).filled(),
                )))
                .map_err(|e| anyhow!("{e}"))?;
            let med = summarize(&v).map_or(0.0, |s| s.median);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x - 0.3, med), (x + 0.3, med)],
                    c.stroke_width(3),
                )))
                .map_err(|e| anyhow!("{e}"))?;
            // Spread the dots sideways so that equal values stay visible.
            let n = v.len();
            chart
                .draw_series(v.iter().enumerate().map(|(j, y)| {
                    let dx = if n > 1 {
                        (j as f64 / (n - 1) as f64 - 0.5) * 0.3
                    } else {
                        0.0
                    };
                    Circle::new((x + dx, *y), 3, c.filled())
                }))
                .map_err(|e| anyhow!("{e}"))?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{} ms", fmt_ms(med)),
                    (x + 0.3, med),
                    ("sans-serif", 13).into_font().color(&BLACK),
                )))
                .map_err(|e| anyhow!("{e}"))?;
        }
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
