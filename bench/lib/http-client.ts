import { Pool } from 'undici';

/**
 * A keep-alive HTTP client for one origin (undici Pool). Both sides of an HTTP comparison use the
 * same kind of client with the same settings, so only the server side differs.
 */
export class HttpClient {
  private readonly pool: Pool;

  constructor(origin: string, connections = 1) {
    this.pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  }

  /** GETs `path` and reads the whole body; fails on an unexpected status. */
  async get(path: string, expect = 200): Promise<Buffer> {
    const res = await this.pool.request({ method: 'GET', path });
    const body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== expect) throw new Error(`GET ${path}: ${res.statusCode} ${body.toString('utf8').slice(0, 200)}`);
    return body;
  }

  /** POSTs a JSON body and reads the whole answer; fails on an unexpected status. */
  async postJson(path: string, body: string, expect = 204): Promise<Buffer> {
    const res = await this.pool.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json' } });
    const answer = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== expect) throw new Error(`POST ${path}: ${res.statusCode} ${answer.toString('utf8').slice(0, 200)}`);
    return answer;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
