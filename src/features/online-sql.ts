/**
 * The training side of online features: adds each aggregate of a spec's online section
 * (online.ts) as a column of a DuckDB table, point-in-time correct.
 *
 * How: per entity, cumulative counts and sums of the events in time order; an as-of join
 * picks, for each row, the cumulative values at t − available_after and at t − window, and
 * their difference is the aggregate over t − window < e ≤ t − available_after. The serving
 * store (online-store.ts) computes the same differences, so the two agree bit for bit on
 * integer-valued columns.
 */
import { quoteIdent as q, type Warehouse } from '../data/warehouse';
import { eventColumns, type OnlineAggregate, type OnlineFeatures } from './online';

function measureSql(f: OnlineAggregate): string {
  const c = q(f.column!);
  return f.aggregate === 'mean' ? `${c}::DOUBLE` : `CASE WHEN ${c} ${f.op === '==' ? '=' : f.op} ${Number(f.value)} THEN 1.0 ELSE 0.0 END`;
}

/**
 * Replaces `table` by itself plus one DOUBLE column per online aggregate.
 * @param events a FROM item (table or subquery) holding the source's events: the timestamp,
 *   entity and measured columns. Events with a NULL in any of them are ignored, as the
 *   serving store refuses them.
 */
export async function addOnlineColumns(wh: Warehouse, table: string, events: string, online: OnlineFeatures): Promise<void> {
  const ts = q(online.timestamp);
  const cols = eventColumns(online);
  const needed = [online.timestamp, ...cols.strings, ...cols.numbers];
  await wh.conn.run(`CREATE OR REPLACE TEMP TABLE __online_events AS SELECT epoch_ms(${ts}) AS __t, ${[...cols.strings, ...cols.numbers].map(q).join(', ')}
    FROM ${events} WHERE ${needed.map((c) => `${q(c)} IS NOT NULL`).join(' AND ')}`);
  await wh.conn.run('CREATE OR REPLACE TEMP TABLE __online_times AS SELECT DISTINCT __t FROM __online_events');

  // One cumulative table per entity; one column per measure.
  const groups = new Map<string, { entity: string[]; measures: string[] }>();
  for (const f of online.features) {
    const k = f.entity.join('\u0000');
    if (!groups.has(k)) groups.set(k, { entity: f.entity, measures: [] });
    const g = groups.get(k)!;
    if (f.aggregate !== 'count' && !g.measures.includes(measureSql(f))) g.measures.push(measureSql(f));
  }
  const groupList = [...groups.values()];
  for (const [gi, g] of groupList.entries()) {
    const ent = g.entity.map(q).join(', ');
    const sums = g.measures.map((m, j) => `, sum(${m}) AS __m${j}`).join('');
    const running = g.measures.map((_, j) => `, sum(__m${j}) OVER w AS __s${j}`).join('');
    await wh.conn.run(`CREATE OR REPLACE TEMP TABLE __online_cum${gi} AS
      SELECT ${ent}, __t, sum(__n) OVER w AS __c${running}
      FROM (SELECT ${ent}, __t, count(*)::DOUBLE AS __n${sums} FROM __online_events GROUP BY ${ent}, __t)
      WINDOW w AS (PARTITION BY ${ent} ORDER BY __t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`);
  }

  // The rows with their lookup times, then one as-of join per (entity, boundary).
  const windows = [...new Set(online.features.map((f) => f.window_ms))];
  const lag = Math.round(online.available_after_ms);
  await wh.conn.run(`CREATE OR REPLACE TEMP TABLE __online_rows AS SELECT *, epoch_ms(${ts}) - ${lag} AS __known${windows.map((w, wi) => `, epoch_ms(${ts}) - ${Math.round(w)} AS __from${wi}`).join('')} FROM ${q(table)}`);
  const joins: string[] = ['ASOF LEFT JOIN __online_times lt ON r.__known >= lt.__t'];
  for (const [gi, g] of groupList.entries()) {
    const on = (alias: string, bound: string) => `${g.entity.map((c) => `r.${q(c)} = ${alias}.${q(c)}`).join(' AND ')} AND r.${bound} >= ${alias}.__t`;
    joins.push(`ASOF LEFT JOIN __online_cum${gi} k${gi} ON ${on(`k${gi}`, '__known')}`);
    windows.forEach((_, wi) => {
      if (online.features.some((f) => f.entity.join('\u0000') === g.entity.join('\u0000') && f.window_ms === windows[wi])) {
        joins.push(`ASOF LEFT JOIN __online_cum${gi} f${gi}_${wi} ON ${on(`f${gi}_${wi}`, `__from${wi}`)}`);
      }
    });
  }
  const stale = `(lt.__t IS NULL OR r.__known - lt.__t > ${Math.round(online.max_staleness_ms)})`;
  const features = online.features.map((f) => {
    const gi = groupList.findIndex((g) => g.entity.join('\u0000') === f.entity.join('\u0000'));
    const wi = windows.indexOf(f.window_ms);
    const [hi, lo] = [`k${gi}`, `f${gi}_${wi}`];
    const n = `(coalesce(${hi}.__c, 0) - coalesce(${lo}.__c, 0))`;
    let value = n;
    if (f.aggregate !== 'count') {
      const j = groupList[gi].measures.indexOf(measureSql(f));
      value = `((coalesce(${hi}.__s${j}, 0) - coalesce(${lo}.__s${j}, 0)) / ${n})`;
    }
    return `(CASE WHEN ${stale} OR ${n} <= 0 THEN ${f.default}::DOUBLE ELSE ${value} END)::DOUBLE AS ${q(f.name)}`;
  });
  const helper = ['__known', ...windows.map((_, wi) => `__from${wi}`)].join(', ');
  await wh.conn.run(`CREATE OR REPLACE TABLE ${q(table)} AS SELECT r.* EXCLUDE (${helper}), ${features.join(', ')} FROM __online_rows r ${joins.join(' ')}`);
  for (const t of ['__online_events', '__online_times', '__online_rows', ...groupList.map((_, gi) => `__online_cum${gi}`)]) await wh.conn.run(`DROP TABLE IF EXISTS ${t}`);
}
