// A small Socket.IO client (Engine.IO 4, Socket.IO 5) over a plain WebSocket, for the /call
// namespace: connect with an auth payload, emit with an acknowledgement, receive events.
// WebSocket only (the server offers no long-polling); no reconnection of its own: the call
// page decides when and with which token to reconnect.
//
// Wire format (text frames): "0{...}" open, "2" ping -> "3" pong, "40/call,{auth}" connect,
// "40/call,{sid}" connected, "44/call,{message,data}" refused, "41/call," disconnect,
// "42/call,[event,data]" event, "42/call,7[event,data]" event with ack 7,
// "43/call,7[data]" acknowledgement.

export class CallSocket extends EventTarget {
  constructor(namespace = '/call') {
    super();
    this.namespace = namespace;
    this.ws = null;
    this.nextAck = 1;
    this.pending = new Map(); // ack id -> {resolve, reject, timer}
    this.handlers = new Map(); // event -> [fn]
    this.connected = false;
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
  }

  // Resolves when the namespace is connected; rejects with {message, data} when refused.
  connect(auth, { timeoutMs = 10000 } = {}) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${location.host}/socket.io/?EIO=4&transport=websocket`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      this.ws = ws;
      const timer = setTimeout(() => {
        reject({ message: 'timeout' });
        ws.close();
      }, timeoutMs);
      let settled = false;
      const settle = (fn, value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn(value);
      };
      ws.onmessage = (message) => {
        const text = String(message.data);
        const type = text[0];
        if (type === '0') {
          ws.send(`40${this.namespace},${JSON.stringify(auth)}`);
        } else if (type === '2') {
          ws.send('3');
        } else if (type === '4') {
          const { kind, id, payload } = this.parse(text.slice(1));
          if (kind === '0') {
            this.connected = true;
            settle(resolve, payload);
          } else if (kind === '4') {
            settle(reject, payload || { message: 'refused' });
          } else if (kind === '1') {
            ws.close();
          } else if (kind === '2' && Array.isArray(payload)) {
            const [event, data] = payload;
            for (const fn of this.handlers.get(event) || []) fn(data);
          } else if (kind === '3' && this.pending.has(id)) {
            const waiting = this.pending.get(id);
            this.pending.delete(id);
            clearTimeout(waiting.timer);
            waiting.resolve(Array.isArray(payload) ? payload[0] : payload);
          }
        }
      };
      ws.onclose = () => {
        const wasConnected = this.connected;
        this.connected = false;
        for (const [, waiting] of this.pending) {
          clearTimeout(waiting.timer);
          waiting.reject({ message: 'disconnected' });
        }
        this.pending.clear();
        settle(reject, { message: 'closed' });
        if (wasConnected) this.dispatchEvent(new Event('disconnect'));
      };
    });
  }

  // "0/call,{...}" -> {kind: '0', id: null, payload}; "3/call,12[...]" -> id 12.
  parse(rest) {
    const kind = rest[0];
    let body = rest.slice(1);
    if (body.startsWith(this.namespace)) {
      body = body.slice(this.namespace.length);
      if (body.startsWith(',')) body = body.slice(1);
    }
    const digits = /^\d+/.exec(body);
    const id = digits ? Number(digits[0]) : null;
    if (digits) body = body.slice(digits[0].length);
    let payload = null;
    try {
      payload = body ? JSON.parse(body) : null;
    } catch {
      payload = null;
    }
    return { kind, id, payload };
  }

  // Sends an event and resolves with the server's acknowledgement.
  emit(event, data, { timeoutMs = 10000 } = {}) {
    return new Promise((resolve, reject) => {
      if (!this.connected || !this.ws) {
        reject({ message: 'not connected' });
        return;
      }
      const id = this.nextAck++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject({ message: 'timeout' });
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(`42${this.namespace},${id}${JSON.stringify([event, data])}`);
    });
  }

  close() {
    if (this.ws && this.ws.readyState <= 1) {
      if (this.connected) this.ws.send(`41${this.namespace},`);
      this.ws.close();
    }
    this.connected = false;
  }
}
