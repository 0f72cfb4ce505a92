// A small Socket.IO client (Engine.IO 4, Socket.IO 5) over a plain WebSocket, for the /call
// namespace: connect with an auth payload, emit with an acknowledgement, receive events.
// WebSocket only (the server offers no long-polling); no reconnection of its own: the call
// page decides when and with which token to reconnect.
//
// Wire format (text frames): "0{...}" open, "2" ping -> "3" pong, "40/call,{auth}" connect,
// "40/call,{sid}" connected, "44/call,{message,data}" refused, "41/call," disconnect,
// "42/call,[event,data]" event, "42/call,7[event,data]" event with ack 7,
// "43/call,7[data]" acknowledgement.
//
// The server may send events before it confirms the connection (the welcome comes from
// its connect handler): register handlers with on() before connect().
//
// A link that dies without closing (a tunnel, a dead mobile cell) sends nothing at all: the
// server pings every pingInterval ms, so when nothing arrives for pingInterval + pingTimeout
// the socket gives up by itself. 'disconnect' then fires with {reason: 'timeout'}; a closed
// WebSocket gives {reason: 'transport'}, the server's own disconnect {reason: 'server'}.

export class CallSocket extends EventTarget {
  constructor(namespace = '/call') {
    super();
    this.namespace = namespace;
    this.ws = null;
    this.nextAck = 1;
    this.pending = new Map(); // ack id -> {resolve, reject, timer}
    this.handlers = new Map(); // event -> [fn]
    this.connected = false;
    this.watchdog = null;
    this.silenceMs = 45000; // replaced by the server's pingInterval + pingTimeout
    this.abortConnect = null;
  }

  // on('welcome', fn) ...; on('disconnect', fn) gets {reason}.
  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
  }

  fire(event, data) {
    for (const fn of this.handlers.get(event) || []) {
      try {
        fn(data);
      } catch (error) {
        console.error(error); // one broken handler must not stop the others
      }
    }
  }

  // Resolves when the namespace is connected; rejects with {message, data} when refused.
  connect(auth, { timeoutMs = 10000 } = {}) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${location.host}/socket.io/?EIO=4&transport=websocket`;
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(url);
      } catch {
        reject({ message: 'closed' });
        return;
      }
      this.ws = ws;
      let settled = false;
      let gone = false;
      const settle = (fn, value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn(value);
      };
      const timer = setTimeout(() => {
        settle(reject, { message: 'timeout' });
        ended('timeout');
      }, timeoutMs);
      this.abortConnect = () => settle(reject, { message: 'closed' });
      // The end of this WebSocket, however it came: once.
      const ended = (reason) => {
        if (gone) return;
        gone = true;
        clearTimeout(this.watchdog);
        ws.onmessage = null;
        ws.onclose = null;
        if (ws.readyState <= 1) ws.close();
        if (this.ws !== ws) return; // an older socket of ours: nobody listens any more
        const wasConnected = this.connected;
        this.connected = false;
        for (const [, waiting] of this.pending) {
          clearTimeout(waiting.timer);
          waiting.reject({ message: 'disconnected' });
        }
        this.pending.clear();
        settle(reject, { message: 'closed' });
        if (wasConnected) {
          this.dispatchEvent(new CustomEvent('disconnect', { detail: { reason } }));
          this.fire('disconnect', { reason });
        }
      };
      const heard = () => {
        clearTimeout(this.watchdog);
        this.watchdog = setTimeout(() => ended('timeout'), this.silenceMs);
      };
      ws.onmessage = (message) => {
        heard();
        const text = String(message.data);
        const type = text[0];
        if (type === '0') {
          try {
            const open = JSON.parse(text.slice(1));
            if (open.pingInterval && open.pingTimeout) {
              this.silenceMs = open.pingInterval + open.pingTimeout + 1000;
              heard();
            }
          } catch {
            // keep the default
          }
          ws.send(`40${this.namespace},${JSON.stringify(auth)}`);
        } else if (type === '2') {
          ws.send('3');
        } else if (type === '1') {
          ended('server');
        } else if (type === '4') {
          const { kind, id, payload } = this.parse(text.slice(1));
          if (kind === '0') {
            this.connected = true;
            settle(resolve, payload);
          } else if (kind === '4') {
            settle(reject, payload || { message: 'refused' });
            ended('refused');
          } else if (kind === '1') {
            ended('server');
          } else if (kind === '2' && Array.isArray(payload)) {
            const [event, data] = payload;
            this.fire(event, data);
          } else if (kind === '3' && this.pending.has(id)) {
            const waiting = this.pending.get(id);
            this.pending.delete(id);
            clearTimeout(waiting.timer);
            waiting.resolve(Array.isArray(payload) ? payload[0] : payload);
          }
        }
      };
      ws.onclose = () => ended('transport');
      ws.onerror = () => {}; // onclose follows
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
      if (!this.connected || !this.ws || this.ws.readyState !== 1) {
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

  // Closes on purpose: no 'disconnect' event follows.
  close() {
    const ws = this.ws;
    this.connected = false;
    this.ws = null;
    clearTimeout(this.watchdog);
    if (this.abortConnect) this.abortConnect();
    for (const [, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject({ message: 'closed' });
    }
    this.pending.clear();
    if (ws && ws.readyState <= 1) {
      if (ws.readyState === 1) ws.send(`41${this.namespace},`);
      ws.onclose = null;
      ws.onmessage = null;
      ws.close();
    }
  }
}
