// wardctl config check | schema: validate a config file, print the JSON Schema that documents it.
import { configSchema } from '../config';
import type { VerbGroup } from './context';

export const configCommands: VerbGroup = {
  name: 'config',
  summary: 'appliance.config.yaml',
  verbs: {
    check: {
      usage: 'config check [--config FILE]',
      summary: 'validate the config file (exit 2 and the problem if it is bad)',
      run(cli) {
        const cfg = cli.config;
        cli.print(`ok: ${cfg.file}`);
      },
    },
    schema: {
      usage: 'config schema',
      summary: 'print the JSON Schema of the config (every key documented)',
      run(cli) {
        cli.printJson(configSchema);
      },
    },
  },
};
