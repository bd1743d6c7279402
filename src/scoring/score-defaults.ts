/**
 * The scoring defaults `infera score`'s options show in their help, apart from
 * score-file.ts so that registering the command does not load DuckDB (issue 12).
 */
export const DEFAULT_CHUNK_ROWS = 65_536;
