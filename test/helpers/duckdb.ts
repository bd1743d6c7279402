/** One SQL statement on a throwaway in-memory DuckDB (reading real files in tests), rows as JS objects. */
import { DuckDBInstance } from '@duckdb/node-api';

export async function duckQuery<T>(sql: string): Promise<T[]> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJS() as T[];
  } finally {
    c.closeSync();
    db.closeSync();
  }
}
