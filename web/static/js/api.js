// @ts-check
/**
 * REST client for the jobcast HTTP API (DESIGN.md §3).
 *
 * Every call goes to the same origin with credentials (the HttpOnly session
 * cookie). When the page signed in itself it also keeps the session token in
 * localStorage and sends it as a bearer token: the studio needs it for WHIP,
 * and bearer requests are not subject to cookie CSRF rules. Errors come back
 * as {"error":{"code","message","fields"}} and are thrown as ApiError.
 */

const TOKEN_KEY = 'jobcast.token';

/** An error answer of the API (or a network failure, status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 for a network failure
   * @param {string} code snake_case error code
   * @param {string} message human text from the server
   * @param {string[]} [fields] offending or missing fields
   * @param {number} [retryAfter] seconds, from Retry-After
   */
  constructor(status, code, message, fields = [], retryAfter = 0) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

/** @returns {string} the stored session token, or "" */
export function token() {
  try {
    return localStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

/** @param {string} t the session token to keep ("" forgets it) */
export function setToken(t) {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage disabled: the cookie still works */
  }
}

/**
 * @param {string} name
 * @returns {string}
 */
function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

/**
 * @typedef {object} RequestOptions
 * @property {Record<string,string>} [headers]
 * @property {AbortSignal} [signal]
 * @property {boolean} [raw] return the Response instead of parsed JSON
 */

/**
 * Sends one request and returns the decoded JSON answer (undefined for 204).
 * @param {string} method
 * @param {string} path absolute path, e.g. /api/me
 * @param {unknown} [body] encoded as JSON when not undefined
 * @param {RequestOptions} [opts]
 * @returns {Promise<any>}
 */
export async function request(method, path, body, opts = {}) {
  /** @type {Record<string,string>} */
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const tok = token();
  if (tok) headers.Authorization = 'Bearer ' + tok;
  if (method !== 'GET' && method !== 'HEAD') {
    const csrf = cookie('jobcast_csrf');
    if (csrf) headers['X-CSRF-Token'] = csrf;
    headers['X-Requested-With'] = 'jobcast';
  }
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'network error');
  }
  if (opts.raw) return res;
  const text = await res.text();
  /** @type {any} */
  let data;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    const retry = Number(res.headers.get('Retry-After') || 0);
    throw new ApiError(res.status, err.code || 'http_' + res.status, err.message || res.statusText, err.fields || [], retry);
  }
  return data;
}

/**
 * Returns the array inside an answer that may be a bare array or an object
 * holding it under key.
 * @param {any} v
 * @param {string} key
 * @returns {any[]}
 */
export function list(v, key) {
  if (Array.isArray(v)) return v;
  if (v && Array.isArray(v[key])) return v[key];
  if (v && Array.isArray(v.items)) return v.items;
  return [];
}

/**
 * @param {Record<string, string|undefined>} params
 * @returns {string} "?a=b&…" without empty values, or ""
 */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}

const enc = encodeURIComponent;

/**
 * @typedef {{id:string,email:string,name:string,admin:boolean}} User
 * @typedef {{full_name:string,phone:string,city:string,skills:string[],summary:string,accessibility_needs:string}} Profile
 * @typedef {{id:string,name:string,role?:string}} OrgRef
 * @typedef {{user:User,profile:Profile,orgs:OrgRef[]}} Me
 * @typedef {{job_id:string,org_id:string,org_name:string,title:string,city:string,salary_min:number,salary_max:number,salary_period:string,openings:number,tags:string[],accessible:boolean,status:string,applicants:number}} JobCard
 * @typedef {{id:string,org_id:string,org_name?:string,title:string,description:string,city:string,salary_min:number,salary_max:number,salary_period:string,openings:number,tags:string[],status:string}} Job
 * @typedef {{slow_mode_seconds:number,chat:string,blocked_words:string[]}} RoomSettings
 * @typedef {{id:string,org_id:string,org_name?:string,title:string,description:string,status:string,starts_at:string,settings?:RoomSettings,pinned_job_id?:string,jobs?:number}} Room
 * @typedef {{room:Room,shelf:JobCard[],pinned:JobCard|null,exhibitors:OrgRef[],viewers?:number,role?:string}} Snapshot
 * @typedef {{has_key:boolean,hint?:string,key?:string,rotated_at?:string|null,whip_url?:string}} StreamKey
 * @typedef {{id:string,job_id:string,job_title?:string,org_id:string,room_id?:string,seeker_id:string,status:string,note:string,notes:string,profile:Profile,created_at:string,updated_at:string}} Application
 */

/**
 * Normalizes GET /api/me, whatever nesting the server uses.
 * @param {any} v
 * @returns {Me}
 */
