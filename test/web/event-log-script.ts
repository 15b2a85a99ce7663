/**
 * The event-log script of the three-way test: plain JavaScript, run unchanged in headless
 * Chromium (the browser's own WebSocket and WebSocketStream), in Node with ours, and in
 * Node with undici's WebSocket. It is `async (env) => string[]`, where env is
 * `{ WebSocket, WebSocketStream, WebSocketError, base, sections }` (`base` is
 * ws://127.0.0.1:PORT of the scenario server, `sections` the names to run). Every line is
 * deterministic: no timing-dependent figure (bufferedAmount is logged right after the sends,
 * where the standard fixes it, and then as "reached 0"), and the port is written PORT.
 *
 * A string, not a function, so that what runs in the browser is exactly this text.
 */
export const EVENT_LOG_SCRIPT = String.raw`async (env) => {
  const { WebSocket, WebSocketStream, WebSocketError, base, sections } = env;
  const log = [];
  const line = (text) => log.push(text);
  const port = new URL(base.replace('ws:', 'http:')).port;
  const rel = (text) => String(text).split(port).join('PORT');
  const errorOf = (e) => {
    if (e === undefined) return 'undefined';
    const cls = e instanceof DOMException ? 'DOMException' : e && e.constructor ? e.constructor.name : typeof e;
    const extra = 'closeCode' in Object(e) ? ' closeCode=' + e.closeCode + ' reason=' + JSON.stringify(e.reason) : '';
    return cls + '(' + e.name + ')' + extra;
  };
  const attempt = (f) => {
    try {
      const value = f();
      return 'ok' + (value === undefined ? '' : ' ' + rel(value));
    } catch (e) {
      return 'throws ' + errorOf(e);
    }
  };
  const settle = (promise) => promise.then((v) => 'resolves ' + rel(JSON.stringify(v)), (e) => 'rejects ' + errorOf(e));
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const until = async (check, ms) => {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) return false;
      await sleep(10);
    }
    return true;
  };
  const kind = (d) => {
    if (typeof d === 'string') return 'text(' + JSON.stringify(d) + ')';
    if (d instanceof ArrayBuffer) return 'arraybuffer(' + new Uint8Array(d).join('.') + ')';
    if (typeof Blob !== 'undefined' && d instanceof Blob) return 'blob(size=' + d.size + ' type=' + JSON.stringify(d.type) + ')';
    return 'other(' + Object.prototype.toString.call(d) + ')';
  };
  const eventName = (e) => e.constructor.name;
  // Records every event of a WebSocket as a line; resolves at its close event.
  const record = (ws, tag) => new Promise((resolve) => {
    for (const type of ['open', 'message', 'error', 'close']) {
      ws.addEventListener(type, (e) => {
        let detail = '';
        if (type === 'open') detail = ' protocol=' + JSON.stringify(ws.protocol) + ' extensions=' + JSON.stringify(ws.extensions);
        if (type === 'message') detail = ' data=' + kind(e.data) + ' origin=' + rel(e.origin);
        if (type === 'close') detail = ' code=' + e.code + ' reason=' + JSON.stringify(e.reason) + ' wasClean=' + e.wasClean;
        line(tag + ': ' + type + ' [' + eventName(e) + '] readyState=' + ws.readyState + detail);
        if (type === 'close') resolve();
      });
    }
  });
  // Chromium delays a new WebSocket by 1-5 s after many failed ones from the page (its
  // WebSocketPerProcessThrottler; ws-arguments fails about twenty on purpose), so every wait
  // that includes an opening handshake allows well beyond that. Resolves to whether it settled.
  const WAIT_MS = 15000;
  const timeout = (promise, ms, what) => {
    let done = false;
    promise.then(() => { done = true; });
    return Promise.race([promise, sleep(ms)]).then(() => {
      if (!done) line('TIMEOUT ' + what);
      return done;
    });
  };

  if (sections.includes('ws-attributes')) {
    line('constants: ' + [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED].join(',') +
      ' on instances: ' + ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].map((k) => WebSocket.prototype[k]).join(','));
    const ws = new WebSocket(base + '/echo');
    const closed = record(ws, 'attributes');
    line('attributes: readyState=' + ws.readyState + ' url=' + rel(ws.url) + ' protocol=' + JSON.stringify(ws.protocol) +
      ' extensions=' + JSON.stringify(ws.extensions) + ' binaryType=' + ws.binaryType + ' bufferedAmount=' + ws.bufferedAmount);
    line('attributes: send while CONNECTING ' + attempt(() => ws.send('x')));
    line('attributes: send() without data ' + attempt(() => ws.send()));
    ws.binaryType = 'arraybuffer';
    ws.binaryType = 'nonsense';
    line('attributes: binaryType after arraybuffer then nonsense: ' + ws.binaryType);
    line('attributes: onopen initially ' + ws.onopen);
    ws.onopen = 5;
    line('attributes: onopen after a number ' + ws.onopen);
    ws.onopen = () => {};
    line('attributes: onopen after a function ' + typeof ws.onopen);
    ws.onopen = null;
    ws.close();
    line('attributes: readyState after close() while CONNECTING ' + ws.readyState);
    await timeout(closed, WAIT_MS, 'attributes close');
  }

  if (sections.includes('ws-arguments')) {
    const urls = ['ws://127.0.0.1:1/#', 'ws://127.0.0.1:1/#frag', 'ftp://127.0.0.1/', 'ws://', 'wss://127.0.0.1:99999/',
      'not a url', 'http://127.0.0.1:1/path?q=1', 'https://127.0.0.1:1/', 'WS://127.0.0.1:1/a b'];
    for (const url of urls) line('constructor url ' + JSON.stringify(url) + ': ' + attempt(() => { const ws = new WebSocket(url); ws.close(); return ws.url; }));
    const protocolLists = [[''], ['a b'], ['é'], ['a,b'], ['(x)'], ['chat', 'chat'], ['chat', 'CHAT'], ['chat', 'superchat'], [], 'single'];
    for (const protocols of protocolLists) line('constructor protocols ' + JSON.stringify(protocols) + ': ' + attempt(() => { new WebSocket(base + '/echo', protocols).close(); }));
    line('constructor without arguments: ' + attempt(() => new WebSocket()));
    const closeRows = [[999], [1001], [1005], [2999], [5000], [65536], [-1], [NaN], [null], ['4000'], [1000], [3000], [4999],
      [1000, 'x'.repeat(123)], [1000, 'é'.repeat(62)], [1001, 'é'.repeat(62)], [4000, '\uD800']];
    for (const args of closeRows) {
      line('close(' + args.map((a) => typeof a === 'string' && a.length > 10 ? a[0] + '*' + a.length : typeof a === 'number' ? String(a) : JSON.stringify(a)).join(', ') + '): ' +
        attempt(() => { const ws = new WebSocket(base + '/echo'); try { ws.close(...args); } finally { ws.close(); } }));
    }
  }

  if (sections.includes('ws-echo')) {
    const ws = new WebSocket(base + '/echo', ['echo-protocol']);
    const closed = record(ws, 'echo');
    line('echo: readyState after construction ' + ws.readyState);
    if (!(await timeout(new Promise((resolve) => ws.addEventListener('open', resolve)), WAIT_MS, 'echo open'))) return log;
    const inbox = [];
    ws.addEventListener('message', (e) => inbox.push(e.data));
    const next = async () => {
      await until(() => inbox.length > 0, 5000);
      return inbox.shift();
    };
    ws.send('héllo');
    ws.send(new Uint8Array([1, 2, 3]));
    ws.send(new Blob(['blob!']));
    ws.send(new Uint16Array([0x0102, 0x0304]).buffer);
    ws.send(new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2));
    ws.send(new Float32Array(0));
    ws.send('');
    ws.send(42);
    line('echo: bufferedAmount right after the sends ' + ws.bufferedAmount);
    const first = [];
    for (let i = 0; i < 8; i++) first.push(await next());
    const blobText = first[2] instanceof Blob ? await first[2].text() : 'not a blob';
    line('echo: the echoed Blob holds ' + JSON.stringify(blobText));
    line('echo: bufferedAmount reached 0 ' + (await until(() => ws.bufferedAmount === 0, 5000)));
    ws.binaryType = 'arraybuffer';
    ws.send(new Uint8Array([4, 5]));
    await next();
    ws.binaryType = 'blob';
    ws.send(new Uint8Array([6]));
    await next();
    ws.close(4000, 'bye');
    line('echo: readyState after close(4000, "bye") ' + ws.readyState);
    ws.send('after close');
    line('echo: bufferedAmount after a send while CLOSING ' + ws.bufferedAmount);
    line('echo: close() again ' + attempt(() => ws.close(4001)));
    await timeout(closed, WAIT_MS, 'echo close');
    ws.send(new Uint8Array(5));
    line('echo: bufferedAmount after a send while CLOSED ' + ws.bufferedAmount + ' readyState=' + ws.readyState);
  }

  if (sections.includes('ws-server-close')) {
    const ws = new WebSocket(base + '/greet-and-close');
    await timeout(record(ws, 'server-close'), WAIT_MS, 'server-close close');
  }

  if (sections.includes('ws-after-close')) {
    const ws = new WebSocket(base + '/echo');
    const closed = record(ws, 'after-close');
    ws.onopen = () => {
      ws.send('a');
      ws.send('b');
      ws.close(1000);
    };
    await timeout(closed, WAIT_MS, 'after-close close');
  }

  if (sections.includes('ws-failures')) {
    const cases = [
      ['refused', '/refuse', undefined],
      ['no-protocol', '/raw/no-protocol', ['p1']],
      ['invalid-utf8', '/raw/invalid-utf8', undefined],
      ['dropped', '/raw/drop', undefined],
      ['empty-close', '/raw/empty-close', undefined],
    ];
    for (const [tag, path, protocols] of cases) {
      const ws = new WebSocket(base + path, protocols);
      await timeout(record(ws, tag), WAIT_MS, tag + ' close');
    }
    const early = new WebSocket(base + '/echo');
    const earlyClosed = record(early, 'close-while-connecting');
    early.close(4000, 'never mind');
    line('close-while-connecting: readyState ' + early.readyState);
    await timeout(earlyClosed, WAIT_MS, 'close-while-connecting close');
    const bare = new WebSocket(base + '/echo');
    const bareClosed = record(bare, 'close-without-code');
    bare.onopen = () => bare.close();
    await timeout(bareClosed, WAIT_MS, 'close-without-code close');
  }

  if (sections.includes('wss-echo')) {
    const wss = new WebSocketStream(base + '/echo', { protocols: ['echo-protocol'] });
    line('wss-echo: url ' + rel(wss.url));
    const info = await wss.opened;
    line('wss-echo: opened keys ' + Object.keys(info).join(',') + ' protocol=' + JSON.stringify(info.protocol) + ' extensions=' + JSON.stringify(info.extensions));
    const writer = info.writable.getWriter();
    const reader = info.readable.getReader();
    for (const chunk of ['hé', new Uint8Array([1, 2]), new Uint16Array([0x0102]).buffer, new DataView(new Uint8Array([3, 4, 5]).buffer, 1, 1), 7, '']) {
      line('wss-echo: write ' + kind(chunk instanceof Uint8Array || chunk instanceof DataView ? chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) : chunk) + ' ' + (await settle(writer.write(chunk))));
      const { value, done } = await reader.read();
      line('wss-echo: read ' + (done ? 'done' : kind(value)));
    }
    wss.close({ closeCode: 4000, reason: 'bye' });
    line('wss-echo: close again ' + attempt(() => wss.close()));
    line('wss-echo: closed ' + (await settle(wss.closed)));
    const after = await reader.read();
    line('wss-echo: read after close done=' + after.done);
    line('wss-echo: write after close ' + (await settle(writer.write('late'))));
  }

  if (sections.includes('wss-server-close')) {
    const wss = new WebSocketStream(base + '/greet-and-close');
    const { readable } = await wss.opened;
    const reader = readable.getReader();
    for (let i = 0; i < 3; i++) {
      const { value, done } = await reader.read();
      line('wss-server-close: read ' + (done ? 'done' : kind(value)));
    }
    line('wss-server-close: closed ' + (await settle(wss.closed)));
  }

  if (sections.includes('wss-failures')) {
    const refused = new WebSocketStream(base + '/refuse');
    line('wss-refused: opened ' + (await settle(refused.opened)) + ', closed ' + (await settle(refused.closed)));
    const noProtocol = new WebSocketStream(base + '/raw/no-protocol', { protocols: ['p1'] });
    line('wss-no-protocol: opened ' + (await settle(noProtocol.opened)) + ', closed ' + (await settle(noProtocol.closed)));
    for (const [tag, path] of [['wss-dropped', '/raw/drop'], ['wss-invalid-utf8', '/raw/invalid-utf8'], ['wss-empty-close', '/raw/empty-close']]) {
      const wss = new WebSocketStream(base + path);
      const { readable } = await wss.opened;
      const reader = readable.getReader();
      for (let i = 0; i < 2; i++) {
        line(tag + ': read ' + (await reader.read().then(({ value, done }) => (done ? 'done' : kind(value)), (e) => 'rejects ' + errorOf(e))));
      }
      line(tag + ': closed ' + (await settle(wss.closed)));
    }
    const early = new WebSocketStream(base + '/echo');
    early.close();
    line('wss-close-while-connecting: opened ' + (await settle(early.opened)) + ', closed ' + (await settle(early.closed)));
    const aborted = new AbortController();
    aborted.abort();
    const preAborted = new WebSocketStream(base + '/echo', { signal: aborted.signal });
    line('wss-pre-aborted: opened ' + (await settle(preAborted.opened)) + ', closed ' + (await settle(preAborted.closed)));
    const controller = new AbortController();
    const abortedLater = new WebSocketStream(base + '/echo', { signal: controller.signal });
    controller.abort();
    line('wss-aborted: opened ' + (await settle(abortedLater.opened)) + ', closed ' + (await settle(abortedLater.closed)));
  }

  if (sections.includes('wss-arguments')) {
    for (const url of ['ws://127.0.0.1:1/#', 'ftp://127.0.0.1/', 'not a url']) {
      line('wss constructor url ' + JSON.stringify(url) + ': ' + attempt(() => { const wss = new WebSocketStream(url); wss.close(); return wss.url; }));
    }
    for (const options of [{ protocols: ['a', 'a'] }, { protocols: 'a' }, { protocols: ['a b'] }, { signal: 5 }, 5]) {
      line('wss constructor options ' + JSON.stringify(options) + ': ' + attempt(() => { new WebSocketStream(base + '/echo', options).close(); }));
    }
    const rows = [{ closeCode: 1001 }, { closeCode: 2999 }, { closeCode: 5000 }, { closeCode: 70000 }, { closeCode: -1 },
      { reason: 'x'.repeat(124) }, { closeCode: 4000, reason: 'é'.repeat(62) }, true, 'x', null, {}, { closeCode: 4000 }];
    for (const info of rows) {
      line('wss close(' + (typeof info === 'object' && info !== null && 'reason' in info && info.reason.length > 10 ? '{long reason}' : JSON.stringify(info)) + '): ' +
        attempt(() => { const wss = new WebSocketStream(base + '/echo'); try { wss.close(info); } finally { wss.close(); } }));
    }
    const errorRows = [[], ['m'], ['m', { closeCode: 4000, reason: 'r' }], ['m', { reason: 'only a reason' }], ['m', { closeCode: 1001 }],
      ['m', { closeCode: 4000, reason: 'x'.repeat(124) }]];
    for (const args of errorRows) {
      line('new WebSocketError(' + args.map((a) => JSON.stringify(a)).join(', ').replace(/x{124}/, 'x*124') + '): ' +
        attempt(() => { const e = new WebSocketError(...args); return e.name + ' message=' + JSON.stringify(e.message) + ' closeCode=' + e.closeCode + ' reason=' + JSON.stringify(e.reason) + ' DOMException=' + (e instanceof DOMException); }));
    }
  }

  if (sections.includes('wss-closing')) {
    {
      const wss = new WebSocketStream(base + '/echo');
      const { readable } = await wss.opened;
      await readable.cancel();
      line('wss-cancel: closed ' + (await settle(wss.closed)));
    }
    {
      const wss = new WebSocketStream(base + '/echo');
      const { writable } = await wss.opened;
      await writable.abort(new WebSocketError('', { closeCode: 4003, reason: 'abort' }));
      line('wss-abort-with-code: closed ' + (await settle(wss.closed)));
    }
    {
      const wss = new WebSocketStream(base + '/echo');
      const { readable } = await wss.opened;
      await readable.cancel(new WebSocketError('', { closeCode: 4002 }));
      line('wss-cancel-with-code: closed ' + (await settle(wss.closed)));
    }
    {
      const wss = new WebSocketStream(base + '/echo');
      const { readable, writable } = await wss.opened;
      const writer = writable.getWriter();
      await writer.write('last');
      const closing = settle(writer.close());
      line('wss-writer-close: writer.close() ' + (await closing) + ', closed ' + (await settle(wss.closed)));
      const reader = readable.getReader();
      line('wss-writer-close: read ' + (await reader.read().then(({ value, done }) => (done ? 'done' : kind(value)))));
    }
  }
  return log;
}`;

/** Every section, in the order the script runs them. */
export const WEB_SOCKET_SECTIONS = [
  'ws-attributes',
  'ws-arguments',
  'ws-echo',
  'ws-server-close',
  'ws-after-close',
  'ws-failures',
] as const;

export const WEB_SOCKET_STREAM_SECTIONS = [
  'wss-echo',
  'wss-server-close',
  'wss-failures',
  'wss-arguments',
  'wss-closing',
] as const;
