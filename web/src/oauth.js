// Sign-in for the demo page through Switchboard's built-in OAuth 2.0 server: authorization code
// with PKCE (S256) as the public client `switchboard-demo`, the page's own URL as redirect URI.
// Tokens stay in this tab (sessionStorage), never in a cookie the server would read.

export const CLIENT_ID = 'switchboard-demo';
const PENDING_KEY = 'switchboard.oauth.pending';
const TOKENS_KEY = 'switchboard.oauth.tokens';
const PROMPT_KEY = 'switchboard.oauth.prompt';

const redirectUri = () => `${location.origin}${location.pathname}`;

const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const randomString = () => base64url(crypto.getRandomValues(new Uint8Array(32)));

/** Whether the server runs its OAuth server (it may be off when an external identity provider is used). */
export async function available() {
  try {
    const response = await fetch('/.well-known/openid-configuration', { headers: { accept: 'application/json' } });
    return response.ok;
  } catch {
    return false;
  }
}

/** Sends the browser to the authorization endpoint (the sign-in page, if not signed in yet). */
export async function signIn() {
  const verifier = randomString();
  const state = randomString();
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, redirectUri: redirectUri() }));
  const query = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: 'code',
    redirect_uri: redirectUri(),
    scope: 'openid profile offline_access',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  });
  // After a sign-out, ask for the password again rather than reusing the server's sign-in session.
  if (sessionStorage.getItem(PROMPT_KEY)) {
    query.set('prompt', 'login');
    sessionStorage.removeItem(PROMPT_KEY);
  }
  location.assign(`/connect/authorize?${query}`);
}

async function tokenRequest(form) {
  const response = await fetch('/connect/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: CLIENT_ID, ...form }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error_description || body.error || `token endpoint answered ${response.status}`);
  const tokens = { accessToken: body.access_token, refreshToken: body.refresh_token ?? null };
  sessionStorage.setItem(TOKENS_KEY, JSON.stringify(tokens));
  return tokens;
}

/**
 * Finishes a sign-in when the page is the redirect target (?code=…&state=…): checks the state,
 * exchanges the code with the PKCE verifier and cleans the URL. Returns the tokens of this tab, or null.
 */
export async function completeSignIn() {
  const params = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null');
  if (params.has('code') || params.has('error')) {
    sessionStorage.removeItem(PENDING_KEY);
    history.replaceState(null, '', redirectUri());
    if (params.has('error')) throw new Error(params.get('error_description') || params.get('error'));
    if (!pending || params.get('state') !== pending.state) throw new Error('sign-in answer with an unknown state: ignored');
    return tokenRequest({ grant_type: 'authorization_code', code: params.get('code'), redirect_uri: pending.redirectUri, code_verifier: pending.verifier });
  }
  return current();
}

/** The tokens of this tab, or null. */
export function current() {
  return JSON.parse(sessionStorage.getItem(TOKENS_KEY) ?? 'null');
}

/** A new access token from the refresh token (which rotates: the new one replaces it). */
export async function refresh() {
  const tokens = current();
  if (!tokens?.refreshToken) throw new Error('not signed in');
  return (await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken })).accessToken;
}

/** Forgets this tab's tokens and revokes the refresh token. */
export async function signOut() {
  const tokens = current();
  sessionStorage.removeItem(TOKENS_KEY);
  sessionStorage.setItem(PROMPT_KEY, 'login');
  if (tokens?.refreshToken) {
    await fetch('/connect/revoke', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: CLIENT_ID, token: tokens.refreshToken, token_type_hint: 'refresh_token' }),
    }).catch(() => {});
  }
}

/** The user name in an access token (display only: the server checks the signature). */
export function userName(accessToken) {
  try {
    const payload = JSON.parse(atob(accessToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return payload.preferred_username || payload.name || payload.sub;
  } catch {
    return '';
  }
}
