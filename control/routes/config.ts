import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { AgentControl } from '../../agent/control-surface.ts';
import { ControlError } from '../errors.ts';
import type { ControlEnv } from '../errors.ts';
import { noQuery, parseInput } from '../schemas.ts';
import { logChange } from './change-log.ts';

// GET /config and POST /config/reload.

export function configRoutes(agent: AgentControl, logger: Logger): Hono<ControlEnv> {
  const app = new Hono<ControlEnv>();
  app.get('/', (c) => {
    parseInput(noQuery, c.req.query(), 'query');

    return c.json({ hash: agent.configHash(), config: agent.effectiveConfig() });
  });
  app.post('/reload', async (c) => {
    parseInput(noQuery, c.req.query(), 'query');
    const previousHash = agent.configHash();
    const result = await agent.reload('control_api');
    if (!result.ok) {
      logChange(
        c,
        logger,
        {
          change: 'config_reload',
          result: 'rejected',
          hash: previousHash,
          problems: result.problems,
        },
        'config reload through the control API rejected; the loaded config stays in effect',
      );
      const message = `the config file is invalid (${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}); the loaded config stays in effect`;
      throw new ControlError(422, 'invalid_config', message, { problems: result.problems });
    }
    logChange(
      c,
      logger,
      {
        change: 'config_reload',
        result: 'success',
        previousHash,
        hash: result.hash,
        changed: result.changed,
      },
      result.changed
        ? 'config reloaded through the control API'
        : 'config reload through the control API found no change',
    );

    return c.json({ hash: result.hash, changed: result.changed, previousHash });
  });

  return app;
}
