// Calls the bank accounts through both instances' Dapr HTTP APIs: each account lives in one instance,
// and a call made to the other is forwarded to it. Usage: node call-both.mjs [apiPort1] [apiPort2]
const ports = [process.argv[2] ?? '3500', process.argv[3] ?? '3501'];
const call = async (port, id, method, args = []) => {
  const res = await fetch(`http://127.0.0.1:${port}/v1.0/actors/BankAccount/${id}/method/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(args),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} on ${id} via :${port} answered ${res.status}: ${text}`);
  return text === '' ? undefined : JSON.parse(text);
};

for (let i = 1; i <= 4; i++) {
  const id = `demo-${i}`;
  await call(ports[0], id, 'deposit', [100]);
  await call(ports[1], id, 'deposit', [50]);
  await call(ports[1], id, 'withdraw', [30]);
  await call(ports[0], id, 'enableInterest', [1, '5s']);
  const viaFirst = await call(ports[0], id, 'statement');
  const viaSecond = await call(ports[1], id, 'statement');
  console.log(`${id}: balance ${viaFirst.balance} (lives in ${viaFirst.instance}; the same through the other instance: ${viaSecond.balance})`);
}
try {
  await call(ports[0], 'demo-1', 'withdraw', [1_000_000]);
} catch (err) {
  console.log(`withdrawing too much fails: ${err.message}`);
}
