// The demo page's script: plain JavaScript for the browser's native WebSocket, no build.

/** Gives the ws: (or wss:) URL of this page's server, at the given path. */
function socketUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path}`;
}

/** Shows a connection's state next to its heading. */
function showStatus(id, state) {
  const element = document.getElementById(id);
  element.textContent = state;
  element.className = `status ${state}`;
}

// dumb-increment-protocol: show each number; the button sends "reset\n".
const counter = new WebSocket(socketUrl('/'), 'dumb-increment-protocol');
counter.onopen = () => showStatus('dumb-status', 'open');
counter.onclose = () => showStatus('dumb-status', 'closed');
counter.onmessage = (event) => {
  document.getElementById('number').textContent = event.data;
};
document.getElementById('reset').onclick = () => counter.send('reset\n');

// lws-mirror-protocol: draw what the server mirrors, send what the mouse draws.
const canvas = document.getElementById('mirror');
const ctx = canvas.getContext('2d');
ctx.lineWidth = 2;
let drawn = 0;

/** Draws a message: one or more "c #rrggbb x y r;" and "d #rrggbb x1 y1 x2 y2;" commands. */
function draw(text) {
  for (const command of text.split(';')) {
    const [kind, color, ...numbers] = command.trim().split(/\s+/);
    const n = numbers.map(Number);
    if (!/^#[0-9a-fA-F]{6}$/.test(color ?? '') || n.some((v) => !Number.isFinite(v))) continue;
    ctx.strokeStyle = color;
    ctx.beginPath();
    if (kind === 'c' && n.length === 3) ctx.arc(n[0], n[1], n[2], 0, Math.PI * 2);
    else if (kind === 'd' && n.length === 4) {
      ctx.moveTo(n[0], n[1]);
      ctx.lineTo(n[2], n[3]);
    } else continue;
    ctx.stroke();
    drawn++;
  }
  canvas.dataset.drawn = String(drawn);
}

const mirror = new WebSocket(socketUrl('/'), 'lws-mirror-protocol');
mirror.onopen = () => showStatus('mirror-status', 'open');
mirror.onclose = () => showStatus('mirror-status', 'closed');
mirror.onmessage = (event) => {
  if (event.data === 'clear;') {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    return;
  }
  draw(event.data);
};
document.getElementById('clear').onclick = () => mirror.send('clear;');

// Strokes are sent as segments; the page draws them when the server mirrors them back.
let last = null;
canvas.addEventListener('pointerdown', (event) => {
  last = [event.offsetX, event.offsetY];
  canvas.setPointerCapture(event.pointerId);
});
canvas.addEventListener('pointermove', (event) => {
  if (last === null || mirror.readyState !== WebSocket.OPEN) return;
  const point = [Math.round(event.offsetX), Math.round(event.offsetY)];
  const color = document.getElementById('color').value;
  mirror.send(`d ${color} ${Math.round(last[0])} ${Math.round(last[1])} ${point[0]} ${point[1]};`);
  last = point;
});
canvas.addEventListener('pointerup', () => {
  last = null;
});
