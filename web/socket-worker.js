// The student's WebSocket, owned by a Worker: the capture worklet's packets go from the shared ring
// (capture-ring.js) to the socket here, so a busy main thread (layout, another script, a slow
// phone) never holds speech back. The page's main thread keeps the session and the UI; it asks
// this worker to open, send and close, and hears the server's text messages and the close back.
// Messages carry the page's socket number, so that news of an old socket is never taken for the
// current one's.
import { CaptureRing, Doorbell } from './capture-ring.js';

let ws;        // the current socket
let id = 0;    // its number, as the page gave it
let ring;      // the capture ring, once the page has audio

function drain() {
  // Read even without a socket: the ring must not fill while the connection is down.
  ring?.read((bytes) => { if (ws?.readyState === WebSocket.OPEN) ws.send(bytes); });
}

function open(url, join, socketId) {
  const socket = new WebSocket(url);
  ws = socket;
  id = socketId;
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => socket.send(join);
  socket.onmessage = (e) => {
    if (typeof e.data === 'string' && ws === socket) postMessage({ type: 'message', id: socketId, text: e.data });
  };
  socket.onclose = () => {
    if (ws !== socket) return;
    ws = undefined;
    postMessage({ type: 'closed', id: socketId });
  };
}

onmessage = ({ data, ports }) => {
  switch (data.type) {
    case 'open': open(data.url, data.join, data.id); break;
    case 'send': if (ws?.readyState === WebSocket.OPEN && data.id === id) ws.send(data.text); break;
    case 'close': {
      const socket = ws;
      ws = undefined;
      socket?.close(1000);
      break;
    }
    case 'capture':
      // The worklet rings this port (not the page's) when it has written packets.
      ring = new CaptureRing(data.shared);
      ports[0].onmessage = ({ data: bell }) => { if (bell === Doorbell.packets) drain(); };
      break;
  }
};
