// Unit tests: *.spec.ts beside the code. Fakes allowed, no network services.
module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  testRegex: '(apps|libs)/.*\\.spec\\.ts$',
  transform: { '^.+\\.ts$': 'ts-jest' },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: { '^@app/(.*)$': '<rootDir>/libs/$1/src' },
  testTimeout: 20000,
};
