'use strict';
// Jest reporter: writes the run's counts as JSON to the file named by
// SIDEKICK_TEST_COUNTS: {"passed": N, "failed": N, "pending": N, "suitesFailed": N}.
// A suite that failed without a failing test (compile error, throwing import,
// failing beforeAll/afterAll...) counts as at least one failed test, so a broken
// suite can never look like a green run. Does nothing when the variable is unset.
// Used by .ci/run (see jest.config.js `reporters`).

const fs = require('fs');
const path = require('path');

class JestCountReporter {
  constructor(globalConfig, reporterOptions) {
    this._globalConfig = globalConfig;
    this._options = reporterOptions || {};
  }

  onRunComplete(_contexts, results) {
    const target = process.env.SIDEKICK_TEST_COUNTS;
    if (!target) return;

    const suites = (results && results.testResults) || [];
    // Suites that broke outside of any single test.
    let brokenSuites = 0;
    let failedSuites = 0;
    for (const suite of suites) {
      const failing = suite.numFailingTests || 0;
      const broken = Boolean(suite.testExecError) || (failing === 0 && Boolean(suite.failureMessage));
      if (broken) brokenSuites += 1;
      if (broken || failing > 0) failedSuites += 1;
    }

    const failedTests = results.numFailedTests || 0;
    const failed = Math.max(
      failedTests + (results.numRuntimeErrorTestSuites || 0),
      failedTests + brokenSuites,
    );
    const counts = {
      passed: results.numPassedTests || 0,
      failed,
      pending: (results.numPendingTests || 0) + (results.numTodoTests || 0),
      suitesFailed: Math.max(results.numFailedTestSuites || 0, failedSuites),
    };

    const file = path.resolve(target);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(counts)}\n`);
    fs.renameSync(tmp, file);
  }
}

module.exports = JestCountReporter;
