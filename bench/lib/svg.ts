/**
 * Hand-written SVG charts, no dependencies:
 * - groupedBars: one group per x category (e.g. connections), one bar per series (server),
 *   bar = median, whisker = min–max across rounds;
 * - percentileLines: latency percentiles (p50 … max) per series on a log axis, one panel per
 *   connection count;
 * - histogram: share of samples per bucket per series on a log axis, with the early (negative)
 *   side shaded.
 */
import type { Summary } from './stats';

export const COLORS: Record<string, string> = {
  'ours-standalone': '#1f5fbf',
  'ours-spin': '#123a75',
  'ours-node': '#6aa7e8',
  'node-http': '#c8372d',
  'node-net': '#f08c2e',
  'node-net (effective)': '#f5c27a',
  node: '#f08c2e',
  'node (effective delay)': '#f5c27a',
  c: '#2e9d4e',
  'c-mt': '#8cc99b',
  uv: '#8e44ad',
  'uv (effective delay)': '#c39bd3',
};

export function colorOf(id: string, i: number): string {
  const fallback = ['#555', '#8e44ad', '#16a085', '#7f8c8d', '#d35400'];
  return COLORS[id] ?? fallback[i % fallback.length]!;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function n(x: number): string {
  return Number.isFinite(x) ? String(Math.round(x * 10) / 10) : '0';
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${n(x)}" y="${n(y)}" ${attrs}>${esc(s)}</text>`;
}

/** 1, 2, 5 × 10^k at or above v. */
function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Compact number: 182345 → "182k", 1.5e6 → "1.5M", 0.25 → "0.25". */
export function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(a >= 1e4 ? 0 : 1)}k`;
  if (a >= 10) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}

function header(width: number, height: number, title: string, subtitle?: string): string[] {
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(16, 24, title, 'font-size="16" font-weight="bold" fill="#222"'),
  ];
  if (subtitle) out.push(text(16, 42, subtitle, 'font-size="11" fill="#666"'));
  return out;
}

function legend(items: { label: string; color: string }[], x: number, y: number, maxWidth: number): { svg: string[]; height: number } {
  const out: string[] = [];
  let cx = x;
  let cy = y;
  for (const it of items) {
    const w = 22 + it.label.length * 6.6 + 14;
    if (cx + w > x + maxWidth) {
      cx = x;
      cy += 18;
    }
    out.push(`<rect x="${n(cx)}" y="${n(cy - 10)}" width="12" height="12" fill="${it.color}"/>`);
    out.push(text(cx + 17, cy, it.label, 'fill="#333"'));
    cx += w;
  }
  return { svg: out, height: cy - y + 18 };
}

export interface BarSeries {
  id: string;
  label: string;
  values: (Summary | null)[];
}

/**
 * Grouped bar chart with min–max whiskers. With `perGroupScale` each group gets its own y axis
 * (for groups whose values differ by orders of magnitude, like 1 vs 1,000 connections).
 */
export function groupedBars(opts: {
  title: string;
  subtitle?: string;
  groups: string[];
  series: BarSeries[];
  yLabel: string;
  width?: number;
  perGroupScale?: boolean;
}): string {
  const width = opts.width ?? 860;
  const series = opts.series;
  const items = series.map((s, i) => ({ label: s.label, color: colorOf(s.id, i) }));
  const lg = legend(items, 70, 66, width - 90);
  const top = 66 + lg.height + 14;
  const plotH = 300;
  const height = top + plotH + 50;
  const left = 70;
  const right = width - 20;
  const plotW = right - left;
  const scaleOf = (gi: number | null): number => {
    let maxV = 0;
    for (const s of series)
      s.values.forEach((v, i) => {
        if (v && (gi === null || gi === i)) maxV = Math.max(maxV, v.max, v.median);
      });
    return niceCeil(maxV * 1.08);
  };
  const globalMax = scaleOf(null);
  const out = header(width, height, opts.title, opts.subtitle);
  out.push(...lg.svg);
  const groupW = plotW / opts.groups.length;
  const axis = (yMax: number, x0: number, x1: number): void => {
    for (let i = 0; i <= 5; i++) {
      const v = (yMax * i) / 5;
      const yy = top + plotH - (v / yMax) * plotH;
      out.push(`<line x1="${n(x0)}" x2="${n(x1)}" y1="${n(yy)}" y2="${n(yy)}" stroke="#e4e4e4"/>`);
      out.push(text(x0 - 6, yy + 4, compact(v), 'text-anchor="end" font-size="10" fill="#555"'));
    }
  };
  if (!opts.perGroupScale) axis(globalMax, left, right);
  out.push(text(16, top + plotH / 2, opts.yLabel, `transform="rotate(-90 16 ${n(top + plotH / 2)})" text-anchor="middle" fill="#333"`));
  const pad = opts.perGroupScale ? 44 : 0;
  const barW = Math.min(46, ((groupW - pad) * 0.8) / Math.max(1, series.length));
  opts.groups.forEach((g, gi) => {
    const g0 = left + gi * groupW + pad;
    const g1 = left + (gi + 1) * groupW;
    const yMax = opts.perGroupScale ? scaleOf(gi) : globalMax;
    if (opts.perGroupScale) axis(yMax, g0, g1 - 8);
    const y = (v: number): number => top + plotH - (v / yMax) * plotH;
    const gx = g0 + (g1 - g0 - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[gi];
      const x = gx + si * barW;
      if (!v) {
        out.push(text(x + barW / 2, top + plotH - 4, 'n/a', 'text-anchor="middle" font-size="10" fill="#999"'));
        return;
      }
      const color = colorOf(s.id, si);
      out.push(`<rect x="${n(x + 2)}" y="${n(y(v.median))}" width="${n(barW - 4)}" height="${n(top + plotH - y(v.median))}" fill="${color}"><title>${esc(`${s.label} · ${g}: ${compact(v.median)} (${compact(v.min)}–${compact(v.max)})`)}</title></rect>`);
      if (v.max > v.min) {
        const cx = x + barW / 2;
        out.push(`<line x1="${n(cx)}" x2="${n(cx)}" y1="${n(y(v.min))}" y2="${n(y(v.max))}" stroke="#222" stroke-width="1.2"/>`);
        out.push(`<line x1="${n(cx - 5)}" x2="${n(cx + 5)}" y1="${n(y(v.max))}" y2="${n(y(v.max))}" stroke="#222" stroke-width="1.2"/>`);
        out.push(`<line x1="${n(cx - 5)}" x2="${n(cx + 5)}" y1="${n(y(v.min))}" y2="${n(y(v.min))}" stroke="#222" stroke-width="1.2"/>`);
      }
      out.push(text(x + barW / 2, Math.min(y(v.max), y(v.median)) - 5, compact(v.median), 'text-anchor="middle" font-size="10" fill="#333"'));
    });
    out.push(text((g0 + g1) / 2, top + plotH + 20, g, 'text-anchor="middle" font-weight="bold" fill="#333"'));
  });
  out.push(`<line x1="${left}" x2="${right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#444"/>`);
  out.push(text(left, height - 10, `bar = median across rounds, whisker = min–max${opts.perGroupScale ? '; each group has its own scale' : ''}`, 'font-size="10" fill="#777"'));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface LineSeries {
  id: string;
  label: string;
  /** One value per x label; null = missing. */
  points: (number | null)[];
}

/** Panels of lines on a log y axis (latency percentiles). */
export function percentileLines(opts: {
  title: string;
  subtitle?: string;
  xLabels: string[];
  panels: { title: string; series: LineSeries[] }[];
  yLabel: string;
  format: (v: number) => string;
}): string {
  const panelW = 280;
  const gap = 40;
  const width = Math.max(700, 80 + opts.panels.length * (panelW + gap));
  const allSeries = new Map<string, string>();
  for (const p of opts.panels) for (const s of p.series) allSeries.set(s.id, s.label);
  const items = [...allSeries].map(([id, label], i) => ({ label, color: colorOf(id, i) }));
  const lg = legend(items, 70, 66, width - 90);
  const top = 66 + lg.height + 24;
  const plotH = 280;
  const height = top + plotH + 50;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const p of opts.panels)
    for (const s of p.series)
      for (const v of s.points)
        if (v !== null && v > 0) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
  if (!(hi > 0)) {
    lo = 1;
    hi = 10;
  }
  const l0 = Math.floor(Math.log10(lo));
  const l1 = Math.max(l0 + 1, Math.ceil(Math.log10(hi)));
  const y = (v: number): number => top + plotH - ((Math.log10(Math.max(v, 10 ** l0)) - l0) / (l1 - l0)) * plotH;
  const out = header(width, height, opts.title, opts.subtitle);
  out.push(...lg.svg);
  out.push(text(16, top + plotH / 2, opts.yLabel, `transform="rotate(-90 16 ${n(top + plotH / 2)})" text-anchor="middle" fill="#333"`));
  opts.panels.forEach((p, pi) => {
    const left = 70 + pi * (panelW + gap);
    const right = left + panelW;
    for (let e = l0; e <= l1; e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v > 10 ** l1) break;
        out.push(`<line x1="${left}" x2="${right}" y1="${n(y(v))}" y2="${n(y(v))}" stroke="${m === 1 ? '#d8d8d8' : '#f0f0f0'}"/>`);
        if (pi === 0 && (m === 1 || l1 - l0 <= 2)) out.push(text(left - 6, y(v) + 4, opts.format(v), 'text-anchor="end" font-size="10" fill="#555"'));
      }
    }
    out.push(text((left + right) / 2, top - 8, p.title, 'text-anchor="middle" font-weight="bold" fill="#333"'));
    const step = panelW / Math.max(1, opts.xLabels.length - 1);
    const xs = opts.xLabels.map((_, i) => left + (opts.xLabels.length === 1 ? panelW / 2 : i * step));
    opts.xLabels.forEach((xl, i) => out.push(text(xs[i]!, top + plotH + 18, xl, 'text-anchor="middle" fill="#333"')));
    out.push(`<rect x="${left}" y="${top}" width="${panelW}" height="${plotH}" fill="none" stroke="#999"/>`);
    p.series.forEach((s) => {
      const color = colorOf(s.id, [...allSeries.keys()].indexOf(s.id));
      const pts = s.points.map((v, i) => (v !== null && v > 0 ? `${n(xs[i]!)},${n(y(v))}` : null));
      let path = '';
      let pen = false;
      for (const pt of pts) {
        if (pt === null) {
          pen = false;
          continue;
        }
        path += `${pen ? 'L' : 'M'}${pt} `;
        pen = true;
      }
      if (path) out.push(`<path d="${path.trim()}" fill="none" stroke="${color}" stroke-width="2"/>`);
      s.points.forEach((v, i) => {
        if (v !== null && v > 0) out.push(`<circle cx="${n(xs[i]!)}" cy="${n(y(v))}" r="3.5" fill="${color}"><title>${esc(`${s.label} ${opts.xLabels[i]}: ${opts.format(v)}`)}</title></circle>`);
      });
    });
  });
  out.push(text(70, height - 10, 'median across rounds; log scale', 'font-size="10" fill="#777"'));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface HistSeries {
  id: string;
  label: string;
  /** Share of samples per bucket, 0..1. */
  shares: number[];
}

/** Histogram bars per bucket and series on a log axis; buckets before `zeroIndex` are "early". */
export function histogram(opts: {
  title: string;
  subtitle?: string;
  buckets: string[];
  zeroIndex: number;
  series: HistSeries[];
}): string {
  const width = 980;
  const items = opts.series.map((s, i) => ({ label: s.label, color: colorOf(s.id, i) }));
  const lg = legend(items, 70, 66, width - 90);
  const top = 66 + lg.height + 24;
  const plotH = 260;
  const height = top + plotH + 120;
  const left = 70;
  const right = width - 20;
  const floor = 1e-5; // 0.001 %: one timer in 100,000
  const y = (share: number): number => top + plotH - ((Math.log10(Math.max(share, floor)) + 5) / 5) * plotH;
  const out = header(width, height, opts.title, opts.subtitle);
  out.push(...lg.svg);
  const bw = (right - left) / opts.buckets.length;
  const zx = left + opts.zeroIndex * bw;
  out.push(`<rect x="${left}" y="${top}" width="${n(zx - left)}" height="${plotH}" fill="#fdecea"/>`);
  out.push(text(left + 6, top + 14, '← early: fired before due', 'font-size="11" fill="#b03a2e"'));
  out.push(text(zx + 6, top + 14, 'late →', 'font-size="11" fill="#555"'));
  for (const [share, label] of [
    [1, '100%'],
    [0.1, '10%'],
    [0.01, '1%'],
    [0.001, '0.1%'],
    [0.0001, '0.01%'],
    [0.00001, '0.001%'],
  ] as const) {
    out.push(`<line x1="${left}" x2="${right}" y1="${n(y(share))}" y2="${n(y(share))}" stroke="#e4e4e4"/>`);
    out.push(text(left - 6, y(share) + 4, label, 'text-anchor="end" font-size="10" fill="#555"'));
  }
  out.push(text(16, top + plotH / 2, 'share of timers', `transform="rotate(-90 16 ${n(top + plotH / 2)})" text-anchor="middle" fill="#333"`));
  const inner = (bw * 0.84) / Math.max(1, opts.series.length);
  opts.buckets.forEach((b, bi) => {
    const x0 = left + bi * bw + bw * 0.08;
    opts.series.forEach((s, si) => {
      const v = s.shares[bi] ?? 0;
      if (v <= 0) return;
      const yy = y(v);
      out.push(`<rect x="${n(x0 + si * inner)}" y="${n(yy)}" width="${n(Math.max(1, inner - 1))}" height="${n(top + plotH - yy)}" fill="${colorOf(s.id, si)}"><title>${esc(`${s.label} ${b}: ${(v * 100).toFixed(3)}%`)}</title></rect>`);
    });
    const lx = left + bi * bw + bw / 2;
    out.push(text(lx, top + plotH + 10, b, `transform="rotate(55 ${n(lx)} ${n(top + plotH + 10)})" font-size="10" fill="#333"`));
  });
  out.push(`<line x1="${n(zx)}" x2="${n(zx)}" y1="${top}" y2="${top + plotH}" stroke="#b03a2e" stroke-width="1.5" stroke-dasharray="4 3"/>`);
  out.push(`<line x1="${left}" x2="${right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#444"/>`);
  out.push(text(left, height - 8, 'lateness = fired − due (µs/ms buckets); all rounds pooled; log scale', 'font-size="10" fill="#777"'));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
