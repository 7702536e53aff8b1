import { collectFences, fenceKey, fenceOf } from '../../src/runtime/blocks/state/fencing';
import { lockKey } from '../../src/runtime/blocks/lock/lock.service';
import { compareFencingTokens, isFencingToken } from '../../src/spi/lock.store';

describe("lock keys: daprd's layout", () => {
  it.each([
    [undefined, 'lock||app1||res'],
    ['appid', 'lock||app1||res'],
    ['AppId', 'lock||app1||res'],
    ['name', 'lock||mystore||res'],
    ['none', 'lock||res'],
    ['Custom', 'lock||custom||res'],
  ])('keyPrefix %s → %s', (strategy, key) => {
    expect(lockKey('res', strategy, 'app1', 'mystore')).toBe(key);
  });

  it('no app id: lock||<id>; a resource id with || is refused', () => {
    expect(lockKey('res', 'appid', '', 'mystore')).toBe('lock||res');
    expect(() => lockKey('a||b', undefined, 'app1', 's')).toThrow("input key/keyPrefix 'a||b' can't contain '||'");
  });
});

describe('fencing tokens', () => {
  it('compare as integers of any length', () => {
    expect(compareFencingTokens('10', '9')).toBe(1);
    expect(compareFencingTokens('99999999999999999999', '100000000000000000000')).toBe(-1);
    expect(compareFencingTokens('7', '7')).toBe(0);
    expect(['1', '0', '123'].every(isFencingToken)).toBe(true);
    expect(['', '-1', '01', '1.5', 'abc', ' 1'].some(isFencingToken)).toBe(false);
  });

  it('metadata: fencingToken with fencingResource (default the key); malformed is 400; two tokens for one resource is 400', () => {
    expect(fenceOf(undefined, 'k')).toBeUndefined();
    expect(fenceOf({ fencingToken: '3' }, 'k')).toEqual({ resource: 'k', token: '3' });
    expect(fenceOf({ fencingToken: '3', fencingResource: 'job' }, 'k')).toEqual({ resource: 'job', token: '3' });
    expect(() => fenceOf({ fencingToken: 'x' }, 'k')).toThrow(expect.objectContaining({ code: 'ERR_MALFORMED_REQUEST', httpStatus: 400 }));
    expect(collectFences([{ resource: 'r', token: '2' }, undefined, { resource: 'r', token: '2' }])).toEqual([{ resource: 'r', token: '2' }]);
    expect(() =>
      collectFences([
        { resource: 'r', token: '1' },
        { resource: 'r', token: '2' },
      ]),
    ).toThrow('fencing tokens 1 and 2 for resource "r"');
    expect(fenceKey('app||', 'job')).toBe('app||sidekick-fence||job');
  });
});
