import { existsSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { CliError } from '../shared/cli-error';

/**
 * The values of `sidekick run`'s daprd flags that take sizes, counts and addresses, checked and
 * converted the way daprd reads them (cmd/daprd options), each bad value one {@link CliError} naming
 * the flag (or run-file field) and what to write instead.
 */

const BINARY: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Readonly<Record<string, number>> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/**
 * A size as daprd's `--max-body-size` / `--read-buffer-size` take it: a Kubernetes quantity, bytes
 * without a unit (`4194304`), binary (`4Mi`, `512Ki`) or decimal (`4M`, `4k`) suffixes, or an exponent
 * (`4e6`). Returns whole bytes (rounded up, as a quantity's value is); a negative size is returned as -1.
 */
export function parseSize(value: string, flag: string): number {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E))?$/.exec(value.trim());
  const number = m?.[1];
  if (!m || number === undefined) {
    throw new CliError(`${flag} "${value}" is not a size: write bytes (4194304) or a number with a unit, e.g. 4Mi, 512Ki, 8M`);
  }
  const scale = m[2] ? 10 ** Number(m[2].slice(1)) : m[3] ? (BINARY[m[3]] ?? DECIMAL[m[3]] ?? 1) : 1;
  const bytes = Math.ceil(Number(number) * scale);
  if (!Number.isSafeInteger(bytes)) throw new CliError(`${flag} "${value}" is too large`);
  return bytes < 0 ? -1 : bytes;
}

/** A whole number in a unit (`--dapr-http-max-request-size 8` MB, `--dapr-http-read-buffer-size 16` KB), in bytes; negative: -1. */
export function parseUnits(value: string | number, flag: string, unit: number, unitName: string): number {
  const n = typeof value === 'number' ? value : Number(value.trim());
  if (!Number.isInteger(n) || (typeof value === 'string' && value.trim() === '')) {
    throw new CliError(`${flag} "${String(value)}" is not a whole number of ${unitName}`);
  }
  return n < 0 ? -1 : n * unit;
}

/**
 * The HTTP API's request body limit in bytes, as daprd resolves it: `--max-body-size` (a size) wins over
 * the deprecated `--dapr-http-max-request-size` (MB); neither: undefined (daprd's 4 MiB default applies).
 * 0 or a negative size lifts the limit (returned as -1), as in daprd.
 */
export function bodyLimit(
  maxBodySize: string | undefined,
  maxRequestSizeMb: string | number | undefined,
  names: readonly [string, string] = BODY_FLAGS,
): number | undefined {
  const bytes =
    maxBodySize !== undefined
      ? parseSize(maxBodySize, names[0])
      : maxRequestSizeMb !== undefined
        ? parseUnits(maxRequestSizeMb, names[1], 2 ** 20, 'MB')
        : undefined;
  return bytes === undefined ? undefined : bytes <= 0 ? -1 : bytes;
}

/**
 * The HTTP API's request header limit in bytes (Node's `maxHeaderSize`): `--read-buffer-size` (a size)
 * wins over the deprecated `--dapr-http-read-buffer-size` (KB); neither: undefined (Node's 16 KiB).
 * 0 or negative: undefined too (daprd then keeps its server's default).
 */
export function headerLimit(
  readBufferSize: string | undefined,
  readBufferKb: string | number | undefined,
  names: readonly [string, string] = HEADER_FLAGS,
): number | undefined {
  const bytes =
    readBufferSize !== undefined
      ? parseSize(readBufferSize, names[0])
      : readBufferKb !== undefined
        ? parseUnits(readBufferKb, names[1], 2 ** 10, 'KB')
        : undefined;
  return bytes === undefined || bytes <= 0 ? undefined : bytes;
}

export const BODY_FLAGS = ['--max-body-size', '--dapr-http-max-request-size'] as const;
export const HEADER_FLAGS = ['--read-buffer-size', '--dapr-http-read-buffer-size'] as const;

/**
 * `--app-max-concurrency N`: at most N requests to the app at a time. daprd's default, -1, means no
 * limit (so `-1` is accepted and means that); any other value must be a whole number from 1 up.
 */
export function parseConcurrency(value: string | number, flag = '--app-max-concurrency'): number | undefined {
  const n = typeof value === 'number' ? value : Number(value.trim());
  if (n === -1) return undefined;
  if (!Number.isInteger(n) || n < 1 || (typeof value === 'string' && value.trim() === '')) {
    throw new CliError(`${flag} "${String(value)}" must be a whole number from 1 up (requests to the app at a time), or -1 for no limit`);
  }
  return n;
}

/**
 * `--dapr-listen-addresses`: one or more IP addresses (comma-separated, as daprd takes them) the Dapr
 * HTTP API binds; `localhost` is kept as written. Returns the CSV Sidekick's runtime reads (`SIDEKICK_HTTP_HOST`).
 */
export function parseListenAddresses(value: string, flag = '--dapr-listen-addresses'): string[] {
  const hosts = value
    .split(',')
    .map((h) => h.trim().replace(/^\[(.*)\]$/, '$1'))
    .filter(Boolean);
  if (hosts.length === 0) throw new CliError(`${flag} "${value}" names no address: e.g. 127.0.0.1 or 0.0.0.0,::`);
  for (const host of hosts) {
    if (host !== 'localhost' && isIP(host) === 0) {
      throw new CliError(`${flag}: "${host}" is not an IP address: list IPs separated by commas, e.g. 127.0.0.1,::1 (0.0.0.0 for every interface)`);
    }
  }
  return [...new Set(hosts)];
}

/** `--app-channel-address`: the host the app is reached on (an IP or a host name; default 127.0.0.1). */
export function parseChannelAddress(value: string, flag = '--app-channel-address'): string {
  const host = value.trim().replace(/^\[(.*)\]$/, '$1');
  if (host === '' || (isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host))) {
    throw new CliError(`${flag} "${value}" is not a host: give the IP or name the app listens on, e.g. 127.0.0.1`);
  }
  return host;
}

/** The address a client on this machine uses to reach a server bound to `host` (an unspecified address: loopback). */
export function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/** `host` in a URL (IPv6 in brackets). */
export function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * `--unix-domain-socket DIR`: the socket file daprd serves its HTTP API on, `DIR/dapr-<appId>-http.socket`.
 * The folder must exist; the path must fit a Unix socket address (107 bytes on Linux).
 */
export function socketPathFor(dir: string, cwd: string, appId: string, flag = '--unix-domain-socket'): string {
  const folder = resolve(cwd, dir);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new CliError(`${flag} ${dir}: no such folder (${folder}): create it or name another`);
  const path = join(folder, `dapr-${appId}-http.socket`);
  if (Buffer.byteLength(path) > 107) throw new CliError(`${flag} ${dir}: the socket path ${path} is longer than 107 bytes: choose a shorter folder, e.g. /tmp`);
  return path;
}
