import os from 'node:os';
import { egressAllowed, forbiddenAddress, parseEgressAllow } from '../../src/kernels/egress';

describe('KERNEL_EGRESS_ALLOW', () => {
  test('reads host:port entries, * for any port, *. for subdomains, [v6] literals', () => {
    expect(parseEgressAllow(' pypi.org:443, *.example.com:*,10.0.0.5:8080,[2001:db8::1]:443 ')).toEqual([
      { host: 'pypi.org', port: 443 },
      { host: '*.example.com', port: null },
      { host: '10.0.0.5', port: 8080 },
      { host: '2001:db8::1', port: 443 },
    ]);
    expect(parseEgressAllow('')).toEqual([]);
    expect(parseEgressAllow(undefined)).toEqual([]);
  });

  test.each(['pypi.org', 'pypi.org:', 'http://pypi.org:443', 'pypi.org:0', 'pypi.org:70000', 'a b:1'])(
    'refuses %p at start',
    (value) => {
      expect(() => parseEgressAllow(value)).toThrow(/KERNEL_EGRESS_ALLOW/);
    },
  );

  const rules = parseEgressAllow('pypi.org:443,*.example.com:*,10.0.0.5:8080');
  test.each([
    ['pypi.org', 443, true],
    ['PyPI.org', 443, true],
    ['pypi.org', 80, false],
    ['evilpypi.org', 443, false],
    ['files.example.com', 22, true],
    ['example.com', 443, false],
    ['example.com.evil.net', 443, false],
    ['10.0.0.5', 8080, true],
    ['10.0.0.5', 5432, false],
    ['127.0.0.1', 5432, false],
  ] as const)('%s:%d allowed: %p', (host, port, allowed) => {
    expect(egressAllowed(rules, host, port) !== null).toBe(allowed);
  });

  const own = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && !i.internal && i.family === 'IPv4')?.address;
  test.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['0.0.0.0', true],
    ['169.254.169.254', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['192.168.1.1', true],
    ['100.64.0.1', true],
    ['::1', true],
    ['::', true],
    ['fe80::1', true],
    ['fd00::1', true],
    ['::ffff:127.0.0.1', true],
    ['172.32.0.1', false],
    ['100.128.0.1', false],
    ['93.184.216.34', false],
    ['2001:db8::1', false],
    ...(own ? [[own, true] as [string, boolean]] : []),
  ])('a name resolving to %s is refused: %p', (address, refused) => {
    expect(forbiddenAddress(address)).toBe(refused);
  });
});
