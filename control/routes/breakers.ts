import { Hono } from 'hono';
import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { AgentControl, BreakerView } from '../../agent/control-surface.ts';
import { hostNotFound } from '../errors.ts';
import type { ControlEnv } from '../errors.ts';
import { hostSchema, noQuery, overrideQuery, parseInput } from '../schemas.ts';
import { logChange } from './change-log.ts';

// GET /breakers, GET /breakers/{host}, POST /breakers/{host}/open|close|reset.

type Override = 'forced_open' | 'forced_closed';

export function breakerRoutes(agent: AgentControl, logger: Logger): Hono<ControlEnv> {
  const app = new Hono<ControlEnv>();
  app.get('/', (c) => {
    parseInput(noQuery, c.req.query(), 'query');

    return c.json({ breakers: agent.listBreakers() });
  });
  app.get('/:host', (c) => {
    parseInput(noQuery, c.req.query(), 'query');
    const host = hostParam(c);

    return c.json(found(host, agent.getBreaker(host)));
  });
  app.post('/:host/open', (c) => override(c, agent, logger, 'forced_open'));
  app.post('/:host/close', (c) => override(c, agent, logger, 'forced_closed'));
  app.post('/:host/reset', (c) => {
    parseInput(noQuery, c.req.query(), 'query');
    const host = hostParam(c);
    const before = found(host, agent.getBreaker(host));
    const after = found(host, agent.resetBreaker(host));
    logChange(
      c,
      logger,
      {
        change: 'breaker_reset',
        host: after.host,
        key: after.key,
        before: summary(before),
        after: summary(after),
      },
      `breaker of ${after.host} reset to auto through the control API`,
    );

    return c.json(after);
  });

  return app;
}

function override(
  c: Context<ControlEnv>,
  agent: AgentControl,
  logger: Logger,
  mode: Override,
): Response {
  const query = parseInput(overrideQuery, c.req.query(), 'query');
  const host = hostParam(c);
  const before = found(host, agent.getBreaker(host));
  const after = found(host, agent.overrideBreaker(host, mode, query.for));
  const until = after.overrideUntil === null ? 'until reset' : `until ${after.overrideUntil}`;
  const fields = {
    change: 'breaker_override',
    host: after.host,
    key: after.key,
    forMs: query.for ?? null,
    before: summary(before),
    after: summary(after),
  };
  logChange(
    c,
    logger,
    fields,
    `breaker of ${after.host} ${mode === 'forced_open' ? 'forced open' : 'forced closed'} ${until} through the control API`,
  );

  return c.json(after);
}

function hostParam(c: Context<ControlEnv>): string {
  return parseInput(hostSchema, c.req.param('host'), 'host');
}

function found(host: string, view: BreakerView | undefined): BreakerView {
  if (view === undefined) throw hostNotFound(host);

  return view;
}

function summary(view: BreakerView): Record<string, unknown> {
  return { state: view.state, mode: view.mode, overrideUntil: view.overrideUntil };
}
