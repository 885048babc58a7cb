/** Small SVG charts (no chart library, no CDN): bars, a funnel, stacked bars. */

/** A horizontal bar chart of label → value. */
export function BarChart({ label, rows, unit = "" }: { label: string; rows: [string, number][]; unit?: string }) {
  const max = Math.max(1, ...rows.map(([, v]) => Math.abs(v)));
  const barHeight = 22;
  const labelWidth = 170;
  const width = 520;
  return (
    <figure className="chart">
      <svg role="img" aria-label={label} width="100%" viewBox={`0 0 ${width} ${rows.length * (barHeight + 6) + 4}`}>
        <title>{label}</title>
        {rows.map(([name, value], i) => {
          const w = (Math.abs(value) / max) * (width - labelWidth - 60);
          const y = i * (barHeight + 6) + 2;
          return (
            <g key={`${name}-${i}`}>
              <text x={labelWidth - 6} y={y + barHeight * 0.7} textAnchor="end" fontSize="12">{name.length > 26 ? `${name.slice(0, 25)}…` : name}</text>
              <rect x={labelWidth} y={y} width={Math.max(1, w)} height={barHeight} className={value < 0 ? "bar negative" : "bar"} rx="3" />
              <text x={labelWidth + w + 6} y={y + barHeight * 0.7} fontSize="12">{Number.isInteger(value) ? value : value.toFixed(2)}{unit}</text>
            </g>
          );
        })}
      </svg>
      <figcaption>{label}</figcaption>
    </figure>
  );
}

const SERIES_CLASSES = ["s0", "s1", "s2", "s3"];

/**
 * The funnel: one centred bar per stage, as wide as the leads that entered it, with the share
 * that went further written between consecutive stages.
 */
export function FunnelChart({ stages }: { stages: { stage: string; entered: number; conversion: number | null }[] }) {
  const width = 640;
  const row = 34;
  const gap = 20;
  const labelWidth = 110;
  const inner = width - labelWidth - 70;
  const max = Math.max(1, ...stages.map((s) => s.entered));
  const height = stages.length * (row + gap);
  return (
    <figure className="chart">
      <svg role="img" aria-label="Funnel: leads entering each stage" viewBox={`0 0 ${width} ${height}`} width="100%" data-testid="funnel-chart">
        <title>Funnel: leads entering each stage</title>
        {stages.map((s, i) => {
          const w = Math.max(2, (s.entered / max) * inner);
          const x = labelWidth + (inner - w) / 2;
          const y = i * (row + gap);
          return (
            <g key={s.stage} data-stage={s.stage}>
              <text x={labelWidth - 8} y={y + row * 0.65} textAnchor="end" fontSize="13">{s.stage}</text>
              <rect x={x} y={y} width={w} height={row} rx="4" className="bar funnel" />
              <text x={labelWidth + inner + 8} y={y + row * 0.65} fontSize="13" fontWeight="600">{s.entered}</text>
              {i + 1 < stages.length && (
                <text x={labelWidth + inner / 2} y={y + row + gap * 0.72} textAnchor="middle" fontSize="11" className="chart-note">
                  ↓ {typeof s.conversion === "number" ? `${Math.round(s.conversion * 1000) / 10}% went further` : "–"}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

/** Horizontal stacked bars: one row per label, one segment per series, with a legend. */
export function StackedBars({ label, series, rows, testId, colors = SERIES_CLASSES }: {
  label: string;
  series: string[];
  rows: [string, number[]][];
  testId?: string;
  /** CSS classes of the series, in order (green/red/amber/grey by default). */
  colors?: string[];
}) {
  const width = 560;
  const bar = 20;
  const labelWidth = 150;
  const inner = width - labelWidth - 50;
  const max = Math.max(1, ...rows.map(([, values]) => values.reduce((a, v) => a + Math.max(0, v), 0)));
  const legend = 24;
  return (
    <figure className="chart">
      <svg role="img" aria-label={label} viewBox={`0 0 ${width} ${rows.length * (bar + 8) + legend}`} width="100%" data-testid={testId}>
        <title>{label}</title>
        {series.map((name, k) => (
          <g key={name} transform={`translate(${labelWidth + k * 120}, 4)`}>
            <rect width="12" height="12" className={`seg ${colors[k % colors.length]}`} rx="2" />
            <text x="16" y="11" fontSize="11">{name}</text>
          </g>
        ))}
        {rows.map(([name, values], i) => {
          const y = legend + i * (bar + 8);
          let x = labelWidth;
          const total = values.reduce((a, v) => a + Math.max(0, v), 0);
          return (
            <g key={`${name}-${i}`}>
              <text x={labelWidth - 6} y={y + bar * 0.72} textAnchor="end" fontSize="12">{name.length > 22 ? `${name.slice(0, 21)}…` : name}</text>
              {values.map((v, k) => {
                const w = (Math.max(0, v) / max) * inner;
                const seg = w > 0 ? (
                  <rect key={k} x={x} y={y} width={w} height={bar} className={`seg ${colors[k % colors.length]}`}>
                    <title>{`${name}: ${v} ${series[k]}`}</title>
                  </rect>
                ) : null;
                x += w;
                return seg;
              })}
              <text x={x + 6} y={y + bar * 0.72} fontSize="12">{total}</text>
            </g>
          );
        })}
      </svg>
      <figcaption>{label}</figcaption>
    </figure>
  );
}
