// A small structured logger for the process's own messages (fastify keeps its own pino).
// Human-readable lines on stderr: the time, the level, the message, then key=value fields.

/** The levels, least severe first; `IMFLOW_LOG_LEVEL` takes one of them. */
export const logLevels = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = (typeof logLevels)[number]

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
  child(scope: string): Logger
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  scope = 'imflow',
): Logger {
  const emit = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (rank[at] < rank[level]) return
    const extra = fields
      ? Object.entries(fields)
          .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join('')
      : ''
    write(`${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} [${scope}] ${message}${extra}`)
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (child) => createLogger(level, write, `${scope}:${child}`),
  }
}

/** For library callers and tests that want quiet. */
export const silentLogger: Logger = createLogger('error', () => {})
