import { type CloudEvent, eventData, isExpired, isJsonContentType, parseCloudEvent, toEnvelope } from '../../src/runtime/blocks/pubsub/cloudevent';

const ctx = (metadata: Record<string, string> = {}, addExpiration = true) => ({
  appId: 'checkout',
  pubsub: 'orders-pubsub',
  topic: 'orders',
  now: Date.UTC(2026, 10, 27, 12, 0, 0, 345),
  metadata,
  addExpiration,
});

describe('CloudEvents', () => {
  it('wraps data with Dapr’s fields', () => {
    const event = toEnvelope({ data: { a: 1 }, contentType: 'application/json' }, ctx());
    expect(event).toMatchObject({
      specversion: '1.0',
      source: 'checkout',
      type: 'com.dapr.event.sent',
      datacontenttype: 'application/json',
      topic: 'orders',
      pubsubname: 'orders-pubsub',
      time: '2026-11-27T12:00:00Z',
      data: { a: 1 },
      // daprd always writes the trace fields, empty without trace context
      traceparent: '',
      traceid: '',
      tracestate: '',
    });
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.data_base64).toBeUndefined();
  });

  it('puts bytes in data_base64 and reads them back', () => {
    const event = toEnvelope({ bytes: Buffer.from([0, 1, 255]), contentType: 'application/octet-stream' }, ctx());
    expect(event.data_base64).toBe('AAH/');
    expect(eventData(event)).toEqual(Buffer.from([0, 1, 255]));
  });

  it('passes a caller’s CloudEvent through, overwriting topic and pubsubname and adding defaults', () => {
    const event = toEnvelope({ contentType: 'application/cloudevents+json', given: { specversion: '1.0', id: 'keep', data: 1, topic: 'x' } }, ctx());
    expect(event).toMatchObject({ id: 'keep', source: 'Dapr', type: 'com.dapr.event.sent', topic: 'orders', pubsubname: 'orders-pubsub', data: 1 });
  });

  it('applies metadata.cloudevent.* overrides and traceparent', () => {
    const event = toEnvelope(
      { data: 1, contentType: 'application/json' },
      ctx({ 'cloudevent.id': 'id-9', 'cloudevent.type': 't', 'cloudevent.traceparent': '00-abc-def-01' }),
    );
    expect(event).toMatchObject({ id: 'id-9', type: 't', traceparent: '00-abc-def-01', traceid: '00-abc-def-01' });
  });

  it('writes expiration from ttlInSeconds when the broker has no MESSAGE_TTL, and expires it', () => {
    const event = toEnvelope({ data: 1, contentType: 'application/json' }, ctx({ ttlInSeconds: '30' }));
    expect(event.expiration).toBe('2026-11-27T12:00:30Z'); // daprd's format: whole seconds
    expect(isExpired(event, ctx().now + 29_000)).toBe(false);
    expect(isExpired(event, ctx().now + 31_000)).toBe(true);
    expect(toEnvelope({ data: 1, contentType: 'application/json' }, ctx({ ttlInSeconds: '30' }, false)).expiration).toBeUndefined();
  });

  it('rejects malformed events with a reason, never throwing', () => {
    expect(parseCloudEvent(Buffer.from('not json'), false, 't', 'p')).toMatchObject({ ok: false, reason: expect.stringContaining('not JSON') });
    expect(parseCloudEvent(Buffer.from('[1]'), false, 't', 'p')).toMatchObject({ ok: false, reason: 'not a JSON object' });
    // JSON that is not a CloudEvent is delivered as the data of an envelope, as daprd delivers it.
    expect(parseCloudEvent(Buffer.from('{"data":1}'), false, 't', 'p')).toMatchObject({
      ok: true,
      event: { specversion: '1.0', data: { data: 1 }, topic: 't', pubsubname: 'p' },
    });
    expect(parseCloudEvent(Buffer.from('{"specversion":1}'), false, 't', 'p')).toMatchObject({ ok: false, reason: '"specversion" must be a string' });
    expect(parseCloudEvent(Buffer.from('{"specversion":"2.0"}'), false, 't', 'p')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('unsupported specversion'),
    });
    expect(parseCloudEvent(Buffer.from('{"specversion":"1.0","id":7}'), false, 't', 'p')).toMatchObject({ ok: false, reason: '"id" must be a string' });
    const raw = parseCloudEvent(Buffer.from('anything'), true, 't', 'p');
    expect(raw.ok && eventData(raw.event)).toEqual(Buffer.from('anything'));
  });

  it('decodes JSON and text data_base64 by content type', () => {
    expect(
      eventData({
        specversion: '1.0',
        id: '',
        source: '',
        type: '',
        datacontenttype: 'application/json',
        data_base64: Buffer.from('{"x":1}').toString('base64'),
      }),
    ).toEqual({ x: 1 });
    expect(
      eventData({ specversion: '1.0', id: '', source: '', type: '', datacontenttype: 'text/plain', data_base64: Buffer.from('hi').toString('base64') }),
    ).toBe('hi');
  });

  it('tells JSON content types (application/json and any +json, with parameters, any case)', () => {
    for (const type of ['application/json', 'application/cloudevents+json', 'application/json; charset=utf-8', 'APPLICATION/JSON'])
      expect(isJsonContentType(type)).toBe(true);
    for (const type of ['text/json', 'application/jsonx', 'application/octet-stream', '']) expect(isJsonContentType(type)).toBe(false);
  });

  it('writes no expiration for a zero, negative or non-numeric ttlInSeconds', () => {
    for (const ttl of ['0', '-5', 'soon'])
      expect(toEnvelope({ data: 1, contentType: 'application/json' }, ctx({ ttlInSeconds: ttl })).expiration).toBeUndefined();
  });

  it('keeps a caller’s traceid when a traceparent is given, and its own time', () => {
    const event = toEnvelope(
      { contentType: 'application/cloudevents+json', given: { specversion: '1.0', id: 'x', traceid: 'mine', time: '2020-01-01T00:00:00Z' } },
      ctx({ 'cloudevent.traceparent': 'tp' }),
    );
    expect(event).toMatchObject({ traceparent: 'tp', traceid: 'mine', time: '2020-01-01T00:00:00Z' });
  });

  it('fills missing id, source and type with empty strings, and rejects a non-string data_base64', () => {
    const parsed = parseCloudEvent(Buffer.from('{"specversion":"1.0","data":2}'), false, 't', 'p');
    expect(parsed).toEqual({ ok: true, event: { specversion: '1.0', id: '', source: '', type: '', data: 2 } });
    expect(parseCloudEvent(Buffer.from('{"specversion":"1.0","data_base64":5}'), false, 't', 'p')).toEqual({
      ok: false,
      reason: '"data_base64" must be a string',
    });
    expect(parseCloudEvent(Buffer.from('null'), false, 't', 'p')).toEqual({ ok: false, reason: 'not a JSON object' });
  });

  it('gives the bytes of a data_base64 labelled JSON that is not JSON, and bytes for a missing content type', () => {
    const base = { specversion: '1.0', id: '', source: '', type: '' };
    expect(eventData({ ...base, datacontenttype: 'application/json', data_base64: Buffer.from('{oops').toString('base64') })).toEqual(Buffer.from('{oops'));
    expect(eventData({ ...base, data_base64: Buffer.from('hi').toString('base64') })).toEqual(Buffer.from('hi'));
  });

  it('does not expire an event without a readable expiration', () => {
    const base = { specversion: '1.0', id: '', source: '', type: '' };
    expect(isExpired({ ...base, expiration: 'tomorrow' }, Date.now())).toBe(false);
    expect(isExpired({ ...base, expiration: 5 } as unknown as CloudEvent, Date.now())).toBe(false); // from the wire: any JSON
    expect(isExpired(base, Date.now())).toBe(false);
  });
});
