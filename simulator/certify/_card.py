"""The report card in three forms a person or a CI reads: terminal text, JUnit XML, HTML.

Each is built from ``CertifyReport`` alone, which holds no header: a secret, a signature
or a token cannot reach any of them. The HTML page is one self-contained file (inline
CSS and SVG, no script, nothing fetched): a latency histogram of the timing burst and a
chart of each section's cases.
"""

from __future__ import annotations

import html
import math
import xml.etree.ElementTree as ET
from pathlib import Path

from simulator.certify._report import CertifyReport, percentile

__all__ = ["render_html", "render_junit", "render_text", "write_html", "write_junit"]

_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_text(report: CertifyReport) -> str:
    """The terminal card: one line per case, a hint under each failure and warning, section
    grades, the final grade."""
    lines = [f"chestsim certify {report.target}  (profile {report.profile}, "
             f"{report.sent} requests in {report.duration:.1f}s)", ""]
    width = max((len(c.id) for c in report.cases), default=10)
    section = None
    for c in report.cases:
        if c.section != section:
            section = c.section
            lines.append(f"[{section}]")
        lines.append(f"  {_MARK[c.verdict]}  {c.id.ljust(width)}  owed {_fit(c.owed, 34):<34}  got {c.got}")
        if c.verdict in ("fail", "warn"):
            if c.note:
                lines.append(f"        {c.note}")
            if c.hint:
                lines.append(f"        fix: {c.hint}")
        elif c.verdict == "pass" and c.note and c.note != c.got and c.sent:
            lines.append(f"        {c.note}")  # which of several right answers it was
    lines.append("")
    if report.latencies:
        p = [percentile(report.latencies, q) * 1000 for q in (50, 95, 99)]
        lines.append(f"timing: p50 {p[0]:.1f} ms, p95 {p[1]:.1f} ms, p99 {p[2]:.1f} ms "
                     f"over {len(report.latencies)} deliveries")
    if "load" in report.facts:
        load = report.facts["load"]
        lines.append(f"load: {load['count']} requests at {load['rate_stated']:g}/s stated, "
                     f"{load['throughput']:g}/s acknowledged, p99 {load['p99_ms']} ms")
    grades = report.sections()
    lines.append("sections: " + ", ".join(f"{name} {_MARK[v]}" for name, v in grades.items()))
    counts = report.counts()
    if report.stopped:
        lines.append(f"stopped: {report.stopped}; the cases after it were not run")
    lines.append(f"grade: {_MARK[report.grade]}  ({counts['pass']} passed, {counts['warn']} warned, "
                 f"{counts['fail']} failed, {counts['skip']} not run)")
    return "\n".join(lines)


def render_junit(report: CertifyReport) -> bytes:
    """JUnit XML: one ``testsuite`` per section, one ``testcase`` per case (a warning passes
    and says so in ``system-out``; a case not run is ``skipped``)."""
    root = ET.Element("testsuites", name="chestsim certify", tests=str(len(report.cases)),
                      failures=str(len(report.failing)), time=f"{report.duration:.3f}")
    for name in report.sections():
        mine = [c for c in report.cases if c.section == name]
        suite = ET.SubElement(root, "testsuite", name=f"certify.{name}", tests=str(len(mine)),
                              failures=str(sum(c.verdict == "fail" for c in mine)),
                              skipped=str(sum(c.verdict == "skip" for c in mine)), errors="0",
                              time=f"{sum(c.latency or 0.0 for c in mine):.3f}", timestamp=report.started)
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="target", value=report.target)
        ET.SubElement(props, "property", name="profile", value=report.profile)
        for c in mine:
            case = ET.SubElement(suite, "testcase", name=c.id, classname=f"chestsim.certify.{name}",
                                 time=f"{c.latency or 0.0:.3f}")
            said = f"owed {c.owed}; got {c.got}" + (f"; {c.note}" if c.note else "")
            if c.verdict == "fail":
                failure = ET.SubElement(case, "failure", message=said, type="certify")
                failure.text = f"{said}\nfix: {c.hint}"
            elif c.verdict == "skip":
                ET.SubElement(case, "skipped", message=c.note)
            else:
                out = ET.SubElement(case, "system-out")
                out.text = f"{c.verdict}: {said}" + (f"\nfix: {c.hint}" if c.verdict == "warn" else "")
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def write_junit(report: CertifyReport, path: str | Path) -> None:
    Path(path).write_bytes(render_junit(report))


_COLOURS = {"pass": "#2e7d32", "warn": "#ef8f00", "fail": "#c62828", "skip": "#9e9e9e"}


