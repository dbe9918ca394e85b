/**
 * The library never prints. It reports through a replaceable logger whose methods take
 * a message and optional structured fields, the shape pino uses, so a pino instance can
 * be passed directly.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

const noop = (): void => {};

/** A logger that drops everything; the default for every library call. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

let defaultLogger: Logger = silentLogger;

/** Replaces the logger used when a call gets no `logger` option. */
export function setDefaultLogger(logger: Logger): void {
  defaultLogger = logger;
}

export function getDefaultLogger(): Logger {
  return defaultLogger;
}
