// End-to-end tests: test/*.e2e-spec.ts start the built apps (dist/) as child processes.
module.exports = {
  ...require('./jest.unit.config.js'),
  testRegex: 'test/.*\\.e2e-spec\\.ts$',
  testTimeout: 120000,
};
