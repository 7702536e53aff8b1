// The project's own tests start apps through the shipped testing entry (@sidekick/core/testing).
export { inspect, startTestApp as startApp, tempDir, type TestApp } from '../../src/testing';
