import { Injectable } from '@nestjs/common';
import { Activity, Workflow } from '../../src/decorators';
import type { WorkflowClient } from '../../src/runtime/blocks/workflows/workflow.client';
import type { WorkflowContext } from '../../src/runtime/blocks/workflows/workflow.runner';
import type { WorkflowState } from '../../src/runtime/blocks/workflows/workflow.types';
import type { SidekickModuleOptions } from '../../src/runtime/sidekick.options';
import type { VirtualClock } from '../../src/testing';
import { startApp, type TestApp } from './app';

/** Workflows and helpers of the listing and scheduled-start specs (workflows-query, workflows-schedule). */

/** Activity runs per instance id. */
export const marks = new Map<string, number>();

@Injectable()
export class PhaseWorkflows {
  @Activity('mark')
  mark(ctx: { workflowInstanceId: string }): string {
    marks.set(ctx.workflowInstanceId, (marks.get(ctx.workflowInstanceId) ?? 0) + 1);
    return 'marked';
  }

  /** RUNNING until the event 'go' arrives; then COMPLETED, or FAILED when the input says so. */
  @Workflow('phases')
  async phases(ctx: WorkflowContext, mode: 'ok' | 'fail' | undefined): Promise<string> {
    await ctx.callActivity('mark');
    await ctx.waitForExternalEvent('go');
    if (mode === 'fail') throw new Error('told to fail');
    return 'done';
  }

  /** What the code sees as the time of its first step, and after a 1-minute timer. */
  @Workflow('clock')
  async clock(ctx: WorkflowContext): Promise<number[]> {
    const first = ctx.currentUtcDateTime.getTime();
    await ctx.createTimer(60_000);
    return [first, ctx.currentUtcDateTime.getTime()];
  }

  @Workflow('other')
  async other(ctx: WorkflowContext): Promise<string> {
    await ctx.waitForExternalEvent('go');
    return 'other done';
  }
}

export type Component = NonNullable<SidekickModuleOptions['components']>[number];

export const START = Date.UTC(2026, 0, 1);

export function app(component: Component, clock: VirtualClock, appId = 'wfq'): Promise<TestApp> {
  return startApp({ appId, components: [component], clock }, { providers: [PhaseWorkflows] });
}

export const sqlite = (file: string): Component => ({
  metadata: { name: 'statestore' },
  spec: { type: 'state.sqlite', version: 'v1', metadata: [{ name: 'connectionString', value: file }] },
});

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const ids = (page: { instances: readonly WorkflowState[] }): string[] => page.instances.map((s) => s.instanceId);

/** Every listed page of `query`, following the continuation tokens. */
export async function allPages(wf: WorkflowClient, query: Parameters<WorkflowClient['list']>[0]): Promise<{ pages: string[][]; tokens: number }> {
  const pages: string[][] = [];
  let token: string | undefined;
  let tokens = 0;
  do {
    const page = await wf.list({ ...query, continuationToken: token });
    pages.push(ids(page));
    token = page.continuationToken;
    if (token !== undefined) tokens++;
  } while (token !== undefined && pages.length < 50);
  return { pages, tokens };
}

@Injectable()
export class QuickWorkflow {
  @Workflow('quick')
  async quick(_ctx: WorkflowContext, n: number): Promise<number> {
    return n + 1;
  }
}

export async function http(t: TestApp, method: string, path: string, body?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${t.apiUrl}${path}`, { method, body, headers: body === undefined ? {} : { 'content-type': 'application/json' } });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}
