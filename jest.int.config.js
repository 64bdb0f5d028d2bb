// Integration tests: *.int-spec.ts against real MariaDB, Redis and etcd on loopback.
module.exports = {
  ...require('./jest.unit.config.js'),
  testRegex: '(apps|libs|test)/.*\\.int-spec\\.ts$',
  testTimeout: 60000,
};
