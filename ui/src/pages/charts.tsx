/** Simple SVG charts and tables that show whatever numbers a report sends (no chart library, no CDN). */

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

type Row = Record<string, unknown>;

function isRowList(value: unknown): value is Row[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => v && typeof v === "object" && !Array.isArray(v));
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/0+$/, "");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/**
 * Render any report: every list of objects becomes a table (and a bar chart of its first
 * numeric column, by its first text column); every map of numbers a bar chart; scalars a list.
 */
export function ReportView({ title, data }: { title: string; data: unknown }) {
  const sections: JSX.Element[] = [];
  const walk = (value: unknown, path: string) => {
    if (isRowList(value)) {
      const columns = [...new Set(value.flatMap((r) => Object.keys(r)))];
      const labelCol = columns.find((c) => value.some((r) => typeof r[c] === "string"));
      const numCol = columns.find((c) => value.every((r) => typeof r[c] === "number" || r[c] == null) && value.some((r) => typeof r[c] === "number"));
      sections.push(
        <section key={path} className="report-block">
          <h3>{path || title}</h3>
          {labelCol && numCol && (
            <BarChart label={`${path || title}: ${numCol} by ${labelCol}`}
              rows={value.map((r) => [cell(r[labelCol]), Number(r[numCol] ?? 0)] as [string, number])} />
          )}
          <table>
            <thead><tr>{columns.map((c) => <th key={c}>{c}</th>)}</tr></thead>
            <tbody>{value.map((r, i) => <tr key={i}>{columns.map((c) => <td key={c}>{cell(r[c])}</td>)}</tr>)}</tbody>
          </table>
        </section>,
      );
      return;
    }
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const entries = Object.entries(value as Row);
      const numbers = entries.filter(([, v]) => typeof v === "number") as [string, number][];
      if (numbers.length) {
        sections.push(
          <section key={`${path}#n`} className="report-block">
            <h3>{path || title}</h3>
            {numbers.length > 1 && <BarChart label={path || title} rows={numbers} />}
            <dl className="props">{numbers.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{cell(v)}</dd></div>)}</dl>
          </section>,
        );
      }
      const texts = entries.filter(([, v]) => typeof v === "string" || typeof v === "boolean");
      if (texts.length && !path) {
        sections.push(
          <dl key="#t" className="props">{texts.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{cell(v)}</dd></div>)}</dl>,
        );
      }
      for (const [k, v] of entries) {
        if (v && typeof v === "object") walk(v, path ? `${path}.${k}` : k);
      }
    }
  };
  walk(data, "");
  return (
    <div className="report" aria-label={title}>
      {sections.length ? sections : <p className="muted">No numbers in this report yet.</p>}
    </div>
  );
}
