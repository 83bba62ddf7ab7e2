#!/usr/bin/env node
// wardctl, the package's bin (dist/cli.js). Verb groups live in src/cli/.
import { runtimeProblem } from './main';
import { runCli } from './cli/index';

const problem = runtimeProblem();
if (problem) {
  process.stderr.write(problem + '\n');
  process.exit(2);
}
runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
