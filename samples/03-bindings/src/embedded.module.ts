import { Injectable, Logger, Module } from '@nestjs/common';
import { Binding, type BindingInput, SidekickModule, type StateClient, StateStore } from '@sidekick/core';
import { CUSTOMERS } from './batch.service';

/** One cron batch as the embedded variant keeps it: state key `batch-<n>`. */
export interface KeptBatch {
  readonly batch: number;
  readonly tick: string | null;
  readonly orders: readonly { readonly orderId: number; readonly customer: string; readonly price: number }[];
}

/**
 * The cron half of batch on the embedded defaults (no PostgreSQL, no Kafka): each tick's three orders
 * are kept in the embedded SQLite state store `statestore` under `batch-<n>` (and `last-batch`),
 * where the full app inserts them into PostgreSQL through the `sqldb` output binding. There is no SQL
 * binding without a database server, and no Kafka input binding without a broker.
 */
@Injectable()
export class EmbeddedBatches {
  private readonly logger = new Logger('batch');
  private batch = 0;

  constructor(@StateStore('statestore') private readonly state: StateClient<KeptBatch>) {}

  @Binding('cron')
  async onTick(input: BindingInput): Promise<void> {
    const batch = ++this.batch;
    const orders = CUSTOMERS.map(({ customer, price }, i) => ({ orderId: batch * 100 + i + 1, customer, price }));
    const kept: KeptBatch = { batch, tick: input.metadata['readTimeUTC'] ?? null, orders };
    await this.state.saveMany([
      { key: `batch-${batch}`, value: kept },
      { key: 'last-batch', value: kept },
    ]);
    this.logger.log(`Batch ${batch}: kept orders ${orders.map((o) => o.orderId).join(', ')} in the state store (key batch-${batch})`);
  }
}

@Module({
  imports: [
    SidekickModule.forRoot({
      appId: 'batch',
      resourcesPath: process.env['SIDEKICK_RESOURCES_PATH'],
      httpApi: { port: Number(process.env['SIDEKICK_HTTP_PORT'] ?? 3502) },
      // The schedule of components/cron.yaml, in code: this variant needs no component file.
      components: [
        {
          metadata: { name: 'cron' },
          spec: {
            type: 'bindings.cron',
            version: 'v1',
            metadata: [
              { name: 'schedule', value: process.env['CRON_SCHEDULE'] || '@every 2s' },
              { name: 'direction', value: 'input' },
            ],
          },
        },
      ],
    }),
  ],
  providers: [EmbeddedBatches],
})
export class EmbeddedAppModule {}
