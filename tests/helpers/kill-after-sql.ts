/**
 * A child process that runs SQL statements on a workspace file and then kills itself (SIGKILL),
 * leaving what it did in DuckDB's write-ahead log only, as a crash would.
 *   node --import tsx tests/helpers/kill-after-sql.ts workspace|duckdb PATH SQL...
 * `workspace` opens the file as Fleetlens does (Workspace.open); `duckdb` opens it bare.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { Workspace } from '../../core/workspace/workspace.ts';

const [how, path, ...statements] = process.argv.slice(2);
const run: (sql: string) => Promise<void> =
  how === 'workspace'
    ? await Workspace.open(path!).then((ws) => (sql: string) => ws.run(sql))
    : await DuckDBInstance.create(path!).then((db) => db.connect()).then((con) => async (sql: string) => void (await con.run(sql)));
for (const sql of statements) await run(sql);
process.kill(process.pid, 'SIGKILL');