def _histogram(latencies: tuple[float, ...], limit: float) -> str:
    """An inline SVG histogram of the burst's latencies (ms), with the --max-latency line."""
    width, height, pad = 560, 200, 32
    if not latencies:
        return "<p>No timing burst in this run.</p>"
    ms = [v * 1000 for v in latencies]
    top = max(max(ms), 1e-3)
    bins = 20
    step = top / bins
    counts = [0] * bins
    for v in ms:
        counts[min(int(v / step), bins - 1)] += 1
    tallest = max(counts)
    bar = (width - 2 * pad) / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="latency histogram">',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#444"/>']
    for i, n in enumerate(counts):
        h = (height - 2 * pad) * n / tallest if tallest else 0
        x = pad + i * bar
        parts.append(f'<rect class="bin" x="{x:.1f}" y="{height - pad - h:.1f}" width="{bar - 2:.1f}" '
                     f'height="{h:.1f}" fill="#1565c0"><title>{i * step:.1f}–{(i + 1) * step:.1f} ms: '
                     f'{n}</title></rect>')
    limit_ms = limit * 1000
    if limit_ms <= top:
        x = pad + (width - 2 * pad) * limit_ms / top
        parts.append(f'<line x1="{x:.1f}" y1="{pad / 2}" x2="{x:.1f}" y2="{height - pad}" stroke="#c62828" '
                     f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{pad / 2 + 10}" font-size="11" '
                     f'fill="#c62828">--max-latency</text>')
    parts.append(f'<text x="{pad}" y="{height - 8}" font-size="11">0 ms</text>'
                 f'<text x="{width - pad}" y="{height - 8}" font-size="11" text-anchor="end">'
                 f'{top:.1f} ms</text></svg>')
    return "".join(parts)


def _sections_chart(report: CertifyReport) -> str:
    """An inline SVG bar per section, split into its passed, warned, failed and skipped cases."""
    names = list(report.sections())
    row, width, label_w = 26, 560, 110
    height = row * len(names) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="cases per section">']
    for i, name in enumerate(names):
        mine = [c.verdict for c in report.cases if c.section == name]
        y = 5 + i * row
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{html.escape(name)}</text>')
        x = float(label_w)
        for verdict in ("pass", "warn", "fail", "skip"):
            n = mine.count(verdict)
            if not n:
                continue
            w = (width - label_w - 10) * n / len(mine)
            parts.append(f'<rect class="seg {verdict}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 8}" '
                         f'fill="{_COLOURS[verdict]}"><title>{html.escape(name)}: {n} {verdict}</title></rect>')
            x += w
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: CertifyReport, *, max_latency: float = 2.0) -> str:
    """One self-contained HTML page: the card, a latency histogram and a per-section chart."""
    e = html.escape
    rows = []
    for c in report.cases:
        fix = e(c.hint) if c.verdict in ("fail", "warn") else ""
        rows.append(f'<tr class="{c.verdict}"><td class="verdict">{_MARK[c.verdict]}</td><td>{e(c.id)}</td>'
                    f"<td>{e(c.owed)}</td><td>{e(c.got)}</td><td>{e(c.note)}</td><td>{fix}</td></tr>")
    p = [percentile(report.latencies, q) for q in (50, 95, 99)]
    timing = ("" if not report.latencies or any(math.isnan(v) for v in p) else
              f"<p>p50 {p[0] * 1000:.1f} ms · p95 {p[1] * 1000:.1f} ms · p99 {p[2] * 1000:.1f} ms "
              f"over {len(report.latencies)} deliveries</p>")
    counts = report.counts()
    stopped = f'<p class="stopped">Stopped: {e(report.stopped)}</p>' if report.stopped else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chestsim certify: {e(report.target)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.3em; }} .grade {{ font-size: 1.6em; font-weight: bold; }}
.grade.pass {{ color: {_COLOURS['pass']}; }} .grade.warn {{ color: {_COLOURS['warn']}; }}
.grade.fail {{ color: {_COLOURS['fail']}; }}
table {{ border-collapse: collapse; margin-top: 1em; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }}
tr.fail td.verdict {{ color: {_COLOURS['fail']}; font-weight: bold; }}
tr.warn td.verdict {{ color: {_COLOURS['warn']}; font-weight: bold; }}
tr.pass td.verdict {{ color: {_COLOURS['pass']}; }} tr.skip td {{ color: #888; }}
</style></head><body>
<h1>chestsim certify: {e(report.target)}</h1>
<p class="grade {report.grade}" id="grade">{_MARK[report.grade]}</p>
<p>Profile {e(report.profile)} · started {e(report.started)} · {report.sent} requests in {report.duration:.1f}s ·
{counts['pass']} passed, {counts['warn']} warned, {counts['fail']} failed, {counts['skip']} not run</p>
{stopped}
<h2>Cases per section</h2>
{_sections_chart(report)}
<h2>Acknowledgement latency</h2>
{timing}
{_histogram(report.latencies, max_latency)}
<h2>Every case</h2>
<table id="cases"><thead><tr><th>verdict</th><th>case</th><th>owed</th><th>got</th><th>note</th><th>how to fix</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""


def write_html(report: CertifyReport, path: str | Path, *, max_latency: float = 2.0) -> None:
    Path(path).write_text(render_html(report, max_latency=max_latency), encoding="utf-8")
