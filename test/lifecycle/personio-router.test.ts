import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPersonioSim, type PersonioSim } from '../../local/personio-sim/index.js';
import { PersonioRouter } from './personio.js';

/** The simulation's Personio: one URL, a simulator per credential, a gate on the fetch's pages, hidden employees. */

let router: PersonioRouter;
let a: PersonioSim;
let b: PersonioSim;

beforeAll(async () => {
  router = await PersonioRouter.start();
  a = await startPersonioSim({ employees: 5, seed: 1, credentials: [{ clientId: 'router-a', clientSecret: 'router-a-secret' }] });
  b = await startPersonioSim({ employees: 8, seed: 2, credentials: [{ clientId: 'router-b', clientSecret: 'router-b-secret' }] });
});

afterAll(async () => {
  await router.close();
  await a.close();
  await b.close();
});

async function token(clientId: string, clientSecret: string): Promise<string> {
  const answer = await fetch(`${router.url}/v1/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: clientId, client_secret: clientSecret }),
  });
  return ((await answer.json()) as { data: { token: string } }).data.token;
}

async function page(bearer: string, limit = 100): Promise<{ total: number; ids: number[] }> {
  const answer = await fetch(`${router.url}/v1/company/employees?limit=${limit}&offset=0`, { headers: { authorization: `Bearer ${bearer}` } });
  const body = (await answer.json()) as { metadata: { total_elements: number }; data: { attributes: { id: { value: number } } }[] };
  return { total: body.metadata.total_elements, ids: body.data.map((e) => e.attributes.id.value) };
}

describe('Personio router', () => {
  it('sends each credential to its own simulator', async () => {
    const gateA = router.add('router-a', a);
    router.add('router-b', b);
    expect(gateA.isClosed).toBe(false);
    expect((await page(await token('router-a', 'router-a-secret'))).total).toBe(5);
    expect((await page(await token('router-b', 'router-b-secret'))).total).toBe(8);
    const unknown = await fetch(`${router.url}/v1/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'nobody', client_secret: 'x' }),
    });
    expect(unknown.status).toBe(401);
  });

  it('holds the fetch-sized pages at a closed gate until it opens; smaller pages pass', async () => {
    const gate = router.add('router-a', a);
    const bearer = await token('router-a', 'router-a-secret');
    gate.close();
    const held = page(bearer);
    expect(await gate.waitHeld(1, 5_000)).toBe(true);
    expect((await page(bearer, 1)).ids).toHaveLength(1);
    a.removeEmployees([a.employees()[0]!.id]);
    gate.open();
    expect((await held).total).toBe(4);
  });

  it('counts hidden employees in total_elements but shows them on no page', async () => {
    router.add('router-b', b);
    const bearer = await token('router-b', 'router-b-secret');
    const hidden = b.employees()[3]!.id;
    b.setKnobs({ hiddenEmployeeIds: [hidden] });
    const shown = await page(bearer);
    expect(shown.total).toBe(8);
    expect(shown.ids).toHaveLength(7);
    expect(shown.ids).not.toContain(hidden);
    const byId = await fetch(`${router.url}/v1/company/employees/${hidden}`, { headers: { authorization: `Bearer ${bearer}` } });
    expect(byId.status).toBe(200);
    b.setKnobs({ hiddenEmployeeIds: [] });
    expect((await page(bearer)).ids).toContain(hidden);
  });
});
