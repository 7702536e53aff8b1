import { ApiError, type ApiRoute } from './api-context';

/**
 * Dapr API prefixes this runtime does not serve (yet). Without these routes a call would fall
 * through to service invocation and answer "failed getting app id", which sends users hunting for an
 * app id. A block that serves one of them replaces its route (the runtime mounts these only for
 * prefixes no block declared).
 */
const UNSUPPORTED: readonly { readonly prefix: string; readonly what: string }[] = [
  { prefix: '/v1.0/secrets/', what: 'the secrets API' },
  { prefix: '/v1.0/configuration/', what: 'the configuration API' },
  { prefix: '/v1.0-alpha1/configuration/', what: 'the configuration API' },
  { prefix: '/v1.0-alpha1/lock/', what: 'the distributed lock API' },
  { prefix: '/v1.0-alpha1/unlock/', what: 'the distributed lock API' },
  { prefix: '/v1.0-beta1/workflows/', what: 'the workflow API' },
  { prefix: '/v1.0-alpha1/workflows/', what: 'the workflow API' },
  { prefix: '/v1.0-alpha1/state/', what: 'state query' },
  { prefix: '/v1.0-alpha1/crypto/', what: 'the cryptography API' },
  { prefix: '/v1.0-alpha1/jobs/', what: 'the jobs API' },
  { prefix: '/v1.0-alpha1/conversation/', what: 'the conversation API' },
  { prefix: '/v1.0-alpha2/conversation/', what: 'the conversation API' },
];

const ALL_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

/** Routes answering 501 `ERR_NOT_SUPPORTED` for the prefixes none of `served` starts with. */
export function unsupportedRoutes(served: readonly string[]): ApiRoute[] {
  return UNSUPPORTED.filter(({ prefix }) => !served.some((path) => path.startsWith(prefix))).map(({ prefix, what }) => ({
    name: 'unsupported',
    methods: ALL_METHODS,
    path: `${prefix}*`,
    errorCode: 'ERR_NOT_SUPPORTED',
    handler: () => Promise.reject(new ApiError(501, 'ERR_NOT_SUPPORTED', `${what} (${prefix}...) is not supported by this runtime yet`)),
  }));
}
