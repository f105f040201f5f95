// ws-broadcast: the Node.js peer of the bench (issue 7, item 3), on the `ws` library (Debian node-ws).
//
// Every message a client sends to a path goes, unchanged and as one frame, to every *other* client of that
// path that receives (a client whose query has role=publisher only sends). No parsing, no batching, no queue
// bound beyond ws's own (socket.bufferedAmount grows): the most common WebSocket relay in practice.
//
// Run: NODE_PATH=/usr/share/nodejs node ws-broadcast.js PORT   (127.0.0.1; PORT 0 picks one)
// First line on stdout: "ws-broadcast listening on ws://127.0.0.1:PORT".
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 0);
const groups = new Map(); // path -> Set of receiving sockets

const server = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, clientTracking: false });

server.on('connection', (socket, request) => {
  const url = request.url || '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const receives = !/(^|[?&])role=publisher(&|$)/.test(q < 0 ? '' : url.slice(q));
  let group = groups.get(path);
  if (!group) {
    group = new Set();
    groups.set(path, group);
  }
  if (receives) group.add(socket);
  socket.on('message', (data, isBinary) => {
    for (const other of group) {
      if (other !== socket && other.readyState === 1) other.send(data, { binary: isBinary });
    }
  });
  socket.on('close', () => {
    group.delete(socket);
  });
  socket.on('error', () => {});
});

server.on('listening', () => {
  console.log(`ws-broadcast listening on ws://127.0.0.1:${server.address().port}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
