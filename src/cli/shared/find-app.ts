import { CliError } from './cli-error';
import { type RunningApp, runningApps } from './run-records';

/** The running app with this id that serves a Dapr HTTP API, or a one-line error saying what to do. */
export function findApp(appId: string): RunningApp & { httpApiUrl: string } {
  const apps = runningApps();
  const found = apps.find((a) => a.appId === appId && a.httpApiUrl);
  if (!found || !found.httpApiUrl) {
    const socket = apps.find((a) => a.appId === appId && a.record?.socketPath)?.record?.socketPath;
    if (socket) {
      throw new CliError(
        `"${appId}" serves its Dapr HTTP API on the Unix socket ${socket} only (--unix-domain-socket): call it there, e.g. curl --unix-socket ${socket} http://localhost/v1.0/metadata`,
      );
    }
    const running = apps.map((a) => a.appId);
    throw new CliError(
      `no running app with id "${appId}"${running.length > 0 ? ` (running: ${[...new Set(running)].join(', ')})` : ''}: start it with sidekick run --app-id ${appId} -- <command>, or see sidekick list`,
    );
  }
  return { ...found, httpApiUrl: found.httpApiUrl };
}

/** A request to an app's Dapr HTTP API; a connection failure is a one-line error. */
export async function callApi(app: { appId: string; httpApiUrl: string }, path: string, init: RequestInit = {}): Promise<Response> {
  const token = process.env['DAPR_API_TOKEN'];
  const headers = new Headers(init.headers);
  if (token) headers.set('dapr-api-token', token);
  try {
    return await fetch(`${app.httpApiUrl}${path}`, { ...init, headers });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CliError(`the Dapr HTTP API of "${app.appId}" at ${app.httpApiUrl} did not answer (${cause}): is the app still running? (sidekick list)`);
  }
}
