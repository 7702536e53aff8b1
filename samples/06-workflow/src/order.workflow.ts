import { Injectable, Logger } from '@nestjs/common';
import { Activity, type ActivityContext, TaskFailedError, Workflow, WorkflowEventTimeoutError, type WorkflowContext } from '@sidekick/core';

export interface Order {
  readonly id: string;
  readonly item: string;
  readonly qty: number;
  /** Cents. An amount over 100 000 is declined by the payment activity (to show the compensations). */
  readonly amount: number;
}

/** The activities: the side effects of the saga, each with its compensation. */
@Injectable()
export class OrderActivities {
  private readonly log = new Logger('activities');
  /** Stock per item, and payments by idempotency key (a real app would use a database). */
  private readonly stock = new Map<string, number>([
    ['book', 10],
    ['pen', 100],
  ]);
  private readonly payments = new Map<string, number>();

  @Activity('reserve')
  reserve(ctx: ActivityContext, order: Order): string {
    const left = this.stock.get(order.item) ?? 0;
    if (left < order.qty) throw new Error(`only ${left} ${order.item} in stock`);
    this.stock.set(order.item, left - order.qty);
    this.log.log(`${order.id}: reserved ${order.qty} ${order.item} (${ctx.idempotencyKey})`);
    return `res-${order.id}`;
  }

  @Activity('release')
  release(_ctx: ActivityContext, order: Order): void {
    this.stock.set(order.item, (this.stock.get(order.item) ?? 0) + order.qty);
    this.log.log(`${order.id}: released ${order.qty} ${order.item}`);
  }

  @Activity('charge')
  charge(ctx: ActivityContext, order: Order): string {
    if (order.amount > 100_000) throw new Error(`payment of ${order.amount} declined`);
    // At least once: the idempotency key makes a second run of this step charge nothing more.
    if (!this.payments.has(ctx.idempotencyKey)) this.payments.set(ctx.idempotencyKey, order.amount);
    this.log.log(`${order.id}: charged ${order.amount}`);
    return `pay-${ctx.idempotencyKey}`;
  }

  @Activity('refund')
  refund(_ctx: ActivityContext, payment: string): void {
    this.log.log(`refunded ${payment}`);
  }

  @Activity('ship')
  ship(_ctx: ActivityContext, order: Order): string {
    this.log.log(`${order.id}: shipped`);
    return `ship-${order.id}`;
  }
}

export interface OrderResult {
  readonly status: 'shipped' | 'rejected' | 'failed';
  readonly detail: string;
}

/** The saga: reserve → charge → wait for approval (an external event, 1 hour) → ship; compensate on the way back. */
@Injectable()
export class OrderWorkflow {
  @Workflow('order')
  async run(ctx: WorkflowContext, order: Order): Promise<OrderResult> {
    const compensations: { activity: string; input: unknown }[] = [];
    try {
      await ctx.callActivity(OrderActivities.prototype.reserve, order);
      compensations.push({ activity: 'release', input: order });
      const payment = await ctx.callActivity<string>(OrderActivities.prototype.charge, order, {
        retryPolicy: { maxNumberOfAttempts: 3, firstRetryIntervalInMilliseconds: 500, backoffCoefficient: 2 },
      });
      compensations.push({ activity: 'refund', input: payment });
      ctx.setCustomStatus('awaiting approval');
      const approval = await ctx.waitForExternalEvent<{ approved: boolean }>('approval', { timeout: 3600_000 });
      if (!approval.approved) {
        await this.compensate(ctx, compensations);
        return { status: 'rejected', detail: 'not approved' };
      }
      ctx.setCustomStatus('shipping');
      const shipment = await ctx.callActivity<string>(OrderActivities.prototype.ship, order);
      return { status: 'shipped', detail: shipment };
    } catch (err) {
      await this.compensate(ctx, compensations);
      if (err instanceof TaskFailedError) return { status: 'failed', detail: err.details.message };
      if (err instanceof WorkflowEventTimeoutError) return { status: 'failed', detail: 'no approval within an hour' };
      throw err;
    }
  }

  private async compensate(ctx: WorkflowContext, done: readonly { activity: string; input: unknown }[]): Promise<void> {
    for (const step of [...done].reverse()) await ctx.callActivity(step.activity, step.input);
  }
}
