export { loadConfig, configFromObject, configPathFromArgs, resolveConfigPath, ConfigError } from './load';
export type { WardConfig, ListenerConfig } from './load';
export { configSchema } from './schema';
export { packageRoot } from './package-root';
export { AccessLog, createLogger, REDACT_PATHS } from './logger';
