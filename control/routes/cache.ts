import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { AgentControl } from '../../agent/control-surface.ts';
import { hostNotFound } from '../errors.ts';
import type { ControlEnv } from '../errors.ts';
import { noQuery, parseInput, purgeQuery } from '../schemas.ts';
import { logChange } from './change-log.ts';

// GET /cache and DELETE /cache?host=H&prefix=/p.

export function cacheRoutes(agent: AgentControl, logger: Logger): Hono<ControlEnv> {
  const app = new Hono<ControlEnv>();
  app.get('/', (c) => {
    parseInput(noQuery, c.req.query(), 'query');

    return c.json(agent.cacheStats());
  });
  app.delete('/', (c) => {
    const filter = parseInput(purgeQuery, c.req.query(), 'query');
    // A purge for a host outside the config would remove nothing. A 404
    // catches a misspelt host, where a count of 0 would look like success.
    if (filter.host !== undefined && agent.getBreaker(filter.host) === undefined)
      throw hostNotFound(filter.host);
    const purged = agent.purgeCache(filter);
    const scope = `${filter.host ?? 'every host'}${filter.prefix === undefined ? '' : ` under ${filter.prefix}`}`;
    logChange(
      c,
      logger,
      { change: 'cache_purge', host: filter.host ?? null, prefix: filter.prefix ?? null, purged },
      `cache purged for ${scope} through the control API`,
    );

    return c.json({ purged, host: filter.host ?? null, prefix: filter.prefix ?? null });
  });

  return app;
}
