import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { type ConfigurationChange, OnConfigurationChange, SidekickClient } from '@sidekick/core';
import { CONFIG_STORE, FLAG_KEY } from './settings';

/** What `GET /flag` answers. */
export interface FlagState {
  readonly key: string;
  /** The item's value, or null when the key is not set. */
  readonly value: string | null;
  readonly version: string | null;
  /** On when the value is `on`; unset or anything else is off. */
  readonly enabled: boolean;
}

/**
 * The feature flag `report.detailed`: read from the configuration store at start-up, then kept
 * current by `@OnConfigurationChange` (a Redis keyspace notification per change, no polling).
 */
@Injectable()
export class FeatureFlags implements OnApplicationBootstrap {
  private readonly logger = new Logger('flags');
  private state: FlagState = { key: FLAG_KEY, value: null, version: null, enabled: false };

  constructor(private readonly sidekick: SidekickClient) {}

  async onApplicationBootstrap(): Promise<void> {
    const items = await this.sidekick.configuration.get(CONFIG_STORE, [FLAG_KEY]);
    const item = items[FLAG_KEY];
    this.state = item ? flag(item.value, item.version) : flag(null, null);
    this.logger.log(`Feature flag ${FLAG_KEY} is ${describe(this.state)} at start-up`);
  }

  @OnConfigurationChange({ store: CONFIG_STORE, keys: [FLAG_KEY] })
  onChange(change: ConfigurationChange): void {
    const item = change.items[FLAG_KEY];
    if (!item) return;
    const before = this.state;
    this.state = change.deleted.includes(FLAG_KEY) ? flag(null, null) : flag(item.value, item.version);
    this.logger.log(`Feature flag ${FLAG_KEY} changed: ${describe(before)} -> ${describe(this.state)}`);
  }

  get detailed(): boolean {
    return this.state.enabled;
  }

  snapshot(): FlagState {
    return this.state;
  }
}

function flag(value: string | null, version: string | null): FlagState {
  return { key: FLAG_KEY, value, version: version === '' ? null : version, enabled: value === 'on' };
}

function describe(state: FlagState): string {
  if (state.value === null) return 'off (not set)';
  return `${state.enabled ? 'on' : 'off'} (value "${state.value}"${state.version === null ? '' : `, version ${state.version}`})`;
}
