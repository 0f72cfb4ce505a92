// The API client. The access token lives in this module's memory only; the refresh
// token is an HttpOnly cookie the browser sends to /api/v1/auth, and every changing
// request echoes the bb_csrf cookie in X-CSRF-Token.

let accessToken = null;
let refreshing = null;

export class ApiError extends Error {
  constructor(status, code, reason = null, retryAfter = null, details = {}) {
    super(code);
    this.status = status;
    this.code = code;
    this.reason = reason;
    this.retryAfter = retryAfter;
    this.details = details || {};
  }
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)bb_csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : null;
}

export function hadSession() {
  return csrfToken() !== null;
}

async function send(method, path, body, withToken, extra = {}) {
  const headers = { Accept: 'application/json', ...extra };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const csrf = csrfToken();
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  if (withToken && accessToken) headers.Authorization = `Bearer ${accessToken}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network');
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const details = error.details || {};
    throw new ApiError(
      response.status,
      error.code || 'unknown',
      details.reason || details.field || null,
      response.headers.get('Retry-After'),
      details,
    );
  }
  return data;
}

export function post(path, body = {}) {
  return send('POST', path, body, false);
}

export function setSession(session) {
  accessToken = session.access_token;
}

export function signedIn() {
  return accessToken !== null;
}

function expiresSoon(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(window.atob(part));
    return claims.exp * 1000 - Date.now() < 60_000;
  } catch {
    return true;
  }
}

// An access token that is good for at least another minute (for the call's socket, which
// sends it in its connect payload); renewed with the cookie when needed. Throws ApiError.
export async function freshAccessToken() {
  if (accessToken && !expiresSoon(accessToken)) return accessToken;
  await refresh();
  return accessToken;
}

export function refresh() {
  if (!refreshing) {
    refreshing = send('POST', '/api/v1/auth/refresh', {}, false)
      .then((session) => {
        setSession(session);
        return session;
      })
      .catch((error) => {
        accessToken = null;
        throw error;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

// A call with the access token; an expired token is renewed once with the cookie.
// ``headers`` adds request headers (an Idempotency-Key, say).
export async function call(method, path, body, headers = {}) {
  try {
    return await send(method, path, body, true, headers);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || error.code !== 'unauthenticated') {
      throw error;
    }
    try {
      await refresh();
    } catch (refused) {
      if (refused instanceof ApiError && refused.status === 401) {
        throw new ApiError(401, 'session_expired');
      }
      throw refused;
    }
    return send(method, path, body, true, headers);
  }
}

export async function signOut() {
  try {
    await send('POST', '/api/v1/auth/sign-out', {}, false);
  } finally {
    accessToken = null;
  }
}
