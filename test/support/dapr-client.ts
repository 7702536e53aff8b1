import { CommunicationProtocolEnum, DaprClient, type LoggerService, LogLevel } from '@dapr/dapr';

/**
 * The official `@dapr/dapr` client over HTTP, pointed at a Sidekick app's Dapr HTTP API the way an app
 * points it at daprd (`apiUrl` as `TestApp.apiUrl`); errors only, or into `service` when given.
 */
export function daprHttpClient(apiUrl: string, service?: LoggerService): DaprClient {
  return new DaprClient({
    daprHost: '127.0.0.1',
    daprPort: String(new URL(apiUrl).port),
    communicationProtocol: CommunicationProtocolEnum.HTTP,
    logger: service ? { level: LogLevel.Error, service } : { level: LogLevel.Error },
  });
}
