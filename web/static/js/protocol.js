// @ts-check
/**
 * The room's real-time channel (DESIGN.md §5): one WebSocket per page with
 * recovery. After a drop it reconnects with exponential backoff and
 * ?since=<last seq>&epoch=<epoch>, so the server replays what was missed;
 * ordered events already seen (seq <= last) are dropped, so nothing shows
 * twice, and a gap in seq forces a reconnect that fills it. No UI code here.
 */

/**
 * @typedef {object} RoomEvent
 * @property {string} type
 * @property {number} [seq]
 * @property {string} [at]
 * @property {any} data
 * @property {boolean} [backfill] history fetched on joining, not news
 */

/**
 * @typedef {object} ChannelOptions
 * @property {(ev: RoomEvent) => void} onEvent called for every new event, in order
 * @property {(state: 'connecting'|'open'|'closed'|'kicked') => void} [onState]
 * @property {number} [pingMs] ping period (default 25 s)
 * @property {number} [maxBackoffMs] default 10 s
 * @property {number} [backfill] how many recent ordered events to fetch on
 *   joining, so a newcomer sees the recent chat (default 100, 0 = none)
 */

/** Close code for "banned or signed out: do not reconnect" (docs/api-realtime.md). */
export const CLOSE_KICKED = 4003;

/** A room's WebSocket channel. Not safe to share across pages. */
export class RoomChannel {
  /**
   * @param {string} roomID
   * @param {ChannelOptions} opts
   */
  constructor(roomID, opts) {
    this.roomID = roomID;
    this.opts = opts;
    /** last ordered seq delivered to onEvent */
    this.seq = 0;
    /** @type {string} */
    this.epoch = '';
    /** @type {WebSocket|null} */
    this.ws = null;
    this.closed = false;
    this.attempt = 0;
    /** @type {ReturnType<typeof setTimeout>|undefined} */
    this.retryTimer = undefined;
    /** @type {ReturnType<typeof setInterval>|undefined} */
    this.pingTimer = undefined;
    this.nonceCounter = 0;
    /** time of the last frame from the server (ms) */
    this.lastFrame = 0;
    /** events up to this seq are history fetched on joining (0 = none) */
    this.backfillUntil = 0;
    this.backfilled = false;
    this.onOnline = () => {
      if (!this.ws && !this.closed) this.reconnectNow();
    };
    window.addEventListener('online', this.onOnline);
  }

  /** @returns {string} the ws URL with recovery parameters */
  url() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const u = new URL(`${proto}//${location.host}/api/rooms/${encodeURIComponent(this.roomID)}/ws`);
    if (this.epoch) {
      u.searchParams.set('since', String(this.seq));
      u.searchParams.set('epoch', this.epoch);
    }
    return u.toString();
  }

  /** Opens the connection (idempotent). */
  connect() {
    if (this.closed || this.ws) return;
    this.opts.onState?.('connecting');
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => {
      this.opts.onState?.('open');
      this.lastFrame = Date.now();
      clearInterval(this.pingTimer);
      const period = this.opts.pingMs || 25000;
      this.pingTimer = setInterval(() => {
        // The server answers every ping; silence for 60 s means a dead link
        // that the browser has not noticed yet.
        if (Date.now() - this.lastFrame > Math.max(60000, 2 * period)) this.reconnectNow();
        else this.sendRaw({ type: 'ping' });
      }, period);
    };
    ws.onmessage = (m) => {
      if (this.ws !== ws) return;
      this.lastFrame = Date.now();
      if (typeof m.data === 'string') this.onFrame(m.data, ws);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      if (e.code === CLOSE_KICKED) {
        // Banned or signed out: reconnecting would only be refused.
        this.close();
        this.opts.onState?.('kicked');
        return;
      }
      this.opts.onState?.('closed');
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows and reconnects */
    };
  }

  /**
   * Parses one frame: a JSON event, a JSON array of events, or events
   * separated by newlines.
   * @param {string} text
   * @param {WebSocket} ws the socket it came on
   */
  onFrame(text, ws) {
    /** @type {RoomEvent[]} */
    let events = [];
    try {
      const t = text.trim();
      if (t.startsWith('[')) events = JSON.parse(t);
      else events = t.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    } catch {
      return;
    }
    for (const ev of events) {
      // A reconnect decided mid-frame drops the rest: the new socket replays it.
      if (this.ws !== ws) return;
      this.handle(ev);
    }
  }

  /** @param {RoomEvent} ev */
  handle(ev) {
    if (!ev || typeof ev.type !== 'string') return;
    if (ev.type === 'welcome') {
      const d = ev.data || {};
      this.attempt = 0;
      if (d.epoch !== undefined) this.epoch = String(d.epoch);
      const serverSeq = Number(d.seq || 0);
      if (d.recovered === false || !this.seq) {
        // Full snapshot: everything up to serverSeq is in it.
        this.seq = serverSeq;
      }
      this.opts.onEvent(ev);
      const want = this.opts.backfill ?? 100;
      if (!this.backfilled && d.recovered === false && serverSeq > 0 && want > 0 && this.epoch) {
        // A newcomer: reconnect once from a little way back, so the server
        // replays the recent chat from its history. Only chat events up to
        // serverSeq are passed on (the snapshot covers the rest).
        this.backfilled = true;
        this.backfillUntil = serverSeq;
        this.seq = Math.max(0, serverSeq - want);
        this.reconnectNow();
      }
      return;
    }
    if (typeof ev.seq === 'number' && ev.seq > 0 && ev.seq <= this.backfillUntil && ev.seq > this.seq) {
      this.seq = ev.seq;
      if (ev.type === 'chat' || ev.type === 'chat.deleted') this.opts.onEvent({ ...ev, backfill: true });
      return;
    }
    if (typeof ev.seq === 'number' && ev.seq > 0) {
      if (ev.seq <= this.seq) return; // duplicate from replay
      if (this.seq > 0 && ev.seq > this.seq + 1) {
        // A gap: reconnect from what we have; the server replays the rest.
        this.reconnectNow();
        return;
      }
      this.seq = ev.seq;
    }
    if (ev.type === 'pong') return;
    this.opts.onEvent(ev);
  }

  /** @param {object} msg */
  sendRaw(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  /**
   * Sends a chat message.
   * @param {string} text at most 500 characters
   * @returns {string|null} the nonce the server echoes, or null when offline
   */
  chat(text) {
    const nonce = Date.now().toString(36) + '-' + (++this.nonceCounter).toString(36);
    return this.sendRaw({ type: 'chat', text, nonce }) ? nonce : null;
  }

  scheduleReconnect() {
    if (this.closed) return;
    const base = Math.min(this.opts.maxBackoffMs || 10000, 500 * 2 ** this.attempt);
    this.attempt++;
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Drops the current socket and reconnects at once (with recovery). */
  reconnectNow() {
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.pingTimer);
    clearTimeout(this.retryTimer);
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    this.connect();
  }

  /** Closes for good. */
  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    window.removeEventListener('online', this.onOnline);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
  }
}
