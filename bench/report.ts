/** One line of the benchmark table: what was measured, against what target, and whether it met it. */
export interface Row {
  metric: string;
  measured: string;
  target: string;
  /** true / false against the target; null: report only, or not measured */
  ok: boolean | null;
}

export function printTable(rows: Row[]): void {
  const cells = rows.map((r) => [r.metric, r.measured, r.target, r.ok === null ? '—' : r.ok ? 'yes' : 'NO']);
  const header = ['metric', 'measured', 'target', 'ok'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
}
