/** The counts a `trip` expression reads (daprd's, after sony/gobreaker's `Counts`). */
export interface BreakerCounts {
  requests: number;
  totalSuccesses: number;
  totalFailures: number;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
}

export const TRIP_VARIABLES: readonly (keyof BreakerCounts)[] = ['requests', 'totalSuccesses', 'totalFailures', 'consecutiveSuccesses', 'consecutiveFailures'];

/** A compiled `trip` expression. */
export type TripExpression = ((counts: Readonly<BreakerCounts>) => boolean) & { readonly source: string };

/**
 * Compiles a circuit breaker's `trip` expression. daprd evaluates it as CEL over the counts; the
 * expressions its docs use are comparisons of a count with a number joined by `&&` / `||`, with
 * parentheses, which this small grammar covers (`consecutiveFailures > 5`,
 * `totalFailures >= 10 && requests > 20`). Anything else throws an Error saying what is wrong.
 */
export function compileTrip(source: string): TripExpression {
  const tokens = tokenize(source);
  let at = 0;
  const peek = (): string | undefined => tokens[at];
  const take = (): string => {
    const token = tokens[at++];
    if (token === undefined) throw new Error(`"${source}" ends too early`);
    return token;
  };
  type Node = (c: Readonly<BreakerCounts>) => boolean;
  const comparison = (): Node => {
    if (peek() === '(') {
      take();
      const inner = or();
      if (take() !== ')') throw new Error(`"${source}": missing )`);
      return inner;
    }
    const name = take();
    if (!TRIP_VARIABLES.includes(name as keyof BreakerCounts)) {
      throw new Error(`"${source}": unknown variable ${name}; use one of ${TRIP_VARIABLES.join(', ')}`);
    }
    const op = take();
    const value = Number(take());
    if (!Number.isFinite(value)) throw new Error(`"${source}": ${name} ${op} must be followed by a number`);
    const key = name as keyof BreakerCounts;
    switch (op) {
      case '>':
        return (c) => c[key] > value;
      case '>=':
        return (c) => c[key] >= value;
      case '<':
        return (c) => c[key] < value;
      case '<=':
        return (c) => c[key] <= value;
      case '==':
        return (c) => c[key] === value;
      case '!=':
        return (c) => c[key] !== value;
      default:
        throw new Error(`"${source}": unknown operator ${op}; use >, >=, <, <=, == or !=`);
    }
  };
  const and = (): Node => {
    let left = comparison();
    while (peek() === '&&') {
      take();
      const l = left;
      const r = comparison();
      left = (c) => l(c) && r(c);
    }
    return left;
  };
  const or = (): Node => {
    let left = and();
    while (peek() === '||') {
      take();
      const l = left;
      const r = and();
      left = (c) => l(c) || r(c);
    }
    return left;
  };
  const root = or();
  if (at !== tokens.length) throw new Error(`"${source}": unexpected ${tokens[at] ?? ''}`);
  return Object.assign((counts: Readonly<BreakerCounts>) => root(counts), { source });
}

function tokenize(source: string): string[] {
  const tokens = source.match(/\s*(>=|<=|==|!=|&&|\|\||[<>()]|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\S)/g);
  if (!tokens || tokens.length === 0) throw new Error('the trip expression is empty');
  return tokens.map((t) => t.trim());
}
