// A logger that drops everything, from the shipped testing entry.
export { captureLogs, silentLogger as noopLogger } from '../../src/testing';
