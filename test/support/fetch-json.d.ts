// Tests read JSON bodies of many shapes; let `res.json()` be typed at the call site (`any` by default).
export {};

declare global {
  interface Response {
    json<T = any>(): Promise<T>;
  }
}
