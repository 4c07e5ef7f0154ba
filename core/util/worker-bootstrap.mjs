// Worker entry used when running from TypeScript sources (CLI, tests, browser mode):
// registers the tsx loader in the worker thread, then loads the real worker module.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.__entry);