function normMe(v) {
  const user = v && v.user ? v.user : v;
  const profile = (v && v.profile) || (user && user.profile) || {};
  // Memberships come as {org:{id,name}, role}; flat {id,name,role} works too.
  const orgs = list(v && (v.orgs || v.memberships || (user && user.orgs)), 'orgs').map((o) => {
    const org = o.org || o;
    return { id: org.id || o.org_id, name: org.name || o.org_name || '', role: o.role };
  });
  return {
    user,
    profile: {
      full_name: profile.full_name || '',
      phone: profile.phone || '',
      city: profile.city || '',
      skills: profile.skills || [],
      summary: profile.summary || '',
      accessibility_needs: profile.accessibility_needs || '',
    },
    orgs,
  };
}

/**
 * Normalizes a room snapshot (GET /api/rooms/:room or the welcome event).
 * @param {any} v
 * @returns {Snapshot}
 */
export function normSnapshot(v) {
  const s = v && v.snapshot ? v.snapshot : v;
  const room = s && s.room ? s.room : s;
  return {
    room,
    shelf: list(s && s.shelf, 'jobs'),
    pinned: (s && s.pinned) || null,
    exhibitors: list(s && s.exhibitors, 'exhibitors'),
    viewers: s && typeof s.viewers === 'number' ? s.viewers : s && typeof s.viewer_count === 'number' ? s.viewer_count : undefined,
    role: (v && v.role) || (s && s.role) || undefined,
  };
}


