import { Injectable } from '@nestjs/common';
import { DaprClient } from '@dapr/dapr';
import { daprHttpClient } from '../support/dapr-client';
import { Activity, Workflow } from '../../src/decorators';
import type { WorkflowContext } from '../../src/runtime/blocks/workflows/workflow.runner';
import type { ActivityContext } from '../../src/runtime/blocks/workflows/workflow.types';
import { startApp, type TestApp } from '../support/app';

@Injectable()
class OrderWorkflow {
  @Activity('reserve')
  reserve(_ctx: ActivityContext, order: { item: string; qty: number }): string {
    return `reserved ${order.qty} ${order.item}`;
  }

  @Workflow('order')
  async run(ctx: WorkflowContext, order: { item: string; qty: number }): Promise<unknown> {
    const reserved = await ctx.callActivity<string>('reserve', order);
    ctx.setCustomStatus('waiting for approval');
    const approval = await ctx.waitForExternalEvent<{ by: string }>('approval');
    return { reserved, approvedBy: approval.by };
  }
}

/** The official `@dapr/dapr` client's workflow management over HTTP (`client.workflow.*`) against a Sidekick app. */
describe('the official @dapr/dapr client (HTTP): workflows', () => {
  let t: TestApp;
  let client: DaprClient;

  beforeAll(async () => {
    t = await startApp({ appId: 'daprclient-workflows' }, { providers: [OrderWorkflow] });
    client = daprHttpClient(t.apiUrl);
    await client.start();
  }, 10_000);

  afterAll(async () => {
    await client.stop();
    await t.close();
  });

  async function statusOf(id: string, wanted: string): Promise<Awaited<ReturnType<DaprClient['workflow']['get']>>> {
    for (let i = 0; i < 500; i++) {
      const state = await client.workflow.get(id);
      if (state.runtimeStatus === wanted) return state;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`${id} never reached ${wanted}`);
  }

  it('starts, queries, raises an event to and completes a workflow', async () => {
    const id = await client.workflow.start('order', { item: 'book', qty: 2 }, 'order-1');
    expect(id).toBe('order-1');
    const running = await statusOf(id, 'RUNNING');
    expect(running.workflowName).toBe('order');
    expect(running.createdAt).toBeInstanceOf(Date);
    await statusOf(id, 'RUNNING');
    for (let i = 0; i < 500 && (await client.workflow.get(id)).properties?.['dapr.workflow.custom_status'] === undefined; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect((await client.workflow.get(id)).properties?.['dapr.workflow.custom_status']).toBe('"waiting for approval"');
    await client.workflow.raise(id, 'approval', { by: 'alice' });
    const done = await statusOf(id, 'COMPLETED');
    expect(JSON.parse(done.properties?.['dapr.workflow.output'] ?? 'null')).toEqual({ reserved: 'reserved 2 book', approvedBy: 'alice' });
  });

  it('pauses, resumes, terminates and purges', async () => {
    const id = await client.workflow.start('order', { item: 'pen', qty: 1 });
    await statusOf(id, 'RUNNING');
    await client.workflow.pause(id);
    await statusOf(id, 'SUSPENDED');
    await client.workflow.resume(id);
    await statusOf(id, 'RUNNING');
    await client.workflow.terminate(id);
    await statusOf(id, 'TERMINATED');
    await client.workflow.purge(id);
    await expect(client.workflow.get(id)).rejects.toThrow(/ERR_INSTANCE_ID_NOT_FOUND|404/);
  });
});
