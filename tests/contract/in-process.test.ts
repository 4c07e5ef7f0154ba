import { createWorkbench } from '../../core/app.ts';
import { createInProcessClient } from '../../core/server/in-process-client.ts';
import { describeContract } from './contract-suite.ts';

describeContract('in-process', async (workspace) => {
  const wb = await createWorkbench({ workspace, mode: 'in-process' });
  return { client: createInProcessClient(wb), close: () => wb.close() };
});
