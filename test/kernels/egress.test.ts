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

  test.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['0.0.0.0', true],
    ['169.254.169.254', true],
    ['::1', true],
    ['::', true],
    ['fe80::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.1.2.3', false],
    ['93.184.216.34', false],
    ['2001:db8::1', false],
  ])('a name resolving to %s is refused: %p', (address, refused) => {
    expect(forbiddenAddress(address)).toBe(refused);
  });
});
