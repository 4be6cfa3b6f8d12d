import { chromium } from 'playwright-core';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 2 });
const page = await context.newPage();
page.on('console', (m) => console.log('console', m.type(), m.text()));
page.on('pageerror', (e) => console.log('pageerror', e.message));
const now = Date.now();
const sample = (i) => ({ type: 'sample', t: now - (300 - i) * 1000, players: 40 + (i % 7), away: i % 3, rooms: 3, connections: 44,
  tick_p50_us: i % 50 === 0 ? null : 300 + (i % 20) * 10, tick_p99_us: i % 50 === 0 ? null : 900 + (i % 13) * 50, bytes_in: 20480, bytes_out: 512000 + i * 100,
  accepted: i % 5, closed: i % 4 ? { leave: 1 } : { ping_timeout: 2 }, rejected: i % 9 ? {} : { join_timeout: 1 }, refused: {}, rate_limited: 5, snapshots_skipped: 12 });
await page.routeWebSocket(/\/admin\/ws$/, (ws) => {
  ws.onMessage((m) => {
    const msg = JSON.parse(m);
    console.log('server got', m);
    if (msg.type === 'auth') {
      if (msg.token !== 'good') { ws.close({ code: 4401, reason: 'unauthorized' }); return; }
      const history = []; for (let i = 0; i < 300; i++) { const { type, ...s } = sample(i); history.push(s); }
      ws.send(JSON.stringify({ type: 'hello', node: 'eu-1', cluster: false, version: '0.1.0', protocol: 9, interval_ms: 1000, history }));
      ws.send(JSON.stringify(sample(300)));
      ws.send(JSON.stringify({ type: 'state', rooms: [{ id: 3, mode: 'arena', private: false, code: null, players: 12, max_players: 64, tick_us: 420, tick_p99_us: 900, snapshot_bytes: 310, age_s: 125 }, { id: 4, mode: 'arena', private: true, code: 'ABCDEFGHJK', players: 2, max_players: 8, tick_us: 120, tick_p99_us: 300, snapshot_bytes: 90, age_s: 4000 }],
        players: [{ id: 12, name: 'Alice', room: 3, transport: 'websocket', rtt_ms: 31.5, skipped: 4, connected_s: 64, peer: '127.0.0.1:40012' }, { id: 40, name: '<img src=x onerror=alert(1)>', room: 3, transport: 'polling', rtt_ms: null, skipped: 0, connected_s: 3, peer: '127.0.0.1:40013' }, { id: 7, name: 'Bob', room: 4, transport: 'websocket', rtt_ms: 12, skipped: 0, connected_s: 9000, peer: '127.0.0.1:4' }],
        slowest: [40], nodes: [{ id: 'eu-1', url: 'ws://10.0.0.1:8080/ws', players: 41, rooms: 3, region: '', me: true }] }));
    } else if (msg.type === 'kick') {
      ws.send(JSON.stringify({ type: 'result', id: msg.id, ok: true, message: `kicked player ${msg.player}` }));
    } else {
      ws.send(JSON.stringify({ type: 'result', id: msg.id, ok: false, error: 'no such room' }));
    }
  });
});
await page.goto('http://127.0.0.1:18391/admin/index.html#token=good');
await page.waitForTimeout(800);
console.log('url', page.url());
await page.locator('#players-table tr[data-key="12"] button.kick').click();
await page.locator('#action-reason').fill('testing the kick');
await page.locator('#action-submit').click();
await page.locator('#rooms-table tr[data-key="4"] button.close-room').click();
await page.locator('#action-reason').fill('maintenance');
await page.keyboard.press('Enter');
await page.locator('#notice-text').fill('hello all');
await page.locator('#notice-submit').click();
await page.waitForTimeout(500);
const state = await page.evaluate(() => window.skirmishAdmin.state);
console.log(JSON.stringify({ ...state, lastSample: undefined, rooms: undefined, players: undefined }, null, 1));
await page.screenshot({ path: '/tmp/admin-mock.png', fullPage: true });
const p2 = await context.newPage();
p2.on('console', (m) => console.log('console2', m.type(), m.text()));
await p2.routeWebSocket(/\/admin\/ws$/, (ws) => ws.onMessage(() => ws.close({ code: 4401, reason: 'unauthorized' })));
await p2.goto('http://127.0.0.1:18391/admin/index.html#token=bad');
await p2.waitForTimeout(500);
console.log(JSON.stringify(await p2.evaluate(() => window.skirmishAdmin.state.statusText)));
await p2.screenshot({ path: '/tmp/admin-refused.png' });
await browser.close();
