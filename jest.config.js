/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/libs'],
  testMatch: ['**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.jest.json' }] },
  moduleNameMapper: { '^@sidekick/core$': '<rootDir>/src/index.ts', '^@sidekick/core/testing$': '<rootDir>/src/testing/index.ts' },
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
  testTimeout: 30000,
  reporters: ['default', ['<rootDir>/scripts/jest-count-reporter.js', {}]],
};
