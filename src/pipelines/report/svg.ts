// A small SVG line chart (loss or metric against step), written next to a run.

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export function lineChartSvg(title: string, series: readonly Series[], opts: { width?: number; height?: number; yLabel?: string } = {}): string {
  const W = opts.width ?? 640, H = opts.height ?? 360, m = { l: 60, r: 20, t: 36, b: 44 };
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]).filter(Number.isFinite);
  const x0 = Math.min(...xs, 0), x1 = Math.max(...xs, 1);
  let y0 = Math.min(...ys, 0), y1 = Math.max(...ys, 1);
  if (y0 === y1) { y0 -= 1; y1 += 1; }
  const sx = (x: number): number => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const sy = (y: number): number => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];
  const ticks = (a: number, b: number): number[] => [0, 0.25, 0.5, 0.75, 1].map((f) => a + f * (b - a));
  const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escape(title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
    ...ticks(x0, x1).map((v) => `<text x="${sx(v)}" y="${H - m.b + 16}" text-anchor="middle">${fmt(v)}</text>`),
    ...ticks(y0, y1).map((v) => `<text x="${m.l - 6}" y="${sy(v) + 4}" text-anchor="end">${fmt(v)}</text><line x1="${m.l}" y1="${sy(v)}" x2="${W - m.r}" y2="${sy(v)}" stroke="#eee"/>`),
    `<text x="${W / 2}" y="${H - 8}" text-anchor="middle">step</text>`,
    `<text x="14" y="${H / 2}" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">${escape(opts.yLabel ?? 'loss')}</text>`,
  ];
  series.forEach((s, k) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1])).map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${colors[k % colors.length]}" stroke-width="1.5" points="${pts}"/>`);
    parts.push(`<text x="${W - m.r - 4}" y="${m.t + 14 * (k + 1)}" text-anchor="end" fill="${colors[k % colors.length]}">${escape(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
