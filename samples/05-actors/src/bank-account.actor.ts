import { Injectable } from '@nestjs/common';
import { AbstractActor, Actor } from '@sidekick/core';

/** Which instance this is (the log lines say where each account lives). */
@Injectable()
export class InstanceInfo {
  readonly name = process.env['INSTANCE'] ?? `pid-${process.pid}`;
}

export interface Statement {
  readonly balance: number;
  readonly interestPaid: number;
  readonly instance: string;
}

/** A bank account: one actor per account id, one operation at a time, state in the actor store (Redis). */
@Actor({ type: 'BankAccount', idleTimeout: '10m' })
export class BankAccount extends AbstractActor {
  constructor(private readonly instance: InstanceInfo) {
    super();
  }

  override async onActivate(): Promise<void> {
    console.log(`ACTIVATE ${this.actorId} ${this.instance.name} ${Date.now()}`);
  }

  override async onDeactivate(): Promise<void> {
    console.log(`DEACTIVATE ${this.actorId} ${this.instance.name} ${Date.now()}`);
  }

  /** `ref`: a reference kept in the account's journal (a statement lists each deposit once). */
  async deposit(amount: number, ref?: string): Promise<number> {
    if (!(amount > 0)) throw new Error(`a deposit must be positive, got ${amount}`);
    const balance = (await this.state.getOrAdd('balance', 0)) + amount;
    await this.state.set('balance', balance);
    if (ref !== undefined) await this.state.set('journal', [...((await this.state.get<string[]>('journal')) ?? []), ref]);
    return balance;
  }

  /** The references of the deposits made with one, in order. */
  async journal(): Promise<string[]> {
    return (await this.state.get<string[]>('journal')) ?? [];
  }

  async withdraw(amount: number): Promise<number> {
    const balance = (await this.state.get<number>('balance')) ?? 0;
    if (amount > balance) throw new Error(`insufficient funds: balance ${balance}, asked ${amount}`);
    await this.state.set('balance', balance - amount);
    return balance - amount;
  }

  /** A deposit that takes `ms` (a slow back office): the account stays busy meanwhile. */
  async slowDeposit(amount: number, ms: number): Promise<number> {
    const balance = (await this.state.getOrAdd('balance', 0)) + amount;
    await new Promise((resolve) => setTimeout(resolve, ms));
    await this.state.set('balance', balance);
    return balance;
  }

  async statement(): Promise<Statement> {
    return {
      balance: (await this.state.get<number>('balance')) ?? 0,
      interestPaid: (await this.state.get<number>('interestPaid')) ?? 0,
      instance: this.instance.name,
    };
  }

  /** Monthly interest by reminder (`every` is a duration: "720h" for a month, "2s" in tests). */
  async enableInterest(ratePercent: number, every: string): Promise<void> {
    await this.registerReminder('interest', { dueTime: every, period: every, data: { ratePercent } });
  }

  async receiveReminder(name: string, data: { ratePercent: number }): Promise<void> {
    if (name !== 'interest') return;
    const balance = (await this.state.get<number>('balance')) ?? 0;
    const interest = (balance * data.ratePercent) / 100;
    await this.state.set('balance', Math.round((balance + interest) * 100) / 100);
    const paid = ((await this.state.get<number>('interestPaid')) ?? 0) + 1;
    await this.state.set('interestPaid', paid);
    console.log(`INTEREST ${this.actorId} ${paid} ${this.instance.name}`);
  }
}
