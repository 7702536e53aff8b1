import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SidekickRuntime } from '../../sidekick.runtime';
import { TracingService } from './tracing.service';

/**
 * Applied by `SidekickModule` to every route of the app: with tracing on, each request to the app
 * gets a server span (its parent from the request's `traceparent`) and its handler runs inside it,
 * so the state calls, publishes and invocations it makes, and the user's own OpenTelemetry spans,
 * are its children. With tracing off it only calls `next()`.
 */
@Injectable()
export class TracingMiddleware implements NestMiddleware {
  private tracing?: TracingService;

  constructor(private readonly runtime: SidekickRuntime) {}

  use(req: IncomingMessage, res: ServerResponse, next: () => void): void {
    const tracing = (this.tracing ??= this.runtime.service(TracingService));
    if (!tracing.enabled) return next();
    tracing.handleIncoming(req, res, next);
  }
}