export const api = {
  /** @param {string} email @param {string} password @param {string} name */
  async register(email, password, name) {
    const r = await request('POST', '/api/auth/register', { email, password, name });
    setToken(r.token || '');
    return r;
  },
  /** @param {string} email @param {string} password */
  async login(email, password) {
    const r = await request('POST', '/api/auth/login', { email, password });
    setToken(r.token || '');
    return r;
  },
  async logout() {
    try {
      await request('POST', '/api/auth/logout');
    } finally {
      setToken('');
    }
  },
  /** @returns {Promise<Me|null>} null for visitors */
  async me() {
    try {
      return normMe(await request('GET', '/api/me'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        setToken('');
        return null;
      }
      throw e;
    }
  },
  /** @param {Profile} p */
  saveProfile: (p) => request('PUT', '/api/me/profile', p),
  /** @returns {Promise<Application[]>} */
  myApplications: async () => list(await request('GET', '/api/me/applications'), 'applications'),

  /** @param {string} name */
  createOrg: (name) => request('POST', '/api/orgs', { name }).then((v) => (v && v.org ? v.org : v)),
  /** @param {string} org */
  members: async (org) => list(await request('GET', `/api/orgs/${enc(org)}/members`), 'members'),
  /** @param {string} org @param {string} email @param {string} role */
  addMember: (org, email, role) => request('POST', `/api/orgs/${enc(org)}/members`, { email, role }),
  /** @param {string} org @returns {Promise<Job[]>} */
  orgJobs: async (org) => list(await request('GET', `/api/orgs/${enc(org)}/jobs`), 'jobs'),
  /** @param {string} org @param {Partial<Job>} job */
  createJob: (org, job) => request('POST', `/api/orgs/${enc(org)}/jobs`, job).then((v) => (v && v.job ? v.job : v)),
  /** @param {string} id @param {Partial<Job>} patch */
  patchJob: (id, patch) => request('PATCH', `/api/jobs/${enc(id)}`, patch),
  /** @param {{tag?:string,city?:string,q?:string}} f @returns {Promise<Job[]>} */
  jobs: async (f) => list(await request('GET', '/api/jobs' + query(f)), 'jobs'),

  /** @param {string} status @param {string} [org] @returns {Promise<Room[]>} */
  rooms: async (status, org) => list(await request('GET', '/api/rooms' + query({ status, org, limit: '200' })), 'rooms'),
  /** @param {string} id @returns {Promise<Snapshot>} */
  room: async (id) => normSnapshot(await request('GET', `/api/rooms/${enc(id)}`)),
  /** @param {{title:string,description:string,org_id:string,starts_at:string}} r @returns {Promise<Room>} */
  createRoom: (r) => request('POST', '/api/rooms', r).then((v) => (v && v.room ? v.room : v)),
  /** @param {string} room @param {string} org */
  addExhibitor: (room, org) => request('POST', `/api/rooms/${enc(room)}/exhibitors`, { org_id: org }),
  /** @param {string} room @param {string} email */
  addModerator: (room, email) => request('POST', `/api/rooms/${enc(room)}/moderators`, { email }),
  /** @param {string} room @param {string} user */
  removeModerator: (room, user) => request('DELETE', `/api/rooms/${enc(room)}/moderators`, { user_id: user }),
  /**
   * Whether the room has a stream key, and its last characters (the server
   * keeps only a hash).
   * @param {string} room
   * @returns {Promise<StreamKey>}
   */
  streamKey: (room) => request('GET', `/api/rooms/${enc(room)}/stream-key`),
  /**
   * Makes a new stream key; the answer is the only time the full key is shown.
   * @param {string} room
   * @returns {Promise<StreamKey>}
   */
  rotateStreamKey: (room) => request('POST', `/api/rooms/${enc(room)}/stream-key/rotate`),
  /** @param {string} room */
  endRoom: (room) => request('POST', `/api/rooms/${enc(room)}/end`),
  /**
   * The room's counts report (hosts and advisors): viewers, seekers,
   * applications, help requests. No personal data.
   * @param {string} room
   * @returns {Promise<{viewers?: {unique_signed_in?: number, peak?: number|null}, help_requests?: {seekers?: number}, applications?: {total?: number}}>}
   */
  report: (room) => request('GET', `/api/rooms/${enc(room)}/report`),

  /** @param {string} room @param {string} job */
  shelve: (room, job) => request('POST', `/api/rooms/${enc(room)}/shelf`, { job_id: job }),
  /** @param {string} room @param {string} job */
  unshelve: (room, job) => request('DELETE', `/api/rooms/${enc(room)}/shelf/${enc(job)}`),
  /** @param {string} room @param {string} job */
  pin: (room, job) => request('POST', `/api/rooms/${enc(room)}/pin`, { job_id: job }),
  /** @param {string} room */
  unpin: (room) => request('DELETE', `/api/rooms/${enc(room)}/pin`),

  /**
   * One-tap apply. Resolves with the application and whether it was new.
   * @param {string} room @param {string} job @param {string} key Idempotency-Key
   * @returns {Promise<Application>}
   */
  apply: (room, job, key) =>
    request('POST', `/api/rooms/${enc(room)}/jobs/${enc(job)}/apply`, undefined, { headers: { 'Idempotency-Key': key } }).then(
      (v) => (v && v.application ? v.application : v),
    ),
  /** @param {string} room */
  help: (room) => request('POST', `/api/rooms/${enc(room)}/help`, {}),
  /**
   * The caller's private thread with one advisor of the room, oldest first.
   * @param {string} room @param {string} withUser
   * @returns {Promise<{id:string,from_id:string,text:string,created_at:string}[]>}
   */
  thread: async (room, withUser) => list(await request('GET', `/api/rooms/${enc(room)}/messages/direct` + query({ with: withUser, limit: '50' })), 'messages'),
  /** @param {string} room @param {string} to @param {string} text */
  sendDirect: (room, to, text) => request('POST', `/api/rooms/${enc(room)}/messages/direct`, { to, text }),
  /** @param {string} org @param {{job?:string,room?:string,status?:string,limit?:string}} f @returns {Promise<Application[]>} */
  applications: async (org, f) => list(await request('GET', `/api/orgs/${enc(org)}/applications` + query(f)), 'applications'),
  /** @param {string} id @returns {Promise<Application>} */
  application: (id) => request('GET', `/api/applications/${enc(id)}`).then((v) => (v && v.application ? v.application : v)),
  /** @param {string} id @param {{status?:string,notes?:string}} patch */
  patchApplication: (id, patch) => request('PATCH', `/api/applications/${enc(id)}`, patch),
  /** @param {string} org @param {{job?:string,room?:string,status?:string}} f */
  csvURL: (org, f) => `/api/orgs/${enc(org)}/applications.csv` + query(f),

  /** @param {string} room @param {number} seq */
  deleteMessage: (room, seq) => request('DELETE', `/api/rooms/${enc(room)}/messages/${seq}`),
  /** @param {string} room @param {string} user @param {number} seconds @param {string} reason */
  mute: (room, user, seconds, reason) => request('POST', `/api/rooms/${enc(room)}/mutes`, { user_id: user, seconds, reason }),
  /** @param {string} room @param {string} user @param {string} reason */
  ban: (room, user, reason) => request('POST', `/api/rooms/${enc(room)}/bans`, { user_id: user, reason }),
  /** @param {string} room @param {string} user */
  unban: (room, user) => request('DELETE', `/api/rooms/${enc(room)}/bans/${enc(user)}`),
  /** @param {string} room @returns {Promise<{user_id:string,name:string,reason:string,created_at:string}[]>} */
  bans: async (room) => list(await request('GET', `/api/rooms/${enc(room)}/bans`), 'bans'),
  /** @param {string} room @returns {Promise<{id:string,message:any,reason:string,status:string}[]>} */
  held: async (room) => list(await request('GET', `/api/rooms/${enc(room)}/held?limit=100`), 'held'),
  /**
   * Approves (publishes) or rejects a held message.
   * @param {string} room @param {string} id message id @param {boolean} approve
   */
  decideHeld: (room, id, approve) => request('POST', `/api/rooms/${enc(room)}/held/${enc(id)}/${approve ? 'approve' : 'reject'}`),
  /** @param {string} room @param {Partial<RoomSettings>} s */
  settings: (room, s) => request('PATCH', `/api/rooms/${enc(room)}/settings`, s),
  /** @param {string} room @returns {Promise<any[]>} */
  audit: async (room) => list(await request('GET', `/api/rooms/${enc(room)}/audit`), 'entries'),
};
